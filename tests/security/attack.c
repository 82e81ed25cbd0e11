/*
 * The hostile workload of tests/security/test-share.sh: a static program that
 * runs as root with every capability, no seccomp and every device in a cocoon
 * guest, and attacks what the guest can reach of the host through virtio-fs.
 * It prints one line per attack, "RESULT <name> <blocked|allowed> <detail>",
 * and the script checks on the host that nothing changed that should not
 * have. "blocked" means the call failed; the host decides whether that was
 * the right answer.
 *
 * usage: attack TAG SELF RW_VOLUME RO_VOLUME HOST_TARGET [OTHER_RO_ROOTFS_ID [OTHER_RW_ROOTFS_ID]]
 *   TAG        the virtio-fs tag to mount
 *   SELF       this container's id (its directory at the share's top)
 *   RW_VOLUME, RO_VOLUME   where the spec mounts its read-write and read-only volumes
 *   HOST_TARGET            a host path the planted symlinks point to
 *   OTHER_*    pod members (another container of the same VM)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SHARE "/tmp/share"

static void result(const char *name, int rc, const char *detail)
{
        if (rc < 0)
                printf("RESULT %s blocked %s: %s\n", name, detail, strerror(errno));
        else
                printf("RESULT %s allowed %s\n", name, detail);
        fflush(stdout);
}

static char *path(const char *fmt, const char *a, const char *b)
{
        static char buf[4][512];
        static int i;
        char *p = buf[i++ % 4];
        snprintf(p, sizeof(buf[0]), fmt, a, b);
        return p;
}

static int create_file(const char *p, mode_t mode)
{
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -1;
        int r = write(fd, "pwned\n", 6) == 6 ? 0 : -1;
        close(fd);
        return r;
}

/* Writes n MiB to p; -1 as soon as a write fails. */
static int write_big(const char *p, int mib)
{
        static char block[1 << 20];
        memset(block, 'x', sizeof(block));
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        for (int i = 0; i < mib; i++)
                if (write(fd, block, sizeof(block)) != (ssize_t) sizeof(block)) {
                        int e = errno;
                        close(fd);
                        errno = e;
                        return -1;
                }
        return close(fd);
}

/* Every name under dir (depth-limited, not into rootfs/ or mounts/ trees) that is one of the state files. */
static int find_state_files(const char *dir, int depth, char *found, size_t size)
{
        static const char *const names[] = {"state.json", "ctl.sock", "supervisor.log", "console.log", "qemu.log"};
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        int n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char p[1024];
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                        if (strcmp(de->d_name, names[i]) == 0) {
                                n++;
                                strncat(found, p, size - strlen(found) - 2);
                                strcat(found, " ");
                        }
                if (de->d_type == DT_DIR && depth > 0 && strcmp(de->d_name, "rootfs") != 0)
                        n += find_state_files(p, depth - 1, found, size);
        }
        closedir(d);
        return n;
}

/* security.capability, VFS_CAP_REVISION_2: cap_setuid (7) permitted and effective. */
static int set_file_cap(const char *p)
{
        unsigned int cap[5] = {0x02000001, 1u << 7, 0, 0, 0};
        return setxattr(p, "security.capability", cap, sizeof(cap), 0);
}

static void attack_rw_place(const char *label, const char *dir)
{
        char name[128];
        snprintf(name, sizeof(name), "mknod-char-1:1-in-%s", label);
        result(name, mknod(path("%s/cdev%s", dir, ""), S_IFCHR | 0666, makedev(1, 1)), dir);
        snprintf(name, sizeof(name), "mknod-block-8:0-in-%s", label);
        result(name, mknod(path("%s/bdev%s", dir, ""), S_IFBLK | 0666, makedev(8, 0)), dir);

        const char *suid = path("%s/suid%s", dir, "");
        (void) create_file(suid, 0755);
        snprintf(name, sizeof(name), "chmod-u+s-in-%s", label);
        result(name, chmod(suid, 04755), suid);
        const char *sgid = path("%s/sgid%s", dir, "");
        (void) create_file(sgid, 0755);
        snprintf(name, sizeof(name), "chmod-g+s-in-%s", label);
        result(name, chmod(sgid, 02755), sgid);
        snprintf(name, sizeof(name), "create-mode-4755-in-%s", label);
        result(name, create_file(path("%s/created-suid%s", dir, ""), 04755), dir);
        snprintf(name, sizeof(name), "setcap-security.capability-in-%s", label);
        result(name, set_file_cap(suid), suid);
        /* A file the host made setuid: writing it must clear the bit (virtiofsd has no CAP_FSETID). */
        snprintf(name, sizeof(name), "write-host-setuid-file-in-%s", label);
        int fd = open(path("%s/host-suid%s", dir, ""), O_WRONLY | O_APPEND | O_CLOEXEC);
        result(name, fd < 0 ? -1 : (int) write(fd, "x", 1) - 1, dir);
        if (fd >= 0)
                close(fd);
}

