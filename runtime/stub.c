/*
 * The host side of one guest process: hands the caller's stdio to the
 * supervisor, forwards the signals it receives, and returns the exit code.
 * `run` does this in its own process; create and exec fork a stub that does
 * it, so that the caller has a host PID to wait on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "conn.h"
#include "fdpass.h"
#include "fsutil.h"
#include "log.h"
#include "msg.h"
#include "runtime.h"
#include "terminal.h"

/* Signals a stub passes on to its process, as runc's signal proxy does. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGCONT, SIGTSTP};

struct wait_state {
        const char *id, *exec_id;
        bool terminal; /* our stdin is a terminal and so is the process's */
        bool exited;
        int exit_code;
};

static void on_event(Event *ev, void *userdata)
{
        struct wait_state *ws = userdata;
        if (!sandbox_exit_of(ev, ws->id, ws->exec_id, &ws->exit_code))
                return;
        ws->exited = true;
        if (ev->exited->reason && *ev->exited->reason)
                log_error("%s: %s", ws->id, ev->exited->reason);
}

static int call(struct conn *c, Request *req, uint64_t *next_id, const int *fds, size_t n_fds, struct wait_state *ws,
                cocoon_error **err)
{
        req->id = ++*next_id;
        return msg_call(c, req, fds, n_fds, NULL, on_event, ws, err);
}

static int send_signal(struct conn *c, uint64_t *next_id, struct wait_state *ws, int sig)
{
        Cocoon__SignalProcessRequest sp = COCOON__SIGNAL_PROCESS_REQUEST__INIT;
        sp.container_id = (char *) ws->id;
        sp.exec_id = (char *) ws->exec_id;
        sp.signal = sig;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_SIGNAL_PROCESS;
        req.signal_process = &sp;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = call(c, &req, next_id, NULL, 0, ws, &err);
        if (r < 0 && !ws->exited)
                log_debug("forwarding signal %d: %s", sig, err ? err->msg : strerror(-r));
        return 0;
}

/* Passes the size of our terminal on to the process's. */
static void send_size(struct conn *c, uint64_t *next_id, struct wait_state *ws)
{
        struct winsize size;
        if (!ws->terminal || ioctl(0, TIOCGWINSZ, &size) < 0 || size.ws_row == 0)
                return;
        Cocoon__ResizeRequest rs = COCOON__RESIZE_REQUEST__INIT;
        rs.container_id = (char *) ws->id;
        rs.exec_id = (char *) ws->exec_id;
        rs.rows = size.ws_row;
        rs.cols = size.ws_col;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_RESIZE;
        req.resize = &rs;
        _cleanup_error_ cocoon_error *err = NULL;
        if (call(c, &req, next_id, NULL, 0, ws, &err) < 0 && !ws->exited)
                log_debug("resizing the terminal: %s", err ? err->msg : "failed");
}

/* Waits for the exit event, forwarding signals meanwhile. */
static int wait_exit(struct conn *c, uint64_t *next_id, struct wait_state *ws, int sfd, cocoon_error **err)
{
        while (!ws->exited) {
                struct frame_header h;
                const uint8_t *payload;
                int r = conn_next(c, &h, &payload, err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (h.type == FRAME_EVENT) {
                                _cleanup_event_ Event *ev = NULL;
                                if (msg_unpack_event(payload, h.length, &ev, err) < 0)
                                        return -EPROTO;
                                on_event(ev, ws);
                        }
                        continue;
                }
                struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return error_sys(err, errno, "poll");
                }
                if (pfd[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH)
                                        send_size(c, next_id, ws);
                                else
                                        (void) send_signal(c, next_id, ws, si.ssi_signo);
                        }
                }
                if (pfd[0].revents & (POLLIN | POLLHUP)) {
                        ssize_t n = conn_fill(c, err);
                        if (n == 0 || n == -ECONNRESET)
                                return error_set(err, ECONNRESET, "the sandbox supervisor exited unexpectedly");
                        if (n < 0 && n != -EAGAIN && n != -EINTR)
                                return n;
                }
        }
        return 0;
}

