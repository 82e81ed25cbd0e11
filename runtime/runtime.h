/* What the CLI verbs share: global options, the state layout, the pieces of a run. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "settings.h"
#include "error.h"
#include "spec.h"

#define COCOON_DEFAULT_ROOT "/run/cocoon"

struct runtime {
        const char *root; /* --root */
        bool debug;
        bool systemd_cgroup;
        struct cocoon_config cfg;
};

struct verb {
        const char *name;
        int (*run)(struct runtime *rt, int argc, char **argv);
        const char *usage;
};

/* The state directory of a container: <root>/<id>. */
char *state_dir(const struct runtime *rt, const char *id);

/*
 * The bundle, checked the way runc checks it before anything is created:
 * config.json parses, root.path exists. Paths are made absolute.
 */
struct bundle {
        char *dir;
        char *rootfs;
        char *config_json; /* the text, sent to the agent unchanged */
        struct oci_spec *spec;
};
int bundle_load(const char *dir, struct bundle *ret, cocoon_error **err);
void bundle_free(struct bundle *b);

/*
 * supervisor.c: the per-sandbox daemon. supervisor_spawn() forks it, waits
 * until the VM is up and the container created (or failed), and returns its
 * pid. With detach it is double-forked so it is no child of the caller.
 */
int supervisor_spawn(struct runtime *rt, const char *id, const struct bundle *b, const char *dir, bool detach,
                     pid_t *ret_pid, cocoon_error **err);

/* client.c: talking to a supervisor's control socket */
int supervisor_connect(const char *dir, cocoon_error **err);

/*
 * stub.c: attaches the given stdio to a process in the sandbox, optionally
 * starts the container, relays signals, and returns the process's exit code
 * (0..255, 128+N when killed by signal N).
 */
int stub_attach_and_wait(int ctl_fd, const char *id, const char *exec_id, bool start, bool terminal,
                         int *ret_exit_code, cocoon_error **err);
/* Asks the supervisor to stop the VM and waits until it has. */
int supervisor_shutdown(int ctl_fd, cocoon_error **err);

/* Removes a container's state directory and everything in it. */
int state_remove(const char *dir, cocoon_error **err);

/*
 * Parses the options of a verb that takes --bundle/-b DIR and --help. Returns
 * 1 to go on (optind at the first argument), 0 after printing the help, or
 * -2 after a usage error (the exit status is the negation).
 */
int verb_parse_bundle(const struct verb *v, int argc, char **argv, const char **bundle);

extern const struct verb verb_run, verb_spec;