int main(int argc, char **argv)
{
        if (argc < 6) {
                fprintf(stderr, "usage: attack TAG SELF RW_VOLUME RO_VOLUME HOST_TARGET [OTHER_RO [OTHER_RW]]\n");
                return 2;
        }
        const char *tag = argv[1], *self = argv[2], *rw = argv[3], *ro = argv[4], *target = argv[5];
        const char *other_ro = argc > 6 ? argv[6] : NULL, *other_rw = argc > 7 ? argv[7] : NULL;

        /* The rootfs is read-only: a tmpfs of the guest's for the mount point. */
        if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL) < 0 || mkdir(SHARE, 0755) < 0) {
                perror("attack: /tmp");
                return 1;
        }
        result("mount-the-virtiofs-tag", mount(tag, SHARE, "virtiofs", 0, NULL), SHARE);

        result("write-at-the-share-top", create_file(SHARE "/pwned", 0644), SHARE "/pwned");
        result("mkdir-at-the-share-top", mkdir(SHARE "/pwned-dir", 0755), SHARE "/pwned-dir");
        result("symlink-at-the-share-top", symlink(target, SHARE "/pwned-link"), SHARE "/pwned-link");
        result("write-64MiB-at-the-share-top", write_big(SHARE "/big", 64), SHARE "/big");
        result("write-in-own-share-directory", create_file(path(SHARE "/%s/pwned%s", self, ""), 0644), self);
        result("rename-own-rootfs-away", rename(path(SHARE "/%s/rootfs%s", self, ""), SHARE "/moved"), self);

        char found[2048] = "";
        int n = find_state_files(SHARE, 3, found, sizeof(found));
        n += find_state_files(SHARE "/..", 0, found, sizeof(found));
        n += find_state_files(path(SHARE "/%s/rootfs/../../..%s", self, ""), 0, found, sizeof(found));
        errno = ENOENT;
        result("find-state.json-ctl.sock-in-the-share", n ? 0 : -1, found);
        result("open-..-state.json-from-the-share", open(SHARE "/../state.json", O_RDONLY | O_CLOEXEC),
               SHARE "/../state.json");
        result("open-..-ctl.sock-from-the-share",
               open(path(SHARE "/%s/../../ctl.sock%s", self, ""), O_RDONLY | O_CLOEXEC), "ctl.sock");

        /* The read-only rootfs, through the share and through the container's own root remounted. */
        result("write-ro-rootfs-via-the-share", create_file(path(SHARE "/%s/rootfs/pwned%s", self, ""), 0644),
               "rootfs/pwned");
        result("overwrite-ro-rootfs-file-via-the-share",
               create_file(path(SHARE "/%s/rootfs/etc/marker%s", self, ""), 0644), "rootfs/etc/marker");
        (void) mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL);
        result("write-ro-rootfs-after-remounting-/-rw", create_file("/pwned-remount", 0644), "/pwned-remount");
        result("mknod-char-1:1-in-the-ro-rootfs", mknod(path(SHARE "/%s/rootfs/cdev%s", self, ""), S_IFCHR | 0666,
                                                          makedev(1, 1)), "rootfs/cdev");

        /* The read-only volume (the one holding RO_VOLUME), the same two ways. */
        char ro_share[512] = "";
        DIR *d = opendir(path(SHARE "/%s/mounts%s", self, ""));
        for (struct dirent *de; d && (de = readdir(d));) {
                char marker[512];
                snprintf(marker, sizeof(marker), SHARE "/%s/mounts/%s/RO_VOLUME", self, de->d_name);
                if (de->d_name[0] != '.' && access(marker, F_OK) == 0)
                        snprintf(ro_share, sizeof(ro_share), SHARE "/%s/mounts/%s", self, de->d_name);
        }
        if (d)
                closedir(d);
        result("write-ro-volume-via-the-share", create_file(path("%s/pwned%s", ro_share, ""), 0644), ro_share);
        result("write-ro-volume-submount-via-the-share", create_file(path("%s/sub/pwned%s", ro_share, ""), 0644),
               "a mount below the ro volume's source");
        (void) mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND, NULL);
        result("write-ro-volume-after-remounting-it-rw", create_file(path("%s/pwned-remount%s", ro, ""), 0644), ro);

        /* Device nodes and privilege in what the guest may write. */
        attack_rw_place("the-rw-volume", rw);
        int fd = open("/hostnull", O_WRONLY | O_CLOEXEC);
        result("open-device-node-of-the-image", fd, "/hostnull (c 1:3 made on the host)");
        if (fd >= 0)
                close(fd);

        /* Symlinks where a host cleanup could walk: the volume and the share. */
        result("plant-symlink-in-the-rw-volume", symlink(target, path("%s/planted%s", rw, "")), target);
        result("plant-symlink-in-own-share-directory", symlink(target, path(SHARE "/%s/mounts/planted%s", self, "")),
               target);

        if (other_ro) {
                result("write-other-member-ro-rootfs",
                       create_file(path(SHARE "/%s/rootfs/pwned-by-member%s", other_ro, ""), 0644), other_ro);
                result("write-other-member-share-directory",
                       create_file(path(SHARE "/%s/pwned-by-member%s", other_ro, ""), 0644), other_ro);
        }
        if (other_rw) {
                char dir[256];
                snprintf(dir, sizeof(dir), SHARE "/%s/rootfs", other_rw);
                attack_rw_place("other-member-rw-rootfs", dir);
        }
        printf("DONE\n");
        fflush(stdout);
        return 0;
}
