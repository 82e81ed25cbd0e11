/* cocoon-agent: PID 1 in the guest. Shared state of its parts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "conn.h"
#include "guest.h"
#include "container.h"
#include "loop.h"
#include "msg.h"
#include "pump.h"
#include "spec.h"


enum process_fd { PROC_STDIN, PROC_STDOUT, PROC_STDERR };

struct agent;

struct guest_process {
        struct agent *agent;
        char *exec_id; /* "" for a container's init process */
        pid_t pid;
        uint32_t stream;
        struct pump pumps[3];
        struct container_init init; /* until started */
        bool started, exited, exit_reported;
        /*
         * An exec released but not yet past its execve: init.status_fd is
         * watched and the host's request (start_request) answered from there,
         * so that a frozen process does not hold the agent up. Its exit waits
         * for that answer.
         */
        struct watch *start_watch;
        uint64_t start_request;
        int exit_code, signal;
        uint64_t exit_mark[3]; /* stdout and stderr: what was in the pipes when it exited */
};

enum container_status { CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_PAUSED, CONTAINER_STOPPED };

struct guest_exec {
        struct guest_process proc;
        struct spec_process spec; /* what exec asked for */
        struct guest_exec *next;
};

struct guest_container {
        char *id;
        struct oci_spec *spec;
        enum container_status status;
        struct guest_process init;
        struct guest_exec *execs;
        char *cgroup;        /* absolute path of its cgroup v2 directory, NULL until set up */
        int oom_watch_fd;    /* inotify on memory.events, or -1 */
        struct watch *oom_watch;
        uint64_t oom_kills;  /* memory.events oom_kill, last seen */
        struct guest_container *next;
};

struct agent {
        struct loop *loop;
        struct conn conn; /* the host */
        struct watch *conn_watch;
        bool conn_up;
        int listen_fd; /* vsock listener, or -1 with virtio-serial */
        char *serial_path;
        struct guest_container *containers;
};

/* init.c: early boot as PID 1 */
int agent_early_init(cocoon_error **err);

/* modules.c: whether the kernel takes loadable modules (cocoon's own does not) */
bool modules_supported(void);
/* Loads the named modules (and what they depend on) from dir. */
int modules_load(const char *dir, const char *const *wanted, cocoon_error **err);

/* transport.c: the link to the host */
bool transport_wants_vsock(void);
int transport_open(struct agent *a, cocoon_error **err);
/* Queues nothing; flushes and re-arms the watch after handlers queued output. */
void transport_kick(struct agent *a);

/*
 * cgroups.c: each container's cgroup v2 directory in the guest, where its
 * resources are applied and its processes are frozen, counted and listed.
 * Errors name the cgroup file and the spec field.
 */
/*
 * Creates the container's cgroup and applies the spec's linux.resources to it,
 * before its init exists. *ret_fd gets the directory opened O_PATH (or -1 when
 * the guest has no cgroup v2), which container_create() and container_exec()
 * clone the processes into, so that a cgroup namespace is rooted there.
 */
int cgroups_setup(struct agent *a, struct guest_container *c, int *ret_fd, cocoon_error **err);
/* The container's cgroup directory opened O_PATH for exec'd processes in *ret_fd (-1: no cgroup). */
int cgroups_open(struct guest_container *c, int *ret_fd, cocoon_error **err);
/* Removes the cgroup (after killing what is left in it) and stops watching it. */
void cgroups_remove(struct agent *a, struct guest_container *c);
/* Moves the process into the container's cgroup (an exec set up outside it while it is frozen). */
int cgroups_enter(struct guest_container *c, pid_t pid, cocoon_error **err);
/* Freezes or thaws every process; returns once the kernel reports it done. */
int cgroups_freeze(struct guest_container *c, bool frozen, cocoon_error **err);
/* The pids in the cgroup (and below), malloc'd. */
int cgroups_pids(struct guest_container *c, pid_t **ret, size_t *ret_n, cocoon_error **err);
/* Fills the statistics; free with cgroups_stats_free(). */
int cgroups_stats(struct guest_container *c, Cocoon__StatsContainerResponse *ret, cocoon_error **err);
void cgroups_stats_free(Cocoon__StatsContainerResponse *s);
/* Applies a linux.resources JSON object to the running container. */
int cgroups_update(struct guest_container *c, const char *resources_json, cocoon_error **err);
/* Sends sig to every process in the cgroup (kill --all). */
int cgroups_signal_all(struct guest_container *c, int sig, cocoon_error **err);
/*
 * Queues an OOM event when memory.events oom_kill went up since last seen.
 * The reaper calls it before reporting exits, so that the host gets a
 * container's OOM event before the exit it caused.
 */
void cgroups_check_oom(struct agent *a, struct guest_container *c);

/* network.c: the agent's own network namespace, set up as the host asks (errors name the interface) */
int network_configure(const Cocoon__ConfigureNetworkRequest *req, cocoon_error **err);

/* rpc.c */
int rpc_dispatch(struct agent *a, const uint8_t *payload, size_t len);
int rpc_on_stdio_frame(struct agent *a, const struct frame_header *h, const uint8_t *payload);

/* containers.c */
int containers_create(struct agent *a, const Cocoon__CreateContainerRequest *req, cocoon_error **err);
int containers_start(struct agent *a, const char *id, cocoon_error **err);
int containers_signal(struct agent *a, const Cocoon__SignalProcessRequest *req, cocoon_error **err);
int containers_remove(struct agent *a, const char *id, cocoon_error **err);
int containers_resize(struct agent *a, const Cocoon__ResizeRequest *req, cocoon_error **err);
/* Answers the request itself (returns 1) once the process has exec'd or failed to. */
int containers_exec(struct agent *a, const Request *req, cocoon_error **err);
int containers_pause(struct agent *a, const Cocoon__PauseContainerRequest *req, cocoon_error **err);
int containers_list_processes(struct agent *a, const Request *req, cocoon_error **err);
int containers_stats(struct agent *a, const Request *req, cocoon_error **err);
int containers_update(struct agent *a, const Cocoon__UpdateContainerRequest *req, cocoon_error **err);
struct guest_process *containers_find_stream(struct agent *a, uint32_t stream);
/* Reaps children (SIGCHLD) and reports exits whose output is drained. */
void containers_reap(struct agent *a);
void containers_report_exits(struct agent *a);
