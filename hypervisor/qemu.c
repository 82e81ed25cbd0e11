/*
 * The QEMU backend: a microvm machine (virtio-mmio, no PCI, no ACPI tables),
 * guest RAM from a shared memfd (virtio-fs needs it), the sandbox share over
 * vhost-user-fs, the agent over virtio-serial or vhost-vsock, and QMP for
 * status and shutdown. Every socket is created here and handed to QEMU and
 * virtiofsd as an fd, so nothing waits for socket files to appear and the
 * jailed QEMU needs none in its root. Both run jailed (spawn.c, jail.c)
 * unless the settings say jail = off.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "cleanup.h"
#include "fsutil.h"
#include "guest.h"
#include "backend.h"
#include "qmp.h"

/* Fds handed to QEMU: 3 QMP, 4 agent serial or vhost-vsock, 5 virtio-fs, 6 console, 7.. taps. */
#define QMP_FD 3
#define AGENT_FD 4
#define VIRTIOFS_FD 5
#define CONSOLE_FD 6
#define FIRST_NIC_FD 7
/* What the guest's kernel and initrd are called in the VMM's jail. */
#define JAIL_KERNEL "/vm/kernel"
#define JAIL_INITRD "/vm/initrd"
/* The VMM's own seccomp filter, installed before any guest code runs. */
#define QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

struct hypervisor_settings {
        char *qemu;
        char *virtiofsd;
        struct vmm_settings vmm;
};

struct qemu_vm {
        struct vm base;
        const struct vm_config *cfg; /* during start only */
        const struct hypervisor_settings *set;
        char *tag; /* COCOON_SANDBOX=<run dir>, in the environment of its processes */
        int vmm_pidfd, virtiofsd_pidfd; /* base.wait_fd: an epoll fd on both, either one's end is the VM's */
        pid_t vmm_pid;
        struct boot_file boot_files[2]; /* the kernel and the initrd */
        size_t n_boot_files;
        int qmp_fd;
        bool vsock;
        unsigned cid; /* vsock guest CID */
        struct jail_uid uid;
};

/*
 * Under TCG the guest's TSC is the host's, but the guest kernel calibrates it
 * against an emulated PIT, which fails when the host is busy and can hang the
 * boot. Measuring the rate here and passing tsc_early_khz= makes TCG boots
 * reliable. The rate is the host's until it reboots, so it is measured once
 * per boot and kept in TSC_CACHE with the boot's id: a start does not wait
 * the measurement's 50 ms every time. Returns 0 where there is no TSC.
 */
#define TSC_CACHE "/run/cocoon-tsc-khz"
#define TSC_KHZ_MIN 100000UL    /* 100 MHz */
#define TSC_KHZ_MAX 20000000UL  /* 20 GHz */

#if defined(__x86_64__)
static uint64_t raw_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC_RAW, &t);
        return (uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec;
}

/* A TSC reading and the time it was taken, retried while something came between the two. */
static void tsc_sample(uint64_t *ret_tsc, uint64_t *ret_ns)
{
        for (int i = 0;; i++) {
                uint64_t before = raw_ns(), tsc = __rdtsc(), after = raw_ns();
                if (after - before < 20000 || i == 10) {
                        *ret_tsc = tsc;
                        *ret_ns = before + (after - before) / 2;
                        return;
                }
        }
}

static unsigned long measure_tsc_khz(void)
{
        uint64_t t0, n0, t1, n1;
        tsc_sample(&t0, &n0);
        (void) nanosleep(&(struct timespec) {0, 50 * 1000 * 1000}, NULL);
        tsc_sample(&t1, &n1);
        return n1 > n0 ? (unsigned long) ((t1 - t0) * 1000000u / (n1 - n0)) : 0;
}

