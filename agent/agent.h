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
        int exit_code, signal;
};

enum container_status { CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_STOPPED };

struct guest_container {
        char *id;
        struct oci_spec *spec;
        enum container_status status;
        struct guest_process init;
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

/* modules.c: loads the named modules (and what they depend on) from dir */
int modules_load(const char *dir, const char *const *wanted, cocoon_error **err);

/* transport.c: the link to the host */
bool transport_wants_vsock(void);
int transport_open(struct agent *a, cocoon_error **err);
/* Queues nothing; flushes and re-arms the watch after handlers queued output. */
void transport_kick(struct agent *a);

/* rpc.c */
int rpc_dispatch(struct agent *a, const uint8_t *payload, size_t len);
int rpc_on_stdio_frame(struct agent *a, const struct frame_header *h, const uint8_t *payload);

/* containers.c */
int containers_create(struct agent *a, const Cocoon__CreateContainerRequest *req, cocoon_error **err);
int containers_start(struct agent *a, const char *id, cocoon_error **err);
int containers_signal(struct agent *a, const Cocoon__SignalProcessRequest *req, cocoon_error **err);
int containers_remove(struct agent *a, const char *id, cocoon_error **err);
int containers_resize(struct agent *a, const Cocoon__ResizeRequest *req, cocoon_error **err);
struct guest_process *containers_find_stream(struct agent *a, uint32_t stream);
/* Reaps children (SIGCHLD) and reports exits whose output is drained. */
void containers_reap(struct agent *a);
void containers_report_exits(struct agent *a);
