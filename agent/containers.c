/* The agent's container table: create, start, signal, reap, report exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "fsutil.h"

static struct guest_container *find(struct agent *a, const char *id)
{
        for (struct guest_container *c = a->containers; c; c = c->next)
                if (strcmp(c->id, id) == 0)
                        return c;
        return NULL;
}

static struct guest_process *process_of(struct pump *p)
{
        return (struct guest_process *) ((char *) (p - p->fdno) - offsetof(struct guest_process, pumps));
}

static int on_pump(struct watch *w, uint32_t events)
{
        struct pump *p = w->data;
        struct agent *a = process_of(p)->agent;
        int r = 0;
        if (!a->conn_up)
                return 0;
        if (p->outbound)
                r = pump_read(p, &a->conn);
        else
                r = pump_write(p, &a->conn);
        if (r < 0)
                fprintf(stderr, "cocoon-agent: stdio: %s\n", strerror(-r));
        containers_report_exits(a);
        transport_kick(a);
        return 0;
}

static void close_pair(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

/* Pipes for a process without a terminal; child[] gets the process's ends. */
static int stdio_pipes(struct guest_process *p, int child[3], cocoon_error **err)
{
        int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
        for (int i = 0; i < 3; i++)
                if (pipe2(pipes[i], O_CLOEXEC) < 0) {
                        int e = errno;
                        for (int j = 0; j < i; j++)
                                close_pair(pipes[j]);
                        return error_sys(err, e, "creating stdio pipes");
                }
        child[0] = pipes[0][0];
        child[1] = pipes[1][1];
        child[2] = pipes[2][1];
        int mine[3] = {pipes[0][1], pipes[1][0], pipes[2][0]};
        for (int i = 0; i < 3; i++) {
                (void) fcntl(mine[i], F_SETFL, O_NONBLOCK);
                pump_init(&p->pumps[i], mine[i], p->stream, i, i != PROC_STDIN);
        }
        return 0;
}

/* A terminal's master carries stdin and stdout; there is no separate stderr. */
static int stdio_console(struct agent *a, struct guest_process *p, int master, cocoon_error **err)
{
        int in = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (in < 0)
                return error_sys(err, errno, "dup");
        (void) fcntl(master, F_SETFL, O_NONBLOCK);
        pump_init(&p->pumps[PROC_STDIN], in, p->stream, PROC_STDIN, false);
        pump_init(&p->pumps[PROC_STDOUT], master, p->stream, PROC_STDOUT, true);
        pump_init(&p->pumps[PROC_STDERR], -1, p->stream, PROC_STDERR, true);
        p->pumps[PROC_STDERR].eof = true;
        return 0;
}

static int watch_stdio(struct agent *a, struct guest_process *p, cocoon_error **err)
{
        for (int i = 0; i < 3; i++)
                if (p->pumps[i].fd >= 0) {
                        int r = pump_watch(&p->pumps[i], a->loop, on_pump);
                        if (r < 0)
                                return error_sys(err, -r, "watching stdio");
                }
        return 0;
}

static void process_release(struct guest_process *p)
{
        if (p->start_watch) {
                /* Removed before it got past its exec: the host's request still wants an answer. */
                loop_remove(p->start_watch);
                p->start_watch = NULL;
                _cleanup_error_ cocoon_error *err = NULL;
                int r = error_set(&err, ECANCELED, "the container was removed before the exec started");
                (void) msg_queue_result(&p->agent->conn, p->start_request, r, err);
        }
        for (int i = 0; i < 3; i++)
                pump_close(&p->pumps[i]);
        container_init_release(&p->init);
        free(p->exec_id);
}

static void exec_free(struct guest_exec *e)
{
        process_release(&e->proc);
        spec_process_free(&e->spec);
        free(e);
}

static void container_free(struct guest_container *c)
{
        if (!c)
                return;
        for (struct guest_exec *e = c->execs, *next; e; e = next) {
                next = e->next;
                exec_free(e);
        }
        free(c->cgroup);
        process_release(&c->init);
        spec_free(c->spec);
        free(c->id);
        free(c);
}

static int process_init(struct agent *a, struct guest_process *p, const char *exec_id, uint32_t stream)
{
        *p = (struct guest_process) {.agent = a, .stream = stream,
                                     .init = {.start_fd = -1, .status_fd = -1, .console_fd = -1}};
        for (int i = 0; i < 3; i++)
                p->pumps[i].fd = -1;
        p->exec_id = strdup(exec_id);
        return p->exec_id ? 0 : -ENOMEM;
}

