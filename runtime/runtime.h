/* What the CLI verbs share: global options, the state layout, the pieces of a run. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "settings.h"
#include "error.h"
#include "msg.h"
#include "spec.h"
#include "state.h"

#define COCOON_DEFAULT_ROOT "/run/cocoon"

struct runtime {
        const char *root; /* --root */
        bool root_given;  /* --root was on the command line, not the default */
        bool debug;
        bool systemd_cgroup;
        struct cocoon_config cfg;
};

/*
 * sizing.c: the VM's vCPUs and memory for a container with resources r
 * (NULL: none): the base plus the container's memory limit in MiB (rounded
 * up) and plus the CPUs its quota allows (rounded up) or its cpuset spans,
 * whichever is more.
 */
void sandbox_vm_size(unsigned base_vcpus, unsigned base_memory_mib, const struct resources *r, unsigned *ret_vcpus,
                     unsigned *ret_memory_mib);

struct verb {
        const char *name;
        int (*run)(struct runtime *rt, int argc, char **argv);
        const char *usage;
};


/*
 * The bundle, checked the way runc checks it before anything is created:
 * config.json parses, root.path exists. Paths are made absolute.
 */
/* Where, in the guest, each namespace the spec names by a host path comes from (pod.c). */
struct namespace_sources {
        Cocoon__NamespaceSource *items;
        Cocoon__NamespaceSource **ptrs; /* to items, as protobuf-c wants them */
        size_t n;
};

struct bundle {
        char *dir;
        char *rootfs;
        char *config_json; /* the text, sent to the agent unchanged */
        struct oci_spec *spec;
        bool no_pivot; /* --no-pivot */
        struct namespace_sources ns_sources;
};
int bundle_load(const char *dir, struct bundle *ret, cocoon_error **err);
/*
 * A bundle as a create request carries it (the supervisor's mount namespace
 * may not see the files): config.json's text, the bundle's path for relative
 * paths; nothing is looked up.
 */
int bundle_from_request(const char *dir, const char *config_json, struct bundle *ret, cocoon_error **err);
void bundle_free(struct bundle *b);

/*
 * pod.c. pod_sandbox_of: the id of the sandbox whose VM a container joins,
 * from the annotations containerd's and CRI-O's CRI write; NULL for a sandbox
 * (pause) container and for a container outside any pod.
 */
int pod_sandbox_of(const struct oci_spec *spec, const char *id, const char **ret, cocoon_error **err);
/* What a container joining a sandbox's VM knows of that sandbox. */
struct pod_sandbox {
        const char *id;
        pid_t stub_pid;               /* its init's stub: CRI names its namespaces /proc/PID/ns/TYPE */
        const struct oci_spec *spec;  /* its namespace paths (pinned namespaces, as CRI-O's) */
};
/*
 * Maps each namespace spec names by a host path: to the sandbox's (sb may be
 * NULL), to the guest's own network namespace for a network (the host's own
 * is refused), else to a new namespace. The sources point into sb, which
 * must outlive them.
 */
int pod_namespace_sources(const struct oci_spec *spec, const struct pod_sandbox *sb, struct namespace_sources *ret,
                          cocoon_error **err);
void namespace_sources_free(struct namespace_sources *s);
/*
 * The pod's limits that a sandbox container carries in containerd's
 * annotations (io.kubernetes.cri.sandbox-memory, -cpu-quota, -cpu-period:
 * the sums of its containers' limits), for sizing the pod's VM. *found is
 * false when there are none.
 */
int pod_vm_resources(const struct oci_spec *spec, struct resources *pod, bool *found, cocoon_error **err);

/*
 * share.c. share_open_trees(), in the caller's mount namespace: detached
 * copies of the container's rootfs and of each bind mount's source, which
 * can travel to the supervisor. share_container(), in the supervisor:
 * attaches them in the share, where the agent takes the spec's mounts
 * indexes[] from. share_release() undoes it.
 */
