/*
 * The QEMU backend: a microvm machine (virtio-mmio, no PCI, no ACPI tables),
 * guest RAM from a shared memfd (virtio-fs needs it), the sandbox share over
 * vhost-user-fs, the agent over virtio-serial or vhost-vsock, and QMP for
 * status and shutdown. Every socket is created here and handed to QEMU and
 * virtiofsd as an fd, so nothing waits for socket files to appear.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "cleanup.h"
#include "fsutil.h"
#include "guest.h"
#include "hypervisor.h"
#include "qmp.h"

#define MAX_ARGS 128
#define FIRST_NIC_FD 5

/*
 * Under TCG the guest's TSC is the host's, but the guest kernel calibrates it
 * against an emulated PIT, which fails when the host is busy and can hang the
 * boot. Measuring the rate here and passing tsc_early_khz= makes TCG boots
 * reliable. Returns 0 where there is no TSC to measure.
 */
static unsigned long host_tsc_khz(void)
{
#if defined(__x86_64__)
        struct timespec a, b, pause = {0, 20 * 1000 * 1000};
        clock_gettime(CLOCK_MONOTONIC_RAW, &a);
        uint64_t t0 = __rdtsc();
        nanosleep(&pause, NULL);
        uint64_t t1 = __rdtsc();
        clock_gettime(CLOCK_MONOTONIC_RAW, &b);
        uint64_t ns = (uint64_t) (b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t) (b.tv_nsec - a.tv_nsec);
        return ns ? (unsigned long) ((t1 - t0) * 1000000u / ns) : 0;
#else
        return 0;
#endif
}

struct argv_builder {
        char *v[MAX_ARGS + 1];
        size_t n;
        bool oom;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
        if (b->n >= MAX_ARGS) {
                b->oom = true;
                return;
        }
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&b->v[b->n], fmt, ap) < 0)
                b->oom = true;
        else
                b->n++;
        va_end(ap);
}

static void argv_free(struct argv_builder *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->v[i]);
}

bool hypervisor_kvm_usable(void)
{
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

bool hypervisor_vsock_usable(void)
{
        int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/*
 * Claims a guest CID on a vhost-vsock fd of our own: the kernel refuses a CID
 * in use, so we retry with another instead of guessing. QEMU gets the fd.
 */
static int claim_vsock_cid(int *ret_fd, unsigned *ret_cid, cocoon_error **err)
{
        _cleanup_close_ int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening /dev/vhost-vsock");
        for (int attempt = 0; attempt < 64; attempt++) {
                uint32_t rnd = 0;
                (void) getrandom(&rnd, sizeof(rnd), 0);
                uint64_t cid = 3 + rnd % (0xfffffff0u - 3);
                if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid) == 0) {
                        *ret_cid = (unsigned) cid;
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                if (errno != EADDRINUSE)
                        return error_sys(err, errno, "setting the vsock guest CID");
        }
        return error_set(err, EADDRINUSE, "no free vsock guest CID");
}

static int listen_unix(const char *path, cocoon_error **err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return error_set(err, ENAMETOOLONG, "socket path too long: %s", path);
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_sys(err, errno, "socket");
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
                int e = errno;
                close(fd);
                return error_sys(err, e, "listening on %s", path);
        }
        return fd;
}

static int connect_vsock(unsigned cid, int timeout_ms, cocoon_error **err)
{
        /* The agent listens only once the guest has booted: retry until then. */
        for (int waited = 0;; waited += 20) {
                int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return error_sys(err, errno, "vsock socket");
                struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = GUEST_VSOCK_PORT};
                if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0)
                        return fd;
                int e = errno;
                close(fd);
                if (waited >= timeout_ms)
                        return error_sys(err, e, "connecting to the agent over vsock (cid %u)", cid);
                usleep(20 * 1000);
        }
}

