#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

const char *const *mount_option_names(void)
{
        static const char *names[ARRAY_SIZE(mount_flags) + ARRAY_SIZE(propagation_flags) + 1];
        if (!names[0]) {
                size_t n = 0;
                for (size_t i = 0; i < ARRAY_SIZE(mount_flags); i++)
                        names[n++] = mount_flags[i].name;
                for (size_t i = 0; i < ARRAY_SIZE(propagation_flags); i++)
                        names[n++] = propagation_flags[i].name;
        }
        return names;
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

int mount_parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                        char **ret_data, cocoon_error **err)
{
        unsigned long flags = 0, propagation = 0;
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
        *ret_flags = flags;
        *ret_propagation = propagation;
        *ret_data = TAKE_PTR(data);
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
static int mount_own_cgroup(const char *dest, unsigned long flags, cocoon_error **err)
{
        _cleanup_free_ char *own = NULL;
        int r = own_cgroup_dir(&own, err);
        if (r < 0 || !own)
                return r;
        if (mount(own, dest, NULL, MS_BIND, NULL) < 0)
                return error_sys(err, errno, "bind mounting the container's cgroup %s", own);
        flags &= ~(MS_BIND | MS_REC | MS_REMOUNT);
        if (mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
                return error_sys(err, errno, "remounting the container's cgroup %s with its options", own);
        return 1;
}

static int mount_one(const struct spec_mount *m, const char *rootfs, bool cgroup2_only, cocoon_error **err)
{
        unsigned long flags, propagation;
        _cleanup_free_ char *data = NULL;
        int r = mount_parse_options(m->options, m->n_options, &flags, &propagation, &data, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *dest = path_join(rootfs, m->destination);
        if (!dest)
                return error_set(err, ENOMEM, "out of memory");

        if (mount_is_bind(m, flags)) {
                struct stat st;
                if (!m->source || stat(m->source, &st) < 0)
                        return error_sys(err, m->source ? errno : ENOENT, "bind mount source %s",
                                         m->source ? m->source : "(none)");
                r = S_ISDIR(st.st_mode) ? mkdir_p(dest, 0755) : touch_p(dest);
                if (r < 0)
                        return error_sys(err, -r, "creating mount point %s", m->destination);
                if (mount(m->source, dest, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
                        return error_sys(err, errno, "bind mounting %s on %s", m->source, m->destination);
                /* Bind mounts ignore other flags until remounted. */
                unsigned long rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
                if (rest && mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | rest, NULL) < 0)
                        return error_sys(err, errno, "remounting %s with its options", m->destination);
        } else {
                const char *type = m->type;
                if (!type)
                        return error_set(err, EINVAL, "mount %s: no type", m->destination);
                /* A guest with only cgroup v2 answers "cgroup" with the unified hierarchy, as runc does on v2 hosts. */
                if (strcmp(type, "cgroup") == 0 && cgroup2_only)
                        type = "cgroup2";
                r = mkdir_p(dest, 0755);
                if (r < 0)
                        return error_sys(err, -r, "creating mount point %s", m->destination);
                r = strcmp(type, "cgroup2") == 0 && cgroup2_only ? mount_own_cgroup(dest, flags, err) : 0;
                if (r < 0)
                        return r;
                if (r == 0 && mount(m->source ? m->source : type, dest, type, flags, data) < 0)
                        return error_sys(err, errno, "mounting %s on %s", type, m->destination);
        }
        if (propagation && mount(NULL, dest, NULL, propagation, NULL) < 0)
                return error_sys(err, errno, "setting propagation of %s", m->destination);
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
 * mknod, or in a user namespace (where mknod is refused) a bind mount of the
 * same device from the caller's root, as runc does. 0 or -errno.
 */
static int make_device(const char *path, mode_t mode, dev_t dev, const char *host_path)
{
        (void) unlink(path);
        if (mknod(path, mode, dev) == 0)
                return chmod(path, mode & 07777) < 0 ? -errno : 0; /* mknod is subject to the umask */
        /* The host's node keeps its owner: 1 tells the caller not to chown it. */
        if (errno != EPERM || !host_path)
                return -errno;
        int r = touch_p(path);
        if (r < 0)
                return r;
        return mount(host_path, path, NULL, MS_BIND, NULL) < 0 ? -errno : 1;
}

static int create_default_devices(const char *rootfs, cocoon_error **err)
{
        _cleanup_free_ char *dev = path_join(rootfs, "/dev");
        if (!dev)
                return error_set(err, ENOMEM, "out of memory");

        for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                _cleanup_free_ char *p = path_join(dev, default_devices[i].name);
                if (!p)
                        return error_set(err, ENOMEM, "out of memory");
                _cleanup_free_ char *host = path_join("/dev", default_devices[i].name);
                if (!host)
                        return error_set(err, ENOMEM, "out of memory");
                int r = make_device(p, S_IFCHR | 0666, makedev(default_devices[i].major, default_devices[i].minor), host);
                if (r < 0)
                        return error_sys(err, -r, "creating /dev/%s", default_devices[i].name);
        }
        for (size_t i = 0; i < ARRAY_SIZE(default_links); i++) {
                _cleanup_free_ char *p = path_join(dev, default_links[i].name);
                if (!p)
                        return error_set(err, ENOMEM, "out of memory");
                if (symlink(default_links[i].target, p) < 0 && errno != EEXIST)
                        return error_sys(err, errno, "creating /dev/%s", default_links[i].name);
        }
        return 0;
}

/* linux.devices: each node made with its type, numbers, mode and owner, replacing what was there. */
static int create_spec_devices(const struct oci_spec *spec, const char *rootfs, cocoon_error **err)
{
        for (size_t i = 0; i < spec->n_devices; i++) {
                const struct spec_device *d = &spec->devices[i];
                _cleanup_free_ char *p = path_join(rootfs, d->path);
                if (!p)
                        return error_set(err, ENOMEM, "out of memory");
                _cleanup_free_ char *parent = strdup(p);
                if (!parent)
                        return error_set(err, ENOMEM, "out of memory");
                *strrchr(parent, '/') = '\0';
                int r = mkdir_p(parent, 0755);
                if (r < 0)
                        return error_sys(err, -r, "linux.devices[%zu]: creating the directory of %s", i, d->path);
                mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
                mode_t perm = d->has_file_mode ? d->file_mode : 0666;
                r = make_device(p, type | perm, makedev(d->major, d->minor), d->path);
                if (r < 0)
                        return error_sys(err, -r, "linux.devices[%zu]: creating %s", i, d->path);
                if (r == 0 && (d->has_uid || d->has_gid) && chown(p, d->has_uid ? d->uid : (uid_t) -1,
                                                       d->has_gid ? d->gid : (gid_t) -1) < 0)
                        return error_sys(err, errno, "linux.devices[%zu]: chown %s", i, d->path);
        }
        return 0;
}

/*
 * runc's --no-pivot: for a root that pivot_root refuses (an initramfs),
 * the rootfs is moved over / and chrooted into. The old root stays
 * reachable to a process that can escape a chroot, which is why pivot_root
 * is the default.
 */
static int move_into(const char *rootfs, cocoon_error **err)
{
        if (chdir(rootfs) < 0)
                return error_sys(err, errno, "entering %s", rootfs);
        if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
                return error_sys(err, errno, "moving %s to /", rootfs);
        if (chroot(".") < 0)
                return error_sys(err, errno, "chroot into %s", rootfs);
        if (chdir("/") < 0)
                return error_sys(err, errno, "entering the new root");
        return 0;
}

static int pivot_into(const char *rootfs, cocoon_error **err)
{
        _cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0 || newroot < 0)
                return error_sys(err, errno, "opening the root directories");
        if (fchdir(newroot) < 0)
                return error_sys(err, errno, "entering %s", rootfs);
        /* pivot_root(".", ".") stacks the old root on top of the new one; then it is detached. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return error_sys(err, errno, "pivot_root into %s", rootfs);
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

static int mask_paths(const struct oci_spec *spec, cocoon_error **err)
{
        for (size_t i = 0; i < spec->n_masked_paths; i++) {
                const char *p = spec->masked_paths[i];
                struct stat st;
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_sys(err, errno, "masking %s", p);
                }
                int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")
                                            : mount("/dev/null", p, NULL, MS_BIND, NULL);
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

int mount_setup_rootfs(const struct oci_spec *spec, const char *rootfs, cocoon_error **err)
{
        /* runc's default rootfsPropagation is rslave: nothing we mount leaks back out. */
        unsigned long propagation = spec->rootfs_propagation ? spec->rootfs_propagation : MS_SLAVE | MS_REC;
        if (mount(NULL, "/", NULL, propagation, NULL) < 0)
                return error_sys(err, errno, "linux.rootfsPropagation: setting the propagation of /");
        /* pivot_root needs the new root to be a mount point. */
        if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return error_sys(err, errno, "bind mounting the rootfs %s", rootfs);
        /* pivot_root refuses a shared new root; its propagation is set again once inside. */
        if ((propagation & MS_SHARED) && !spec->no_pivot && mount(NULL, rootfs, NULL, MS_PRIVATE, NULL) < 0)
                return error_sys(err, errno, "making the rootfs private for pivot_root");

        bool cgroup2_only = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
        bool dev_mounted = false;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct spec_mount *m = &spec->mounts[i];
                int r = mount_one(m, rootfs, cgroup2_only, err);
                if (r < 0)
                        return r;
                if (strcmp(m->destination, "/dev") == 0 && !(m->type && strcmp(m->type, "bind") == 0))
                        dev_mounted = true;
        }
        if (dev_mounted) {
                int r = create_default_devices(rootfs, err);
                if (r < 0)
                        return r;
        }

        int r = create_spec_devices(spec, rootfs, err);
        if (r < 0)
                return r;
        r = spec->no_pivot ? move_into(rootfs, err) : pivot_into(rootfs, err);
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