/*
 * Sets up a process's stdio around `make`, which creates the process (a
 * container's init or an exec): pipes before it, the pty master after it,
 * and the pumps.
 */
static int process_spawn(struct agent *a, struct guest_process *p, bool terminal,
                         int (*make)(void *ctx, const struct container_stdio *stdio, struct container_init *ret,
                                     cocoon_error **err),
                         void *ctx, cocoon_error **err)
{
        int child[3] = {-1, -1, -1};
        int r = terminal ? 0 : stdio_pipes(p, child, err);
        if (r >= 0) {
                struct container_stdio stdio = {child[0], child[1], child[2]};
                r = make(ctx, &stdio, &p->init, err);
        }
        for (int i = 0; i < 3; i++)
                if (child[i] >= 0)
                        close(child[i]);
        if (r >= 0 && terminal) {
                r = stdio_console(a, p, p->init.console_fd, err);
                p->init.console_fd = -1; /* the pumps own it now */
        }
        if (r >= 0)
                r = watch_stdio(a, p, err);
        if (r < 0 && p->init.pid > 0) {
                (void) kill(p->init.pid, SIGKILL);
                (void) waitpid(p->init.pid, NULL, 0);
                p->init.pid = 0;
        }
        if (r >= 0)
                p->pid = p->init.pid;
        return r;
}

struct create_ctx {
        struct guest_container *c;
        const char *rootfs;
        int cgroup_fd;
};

static int make_init(void *ctx, const struct container_stdio *stdio, struct container_init *ret, cocoon_error **err)
{
        struct create_ctx *cc = ctx;
        return container_create(cc->c->spec, cc->rootfs, stdio, cc->cgroup_fd, ret, err);
}

/* Bind mounts whose host source the host placed in the share: the source becomes that place. */
static int take_shared_mounts(struct guest_container *c, const Cocoon__CreateContainerRequest *req,
                              cocoon_error **err)
{
        for (size_t i = 0; i < req->n_shared_mounts; i++) {
                uint32_t idx = req->shared_mounts[i];
                if (idx >= c->spec->n_mounts)
                        return error_set(err, EINVAL, "shared mount %u: the spec has %zu mounts", idx,
                                         c->spec->n_mounts);
                char *source = NULL;
                if (asprintf(&source, GUEST_SHARED_DIR "/%s/mounts/%u", c->id, idx) < 0)
                        return -ENOMEM;
                free(c->spec->mounts[idx].source);
                c->spec->mounts[idx].source = source;
        }
        return 0;
}

/*
 * Namespaces the spec names by a host path: the host says where each comes
 * from here. A container's namespace is its init's, so another container's
 * must still run.
 */
static int take_namespace_sources(struct agent *a, struct guest_container *c,
                                  const Cocoon__CreateContainerRequest *req, cocoon_error **err)
{
        for (size_t i = 0; i < req->n_namespace_sources; i++) {
                const Cocoon__NamespaceSource *src = req->namespace_sources[i];
                if (src->index >= c->spec->n_namespaces || !c->spec->namespaces[src->index].path)
                        return error_set(err, EINVAL, "namespace source %u: not a namespace with a path", src->index);
                struct spec_namespace *ns = &c->spec->namespaces[src->index];
                const char *file = namespace_proc_name(ns->type);
                char *path = NULL;
                pid_t pid = 1; /* GUEST: ours */
                if (src->kind == COCOON__NAMESPACE_SOURCE__KIND__CONTAINER) {
                        struct guest_container *other = find(a, src->container_id);
                        if (!other || other->init.exited || other->init.pid <= 0)
                                return error_set(err, ESRCH,
                                                 "linux.namespaces[%u] (%s): container %s, whose namespace it joins, "
                                                 "is not running",
                                                 src->index, ns->type, src->container_id);
                        pid = other->init.pid;
                }
                if (src->kind != COCOON__NAMESPACE_SOURCE__KIND__FRESH &&
                    (!file || asprintf(&path, "/proc/%d/ns/%s", (int) pid, file) < 0))
                        return -ENOMEM;
                free(ns->path);
                ns->path = path;
        }
        return 0;
}

