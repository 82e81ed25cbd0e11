/*
 * The containerd.task.v2.Task service. A task is a cocoon container: its
 * own VM, or a pod's sandbox VM that it joins (pod.c decides, from the
 * annotations containerd's CRI writes). The shim opens each process's
 * fifos and hands them to the supervisor on a connection of the process's
 * own (sandbox_attach), which then brings the process's exit; no host
 * process stands for a guest process. The pid containerd sees for every
 * process of a task is its VM's supervisor's, as Kata's shim reports its
 * hypervisor's.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "shim.h"
#include "ttrpc.h"

/* gRPC status codes, which containerd maps back to its errdefs. */
enum {
        CODE_UNKNOWN = 2,
        CODE_INVALID_ARGUMENT = 3,
        CODE_NOT_FOUND = 5,
        CODE_ALREADY_EXISTS = 6,
        CODE_FAILED_PRECONDITION = 9,
        CODE_UNIMPLEMENTED = 12,
};

struct shim_waiter {
        struct shim_waiter *next;
        int fd;
        uint32_t stream;
};

static int code_of(int r)
{
        switch (-r) {
        case ENOENT:
        case ESRCH:
                return CODE_NOT_FOUND;
        case EEXIST:
                return CODE_ALREADY_EXISTS;
        case EINVAL:
                return CODE_INVALID_ARGUMENT;
        case EBUSY:
        case EPERM:
                return CODE_FAILED_PRECONDITION;
        case ENOTSUP:
        case ENOSYS:
                return CODE_UNIMPLEMENTED;
        default:
                return CODE_UNKNOWN;
        }
}

static void reply(int fd, uint32_t stream, int r, const cocoon_error *err, const ProtobufCMessage *msg)
{
        if (r < 0) {
                const char *m = err && err->msg ? err->msg : strerror(-r);
                if (ttrpc_send_response(fd, stream, code_of(r), m, NULL, 0) < 0)
                        log_debug("answering containerd: connection lost, ignoring");
                return;
        }
        size_t len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
        _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
                return reply(fd, stream, -ENOMEM, NULL, NULL);
        if (msg)
                protobuf_c_message_pack(msg, buf);
        if (ttrpc_send_response(fd, stream, 0, NULL, buf, len) < 0)
                log_debug("answering containerd: connection lost, ignoring");
}

static struct shim_task *task_find(struct shim *s, const char *id)
{
        for (struct shim_task *t = s->tasks; t; t = t->next)
                if (strcmp(t->id, id) == 0)
                        return t;
        return NULL;
}

static int proc_find(struct shim *s, const char *id, const char *exec_id, struct shim_task **ret_t,
                     struct shim_proc **ret_p, cocoon_error **err)
{
        struct shim_task *t = task_find(s, id);
        if (!t)
                return error_set(err, ENOENT, "task %s not found", id);
        for (struct shim_proc *p = t->procs; p; p = p->next)
                if (strcmp(p->exec_id, exec_id ? exec_id : "") == 0) {
                        *ret_t = t;
                        *ret_p = p;
                        return 0;
                }
        return error_set(err, ENOENT, "process %s of task %s not found", exec_id, id);
}

