#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        char *p = NULL;
        if (asprintf(&p, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return p;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int touch_p(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                int r = mkdir_p(dir, 0755);
                if (r < 0)
                        return r;
        }
        /* Read-only: an existing file on a read-only filesystem (a read-only rootfs) is enough. */
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        /*
         * st_size is only a hint for the first allocation: sysfs says 4096 and
         * procfs 0 whatever they hold. The read loop enforces max.
         * Room for one byte more than max, to see that there is more; +1 for the NUL.
         */
        size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t) st.st_size + 1 : 4096;
        if (cap > max + 1)
                cap = max + 1;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG;
                        size_t bigger = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *b = realloc(buf, bigger + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = bigger;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= n;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

static int remove_at(int dirfd, const char *name, dev_t dev)
{
        struct statx stx;
        if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(stx.stx_mode))
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        /*
         * Never descend into a mount, not even a bind mount of the same
         * filesystem (same st_dev): a rootfs bind-mounted under a state
         * directory must survive the removal of that directory.
         */
        if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev ||
            ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)))
                return -EBUSY;

        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int q = remove_at(fd, de->d_name, dev);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

int remove_tree(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return remove_at(AT_FDCWD, path, st.st_dev);
}

static int openat2_in_root_flags(int rootfd, const char *path, uint64_t flags)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC | flags, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        int fd;
        do
                fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd < 0 ? -errno : fd;
}

static int openat2_in_root(int rootfd, const char *path)
{
        return openat2_in_root_flags(rootfd, path, 0);
}

int lstat_in_root(int rootfd, const char *path, struct stat *st)
{
        _cleanup_close_ int fd = openat2_in_root_flags(rootfd, path, O_NOFOLLOW);
        if (fd < 0)
                return fd;
        return fstat(fd, st) < 0 ? -errno : 0;
}

/* Creates what is missing of path under rootfd, with symlinks resolved inside it; depth bounds symlink loops. */
static int open_in_root_depth(int rootfd, const char *path, mode_t create, int depth)
{
        int fd = openat2_in_root(rootfd, path);
        if (fd != -ENOENT || create == 0)
                return fd;
        if (depth > 40)
                return -ELOOP;
        /* The parent, then the last component: "a/b//" is "a" and "b". */
        _cleanup_free_ char *parent = strdup(path);
        if (!parent)
                return -ENOMEM;
        size_t n = strlen(parent);
        while (n > 0 && parent[n - 1] == '/')
                parent[--n] = '\0';
        char *slash = strrchr(parent, '/');
        const char *base = slash ? slash + 1 : parent;
        if (!*base)
                return -ENOENT;
        if (slash)
                *slash = '\0';
        const char *dir = slash ? (*parent ? parent : "/") : ".";
        /* An O_PATH fd serves as the directory of the *at() calls. */
        _cleanup_close_ int dfd = open_in_root_depth(rootfd, dir, S_IFDIR, depth + 1);
        if (dfd < 0)
                return dfd;
        int r = create == S_IFDIR ? mkdirat(dfd, base, 0755) : mknodat(dfd, base, S_IFREG | 0644, 0);
        if (r < 0 && errno == EEXIST) {
                /* A dangling symlink: create its target, inside the root too. */
                char target[PATH_MAX];
                ssize_t len = readlinkat(dfd, base, target, sizeof(target) - 1);
                if (len < 0)
                        return errno == EINVAL ? -EEXIST : -errno;
                target[len] = '\0';
                _cleanup_free_ char *resolved = NULL;
                if (target[0] == '/')
                        resolved = strdup(target);
                else
                        resolved = path_join(dir, target);
                if (!resolved)
                        return -ENOMEM;
                _cleanup_close_ int tfd = open_in_root_depth(rootfd, resolved, create, depth + 1);
                if (tfd < 0)
                        return tfd;
        } else if (r < 0) {
                return -errno;
        }
        return openat2_in_root(rootfd, path);
}

int open_in_root(int rootfd, const char *path, mode_t create)
{
        return open_in_root_depth(rootfd, path, create, 0);
}

char *fd_path(int fd)
{
        char *p = NULL;
        return asprintf(&p, "/proc/self/fd/%d", fd) < 0 ? NULL : p;
}

static int copy_tree_depth(int src_dir, int dst_dir, int depth);

static int copy_file_at(int src_dir, int dst_dir, const char *name)
{
        _cleanup_close_ int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        _cleanup_close_ int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                int r = write_all(out, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return n < 0 ? -errno : 0;
}

/* What copy_tree makes of one entry; its owner and mode are set by the caller. */
static int copy_entry(int src_dir, int dst_dir, const char *name, const struct stat *st, int depth)
{
        if (S_ISDIR(st->st_mode)) {
                if (mkdirat(dst_dir, name, 0700) < 0)
                        return -errno;
                _cleanup_close_ int s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s < 0 || d < 0)
                        return -errno;
                return depth >= 64 ? -ELOOP : copy_tree_depth(s, d, depth + 1);
        }
        if (S_ISREG(st->st_mode))
                return copy_file_at(src_dir, dst_dir, name);
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                ssize_t len = readlinkat(src_dir, name, target, sizeof(target) - 1);
                if (len < 0)
                        return -errno;
                target[len] = '\0';
                return symlinkat(target, dst_dir, name) < 0 ? -errno : 0;
        }
        /* Devices, fifos and sockets: the node itself. */
        return mknodat(dst_dir, name, st->st_mode & S_IFMT, st->st_rdev) < 0 ? -errno : 0;
}

static int copy_tree_depth(int src_dir, int dst_dir, int depth)
{
        int dup_fd = dup(src_dir);
        if (dup_fd < 0)
                return -errno;
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return -errno;
        }
        rewinddir(d);
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(src_dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                r = copy_entry(src_dir, dst_dir, de->d_name, &st, depth);
                if (r == 0 && fchownat(dst_dir, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                if (r == 0 && !S_ISLNK(st.st_mode) && fchmodat(dst_dir, de->d_name, st.st_mode & 07777, 0) < 0)
                        r = -errno;
        }
        closedir(d);
        return r;
}

int copy_tree(int src_dir, int dst_dir)
{
        return copy_tree_depth(src_dir, dst_dir, 0);
}
