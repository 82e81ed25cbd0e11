/*
 * containerd-shim-cocoon-v2: containerd's runtime v2 shim for cocoon. One
 * shim process serves a pod (or a lone container): containerd's Task
 * service over ttrpc, the sandbox's VM through the runtime library (no
 * cocoon CLI process per operation, no host process per container process:
 * the shim holds a connection to the supervisor for each), events back
 * through containerd's ttrpc socket.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conn.h"
#include "runtime.h"
#include "shim.pb-c.h"

/* A protobuf Timestamp of t; timestamp_now() of the wall clock now. */
static inline Cocoon__Shim__Timestamp timestamp_of(const struct timespec *t)
{
        Cocoon__Shim__Timestamp ts = COCOON__SHIM__TIMESTAMP__INIT;
        ts.seconds = t->tv_sec;
        ts.nanos = t->tv_nsec;
        return ts;
}

static inline Cocoon__Shim__Timestamp timestamp_now(void)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return timestamp_of(&now);
}

/* What containerd passes on the command line. */
struct shim_args {
        const char *ns, *address, *publish_binary, *id, *bundle;
        bool debug;
};

struct shim;

/* Something on the loop's epoll (data.ptr): ready(s, obj) when its fd is readable. */
struct shim_watch {
        void (*ready)(struct shim *s, void *obj);
        void *obj;
};

struct shim_task;

struct shim_proc {
        struct shim_proc *next;
        struct shim_task *task;
        char *exec_id; /* "" for the init */
        char *stdio[3];
        bool terminal;
        unsigned rows, cols; /* the terminal's size containerd asked for last */
        char *spec_json; /* an exec's process, until it starts */
        Cocoon__Shim__TaskStatus status;
        /*
         * Its connection to the supervisor, from the attach (the init's at
         * Create, an exec's at Start) until its exit event came on it: the
         * supervisor kills the process if it closes before. fd -1: none.
         */
        struct conn conn;
        struct shim_watch watch;
        bool exit_seen; /* its exit event came (exit_status holds it) */
        uint32_t exit_status;
        struct timespec exited_at;
        struct shim_waiter *waiters;
};

struct shim_task {
        struct shim_task *next;
        char *id, *bundle;
        struct container c;
        bool rootfs_mounted;
        struct shim_proc *procs; /* the init first */
        struct conn events;      /* a connection to the supervisor, for its OOM events (fd -1: none) */
        struct shim_watch events_watch;
};

/* An event waiting for its turn: containerd must see them in order (TaskStart before TaskExit). */
struct shim_event {
        struct shim_event *next;
        char *topic;
        uint8_t *data; /* the packed Any */
        size_t len;
};

struct shim {
        struct shim_args args;
        struct shim_event *events, **events_tail;
        pid_t publisher; /* the publish binary running now, 0: none */
        int events_fd;   /* containerd's ttrpc socket ($TTRPC_ADDRESS) for Events.Forward; -1: not (yet) */
        uint32_t events_stream;
        bool events_direct_failed; /* then every event goes through the publish binary */
        struct runtime rt;
        char *root; /* cocoon's state for this namespace */
        struct shim_task *tasks;
        int ep;        /* the loop's epoll: supervisor connections are registered with a struct shim_watch as data.ptr */
        bool exiting;
};

/* task.c: the containerd.task.v2.Task service. */
/*
 * Answers one request (method, packed payload) read from fd on stream: a
 * response now, or later for a Wait on a process still running.
 */
void shim_dispatch(struct shim *s, int fd, uint32_t stream, const char *method, const uint8_t *payload, size_t len);
/* The connection fd closed: its pending Waits are dropped. */
void shim_forget_fd(struct shim *s, int fd);
/* Before exiting: every task's VM is stopped and its state removed. */
void shim_cleanup(struct shim *s);

/*
 * publish.c: an event (containerd.events.NAME) on topic, through containerd's
 * publish binary, one at a time in the order they were published.
 */
void shim_publish(struct shim *s, const char *topic, const char *name, const ProtobufCMessage *event);
/* A child exited: true if it was the publisher (the next event goes). */
bool shim_publisher_exited(struct shim *s, pid_t pid);
/* Before the shim exits: every queued event is delivered (or given up on). */
void shim_publish_flush(struct shim *s);

/*
 * stdio.c: containerd's three stdio paths (stdin, stdout, stderr; "" for
 * none) opened for the supervisor: stdin for reading, the others for
 * writing, all O_CLOEXEC.
 */
int shim_open_stdio(char *const paths[3], int ret_fds[3], cocoon_error **err);

/* mount.c: the rootfs mounts containerd's snapshotter gives, onto <bundle>/rootfs. */
int shim_mount_rootfs(const char *bundle, Cocoon__Shim__Mount *const *mounts, size_t n, cocoon_error **err);
void shim_unmount_rootfs(const char *bundle);
