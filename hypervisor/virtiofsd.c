/* virtiofsd: one per sandbox, serving only that sandbox's shared directory. */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "cleanup.h"

/* Where the share is in virtiofsd's jail. */
#define JAIL_SHARE "/shared"

/*
 * What it needs to serve files as the container's uids (its own list, which
 * it trims further after chroot), to chroot into the share and to drop its
 * bounding set; nothing else, CAP_SYS_ADMIN least of all.
 */
static const int virtiofsd_caps[] = {
        CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETGID,  CAP_SETUID,
        CAP_MKNOD, CAP_SETFCAP,      CAP_SYS_CHROOT, CAP_SETPCAP,
};

int virtiofsd_spawn(const char *binary, const char *shared_dir, int listen_fd, const char *jail_root, uid_t uid,
                    char *tag, pid_t *ret_pid, int *ret_pidfd, cocoon_error **err)
{
        _cleanup_free_ char *source = NULL;
        if (asprintf(&source, "source=%s,cache=auto,xattr", jail_root ? JAIL_SHARE : shared_dir) < 0)
                return -ENOMEM;
        /*
         * --fd hands it the vhost-user socket we already listen on, so QEMU can
         * connect at once without waiting for a socket file to appear.
         * sandbox=chroot: the jail gave it its namespaces already.
         * --rlimit-nofile=0: the jail sets the limit, it may not raise it.
         */
        char *argv[] = {(char *) binary, "--fd=3", "-o", source, "-o", "sandbox=chroot", "-o", "log_level=err",
                        jail_root ? "--rlimit-nofile=0" : NULL, NULL};
        struct jail_bind binds[16];
        size_t n = jail_common_binds(binds, ARRAY_SIZE(binds) - 2);
        /* A slave of the supervisor's share: containers that join the pod later appear in it. */
        binds[n++] = (struct jail_bind) {.src = shared_dir, .dst = JAIL_SHARE, .writable = true};
        binds[n++] = (struct jail_bind) {.src = binary, .dst = binary};
        struct jail jail = {
                .root = jail_root,
                .uid = uid,
                .binds = binds,
                .n_binds = n,
                .proc = true,
                .caps = virtiofsd_caps,
                .n_caps = ARRAY_SIZE(virtiofsd_caps),
                .nofile = 1 << 20,
        };
        struct spawn_req req = {
                .argv = argv,
                .keep_fds = &listen_fd,
                .n_keep = 1,
                .out_fd = -1,
                .tag = tag,
                .jail = jail_root ? &jail : NULL,
        };
        int r = spawn_process(&req, ret_pid, ret_pidfd, err);
        if (r < 0)
                return error_wrap(err, "starting virtiofsd");
        return 0;
}