/* A connection to a supervisor, made non-blocking, on the loop: ready(s, obj) when it is readable. */
static int conn_watch(struct shim *s, struct conn *c, struct shim_watch *w, void (*ready)(struct shim *s, void *obj),
                      void *obj)
{
        (void) fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        *w = (struct shim_watch) {.ready = ready, .obj = obj};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        return epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Off the loop and closed (fd -1). */
static void conn_unwatch(struct shim *s, struct conn *c)
{
        if (c->fd < 0)
                return;
        (void) epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
        conn_destroy(c);
        c->fd = -1;
}

static void proc_detach(struct shim *s, struct shim_proc *p)
{
        conn_unwatch(s, &p->conn);
}

static void proc_free(struct shim *s, struct shim_proc *p)
{
        proc_detach(s, p);
        free(p->exec_id);
        for (int i = 0; i < 3; i++)
                free(p->stdio[i]);
        free(p->spec_json);
        while (p->waiters) {
                struct shim_waiter *w = p->waiters;
                p->waiters = w->next;
                free(w);
        }
        free(p);
}

static struct shim_proc *proc_new(const char *exec_id, const char *in, const char *out, const char *errp,
                                  bool terminal)
{
        struct shim_proc *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->exec_id = strdup(exec_id);
        p->stdio[0] = strdup(in ? in : "");
        p->stdio[1] = strdup(out ? out : "");
        p->stdio[2] = strdup(errp ? errp : "");
        p->terminal = terminal;
        p->status = COCOON__SHIM__TASK_STATUS__CREATED;
        p->conn.fd = -1;
        if (!p->exec_id || !p->stdio[0] || !p->stdio[1] || !p->stdio[2]) {
                proc_free(NULL, p);
                return NULL;
        }
        return p;
}

static void events_close(struct shim *s, struct shim_task *t)
{
        conn_unwatch(s, &t->events);
}

/*
 * The supervisor sends every connected client its events: a connection of
 * the task's own, read by the loop, brings the guest's OOM kills.
 */
static void task_events(struct shim *s, void *obj);

static void events_open(struct shim *s, struct shim_task *t)
{
        _cleanup_error_ cocoon_error *err = NULL;
        int fd = supervisor_connect(t->c.sv_dir, &err);
        if (fd < 0) {
                log_warn("%s: no OOM events: %s", t->id, err ? err->msg : strerror(-fd));
                return;
        }
        conn_init(&t->events, fd, false);
        if (conn_watch(s, &t->events, &t->events_watch, task_events, t) < 0)
                events_close(s, t);
}

/*
 * Reads what a supervisor connection has and passes each event to on(ev,
 * ud): true once the connection is over (the supervisor closed it or spoke
 * nonsense).
 */
static bool read_events(struct conn *c, void (*on)(Event *ev, void *ud), void *ud)
{
        _cleanup_error_ cocoon_error *err = NULL;
        ssize_t n = conn_fill(c, &err);
        struct frame_header h;
        const uint8_t *payload;
        int r;
        while ((r = conn_next(c, &h, &payload, &err)) > 0) {
                if (h.type != FRAME_EVENT)
                        continue;
                _cleanup_event_ Event *ev = NULL;
                if (msg_unpack_event(payload, h.length, &ev, &err) < 0)
                        return true;
                on(ev, ud);
        }
        return r < 0 || n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR);
}

struct task_event {
        struct shim *s;
        struct shim_task *t;
};

static void on_task_event(Event *ev, void *ud)
{
        struct task_event *te = ud;
        if (ev->body_case == COCOON__EVENT__BODY_OOM && strcmp(ev->oom->container_id, te->t->id) == 0) {
                Cocoon__Shim__TaskOOM oom = COCOON__SHIM__TASK_OOM__INIT;
                oom.container_id = te->t->id;
                shim_publish(te->s, "/tasks/oom", "TaskOOM", &oom.base);
        }
}

static void task_events(struct shim *s, void *obj)
{
        struct task_event te = {.s = s, .t = obj};
        /* The supervisor is gone (the processes' connections report their exits) or spoke nonsense: no more events. */
        if (read_events(&te.t->events, on_task_event, &te))
                events_close(s, te.t);
}

static void task_unlink(struct shim *s, struct shim_task *t)
{
        events_close(s, t);
        for (struct shim_task **pp = &s->tasks; *pp; pp = &(*pp)->next)
                if (*pp == t) {
                        *pp = t->next;
                        break;
                }
        while (t->procs) {
                struct shim_proc *p = t->procs;
                t->procs = p->next;
                proc_free(s, p);
        }
        free(t->id);
        free(t->bundle);
        free(t);
}

/* Stops the VM (or leaves the pod's), runs poststop, removes the state and the rootfs mount. */
static int task_destroy(struct shim *s, struct shim_task *t, cocoon_error **err)
{
        events_close(s, t);
        int r = container_relock(&t->c);
        if (r == 0) {
                r = container_stop_sandbox(&t->c, err);
                if (r == 0) {
                        _cleanup_error_ cocoon_error *herr = NULL;
                        if (container_run_hooks(&t->c, HOOKS_POSTSTOP, &herr) < 0)
                                log_warn("%s: %s", t->id, herr ? herr->msg : "poststop hook failed");
                        r = container_destroy(&t->c, err);
                } else {
                        container_unlock(&t->c);
                }
        } else {
                r = 0; /* its state is gone already */
        }
        if (r < 0)
                return r;
        /* Processes still running went with the VM (or the pod's container). */
        for (struct shim_proc *p = t->procs; p; p = p->next)
                proc_detach(s, p);
        if (t->rootfs_mounted)
                shim_unmount_rootfs(t->bundle);
        return 0;
}

/* What containerd sees as the pid of each of the task's processes: its VM's supervisor (0 for an exec not started). */
static uint32_t proc_pid(const struct shim_task *t, const struct shim_proc *p)
{
        if (*p->exec_id && p->status == COCOON__SHIM__TASK_STATUS__CREATED)
                return 0;
        return t->c.st.supervisor_pid > 0 ? (uint32_t) t->c.st.supervisor_pid : 0;
}

static void finish(struct shim *s, struct shim_task *t, struct shim_proc *p);