#define SHARE_MAX_TREES CONN_MAX_FDS
struct share_trees {
        int *fds;          /* the rootfs, then the source of each bind mount */
        size_t n;          /* fds */
        uint32_t *indexes; /* the spec's bind mounts, in order */
        size_t n_binds;
};
int share_open_trees(const struct bundle *b, struct share_trees *ret, cocoon_error **err);
/* In the supervisor: the trees a client sent along with a create request, in the same order. */
int share_adopt_trees(const struct bundle *b, struct conn *from, struct share_trees *ret, cocoon_error **err);
void share_trees_close(struct share_trees *t);
/*
 * In the supervisor, in its own mount namespace, before virtiofsd starts:
 * the share's top (shared/), a small read-only tmpfs with shared propagation.
 * share_teardown() unmounts it.
 */
int share_setup(cocoon_error **err);
void share_teardown(void);
int share_container(const char *id, const struct bundle *b, const struct share_trees *trees, cocoon_error **err);
void share_release(const char *id);

/*
 * supervisor.c: the per-sandbox daemon. supervisor_spawn() forks it, waits
 * until the VM is up and the container created (or failed), and returns its
 * pid. With detach it is double-forked so it is no child of the caller.
 */
int supervisor_spawn(struct runtime *rt, const char *id, const struct bundle *b, const char *dir, const char *cgroup,
                     bool detach, pid_t *ret_pid, cocoon_error **err);

/*
 * ready.c: a forked helper's one report to its parent. fork_with_ready()
 * returns as fork() does, with *ret_fd the pipe's end for each side.
 * ready_receive() gives the pid, the helper's error, or -EPIPE if it died
 * without a word.
 */
pid_t fork_with_ready(int *ret_fd, cocoon_error **err);
void ready_send(int fd, int r, const cocoon_error *err);
int ready_receive(int fd, pid_t *ret_pid, cocoon_error **err);

/* sandbox.c: a connection to a supervisor's control socket */
int supervisor_connect(const char *dir, cocoon_error **err);

/*
 * client.c: the typed requests to a sandbox's supervisor (sv_dir: the
 * directory of its ctl.sock), for the CLI verbs and the containerd shim.
 */
int sandbox_start(const char *sv_dir, const char *id, cocoon_error **err);
/* To the process exec_id ("" or NULL: the init), or with all to every process in the container's cgroup. */
int sandbox_signal(const char *sv_dir, const char *id, const char *exec_id, int sig, bool all, cocoon_error **err);
int sandbox_pause(const char *sv_dir, const char *id, bool paused, cocoon_error **err);
/* The container's cgroup v2 statistics in the guest: resp->stats_container of a response the caller frees. */
int sandbox_stats(const char *sv_dir, const char *id, Response **ret, cocoon_error **err);
/* created, running, paused or stopped, as the supervisor has seen it (a new string). */
int sandbox_container_state(const char *sv_dir, const char *id, char **ret_status, cocoon_error **err);
/* A pod's container leaves the VM (its processes must be gone). */
int sandbox_remove(const char *sv_dir, const char *id, cocoon_error **err);
/* The terminal size of a process that has one. */
int sandbox_resize(const char *sv_dir, const char *id, const char *exec_id, unsigned rows, unsigned cols,
                   cocoon_error **err);
/* New cgroup limits: a runtime-spec linux.resources object as JSON. */
int sandbox_update(const char *sv_dir, const char *id, const char *resources_json, cocoon_error **err);
/* The guest pids of the container's processes, in a new array. */
int sandbox_list_processes(const char *sv_dir, const char *id, int32_t **ret_pids, size_t *ret_n, cocoon_error **err);
/* The process's stdin ends once what it holds went in (containerd's CloseIO). */
int sandbox_close_stdin(const char *sv_dir, const char *id, const char *exec_id, cocoon_error **err);
/* A process to attach stdio to: the init, or an exec to start. */
struct sandbox_attach_opts {
        const char *id;
        const char *exec_id;           /* "" for the container's init */
        const char *exec_process_json; /* exec: the process to start; NULL to attach to the init */
        bool ignore_paused;            /* exec: into a paused container too */
};
/*
 * On c, a connection of its own to the supervisor (supervisor_connect):
 * binds fds[0..2] (stdin, stdout, stderr) to the process, or starts the exec
 * with them. The process's exit event then comes on c (sandbox_exit_of), and
 * the supervisor kills the process if c closes before it exited: c stands
 * for the process on the host. Events before the answer go to on_event.
 */
