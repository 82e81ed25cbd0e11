/*
 * cocoon-agent: PID 1 of the sandbox VM. It boots the guest's userspace,
 * serves the host over virtio-serial or vsock, and runs containers with the
 * shared core. One epoll loop, SIGCHLD through a signalfd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "config.h"

static int on_signal(struct watch *w, uint32_t events)
{
        struct agent *a = w->data;
        struct signalfd_siginfo si;
        while (read(w->fd, &si, sizeof(si)) == sizeof(si))
                ;
        containers_reap(a);
        transport_kick(a);
        return 0;
}

static _Noreturn void die(const char *what, const cocoon_error *err, int r)
{
        fprintf(stderr, "cocoon-agent: %s: %s\n", what, err && err->msg ? err->msg : strerror(-r));
        /* PID 1 must not exit: power the VM off so the host sees the failure at once. */
        if (getpid() == 1) {
                sync();
                (void) reboot(RB_AUTOBOOT);
        }
        exit(1);
}

int main(int argc, char **argv)
{
        _cleanup_error_ cocoon_error *err = NULL;
        struct agent a = {.listen_fd = -1};
        int r;

        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                printf("cocoon-agent %s\n", COCOON_VERSION);
                return 0;
        }
        if (getpid() == 1) {
                r = agent_early_init(&err);
                if (r < 0)
                        die("early init", err, r);
        }

        (void) signal(SIGPIPE, SIG_IGN);
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0)
                die("signalfd", NULL, -errno);

        r = loop_new(&a.loop);
        if (r < 0)
                die("event loop", NULL, r);
        r = loop_add(a.loop, sfd, EPOLLIN, on_signal, &a, NULL);
        if (r < 0)
                die("event loop", NULL, r);
        r = transport_open(&a, &err);
        if (r < 0)
                die("host transport", err, r);
        fprintf(stderr, "cocoon-agent %s: ready\n", COCOON_VERSION);

        for (;;) {
                r = loop_run_once(a.loop, -1);
                if (r < 0)
                        die("event loop", NULL, r);
        }
}