/* Attaches our fds 0-2 to the init, or starts an exec with them. */
static int attach(struct conn *c, uint64_t *next_id, const struct stub_opts *o, struct wait_state *ws,
                  cocoon_error **err)
{
        const struct sandbox_attach_opts ao = {.id = o->id, .exec_id = o->exec_id,
                                               .exec_process_json = o->exec_process_json,
                                               .ignore_paused = o->ignore_paused};
        int fds[3] = {0, 1, 2};
        int r = sandbox_attach(c, ++*next_id, &ao, fds, on_event, ws, err);
        if (r < 0)
                return r;
        send_size(c, next_id, ws);
        if (!o->start)
                return 0;
        Cocoon__StartContainerRequest st = COCOON__START_CONTAINER_REQUEST__INIT;
        st.container_id = (char *) o->id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_START_CONTAINER;
        req.start_container = &st;
        return call(c, &req, next_id, NULL, 0, ws, err);
}

/*
 * The whole life of a stub: attach, tell `ready` (if set) how that went,
 * relay signals, and return the exit code. When the supervisor vanishes
 * without a word (it was killed), the process died with its VM: 137.
 */
int stub_run(int ctl_fd, const struct stub_opts *o, void (*ready)(int r, const cocoon_error *err, void *ud), void *ud,
             int *ret_exit_code, cocoon_error **err)
{
        struct conn c;
        conn_init(&c, ctl_fd, false);
        uint64_t next_id = 0;
        struct wait_state ws = {.id = o->id, .exec_id = o->exec_id};
        struct termios saved;
        bool raw = false;
        int r;

        sigset_t mask, old;
        sigemptyset(&mask);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                sigaddset(&mask, forwarded[i]);
        sigaddset(&mask, SIGWINCH);
        (void) sigprocmask(SIG_BLOCK, &mask, &old);
        int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0) {
                r = error_sys(err, errno, "signalfd");
                goto out;
        }

        /* With a terminal, the guest's pty does the line discipline: ours must pass bytes through. */
        if (o->terminal && isatty(0) && tcgetattr(0, &saved) == 0) {
                struct termios t = saved;
                cfmakeraw(&t);
                raw = tcsetattr(0, TCSANOW, &t) == 0;
                ws.terminal = true;
        }

        r = attach(&c, &next_id, o, &ws, err);
        if (ready)
                ready(r, err ? *err : NULL, ud);
        if (r < 0)
                goto out;
        r = wait_exit(&c, &next_id, &ws, sfd, err);
        if (r == -ECONNRESET) {
                log_error("%s: the sandbox supervisor is gone, the process died with its VM", o->id);
                ws.exit_code = 128 + SIGKILL;
                r = 0;
        }
        if (r == 0)
                *ret_exit_code = ws.exit_code;
out:
        if (raw)
                (void) tcsetattr(0, TCSANOW, &saved);
        if (sfd >= 0)
                close(sfd);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        c.fd = -1; /* the caller owns ctl_fd */
        conn_destroy(&c);
        return r;
}

int stub_attach_and_wait(int ctl_fd, const struct stub_opts *o, int *ret_exit_code, cocoon_error **err)
{
        return stub_run(ctl_fd, o, NULL, NULL, ret_exit_code, err);
}

/* ---- detached stubs: create, run -d, exec -d ---- */

/*
 * --console-socket: a pty of our own on the host. Its slave becomes the
 * stub's stdio and controlling terminal (so a resize of the master reaches
 * us as SIGWINCH), its master goes to the caller, as runc sends it.
 */
static int console_to_socket(const char *socket_path, cocoon_error **err)
{
        _cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        char name[64];
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
                return error_sys(err, errno, "allocating a terminal");
        int slave = open(name, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return error_sys(err, errno, "opening %s", name);
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
                int e = errno;
                close(slave);
                return error_sys(err, e, "making %s our terminal", name);
        }
        /* Raw before the caller has the master: the guest's pty echoes and translates, not this one. */
        (void) terminal_raw(slave, NULL);
        for (int i = 0; i < 3; i++)
                (void) dup2(slave, i);
        if (slave > 2)
                close(slave);

        _cleanup_close_ int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(socket_path) >= sizeof(addr.sun_path))
                return error_set(err, ENAMETOOLONG, "--console-socket %s: path too long", socket_path);
        strcpy(addr.sun_path, socket_path);
        if (sock < 0 || connect(sock, (struct sockaddr *) &addr, sizeof(addr)) < 0)
                return error_sys(err, errno, "--console-socket %s", socket_path);
        /* The pty's name rides along, as runc sends it. */
        int r = fd_send(sock, master, name, strlen(name));
        if (r < 0)
                return error_sys(err, -r, "sending the terminal to --console-socket %s", socket_path);
        return 0;
}

