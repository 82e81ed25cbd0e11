/*
 * The sandbox's share: what virtiofsd serves the guest. Each container of the
 * VM has <id>/ at the share's top: its rootfs at rootfs/, each bind mount's
 * host source at mounts/<index>. The bind mounts are made in the
 * supervisor's private mount namespace (virtiofsd shares it), so none of them
 * shows on the host. The mounts come as detached trees (open_tree): made in
 * the caller's mount namespace, they carry mounts made there after the
 * supervisor started, such as a pod member's overlay rootfs under a private
 * mount, which a bind made in the supervisor would not see.
 *
 * What the guest may do through it (docs/security.md): write only in a
 * rootfs whose spec is not root.readonly and in read-write volumes. So:
 * - the share's top (shared/ in the state directory) is a small tmpfs of its
 *   own, mounted read-only, nodev, nosuid, noexec; the supervisor makes the
 *   directories in it through a writable detached clone that only it holds,
 *   so the guest never sees a writable top, not even while a pod member is
 *   added, and never anything of the state directory;
 * - each tree is nodev and nosuid on the host side, recursively, before it
 *   is attached (a device node in a rootfs image opens nothing on the host),
 *   and read-only, recursively, when the spec says so (root.readonly, an ro
 *   volume), whatever the guest kernel asks;
 * - the top is a mount point with shared propagation (MS_SHARED): a
 *   virtiofsd in a mount namespace of its own (a slave copy made later)
 *   still receives the trees attached after it started, for pod members.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

#define SHARE_TOP "shared" /* relative: the supervisor's cwd is the sandbox's state directory */
/* The top's size: directories only, a few inodes per container. */
#define SHARE_TOP_OPTIONS {{"size", "1m"}, {"nr_inodes", "4096"}, {"mode", "0755"}}

/*
 * A writable clone of the share's top, held by the supervisor alone: the
 * one process-wide handle, as the share is the supervisor's, one per process.
 */
static int top_rw = -1;