/* The cached rate, if it is root's, from this boot and sane; else 0. */
static unsigned long cached_tsc_khz(const char *boot_id)
{
        _cleanup_close_ int fd = open(TSC_CACHE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        char text[96];
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
                return 0;
        ssize_t n = read(fd, text, sizeof(text) - 1);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        char id[64];
        unsigned long khz;
        if (sscanf(text, "%63s %lu", id, &khz) != 2 || strcmp(id, boot_id) != 0 || khz < TSC_KHZ_MIN ||
            khz > TSC_KHZ_MAX)
                return 0;
        return khz;
}
#endif

unsigned long host_tsc_khz(void)
{
#if defined(__x86_64__)
        _cleanup_free_ char *boot_id = NULL;
        if (read_file("/proc/sys/kernel/random/boot_id", 64, &boot_id, NULL) < 0)
                return measure_tsc_khz();
        boot_id[strcspn(boot_id, "\n")] = '\0';
        unsigned long khz = cached_tsc_khz(boot_id);
        if (khz)
                return khz;
        khz = measure_tsc_khz();
        char text[96];
        int n = snprintf(text, sizeof(text), "%s %lu\n", boot_id, khz);
        /* Only root may keep it (/run is root's); anyone else measures each time. */
        if (geteuid() == 0 && khz >= TSC_KHZ_MIN && khz <= TSC_KHZ_MAX && n > 0 && (size_t) n < sizeof(text))
                (void) write_file_atomic(TSC_CACHE, text, (size_t) n, 0644);
        return khz;
#else
        return 0;
#endif
}

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
        if (b->n >= QEMU_MAX_ARGS) {
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

void argv_free(struct argv_builder *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->v[i]);
}

/* KVM when /dev/kvm can be opened read-write; vhost-vsock likewise. */
static bool device_usable(const char *path)
{
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/*
 * KVM runs our guest only on a hardware back end (VMX or SVM: the kvm_intel
 * or kvm_amd module, which shows in /sys/module also when built in). Some
 * nested hosts offer a /dev/kvm whose back end is a software one, such as
 * PVM (kvm_pvm), which runs only guest kernels built for it: our guest dies
 * there with "KVM internal error", so such a /dev/kvm counts as unusable.
 * Returns NULL when KVM is usable, else why not (static text).
 */
const char *kvm_unusable_why(void)
{
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return "/dev/kvm cannot be opened";
        int version = ioctl(fd, KVM_GET_API_VERSION, 0);
        close(fd);
        if (version != KVM_API_VERSION)
                return "/dev/kvm speaks another KVM API version";
        if (access("/sys/module/kvm_intel", F_OK) == 0 || access("/sys/module/kvm_amd", F_OK) == 0)
                return NULL;
        return access("/sys/module/kvm_pvm", F_OK) == 0
                       ? "/dev/kvm is PVM (kvm_pvm), which runs only guest kernels built for it"
                       : "/dev/kvm has no hardware back end (neither kvm_intel nor kvm_amd)";
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


char *guest_cmdline(const struct vm_config *cfg, bool vsock, unsigned long tsc_khz)
{
        char tsc[48] = "";
        if (tsc_khz)
                snprintf(tsc, sizeof(tsc), " tsc_early_khz=%lu", tsc_khz);
        char *s;
        /*
         * cryptomgr.notests: the crypto self-tests cost ~0.3 s of every TCG boot.
         * dummy.numdummies=0: a built-in dummy driver would otherwise put a
         * dummy0 in the guest's network namespace, which a pod's is.
         * percpu_alloc=page: with one vCPU the default allocator makes each
         * per-CPU chunk 2 MiB, and the kernel's memory cgroup accounting then
         * zeroes 4 MiB of bookkeeping for the second chunk, which every
         * container's cgroups bring; page-sized chunks need a tenth of that.
         */
        if (asprintf(&s, "console=ttyS0 %s panic=-1 reboot=t cryptomgr.notests dummy.numdummies=0 percpu_alloc=page " GUEST_TRANSPORT_ARG "%s%s%s%s",
                     cfg->debug ? "" : "quiet", vsock ? "vsock" : "serial", tsc, cfg->kernel_args ? " " : "",
                     cfg->kernel_args ? cfg->kernel_args : "") < 0)
                return NULL;
        return s;
}

int qemu_build_argv(const struct vm_config *cfg, const struct qemu_plan *p, struct argv_builder *b)
{
        const struct hypervisor_settings *set = p->set;
        add(b, "%s", set->qemu);
        add(b, "-name");
        add(b, "cocoon");
        add(b, "-nodefaults");
        add(b, "-no-user-config");
        add(b, "-nographic");
        add(b, "-no-reboot");
        add(b, "-sandbox");
        add(b, QEMU_SANDBOX);
        add(b, "-accel");
        /*
         * QEMU's default translation buffer is 1 GiB and a guest's code fills
         * more of it the longer it runs; the pages it touched stay resident.
         * docs/guest.md has the measurements behind this size.
         */
        if (p->kvm)
                add(b, "kvm");
        else
                add(b, "tcg,tb-size=%u", set->vmm.tcg_buffer_mib);
        add(b, "-cpu");
        add(b, "%s", p->kvm ? "host" : "max");
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
        add(b, "%s", set->vmm.jail ? JAIL_KERNEL : cfg->kernel);
        add(b, "-initrd");
        add(b, "%s", set->vmm.jail ? JAIL_INITRD : cfg->initrd);
        _cleanup_free_ char *cmdline = guest_cmdline(cfg, p->vsock, p->tsc_khz);
        add(b, "-append");
        if (cmdline)
                add(b, "%s", cmdline);
        else
                b->oom = true;
        add(b, "-chardev");
        add(b, "socket,id=console,fd=%d", CONSOLE_FD);
        add(b, "-serial");
        add(b, "chardev:console");
        add(b, "-chardev");
        add(b, "socket,id=qmp,fd=%d", QMP_FD);
        add(b, "-mon");
        add(b, "chardev=qmp,mode=control");
        add(b, "-chardev");
        add(b, "socket,id=virtiofs,fd=%d", VIRTIOFS_FD);
        add(b, "-device");
        add(b, "vhost-user-fs-device,chardev=virtiofs,tag=" GUEST_VIRTIOFS_TAG);
        if (p->vsock) {
                add(b, "-device");
                add(b, "vhost-vsock-device,guest-cid=%u,vhostfd=%d", p->cid, AGENT_FD);
        } else {
                add(b, "-device");
                add(b, "virtio-serial-device,max_ports=2");
                add(b, "-chardev");
                add(b, "socket,id=agent,fd=%d", AGENT_FD);
                add(b, "-device");
                add(b, "virtserialport,chardev=agent,name=" GUEST_SERIAL_PORT);
        }
        /* Free page reporting: QEMU discards the guest RAM the guest's kernel reports free. */
        add(b, "-device");
        add(b, "virtio-balloon-device,free-page-reporting=on");
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

size_t qemu_jail_binds(const struct vm_config *cfg, const struct qemu_plan *p, struct jail_bind *out, size_t max)
{
        size_t n = jail_common_binds(out, max - 4);
        out[n++] = (struct jail_bind) {.src = cfg->kernel, .dst = JAIL_KERNEL};
        out[n++] = (struct jail_bind) {.src = cfg->initrd, .dst = JAIL_INITRD};
        /* The one device node it opens itself; vhost-vsock and the taps come as fds. */
        if (p->kvm)
                out[n++] = (struct jail_bind) {.src = "/dev/kvm", .dst = "/dev/kvm", .writable = true, .device = true};
        out[n++] = (struct jail_bind) {.src = p->set->qemu, .dst = p->set->qemu};
        return n;
}

/* The virtio-fs link: virtiofsd accepts on a socket we connect to first; QEMU gets our end. */
static int virtiofs_link(struct qemu_vm *vm, const char *run_dir, const char *jail_root, int *ret_qemu_end,
                         cocoon_error **err)
{
        _cleanup_free_ char *path = path_join(run_dir, "virtiofs.sock");
        if (!path)
                return -ENOMEM;
        _cleanup_close_ int listen_fd = listen_unix(path, err);
        if (listen_fd < 0)
                return listen_fd;
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strcpy(addr.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                int e = errno;
                (void) unlink(path);
                return error_sys(err, e, "connecting to %s", path);
        }
        /* Nobody else may connect: the file goes before virtiofsd exists. */
        (void) unlink(path);
        int r = virtiofsd_spawn(vm->set->virtiofsd, vm->cfg->shared_dir, &vm->cfg->share, listen_fd, jail_root, vm->uid.uid, vm->tag,
                                &(pid_t) {0}, &vm->virtiofsd_pidfd, err);
        if (r < 0)
                return r;
        *ret_qemu_end = TAKE_FD(fd);
        return 0;
}

/*
 * QEMU failed before the VM ran: its exit status and its last lines say why
 * (an option it refused, a device it could not open), better than the
 * monitor's closed socket.
 */
static void explain_failure(struct qemu_vm *vm, cocoon_error **err)
{
        (void) qemu_ops.stop(&vm->base, NULL); /* its log is complete once it is gone */
        _cleanup_free_ char *said = vm->base.console ? console_tail(vm->base.console, CONSOLE_VMM) : NULL;
        if (!err || vm->base.vmm_exit < 0) {
                if (said)
                        error_append(err, "; QEMU said:\n%s", said);
                return;
        }
        error_free(*err);
        *err = NULL;
        error_set(err, EIO, "QEMU exited with status %d before the VM started%s%s", vm->base.vmm_exit,
                  said ? "; its last lines:\n" : " without a word", said ? said : "");
}

int watch_fds(const int *fds, size_t n, int *ret_epoll)
{
        _cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                struct epoll_event ev = {.events = EPOLLIN};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
                        return -errno;
        }
        *ret_epoll = TAKE_FD(ep);
        return 0;
}

static const struct hypervisor_settings defaults = {
        .qemu = (char *) "/usr/bin/qemu-system-x86_64",
        .virtiofsd = (char *) "/usr/lib/qemu/virtiofsd",
        .vmm = VMM_SETTINGS_DEFAULTS,
};

static const struct hypervisor_settings *settings_of(const struct vm_config *cfg)
{
        return cfg->settings ? cfg->settings : &defaults;
}

static int qemu_start(const struct vm_config *cfg, struct vm **ret, cocoon_error **err)
{
        struct qemu_vm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        *vm = (struct qemu_vm) {.cfg = cfg, .set = settings_of(cfg), .vmm_pidfd = -1, .virtiofsd_pidfd = -1,
                                .qmp_fd = -1, .uid.lock_fd = -1};
        int r = vm_base_init(&vm->base, &qemu_ops, cfg, err);
        _cleanup_close_ int vfs_end = -1, qmp_peer = -1, agent_peer = -1, console_peer = -1, console_ours = -1;
        _cleanup_close_ int log_rd = -1, log_wr = -1;
        _cleanup_free_ char *vmm_log = path_join(cfg->run_dir, "vmm.log");
        _cleanup_free_ char *console_log = path_join(cfg->run_dir, "console.log");
        _cleanup_free_ char *jail_dir = path_join(cfg->run_dir, "jail"), *jail_root = NULL;
        struct argv_builder b = {0};
        struct qemu_plan plan = {.set = vm->set, .kvm = vm->base.kvm};

        _cleanup_free_ char *run_dir = realpath(cfg->run_dir, NULL);
        if (r < 0)
                goto fail;
        if (!vmm_log || !console_log || !jail_dir || !run_dir || asprintf(&vm->tag, "COCOON_SANDBOX=%s", run_dir) < 0) {
                vm->tag = NULL;
                r = -ENOMEM;
                goto fail;
        }
        plan.vsock = vm->vsock = device_usable("/dev/vhost-vsock");
        plan.tsc_khz = vm->base.kvm ? 0 : host_tsc_khz();
        if (vm->set->vmm.jail) {
                r = jail_uid_claim(vm->set->vmm.uid_first, vm->set->vmm.uid_count, &vm->uid, err);
                if (r < 0)
                        goto fail;
                if ((mkdir(jail_dir, 0755) < 0 && errno != EEXIST) || !(jail_root = realpath(jail_dir, NULL))) {
                        r = error_sys(err, errno, "creating %s", jail_dir);
                        goto fail;
                }
        }

        r = virtiofs_link(vm, cfg->run_dir, vm->set->vmm.jail ? jail_root : NULL, &vfs_end, err);
        if (r < 0)
                goto fail;

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = error_sys(err, errno, "socketpair");
                goto fail;
        }
        vm->qmp_fd = sp[0];
        qmp_peer = sp[1];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = error_sys(err, errno, "socketpair");
                goto fail;
        }
        console_ours = sp[0];
        console_peer = sp[1];
        /* Never shut our end for writing: QEMU would read EOF and drop the console. */
        int lp[2];
        if (pipe2(lp, O_CLOEXEC) < 0) {
                r = error_sys(err, errno, "pipe");
                goto fail;
        }
        log_rd = lp[0];
        log_wr = lp[1];

        if (vm->vsock) {
                r = claim_vsock_cid(&agent_peer, &vm->cid, err);
                if (r < 0)
                        goto fail;
                plan.cid = vm->cid;
        } else {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = error_sys(err, errno, "socketpair");
                        goto fail;
                }
                vm->base.agent_fd = sp[0];
                agent_peer = sp[1];
        }

        r = qemu_build_argv(cfg, &plan, &b);
        if (r < 0)
                goto fail;
        int keep[4 + VM_MAX_NICS] = {qmp_peer, agent_peer, vfs_end, console_peer};
        for (size_t i = 0; i < cfg->n_nics; i++)
                keep[4 + i] = cfg->nics[i].tap_fd;
        struct jail_bind binds[16];
        struct jail jail = {
                .root = jail_root,
                .uid = vm->uid.uid,
                .binds = binds,
                .n_binds = qemu_jail_binds(cfg, &plan, binds, ARRAY_SIZE(binds)),
                .nofile = 4096,
                /* Its memfd is the guest's RAM; it writes no other file. */
                .fsize = ((rlim_t) cfg->memory_mib + 64) << 20,
        };
        struct spawn_req req = {
                .argv = b.v,
                .keep_fds = keep,
                .n_keep = 4 + cfg->n_nics,
                .out_fd = log_wr,
                .tag = vm->tag,
                .jail = vm->set->vmm.jail ? &jail : NULL,
        };
        /* Known before QEMU opens them: what booted() looks for in its mappings. */
        vm->n_boot_files = boot_files_of(cfg, vm->boot_files);
        r = spawn_process(&req, &vm->vmm_pid, &vm->vmm_pidfd, err);
        /* QEMU has its ends now; holding ours would hide its exit from us. */
        cleanup_closep(&qmp_peer);
        cleanup_closep(&agent_peer);
        cleanup_closep(&vfs_end);
        cleanup_closep(&console_peer);
        cleanup_closep(&log_wr);
        qmp_peer = agent_peer = vfs_end = console_peer = log_wr = -1;
        if (r < 0)
                goto fail;
        r = console_start(TAKE_FD(console_ours), console_log, TAKE_FD(log_rd), vmm_log, &vm->base.console, err);
        if (r < 0)
                goto fail;
        int ends[] = {vm->vmm_pidfd, vm->virtiofsd_pidfd};
        r = watch_fds(ends, ARRAY_SIZE(ends), &vm->base.wait_fd);
        if (r < 0) {
                r = error_sys(err, -r, "watching the VM's processes");
                goto fail;
        }

        r = qmp_handshake(vm->qmp_fd, err);
        if (r < 0) {
                explain_failure(vm, err);
                goto fail;
        }
        if (vm->vsock && !cfg->no_agent) {
                unsigned timeout_s = cfg->boot_timeout_s ? cfg->boot_timeout_s : vm_default_boot_timeout(vm->base.kvm);
                vm->base.agent_fd = connect_vsock(vm->cid, timeout_s * 1000, err);
                if (vm->base.agent_fd < 0) {
                        r = vm->base.agent_fd;
                        goto fail;
                }
        }
        argv_free(&b);
        vm->cfg = NULL;
        *ret = &vm->base;
        return 0;

fail:
        argv_free(&b);
        qemu_ops.free(&vm->base);
        return r;
}