int containers_create(struct agent *a, const Cocoon__CreateContainerRequest *req, cocoon_error **err)
{
        if (!msg_id_valid(req->container_id))
                return error_set(err, EINVAL, "invalid container id");
        if (find(a, req->container_id))
                return error_set(err, EEXIST, "container with id exists: %s", req->container_id);
        if (strncmp(req->rootfs, GUEST_SHARED_DIR "/", strlen(GUEST_SHARED_DIR) + 1) != 0 || strstr(req->rootfs, ".."))
                return error_set(err, EINVAL, "rootfs %s is not inside the sandbox share", req->rootfs);
        if (req->stream == 0 || containers_find_stream(a, req->stream))
                return error_set(err, EINVAL, "stream %u is invalid or in use", req->stream);

        struct guest_container *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->oom_watch_fd = -1;
        c->id = strdup(req->container_id);
        if (!c->id || process_init(a, &c->init, "", req->stream) < 0) {
                container_free(c);
                return -ENOMEM;
        }

        int r = spec_parse(req->config_json, strlen(req->config_json), &c->spec, err);
        if (r < 0) {
                container_free(c);
                return error_wrap(err, r, "config.json");
        }

        c->spec->no_pivot = req->no_pivot;
        c->spec->id = strdup(c->id);
        c->spec->bundle = strdup(req->bundle);
        if (!c->spec->id || !c->spec->bundle) {
                container_free(c);
                return -ENOMEM;
        }
        r = take_shared_mounts(c, req, err);
        if (r >= 0)
                r = take_namespace_sources(a, c, req, err);
        if (r < 0) {
                container_free(c);
                return r;
        }

        struct create_ctx cc = {.c = c, .rootfs = req->rootfs, .cgroup_fd = -1};
        r = cgroups_setup(a, c, &cc.cgroup_fd, err);
        if (r >= 0)
                r = process_spawn(a, &c->init, c->spec->process.terminal, make_init, &cc, err);
        if (cc.cgroup_fd >= 0)
                close(cc.cgroup_fd);
        if (r < 0) {
                cgroups_remove(a, c);
                container_free(c);
                return r;
        }
        c->status = CONTAINER_CREATED;
        c->next = a->containers;
        a->containers = c;
        return 0;
}

/* A terminal has no stderr: that stream ends once the host follows the process. */
static int end_terminal_stderr(struct agent *a, struct guest_process *p, bool terminal, cocoon_error **err)
{
        int r = terminal ? conn_queue(&a->conn, FRAME_EOF, p->stream, PROC_STDERR, NULL, 0) : 0;
        return r < 0 ? error_sys(err, -r, "queueing stderr's end") : 0;
}

/* Releases a set-up process to exec. */
static int process_start(struct agent *a, struct guest_process *p, bool terminal, cocoon_error **err)
{
        int r = end_terminal_stderr(a, p, terminal, err);
        if (r < 0)
                return r;
        p->started = true;
        return container_start(&p->init, err);
}

/* Runs body with p set to every process (init, then execs) of every container c. */
#define FOR_EACH_PROCESS(a, c, p, body)                                                             \
        for (struct guest_container *c = (a)->containers; c; c = c->next) {                       \
                struct guest_process *p = &c->init;                                                 \
                for (struct guest_exec *e_ = c->execs;; e_ = e_->next) {                            \
                        body;                                                                       \
                        if (!e_)                                                                    \
                                break;                                                              \
                        p = &e_->proc;                                                              \
                }                                                                                   \
        }

static struct guest_container *find_running(struct agent *a, const char *id, cocoon_error **err)
{
        struct guest_container *c = find(a, id);
        if (!c) {
                (void) error_set(err, ENOENT, "container %s does not exist", id);
                return NULL;
        }
        if (c->init.exited || c->status == CONTAINER_STOPPED) {
                (void) error_set(err, ESRCH, "container not running");
                return NULL;
        }
        return c;
}

static struct guest_process *find_process(struct guest_container *c, const char *exec_id)
{
        if (!exec_id || !*exec_id)
                return &c->init;
        for (struct guest_exec *e = c->execs; e; e = e->next)
                if (strcmp(e->proc.exec_id, exec_id) == 0)
                        return &e->proc;
        return NULL;
}