static void on_proc_event(Event *ev, void *userdata)
{
        struct shim_proc *p = userdata;
        int code;
        if (!sandbox_exit_of(ev, p->task->id, p->exec_id, &code))
                return;
        p->exit_seen = true;
        p->exit_status = code;
        if (ev->exited->reason && *ev->exited->reason)
                log_warn("%s: %s", p->task->id, ev->exited->reason);
}

/*
 * The process's connection is readable: its exit event, or the supervisor
 * went away without one (it was killed: the process died with its VM, 137).
 * Either way the connection has done its job.
 */
static void proc_ready(struct shim *s, void *obj)
{
        struct shim_proc *p = obj;
        bool gone = read_events(&p->conn, on_proc_event, p);
        if (!p->exit_seen && !gone)
                return;
        if (!p->exit_seen) {
                log_error("%s: the sandbox supervisor is gone, the process died with its VM", p->task->id);
                p->exit_status = 128 + SIGKILL;
        }
        proc_detach(s, p);
        if (p->status != COCOON__SHIM__TASK_STATUS__STOPPED)
                finish(s, p->task, p);
}

/*
 * Opens the process's fifos and hands them to the supervisor on a new
 * connection: attached to the init (at Create), or starting the exec. The
 * shim keeps no copy of them: the process's readers and writers are
 * containerd's and the supervisor's alone (EOF and EPIPE as with runc).
 */
static int proc_attach(struct shim *s, struct shim_task *t, struct shim_proc *p, cocoon_error **err)
{
        int fds[3];
        int r = shim_open_stdio(p->stdio, fds, err);
        if (r < 0)
                return r;
        int fd = supervisor_connect(t->c.sv_dir, err);
        if (fd >= 0) {
                conn_init(&p->conn, fd, false);
                const struct sandbox_attach_opts o = {.id = t->id, .exec_id = p->exec_id,
                                                      .exec_process_json = *p->exec_id ? p->spec_json : NULL};
                r = sandbox_attach(&p->conn, 1, &o, fds, on_proc_event, p, err);
        } else {
                r = fd;
        }
        for (int i = 0; i < 3; i++)
                close(fds[i]);
        if (r == 0 && (r = conn_watch(s, &p->conn, &p->watch, proc_ready, p)) < 0)
                r = error_sys(err, -r, "watching the connection of %s", t->id);
        if (r < 0 && fd >= 0)
                conn_unwatch(s, &p->conn);
        return r;
}

/* ---- methods ---- */


static int do_create(struct shim *s, const Cocoon__Shim__CreateTaskRequest *req, uint32_t *ret_pid, cocoon_error **err)
{
        if (task_find(s, req->id))
                return error_set(err, EEXIST, "task %s already exists", req->id);
        if (req->checkpoint && *req->checkpoint)
                return error_set(err, ENOTSUP, "restoring from a checkpoint is not supported by cocoon");
        struct shim_task *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->c.lock_fd = -1;
        t->events.fd = -1;
        t->id = strdup(req->id);
        t->bundle = strdup(req->bundle);
        t->procs = proc_new("", req->stdin, req->stdout, req->stderr, req->terminal);
        if (!t->id || !t->bundle || !t->procs) {
                task_unlink(s, t);
                return -ENOMEM;
        }
        int r = shim_mount_rootfs(t->bundle, req->rootfs, req->n_rootfs, err);
        t->rootfs_mounted = r == 0 && req->n_rootfs > 0;
        struct create_opts o = {.id = t->id, .bundle_dir = t->bundle, .detach = true, .stdio_by_caller = true};
        if (r == 0)
                r = container_create_sandbox(&s->rt, &o, &t->c, err);
        if (r < 0) {
                if (t->rootfs_mounted)
                        shim_unmount_rootfs(t->bundle);
                task_unlink(s, t);
                return r;
        }
        struct shim_proc *p = t->procs;
        p->task = t;
        r = proc_attach(s, t, p, err);
        t->c.st.pid = t->c.st.supervisor_pid; /* what containerd sees: CRI names a pod's namespaces /proc/PID/ns/TYPE */
        if (r == 0)
                r = state_save(&t->c, err);
        if (r == 0)
                r = container_run_hooks(&t->c, HOOKS_CREATE, err);
        container_unlock(&t->c);
        t->next = s->tasks;
        s->tasks = t;
        if (r < 0) {
                (void) task_destroy(s, t, NULL);
                task_unlink(s, t);
                return r;
        }
        events_open(s, t);
        *ret_pid = proc_pid(t, p);
        return 0;
}

