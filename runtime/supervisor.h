/* The supervisor's internals, shared by its boot (sandbox.c) and its loop (supervisor.c). */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "conn.h"
#include "hypervisor.h"
#include "loop.h"
#include "msg.h"
#include "pump.h"

struct supervisor;

struct client {
        struct supervisor *sv;
        struct conn conn;
        struct watch *watch;
        bool dead;
        struct client *next;
};

/* A guest process as the host sees it: its stdio pumps and who waits for its exit. */
struct host_process {
        struct supervisor *sv;
        char *container_id;
        char *exec_id; /* "" for the container's init */
        uint32_t stream;
        struct pump pumps[3]; /* stdin outbound; stdout and stderr inbound */
        struct client *attached;
        bool started, paused; /* the container's init: start and pause answered */
        bool exited, exit_sent;
        bool stub_gone; /* its stub went away before the exit: the process is killed, its output dropped */
        int exit_code, signal;
        uint64_t exit_mark[3]; /* stdout and stderr: the output that came before the exit */
        const char *reason; /* static text when it did not exit on its own */
        struct host_process *next;
};

/* A request forwarded to the agent whose answer the supervisor also acts on. */
struct pending {
        uint64_t agent_id;
        struct client *client;
        uint64_t client_id;
        int body_case;              /* what was asked */
        struct host_process *proc;  /* start, pause, exec: the process concerned */
        bool paused;                /* pause: freeze or thaw */
        struct pending *next;
};

struct supervisor {
        struct loop *loop;
        struct vm *vm;
        struct conn agent;
        struct watch *agent_watch;
        struct client *clients;
        struct host_process *procs;
        struct pending *pending;
        uint64_t next_id;
        uint32_t next_stream;
        struct network *net; /* taps and tc redirects in the container's network namespace, or NULL */
        bool stopping, vm_dead;
        int signal_fd, listen_fd;
        struct client *shutdown_client;
        uint64_t shutdown_id;
};

/* Registers a guest process (the container's init, or an exec) on a new stdio stream. */
struct host_process *supervisor_add_process(struct supervisor *sv, const char *container_id, const char *exec_id);

/*
 * A create request for the agent, readied from the bundle: the container's
 * share, its stdio stream, the request's fields (pointing into b, trees and
 * prep, which must stay until it is sent).
 * Once sent, create_prep_free(); if it fails, supervisor_abandon_create().
 */
struct create_prep {
        char *rootfs;
        struct host_process *proc; /* the init */
};
struct bundle;
struct share_trees;
int supervisor_prepare_create(struct supervisor *sv, const char *id, const struct bundle *b,
                              const struct share_trees *trees, Cocoon__CreateContainerRequest *cc,
                              struct create_prep *prep, cocoon_error **err);
void supervisor_abandon_create(struct supervisor *sv, const char *id, struct create_prep *prep);
void create_prep_free(struct create_prep *prep);

/* Watches the agent link, the control socket and the signals in mask (blocked already). */
int supervisor_watch(struct supervisor *sv, int listen_fd, const sigset_t *mask);
/* Runs until shutdown or until the VM dies; stops the VM before returning. */
int supervisor_loop(struct supervisor *sv);
/* Flushes queued output to the agent and clients. */
void supervisor_kick(struct supervisor *sv);
void supervisor_free(struct supervisor *sv);
