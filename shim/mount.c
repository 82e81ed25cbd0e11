/*
 * The container's rootfs as containerd's snapshotter describes it (an
 * overlay, or a bind mount), mounted by the shim onto the bundle's rootfs/
 * and unmounted at delete, as the runtime v2 contract asks of a shim.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "cleanup.h"
#include "fsutil.h"
#include "shim.h"

static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} flags[] = {
        {"ro", false, MS_RDONLY},      {"rw", true, MS_RDONLY},       {"nosuid", false, MS_NOSUID},
        {"suid", true, MS_NOSUID},     {"nodev", false, MS_NODEV},    {"dev", true, MS_NODEV},
        {"noexec", false, MS_NOEXEC},  {"exec", true, MS_NOEXEC},     {"bind", false, MS_BIND},
        {"rbind", false, MS_BIND | MS_REC}, {"noatime", false, MS_NOATIME}, {"relatime", false, MS_RELATIME},
        {"sync", false, MS_SYNCHRONOUS}, {"defaults", false, 0},
};

/* Options as mount(8) takes them: flags, and the rest as the filesystem's data. */
static int split_options(char *const *opts, size_t n, unsigned long *ret_flags, char **ret_data)
{
        unsigned long f = 0;
        size_t cap = 1;
        for (size_t i = 0; i < n; i++)
                cap += strlen(opts[i]) + 1;
        char *data = calloc(cap, 1);
        if (!data)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t k;
                for (k = 0; k < ARRAY_SIZE(flags); k++)
                        if (strcmp(opts[i], flags[k].name) == 0)
                                break;
                if (k < ARRAY_SIZE(flags)) {
                        if (flags[k].clear)
                                f &= ~flags[k].flag;
                        else
                                f |= flags[k].flag;
                        continue;
                }
                if (*data)
                        strcat(data, ",");
                strcat(data, opts[i]);
        }
        *ret_flags = f;
        *ret_data = data;
        return 0;
}

int shim_mount_rootfs(const char *bundle, Cocoon__Shim__Mount *const *mounts, size_t n, cocoon_error **err)
{
        _cleanup_free_ char *target = path_join(bundle, "rootfs");
        if (!target)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Cocoon__Shim__Mount *m = mounts[i];
                unsigned long f;
                _cleanup_free_ char *data = NULL;
                if (split_options(m->options, m->n_options, &f, &data) < 0)
                        return -ENOMEM;
                int r = 0;
                if (f & MS_BIND) {
                        r = mount(m->source, target, NULL, f & (MS_BIND | MS_REC), NULL);
                        if (r == 0 && (f & ~(MS_BIND | MS_REC)))
                                r = mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | (f & ~(MS_BIND | MS_REC)), NULL);
                } else {
                        r = mount(m->source, target, m->type, f, *data ? data : NULL);
                }
                if (r < 0) {
                        r = error_sys(err, errno, "mounting the rootfs (%s %s) on %s", m->type, m->source, target);
                        shim_unmount_rootfs(bundle);
                        return r;
                }
        }
        return 0;
}

void shim_unmount_rootfs(const char *bundle)
{
        _cleanup_free_ char *target = path_join(bundle, "rootfs");
        /* Every layer mounted there, the last first. */
        while (target && umount2(target, MNT_DETACH) == 0)
                ;
}