static void method_create(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__CreateTaskRequest *req = cocoon__shim__create_task_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        uint32_t pid = 0;
        int r = do_create(s, req, &pid, &err);
        Cocoon__Shim__CreateTaskResponse resp = COCOON__SHIM__CREATE_TASK_RESPONSE__INIT;
        resp.pid = pid;
        reply(fd, stream, r, err, &resp.base);
        if (r == 0) {
                Cocoon__Shim__TaskIO io = COCOON__SHIM__TASK_IO__INIT;
                io.stdin = req->stdin;
                io.stdout = req->stdout;
                io.stderr = req->stderr;
                io.terminal = req->terminal;
                Cocoon__Shim__TaskCreate ev = COCOON__SHIM__TASK_CREATE__INIT;
                ev.container_id = req->id;
                ev.bundle = req->bundle;
                ev.n_rootfs = req->n_rootfs;
                ev.rootfs = req->rootfs;
                ev.io = &io;
                ev.pid = pid;
                shim_publish(s, "/tasks/create", "TaskCreate", &ev.base);
        }
        cocoon__shim__create_task_request__free_unpacked(req, NULL);
}

static int do_start(struct shim *s, struct shim_task *t, struct shim_proc *p, cocoon_error **err)
{
        if (p->status != COCOON__SHIM__TASK_STATUS__CREATED)
                return error_set(err, EBUSY, "process %s of %s was started already", *p->exec_id ? p->exec_id : "init",
                                 t->id);
        if (!*p->exec_id) {
                int r = container_started(&t->c, sandbox_start(t->c.sv_dir, t->id, err), err);
                if (r < 0)
                        return r;
        } else {
                int r = proc_attach(s, t, p, err);
                if (r < 0)
                        return r;
                if (p->terminal && p->rows && sandbox_resize(t->c.sv_dir, t->id, p->exec_id, p->rows, p->cols, NULL) < 0)
                        log_debug("%s: sizing the terminal of exec %s failed, ignoring", t->id, p->exec_id);
        }
        p->status = COCOON__SHIM__TASK_STATUS__RUNNING;
        return 0;
}

static void method_start(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__StartRequest *req = cocoon__shim__start_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        if (r == 0)
                r = do_start(s, t, p, &err);
        Cocoon__Shim__StartResponse resp = COCOON__SHIM__START_RESPONSE__INIT;
        if (r == 0)
                resp.pid = proc_pid(t, p);
        reply(fd, stream, r, err, &resp.base);
        if (r == 0 && !*p->exec_id) {
                Cocoon__Shim__TaskStart ev = COCOON__SHIM__TASK_START__INIT;
                ev.container_id = t->id;
                ev.pid = proc_pid(t, p);
                shim_publish(s, "/tasks/start", "TaskStart", &ev.base);
        } else if (r == 0) {
                Cocoon__Shim__TaskExecStarted ev = COCOON__SHIM__TASK_EXEC_STARTED__INIT;
                ev.container_id = t->id;
                ev.exec_id = p->exec_id;
                ev.pid = proc_pid(t, p);
                shim_publish(s, "/tasks/exec-started", "TaskExecStarted", &ev.base);
        }
        /* An exit that came with the answer is reported after the start. */
        if (r == 0 && p->conn.fd >= 0)
                proc_ready(s, p);
        cocoon__shim__start_request__free_unpacked(req, NULL);
}

static void method_state(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__StateRequest *req = cocoon__shim__state_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        Cocoon__Shim__StateResponse resp = COCOON__SHIM__STATE_RESPONSE__INIT;
        Cocoon__Shim__Timestamp at = COCOON__SHIM__TIMESTAMP__INIT;
        if (r == 0) {
                resp.id = p->exec_id && *p->exec_id ? p->exec_id : t->id;
                resp.bundle = t->bundle;
                resp.pid = proc_pid(t, p);
                resp.status = p->status;
                if (p->status == COCOON__SHIM__TASK_STATUS__RUNNING && !*p->exec_id) {
                        /* A pause or resume from elsewhere shows: the supervisor knows. */
                        _cleanup_free_ char *st = NULL;
                        if (container_status(&t->c, &st) == 0 && strcmp(st, "paused") == 0)
                                resp.status = COCOON__SHIM__TASK_STATUS__PAUSED;
                }
                resp.stdin = p->stdio[0];
                resp.stdout = p->stdio[1];
                resp.stderr = p->stdio[2];
                resp.terminal = p->terminal;
                resp.exit_status = p->exit_status;
                resp.exec_id = p->exec_id;
                if (p->status == COCOON__SHIM__TASK_STATUS__STOPPED) {
                        at = timestamp_of(&p->exited_at);
                        resp.exited_at = &at;
                }
        }
        reply(fd, stream, r, err, &resp.base);
        cocoon__shim__state_request__free_unpacked(req, NULL);
}