static int qemu_stop(struct vm *base, cocoon_error **err)
{
        struct qemu_vm *vm = (struct qemu_vm *) base;
        if (vm->vmm_pidfd >= 0) {
                /* Ask nicely over QMP, unless it is gone already; the guest has nothing to save. */
                struct pollfd ended = {.fd = vm->vmm_pidfd, .events = POLLIN};
                bool by_itself = poll(&ended, 1, 0) > 0;
                if (!by_itself && (vm->qmp_fd < 0 || qmp_command(vm->qmp_fd, "quit", NULL) < 0)) {
                        /* A closed monitor is a VMM on its way out: its exit status is its own. */
                        by_itself = vm->qmp_fd >= 0 && poll(&ended, 1, 1000) > 0;
                        if (!by_itself)
                                (void) syscall(SYS_pidfd_send_signal, vm->vmm_pidfd, SIGKILL, NULL, 0);
                }
                int status = reap_or_kill(vm->vmm_pidfd, 5000);
                if (by_itself)
                        vm->base.vmm_exit = status;
                close(vm->vmm_pidfd);
                vm->vmm_pidfd = -1;
        }
        /* virtiofsd exits when its one VM connection closes. */
        if (vm->virtiofsd_pidfd >= 0) {
                reap_or_kill(vm->virtiofsd_pidfd, 2000);
                close(vm->virtiofsd_pidfd);
                vm->virtiofsd_pidfd = -1;
        }
        /* Its writers are gone: the console reader ends at EOF. */
        console_stop(vm->base.console);
        return 0;
}

