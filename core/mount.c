#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} mount_flags[] = {
        {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},         {"nosuid", false, MS_NOSUID},
        {"suid", true, MS_NOSUID},         {"nodev", false, MS_NODEV},      {"dev", true, MS_NODEV},
        {"noexec", false, MS_NOEXEC},      {"exec", true, MS_NOEXEC},       {"sync", false, MS_SYNCHRONOUS},
        {"async", true, MS_SYNCHRONOUS},   {"dirsync", false, MS_DIRSYNC},  {"remount", false, MS_REMOUNT},
        {"mand", false, MS_MANDLOCK},      {"nomand", true, MS_MANDLOCK},   {"atime", true, MS_NOATIME},
        {"noatime", false, MS_NOATIME},    {"diratime", true, MS_NODIRATIME}, {"nodiratime", false, MS_NODIRATIME},
        {"relatime", false, MS_RELATIME},  {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
        {"nostrictatime", true, MS_STRICTATIME}, {"bind", false, MS_BIND},  {"rbind", false, MS_BIND | MS_REC},
};

static const struct {
        const char *name;
        unsigned long flag;
} propagation_flags[] = {
        {"private", MS_PRIVATE},         {"rprivate", MS_PRIVATE | MS_REC},     {"shared", MS_SHARED},
        {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},                   {"rslave", MS_SLAVE | MS_REC},
        {"unbindable", MS_UNBINDABLE},   {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* runc's recursive options: mount_setattr(2) with AT_RECURSIVE, on the mount and every mount below it. */
static const struct {
        const char *name;
        bool clear;
        uint64_t attr, mask; /* mask: the bits attr replaces (the atime field is one value, not flags) */
} recursive_attrs[] = {
        {"rro", false, MOUNT_ATTR_RDONLY, 0},          {"rrw", true, MOUNT_ATTR_RDONLY, 0},
        {"rnosuid", false, MOUNT_ATTR_NOSUID, 0},      {"rsuid", true, MOUNT_ATTR_NOSUID, 0},
        {"rnodev", false, MOUNT_ATTR_NODEV, 0},        {"rdev", true, MOUNT_ATTR_NODEV, 0},
        {"rnoexec", false, MOUNT_ATTR_NOEXEC, 0},      {"rexec", true, MOUNT_ATTR_NOEXEC, 0},
        {"rnodiratime", false, MOUNT_ATTR_NODIRATIME, 0}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME, 0},
        {"rrelatime", false, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME}, {"rnoatime", false, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
        {"rstrictatime", false, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
        {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW, 0}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW, 0},
};

const char *const *mount_option_names(void)
{
        static const char *names[ARRAY_SIZE(mount_flags) + ARRAY_SIZE(propagation_flags) + ARRAY_SIZE(recursive_attrs) + 1];
        if (!names[0]) {
                size_t n = 0;
                for (size_t i = 0; i < ARRAY_SIZE(mount_flags); i++)
                        names[n++] = mount_flags[i].name;
                for (size_t i = 0; i < ARRAY_SIZE(propagation_flags); i++)
                        names[n++] = propagation_flags[i].name;
                for (size_t i = 0; i < ARRAY_SIZE(recursive_attrs); i++)
                        names[n++] = recursive_attrs[i].name;
        }
        return names;
}

/* 1 and the attribute change when o is a recursive option, 0 when it is not. */
static int recursive_attr(const char *o, struct mount_attr *attr)
{
        for (size_t j = 0; j < ARRAY_SIZE(recursive_attrs); j++) {
                if (strcmp(o, recursive_attrs[j].name) != 0)
                        continue;
                uint64_t bits = recursive_attrs[j].attr, mask = recursive_attrs[j].mask;
                if (mask) {
                        attr->attr_clr |= mask;
                        attr->attr_set = (attr->attr_set & ~mask) | bits;
                } else if (recursive_attrs[j].clear) {
                        attr->attr_clr |= bits;
                        attr->attr_set &= ~bits;
                } else {
                        attr->attr_set |= bits;
                        attr->attr_clr &= ~bits;
                }
                return 1;
        }
        return 0;
}

int mount_propagation_flag(const char *name, unsigned long *ret)
{
        for (size_t j = 0; j < ARRAY_SIZE(propagation_flags); j++)
                if (strcmp(name, propagation_flags[j].name) == 0) {
                        *ret = propagation_flags[j].flag;
                        return 0;
                }
        return -EINVAL;
}

static int parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                         char **ret_data, struct mount_attr *ret_attr, bool *ret_copyup, cocoon_error **err);

int mount_parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                        char **ret_data, cocoon_error **err)
{
        return parse_options(options, n, ret_flags, ret_propagation, ret_data, NULL, NULL, err);
}

