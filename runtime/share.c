/*
 * The sandbox's share: what virtiofsd serves the guest. Each container of the
 * VM has shared/<id>/ in the sandbox's state directory: its rootfs at
 * rootfs/, each bind mount's host source at mounts/<index>. The bind mounts
 * are made in the supervisor's private mount namespace (virtiofsd shares
 * it), so none of them shows on the host.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fsutil.h"
#include "mount.h"
#include "runtime.h"

/*
 * Volumes: a bind mount's source is a host path, which the guest reaches
 * only through the share. Each goes to shared/<id>/mounts/<index>, read-only
 * on this side too when the spec says ro; the agent is told which of the
 * spec's mounts to take from there.
 */
static int share_bind_mounts(const char *id, const struct bundle *b, uint32_t *indexes, size_t *n,
                             cocoon_error **err)
{
        const struct oci_spec *spec = b->spec;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct spec_mount *m = &spec->mounts[i];
                unsigned long flags = 0, propagation = 0;
                _cleanup_free_ char *data = NULL;
                int r = mount_parse_options(m->options, m->n_options, &flags, &propagation, &data, err);
                if (r < 0)
                        return error_wrap(err, "mounts[%zu] (%s)", i, m->destination);
                if (!mount_is_bind(m, flags))
                        continue;
                if (!m->source)
                        return error_set(err, EINVAL, "mounts[%zu] (%s): a bind mount needs a source", i,
                                         m->destination);
                _cleanup_free_ char *source = m->source[0] == '/' ? strdup(m->source) : path_join(b->dir, m->source);
                _cleanup_free_ char *target = NULL;
                if (!source || asprintf(&target, "shared/%s/mounts/%zu", id, i) < 0)
                        return -ENOMEM;
                struct stat st;
                if (stat(source, &st) < 0)
                        return error_sys(err, errno, "mounts[%zu]: source %s", i, source);
                r = S_ISDIR(st.st_mode) ? mkdir_p(target, 0755) : touch_p(target);
                if (r < 0)
                        return error_sys(err, -r, "creating %s", target);
                if (mount(source, target, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
                        return error_sys(err, errno, "mounts[%zu]: bind mounting %s into the VM's share", i, source);
                if ((flags & MS_RDONLY) &&
                    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                        return error_sys(err, errno, "mounts[%zu]: making %s read-only", i, source);
                indexes[(*n)++] = (uint32_t) i;
        }
        return 0;
}

int share_container(const char *id, const struct bundle *b, uint32_t **ret_mounts, size_t *ret_n,
                    cocoon_error **err)
{
        _cleanup_free_ char *target = NULL;
        if (asprintf(&target, "shared/%s/rootfs", id) < 0)
                return -ENOMEM;
        int r = mkdir_p(target, 0755);
        if (r < 0)
                return error_sys(err, -r, "creating %s", target);
        if (mount(b->rootfs, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
                r = error_sys(err, errno, "bind mounting the rootfs %s", b->rootfs);
                share_release(id);
                return r;
        }
        _cleanup_free_ uint32_t *indexes = calloc(b->spec->n_mounts + 1, sizeof(uint32_t));
        size_t n = 0;
        r = indexes ? share_bind_mounts(id, b, indexes, &n, err) : -ENOMEM;
        if (r < 0) {
                share_release(id);
                return r;
        }
        *ret_mounts = TAKE_PTR(indexes);
        *ret_n = n;
        return 0;
}

void share_release(const char *id)
{
        _cleanup_free_ char *dir = NULL, *rootfs = NULL, *mounts = NULL;
        if (asprintf(&dir, "shared/%s", id) < 0 || asprintf(&rootfs, "%s/rootfs", dir) < 0 ||
            asprintf(&mounts, "%s/mounts", dir) < 0)
                return;
        /* Detached, with everything mounted below them: the container's files stay where they are. */
        (void) umount2(rootfs, MNT_DETACH);
        DIR *d = opendir(mounts);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *m = path_join(mounts, de->d_name);
                if (m)
                        (void) umount2(m, MNT_DETACH);
        }
        if (d)
                closedir(d);
        /* remove_tree never crosses a mount, should one have stayed. */
        (void) remove_tree(dir);
}
