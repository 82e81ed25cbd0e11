/*
 * The report a forked helper (supervisor, stub) sends its parent once over a
 * pipe: "up, my pid is N", or the errno and message of what stopped it, so
 * that the verb can print a precise error and leave nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "runtime.h"

struct ready_report {
        int32_t errnum;
        int32_t pid;
        uint32_t len; /* message bytes following */
};

#define READY_MAX_MESSAGE 65536

pid_t fork_with_ready(int *ret_fd, cocoon_error **err)
{
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return error_sys(err, errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(ready[0]);
                close(ready[1]);
                return error_sys(err, e, "fork");
        }
        close(ready[pid == 0 ? 0 : 1]);
        *ret_fd = ready[pid == 0 ? 1 : 0];
        return pid;
}

void ready_send(int fd, int r, const cocoon_error *err)
{
        const char *msg = r < 0 ? (err && err->msg ? err->msg : strerror(-r)) : "";
        size_t len = strlen(msg) > READY_MAX_MESSAGE ? READY_MAX_MESSAGE : strlen(msg);
        struct ready_report rep = {.errnum = r < 0 ? -r : 0, .pid = getpid(), .len = len};
        (void) write_all(fd, &rep, sizeof(rep));
        (void) write_all(fd, msg, len);
}

int ready_receive(int fd, pid_t *ret_pid, cocoon_error **err)
{
        struct ready_report rep;
        ssize_t n;
        do
                n = read(fd, &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(rep))
                return -EPIPE; /* died without a word: the caller says who */
        if (rep.errnum == 0) {
                *ret_pid = rep.pid;
                return 0;
        }
        size_t len = rep.len > READY_MAX_MESSAGE ? READY_MAX_MESSAGE : rep.len;
        _cleanup_free_ char *msg = calloc(1, len + 1);
        size_t got = 0;
        while (msg && got < len && (n = read(fd, msg + got, len - got)) > 0)
                got += n;
        /*
         * A helper that failed undoes what it made (its VM, sockets, share)
         * before it exits, which closes the pipe: wait for that, so that the
         * verb's own clean-up comes after it and finds everything to remove.
         */
        char drain[256];
        while ((n = read(fd, drain, sizeof(drain))) > 0 || (n < 0 && errno == EINTR))
                ;
        int e = rep.errnum > 0 && rep.errnum < 4096 ? rep.errnum : EIO;
        return error_set(err, e, "%s", msg && *msg ? msg : strerror(e));
}