/*
 * mount_parse_options, and the recursive options' mount_setattr change in
 * *ret_attr (rro also sets MS_RDONLY), and whether a tmpfs gets what its
 * mount point held (runc's and crun's "tmpcopyup", which podman passes;
 * "notmpcopyup" undoes it). Neither is filesystem data.
 */
static int parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                         char **ret_data, struct mount_attr *ret_attr, bool *ret_copyup, cocoon_error **err)
{
        unsigned long flags = 0, propagation = 0;
        bool copyup = false;
        struct mount_attr attr = {0};
        size_t data_len = 0;
        _cleanup_free_ char *data = calloc(1, 1);
        if (!data)
                return error_set(err, ENOMEM, "out of memory");

        for (size_t i = 0; i < n; i++) {
                const char *o = options[i];
                bool known = false;
                for (size_t j = 0; j < ARRAY_SIZE(mount_flags) && !known; j++)
                        if (strcmp(o, mount_flags[j].name) == 0) {
                                if (mount_flags[j].clear)
                                        flags &= ~mount_flags[j].flag;
                                else
                                        flags |= mount_flags[j].flag;
                                known = true;
                        }
                if (!known && mount_propagation_flag(o, &propagation) == 0)
                        known = true;
                if (!known && recursive_attr(o, &attr))
                        known = true;
                if (!known && (strcmp(o, "tmpcopyup") == 0 || strcmp(o, "notmpcopyup") == 0)) {
                        copyup = o[0] == 't';
                        known = true;
                }
                if (known)
                        continue;
                /* Anything else is filesystem data, passed through as the kernel expects it. */
                size_t len = strlen(o);
                char *d = realloc(data, data_len + len + 2);
                if (!d)
                        return error_set(err, ENOMEM, "out of memory");
                data = d;
                if (data_len)
                        data[data_len++] = ',';
                memcpy(data + data_len, o, len + 1);
                data_len += len;
        }
        /* The top mount of an rro one is read-only too: callers that look at MS_RDONLY only see that much. */
        if (attr.attr_set & MOUNT_ATTR_RDONLY)
                flags |= MS_RDONLY;
        *ret_flags = flags;
        *ret_propagation = propagation;
        *ret_data = TAKE_PTR(data);
        if (ret_attr)
                *ret_attr = attr;
        if (ret_copyup)
                *ret_copyup = copyup;
        return 0;
}

bool mount_is_bind(const struct spec_mount *m, unsigned long flags)
{
        return (m->type && strcmp(m->type, "bind") == 0) || (flags & MS_BIND);
}

/*
 * Where the caller's own cgroup is in the unified hierarchy mounted at
 * /sys/fs/cgroup ("/sys/fs/cgroup/cocoon/ID"), or NULL (0) when a cgroup2
 * mount shows it anyway: in a cgroup namespace /proc/self/cgroup reads "0::/".
 */
static int own_cgroup_dir(char **ret, cocoon_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file("/proc/self/cgroup", 64 * 1024, &text, NULL);
        if (r < 0)
                return error_sys(err, -r, "reading /proc/self/cgroup");
        const char *path = NULL;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strncmp(line, "0::", 3) == 0)
                        path = line + 3;
        }
        if (!path || strcmp(path, "/") == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = path_join("/sys/fs/cgroup", path);
        return *ret ? 0 : error_set(err, ENOMEM, "out of memory");
}