static int sys_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long resolve)
{
        struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
        int fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

int share_setup(cocoon_error **err)
{
        int r = mkdir_p(SHARE_TOP, 0755);
        if (r < 0)
                return error_sys(err, -r, "creating the share");
        _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
                return error_sys(err, errno, "creating the share's tmpfs");
        static const char *const options[][2] = SHARE_TOP_OPTIONS;
        for (size_t i = 0; i < ARRAY_SIZE(options); i++)
                if (fsconfig(fs, FSCONFIG_SET_STRING, options[i][0], options[i][1], 0) < 0)
                        return error_sys(err, errno, "the share's tmpfs: %s=%s", options[i][0], options[i][1]);
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return error_sys(err, errno, "creating the share's tmpfs");
        _cleanup_close_ int mnt =
                fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (mnt < 0 || move_mount(mnt, "", AT_FDCWD, SHARE_TOP, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return error_sys(err, errno, "mounting the share's tmpfs");
        /* The writable handle first, then the top read-only and shared for virtiofsd (see the top of this file). */
        int rw = open_tree(AT_FDCWD, SHARE_TOP, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        if (rw < 0 || mount_setattr(AT_FDCWD, SHARE_TOP, AT_SYMLINK_NOFOLLOW, &ro, sizeof(ro)) < 0 ||
            mount(NULL, SHARE_TOP, NULL, MS_SHARED, NULL) < 0) {
                r = error_sys(err, errno, "making the share read-only and shared");
                if (rw >= 0)
                        close(rw);
                (void) umount2(SHARE_TOP, MNT_DETACH | UMOUNT_NOFOLLOW);
                return r;
        }
        top_rw = rw;
        return 0;
}

void share_teardown(void)
{
        if (top_rw >= 0)
                close(top_rw);
        top_rw = -1;
        (void) umount2(SHARE_TOP, MNT_DETACH | UMOUNT_NOFOLLOW);
}

/* Makes name in dirfd, a file or a directory; one that exists already is fine. */
static int make_entry(int dirfd, const char *name, bool file)
{
        int fd = file ? openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)
                      : mkdirat(dirfd, name, 0755);
        if (fd < 0)
                return errno == EEXIST ? 0 : -errno;
        if (file)
                close(fd);
        return 0;
}

/* Makes path (relative to the writable top) as a directory, or a file when file, with its parents. */
static int make_in_top(const char *path, bool file)
{
        if (top_rw < 0)
                return -EBADF;
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p;; s++) {
                bool last = !(s = strchr(s, '/'));
                if (!last)
                        *s = '\0';
                int r = make_entry(top_rw, p, last && file);
                if (r < 0)
                        return r;
                if (last)
                        return 0;
                *s = '/';
        }
}

/*
 * A read-only rootfs gets the mount points of the spec's mounts before it
 * turns read-only, as runc makes them on the host: the guest could not.
 */
static int make_mount_points(int rootfs, const struct bundle *b, const struct share_trees *trees, cocoon_error **err)
{
        size_t k = 0;
        for (size_t i = 0; i < b->spec->n_mounts; i++) {
                bool file = false;
                if (k < trees->n_binds && trees->indexes[k] == i) {
                        struct stat st;
                        if (fstat(trees->fds[++k], &st) < 0)
                                return error_sys(err, errno, "mounts[%zu]", i);
                        file = !S_ISDIR(st.st_mode);
                }
                /* As the guest would make it: the image's symlinks, dangling ones too, resolve inside the rootfs. */
                int r = open_in_root(rootfs, b->spec->mounts[i].destination, file ? S_IFREG : S_IFDIR);
                if (r >= 0)
                        close(r);
                if (r < 0)
                        return error_sys(err, -r, "mounts[%zu]: creating the mount point %s in the read-only rootfs", i,
                                         b->spec->mounts[i].destination);
        }
        return 0;
}

/*
 * Attaches a detached tree at target (relative to the top), made as a
 * directory or a file like the tree's root, after making it nodev and
 * nosuid, and read-only when ro, all the way down.
 */
static int attach_tree(int fd, const char *target, bool ro, cocoon_error **err)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (ro ? MOUNT_ATTR_RDONLY : 0)};
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                return error_sys(err, errno, "setting nodev,nosuid%s on %s", ro ? ",ro" : "", target);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_sys(err, errno, "%s", target);
        int r = make_in_top(target, !S_ISDIR(st.st_mode));
        if (r < 0)
                return error_sys(err, -r, "creating %s in the share", target);
        /* Where it goes, as the guest sees the top: no symlink, no mount crossed. */
        _cleanup_close_ int top = open(SHARE_TOP, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int at = top < 0 ? -errno
                                         : sys_openat2(top, target, O_PATH | O_NOFOLLOW,
                                                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
        if (at < 0)
                return error_sys(err, -at, "opening %s in the share", target);
        if (move_mount(fd, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return error_sys(err, errno, "mounting %s", target);
        return 0;
}

int share_container(const char *id, const struct bundle *b, const struct share_trees *trees, cocoon_error **err)
{
        _cleanup_free_ char *target = NULL;
        if (asprintf(&target, "%s/rootfs", id) < 0)
                return -ENOMEM;
        int r = trees->n == trees->n_binds + 1 ? 0 : error_set(err, EINVAL, "no tree for each bind mount");
        if (r >= 0 && b->spec->root_readonly)
                r = make_mount_points(trees->fds[0], b, trees, err);
        if (r >= 0)
                r = attach_tree(trees->fds[0], target, b->spec->root_readonly, err);
        if (r < 0)
                r = error_wrap(err, r, "sharing the rootfs %s", b->rootfs);
        /*
         * Volumes: each bind mount's source goes to <id>/mounts/<index>,
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
                if (asprintf(&dest, "%s/mounts/%u", id, i) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = attach_tree(trees->fds[k + 1], dest, ro, err);
                if (r < 0)
                        r = error_wrap(err, r, "mounts[%u]: %s into the VM's share", i, source);
        }
        if (r < 0)
                share_release(id);
        return r < 0 ? r : 0;
}

/* Detaches what is mounted at top/path, never following a symlink there. */
static void detach(const char *path)
{
        _cleanup_free_ char *p = path_join(SHARE_TOP, path);
        if (p)
                (void) umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW);
}

void share_release(const char *id)
{
        _cleanup_free_ char *rootfs = NULL, *mounts = NULL, *dir = NULL;
        if (top_rw < 0 || asprintf(&rootfs, "%s/rootfs", id) < 0 || asprintf(&mounts, "%s/mounts", id) < 0 ||
            asprintf(&dir, "/proc/self/fd/%d/%s", top_rw, id) < 0)
                return;
        /* Detached, with everything mounted below them: the container's files stay where they are. */
        detach(rootfs);
        int mfd = openat(top_rw, mounts, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = mfd >= 0 ? fdopendir(mfd) : NULL;
        if (!d && mfd >= 0)
                close(mfd);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *m = path_join(mounts, de->d_name);
                if (m)
                        detach(m);
        }
        if (d)
                closedir(d);
        /* In the writable clone, where nothing is mounted; a mount point still in use refuses (EBUSY). */
        (void) remove_tree(dir);
}
