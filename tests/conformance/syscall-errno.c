/*
 * syscall-errno NAME:NR...: calls each syscall by number with -1 and zeros
 * as arguments and prints "NAME=ok" or "NAME=<errno name>", so that a
 * probe can tell a seccomp filter's ENOSYS from its EPERM and from the
 * kernel's own answer. Static, to run in a busybox rootfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static const char *errno_name(int e)
{
        static const struct {
                int e;
                const char *name;
        } names[] = {{ENOSYS, "ENOSYS"}, {EPERM, "EPERM"}, {EBADF, "EBADF"}, {EINVAL, "EINVAL"},
                     {EFAULT, "EFAULT"}, {ESRCH, "ESRCH"}, {EACCES, "EACCES"}};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (names[i].e == e)
                        return names[i].name;
        static char buf[16];
        snprintf(buf, sizeof(buf), "%d", e);
        return buf;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                char *colon = strchr(argv[i], ':');
                if (!colon) {
                        fprintf(stderr, "usage: syscall-errno NAME:NR...\n");
                        return 2;
                }
                *colon = '\0';
                long r = syscall(atol(colon + 1), -1L, 0L, 0L, 0L, 0L, 0L);
                printf("%s=%s\n", argv[i], r >= 0 ? "ok" : errno_name(errno));
        }
        return 0;
}
