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
                return error_wrap(err, r, "mounts[%zu] (%s)", i, m->destination);
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

/* Lists the spec's bind mounts in t->indexes, in order, and room for their fds and the rootfs's. */
static int list_binds(const struct bundle *b, struct share_trees *t, cocoon_error **err)
{
        *t = (struct share_trees) {0};
        t->fds = calloc(b->spec->n_mounts + 1, sizeof(int));
        t->indexes = calloc(b->spec->n_mounts + 1, sizeof(uint32_t));
        if (!t->fds || !t->indexes)
                return -ENOMEM;
        for (size_t i = 0; i < b->spec->n_mounts; i++) {
                _cleanup_free_ char *source = NULL;
                bool rec, ro;
                int r = bind_source(b, i, &source, &rec, &ro, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        t->indexes[t->n_binds++] = (uint32_t) i;
        }
        if (t->n_binds + 1 > SHARE_MAX_TREES)
                return error_set(err, E2BIG, "mounts: %zu bind mounts; a VM's share takes at most %d", t->n_binds,
                                 SHARE_MAX_TREES - 1);
        return 0;
}

int share_open_trees(const struct bundle *b, struct share_trees *ret, cocoon_error **err)
{
        int r = list_binds(b, ret, err);
        if (r >= 0)
                r = clone_tree(b->rootfs, true, "the rootfs", err);
        if (r >= 0)
                ret->fds[ret->n++] = r;
        for (size_t k = 0; r >= 0 && k < ret->n_binds; k++) {
                uint32_t i = ret->indexes[k];
                _cleanup_free_ char *source = NULL;
                bool rec, ro;
                r = bind_source(b, i, &source, &rec, &ro, err);
                if (r >= 0)
                        r = clone_tree(source, rec, "source", err);
                if (r < 0)
                        r = error_wrap(err, r, "mounts[%u]", i);
                else
                        ret->fds[ret->n++] = r;
        }
        if (r < 0)
                share_trees_close(ret);
        return r < 0 ? r : 0;
}

int share_adopt_trees(const struct bundle *b, struct conn *from, struct share_trees *ret, cocoon_error **err)
{
        int r = list_binds(b, ret, err);
        for (int fd; r >= 0 && ret->n <= ret->n_binds && (fd = conn_take_fd(from)) >= 0;)
                ret->fds[ret->n++] = fd;
        int extra = r >= 0 ? conn_take_fd(from) : -1;
        if (extra >= 0)
                close(extra); /* the caller drops the rest */
        if (r >= 0 && (ret->n != ret->n_binds + 1 || extra >= 0))
                r = error_set(err, EINVAL, "the mount trees that came do not match the rootfs and %zu bind mounts",
                              ret->n_binds);
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

int share_container(const char *id, const struct bundle *b, const struct share_trees *trees, cocoon_error **err)
{
        _cleanup_free_ char *target = NULL;
        if (asprintf(&target, "shared/%s/rootfs", id) < 0)
                return -ENOMEM;
        int r = trees->n == trees->n_binds + 1 ? attach_tree(trees->fds[0], target, err)
                                               : error_set(err, EINVAL, "no tree for each bind mount");
        if (r < 0)
                r = error_wrap(err, r, "sharing the rootfs %s", b->rootfs);
        /*
         * Volumes: each bind mount's source goes to shared/<id>/mounts/<index>,
         * read-only on this side too when the spec says ro; the agent is told
         * which of the spec's mounts to take from there.
         */
        for (size_t k = 0; r >= 0 && k < trees->n_binds; k++) {
                uint32_t i = trees->indexes[k];
                _cleanup_free_ char *source = NULL, *dest = NULL;
                bool rec, ro;
                r = bind_source(b, i, &source, &rec, &ro, err);
                if (r == 0)
                        r = error_set(err, EINVAL, "mounts[%u] is not a bind mount", i);
                if (r < 0)
                        break;
                if (asprintf(&dest, "shared/%s/mounts/%u", id, i) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = attach_tree(trees->fds[k + 1], dest, err);
                if (r >= 0 && ro && mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                        r = error_sys(err, errno, "making %s read-only", dest);
                if (r < 0)
                        r = error_wrap(err, r, "mounts[%u]: %s into the VM's share", i, source);
        }
        if (r < 0)
                share_release(id);
        return r < 0 ? r : 0;
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
