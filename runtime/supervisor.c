/*
 * The sandbox supervisor: one daemon per VM. It owns the VM (through the
 * hypervisor's ops) and the agent link, and serves the CLI verbs and stubs on ctl.sock in the sandbox's
 * state directory. It runs in a private mount namespace, so the rootfs bind
 * mounts it makes for the share vanish with it, whatever way it ends.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "guest.h"
#include "log.h"
#include "msg.h"
#include "network.h"
#include "pump.h"
#include "runtime.h"
#include "supervisor.h"

static int on_client(struct watch *w, uint32_t events);
static void reap_children(struct supervisor *sv);

static struct host_process *find_process(struct supervisor *sv, const char *cid, const char *eid)
{
        for (struct host_process *p = sv->procs; p; p = p->next)
                if (strcmp(p->container_id, cid) == 0 && strcmp(p->exec_id, eid ? eid : "") == 0)
                        return p;
        return NULL;
}

static struct host_process *find_stream(struct supervisor *sv, uint32_t stream)
{
        for (struct host_process *p = sv->procs; p; p = p->next)
                if (p->stream == stream)
                        return p;
        return NULL;
}

static struct host_process *process_of(struct pump *pump)
{
        return (struct host_process *) ((char *) (pump - pump->fdno) - offsetof(struct host_process, pumps));
}

struct host_process *supervisor_add_process(struct supervisor *sv, const char *container_id, const char *exec_id)
{
        struct host_process *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        *p = (struct host_process) {.sv = sv, .container_id = strdup(container_id), .exec_id = strdup(exec_id),
                                    .stream = ++sv->next_stream};
        if (!p->container_id || !p->exec_id) {
                free(p->container_id);
                free(p->exec_id);
                free(p);
                return NULL;
        }
        for (int i = 0; i < 3; i++)
                pump_init(&p->pumps[i], -1, p->stream, i, i == 0);
        p->next = sv->procs;
        sv->procs = p;
        return p;
}

static void process_free(struct host_process *p)
{
        for (int i = 0; i < 3; i++)
                pump_close(&p->pumps[i]);
        free(p->container_id);
        free(p->exec_id);
        free(p);
}

/* An exec is forgotten once its exit is out, or when it never started. */
static void remove_process(struct supervisor *sv, struct host_process *gone)
{
        for (struct pending *pd = sv->pending; pd; pd = pd->next)
                if (pd->proc == gone)
                        pd->proc = NULL;
        for (struct host_process **pp = &sv->procs; *pp; pp = &(*pp)->next)
                if (*pp == gone) {
                        *pp = gone->next;
                        process_free(gone);
                        return;
                }
}

/* Closes the fds that came with a request that is refused before they are taken. */
static void drop_passed_fds(struct client *c)
{
        for (int fd; (fd = conn_take_fd(&c->conn)) >= 0;)
                close(fd);
}

/* Forgets a container: its processes and its share. */
static void remove_container(struct supervisor *sv, const char *id)
{
        _cleanup_free_ char *gone = strdup(id);
        if (!gone)
                return;
        for (struct host_process *p = sv->procs, *next; p; p = next) {
                next = p->next;
                if (strcmp(p->container_id, gone) == 0)
                        remove_process(sv, p);
        }
        share_release(gone);
}

int supervisor_prepare_create(struct supervisor *sv, const char *id, const struct bundle *b,
                              const struct share_trees *trees, Cocoon__CreateContainerRequest *cc,
                              struct create_prep *prep, cocoon_error **err)
{
        *prep = (struct create_prep) {0};
        int r = share_container(id, b, trees, err);
        if (r < 0)
                return r;
        if (asprintf(&prep->rootfs, GUEST_SHARED_DIR "/%s/rootfs", id) < 0 ||
            !(prep->proc = supervisor_add_process(sv, id, ""))) {
                supervisor_abandon_create(sv, id, prep);
                return -ENOMEM;
        }
        cc->container_id = (char *) id;
        cc->config_json = b->config_json;
        cc->rootfs = prep->rootfs;
        cc->stream = prep->proc->stream;
        cc->no_pivot = b->no_pivot;
        cc->bundle = b->dir;
        cc->n_shared_mounts = trees->n_binds;
        cc->shared_mounts = trees->indexes;
        return 0;
}