int sandbox_attach(struct conn *c, uint64_t req_id, const struct sandbox_attach_opts *o, const int fds[3],
                   void (*on_event)(Event *ev, void *userdata), void *userdata, cocoon_error **err);
/* True if ev is the exit of process exec_id of id; its exit code (0..255, 128+N for signal N) in *ret. */
bool sandbox_exit_of(const Event *ev, const char *id, const char *exec_id, int *ret_exit_code);

/* stub.c: the host process that stands for one guest process. */
struct stub_opts {
        const char *id;
        const char *exec_id;           /* "" for the container's init */
        const char *exec_process_json; /* exec: the process to start; NULL to attach to the init */
        bool start;                    /* run: start the container once attached */
        bool terminal;                 /* the process has a terminal */
        bool ignore_paused;            /* exec: into a paused container too */
        const char *cgroup;            /* a detached stub joins this host cgroup (NULL: none) */
};
/*
 * Attaches our stdio to the process (or starts the exec with it), relays
 * signals and resizes, and returns its exit code (0..255, 128+N when killed
 * by signal N) in *ret_exit_code.
 */
int stub_attach_and_wait(int ctl_fd, const struct stub_opts *o, int *ret_exit_code, cocoon_error **err);
/* The same, calling ready(r, err, ud) once attached (and started), before waiting. */
int stub_run(int ctl_fd, const struct stub_opts *o, void (*ready)(int r, const cocoon_error *err, void *ud), void *ud,
             int *ret_exit_code, cocoon_error **err);
/*
 * Forks a stub that does the same on its own, for create and the detached
 * verbs: returns its pid once it is attached (or the error that stopped
 * it). With console_socket, its stdio is a new host pty whose master goes
 * to that socket. The stub exits with the process's exit code.
 */
int stub_spawn(const char *dir, const struct stub_opts *o, const char *console_socket, pid_t *ret_pid,
               cocoon_error **err);
/* Asks the supervisor to stop the VM and waits until it has. */
int supervisor_shutdown(int ctl_fd, cocoon_error **err);


/*
 * Parses the options of a verb that takes --bundle/-b DIR and --help. Returns
 * 1 to go on (optind at the first argument), 0 after printing the help, or
 * -2 after a usage error (the exit status is the negation).
 */
int verb_parse_bundle(const struct verb *v, int argc, char **argv, const char **bundle);

/* lifecycle.c */
struct create_opts {
        const char *id;
        const char *bundle_dir;
        const char *console_socket; /* NULL: none */
        bool no_pivot;
        bool detach; /* the sandbox outlives this process (create, run -d) */
        bool keep;   /* run --keep: a stopped container stays until delete */
        bool stdio_by_caller; /* a terminal needs no console socket: the caller relays its stdio (the shim) */
};
/*
 * Creates the container, not yet started: state directory, supervisor and
 * VM, the container in the guest, state.json. Returns it locked. On failure
 * nothing is left.
 */
int container_create_sandbox(struct runtime *rt, const struct create_opts *o, struct container *ret,
                             cocoon_error **err);
/* The status the supervisor reports: created, running, paused, or stopped when it is gone. */
int container_status(const struct container *c, char **ret_status);
/* Fails with message unless the status is one of allowed (NULL-terminated). */
int container_require_status(const struct container *c, const char *const *allowed, const char *message,
                             cocoon_error **err);
