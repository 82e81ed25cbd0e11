/*
 * The sandbox's share: what virtiofsd serves the guest. Each container of the
 * VM has shared/<id>/ in the sandbox's state directory: its rootfs at
 * rootfs/, each bind mount's host source at mounts/<index>. The bind mounts
 * are made in the supervisor's private mount namespace (virtiofsd shares
 * it), so none of them shows on the host. The mounts come as detached trees
 * (open_tree): made in the caller's mount namespace, they carry mounts made
 * there after the supervisor started, such as a pod member's overlay rootfs
 * under a private mount, which a bind made in the supervisor would not see.
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

/* The spec's mount i as a bind mount: its host source (absolute) and whether it is recursive. */
static int bind_source(const struct bundle *b, size_t i, char **ret_source, bool *ret_rec, bool *ret_ro,
                       cocoon_error **err)
{
        const struct spec_mount *m = &b->spec->mounts[i];
        unsigned long flags = 0, propagation = 0;
        _cleanup_free_ char *data = NULL;
        *ret_source = NULL;
        int r = mount_parse_options(m->options, m->n_options, &flags, &propagation, &data, err);
        if (r < 0)
                return error_wrap(err, "mounts[%zu] (%s)", i, m->destination);
        if (!mount_is_bind(m, flags))
                return 0;
        if (!m->source)
                return error_set(err, EINVAL, "mounts[%zu] (%s): a bind mount needs a source", i, m->destination);
        *ret_source = m->source[0] == '/' ? strdup(m->source) : path_join(b->dir, m->source);
        *ret_rec = flags & MS_REC;
        *ret_ro = flags & MS_RDONLY;
        return *ret_source ? 1 : -ENOMEM;
}

/* A detached copy of the mount tree at path (open_tree), to be attached in another mount namespace. */
static int clone_tree(const char *path, bool recursive, const char *what, cocoon_error **err)
{
        int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (fd < 0)
                return error_sys(err, errno, "%s %s", what, path);
        return fd;
}

int share_open_trees(const struct bundle *b, struct share_trees *ret, cocoon_error **err)
{
        *ret = (struct share_trees) {0};
        ret->fds = calloc(b->spec->n_mounts + 1, sizeof(int));
        ret->indexes = calloc(b->spec->n_mounts + 1, sizeof(uint32_t));
        if (!ret->fds || !ret->indexes) {
                share_trees_close(ret);
                return -ENOMEM;
        }
        int r = clone_tree(b->rootfs, true, "the rootfs", err);
        if (r >= 0)
                ret->fds[ret->n++] = r;
        for (size_t i = 0; r >= 0 && i < b->spec->n_mounts; i++) {
                _cleanup_free_ char *source = NULL;
                bool rec = false, ro = false;
                r = bind_source(b, i, &source, &rec, &ro, err);
                if (r <= 0)
                        continue;
                r = clone_tree(source, rec, "source", err);
                if (r < 0)
                        r = error_wrap(err, "mounts[%zu]", i);
                else {
                        ret->indexes[ret->n - 1] = (uint32_t) i;
                        ret->fds[ret->n++] = r;
                }
        }
        if (r >= 0 && ret->n > SHARE_MAX_TREES)
                r = error_set(err, E2BIG, "mounts: %zu bind mounts; a VM's share takes at most %d", ret->n - 1,
                              SHARE_MAX_TREES - 1);
        if (r < 0)
                share_trees_close(ret);
        return r < 0 ? r : 0;
}

int share_adopt_trees(const struct bundle *b, struct conn *from, struct share_trees *ret, cocoon_error **err)
{
        *ret = (struct share_trees) {0};
        ret->fds = calloc(SHARE_MAX_TREES + 1, sizeof(int));
        ret->indexes = calloc(b->spec->n_mounts + 1, sizeof(uint32_t));
        if (!ret->fds || !ret->indexes) {
                share_trees_close(ret);
                return -ENOMEM;
        }
        for (int fd; ret->n < SHARE_MAX_TREES && (fd = conn_take_fd(from)) >= 0;)
                ret->fds[ret->n++] = fd;
        /* The same order as share_open_trees(): the rootfs, then the bind mounts as the spec lists them. */
        size_t binds = 0;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < b->spec->n_mounts; i++) {
                _cleanup_free_ char *source = NULL;
                bool rec, ro;
                r = bind_source(b, i, &source, &rec, &ro, err);
                if (r > 0)
                        ret->indexes[binds++] = (uint32_t) i;
        }
        if (r >= 0 && ret->n != binds + 1)
                r = error_set(err, EINVAL, "%zu mount trees came for the rootfs and %zu bind mounts", ret->n, binds);
        if (r < 0)
                share_trees_close(ret);
        return r < 0 ? r : 0;
}

void share_trees_close(struct share_trees *t)
{
        for (size_t i = 0; t->fds && i < t->n; i++)
                if (t->fds[i] >= 0)
                        close(t->fds[i]);
        free(t->fds);
        free(t->indexes);
        *t = (struct share_trees) {0};
}

/* Attaches a detached tree at target, made as a directory or a file like the tree's root. */
static int attach_tree(int fd, const char *target, cocoon_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_sys(err, errno, "%s", target);
        int r = S_ISDIR(st.st_mode) ? mkdir_p(target, 0755) : touch_p(target);
        if (r < 0)
                return error_sys(err, -r, "creating %s", target);
        if (move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return error_sys(err, errno, "mounting %s", target);
        return 0;
}

int share_container(const char *id, const struct bundle *b, const struct share_trees *trees, uint32_t **ret_mounts,
                    size_t *ret_n, cocoon_error **err)
{
        _cleanup_free_ char *target = NULL;
        _cleanup_free_ uint32_t *indexes = calloc(trees->n + 1, sizeof(uint32_t));
        if (!indexes || asprintf(&target, "shared/%s/rootfs", id) < 0)
                return -ENOMEM;
        int r = trees->n ? attach_tree(trees->fds[0], target, err) : error_set(err, EINVAL, "no rootfs to share");
        if (r < 0)
                r = error_wrap(err, "sharing the rootfs %s", b->rootfs);
        size_t n = 0;
        /*
         * Volumes: each bind mount's source goes to shared/<id>/mounts/<index>,
         * read-only on this side too when the spec says ro; the agent is told
         * which of the spec's mounts to take from there.
         */
        for (size_t k = 1; r >= 0 && k < trees->n; k++) {
                uint32_t i = trees->indexes[k - 1];
                const struct spec_mount *m = i < b->spec->n_mounts ? &b->spec->mounts[i] : NULL;
                _cleanup_free_ char *source = NULL, *dest = NULL;
                bool rec = false, ro = false;
                r = m ? bind_source(b, i, &source, &rec, &ro, err) : 0;
                if (r == 0)
                        r = error_set(err, EINVAL, "shared mount %u is not a bind mount of the bundle", i);
                if (r < 0)
                        break;
                if (asprintf(&dest, "shared/%s/mounts/%u", id, i) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = attach_tree(trees->fds[k], dest, err);
                if (r >= 0 && ro && mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                        r = error_sys(err, errno, "making %s read-only", dest);
                if (r < 0)
                        r = error_wrap(err, "mounts[%u]: %s into the VM's share", i, source);
                else
                        indexes[n++] = i;
        }
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