void supervisor_abandon_create(struct supervisor *sv, const char *id, struct create_prep *prep)
{
        create_prep_free(prep);
        remove_container(sv, id);
}

void create_prep_free(struct create_prep *prep)
{
        free(prep->rootfs);
        *prep = (struct create_prep) {0};
}

static int forward(struct supervisor *sv, struct client *c, Request *req, struct host_process *proc,
                   cocoon_error **err);

/*
 * A container joining this VM (pods): the CLI sends config.json, the
 * namespace sources and, as fds, the rootfs and volume trees; the supervisor
 * shares them, then the agent creates it. A failure undoes the share when
 * the agent answers.
 */
static int handle_create(struct supervisor *sv, struct client *c, const Request *req, cocoon_error **err)
{
        const Cocoon__CreateContainerRequest *asked = req->create_container;
        struct bundle b = {0};
        struct share_trees trees = {0};
        int r = 0;
        if (!msg_id_valid(asked->container_id) || find_process(sv, asked->container_id, ""))
                r = error_set(err, EEXIST, "container with id exists: %s", asked->container_id);
        if (r == 0)
                r = bundle_from_request(asked->bundle, asked->config_json, &b, err);
        if (r == 0)
                r = share_adopt_trees(&b, &c->conn, &trees, err);
        if (r < 0) {
                drop_passed_fds(c);
                bundle_free(&b);
                return r;
        }
        b.no_pivot = asked->no_pivot;
        Cocoon__CreateContainerRequest cc = COCOON__CREATE_CONTAINER_REQUEST__INIT;
        struct create_prep prep;
        r = supervisor_prepare_create(sv, asked->container_id, &b, &trees, &cc, &prep, err);
        if (r >= 0) {
                cc.n_namespace_sources = asked->n_namespace_sources;
                cc.namespace_sources = asked->namespace_sources;
                Request fwd = COCOON__REQUEST__INIT;
                fwd.id = req->id;
                fwd.body_case = COCOON__REQUEST__BODY_CREATE_CONTAINER;
                fwd.create_container = &cc;
                r = forward(sv, c, &fwd, prep.proc, err);
                if (r < 0)
                        supervisor_abandon_create(sv, asked->container_id, &prep);
                else
                        create_prep_free(&prep);
        }
        share_trees_close(&trees);
        bundle_free(&b);
        return r;
}

static void flush_client(struct client *c)
{
        if (c->dead)
                return;
        int r = conn_flush(&c->conn, NULL);
        if (r < 0) {
                c->dead = true;
                loop_remove(c->watch);
                return;
        }
        (void) loop_set_events(c->watch, EPOLLIN | (r == 0 ? EPOLLOUT : 0));
}

void supervisor_kick(struct supervisor *sv)
{
        int r = conn_flush(&sv->agent, NULL);
        if (r < 0) {
                sv->vm_dead = true;
                return;
        }
        (void) loop_set_events(sv->agent_watch, EPOLLIN | (r == 0 ? EPOLLOUT : 0));
        for (struct client *c = sv->clients; c; c = c->next)
                flush_client(c);
}

/*
 * The process exited: its exit goes to the stub once the output that came
 * before it is written out. Output after it (a child that kept the streams,
 * as in a pid namespace shared with a pod) flows on until the agent sends
 * their end, as it would through the streams the child holds under runc.
 */
static void process_exited(struct host_process *p, int exit_code, int signal)
{
        p->exited = true;
        p->exit_code = exit_code;
        p->signal = signal;
        for (int i = 1; i < 3; i++)
                p->exit_mark[i] = pump_mark(&p->pumps[i], 0);
}

