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
 * bounding set; nothing else, CAP_SYS_ADMIN least of all. CAP_MKNOD (device
 * nodes) and CAP_SETFCAP and CAP_FSETID (file capabilities, keeping
 * setuid/setgid bits) only where the share policy allows what they are for.
 */
static size_t virtiofsd_caps(const struct share_policy *policy, int *out)
{
        static const int base[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,     CAP_SETGID,
                                   CAP_SETUID, CAP_SYS_CHROOT,   CAP_SETPCAP};
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(base); i++)
                out[n++] = base[i];
        if (policy->allow_devices)
                out[n++] = CAP_MKNOD;
        if (policy->allow_privileged_files) {
                out[n++] = CAP_SETFCAP;
                out[n++] = CAP_FSETID;
        }
        return n;
}

int virtiofsd_spawn(const char *binary, const char *shared_dir, const struct share_policy *policy, int listen_fd,
                    const char *jail_root, uid_t uid, char *tag, pid_t *ret_pid, int *ret_pidfd, cocoon_error **err)
{
        _cleanup_free_ char *source = NULL;
        if (asprintf(&source, "source=%s,cache=auto,xattr", jail_root ? JAIL_SHARE : shared_dir) < 0)
                return -ENOMEM;
        /*
         * --fd hands it the vhost-user socket we already listen on, so QEMU can
         * connect at once without waiting for a socket file to appear.
         * sandbox=chroot: the jail gave it its namespaces already (with the
         * jail off, it is inside the supervisor's private mount namespace).
         * --rlimit-nofile=0: the jail sets the limit, it may not raise it.
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
        char *argv[12] = {(char *) binary, "--fd=3", "-o", source, "-o", "sandbox=chroot", "-o", "log_level=err"};
        size_t a = 8;
        if (caps) {
                argv[a++] = "-o";
                argv[a++] = (char *) caps;
        }
        if (jail_root)
                argv[a++] = "--rlimit-nofile=0";
        argv[a] = NULL;

        struct virtiofsd_confinement confinement;
        int r = virtiofsd_confinement_prepare(policy, &confinement, err);
        if (r < 0)
                return error_wrap(err, r, "starting virtiofsd");
        int kept[16];
        struct jail_bind binds[16];
        size_t n = jail_common_binds(binds, ARRAY_SIZE(binds) - 2);
        /*
         * A slave of the supervisor's share: containers that join the pod later
         * appear in it. Read-only like the share's top in the supervisor (the
         * bind is a mount of its own, whose flags the jail sets): the guest
         * writes only in the rootfs and volume mounts below it, which keep
         * their own flags.
         */
        binds[n++] = (struct jail_bind) {.src = shared_dir, .dst = JAIL_SHARE};
        binds[n++] = (struct jail_bind) {.src = binary, .dst = binary};
        struct jail jail = {
                .root = jail_root,
                .uid = uid,
                .binds = binds,
                .n_binds = n,
                .proc = true,
                .caps = kept,
                .n_caps = virtiofsd_caps(policy, kept),
                .nofile = 1 << 20,
        };
        struct spawn_req req = {
                .argv = argv,
                .keep_fds = &listen_fd,
                .n_keep = 1,
                .out_fd = -1,
                .tag = tag,
                .jail = jail_root ? &jail : NULL,
                .pre_exec = virtiofsd_confine,
                .pre_exec_data = &confinement,
        };
        r = spawn_process(&req, ret_pid, ret_pidfd, err);
        virtiofsd_confinement_free(&confinement);
        if (r < 0)
                return error_wrap(err, r, "starting virtiofsd");
        return 0;
}