static int build_argv(const struct vm_config *cfg, struct vm *vm, const char *vfs_sock, struct argv_builder *b)
{
        /* Fds handed to QEMU land at 3 (QMP), 4 (agent serial or vhost-vsock), 5.. (taps). */
        add(b, "%s", cfg->qemu);
        add(b, "-name");
        add(b, "cocoon");
        add(b, "-nodefaults");
        add(b, "-no-user-config");
        add(b, "-nographic");
        add(b, "-no-reboot");
        add(b, "-accel");
        add(b, "%s", vm->kvm ? "kvm" : "tcg");
        add(b, "-cpu");
        add(b, "%s", vm->kvm ? "host" : "max");
        add(b, "-smp");
        add(b, "%u", cfg->vcpus);
        add(b, "-m");
        add(b, "%uM", cfg->memory_mib);
        add(b, "-object");
        add(b, "memory-backend-memfd,id=mem,size=%uM,share=on", cfg->memory_mib);
        /*
         * The virtio-mmio devices reach the guest through microvm's ACPI tables:
         * Debian's kernels are built without VIRTIO_MMIO_CMDLINE_DEVICES, so
         * acpi=off (devices on the command line) would leave them unseen.
         */
        add(b, "-M");
        add(b, "microvm,memory-backend=mem");
        /* The C virtiofsd refuses legacy virtio devices. */
        add(b, "-global");
        add(b, "virtio-mmio.force-legacy=false");
        add(b, "-kernel");
        add(b, "%s", cfg->kernel);
        add(b, "-initrd");
        add(b, "%s", cfg->initrd);
        char tsc[48] = "";
        unsigned long khz = vm->kvm ? 0 : host_tsc_khz();
        if (khz)
                snprintf(tsc, sizeof(tsc), " tsc_early_khz=%lu", khz);
        add(b, "-append");
        /* cryptomgr.notests: the crypto self-tests cost ~0.3 s of every TCG boot. */
        add(b, "console=ttyS0 %s panic=-1 reboot=t cryptomgr.notests " GUEST_TRANSPORT_ARG "%s%s%s%s",
            cfg->debug ? "" : "quiet",
            vm->transport == VM_TRANSPORT_VSOCK ? "vsock" : "serial", tsc, cfg->kernel_args ? " " : "",
            cfg->kernel_args ? cfg->kernel_args : "");
        add(b, "-chardev");
        add(b, "file,id=console,path=%s", vm->console_log);
        add(b, "-serial");
        add(b, "chardev:console");
        add(b, "-chardev");
        add(b, "socket,id=qmp,fd=3");
        add(b, "-mon");
        add(b, "chardev=qmp,mode=control");
        add(b, "-chardev");
        add(b, "socket,id=virtiofs,path=%s", vfs_sock);
        add(b, "-device");
        add(b, "vhost-user-fs-device,chardev=virtiofs,tag=" GUEST_VIRTIOFS_TAG);
        if (vm->transport == VM_TRANSPORT_VSOCK) {
                add(b, "-device");
                add(b, "vhost-vsock-device,guest-cid=%u,vhostfd=4", vm->cid);
        } else {
                add(b, "-device");
                add(b, "virtio-serial-device,max_ports=2");
                add(b, "-chardev");
                add(b, "socket,id=agent,fd=4");
                add(b, "-device");
                add(b, "virtserialport,chardev=agent,name=" GUEST_SERIAL_PORT);
        }
        /* The guest NIC gets the MAC of the interface it stands in for, so that peers need not relearn it. */
        for (size_t i = 0; i < cfg->n_nics; i++) {
                const unsigned char *m = cfg->nics[i].mac;
                add(b, "-netdev");
                add(b, "tap,id=net%zu,fd=%zu", i, FIRST_NIC_FD + i);
                add(b, "-device");
                add(b, "virtio-net-device,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%02x:%02x", i, m[0], m[1], m[2], m[3],
                    m[4], m[5]);
        }
        b->v[b->n] = NULL;
        return b->oom ? -ENOMEM : 0;
}