/* Tells the attached client that its process exited, once its output up to the exit is out. */
static void maybe_send_exit(struct supervisor *sv, struct host_process *p)
{
        if (!p->exited || p->exit_sent)
                return;
        for (int i = 1; i < 3; i++)
                if (!pump_reached(&p->pumps[i], p->exit_mark[i]))
                        return;
        /*
         * A workload whose VM (or share) died under it may exit "cleanly" on
         * the errors it saw: only an exit the VM outlived is its own.
         */
        reap_children(sv);
        if (sv->vm_dead && !p->reason) {
                p->exit_code = 128 + SIGKILL;
                p->signal = SIGKILL;
                p->reason = "the sandbox VM stopped unexpectedly";
        }
        p->exit_sent = true;
        pump_close(&p->pumps[0]);
        if (p->attached) {
                (void) msg_queue_exited(&p->attached->conn, p->container_id, p->exec_id, p->exit_code, p->signal,
                                        p->reason);
                flush_client(p->attached);
        }
}

static int on_pump(struct watch *w, uint32_t events)
{
        struct pump *pump = w->data;
        struct host_process *p = process_of(pump);
        struct supervisor *sv = p->sv;
        int r = pump->outbound ? pump_read(pump, &sv->agent) : pump_write(pump, &sv->agent);
        if (r < 0)
                log_warn("stdio of %s: %s", p->container_id, strerror(-r));
        maybe_send_exit(sv, p);
        supervisor_kick(sv);
        return 0;
}

/*
 * A fresh, non-blocking open file description for a caller's fd, so that our
 * O_NONBLOCK never leaks into the caller's terminal or pipe. Sockets cannot
 * be reopened and are switched in place.
 */
static int reopen_nonblocking(int fd, bool for_write)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISSOCK(st.st_mode)) {
                int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy >= 0)
                        (void) fcntl(copy, F_SETFL, fcntl(copy, F_GETFL) | O_NONBLOCK);
                return copy < 0 ? -errno : copy;
        }
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
                /* Never blocks; the loop treats it as always ready. */
                int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                return copy < 0 ? -errno : copy;
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int nfd = open(path, (for_write ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nfd < 0) {
                nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (nfd >= 0)
                        (void) fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK);
        }
        return nfd < 0 ? -errno : nfd;
}

/* Binds the three stdio fds that came with the client's request to p. */
static int attach_stdio(struct supervisor *sv, struct client *c, struct host_process *p, const char *container_id,
                        cocoon_error **err)
{
        int fds[3] = {conn_take_fd(&c->conn), conn_take_fd(&c->conn), conn_take_fd(&c->conn)};
        int r = 0;
        if (!p)
                r = error_set(err, ENOENT, "container %s does not exist", container_id);
        else if (p->attached)
                r = error_set(err, EBUSY, "the process of %s is already attached", container_id);
        else if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
                r = error_set(err, EBADF, "attach needs three file descriptors");
        for (int i = 0; i < 3 && r >= 0; i++) {
                int fd = reopen_nonblocking(fds[i], i != 0);
                if (fd < 0) {
                        r = error_sys(err, -fd, "stdio fd %d", i);
                        break;
                }
                pump_init(&p->pumps[i], fd, p->stream, i, i == 0);
                r = pump_watch(&p->pumps[i], sv->loop, on_pump);
                if (r < 0)
                        r = error_sys(err, -r, "watching stdio fd %d", i);
        }
        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (r < 0) {
                if (p)
                        for (int i = 0; i < 3; i++)
                                pump_close(&p->pumps[i]);
                return r;
        }
        p->attached = c;
        return 0;
}

static int handle_attach(struct supervisor *sv, struct client *c, const Cocoon__AttachRequest *req, cocoon_error **err)
{
        return attach_stdio(sv, c, find_process(sv, req->container_id, req->exec_id), req->container_id, err);
}

/* containerd's CloseIO: what the process's stdin holds goes on, then its end. */
static int handle_close_stdin(struct supervisor *sv, const Cocoon__CloseStdinRequest *req, cocoon_error **err)
{
        struct host_process *p = find_process(sv, req->container_id, req->exec_id);
        if (!p)
                return error_set(err, ENOENT, "process %s of %s does not exist", *req->exec_id ? req->exec_id : "init",
                                 req->container_id);
        int r = pump_drain(&p->pumps[0], &sv->agent);
        if (r < 0)
                return error_sys(err, -r, "closing the stdin of %s", req->container_id);
        supervisor_kick(sv);
        return 0;
}