/*
 * cgroup2 without a cgroup namespace (podman on a cgroup v1 host asks for
 * none): the container sees its own cgroup at the mount point rather than the
 * guest's root, as with crun, by a bind mount of it from the guest's
 * hierarchy. 1 when done, 0 when a plain mount shows the same.
 */
static int mount_own_cgroup(const char *dest, cocoon_error **err)
{
        _cleanup_free_ char *own = NULL;
        int r = own_cgroup_dir(&own, err);
        if (r < 0 || !own)
                return r;
        if (mount(own, dest, NULL, MS_BIND, NULL) < 0)
                return error_sys(err, errno, "bind mounting the container's cgroup %s", own);
        return 1; /* the caller remounts it with the spec's options, as any bind */
}

/* A mount made read-only once every mount, device and directory of the rootfs is in place. */
struct pending_attr {
        int fd; /* the mount's root, O_PATH */
        const char *destination;
};

/* The rootfs being set up: its bind mount, and what is left to do at the end. */
struct rootfs_ctx {
        int root; /* the root of the rootfs's bind mount, O_PATH */
        bool cgroup2_only;
        struct pending_attr *pending;
        size_t n_pending;
};

static void rootfs_ctx_done(struct rootfs_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_pending; i++)
                close(ctx->pending[i].fd);
        free(ctx->pending);
        if (ctx->root >= 0)
                close(ctx->root);
        *ctx = (struct rootfs_ctx) {.root = -1};
}

static int mount_setattr_fd(int fd, unsigned flags, struct mount_attr *attr)
{
        return syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, attr, sizeof(*attr)) < 0 ? -errno : 0;
}

/*
 * Read-only ("ro", not "rro") is applied last, as runc does for /dev: a
 * read-only mount may hold later mount points, devices and the working
 * directory. It concerns that one mount only, so the result is the same.
 */
static int apply_pending(struct rootfs_ctx *ctx, cocoon_error **err)
{
        for (size_t i = 0; i < ctx->n_pending; i++) {
                struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
                int r = mount_setattr_fd(ctx->pending[i].fd, 0, &ro);
                if (r < 0)
                        return error_sys(err, -r, "making %s read-only", ctx->pending[i].destination);
        }
        return 0;
}

/* Whether the comma-separated filesystem data has the option NAME=... */
static bool has_option(const char *data, const char *name)
{
        size_t len = strlen(name);
        for (const char *o = data; o && *o; o = strchr(o, ',') ? strchr(o, ',') + 1 : NULL)
                if (strncmp(o, name, len) == 0 && o[len] == '=')
                        return true;
        return false;
}