int containers_start(struct agent *a, const char *id, cocoon_error **err)
{
        struct guest_container *c = find(a, id ? id : "");
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", id);
        if (c->status != CONTAINER_CREATED)
                return error_set(err, EINVAL, "cannot start a container that is not in the created state");
        c->status = CONTAINER_RUNNING;
        return process_start(a, &c->init, c->spec->process.terminal, err);
}

/* The status pipe of an exec released earlier: it has exec'd (EOF) or failed. */
static int on_exec_started(struct watch *w, uint32_t events)
{
        (void) events;
        struct guest_process *p = w->data;
        struct agent *a = p->agent;
        loop_remove(p->start_watch);
        p->start_watch = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = container_exec_outcome(&p->init, &err);
        if (r < 0)
                fprintf(stderr, "cocoon-agent: exec %s: %s\n", p->exec_id, err ? err->msg : strerror(-r));
        (void) msg_queue_result(&a->conn, p->start_request, r, err);
        containers_report_exits(a);
        transport_kick(a);
        return 0;
}

/*
 * Releases a set-up exec without waiting for its execve: the answer to
 * request id goes out from on_exec_started().
 */
static int exec_release(struct agent *a, struct guest_process *p, bool terminal, uint64_t id, cocoon_error **err)
{
        int r = end_terminal_stderr(a, p, terminal, err);
        if (r < 0)
                return r;
        r = loop_add(a->loop, p->init.status_fd, EPOLLIN, on_exec_started, p, &p->start_watch);
        if (r < 0)
                return error_sys(err, -r, "watching the exec's start");
        p->start_request = id;
        p->started = true;
        r = container_release(&p->init, err);
        if (r < 0) {
                loop_remove(p->start_watch);
                p->start_watch = NULL;
        }
        return r;
}

struct exec_ctx {
        struct guest_container *c;
        struct guest_exec *e;
        int cgroup_fd;
        bool paused;
};

static int make_exec(void *ctx, const struct container_stdio *stdio, struct container_init *ret, cocoon_error **err)
{
        struct exec_ctx *x = ctx;
        int r = container_exec(x->c->spec, x->c->init.pid, &x->e->spec, stdio, x->cgroup_fd, ret, err);
        /* Set up outside the frozen cgroup; in it, the process freezes until the container is resumed. */
        if (r == 0 && x->paused)
                r = cgroups_enter(x->c, ret->pid, err);
        return r;
}

int containers_exec(struct agent *a, const Request *request, cocoon_error **err)
{
        const Cocoon__ExecProcessRequest *req = request->exec_process;
        struct guest_container *c = find_running(a, req->container_id, err);
        if (!c)
                return -ESRCH;
        bool paused = c->status == CONTAINER_PAUSED;
        if (paused && !req->ignore_paused)
                return error_set(err, EINVAL, "cannot exec in a paused container (use --ignore-paused to override)");
        /* A created container's init waits after its set-up: its namespaces can be joined, as runc allows. */
        if (c->status != CONTAINER_RUNNING && c->status != CONTAINER_CREATED && !paused)
                return error_set(err, EINVAL, "cannot exec in a container that is not running");
        if (!msg_id_valid(req->exec_id) || find_process(c, req->exec_id))
                return error_set(err, EEXIST, "exec id %s is invalid or in use", req->exec_id);
        if (req->stream == 0 || containers_find_stream(a, req->stream))
                return error_set(err, EINVAL, "stream %u is invalid or in use", req->stream);

        struct guest_exec *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        int r = process_init(a, &e->proc, req->exec_id, req->stream);
        if (r == 0) {
                r = spec_parse_process(req->process_json, strlen(req->process_json), &e->spec, err);
                if (r < 0)
                        (void) error_wrap(err, r, "the exec process");
        }
        /*
         * Into a frozen cgroup the process would freeze before it reports
         * ready: it is set up outside (in ours) and moved in once waiting.
         */
        struct exec_ctx x = {.c = c, .e = e, .cgroup_fd = -1, .paused = paused};
        if (r == 0 && !paused)
                r = cgroups_open(c, &x.cgroup_fd, err);
        if (r == 0)
                r = process_spawn(a, &e->proc, e->spec.terminal, make_exec, &x, err);
        if (x.cgroup_fd >= 0)
                close(x.cgroup_fd);
        if (r == 0)
                r = exec_release(a, &e->proc, e->spec.terminal, request->id, err);
        if (r < 0 && !e->proc.started) {
                exec_free(e);
                return r;
        }
        /* Released, even if that failed: its exit is reported like any other. */
        e->next = c->execs;
        c->execs = e;
        return r < 0 ? r : 1;
}

