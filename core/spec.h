/*
 * The OCI runtime-spec config.json, parsed into plain C structures.
 * Only what cocoon acts upon is kept; unknown fields are ignored, as runc does.
 * Every string is owned by the spec and freed by spec_free().
 * Every char ** list is NULL-terminated and never NULL after spec_parse().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "resources.h"

struct spec_mount {
        char *destination; /* required, absolute */
        char *type;        /* may be NULL (bind mounts) */
        char *source;      /* may be NULL */
        char **options;    /* NULL-terminated, may be empty */
        size_t n_options;
};

struct spec_namespace {
        char *type; /* pid, network, mount, ipc, uts, user, cgroup, time */
        char *path; /* NULL unless joining an existing namespace */
};

struct spec_kv {
        char *key;
        char *value;
};

struct spec_user {
        uid_t uid;
        gid_t gid;
        gid_t *additional_gids;
        size_t n_additional_gids;
        bool has_umask;
        mode_t umask;
};

struct spec_process {
        bool terminal;
        struct spec_user user;
        char **args; /* NULL-terminated, at least one element */
        size_t n_args;
        char **env; /* NULL-terminated "KEY=value" strings */
        size_t n_env;
        char *cwd; /* required, absolute */
        bool no_new_privileges;
};

struct oci_spec {
        char *oci_version;
        bool has_process; /* false when config.json has no "process" */
        struct spec_process process;
        char *root_path; /* as written in config.json (may be relative to the bundle) */
        bool root_readonly;
        char *hostname;
        struct spec_mount *mounts;
        size_t n_mounts;
        struct spec_namespace *namespaces;
        size_t n_namespaces;
        char **masked_paths; /* NULL-terminated */
        size_t n_masked_paths;
        char **readonly_paths; /* NULL-terminated */
        size_t n_readonly_paths;
        struct spec_kv *annotations;
        size_t n_annotations;
        char *cgroups_path; /* may be NULL */
        struct resources *resources; /* linux.resources; NULL when absent */
};

/* The largest config.json we read: runc's specs are a few KiB. */
#define SPEC_MAX_SIZE (4u << 20)

/*
 * Parses config.json text. On failure returns -EINVAL (or -ENOMEM) and sets
 * *err to a message naming the offending field, such as
 * "process.args: expected a non-empty array of strings".
 */
int spec_parse(const char *json, size_t len, struct oci_spec **ret, cocoon_error **err);
/* Reads and parses a config.json file; errors are prefixed with the path. */
int spec_load(const char *path, struct oci_spec **ret, cocoon_error **err);
void spec_free(struct oci_spec *spec);

/*
 * Parses a runtime-spec "process" object on its own (what `exec --process`
 * reads), with the same checks as config.json's; errors name "process.<field>".
 */
int spec_parse_process(const char *json, size_t len, struct spec_process *ret, cocoon_error **err);
void spec_process_free(struct spec_process *p);
static inline void spec_freep(struct oci_spec **s) { spec_free(*s); }
#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))

/* Looks up an annotation; NULL when absent. */
const char *spec_annotation(const struct oci_spec *spec, const char *key);
/* True when the spec asks for a new namespace of that type (no path). */
bool spec_has_namespace(const struct oci_spec *spec, const char *type);

/*
 * Writes the default config.json that `cocoon spec` produces (the same
 * defaults runc uses: sh, terminal on, the usual mounts and namespaces).
 * Returns a malloc'd string.
 */
char *spec_default_json(void);
