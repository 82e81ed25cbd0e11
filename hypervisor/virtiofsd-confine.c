/*
 * What virtiofsd may not do on the guest's behalf, set up in its child just
 * before exec (so that the jail step can call it from wherever it runs).
 *
 * Capabilities: CAP_MKNOD (device nodes), CAP_SETFCAP (security.capability,
 * file capabilities) and CAP_FSETID leave the bounding set, unless the
 * operator's share_policy allows what they are for. virtiofsd's -o modcaps drops them from the threads
 * that serve the guest, but threads started before it applies its list (the
 * C virtiofsd has one, QEMU's RCU thread) keep every capability it had; out
 * of the bounding set, no thread of it has them, whatever it does.
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
 */
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "hypervisor.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif

int virtiofsd_confine(void *policy)
{
        const struct share_policy *p = policy;
        static const int privileged_files[] = {CAP_SETFCAP, CAP_FSETID};
        for (size_t i = 0; !p->allow_privileged_files && i < 2; i++)
                if (prctl(PR_CAPBSET_DROP, privileged_files[i], 0, 0, 0) < 0)
                        return -errno;
        if (!p->allow_devices && prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) < 0)
                return -errno;
        if (p->allow_privileged_files)
                return 0;
        static const struct {
                int nr;
                unsigned mode_arg;
        } calls[] = {
                {__NR_chmod, 1},   {__NR_fchmod, 1},   {__NR_fchmodat, 2}, {__NR_fchmodat2, 2}, {__NR_open, 2},
                {__NR_openat, 3},  {__NR_creat, 1},    {__NR_mknod, 1},    {__NR_mknodat, 2},
        };
        static const unsigned bits[] = {S_ISUID, S_ISGID};
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; r == 0 && i < sizeof(calls) / sizeof(calls[0]); i++)
                for (size_t b = 0; r == 0 && b < 2; b++)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i].nr, 1,
                                             SCMP_CMP(calls[i].mode_arg, SCMP_CMP_MASKED_EQ, bits[b], bits[b]));
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), __NR_openat2, 0);
        if (r == 0)
                r = seccomp_load(ctx); /* sets no_new_privs: virtiofsd needs no setuid exec */
        seccomp_release(ctx);
        return r;
}