int containers_signal(struct agent *a, const Cocoon__SignalProcessRequest *req, cocoon_error **err)
{
        if (req->signal == 0 || req->signal >= NSIG)
                return error_set(err, EINVAL, "invalid signal %u", req->signal);
        /*
         * --all reaches whatever is left in the container's cgroup after its
         * init exited (its children, in a pid namespace shared with a pod).
         */
        struct guest_container *c = req->all ? find(a, req->container_id) : find_running(a, req->container_id, err);
        if (!c)
                return req->all ? error_set(err, ENOENT, "container %s does not exist", req->container_id) : -ESRCH;
        if (req->all)
                return cgroups_signal_all(c, req->signal, err);
        struct guest_process *p = find_process(c, req->exec_id);
        if (!p)
                return error_set(err, ENOENT, "exec %s does not exist", req->exec_id);
        if (p->exited)
                return error_set(err, ESRCH, "process already finished");
        if (kill(p->pid, req->signal) < 0)
                return error_sys(err, errno, "signalling the container");
        return 0;
}

int containers_pause(struct agent *a, const Cocoon__PauseContainerRequest *req, cocoon_error **err)
{
        struct guest_container *c = find_running(a, req->container_id, err);
        if (!c)
                return -ESRCH;
        if (req->paused && c->status != CONTAINER_RUNNING)
                return error_set(err, EINVAL, "container not running");
        if (!req->paused && c->status != CONTAINER_PAUSED)
                return error_set(err, EINVAL, "container not paused");
        int r = cgroups_freeze(c, req->paused, err);
        if (r < 0)
                return r;
        c->status = req->paused ? CONTAINER_PAUSED : CONTAINER_RUNNING;
        return 0;
}

int containers_list_processes(struct agent *a, const Request *req, cocoon_error **err)
{
        struct guest_container *c = find(a, req->list_processes->container_id);
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", req->list_processes->container_id);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = c->status == CONTAINER_STOPPED ? 0 : cgroups_pids(c, &pids, &n, err);
        if (r < 0)
                return r;
        _cleanup_free_ int32_t *list = calloc(n ? n : 1, sizeof(int32_t));
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                list[i] = pids[i];
        Cocoon__ListProcessesResponse lp = COCOON__LIST_PROCESSES_RESPONSE__INIT;
        lp.n_pids = n;
        lp.pids = list;
        Response resp = COCOON__RESPONSE__INIT;
        resp.id = req->id;
        resp.body_case = COCOON__RESPONSE__BODY_LIST_PROCESSES;
        resp.list_processes = &lp;
        return conn_queue_msg(&a->conn, FRAME_RESPONSE, &resp.base) < 0 ? -ENOMEM : 1;
}

int containers_stats(struct agent *a, const Request *req, cocoon_error **err)
{
        struct guest_container *c = find_running(a, req->stats_container->container_id, err);
        if (!c)
                return -ESRCH;
        Cocoon__StatsContainerResponse st = COCOON__STATS_CONTAINER_RESPONSE__INIT;
        int r = cgroups_stats(c, &st, err);
        if (r < 0)
                return r;
        Response resp = COCOON__RESPONSE__INIT;
        resp.id = req->id;
        resp.body_case = COCOON__RESPONSE__BODY_STATS_CONTAINER;
        resp.stats_container = &st;
        r = conn_queue_msg(&a->conn, FRAME_RESPONSE, &resp.base);
        cgroups_stats_free(&st);
        return r < 0 ? -ENOMEM : 1;
}

int containers_update(struct agent *a, const Cocoon__UpdateContainerRequest *req, cocoon_error **err)
{
        struct guest_container *c = find_running(a, req->container_id, err);
        if (!c)
                return -ESRCH;
        return cgroups_update(c, req->resources_json, err);
}

