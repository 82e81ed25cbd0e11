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
        for (int i = 0; i < 3; i++)
                pump_close(&p->pumps[i]);
        container_init_release(&p->init);
        free(p->exec_id);
}

static void container_free(struct guest_container *c)
{
        if (!c)
                return;
        process_release(&c->init);
        spec_free(c->spec);
        free(c->id);
        free(c);
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
        c->init = (struct guest_process) {.agent = a, .stream = req->stream,
                                          .init = {.start_fd = -1, .status_fd = -1, .console_fd = -1}};
        for (int i = 0; i < 3; i++)
                c->init.pumps[i].fd = -1;
        c->id = strdup(req->container_id);
        c->init.exec_id = strdup("");
        if (!c->id || !c->init.exec_id) {
                container_free(c);
                return -ENOMEM;
        }

        int r = spec_parse(req->config_json, strlen(req->config_json), &c->spec, err);
        if (r < 0) {
                container_free(c);
                return error_wrap(err, "config.json");
        }

        bool terminal = c->spec->process.terminal;
        int child[3] = {-1, -1, -1};
        r = terminal ? 0 : stdio_pipes(&c->init, child, err);
        if (r >= 0) {
                struct container_stdio stdio = {child[0], child[1], child[2]};
                r = container_create(c->spec, req->rootfs, &stdio, &c->init.init, err);
        }
        for (int i = 0; i < 3; i++)
                if (child[i] >= 0)
                        close(child[i]);
        if (r >= 0 && terminal) {
                r = stdio_console(a, &c->init, c->init.init.console_fd, err);
                c->init.init.console_fd = -1; /* the pumps own it now */
        }
        if (r >= 0)
                r = watch_stdio(a, &c->init, err);
        if (r < 0) {
                if (c->init.init.pid > 0) {
                        (void) kill(c->init.init.pid, SIGKILL);
                        (void) waitpid(c->init.init.pid, NULL, 0);
                }
                container_free(c);
                return r;
        }
        c->init.pid = c->init.init.pid;
        c->status = CONTAINER_CREATED;
        c->next = a->containers;
        a->containers = c;
        return 0;
}

int containers_start(struct agent *a, const char *id, cocoon_error **err)
{
        struct guest_container *c = find(a, id ? id : "");
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", id);
        if (c->status != CONTAINER_CREATED)
                return error_set(err, EINVAL, "cannot start a container that is not in the created state");
        /* A terminal has no stderr: end that stream now that the host follows the process. */
        if (c->spec->process.terminal) {
                int r = conn_queue(&a->conn, FRAME_EOF, c->init.stream, PROC_STDERR, NULL, 0);
                if (r < 0)
                        return error_sys(err, -r, "queueing stderr's end");
        }
        int r = container_start(&c->init.init, err);
        c->init.started = true;
        c->status = CONTAINER_RUNNING;
        return r;
}

int containers_signal(struct agent *a, const Cocoon__SignalProcessRequest *req, cocoon_error **err)
{
        struct guest_container *c = find(a, req->container_id);
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", req->container_id);
        if (req->signal == 0 || req->signal >= NSIG)
                return error_set(err, EINVAL, "invalid signal %u", req->signal);
        if (c->init.exited)
                return error_set(err, ESRCH, "container not running");
        if (kill(c->init.pid, req->signal) < 0)
                return error_sys(err, errno, "signalling the container");
        return 0;
}

int containers_resize(struct agent *a, const Cocoon__ResizeRequest *req, cocoon_error **err)
{
        struct guest_container *c = find(a, req->container_id);
        if (!c)
                return error_set(err, ENOENT, "container %s does not exist", req->container_id);
        if (!c->spec->process.terminal || c->init.pumps[PROC_STDOUT].fd < 0)
                return error_set(err, ENOTTY, "container %s has no terminal", req->container_id);
        if (req->rows > 0xffff || req->cols > 0xffff)
                return error_set(err, EINVAL, "invalid terminal size %ux%u", req->rows, req->cols);
        struct winsize ws = {.ws_row = req->rows, .ws_col = req->cols};
        if (ioctl(c->init.pumps[PROC_STDOUT].fd, TIOCSWINSZ, &ws) < 0)
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
                *pc = c->next;
                container_free(c);
                return 0;
        }
        return error_set(err, ENOENT, "container %s does not exist", id);
}

struct guest_process *containers_find_stream(struct agent *a, uint32_t stream)
{
        for (struct guest_container *c = a->containers; c; c = c->next)
                if (c->init.stream == stream)
                        return &c->init;
        return NULL;
}

void containers_reap(struct agent *a)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        break;
                for (struct guest_container *c = a->containers; c; c = c->next) {
                        struct guest_process *p = &c->init;
                        if (p->pid != pid)
                                continue;
                        p->exited = true;
                        c->status = CONTAINER_STOPPED;
                        if (WIFSIGNALED(status)) {
                                p->signal = WTERMSIG(status);
                                p->exit_code = 128 + p->signal;
                        } else {
                                p->exit_code = WEXITSTATUS(status);
                        }
                }
        }
        containers_report_exits(a);
}

void containers_report_exits(struct agent *a)
{
        if (!a->conn_up)
                return;
        for (struct guest_container *c = a->containers; c; c = c->next) {
                struct guest_process *p = &c->init;
                if (!p->exited || p->exit_reported)
                        continue;
                /* All output first, so the host has every byte before the exit. */
                if (!pump_done(&p->pumps[PROC_STDOUT]) || !pump_done(&p->pumps[PROC_STDERR]))
                        continue;
                if (msg_queue_exited(&a->conn, c->id, p->exec_id, p->exit_code, p->signal, NULL) < 0)
                        continue;
                p->exit_reported = true;
                pump_close(&p->pumps[PROC_STDIN]);
        }
}