/*
 * Anything the supervisor does not answer itself goes to the agent under a
 * new id; proc is the process the answer concerns (start, pause, exec).
 */
static int forward(struct supervisor *sv, struct client *c, Request *req, struct host_process *proc,
                   cocoon_error **err)
{
        struct pending *pd = calloc(1, sizeof(*pd));
        if (!pd)
                return -ENOMEM;
        uint64_t client_id = req->id;
        *pd = (struct pending) {.agent_id = ++sv->next_id, .client = c, .client_id = client_id,
                                .body_case = req->body_case, .proc = proc, .next = sv->pending};
        if (req->body_case == COCOON__REQUEST__BODY_PAUSE_CONTAINER)
                pd->paused = req->pause_container->paused;
        req->id = pd->agent_id;
        int r = conn_queue_msg(&sv->agent, FRAME_REQUEST, &req->base);
        req->id = client_id;
        if (r < 0) {
                free(pd);
                return error_sys(err, -r, "forwarding to the agent");
        }
        sv->pending = pd;
        return 1; /* answered later */
}

static const char *init_status(const struct host_process *init)
{
        if (init->exited || init->stub_gone)
                return "stopped";
        if (init->paused)
                return "paused";
        return init->started ? "running" : "created";
}

static int handle_state(struct supervisor *sv, struct client *c, const Request *req, cocoon_error **err)
{
        struct host_process *init = find_process(sv, req->container_state->container_id, "");
        if (!init)
                return error_set(err, ENOENT, "container %s does not exist", req->container_state->container_id);
        Cocoon__ContainerStateResponse st = COCOON__CONTAINER_STATE_RESPONSE__INIT;
        st.status = (char *) init_status(init);
        st.exit_code = init->exit_code;
        Response resp = COCOON__RESPONSE__INIT;
        resp.id = req->id;
        resp.body_case = COCOON__RESPONSE__BODY_CONTAINER_STATE;
        resp.container_state = &st;
        int r = conn_queue_msg(&c->conn, FRAME_RESPONSE, &resp.base);
        return r < 0 ? error_sys(err, -r, "answering") : 1;
}

/* exec: the stub's fds come with the request; the process gets a stream before the agent starts it. */
static int handle_exec(struct supervisor *sv, struct client *c, Request *req, cocoon_error **err)
{
        Cocoon__ExecProcessRequest *ex = req->exec_process;
        struct host_process *p = NULL;
        int r = 0;
        if (!find_process(sv, ex->container_id, ""))
                r = error_set(err, ENOENT, "container %s does not exist", ex->container_id);
        else if (!msg_id_valid(ex->exec_id) || find_process(sv, ex->container_id, ex->exec_id))
                r = error_set(err, EEXIST, "exec id %s is invalid or in use", ex->exec_id);
        else if (!(p = supervisor_add_process(sv, ex->container_id, ex->exec_id)))
                r = -ENOMEM;
        if (r < 0) {
                drop_passed_fds(c);
                return r;
        }
        r = attach_stdio(sv, c, p, ex->container_id, err);
        if (r < 0) {
                remove_process(sv, p);
                return r;
        }
        ex->stream = p->stream;
        r = forward(sv, c, req, p, err);
        if (r < 0)
                remove_process(sv, p);
        return r;
}