int containers_resize(struct agent *a, const Cocoon__ResizeRequest *req, cocoon_error **err)
{
        struct guest_container *c = find(a, req->container_id);
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", req->container_id);
        struct guest_process *p = find_process(c, req->exec_id);
        if (!p)
                return error_set(err, ENOENT, "exec %s does not exist", req->exec_id);
        if (p->pumps[PROC_STDERR].fd >= 0 || p->pumps[PROC_STDOUT].fd < 0)
                return error_set(err, ENOTTY, "the process has no terminal");
        if (req->rows > 0xffff || req->cols > 0xffff)
                return error_set(err, EINVAL, "invalid terminal size %ux%u", req->rows, req->cols);
        struct winsize ws = {.ws_row = req->rows, .ws_col = req->cols};
        if (ioctl(p->pumps[PROC_STDOUT].fd, TIOCSWINSZ, &ws) < 0)
                return error_sys(err, errno, "resizing the terminal");
        return 0;
}

int containers_remove(struct agent *a, const char *id, cocoon_error **err)
{
        for (struct guest_container **pc = &a->containers; *pc; pc = &(*pc)->next) {
                struct guest_container *c = *pc;
                if (strcmp(c->id, id) != 0)
                        continue;
                if (!c->init.exited && c->init.started)
                        return error_set(err, EBUSY, "container %s is running", id);
                if (!c->init.exited) {
                        /* Created but never started: the child waits on its start pipe. */
                        (void) kill(c->init.pid, SIGKILL);
                }
                cgroups_remove(a, c);
                *pc = c->next;
                container_free(c);
                return 0;
        }
        return error_set(err, ENOENT, "container %s does not exist", id);
}

struct guest_process *containers_find_stream(struct agent *a, uint32_t stream)
{
        FOR_EACH_PROCESS(a, c, p, {
                if (p->stream == stream)
                        return p;
        });
        return NULL;
}

/*
 * Everything the process wrote is in its pipes (or pty) by the time it is
 * reaped: its exit is reported once that much is sent, not when the streams
 * end, which a child that inherited them (a pid namespace shared with a
 * pod, a daemon an exec left behind) can put off for ever.
 */
static void mark_output(struct guest_process *p)
{
        for (int i = PROC_STDOUT; i <= PROC_STDERR; i++) {
                int pending = 0;
                if (p->pumps[i].fd >= 0 && !p->pumps[i].eof && ioctl(p->pumps[i].fd, FIONREAD, &pending) < 0)
                        pending = 0;
                p->exit_mark[i] = pump_mark(&p->pumps[i], pending > 0 ? (uint64_t) pending : 0);
        }
}

void containers_reap(struct agent *a)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        break;
                FOR_EACH_PROCESS(a, c, p, {
                        if (p->pid == pid && !p->exited) {
                                p->exited = true;
                                if (p == &c->init)
                                        c->status = CONTAINER_STOPPED;
                                if (WIFSIGNALED(status)) {
                                        p->signal = WTERMSIG(status);
                                        p->exit_code = 128 + p->signal;
                                } else {
                                        p->exit_code = WEXITSTATUS(status);
                                }
                                mark_output(p);
                        }
                });
        }
        for (struct guest_container *c = a->containers; c; c = c->next)
                cgroups_check_oom(a, c);
        containers_report_exits(a);
}

void containers_report_exits(struct agent *a)
{
        if (!a->conn_up)
                return;
        FOR_EACH_PROCESS(a, c, p, {
                /* Its output first, so the host has every byte it wrote before the exit. */
                if (p->exited && !p->exit_reported && !p->start_watch && pump_reached(&p->pumps[PROC_STDOUT], p->exit_mark[PROC_STDOUT]) &&
                    pump_reached(&p->pumps[PROC_STDERR], p->exit_mark[PROC_STDERR]) &&
                    msg_queue_exited(&a->conn, c->id, p->exec_id, p->exit_code, p->signal, NULL) == 0) {
                        p->exit_reported = true;
                        pump_close(&p->pumps[PROC_STDIN]);
                }
        });
        /*
         * An exec is forgotten once its exit is out and its streams ended
         * (health checks run thousands of them).
         */
        for (struct guest_container *c = a->containers; c; c = c->next)
                for (struct guest_exec **pe = &c->execs; *pe;) {
                        struct guest_exec *e = *pe;
                        if (!e->proc.exit_reported || !pump_done(&e->proc.pumps[PROC_STDOUT]) ||
                            !pump_done(&e->proc.pumps[PROC_STDERR])) {
                                pe = &e->next;
                                continue;
                        }
                        *pe = e->next;
                        exec_free(e);
                }
}