static int mount_one(struct rootfs_ctx *ctx, const struct spec_mount *m, cocoon_error **err)
{
        unsigned long flags, propagation;
        struct mount_attr rec;
        bool copyup;
        _cleanup_free_ char *data = NULL;
        int r = parse_options(m->options, m->n_options, &flags, &propagation, &data, &rec, &copyup, err);
        if (r < 0)
                return r;
        bool bind = mount_is_bind(m, flags);
        const char *type = m->type;
        mode_t kind = S_IFDIR;
        if (bind) {
                struct stat st;
                if (!m->source || stat(m->source, &st) < 0)
                        return error_sys(err, m->source ? errno : ENOENT, "bind mount source %s",
                                         m->source ? m->source : "(none)");
                kind = S_ISDIR(st.st_mode) ? S_IFDIR : S_IFREG;
        } else {
                if (!type)
                        return error_set(err, EINVAL, "mount %s: no type", m->destination);
                /* A guest with only cgroup v2 answers "cgroup" with the unified hierarchy, as runc does on v2 hosts. */
                if (strcmp(type, "cgroup") == 0 && ctx->cgroup2_only)
                        type = "cgroup2";
        }
        /*
         * proc and sysfs go on a real directory only: through a symlink the
         * image planted they would land where maskedPaths do not reach. runc
         * refuses it with the same words.
         */
        if (!bind && (strcmp(type, "proc") == 0 || strcmp(type, "sysfs") == 0)) {
                struct stat st;
                r = lstat_in_root(ctx->root, m->destination, &st);
                if (r < 0 && r != -ENOENT)
                        return error_sys(err, -r, "mount point %s", m->destination);
                if (r == 0 && !S_ISDIR(st.st_mode))
                        return error_set(err, EINVAL, "mount %s: filesystem \"%s\" must be mounted on ordinary directory",
                                         m->destination, type);
        }
        /*
         * A tmpfs without mode= on a directory the rootfs already has takes
         * that directory's mode, set-id and sticky bits included, as runc
         * does: a rootfs whose /tmp is 1777 or 0710 keeps it under the tmpfs.
         */
        if (!bind && strcmp(type, "tmpfs") == 0 && !has_option(data, "mode")) {
                _cleanup_close_ int old = open_in_root(ctx->root, m->destination, 0);
                struct stat st;
                if (old >= 0 && fstat(old, &st) == 0 && S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *d = NULL;
                        if (asprintf(&d, "%s%smode=%04o", data, *data ? "," : "", st.st_mode & 07777) < 0)
                                return error_set(err, ENOMEM, "out of memory");
                        free(data);
                        data = TAKE_PTR(d);
                }
        }
        /* The destination as the container will see it: its symlinks resolve inside the rootfs. */
        _cleanup_close_ int dest_fd = open_in_root(ctx->root, m->destination, kind);
        if (dest_fd < 0)
                return error_sys(err, -dest_fd, "creating mount point %s", m->destination);
        _cleanup_free_ char *dest = fd_path(dest_fd);
        if (!dest)
                return error_set(err, ENOMEM, "out of memory");
        bool ro = flags & MS_RDONLY;
        flags &= ~MS_RDONLY;

        if (bind) {
                if (mount(m->source, dest, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
                        return error_sys(err, errno, "bind mounting %s on %s", m->source, m->destination);
        } else {
                r = strcmp(type, "cgroup2") == 0 && ctx->cgroup2_only ? mount_own_cgroup(dest, err) : 0;
                if (r < 0)
                        return r;
                bind = r == 1;
                if (r == 0 && mount(m->source ? m->source : type, dest, type, flags, data) < 0)
                        return error_sys(err, errno, "mounting %s on %s", type, m->destination);
                if (r == 0 && copyup && strcmp(type, "tmpfs") == 0) {
                        /* dest_fd still names the directory beneath; the path now reaches the tmpfs. */
                        _cleanup_close_ int below = openat(dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        _cleanup_close_ int top = open_in_root(ctx->root, m->destination, 0);
                        _cleanup_close_ int top_dir = top < 0 ? -1 : openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        r = below < 0 || top_dir < 0 ? -errno : copy_tree(below, top_dir);
                        if (r < 0)
                                return error_sys(err, -r, "tmpcopyup: copying what %s held into its tmpfs", m->destination);
                }
        }
        /* Bind mounts ignore other flags until remounted. */
        unsigned long rest = bind ? flags & ~(MS_BIND | MS_REC | MS_REMOUNT) : 0;
        bool recursive = rec.attr_set || rec.attr_clr;
        if (!rest && !propagation && !ro && !recursive)
                return 0;

        /*
         * The path again, now through the new mount: its root. dest names the
         * mount point beneath it (a /proc/self/fd link goes to its file, not
         * to what is mounted on it), where a remount or a propagation change
         * fails with EINVAL.
         */
        _cleanup_close_ int fd = open_in_root(ctx->root, m->destination, 0);
        if (fd < 0)
                return error_sys(err, -fd, "opening the mount %s", m->destination);
        _cleanup_free_ char *mnt = fd_path(fd);
        if (!mnt)
                return error_set(err, ENOMEM, "out of memory");
        if (rest && mount(NULL, mnt, NULL, MS_BIND | MS_REMOUNT | rest, NULL) < 0)
                return error_sys(err, errno, "remounting %s with its options", m->destination);
        if (propagation && mount(NULL, mnt, NULL, propagation, NULL) < 0)
                return error_sys(err, errno, "setting propagation of %s", m->destination);
        if (!ro && !recursive)
                return 0;
        /* rro and the like hold for the mounts below it now, as with runc, not for those the spec adds later. */
        r = recursive ? mount_setattr_fd(fd, AT_RECURSIVE, &rec) : 0;
        if (r < 0)
                return error_sys(err, -r, "mount %s: applying its recursive options (rro, rnosuid...)", m->destination);
        if (!ro)
                return 0;
        struct pending_attr *p = realloc(ctx->pending, (ctx->n_pending + 1) * sizeof(*p));
        if (!p)
                return error_set(err, ENOMEM, "out of memory");
        ctx->pending = p;
        p[ctx->n_pending++] = (struct pending_attr) {.fd = TAKE_FD(fd), .destination = m->destination};
        return 0;
}

static const struct {
        const char *name;
        unsigned major, minor;
} default_devices[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
        const char *target, *name;
} default_links[] = {
        {"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},       {"/proc/kcore", "core"},
};

/*
 * mknod of name in the directory dir, or in a user namespace (where mknod
 * is refused) a bind mount of the same device from the caller's root, as
 * runc does. 0 or -errno; 1 for a bind mount, whose node keeps its owner.
 */
static int make_device(int dir, const char *name, mode_t mode, dev_t dev, const char *host_path)
{
        (void) unlinkat(dir, name, 0);
        if (mknodat(dir, name, mode, dev) == 0)
                return fchmodat(dir, name, mode & 07777, 0) < 0 ? -errno : 0; /* mknod is subject to the umask */
        if (errno != EPERM || !host_path)
                return -errno;
        if (mknodat(dir, name, S_IFREG | 0644, 0) < 0)
                return -errno;
        _cleanup_close_ int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *target = fd < 0 ? NULL : fd_path(fd);
        if (!target)
                return fd < 0 ? -errno : -ENOMEM;
        return mount(host_path, target, NULL, MS_BIND, NULL) < 0 ? -errno : 1;
}

static int create_default_devices(int root, cocoon_error **err)
{
        _cleanup_close_ int dev = open_in_root(root, "/dev", S_IFDIR);
        if (dev < 0)
                return error_sys(err, -dev, "opening /dev");
        for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                _cleanup_free_ char *host = path_join("/dev", default_devices[i].name);
                if (!host)
                        return error_set(err, ENOMEM, "out of memory");
                int r = make_device(dev, default_devices[i].name, S_IFCHR | 0666,
                                    makedev(default_devices[i].major, default_devices[i].minor), host);
                if (r < 0)
                        return error_sys(err, -r, "creating /dev/%s", default_devices[i].name);
        }
        for (size_t i = 0; i < ARRAY_SIZE(default_links); i++)
                if (symlinkat(default_links[i].target, dev, default_links[i].name) < 0 && errno != EEXIST)
                        return error_sys(err, errno, "creating /dev/%s", default_links[i].name);
        return 0;
}

/* linux.devices: each node made with its type, numbers, mode and owner, replacing what was there. */
static int create_spec_devices(const struct oci_spec *spec, int root, cocoon_error **err)
{
        for (size_t i = 0; i < spec->n_devices; i++) {
                const struct spec_device *d = &spec->devices[i];
                /* "/dev/foo/" is /dev/foo, as runc cleans the path. */
                _cleanup_free_ char *parent = strdup(d->path);
                if (!parent)
                        return error_set(err, ENOMEM, "out of memory");
                size_t len = strlen(parent);
                while (len > 1 && parent[len - 1] == '/')
                        parent[--len] = '\0';
                char *slash = strrchr(parent, '/');
                if (!slash || !slash[1])
                        return error_set(err, EINVAL, "linux.devices[%zu]: %s is no device path", i, d->path);
                *slash = '\0';
                const char *name = slash + 1;
                _cleanup_close_ int dir = open_in_root(root, *parent ? parent : "/", S_IFDIR);
                if (dir < 0)
                        return error_sys(err, -dir, "linux.devices[%zu]: creating the directory of %s", i, d->path);
                mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
                mode_t perm = d->has_file_mode ? d->file_mode : 0666;
                _cleanup_free_ char *host = strdup(d->path);
                if (!host)
                        return error_set(err, ENOMEM, "out of memory");
                host[len] = '\0';
                int r = make_device(dir, name, type | perm, makedev(d->major, d->minor), host);
                if (r < 0)
                        return error_sys(err, -r, "linux.devices[%zu]: creating %s", i, d->path);
                if (r == 0 && (d->has_uid || d->has_gid) &&
                    fchownat(dir, name, d->has_uid ? d->uid : (uid_t) -1, d->has_gid ? d->gid : (gid_t) -1,
                             AT_SYMLINK_NOFOLLOW) < 0)
                        return error_sys(err, errno, "linux.devices[%zu]: chown %s", i, d->path);
        }
        return 0;
}

/* One line of /proc/self/mountinfo, as far as the rootfs set-up needs it. */
struct mountinfo {
        int id;
        char *mount_point; /* unescaped */
        const char *fstype;
        bool shared;
};

/* Calls cb for every mount of this process's namespace until it returns non-zero, which is returned. */
static int mountinfo_each(int (*cb)(const struct mountinfo *mi, void *data), void *data)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file("/proc/self/mountinfo", 4 * 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                /* id parent major:minor root mount-point options [optional...] - fstype source super-options */
                char *save = NULL, *field[5];
                int n = 0;
                for (char *f = strtok_r(line, " ", &save); f && n < 5; f = n < 5 ? strtok_r(NULL, " ", &save) : NULL)
                        field[n++] = f;
                if (n < 5)
                        continue;
                struct mountinfo mi = {.id = atoi(field[0]), .mount_point = field[4]};
                for (char *f; (f = strtok_r(NULL, " ", &save)) && strcmp(f, "-") != 0;)
                        if (strncmp(f, "shared:", 7) == 0)
                                mi.shared = true;
                mi.fstype = strtok_r(NULL, " ", &save);
                if (!mi.fstype)
                        continue;
                /* The kernel escapes space, tab, newline and backslash as \ooo. */
                char *o = mi.mount_point;
                for (const char *c = mi.mount_point; *c; c++)
                        if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' && c[3] >= '0' &&
                            c[3] <= '7') {
                                *o++ = (char) ((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
                                c += 3;
                        } else {
                                *o++ = *c;
                        }
                *o = '\0';
                r = cb(&mi, data);
                if (r != 0)
                        return r;
        }
        return 0;
}

struct parent_mount {
        uint64_t id;
        char *mount_point;
};

static int find_shared(const struct mountinfo *mi, void *data)
{
        struct parent_mount *p = data;
        if ((uint64_t) mi->id != p->id)
                return 0;
        if (mi->shared && !(p->mount_point = strdup(mi->mount_point)))
                return -ENOMEM;
        return 1;
}

/*
 * pivot_root refuses a new root whose parent mount is shared (EINVAL), which
 * it is with rootfsPropagation rshared: as runc, make that mount private (in
 * the container's own mount namespace only).
 */
static int make_parent_private(int rootfs, cocoon_error **err)
{
        struct statx stx;
        if (statx(rootfs, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
                return error_sys(err, errno, "finding the mount of the rootfs");
        struct parent_mount p = {.id = stx.stx_mnt_id};
        int r = mountinfo_each(find_shared, &p);
        _cleanup_free_ char *mount_point = p.mount_point;
        if (r < 0)
                return error_sys(err, -r, "reading /proc/self/mountinfo");
        if (mount_point && mount(NULL, mount_point, NULL, MS_PRIVATE, NULL) < 0)
                return error_sys(err, errno, "making %s, the mount that holds the rootfs, private", mount_point);
        return 0;
}

struct outside {
        const char *root; /* the rootfs, canonical */
        int error;
};

static int detach_outside(const struct mountinfo *mi, void *data)
{
        struct outside *o = data;
        size_t n = strlen(o->root);
        if (strcmp(mi->fstype, "proc") != 0 && strcmp(mi->fstype, "sysfs") != 0)
                return 0;
        if (strncmp(mi->mount_point, o->root, n) == 0 && (mi->mount_point[n] == '/' || mi->mount_point[n] == '\0'))
                return 0;
        /* A slave first, so that the unmount does not propagate back to the caller's namespace. */
        if (mount(NULL, mi->mount_point, NULL, MS_SLAVE | MS_REC, NULL) < 0 && errno != EINVAL && errno != ENOENT)
                o->error = errno;
        else if (umount2(mi->mount_point, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                o->error = errno;
        return 0;
}

/*
 * runc's --no-pivot: for a root that pivot_root refuses (an initramfs),
 * the rootfs is moved over / and chrooted into. The old root stays in the
 * mount namespace, and with it the caller's full /proc and /sys: the kernel
 * lets a nested user namespace mount a new proc or sysfs only when one is
 * fully visible, so those are unmounted first (as runc does), or the masked
 * and read-only paths would not hold in a namespace made inside.
 */
static int move_into(int root, cocoon_error **err)
{
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", root);
        char path[PATH_MAX];
        ssize_t n = readlink(self, path, sizeof(path) - 1);
        if (n < 0)
                return error_sys(err, errno, "finding the rootfs's path");
        path[n] = '\0';
        struct outside o = {.root = path};
        int r = mountinfo_each(detach_outside, &o);
        if (r < 0 || o.error)
                return error_sys(err, r < 0 ? -r : o.error, "unmounting /proc and /sys outside the rootfs");
        if (fchdir(root) < 0)
                return error_sys(err, errno, "entering %s", path);
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                return error_sys(err, errno, "moving %s to /", path);
        if (chroot(".") < 0)
                return error_sys(err, errno, "chroot into %s", path);
        if (chdir("/") < 0)
                return error_sys(err, errno, "entering the new root");
        return 0;
}

static int pivot_into(int root, cocoon_error **err)
{
        _cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0)
                return error_sys(err, errno, "opening the root directory");
        if (fchdir(root) < 0)
                return error_sys(err, errno, "entering the rootfs");
        /* pivot_root(".", ".") stacks the old root on top of the new one; then it is detached. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return error_sys(err, errno, "pivot_root into the rootfs");
        if (fchdir(oldroot) < 0)
                return error_sys(err, errno, "entering the old root");
        /* Keep the detach from propagating back to the agent's mounts. */
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return error_sys(err, errno, "making the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
                return error_sys(err, errno, "detaching the old root");
        if (chdir("/") < 0)
                return error_sys(err, errno, "entering the new root");
        return 0;
}

/* Whether maskedPaths names p before index i: a path listed twice is masked once, as runc does. */
static bool masked_before(const struct oci_spec *spec, size_t i)
{
        for (size_t j = 0; j < i; j++)
                if (strcmp(spec->masked_paths[j], spec->masked_paths[i]) == 0)
                        return true;
        return false;
}

/*
 * Files get /dev/null bound over them; directories an empty read-only
 * tmpfs, one for all of them (each later one a bind of the first), as runc
 * 1.2 does: one mount per directory would be as many superblocks.
 */
static int mask_paths(const struct oci_spec *spec, cocoon_error **err)
{
        const char *first_dir = NULL;
        for (size_t i = 0; i < spec->n_masked_paths; i++) {
                const char *p = spec->masked_paths[i];
                struct stat st;
                if (masked_before(spec, i))
                        continue;
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_sys(err, errno, "masking %s", p);
                }
                int r;
                if (!S_ISDIR(st.st_mode))
                        r = mount("/dev/null", p, NULL, MS_BIND, NULL);
                else if (first_dir)
                        r = mount(first_dir, p, NULL, MS_BIND, NULL);
                else if ((r = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")) == 0)
                        first_dir = p;
                if (r < 0)
                        return error_sys(err, errno, "masking %s", p);
        }
        for (size_t i = 0; i < spec->n_readonly_paths; i++) {
                const char *p = spec->readonly_paths[i];
                if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_sys(err, errno, "making %s read-only", p);
                }
                if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0)
                        return error_sys(err, errno, "making %s read-only", p);
        }
        return 0;
}

/*
 * Binds the rootfs on itself (pivot_root needs a mount point) and opens the
 * new mount's root into ctx->root: through the rootfs's parent directory, as
 * the fd of the directory itself stays on the mount below.
 */
static int bind_rootfs(struct rootfs_ctx *ctx, int rootfs, cocoon_error **err)
{
        _cleanup_free_ char *self = fd_path(rootfs);
        if (!self)
                return error_set(err, ENOMEM, "out of memory");
        char path[PATH_MAX];
        ssize_t n = readlink(self, path, sizeof(path) - 1);
        if (n < 0)
                return error_sys(err, errno, "finding the rootfs's path");
        path[n] = '\0';
        const char *base = strrchr(path, '/') + 1;
        _cleanup_close_ int parent = openat(rootfs, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0 || !*base)
                return error_sys(err, parent < 0 ? errno : EINVAL, "opening the directory of the rootfs %s", path);
        if (mount(self, self, NULL, MS_BIND | MS_REC, NULL) < 0)
                return error_sys(err, errno, "bind mounting the rootfs %s", path);
        ctx->root = openat(parent, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ctx->root < 0)
                return error_sys(err, errno, "opening the rootfs %s", path);
        return 0;
}

int mount_setup_rootfs(const struct oci_spec *spec, int rootfs, cocoon_error **err)
{
        /* runc's default rootfsPropagation is rslave: nothing we mount leaks back out. */
        unsigned long propagation = spec->rootfs_propagation ? spec->rootfs_propagation : MS_SLAVE | MS_REC;
        if (mount(NULL, "/", NULL, propagation, NULL) < 0)
                return error_sys(err, errno, "linux.rootfsPropagation: setting the propagation of /");
        int r = make_parent_private(rootfs, err);
        if (r < 0)
                return r;
        _cleanup_(rootfs_ctx_done) struct rootfs_ctx ctx = {.root = -1};
        r = bind_rootfs(&ctx, rootfs, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *root_path = fd_path(ctx.root);
        if (!root_path)
                return error_set(err, ENOMEM, "out of memory");
        /* pivot_root refuses a shared new root; its propagation is set again once inside. */
        if ((propagation & MS_SHARED) && !spec->no_pivot && mount(NULL, root_path, NULL, MS_PRIVATE, NULL) < 0)
                return error_sys(err, errno, "making the rootfs private for pivot_root");

        ctx.cgroup2_only = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
        bool dev_mounted = false;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct spec_mount *m = &spec->mounts[i];
                r = mount_one(&ctx, m, err);
                if (r < 0)
                        return r;
                if (strcmp(m->destination, "/dev") == 0 && !(m->type && strcmp(m->type, "bind") == 0))
                        dev_mounted = true;
        }
        r = dev_mounted ? create_default_devices(ctx.root, err) : 0;
        if (r == 0)
                r = create_spec_devices(spec, ctx.root, err);
        if (r < 0)
                return r;
        /* A working directory that does not exist is made, as runc does (before a read-only root or mount). */
        if (spec->process.cwd) {
                _cleanup_close_ int cwd = open_in_root(ctx.root, spec->process.cwd, S_IFDIR);
                if (cwd < 0)
                        return error_sys(err, -cwd, "process.cwd: creating %s", spec->process.cwd);
        }
        r = apply_pending(&ctx, err);
        if (r < 0)
                return r;
        r = spec->no_pivot ? move_into(ctx.root, err) : pivot_into(ctx.root, err);
        if (r < 0)
                return r;
        if ((propagation & MS_SHARED) && mount(NULL, "/", NULL, propagation, NULL) < 0)
                return error_sys(err, errno, "linux.rootfsPropagation: setting the propagation of the rootfs");
        return 0;
}

int mount_protect_paths(const struct oci_spec *spec, cocoon_error **err)
{
        int r = mask_paths(spec, err);
        if (r < 0)
                return r;
        if (spec->root_readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                return error_sys(err, errno, "making the root filesystem read-only");
        return 0;
}