static int handle_request(struct supervisor *sv, struct client *c, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_request_ Request *req = NULL;
        int r = msg_unpack_request(payload, len, &req, &err);
        if (r < 0)
                return msg_queue_result(&c->conn, 0, r, err);

        switch (req->body_case) {
        case COCOON__REQUEST__BODY_ATTACH:
                r = handle_attach(sv, c, req->attach, &err);
                break;
        case COCOON__REQUEST__BODY_CLOSE_STDIN:
                r = handle_close_stdin(sv, req->close_stdin, &err);
                break;
        case COCOON__REQUEST__BODY_SHUTDOWN:
                sv->shutdown_client = c;
                sv->shutdown_id = req->id;
                sv->stopping = true;
                return 0;
        case COCOON__REQUEST__BODY_CONTAINER_STATE:
                r = handle_state(sv, c, req, &err);
                if (r > 0)
                        return 0;
                break;
        case COCOON__REQUEST__BODY_EXEC_PROCESS:
                r = handle_exec(sv, c, req, &err);
                if (r > 0)
                        return 0;
                break;
        case COCOON__REQUEST__BODY_CREATE_CONTAINER:
                r = handle_create(sv, c, req, &err);
                if (r > 0)
                        return 0;
                break;
        case COCOON__REQUEST__BODY_START_CONTAINER:
        case COCOON__REQUEST__BODY_PAUSE_CONTAINER:
        case COCOON__REQUEST__BODY_REMOVE_CONTAINER: {
                const char *id = req->body_case == COCOON__REQUEST__BODY_START_CONTAINER ? req->start_container->container_id
                                 : req->body_case == COCOON__REQUEST__BODY_PAUSE_CONTAINER
                                         ? req->pause_container->container_id
                                         : req->remove_container->container_id;
                r = forward(sv, c, req, find_process(sv, id, ""), &err);
                if (r > 0)
                        return 0;
                break;
        }
        case COCOON__REQUEST__BODY_SIGNAL_PROCESS:
        case COCOON__REQUEST__BODY_RESIZE:
        case COCOON__REQUEST__BODY_LIST_PROCESSES:
        case COCOON__REQUEST__BODY_STATS_CONTAINER:
        case COCOON__REQUEST__BODY_UPDATE_CONTAINER:
                r = forward(sv, c, req, NULL, &err);
                if (r > 0)
                        return 0;
                break;
        default:
                r = error_set(&err, EOPNOTSUPP, "the supervisor does not handle this request");
                break;
        }
        return msg_queue_result(&c->conn, req->id, r, err);
}

static void client_free(struct client *c)
{
        if (!c->dead)
                loop_remove(c->watch);
        conn_destroy(&c->conn);
        free(c);
}

static int on_client(struct watch *w, uint32_t events)
{
        struct client *c = w->data;
        struct supervisor *sv = c->sv;
        _cleanup_error_ cocoon_error *err = NULL;
        bool gone = false;

        if (events & EPOLLIN) {
                ssize_t n;
                while ((n = conn_fill(&c->conn, &err)) > 0) {
                        struct frame_header h;
                        const uint8_t *payload;
                        int r;
                        while ((r = conn_next(&c->conn, &h, &payload, &err)) > 0)
                                if (h.type == FRAME_REQUEST)
                                        (void) handle_request(sv, c, payload, h.length);
                        if (r < 0) {
                                gone = true;
                                break;
                        }
                }
                if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR))
                        gone = true;
        } else if (events & (EPOLLHUP | EPOLLERR)) {
                gone = true;
        }
        if (gone && !c->dead) {
                c->dead = true;
                loop_remove(c->watch);
        }
        supervisor_kick(sv);
        return 0;
}

static int on_listen(struct watch *w, uint32_t events)
{
        struct supervisor *sv = w->data;
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return 0;
        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return 0;
        }
        c->sv = sv;
        conn_init(&c->conn, fd, true);
        if (loop_add(sv->loop, fd, EPOLLIN, on_client, c, &c->watch) < 0) {
                conn_destroy(&c->conn);
                free(c);
                return 0;
        }
        c->next = sv->clients;
        sv->clients = c;
        return 0;
}

