/*
 * The jail without a VM: the QEMU command line and jail layout for a host
 * with KVM and vhost-vsock (which this machine lacks) and for TCG, the uid
 * allocation, and one real jailed process checking its own view.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "tap.h"

static const char *arg_after(const struct argv_builder *b, const char *flag, int nth)
{
        for (size_t i = 0; i + 1 < b->n; i++)
                if (strcmp(b->v[i], flag) == 0 && nth-- == 0)
                        return b->v[i + 1];
        return NULL;
}

static bool has_arg(const struct argv_builder *b, const char *needle)
{
        for (size_t i = 0; i < b->n; i++)
                if (strstr(b->v[i], needle))
                        return true;
        return false;
}

static const struct jail_bind *find_bind(const struct jail_bind *binds, size_t n, const char *dst)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(binds[i].dst, dst) == 0)
                        return &binds[i];
        return NULL;
}

static void test_kvm_vsock(struct hypervisor_settings *set)
{
        struct vm_config cfg = {.kernel = "/boot/k", .initrd = "/boot/i", .vcpus = 2, .memory_mib = 256};
        struct qemu_plan p = {.set = set, .kvm = true, .vsock = true, .cid = 42};
        struct argv_builder b = {0};
        TAP_OK(qemu_build_argv(&cfg, &p, &b) == 0, "kvm+vsock: the command line builds");
        TAP_STR_EQ(arg_after(&b, "-accel", 0), "kvm", "kvm+vsock: -accel kvm");
        TAP_STR_EQ(arg_after(&b, "-cpu", 0), "host", "kvm+vsock: -cpu host");
        TAP_STR_EQ(arg_after(&b, "-kernel", 0), "/vm/kernel", "kvm+vsock: the kernel by its path in the jail");
        TAP_STR_EQ(arg_after(&b, "-initrd", 0), "/vm/initrd", "kvm+vsock: the initrd by its path in the jail");
        TAP_STR_EQ(arg_after(&b, "-sandbox", 0), "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                   "kvm+vsock: QEMU's own seccomp filter");
        TAP_OK(has_arg(&b, "vhost-vsock-device,guest-cid=42,vhostfd=4"), "kvm+vsock: vhost-vsock comes as fd 4");
        TAP_OK(!has_arg(&b, "virtserialport"), "kvm+vsock: no virtio-serial port");
        TAP_OK(!has_arg(&b, "tsc_early_khz"), "kvm+vsock: no TSC rate under KVM");
        TAP_OK(!has_arg(&b, "path="), "kvm+vsock: no socket path on the command line, only fds");
        argv_free(&b);

        struct jail_bind binds[16];
        size_t n = qemu_jail_binds(&cfg, &p, binds, ARRAY_SIZE(binds));
        const struct jail_bind *kvm = find_bind(binds, n, "/dev/kvm");
        TAP_OK(kvm && kvm->device && kvm->writable, "kvm+vsock: /dev/kvm is made in the jail, for the jail uid alone");
        TAP_OK(!find_bind(binds, n, "/dev/vhost-vsock"), "kvm+vsock: no /dev/vhost-vsock node (it is an fd)");
        const struct jail_bind *k = find_bind(binds, n, "/vm/kernel");
        TAP_OK(k && strcmp(k->src, "/boot/k") == 0 && !k->writable, "kvm+vsock: the kernel bound read-only");
        bool bad = false;
        for (size_t i = 0; i < n; i++)
                if (strncmp(binds[i].src, "/etc", 4) == 0 || strncmp(binds[i].src, "/root", 5) == 0 ||
                    strncmp(binds[i].src, "/run", 4) == 0 || (binds[i].writable && !binds[i].device))
                        bad = true;
        TAP_OK(!bad, "kvm+vsock: nothing of /etc, /root or /run, nothing writable");
}

static void test_tcg_serial(struct hypervisor_settings *set)
{
        struct vm_config cfg = {.kernel = "/boot/k", .initrd = "/boot/i", .vcpus = 1, .memory_mib = 256};
        struct qemu_plan p = {.set = set, .tsc_khz = 1000};
        struct argv_builder b = {0};
        TAP_OK(qemu_build_argv(&cfg, &p, &b) == 0, "tcg+serial: the command line builds");
        TAP_STR_EQ(arg_after(&b, "-accel", 0), "tcg,tb-size=64", "tcg+serial: -accel tcg with a 64 MiB buffer");
        TAP_OK(has_arg(&b, "virtio-balloon-device,free-page-reporting=on"), "tcg+serial: a balloon that reports free pages");
        TAP_OK(has_arg(&b, "socket,id=agent,fd=4") && has_arg(&b, "virtserialport"),
               "tcg+serial: the agent's port is a socket fd");
        TAP_OK(has_arg(&b, "socket,id=console,fd=6"), "tcg+serial: the console is a socket fd");
        TAP_OK(has_arg(&b, "socket,id=virtiofs,fd=5"), "tcg+serial: virtio-fs is a connected fd");
        argv_free(&b);
        struct jail_bind binds[16];
        size_t n = qemu_jail_binds(&cfg, &p, binds, ARRAY_SIZE(binds));
        TAP_OK(!find_bind(binds, n, "/dev/kvm"), "tcg+serial: no /dev/kvm in the jail");

        TAP_OK(qemu_ops.settings_set(set, "jail", "off") == 0, "jail = off is a setting");
        b = (struct argv_builder) {0};
        TAP_OK(qemu_build_argv(&cfg, &p, &b) == 0 && strcmp(arg_after(&b, "-kernel", 0), "/boot/k") == 0,
               "jail = off: the kernel by its host path");
        argv_free(&b);
        TAP_OK(qemu_ops.settings_set(set, "jail", "maybe") == -EINVAL, "jail = maybe is refused");
        TAP_OK(qemu_ops.settings_set(set, "tcg_buffer_mib", "32") == 0, "tcg_buffer_mib = 32 is a setting");
        b = (struct argv_builder) {0};
        TAP_OK(qemu_build_argv(&cfg, &p, &b) == 0 && strcmp(arg_after(&b, "-accel", 0), "tcg,tb-size=32") == 0,
               "tcg_buffer_mib = 32: -accel tcg,tb-size=32");
        argv_free(&b);
        TAP_OK(qemu_ops.settings_set(set, "tcg_buffer_mib", "0") == -EINVAL &&
                       qemu_ops.settings_set(set, "tcg_buffer_mib", "-1") == -EINVAL &&
                       qemu_ops.settings_set(set, "tcg_buffer_mib", "64k") == -EINVAL,
               "tcg_buffer_mib = 0, -1 or 64k is refused");
        TAP_OK(qemu_ops.settings_set(set, "nosuch", "1") == -ENOENT, "an unknown key is not the backend's");
}

static void test_uids(void)
{
        uid_t first;
        unsigned count;
        TAP_OK(jail_parse_uids("2000000000-2000000001", &first, &count) == 0 && first == 2000000000u && count == 2,
               "jail_uids parses");
        TAP_OK(jail_parse_uids("0-100", &first, &count) < 0, "jail_uids may not hold root");
        TAP_OK(jail_parse_uids("60000-70000", &first, &count) < 0, "jail_uids may not hold the overflow uid");
        TAP_OK(jail_parse_uids("5-4", &first, &count) < 0 && jail_parse_uids("5", &first, &count) < 0,
               "a malformed range is refused");
        if (geteuid() != 0) {
                printf("ok %d - # SKIP uid locks need root\n", ++tap_n);
                return;
        }
        struct jail_uid a, b, c;
        cocoon_error *err = NULL;
        TAP_OK(jail_uid_claim(first, count, &a, &err) == 0 && jail_uid_claim(first, count, &b, &err) == 0,
               "two claims succeed");
        TAP_OK(a.uid != b.uid, "two live claims get two uids (%u, %u)", a.uid, b.uid);
        TAP_OK(jail_uid_claim(first, count, &c, &err) == -EUSERS, "a third claim of two uids fails");
        error_free(err);
        err = NULL;
        uid_t freed = a.uid;
        jail_uid_release(&a);
        TAP_OK(jail_uid_claim(first, count, &c, &err) == 0 && c.uid == freed, "a released uid is claimed again");
        jail_uid_release(&b);
        jail_uid_release(&c);
}

/* A real jail with a stand-in for /dev/kvm (/dev/zero's numbers), checked from inside by sh. */
static void test_real_jail(void)
{
        if (geteuid() != 0) {
                printf("ok %d - # SKIP a jail needs root\n", ++tap_n);
                return;
        }
        struct jail_bind binds[16];
        size_t n = jail_common_binds(binds, ARRAY_SIZE(binds) - 1);
        binds[n++] = (struct jail_bind) {.src = "/dev/zero", .dst = "/dev/kvm", .writable = true, .device = true};
        char root[] = "/tmp/test-jail.XXXXXX";
        TAP_OK(mkdtemp(root) != NULL, "a directory for the jail's root");
        struct jail j = {.root = root, .uid = 2000000000u, .binds = binds, .n_binds = n, .nofile = 64, .fsize = 4096};
        const char *script =
                "test \"$(id -u):$(id -g)\" = 2000000000:2000000000 || echo uid;"
                "test -c /dev/kvm -a -O /dev/kvm -a -r /dev/kvm -a -w /dev/kvm || echo kvm;"
                "test -e /etc/shadow -o -e /root -o -e /run -o -e /tmp -o -e /proc && echo host;"
                "test \"$(ulimit -n)\" = 64 || echo nofile;"
                "touch /x 2>/dev/null && echo writable;"
                "head -c 5000 /dev/zero > /dev/null || echo zero;"
                "echo done";
        char *argv[] = {"/usr/bin/sh", "-c", (char *) script, NULL};
        int p[2];
        TAP_OK(pipe2(p, O_CLOEXEC) == 0, "a pipe for its report");
        struct spawn_req req = {.argv = argv, .out_fd = p[1], .jail = &j};
        pid_t pid;
        int pidfd = -1;
        cocoon_error *err = NULL;
        int r = spawn_process(&req, &pid, &pidfd, &err);
        close(p[1]);
        TAP_OK(r == 0, "the jailed process starts%s%s", err ? ": " : "", err ? err->msg : "");
        char out[512];
        tap_read_all(p[0], out, sizeof(out));
        close(p[0]);
        reap_or_kill(pidfd, 5000);
        TAP_STR_EQ(out, "done\n", "inside: its uid, its own /dev/kvm, no host files, limits, a read-only root");
        TAP_OK(rmdir(root) == 0, "the host directory is left empty (the jail's mounts were its own)");
        error_free(err);
}