static void method_wait(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__WaitRequest *req = cocoon__shim__wait_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        cocoon__shim__wait_request__free_unpacked(req, NULL);
        if (r == 0 && p->status != COCOON__SHIM__TASK_STATUS__STOPPED) {
                struct shim_waiter *w = calloc(1, sizeof(*w));
                if (!w)
                        return reply(fd, stream, -ENOMEM, NULL, NULL);
                w->fd = fd;
                w->stream = stream;
                w->next = p->waiters;
                p->waiters = w;
                return; /* answered when it exits */
        }
        Cocoon__Shim__WaitResponse resp = COCOON__SHIM__WAIT_RESPONSE__INIT;
        Cocoon__Shim__Timestamp at = COCOON__SHIM__TIMESTAMP__INIT;
        if (r == 0) {
                resp.exit_status = p->exit_status;
                at = timestamp_of(&p->exited_at);
                resp.exited_at = &at;
        }
        reply(fd, stream, r, err, &resp.base);
}

static void method_kill(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__KillRequest *req = cocoon__shim__kill_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        if (r == 0 && req->signal == 0 && p->status != COCOON__SHIM__TASK_STATUS__STOPPED)
                ; /* signal 0 only asks whether it lives */
        else if (r == 0 && (p->status == COCOON__SHIM__TASK_STATUS__STOPPED ||
                            (p->status == COCOON__SHIM__TASK_STATUS__CREATED && *p->exec_id)))
                r = error_set(&err, ENOENT, "process already finished");
        else if (r == 0)
                r = sandbox_signal(t->c.sv_dir, t->id, p->exec_id, req->signal, req->all && !*p->exec_id, &err);
        reply(fd, stream, r, err, NULL);
        cocoon__shim__kill_request__free_unpacked(req, NULL);
}

static void method_exec(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__ExecProcessRequest *req = cocoon__shim__exec_process_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t = task_find(s, req->id);
        struct shim_proc *p = NULL;
        int r = 0;
        if (!t)
                r = error_set(&err, ENOENT, "task %s not found", req->id);
        else if (!*req->exec_id)
                r = error_set(&err, EINVAL, "an exec needs an id");
        else if (!req->spec || !req->spec->value.len)
                r = error_set(&err, EINVAL, "exec %s: no process spec", req->exec_id);
        for (p = t && r == 0 ? t->procs : NULL; p; p = p->next)
                if (strcmp(p->exec_id, req->exec_id) == 0) {
                        r = error_set(&err, EEXIST, "exec %s already exists in %s", req->exec_id, req->id);
                        break;
                }
        if (r == 0) {
                p = proc_new(req->exec_id, req->stdin, req->stdout, req->stderr, req->terminal);
                if (p) {
                        p->task = t;
                        p->spec_json = strndup((const char *) req->spec->value.data, req->spec->value.len);
                }
                if (!p || !p->spec_json) {
                        if (p)
                                proc_free(NULL, p);
                        r = -ENOMEM;
                } else {
                        /* After the init, which stays first. */
                        p->next = t->procs->next;
                        t->procs->next = p;
                }
        }
        reply(fd, stream, r, err, NULL);
        if (r == 0) {
                Cocoon__Shim__TaskExecAdded ev = COCOON__SHIM__TASK_EXEC_ADDED__INIT;
                ev.container_id = t->id;
                ev.exec_id = p->exec_id;
                shim_publish(s, "/tasks/exec-added", "TaskExecAdded", &ev.base);
        }
        cocoon__shim__exec_process_request__free_unpacked(req, NULL);
}

static void method_delete(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__DeleteRequest *req = cocoon__shim__delete_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        if (r == 0 && (p->status == COCOON__SHIM__TASK_STATUS__RUNNING ||
                       p->status == COCOON__SHIM__TASK_STATUS__PAUSED))
                r = error_set(&err, EBUSY, "cannot delete a running process");
        if (r == 0 && !*p->exec_id)
                r = task_destroy(s, t, &err);
        Cocoon__Shim__DeleteResponse resp = COCOON__SHIM__DELETE_RESPONSE__INIT;
        Cocoon__Shim__Timestamp at = COCOON__SHIM__TIMESTAMP__INIT;
        Cocoon__Shim__TaskDelete ev = COCOON__SHIM__TASK_DELETE__INIT;
        if (r == 0) {
                resp.pid = ev.pid = proc_pid(t, p);
                resp.exit_status = ev.exit_status = p->exit_status;
                at = timestamp_of(&p->exited_at);
                resp.exited_at = ev.exited_at = &at;
                ev.container_id = t->id;
                ev.id = *p->exec_id ? p->exec_id : t->id;
        }
        reply(fd, stream, r, err, &resp.base);
        if (r == 0) {
                shim_publish(s, "/tasks/delete", "TaskDelete", &ev.base);
                if (!*p->exec_id) {
                        task_unlink(s, t);
                } else {
                        for (struct shim_proc **pp = &t->procs; *pp; pp = &(*pp)->next)
                                if (*pp == p) {
                                        *pp = p->next;
                                        break;
                                }
                        proc_free(s, p);
                }
        }
        cocoon__shim__delete_request__free_unpacked(req, NULL);
}

