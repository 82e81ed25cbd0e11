/* virtiofsd: one per sandbox, serving only that sandbox's shared directory. */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "hypervisor.h"

int virtiofsd_spawn(const char *binary, const char *shared_dir, int listen_fd, pid_t *ret_pid, cocoon_error **err)
{
        _cleanup_free_ char *source = NULL;
        if (asprintf(&source, "source=%s,cache=auto,xattr", shared_dir) < 0)
                return -ENOMEM;
        /*
         * --fd hands it the vhost-user socket we already listen on, so QEMU can
         * connect at once without waiting for a socket file to appear.
         * sandbox=chroot: it is already inside the supervisor's private mount
         * namespace and needs no further namespaces of its own.
         */
        char *argv[] = {(char *) binary, "--fd=3", "-o", source, "-o", "sandbox=chroot", "-o", "log_level=err",
                        NULL};
        int r = spawn_process(argv, &listen_fd, 1, NULL, ret_pid, err);
        if (r < 0)
                return error_wrap(err, r, "starting virtiofsd");
        return 0;
}