struct attached_report {
        int fd;              /* the ready pipe; -1 once reported */
        bool release_stdio;  /* without a terminal: let go of the caller's stdio once the supervisor has it */
};

/*
 * The stub reports to stub_spawn() once, after attaching; the pipe is closed
 * then. From then on the supervisor holds the caller's stdio: the stub lets
 * go of its copies, so that the caller sees EOF when the process closes its
 * end, as it would with the process holding them itself (runc).
 */
static void report_attached(int r, const cocoon_error *err, void *ud)
{
        struct attached_report *rep = ud;
        ready_send(rep->fd, r, err);
        close(rep->fd);
        rep->fd = -1;
        if (r < 0 || !rep->release_stdio)
                return;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int i = 0; null >= 0 && i < 3; i++)
                (void) dup2(null, i);
        if (null > 2)
                close(null);
}

static _Noreturn void stub_child(const char *dir, const struct stub_opts *o, const char *console_socket, int ready_fd)
{
        _cleanup_error_ cocoon_error *err = NULL;
        /* Nothing of the verb's: no lock fd, no socket. Keep the ready pipe as fd 3. */
        if (ready_fd != 3) {
                (void) dup3(ready_fd, 3, O_CLOEXEC);
                ready_fd = 3;
        }
        (void) syscall(SYS_close_range, 4, ~0U, 0);
        log_detach();
        /* Its own name in ps: its command line is its parent's (cocoon or the containerd shim). */
        (void) prctl(PR_SET_NAME, "cocoon-stub");
        int r = o->cgroup ? host_cgroup_join(o->cgroup, getpid(), &err) : 0;
        if (r == 0 && console_socket)
                r = console_to_socket(console_socket, &err);
        int ctl = r < 0 ? r : supervisor_connect(dir, &err);
        if (ctl < 0) {
                ready_send(ready_fd, ctl, err);
                _exit(1);
        }
        int code = 255;
        struct attached_report rep = {.fd = ready_fd, .release_stdio = !o->terminal};
        r = stub_run(ctl, o, report_attached, &rep, &code, &err);
        if (rep.fd >= 0)
                report_attached(r, err, &rep);
        else if (r < 0)
                log_error("%s: %s", o->id, err ? err->msg : strerror(-r));
        _exit(r < 0 ? 255 : code);
}

int stub_spawn(const char *dir, const struct stub_opts *o, const char *console_socket, pid_t *ret_pid,
               cocoon_error **err)
{
        int ready;
        pid_t pid = fork_with_ready(&ready, err);
        if (pid < 0)
                return pid;
        if (pid == 0)
                stub_child(dir, o, console_socket, ready);
        pid_t reported;
        int r = ready_receive(ready, &reported, err);
        close(ready);
        if (r < 0) {
                (void) waitpid(pid, NULL, 0);
                return r == -EPIPE ? error_set(err, EIO, "the stub process died while attaching") : r;
        }
        *ret_pid = pid;
        return 0;
}

int supervisor_shutdown(int ctl_fd, cocoon_error **err)
{
        struct conn c;
        conn_init(&c, ctl_fd, false);
        Cocoon__ShutdownRequest sd = COCOON__SHUTDOWN_REQUEST__INIT;
        Request req = COCOON__REQUEST__INIT;
        req.id = 1;
        req.body_case = COCOON__REQUEST__BODY_SHUTDOWN;
        req.shutdown = &sd;
        int r = msg_call(&c, &req, NULL, 0, NULL, NULL, NULL, err);
        c.fd = -1;
        conn_destroy(&c);
        return r;
}