static void method_pids(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__PidsRequest *req = cocoon__shim__pids_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t = task_find(s, req->id);
        _cleanup_free_ int32_t *pids = NULL;
        size_t n = 0;
        int r = t ? sandbox_list_processes(t->c.sv_dir, t->id, &pids, &n, &err)
                  : error_set(&err, ENOENT, "task %s not found", req->id);
        cocoon__shim__pids_request__free_unpacked(req, NULL);
        Cocoon__Shim__PidsResponse resp = COCOON__SHIM__PIDS_RESPONSE__INIT;
        _cleanup_free_ Cocoon__Shim__ProcessInfo *infos = calloc(n ? n : 1, sizeof(*infos));
        _cleanup_free_ Cocoon__Shim__ProcessInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
        if (r == 0 && (!infos || !ptrs))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                cocoon__shim__process_info__init(&infos[i]);
                infos[i].pid = pids[i];
                ptrs[i] = &infos[i];
        }
        if (r == 0) {
                resp.n_processes = n;
                resp.processes = ptrs;
        }
        reply(fd, stream, r, err, &resp.base);
}

static void set_paused(struct shim *s, int fd, uint32_t stream, const char *id, bool paused)
{
        _cleanup_error_ cocoon_error *err = NULL;
        struct shim_task *t = task_find(s, id);
        int r = t ? sandbox_pause(t->c.sv_dir, t->id, paused, &err) : error_set(&err, ENOENT, "task %s not found", id);
        reply(fd, stream, r, err, NULL);
        if (r == 0 && paused) {
                Cocoon__Shim__TaskPaused ev = COCOON__SHIM__TASK_PAUSED__INIT;
                ev.container_id = t->id;
                shim_publish(s, "/tasks/paused", "TaskPaused", &ev.base);
        } else if (r == 0) {
                Cocoon__Shim__TaskResumed ev = COCOON__SHIM__TASK_RESUMED__INIT;
                ev.container_id = t->id;
                shim_publish(s, "/tasks/resumed", "TaskResumed", &ev.base);
        }
}

static void method_pause(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        Cocoon__Shim__PauseRequest *req = cocoon__shim__pause_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        set_paused(s, fd, stream, req->id, true);
        cocoon__shim__pause_request__free_unpacked(req, NULL);
}

static void method_resume(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        Cocoon__Shim__ResumeRequest *req = cocoon__shim__resume_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        set_paused(s, fd, stream, req->id, false);
        cocoon__shim__resume_request__free_unpacked(req, NULL);
}

static void method_connect(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        Cocoon__Shim__ConnectRequest *req = cocoon__shim__connect_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t = task_find(s, req->id);
        Cocoon__Shim__ConnectResponse resp = COCOON__SHIM__CONNECT_RESPONSE__INIT;
        resp.shim_pid = getpid();
        resp.task_pid = t ? proc_pid(t, t->procs) : 0;
        resp.version = (char *) "3";
        reply(fd, stream, 0, NULL, &resp.base);
        cocoon__shim__connect_request__free_unpacked(req, NULL);
}

static void method_shutdown(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        /* A pod's shim stays while any of its tasks does. */
        if (!s->tasks)
                s->exiting = true;
        reply(fd, stream, 0, NULL, NULL);
}

static void method_checkpoint(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        reply(fd, stream, error_set(&err, ENOTSUP, "checkpoint is not supported by cocoon: a VM's container "
                                                    "cannot be checkpointed with CRIU"), err, NULL);
}

static void method_resize_pty(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__ResizePtyRequest *req = cocoon__shim__resize_pty_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        if (r == 0 && !p->terminal)
                r = error_set(&err, EINVAL, "process %s of %s has no terminal", *p->exec_id ? p->exec_id : "init",
                              t->id);
        if (r == 0) {
                p->rows = req->height;
                p->cols = req->width;
        }
        /* An exec not started yet has no pty: its size goes with its start. */
        if (r == 0 && (!*p->exec_id || p->status == COCOON__SHIM__TASK_STATUS__RUNNING))
                r = sandbox_resize(t->c.sv_dir, t->id, p->exec_id, p->rows, p->cols, &err);
        reply(fd, stream, r, err, NULL);
        cocoon__shim__resize_pty_request__free_unpacked(req, NULL);
}