static void on_agent_response(struct supervisor *sv, const uint8_t *payload, size_t len)
{
        _cleanup_response_ Response *resp = NULL;
        if (msg_unpack_response(payload, len, &resp, NULL) < 0) {
                sv->vm_dead = true; /* a malformed answer: the guest is not to be trusted further */
                return;
        }
        for (struct pending **pp = &sv->pending; *pp; pp = &(*pp)->next) {
                struct pending *pd = *pp;
                if (pd->agent_id != resp->id)
                        continue;
                *pp = pd->next;
                if (pd->proc && resp->errnum == 0) {
                        if (pd->body_case == COCOON__REQUEST__BODY_START_CONTAINER)
                                pd->proc->started = true;
                        else if (pd->body_case == COCOON__REQUEST__BODY_PAUSE_CONTAINER)
                                pd->proc->paused = pd->paused;
                } else if (pd->proc && pd->body_case == COCOON__REQUEST__BODY_EXEC_PROCESS) {
                        /* The exec failed: its stub reports the error; late frames for it are dropped. */
                        remove_process(sv, pd->proc);
                } else if (pd->proc && pd->body_case == COCOON__REQUEST__BODY_CREATE_CONTAINER) {
                        remove_container(sv, pd->proc->container_id);
                }
                if (pd->proc && resp->errnum == 0 && pd->body_case == COCOON__REQUEST__BODY_REMOVE_CONTAINER)
                        remove_container(sv, pd->proc->container_id);
                if (pd->client) {
                        uint64_t agent_id = resp->id;
                        resp->id = pd->client_id;
                        (void) conn_queue_msg(&pd->client->conn, FRAME_RESPONSE, &resp->base);
                        resp->id = agent_id;
                }
                free(pd);
                return;
        }
}

static void on_agent_event(struct supervisor *sv, const uint8_t *payload, size_t len)
{
        _cleanup_event_ Event *ev = NULL;
        if (msg_unpack_event(payload, len, &ev, NULL) < 0) {
                sv->vm_dead = true;
                return;
        }
        if (ev->body_case == COCOON__EVENT__BODY_OOM) {
                if (!msg_id_valid(ev->oom->container_id))
                        return;
                /* Everyone listening (events, stubs) may care; stubs ignore it. */
                for (struct client *c = sv->clients; c; c = c->next)
                        if (!c->dead)
                                (void) conn_queue_msg(&c->conn, FRAME_EVENT, &ev->base);
                return;
        }
        if (ev->body_case != COCOON__EVENT__BODY_EXITED)
                return;
        struct host_process *p = find_process(sv, ev->exited->container_id, ev->exited->exec_id);
        if (!p || p->exited)
                return;
        if (ev->exited->exit_code < 0 || ev->exited->exit_code > 255 || ev->exited->signal > 64) {
                sv->vm_dead = true;
                return;
        }
        process_exited(p, ev->exited->exit_code, ev->exited->signal);
        maybe_send_exit(sv, p);
}

static int on_agent_stdio(struct supervisor *sv, const struct frame_header *h, const uint8_t *payload)
{
        struct host_process *p = find_stream(sv, h->stream);
        if (!p)
                return 0;
        int r = 0;
        switch (h->type) {
        case FRAME_DATA:
                if (h->flags == 0)
                        return -EPROTO;
                r = pump_push(&p->pumps[h->flags], &sv->agent, payload, h->length);
                break;
        case FRAME_EOF:
                if (h->flags == 0)
                        r = pump_reader_gone(&p->pumps[0], &sv->agent); /* the process closed its stdin */
                else
                        pump_push_eof(&p->pumps[h->flags]);
                break;
        case FRAME_CREDIT:
                if (h->flags != 0)
                        return -EPROTO;
                pump_grant(&p->pumps[0], (uint32_t) payload[0] << 24 | payload[1] << 16 | payload[2] << 8 | payload[3]);
                if (p->pumps[0].closing)
                        r = pump_drain(&p->pumps[0], &sv->agent); /* a CloseIO waiting for credit */
                break;
        default:
                return -EPROTO;
        }
        maybe_send_exit(sv, p);
        return r;
}

static int on_agent(struct watch *w, uint32_t events)
{
        struct supervisor *sv = w->data;
        _cleanup_error_ cocoon_error *err = NULL;
        if (events & EPOLLIN) {
                ssize_t n;
                while ((n = conn_fill(&sv->agent, &err)) > 0) {
                        struct frame_header h;
                        const uint8_t *payload;
                        int r;
                        while ((r = conn_next(&sv->agent, &h, &payload, &err)) > 0) {
                                if (h.type == FRAME_RESPONSE)
                                        on_agent_response(sv, payload, h.length);
                                else if (h.type == FRAME_EVENT)
                                        on_agent_event(sv, payload, h.length);
                                else if (on_agent_stdio(sv, &h, payload) < 0)
                                        r = error_set(&err, EPROTO, "invalid stdio frame from the agent");
                                if (r < 0 || sv->vm_dead)
                                        break;
                        }
                        if (r < 0) {
                                log_error("agent link: %s", err ? err->msg : strerror(-r));
                                sv->vm_dead = true;
                                break;
                        }
                }
                if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR))
                        sv->vm_dead = true;
        } else if (events & (EPOLLHUP | EPOLLERR)) {
                sv->vm_dead = true;
        }
        supervisor_kick(sv);
        return 0;
}

