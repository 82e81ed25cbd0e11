/* The supervisor's internals, shared by its boot (sandbox.c) and its loop (supervisor.c). */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "conn.h"
#include "hypervisor.h"
#include "loop.h"
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
        bool exited, exit_sent;
        int exit_code, signal;
        const char *reason; /* static text when it did not exit on its own */
        struct host_process *next;
};

struct pending {
        uint64_t agent_id;
        struct client *client;
        uint64_t client_id;
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
        bool stopping, vm_dead;
        int signal_fd, listen_fd;
        struct client *shutdown_client;
        uint64_t shutdown_id;
};

/* Watches the agent link, the control socket and the signals in mask (blocked already). */
int supervisor_watch(struct supervisor *sv, int listen_fd, const sigset_t *mask);
/* Runs until shutdown or until the VM dies; stops the VM before returning. */
int supervisor_loop(struct supervisor *sv);
/* Flushes queued output to the agent and clients. */
void supervisor_kick(struct supervisor *sv);
void supervisor_free(struct supervisor *sv);
