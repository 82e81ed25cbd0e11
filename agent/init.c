/*
 * Early boot, as PID 1 of the guest: the filesystems every container needs,
 * the kernel modules, a root that pivot_root accepts, and the sandbox share.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "fsutil.h"

struct early_mount {
        const char *source, *target, *type;
        unsigned long flags;
        const char *data;
};

static int mount_all(const struct early_mount *m, size_t n, cocoon_error **err)
{
        for (size_t i = 0; i < n; i++) {
                int r = mkdir_p(m[i].target, 0755);
                if (r < 0)
                        return error_sys(err, -r, "creating %s", m[i].target);
                if (mount(m[i].source, m[i].target, m[i].type, m[i].flags, m[i].data) < 0 && errno != EBUSY)
                        return error_sys(err, errno, "mounting %s on %s", m[i].type, m[i].target);
        }
        return 0;
}

/*
 * pivot_root refuses to leave the initramfs (it is the absolute root mount),
 * so, like switch_root, move a tmpfs over / once. Containers can then pivot.
 */
static int leave_initramfs(cocoon_error **err)
{
        static const char *const keep[] = {"/dev", "/proc", "/sys"};
        if (mkdir("/newroot", 0755) < 0 && errno != EEXIST)
                return error_sys(err, errno, "creating /newroot");
        if (mount("root", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return error_sys(err, errno, "mounting the guest root tmpfs");
        for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
                _cleanup_free_ char *target = path_join("/newroot", keep[i]);
                if (!target)
                        return -ENOMEM;
                if (mkdir(target, 0755) < 0 && errno != EEXIST)
                        return error_sys(err, errno, "creating %s", target);
                if (mount(keep[i], target, NULL, MS_MOVE, NULL) < 0)
                        return error_sys(err, errno, "moving %s", keep[i]);
        }
        if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return error_sys(err, errno, "switching to the guest root");
        return 0;
}

/* Whether any device under the sysfs directory dir has an attribute attr starting with value. */
static bool any_device(const char *dir, const char *attr, const char *value)
{
        DIR *d = opendir(dir);
        if (!d)
                return false;
        bool found = false;
        for (struct dirent *e; !found && (e = readdir(d));) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                if (e->d_name[0] == '.' || asprintf(&path, "%s/%s/%s", dir, e->d_name, attr) < 0)
                        continue;
                found = read_file(path, 64, &text, NULL) == 0 && strncmp(text, value, strlen(value)) == 0;
        }
        closedir(d);
        return found;
}

/* A NIC on the virtio bus (virtio device id 1): only then is virtio_net worth its load time. */
static bool has_virtio_nic(void)
{
        return any_device("/sys/bus/virtio/devices", "device", "0x0001");
}

/*
 * Whether the VM's virtio devices sit on PCI (the pc machine the libvirt
 * backend uses) rather than on microvm's virtio-mmio: any PCI device of
 * virtio's vendor (Red Hat, 0x1af4). The PCI bus is the kernel's own, so
 * sysfs lists it before any module loads.
 */
static bool has_virtio_pci(void)
{
        return any_device("/sys/bus/pci/devices", "vendor", "0x1af4");
}

/* The drivers a kernel with loadable modules (Debian's cloud kernel) has as modules. */
static int load_drivers(cocoon_error **err)
{
        struct utsname u;
        (void) uname(&u);
        _cleanup_free_ char *moddir = path_join("/lib/modules", u.release);
        if (!moddir)
                return -ENOMEM;
        /* The device bus, the share, the one transport the host chose, and the balloon that returns freed RAM. */
        const char *const wanted[] = {has_virtio_pci() ? "virtio_pci" : "virtio_mmio", "virtiofs",
                                      transport_wants_vsock() ? "vmw_vsock_virtio_transport" : "virtio_console",
                                      "virtio_balloon", NULL};
        int r = modules_load(moddir, wanted, err);
        /* virtio_mmio or virtio_pci found the devices: the NICs' driver, now that we can tell whether there are any. */
        static const char *const nic[] = {"virtio_net", NULL};
        if (r == 0 && has_virtio_nic())
                r = modules_load(moddir, nic, err);
        return r;
}

int agent_early_init(cocoon_error **err)
{
        static const struct early_mount first[] = {
                {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
                {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
                {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        };
        static const struct early_mount then[] = {
                {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
                {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
                {"run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
                {"tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
                {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        };

        int r = mount_all(first, ARRAY_SIZE(first), err);
        if (r < 0)
                return r;

        /*
         * cocoon's own kernel has its drivers built in; looking for devices in
         * sysfs costs it tens of milliseconds under TCG for nothing.
         */
        if (modules_supported()) {
                r = load_drivers(err);
                if (r < 0)
                        return error_wrap(err, r, "loading kernel modules");
        }

        r = leave_initramfs(err);
        if (r < 0)
                return r;
        r = mount_all(then, ARRAY_SIZE(then), err);
        if (r < 0)
                return r;
        /* /dev/ptmx must be the new devpts instance's. */
        (void) unlink("/dev/ptmx");
        if (symlink("pts/ptmx", "/dev/ptmx") < 0)
                return error_sys(err, errno, "creating /dev/ptmx");

        r = mkdir_p(GUEST_SHARED_DIR, 0755);
        if (r < 0)
                return error_sys(err, -r, "creating %s", GUEST_SHARED_DIR);
        if (mount(GUEST_VIRTIOFS_TAG, GUEST_SHARED_DIR, "virtiofs", 0, NULL) < 0)
                return error_sys(err, errno, "mounting the sandbox share (virtio-fs tag %s)", GUEST_VIRTIOFS_TAG);
        return 0;
}