static void reap_children(struct supervisor *sv)
{
        /* Any child is reaped here; the VM's end shows on vm_wait_fd, looked at now too. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        struct pollfd end = {.fd = sv->vm ? vm_wait_fd(sv->vm) : -1, .events = POLLIN};
        if (end.fd >= 0 && poll(&end, 1, 0) > 0)
                sv->vm_dead = true;
}

static int on_signal(struct watch *w, uint32_t events)
{
        struct supervisor *sv = w->data;
        struct signalfd_siginfo si;
        while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP)
                        sv->stopping = true;
        }
        reap_children(sv);
        return 0;
}

static int on_vm_end(struct watch *w, uint32_t events)
{
        struct supervisor *sv = w->data;
        sv->vm_dead = true;
        return 0;
}

/* The VM is gone or going: every process that has not exited died with it. */
static void fail_all_processes(struct supervisor *sv)
{
        for (struct host_process *p = sv->procs; p; p = p->next) {
                for (int i = 1; i < 3; i++)
                        if (!p->pumps[i].eof) {
                                p->pumps[i].len = 0;
                                pump_push_eof(&p->pumps[i]);
                        }
                if (!p->exited) {
                        process_exited(p, 128 + SIGKILL, SIGKILL);
                        if (sv->vm_dead)
                                p->reason = "the sandbox VM stopped unexpectedly";
                }
                maybe_send_exit(sv, p);
        }
}

int supervisor_watch(struct supervisor *sv, int listen_fd, const sigset_t *mask)
{
        int sfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0)
                return -errno;
        sv->signal_fd = sfd;
        sv->listen_fd = listen_fd;
        int r = loop_add(sv->loop, sfd, EPOLLIN, on_signal, sv, NULL);
        if (r == 0)
                r = loop_add(sv->loop, sv->agent.fd, EPOLLIN, on_agent, sv, &sv->agent_watch);
        if (r == 0)
                r = loop_add(sv->loop, listen_fd, EPOLLIN, on_listen, sv, NULL);
        if (r == 0)
                r = loop_add(sv->loop, vm_wait_fd(sv->vm), EPOLLIN, on_vm_end, sv, NULL);
        return r;
}

/*
 * A stub went away before its process exited (the caller gave up on it and
 * killed it, even with SIGKILL): the process must not outlive it, nor its
 * output keep the caller's streams open. The process is killed (a
 * container's init with everything in its cgroup) and its stdio closed;
 * output still on its way is dropped, and the container counts as stopped.
 */
static void stub_gone(struct supervisor *sv, struct host_process *p)
{
        p->attached = NULL;
        if (p->exit_sent)
                return;
        p->stub_gone = true;
        /*
         * Its output has no reader any more, here nor in the guest: the agent
         * closes its end too, so a child still holding the process's stdout
         * gets EPIPE, as with a fifo whose reader went away, and the streams
         * end instead of staying open for as long as that child lives.
         */
        if (!sv->vm_dead)
                for (int i = 1; i < 3; i++)
                        (void) pump_reader_gone(&p->pumps[i], &sv->agent);
        for (int i = 0; i < 3; i++)
                pump_close(&p->pumps[i]);
        if (p->exited || sv->stopping || sv->vm_dead)
                return;
        Cocoon__SignalProcessRequest sp = COCOON__SIGNAL_PROCESS_REQUEST__INIT;
        sp.container_id = p->container_id;
        sp.exec_id = p->exec_id;
        sp.signal = SIGKILL;
        sp.all = *p->exec_id == '\0';
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_SIGNAL_PROCESS;
        req.signal_process = &sp;
        _cleanup_error_ cocoon_error *err = NULL;
        if (forward(sv, NULL, &req, NULL, &err) < 0)
                log_error("killing %s %s after its stub went away: %s", p->container_id, p->exec_id,
                          err ? err->msg : "failed");
        else
                log_warn("the stub of %s %s went away: killing its process", p->container_id,
                         *p->exec_id ? p->exec_id : "(init)");
}

