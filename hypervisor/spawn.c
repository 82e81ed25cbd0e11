#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hypervisor.h"

int spawn_process(char *const argv[], const int *keep_fds, size_t n_keep, const char *log_path, pid_t *ret_pid,
                  cocoon_error **err)
{
        return spawn_process_setup(argv, keep_fds, n_keep, log_path, NULL, NULL, ret_pid, err);
}

int spawn_process_setup(char *const argv[], const int *keep_fds, size_t n_keep, const char *log_path,
                        int (*child_setup)(void *), void *arg, pid_t *ret_pid, cocoon_error **err)
{
        /* An error pipe that closes on exec tells us whether the exec worked. */
        int ep[2];
        if (pipe2(ep, O_CLOEXEC) < 0)
                return error_sys(err, errno, "pipe");
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(ep[0]);
                close(ep[1]);
                return error_sys(err, e, "fork");
        }
        if (pid == 0) {
                close(ep[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                sigset_t all;
                sigfillset(&all);
                (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                int log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
                (void) dup2(nul, 0);
                (void) dup2(log >= 0 ? log : nul, 1);
                (void) dup2(log >= 0 ? log : nul, 2);
                /* Move the kept fds above the target range first, then down to 3, 4, ... */
                int moved[16];
                for (size_t i = 0; i < n_keep && i < 16; i++)
                        moved[i] = fcntl(keep_fds[i], F_DUPFD_CLOEXEC, 64);
                for (size_t i = 0; i < n_keep && i < 16; i++)
                        (void) dup2(moved[i], 3 + (int) i);
                int e = child_setup ? -child_setup(arg) : 0;
                if (e == 0) {
                        execv(argv[0], argv);
                        e = errno;
                }
                (void) !write(ep[1], &e, sizeof(e));
                _exit(127);
        }
        close(ep[1]);
        int e = 0;
        ssize_t n;
        do
                n = read(ep[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(ep[0]);
        if (n == sizeof(e)) {
                (void) waitpid(pid, NULL, 0);
                return error_sys(err, e, "executing %s", argv[0]);
        }
        *ret_pid = pid;
        return 0;
}

void reap_or_kill(pid_t pid, int timeout_ms)
{
        if (pid <= 0)
                return;
        struct timespec step = {0, 10 * 1000 * 1000};
        for (int waited = 0; waited < timeout_ms; waited += 10) {
                pid_t r = waitpid(pid, NULL, WNOHANG);
                if (r == pid || (r < 0 && errno == ECHILD))
                        return;
                nanosleep(&step, NULL);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}
