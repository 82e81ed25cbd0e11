/*
 * subreaper CMD [ARGS...]: runs CMD as a child subreaper would (containerd's
 * shim, conmon), so that processes orphaned under it (a runtime's stubs or
 * init processes) are reparented to us. Every such process we reap is
 * appended to $REAPED_LOG as "PID STATUS" (the exit code, or 128+signal).
 * Exits with CMD's status once CMD is done.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: subreaper CMD [ARGS...]\n");
                return 2;
        }
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                perror("PR_SET_CHILD_SUBREAPER");
                return 1;
        }
        const char *log = getenv("REAPED_LOG");
        pid_t main_pid = fork();
        if (main_pid < 0) {
                perror("fork");
                return 1;
        }
        if (main_pid == 0) {
                execvp(argv[1], argv + 1);
                perror(argv[1]);
                _exit(127);
        }
        int main_status = 0;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);
                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (pid == main_pid) {
                        main_status = code;
                        break;
                }
                FILE *f = log ? fopen(log, "a") : NULL;
                if (f) {
                        fprintf(f, "%d %d\n", (int) pid, code);
                        fclose(f);
                }
        }
        return main_status;
}