/*
 * Frees the clients that went away, after dropping every reference to them:
 * a process they were attached to is killed (stub_gone), answers still due
 * to them are dropped when they come.
 */
static void reap_dead_clients(struct supervisor *sv)
{
        for (struct client **pc = &sv->clients; *pc;) {
                struct client *c = *pc;
                if (!c->dead) {
                        pc = &c->next;
                        continue;
                }
                for (struct host_process *p = sv->procs; p; p = p->next)
                        if (p->attached == c)
                                stub_gone(sv, p);
                for (struct pending *pd = sv->pending; pd; pd = pd->next)
                        if (pd->client == c)
                                pd->client = NULL;
                if (sv->shutdown_client == c)
                        sv->shutdown_client = NULL;
                *pc = c->next;
                client_free(c);
        }
}

/* An exec is forgotten once its exit is out and its streams ended: health checks run thousands. */
static void reap_finished_execs(struct supervisor *sv)
{
        for (struct host_process *p = sv->procs, *next; p; p = next) {
                next = p->next;
                if (*p->exec_id && p->exit_sent && pump_done(&p->pumps[1]) && pump_done(&p->pumps[2]))
                        remove_process(sv, p);
        }
}

/*
 * Nothing of the workload is left: every process of every container in the
 * VM exited, its exit is out and its streams ended (no child holds them).
 * A stopped container that nobody deleted yet would otherwise keep its
 * whole VM (guest RAM, QEMU, virtiofsd) until delete; the VM stops instead,
 * and state (stopped: the supervisor is gone) and delete work on.
 */
static bool workload_gone(const struct supervisor *sv)
{
        if (!sv->procs)
                return false;
        for (const struct host_process *p = sv->procs; p; p = p->next)
                if (!p->exit_sent || !pump_done(&p->pumps[1]) || !pump_done(&p->pumps[2]))
                        return false;
        return true;
}

int supervisor_loop(struct supervisor *sv)
{
        while (!sv->stopping && !sv->vm_dead) {
                int r = loop_run_once(sv->loop, -1);
                if (r < 0)
                        return r;
                reap_dead_clients(sv);
                reap_finished_execs(sv);
                supervisor_kick(sv); /* what a dead client's process left to send (its kill) */
                if (workload_gone(sv)) {
                        log_msg(LOG_INFO, "every process of the VM exited: stopping it");
                        sv->stopping = true;
                }
        }
        if (sv->vm_dead)
                log_error("the sandbox VM stopped unexpectedly");
        fail_all_processes(sv);
        supervisor_kick(sv);
        (void) vm_stop(sv->vm, NULL);
        if (sv->shutdown_client) {
                (void) msg_queue_result(&sv->shutdown_client->conn, sv->shutdown_id, 0, NULL);
                /* The client is blocking on this answer: make sure it gets it. */
                (void) fcntl(sv->shutdown_client->conn.fd, F_SETFL, 0);
                (void) conn_flush(&sv->shutdown_client->conn, NULL);
        }
        return 0;
}

void supervisor_free(struct supervisor *sv)
{
        for (struct client *c = sv->clients, *next; c; c = next) {
                next = c->next;
                client_free(c);
        }
        for (struct host_process *p = sv->procs, *next; p; p = next) {
                next = p->next;
                process_free(p);
        }
        for (struct pending *pd = sv->pending, *next; pd; pd = next) {
                next = pd->next;
                free(pd);
        }
        network_free(sv->net);
        conn_destroy(&sv->agent);
        if (sv->signal_fd > 0)
                close(sv->signal_fd);
        if (sv->listen_fd > 0)
                close(sv->listen_fd);
        vm_free(sv->vm);
        loop_free(sv->loop);
}
