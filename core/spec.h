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
        /*
         * process.user.username (runtime-spec: Windows only; cocoon honours it
         * on Linux too). When set, uid, gid and the supplementary groups come
         * from the container's /etc/passwd and /etc/group at start.
         */
        char *username;
        gid_t *additional_gids;
        size_t n_additional_gids;
        bool has_umask;
        mode_t umask;
};

/* Capability sets as bit masks (bit N = capability N); names the kernel does not know are dropped. */
struct spec_caps {
        uint64_t bounding, effective, permitted, inheritable, ambient;
};

struct spec_rlimit {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
};

enum spec_seccomp_action {
        SPEC_SCMP_KILL_THREAD, /* SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD */
        SPEC_SCMP_KILL_PROCESS,
        SPEC_SCMP_TRAP,
        SPEC_SCMP_ERRNO,
        SPEC_SCMP_TRACE,
        SPEC_SCMP_ALLOW,
        SPEC_SCMP_LOG,
};

struct spec_seccomp_arg {
        unsigned index; /* 0..5 */
        uint64_t value, value_two;
        int op; /* enum scmp_compare */
};

struct spec_seccomp_syscall {
        char **names; /* NULL-terminated, at least one */
        size_t n_names;
        enum spec_seccomp_action action;
        bool has_errno_ret;
        unsigned errno_ret;
        struct spec_seccomp_arg *args;
        size_t n_args;
};

struct spec_seccomp {
        enum spec_seccomp_action default_action;
        bool has_default_errno_ret;
        unsigned default_errno_ret;
        char **architectures; /* NULL-terminated SCMP_ARCH_* names */
        size_t n_architectures;
        char **flags; /* NULL-terminated SECCOMP_FILTER_FLAG_* names */
        size_t n_flags;
        struct spec_seccomp_syscall *syscalls;
        size_t n_syscalls;
};

struct spec_process {
        bool terminal;
        bool has_console_size; /* process.consoleSize: the pty's first size */
        unsigned short console_height, console_width;
        struct spec_user user;
        char **args; /* NULL-terminated, at least one element */
        size_t n_args;
        char **env; /* NULL-terminated "KEY=value" strings */
        size_t n_env;
        char *cwd; /* required, absolute */
        bool no_new_privileges;
        struct spec_caps *capabilities; /* NULL: capabilities are left as they are */
        struct spec_rlimit *rlimits;
        size_t n_rlimits;
        bool has_oom_score_adj;
        int oom_score_adj;
        /*
         * What the runtime-spec says to log as a warning rather than fail on:
         * capability names that cannot be granted, such as
         * "process.capabilities.bounding: ignoring unknown capability CAP_FOO".
         * NULL-terminated; the caller logs them.
         */
        char *apparmor_profile; /* applied when the kernel has it loaded (never in a cocoon guest) */
        char **warnings;
        size_t n_warnings;
        bool has_io_priority;
        int io_priority_class; /* IOPRIO_CLASS_RT (1), _BE (2) or _IDLE (3) */
        int io_priority;       /* 0..7 */
};

struct spec_device {
        char *path; /* absolute, inside the container */
        char type;  /* 'c' (or 'u'), 'b', 'p' */
        unsigned major, minor;
        bool has_file_mode;
        mode_t file_mode; /* permission bits */
        bool has_uid, has_gid;
        uid_t uid;
        gid_t gid;
};

struct spec_id_mapping {
        uint32_t container_id, host_id, size;
};

struct spec_hook {
        char *path; /* absolute */
        char **args; /* NULL-terminated, may be empty (then argv[0] is path) */
        size_t n_args;
        char **env;
        size_t n_env;
        bool has_env; /* false: the hook gets the runtime's own environment, as with runc and crun */
        bool has_timeout;
        unsigned timeout; /* seconds, > 0 */
};

/* The kinds of hooks, in the order the runtime-spec's lifecycle runs them. */
enum spec_hook_kind {
        SPEC_HOOK_PRESTART,
        SPEC_HOOK_CREATE_RUNTIME,
        SPEC_HOOK_CREATE_CONTAINER,
        SPEC_HOOK_START_CONTAINER,
        SPEC_HOOK_POSTSTART,
        SPEC_HOOK_POSTSTOP,
        SPEC_HOOK_KINDS,
};
/* "prestart", "createRuntime", ... as config.json names them. */
extern const char *const spec_hook_kind_names[SPEC_HOOK_KINDS];

struct spec_hooks {
        struct spec_hook *list;
        size_t n;
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
        char *domainname; /* may be NULL */
        struct spec_device *devices;
        size_t n_devices;
        struct spec_kv *sysctl; /* linux.sysctl, in document order */
        size_t n_sysctl;
        struct spec_id_mapping *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        /* linux.timeOffsets: [0] monotonic, [1] boottime; only with a new time namespace */
        bool has_time_offsets;
        struct spec_time_offset {
                long long secs;
                unsigned nanosecs;
        } time_offsets[2];
        bool has_personality;
        unsigned long personality; /* linux.personality.domain: PER_LINUX or PER_LINUX32 */
        unsigned long rootfs_propagation; /* MS_* propagation flags; 0: not set (cocoon uses rslave) */
        struct spec_seccomp *seccomp; /* NULL: no filter */
        struct spec_hooks hooks[SPEC_HOOK_KINDS];

        /*
         * Not read from config.json: set by the caller before
         * container_create().
         *
         * no_pivot: enter the rootfs with MS_MOVE + chroot instead of
         * pivot_root (runc's --no-pivot), for roots that cannot pivot, such as
         * an initramfs.
         * id, bundle: the container's id and bundle path, for the state that
         * hooks run inside the container (startContainer) read on stdin.
         * Owned by the spec (spec_free frees them); may be NULL.
         */
        bool no_pivot;
        char *id;
        char *bundle;
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
/* The spec's entry for a namespace type ("network"), NULL if it has none. */
const struct spec_namespace *spec_namespace(const struct oci_spec *spec, const char *type);

/*
 * Writes the default config.json that `cocoon spec` produces (the same
 * defaults runc uses: sh, terminal on, the usual mounts and namespaces).
 * Returns a malloc'd string.
 */
char *spec_default_json(void);