/*
 * containerd closed (or is about to close) its end of the stdin fifo: the
 * process's stdin ends once what the fifo holds went in, even if another
 * writer still has the fifo open.
 */
static void method_close_io(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__CloseIORequest *req = cocoon__shim__close_iorequest__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t;
        struct shim_proc *p;
        int r = proc_find(s, req->id, req->exec_id, &t, &p, &err);
        /* Only an attached process has a stdin to end: nothing before its start, nothing after its exit. */
        if (r == 0 && req->stdin && p->conn.fd >= 0)
                r = sandbox_close_stdin(t->c.sv_dir, t->id, p->exec_id, &err);
        reply(fd, stream, r, err, NULL);
        cocoon__shim__close_iorequest__free_unpacked(req, NULL);
}

/* linux.resources as containerd sends it: runtime-spec JSON in an Any. */
static void method_update(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__UpdateTaskRequest *req = cocoon__shim__update_task_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t = task_find(s, req->id);
        _cleanup_free_ char *json = NULL;
        int r = 0;
        if (!t)
                r = error_set(&err, ENOENT, "task %s not found", req->id);
        else if (!req->resources || !req->resources->value.len)
                r = error_set(&err, EINVAL, "update of %s: no resources", req->id);
        else if (!(json = strndup((const char *) req->resources->value.data, req->resources->value.len)))
                r = -ENOMEM;
        if (r == 0)
                r = sandbox_update(t->c.sv_dir, t->id, json, &err);
        reply(fd, stream, r, err, NULL);
        cocoon__shim__update_task_request__free_unpacked(req, NULL);
}

/* memory.stat's keys in the cgroups v2 metrics message. */
static void put_memory_stat(Cocoon__Shim__CgroupMemoryStat *m, const char *name, uint64_t v)
{
        static const struct {
                const char *name;
                size_t off;
        } keys[] = {
#define K(f) {#f, offsetof(Cocoon__Shim__CgroupMemoryStat, f)}
                K(anon), K(file), K(kernel_stack), K(slab), K(sock), K(shmem), K(file_mapped), K(file_dirty),
                K(file_writeback), K(anon_thp), K(inactive_anon), K(active_anon), K(inactive_file),
                K(active_file), K(unevictable), K(slab_reclaimable), K(slab_unreclaimable), K(pgfault),
                K(pgmajfault), K(workingset_refault), K(workingset_activate), K(workingset_nodereclaim),
                K(pgrefill), K(pgscan), K(pgsteal), K(pgactivate), K(pgdeactivate), K(pglazyfree),
                K(pglazyfreed), K(thp_fault_alloc), K(thp_collapse_alloc),
#undef K
        };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if (strcmp(keys[i].name, name) == 0) {
                        *(uint64_t *) ((char *) m + keys[i].off) = v;
                        return;
                }
}

/* The guest's cgroup v2 numbers for the container, as containerd's cgroups v2 Metrics. */
static void method_stats(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        Cocoon__Shim__StatsRequest *req = cocoon__shim__stats_request__unpack(NULL, len, payload);
        if (!req)
                return reply(fd, stream, -EINVAL, NULL, NULL);
        struct shim_task *t = task_find(s, req->id);
        _cleanup_response_ Response *resp = NULL;
        int r = t ? sandbox_stats(t->c.sv_dir, t->id, &resp, &err)
                  : error_set(&err, ENOENT, "task %s not found", req->id);
        cocoon__shim__stats_request__free_unpacked(req, NULL);
        if (r < 0)
                return reply(fd, stream, r, err, NULL);
        const Cocoon__StatsContainerResponse *st = resp->stats_container;
        Cocoon__Shim__CgroupPidsStat pids = COCOON__SHIM__CGROUP_PIDS_STAT__INIT;
        pids.current = st->pids_current;
        pids.limit = st->pids_limit;
        Cocoon__Shim__CgroupCpuStat cpu = COCOON__SHIM__CGROUP_CPU_STAT__INIT;
        cpu.usage_usec = st->cpu_usage_ns / 1000;
        cpu.user_usec = st->cpu_user_ns / 1000;
        cpu.system_usec = st->cpu_system_ns / 1000;
        cpu.nr_periods = st->cpu_periods;
        cpu.nr_throttled = st->cpu_throttled_periods;
        cpu.throttled_usec = st->cpu_throttled_ns / 1000;
        Cocoon__Shim__CgroupMemoryStat mem = COCOON__SHIM__CGROUP_MEMORY_STAT__INIT;
        for (size_t i = 0; i < st->n_memory_stat; i++)
                put_memory_stat(&mem, st->memory_stat[i]->name, st->memory_stat[i]->value);
        mem.usage = st->memory_usage;
        mem.usage_limit = st->memory_limit;
        mem.max_usage = st->memory_max_usage;
        mem.swap_usage = st->memory_swap_usage;
        mem.swap_limit = st->memory_swap_limit;
        Cocoon__Shim__CgroupMemoryEvents events = COCOON__SHIM__CGROUP_MEMORY_EVENTS__INIT;
        events.oom_kill = st->memory_oom_kills;
        Cocoon__Shim__CgroupMetrics m = COCOON__SHIM__CGROUP_METRICS__INIT;
        m.pids = &pids;
        m.cpu = &cpu;
        m.memory = &mem;
        m.memory_events = &events;
        size_t mlen = cocoon__shim__cgroup_metrics__get_packed_size(&m);
        _cleanup_free_ uint8_t *buf = malloc(mlen ? mlen : 1);
        if (!buf)
                return reply(fd, stream, -ENOMEM, NULL, NULL);
        cocoon__shim__cgroup_metrics__pack(&m, buf);
        Cocoon__Shim__Any any = COCOON__SHIM__ANY__INIT;
        any.type_url = (char *) "io.containerd.cgroups.v2.Metrics";
        any.value.data = buf;
        any.value.len = mlen;
        Cocoon__Shim__StatsResponse out = COCOON__SHIM__STATS_RESPONSE__INIT;
        out.stats = &any;
        reply(fd, stream, 0, NULL, &out.base);
}