/* Stops the VM and the supervisor, asking first and killing if need be. */
int container_stop_sandbox(const struct container *c, cocoon_error **err);
/* One request to the container's supervisor; the answer in *ret (may be NULL). */
int sandbox_call(const char *dir, Request *req, Response **ret, cocoon_error **err);
/* The same, passing fds along (SCM_RIGHTS). */
int sandbox_call_fds(const char *dir, Request *req, const int *fds, size_t n_fds, Response **ret, cocoon_error **err);
int write_pid_file(const char *path, pid_t pid, cocoon_error **err);
/* Before anything is made: the directory of --pid-file (NULL: none) exists. */
int check_pid_file(const char *path, cocoon_error **err);
/* A signal to the container's init, or with all to every process in its cgroup. */
int container_signal(const struct container *c, int sig, bool all, cocoon_error **err);
/*
 * After the container's process was released (r: how that went): the
 * poststart hooks. If either failed, the container is killed, so that a
 * start reported as failed never leaves it running (as runc does).
 */
int container_started(const struct container *c, int r, cocoon_error **err);
/*
 * config.json as create read it, kept in the container's state directory:
 * start, exec, the hooks and a pod's later containers read this copy, so
 * that a bundle changed after create changes nothing.
 */
char *container_config_path(const struct container *c);
int container_load_spec(const struct container *c, struct oci_spec **ret, cocoon_error **err);
/* Its text, trusted as state.json is (container_read_file). */
#define KEPT_CONFIG "config.json"
int container_read_config(const struct container *c, char **ret_text, size_t *ret_len, cocoon_error **err);

/*
 * host-cgroup.c: linux.cgroupsPath on the host (v2, or every v1 hierarchy),
 * which the supervisor (with the VMM's processes) and the stubs join for
 * accounting. Without a cgroupsPath: cocoon/<id>.
 */
#define HOST_CGROUP_DEFAULT_PARENT "cocoon"
int host_cgroup_join(const char *rel, pid_t pid, cocoon_error **err);
/* The VM's bounds: memory (the guest's plus the VMM's overhead) and a number of tasks. */
int host_cgroup_limit(const char *rel, uint64_t memory_bytes, unsigned pids, cocoon_error **err);
/*
 * Before the container joins it: refuses a frozen one, warns of one with
 * processes; *ret_existed says whether it exists already (in any hierarchy).
 */
int host_cgroup_check(const char *rel, bool *ret_existed, cocoon_error **err);
/*
 * Removes it once its processes are gone (killing stragglers after a
 * moment): only ever one that cocoon created (container_state.cgroup_owned).
 */
void host_cgroup_remove(const char *rel);

/* hooks.c: the spec's hooks that run on the host, with the container's state on stdin. */
enum hooks_point { HOOKS_CREATE, HOOKS_POSTSTART, HOOKS_POSTSTOP };
int container_run_hooks(const struct container *c, enum hooks_point point, cocoon_error **err);

/* verb-create.c: the options create and run share; *detach NULL refuses -d. */
int verb_parse_create(const struct verb *v, int argc, char **argv, struct create_opts *o, const char **pid_file,
                      bool *detach);

/* Verbs that take only an id: parses --help and checks there is exactly one argument. */
int verb_parse_id(const struct verb *v, int argc, char **argv, const char **id);
/*
 * The same, then opens (and locks) the container: 1 when it is open, else
 * the negated exit status (0 after --help, -2 on a usage error, -1 after
 * printing why it cannot be opened).
 */
int verb_open(const struct verb *v, struct runtime *rt, int argc, char **argv, struct container *c);
/* Prints the error as "verb: message" and returns the exit status 1. */
int verb_fail(const struct verb *v, int r, const cocoon_error *err);

extern const struct verb verb_create, verb_start, verb_run, verb_state, verb_kill, verb_delete, verb_exec, verb_ps,
        verb_list, verb_pause, verb_resume, verb_update, verb_events, verb_spec, verb_features, verb_checkpoint,
        verb_restore;