static int qemu_booted(struct vm *base)
{
        struct qemu_vm *vm = (struct qemu_vm *) base;
        if (vm->vmm_pidfd < 0)
                return -ESRCH;
        return vmm_release_boot_files(vm->vmm_pidfd, vm->vmm_pid, vm->boot_files, vm->n_boot_files);
}

static int qemu_status(struct vm *base, char **ret_status)
{
        struct qemu_vm *vm = (struct qemu_vm *) base;
        if (vm->qmp_fd < 0 || vm->vmm_pidfd < 0)
                return -ESRCH;
        return qmp_query_status(vm->qmp_fd, ret_status);
}

static void qemu_free(struct vm *base)
{
        struct qemu_vm *vm = (struct qemu_vm *) base;
        (void) qemu_stop(base, NULL);
        cleanup_closep(&vm->qmp_fd);
        vm_base_release(&vm->base);
        /* Last: the uid is free once nothing of this sandbox runs as it. */
        jail_uid_release(&vm->uid);
        free(vm->tag);
        free(vm);
}

static int settings_new(struct hypervisor_settings **ret)
{
        struct hypervisor_settings *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = defaults;
        s->qemu = strdup(defaults.qemu);
        s->virtiofsd = strdup(defaults.virtiofsd);
        if (!s->qemu || !s->virtiofsd) {
                qemu_ops.settings_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int settings_set_string(char **field, const char *value)
{
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

int vmm_settings_set(struct vmm_settings *v, const char *key, const char *value)
{
        if (strcmp(key, "jail") == 0) {
                if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
                        return -EINVAL;
                v->jail = strcmp(value, "on") == 0;
                return 0;
        }
        if (strcmp(key, "jail_uids") == 0)
                return jail_parse_uids(value, &v->uid_first, &v->uid_count);
        if (strcmp(key, "tcg_buffer_mib") == 0) {
                char *end;
                errno = 0;
                unsigned long n = strtoul(value, &end, 10);
                if (errno || end == value || *end || *value == '-' || n < 1 || n > 4096)
                        return -EINVAL;
                v->tcg_buffer_mib = (unsigned) n;
                return 0;
        }
        return -ENOENT;
}

static int settings_set(struct hypervisor_settings *s, const char *key, const char *value)
{
        if (strcmp(key, "qemu") == 0)
                return *value == '/' ? settings_set_string(&s->qemu, value) : -EINVAL;
        if (strcmp(key, "virtiofsd") == 0)
                return *value == '/' ? settings_set_string(&s->virtiofsd, value) : -EINVAL;
        return vmm_settings_set(&s->vmm, key, value);
}

static void settings_free(struct hypervisor_settings *s)
{
        if (!s)
                return;
        free(s->qemu);
        free(s->virtiofsd);
        free(s);
}

/* The jailed QEMU reads the kernel and initrd as its own uid, through a bind of the file itself (others: it must be readable by others). */
int guest_file_check(const char *what, const char *path, bool others, cocoon_error **err)
{
        struct stat st;
        if (access(path, R_OK) < 0 || stat(path, &st) < 0)
                return error_sys(err, errno, "%s %s (set it in /etc/cocoon/cocoon.conf or build the guest image)",
                                 what, path);
        if (others && !(st.st_mode & S_IROTH))
                return error_set(err, EACCES, "%s %s is not readable by others: the jailed VMM cannot read it", what,
                                 path);
        return 0;
}

/*
 * The VM's size, against what QEMU would refuse once started: microvm takes
 * at most 288 vCPUs, and without KVM's in-kernel x2APIC at most 255 (APIC ids
 * beyond need it); KVM may allow fewer still. Guest RAM beyond the host's
 * could never be backed. 0 in cfg means the size is not known yet.
 */
static int check_size(const struct vm_config *cfg, cocoon_error **err)
{
        bool kvm = cfg->accel == VM_ACCEL_KVM || (cfg->accel == VM_ACCEL_AUTO && !kvm_unusable_why());
        unsigned max_vcpus = kvm ? 288 : 255;
        const char *why = kvm ? "the microvm machine's limit" : "the limit without KVM (no in-kernel x2APIC)";
        if (kvm) {
                int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
                int n = fd >= 0 ? ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS) : -1;
                if (fd >= 0)
                        close(fd);
                if (n > 0 && (unsigned) n < max_vcpus) {
                        max_vcpus = (unsigned) n;
                        why = "this host's KVM limit";
                }
        }
        if (cfg->vcpus > max_vcpus)
                return error_set(err, EINVAL,
                                 "the VM would have %u vCPUs (vcpus in cocoon.conf plus the container's CPU limit), "
                                 "more than %u, %s",
                                 cfg->vcpus, max_vcpus, why);
        struct sysinfo si;
        if (cfg->memory_mib && sysinfo(&si) == 0) {
                unsigned long long host_mib = ((unsigned long long) si.totalram * si.mem_unit) >> 20;
                if (cfg->memory_mib > host_mib)
                        return error_set(err, ENOMEM,
                                         "the VM would have %u MiB of memory (memory_mib in cocoon.conf plus the "
                                         "container's memory limit), more than this host's %llu MiB",
                                         cfg->memory_mib, host_mib);
        }
        return 0;
}

static int qemu_check_host(const struct vm_config *cfg, cocoon_error **err)
{
        const struct hypervisor_settings *s = settings_of(cfg);
        int r = guest_file_check("guest kernel", cfg->kernel, s->vmm.jail, err);
        if (r == 0)
                r = guest_file_check("guest initrd", cfg->initrd, s->vmm.jail, err);
        if (r == 0 && access(s->qemu, X_OK) < 0)
                r = error_sys(err, errno, "QEMU %s (install qemu-system-x86)", s->qemu);
        if (r == 0 && access(s->virtiofsd, X_OK) < 0)
                r = error_sys(err, errno, "virtiofsd %s (install qemu-system-common)", s->virtiofsd);
        if (r == 0 && cfg->accel == VM_ACCEL_KVM && !device_usable("/dev/kvm"))
                r = error_sys(err, errno, "accel = kvm, but /dev/kvm");
        if (r == 0)
                r = check_size(cfg, err);
        if (r == 0 && !s->vmm.jail && cfg->warn)
                cfg->warn("jail = off: QEMU and virtiofsd run as root with every capability; a guest that breaks "
                          "out of QEMU owns the host");
        return r;
}

const struct hypervisor_ops qemu_ops = {
        .name = "qemu",
        .settings_new = settings_new,
        .settings_set = settings_set,
        .settings_free = settings_free,
        .check_host = qemu_check_host,
        .start = qemu_start,
        .stop = qemu_stop,
        .status = qemu_status,
        .booted = qemu_booted,
        .free = qemu_free,
};
