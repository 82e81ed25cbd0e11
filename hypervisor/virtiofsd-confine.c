/*
 * What virtiofsd may not do on the guest's behalf, applied in its child just
 * before exec, after the jail step (or alone, with the jail off).
 *
 * Capabilities: CAP_MKNOD (device nodes), CAP_SETFCAP (security.capability,
 * file capabilities) and CAP_FSETID leave the bounding set, unless the
 * operator's share_policy allows what they are for. virtiofsd's -o modcaps
 * drops them from the threads that serve the guest, but threads started
 * before it applies its list (the C virtiofsd has one, QEMU's RCU thread)
 * keep every capability it had; out of the bounding set, no thread of it has
 * them, whatever it does. (The jail keeps only its list in the first place.)
 *
 * setuid/setgid bits: virtiofsd may not give a file either bit. Without
 * CAP_FSETID the kernel clears those bits when a file is written or chowned,
 * but a process that owns a file may still set them with chmod or create the
 * file with them; virtiofsd creates and owns files as the guest's uid, root
 * included. So a seccomp filter of our own, stacked under virtiofsd's, fails
 * with EPERM every call virtiofsd makes that carries a mode with S_ISUID or
 * S_ISGID: chmod (fchmod, fchmodat, fchmodat2), create (openat, mknodat).
 * mkdir ignores both bits (a directory inherits setgid from its parent), so
 * it passes. openat2 takes its mode in a struct a filter cannot read: ENOSYS,
 * as from an older kernel (virtiofsd does not call it). No filter when the
 * policy allows privileged files.
 *
 * The filter is compiled in the parent: the child of the jail step must not
 * allocate (the supervisor has a console thread that may hold malloc's lock
 * when it forks), so it only installs the finished program.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif

/* The compiled program, read back from libseccomp's export (a memfd: libseccomp 2.5 exports only to an fd). */
static int compile(scmp_filter_ctx ctx, struct sock_fprog *ret, cocoon_error **err)
{
        _cleanup_close_ int fd = memfd_create("virtiofsd-filter", MFD_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "memfd_create");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return error_sys(err, -r, "compiling virtiofsd's filter");
        off_t size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % sizeof(struct sock_filter) || size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return error_set(err, EINVAL, "virtiofsd's filter has a bad size (%lld bytes)", (long long) size);
        struct sock_filter *insns = malloc(size);
        if (!insns)
                return -ENOMEM;
        if (pread(fd, insns, size, 0) != size) {
                free(insns);
                return error_sys(err, errno ? errno : EIO, "reading virtiofsd's filter back");
        }
        *ret = (struct sock_fprog) {.len = (unsigned short) (size / sizeof(struct sock_filter)), .filter = insns};
        return 0;
}

int virtiofsd_confinement_prepare(const struct share_policy *policy, struct virtiofsd_confinement *ret,
                                  cocoon_error **err)
{
        *ret = (struct virtiofsd_confinement) {.policy = *policy};
        if (policy->allow_privileged_files)
                return 0;
        static const struct {
                int nr;
                unsigned mode_arg;
        } calls[] = {
                {__NR_chmod, 1},  {__NR_fchmod, 1}, {__NR_fchmodat, 2}, {__NR_fchmodat2, 2}, {__NR_open, 2},
                {__NR_openat, 3}, {__NR_creat, 1},  {__NR_mknod, 1},    {__NR_mknodat, 2},
        };
        static const unsigned bits[] = {S_ISUID, S_ISGID};
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        /* The jail or the caller decides no_new_privs; the program alone is what we want from libseccomp. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(calls); i++)
                for (size_t b = 0; r == 0 && b < ARRAY_SIZE(bits); b++)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i].nr, 1,
                                             SCMP_CMP(calls[i].mode_arg, SCMP_CMP_MASKED_EQ, bits[b], bits[b]));
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), __NR_openat2, 0);
        r = r < 0 ? error_sys(err, -r, "building virtiofsd's filter") : compile(ctx, &ret->filter, err);
        seccomp_release(ctx);
        return r;
}

void virtiofsd_confinement_free(struct virtiofsd_confinement *c)
{
        free(c->filter.filter);
        c->filter = (struct sock_fprog) {0};
}

int virtiofsd_confine(void *data)
{
        const struct virtiofsd_confinement *c = data;
        static const int privileged_files[] = {CAP_SETFCAP, CAP_FSETID};
        for (size_t i = 0; !c->policy.allow_privileged_files && i < ARRAY_SIZE(privileged_files); i++)
                if (prctl(PR_CAPBSET_DROP, privileged_files[i], 0, 0, 0) < 0)
                        return errno;
        if (!c->policy.allow_devices && prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) < 0)
                return errno;
        if (!c->filter.filter)
                return 0;
        /* virtiofsd runs as root without the jail: no_new_privs is not needed for it to exec, only for the filter. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &c->filter) < 0)
                return errno;
        return 0;
}
