/* virtiofsd: one per sandbox, serving only that sandbox's shared directory. */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "hypervisor.h"

int virtiofsd_spawn(const char *binary, const char *shared_dir, const struct share_policy *policy, int listen_fd,
                    pid_t *ret_pid, cocoon_error **err)
{
        _cleanup_free_ char *source = NULL;
        if (asprintf(&source, "source=%s,cache=auto,xattr", shared_dir) < 0)
                return -ENOMEM;
        /*
         * --fd hands it the vhost-user socket we already listen on, so QEMU can
         * connect at once without waiting for a socket file to appear.
         * sandbox=chroot: it is already inside the supervisor's private mount
         * namespace and needs no further namespaces of its own.
         * modcaps: of its default capabilities it loses CAP_MKNOD (no device
         * node from the guest), CAP_SETFCAP (no security.capability xattr,
         * i.e. no file capabilities) and CAP_FSETID (writing or truncating a
         * setuid/setgid file clears the bits), unless the operator allows
         * them; virtiofsd_confine() takes them out of the bounding set too
         * and refuses the setuid/setgid bits in chmod and create. See
         * docs/security.md.
         */
        static const char *const modcaps[2][2] = {
                /* [allow_devices][allow_privileged_files] */
                {"modcaps=-mknod:-setfcap:-fsetid", "modcaps=-mknod"},
                {"modcaps=-setfcap:-fsetid", NULL},
        };
        const char *caps = modcaps[policy->allow_devices][policy->allow_privileged_files];
        char *argv[] = {(char *) binary, "--fd=3", "-o", source, "-o", "sandbox=chroot", "-o", "log_level=err",
                        caps ? "-o" : NULL, (char *) caps, NULL};
        int r = spawn_process_setup(argv, &listen_fd, 1, NULL, virtiofsd_confine, (void *) policy, ret_pid, err);
        if (r < 0)
                return error_wrap(err, "starting virtiofsd");
        return 0;
}