/*
 * A jailed spawn while another thread of ours keeps starting threads, as
 * libvirt's event loop does beside the supervisor: glibc's set*id wrappers in
 * the clone3 child waited forever for a thread that was being created at the
 * clone (it hung a CI run). The alarm turns a hang into a failure.
 */
static atomic_bool churning;
static void *nothing(void *arg)
{
        return arg;
}
static void *churn(void *arg)
{
        while (atomic_load(&churning)) {
                pthread_t t;
                if (pthread_create(&t, NULL, nothing, NULL) == 0)
                        pthread_join(t, NULL);
        }
        return arg;
}

static void test_spawn_beside_threads(void)
{
        if (geteuid() != 0) {
                printf("ok %d - # SKIP a jail needs root\n", ++tap_n);
                return;
        }
        struct jail_bind binds[16];
        size_t n = jail_common_binds(binds, ARRAY_SIZE(binds));
        char root[] = "/tmp/test-jail.XXXXXX";
        TAP_OK(mkdtemp(root) != NULL, "a directory for the jail's root");
        struct jail j = {.root = root, .uid = 2000000001u, .binds = binds, .n_binds = n, .nofile = 64, .fsize = 4096};
        char *argv[] = {"/usr/bin/true", NULL};
        struct spawn_req req = {.argv = argv, .out_fd = -1, .jail = &j};
        atomic_store(&churning, true);
        pthread_t t;
        TAP_OK(pthread_create(&t, NULL, churn, NULL) == 0, "a thread that keeps starting threads");
        alarm(50);
        int started = 0, exited = 0;
        for (int i = 0; i < 300; i++) {
                pid_t pid;
                int pidfd = -1;
                cocoon_error *err = NULL;
                if (spawn_process(&req, &pid, &pidfd, &err) == 0) {
                        started++;
                        exited += reap_or_kill(pidfd, 5000) == 0;
                        close(pidfd);
                }
                error_free(err);
        }
        alarm(0);
        atomic_store(&churning, false);
        pthread_join(t, NULL);
        TAP_OK(started == 300 && exited == 300, "300 jailed processes start and exit beside it (%d started, %d exited)",
               started, exited);
        TAP_OK(rmdir(root) == 0, "the host directory is left empty");
}

int main(void)
{
        struct hypervisor_settings *set = NULL;
        if (qemu_ops.settings_new(&set) < 0)
                return 1;
        test_kvm_vsock(set);
        test_tcg_serial(set);
        qemu_ops.settings_free(set);
        test_uids();
        test_real_jail();
        test_spawn_beside_threads();
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