static int qemu_start(const struct vm_config *cfg, struct vm **ret, cocoon_error **err)
{
        struct vm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        *vm = (struct vm) {.ops = &qemu_ops, .qmp_fd = -1, .agent_fd = -1};
        _cleanup_close_ int vfs_listen = -1, qmp_peer = -1, agent_peer = -1, vhost_fd = -1;
        _cleanup_free_ char *vfs_sock = path_join(cfg->run_dir, "virtiofs.sock");
        _cleanup_free_ char *qemu_log = path_join(cfg->run_dir, "qemu.log");
        vm->console_log = path_join(cfg->run_dir, "console.log");
        struct argv_builder b = {0};
        int r;

        if (!vfs_sock || !qemu_log || !vm->console_log) {
                r = -ENOMEM;
                goto fail;
        }
        vm->kvm = cfg->accel == VM_ACCEL_KVM || (cfg->accel == VM_ACCEL_AUTO && hypervisor_kvm_usable());
        vm->transport = hypervisor_vsock_usable() ? VM_TRANSPORT_VSOCK : VM_TRANSPORT_SERIAL;

        vfs_listen = listen_unix(vfs_sock, err);
        if (vfs_listen < 0) {
                r = vfs_listen;
                goto fail;
        }
        r = virtiofsd_spawn(cfg->virtiofsd, cfg->shared_dir, &cfg->share, vfs_listen, &vm->virtiofsd_pid, err);
        /* Only virtiofsd listens: if it dies, QEMU's connect is refused at once instead of hanging. */
        cleanup_closep(&vfs_listen);
        vfs_listen = -1;
        if (r < 0)
                goto fail;

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = error_sys(err, errno, "socketpair");
                goto fail;
        }
        vm->qmp_fd = sp[0];
        qmp_peer = sp[1];

        int fourth;
        if (vm->transport == VM_TRANSPORT_VSOCK) {
                r = claim_vsock_cid(&vhost_fd, &vm->cid, err);
                if (r < 0)
                        goto fail;
                fourth = vhost_fd;
        } else {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = error_sys(err, errno, "socketpair");
                        goto fail;
                }
                vm->agent_fd = sp[0];
                agent_peer = sp[1];
                fourth = agent_peer;
        }

        if (cfg->n_nics > VM_MAX_NICS) {
                r = error_set(err, E2BIG, "%zu network interfaces, at most %d", cfg->n_nics, VM_MAX_NICS);
                goto fail;
        }
        r = build_argv(cfg, vm, vfs_sock, &b);
        if (r < 0)
                goto fail;
        int keep[2 + VM_MAX_NICS] = {qmp_peer, fourth};
        for (size_t i = 0; i < cfg->n_nics; i++)
                keep[2 + i] = cfg->nics[i].tap_fd;
        r = spawn_process(b.v, keep, 2 + cfg->n_nics, qemu_log, &vm->vmm_pid, err);
        /* QEMU has its ends now; holding ours would hide its exit from us. */
        cleanup_closep(&qmp_peer);
        cleanup_closep(&agent_peer);
        cleanup_closep(&vhost_fd);
        qmp_peer = agent_peer = vhost_fd = -1;
        if (r < 0)
                goto fail;

        r = qmp_handshake(vm->qmp_fd, err);
        if (r < 0) {
                _cleanup_free_ char *log = NULL;
                if (qemu_log && read_file(qemu_log, 4096, &log, NULL) == 0 && *log) {
                        log[strcspn(log, "\n")] = '\0';
                        error_free(*err);
                        *err = NULL;
                        r = error_set(err, EIO, "QEMU failed to start: %s", log);
                }
                int status;
                if (vm->virtiofsd_pid > 0 && waitpid(vm->virtiofsd_pid, &status, WNOHANG) == vm->virtiofsd_pid) {
                        vm->virtiofsd_pid = 0;
                        error_append(err, " (virtiofsd %s exited first, with status %d)", cfg->virtiofsd,
                                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                }
                goto fail;
        }
        if (vm->transport == VM_TRANSPORT_VSOCK && !cfg->no_agent) {
                vm->agent_fd = connect_vsock(vm->cid, 60 * 1000, err);
                if (vm->agent_fd < 0) {
                        r = vm->agent_fd;
                        goto fail;
                }
        }
        argv_free(&b);
        *ret = vm;
        return 0;

fail:
        argv_free(&b);
        (void) qemu_ops.stop(vm, NULL);
        vm_free(vm);
        return r;
}

static int qemu_stop(struct vm *vm, cocoon_error **err)
{
        if (vm->vmm_pid > 0) {
                /* Ask nicely over QMP; the guest has nothing to save. */
                if (vm->qmp_fd < 0 || qmp_command(vm->qmp_fd, "quit", NULL) < 0)
                        (void) kill(vm->vmm_pid, SIGKILL);
                reap_or_kill(vm->vmm_pid, 5000);
                vm->vmm_pid = 0;
        }
        /* virtiofsd exits when its one VM connection closes. */
        if (vm->virtiofsd_pid > 0) {
                reap_or_kill(vm->virtiofsd_pid, 2000);
                vm->virtiofsd_pid = 0;
        }
        return 0;
}

static int qemu_status(struct vm *vm, char **ret_status)
{
        if (vm->qmp_fd < 0 || vm->vmm_pid <= 0)
                return -ESRCH;
        return qmp_query_status(vm->qmp_fd, ret_status);
}

bool vm_owns_pid(struct vm *vm, pid_t pid, int status)
{
        if (pid == vm->vmm_pid) {
                vm->vmm_pid = 0;
                return true;
        }
        if (pid == vm->virtiofsd_pid) {
                vm->virtiofsd_pid = 0;
                return true;
        }
        return false;
}

void vm_free(struct vm *vm)
{
        if (!vm)
                return;
        if (vm->qmp_fd >= 0)
                close(vm->qmp_fd);
        if (vm->agent_fd >= 0)
                close(vm->agent_fd);
        free(vm->console_log);
        free(vm);
}

const struct hypervisor_ops qemu_ops = {
        .name = "qemu",
        .start = qemu_start,
        .stop = qemu_stop,
        .status = qemu_status,
};

const struct hypervisor_ops *hypervisor_find(const char *name)
{
        if (!name || strcmp(name, "qemu") == 0)
                return &qemu_ops;
        return NULL;
}
