/*
 * The host side of one guest process: hands the caller's stdio to the
 * supervisor, forwards the signals it receives, and returns the exit code.
 * `run` does this in its own process; create and exec fork a stub that does
 * it, so that the caller has a host PID to wait on.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "conn.h"
#include "log.h"
#include "msg.h"
#include "runtime.h"

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
        if (ev->body_case != COCOON__EVENT__BODY_EXITED)
                return;
        if (strcmp(ev->exited->container_id, ws->id) != 0 || strcmp(ev->exited->exec_id, ws->exec_id) != 0)
                return;
        ws->exited = true;
        ws->exit_code = ev->exited->exit_code;
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
                        if (n == 0)
                                return error_set(err, ECONNRESET, "the sandbox supervisor exited unexpectedly");
                        if (n < 0 && n != -EAGAIN && n != -EINTR)
                                return n;
                }
        }
        return 0;
}

int stub_attach_and_wait(int ctl_fd, const char *id, const char *exec_id, bool start, bool terminal,
                         int *ret_exit_code, cocoon_error **err)
{
        struct conn c;
        conn_init(&c, ctl_fd, false);
        uint64_t next_id = 0;
        struct wait_state ws = {.id = id, .exec_id = exec_id};
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
        if (terminal && isatty(0) && tcgetattr(0, &saved) == 0) {
                struct termios t = saved;
                cfmakeraw(&t);
                raw = tcsetattr(0, TCSANOW, &t) == 0;
                ws.terminal = true;
        }

        Cocoon__AttachRequest at = COCOON__ATTACH_REQUEST__INIT;
        at.container_id = (char *) id;
        at.exec_id = (char *) exec_id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_ATTACH;
        req.attach = &at;
        int fds[3] = {0, 1, 2};
        r = call(&c, &req, &next_id, fds, 3, &ws, err);
        if (r < 0)
                goto out;

        send_size(&c, &next_id, &ws);
        if (start) {
                Cocoon__StartContainerRequest st = COCOON__START_CONTAINER_REQUEST__INIT;
                st.container_id = (char *) id;
                req = (Request) COCOON__REQUEST__INIT;
                req.body_case = COCOON__REQUEST__BODY_START_CONTAINER;
                req.start_container = &st;
                r = call(&c, &req, &next_id, NULL, 0, &ws, err);
                if (r < 0)
                        goto out;
        }
        r = wait_exit(&c, &next_id, &ws, sfd, err);
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
