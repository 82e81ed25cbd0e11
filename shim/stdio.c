/*
 * containerd's stdio fifos for one process, opened by the shim itself and
 * handed to the supervisor with the attach (or exec) request: no host
 * process stands between containerd and the sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "shim.h"

static void on_alarm(int sig)
{
        (void) sig; /* only interrupts a blocked open */
}

/*
 * A fifo's reading end (stdin) opens at once: the supervisor's own
 * O_NONBLOCK copy sees no end of file before a writer came and went. A
 * writing end waits for its reader if it is not there yet (containerd
 * opens its ends before Create, so it normally is), a minute at most.
 */
#define STDIO_OPEN_TIMEOUT_S 60
int shim_open_stdio(char *const paths[3], int ret_fds[3], cocoon_error **err)
{
        struct sigaction sa = {.sa_handler = on_alarm}, old;
        (void) sigaction(SIGALRM, &sa, &old);
        int fds[3] = {-1, -1, -1};
        int r = 0;
        for (int i = 0; r == 0 && i < 3; i++) {
                const char *path = paths[i] && *paths[i] ? paths[i] : "/dev/null";
                int flags = (i == 0 ? O_RDONLY : O_WRONLY) | O_NOCTTY | O_CLOEXEC;
                fds[i] = open(path, flags | O_NONBLOCK);
                if (fds[i] < 0 && errno == ENXIO) {
                        alarm(STDIO_OPEN_TIMEOUT_S);
                        fds[i] = open(path, flags);
                        alarm(0);
                        if (fds[i] < 0 && errno == EINTR) {
                                r = error_set(err, ETIMEDOUT, "%s: nobody opened it for reading within %d s", path,
                                              STDIO_OPEN_TIMEOUT_S);
                                break;
                        }
                }
                if (fds[i] < 0)
                        r = error_sys(err, errno, "opening %s", path);
        }
        (void) sigaction(SIGALRM, &old, NULL);
        for (int i = 0; i < 3; i++)
                if (r < 0 && fds[i] >= 0)
                        close(fds[i]);
                else
                        ret_fds[i] = fds[i];
        return r;
}