static const struct {
        const char *name;
        void (*fn)(struct shim *s, int fd, uint32_t stream, const uint8_t *payload, size_t len);
} methods[] = {
        {"Create", method_create},   {"Start", method_start},       {"State", method_state},
        {"Wait", method_wait},       {"Kill", method_kill},         {"Exec", method_exec},
        {"Delete", method_delete},   {"Pids", method_pids},         {"Pause", method_pause},
        {"Resume", method_resume},   {"Connect", method_connect},   {"Shutdown", method_shutdown},
        {"Checkpoint", method_checkpoint}, {"ResizePty", method_resize_pty},
        {"CloseIO", method_close_io}, {"Update", method_update}, {"Stats", method_stats},
};

void shim_dispatch(struct shim *s, int fd, uint32_t stream, const char *method, const uint8_t *payload, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
                if (strcmp(methods[i].name, method) == 0) {
                        log_debug("%s", method);
                        methods[i].fn(s, fd, stream, payload, len);
                        return;
                }
        _cleanup_error_ cocoon_error *err = NULL;
        reply(fd, stream, error_set(&err, ENOSYS, "unknown method %s", method), err, NULL);
}

/* ---- exits ---- */

static void finish(struct shim *s, struct shim_task *t, struct shim_proc *p)
{
        p->status = COCOON__SHIM__TASK_STATUS__STOPPED;
        clock_gettime(CLOCK_REALTIME, &p->exited_at);
        Cocoon__Shim__Timestamp at = timestamp_of(&p->exited_at);
        Cocoon__Shim__TaskExit ev = COCOON__SHIM__TASK_EXIT__INIT;
        ev.container_id = t->id;
        ev.id = *p->exec_id ? p->exec_id : t->id;
        ev.pid = proc_pid(t, p);
        ev.exit_status = p->exit_status;
        ev.exited_at = &at;
        shim_publish(s, "/tasks/exit", "TaskExit", &ev.base);
        Cocoon__Shim__WaitResponse resp = COCOON__SHIM__WAIT_RESPONSE__INIT;
        resp.exit_status = p->exit_status;
        resp.exited_at = &at;
        while (p->waiters) {
                struct shim_waiter *w = p->waiters;
                p->waiters = w->next;
                reply(w->fd, w->stream, 0, NULL, &resp.base);
                free(w);
        }
}

void shim_forget_fd(struct shim *s, int fd)
{
        for (struct shim_task *t = s->tasks; t; t = t->next)
                for (struct shim_proc *p = t->procs; p; p = p->next)
                        for (struct shim_waiter **w = &p->waiters; *w;) {
                                if ((*w)->fd == fd) {
                                        struct shim_waiter *gone = *w;
                                        *w = gone->next;
                                        free(gone);
                                } else {
                                        w = &(*w)->next;
                                }
                        }
}

void shim_cleanup(struct shim *s)
{
        /* A pod's containers before its sandbox: the sandbox's task was created first, so it is last. */
        while (s->tasks) {
                struct shim_task *t = s->tasks;
                _cleanup_error_ cocoon_error *err = NULL;
                if (task_destroy(s, t, &err) < 0)
                        log_error("%s: %s", t->id, err ? err->msg : "cleaning up failed");
                task_unlink(s, t);
        }
}
