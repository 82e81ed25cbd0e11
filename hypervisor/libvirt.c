/*
 * The libvirt backend: each sandbox is a transient libvirt domain, started
 * with VIR_DOMAIN_START_AUTODESTROY on the supervisor's own connection, so
 * the domain ends when the supervisor does, however it ends. libvirt runs
 * QEMU as its unprivileged user (qemu.conf's user, libvirt-qemu in Debian)
 * with its seccomp sandbox, a private /dev and mount namespace, and the
 * host's security driver (AppArmor or SELinux where one is on).
 *
 * libvirt cannot take file descriptors for chardevs or vhost-user, so the
 * links to the VM are unix sockets: the supervisor listens on the agent's
 * and the console's, virtiofsd (cocoon's, jailed, started here inside the
 * supervisor's mount namespace where the share's mounts live) on the
 * virtio-fs one, and QEMU connects to all three as it starts. They live in a
 * directory only root and QEMU's group can enter, and are removed as soon as
 * QEMU is connected. libvirt is told not to relabel anything (a static DAC
 * label of its own user): it would otherwise chown the guest kernel and
 * initrd, files every sandbox shares. docs/libvirt.md.
 */
#include <errno.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "fsutil.h"
#include "guest.h"

/* Where the sockets QEMU connects to live while it starts (each VM's directory goes once it is connected). */
#define SOCKET_ROOT "/run/cocoon-libvirt"
/* libvirt's pc machine takes at most this many vCPUs. */
#define PC_MAX_VCPUS 255u
/* How long QEMU may take to connect its chardevs once libvirt says the domain started. */
#define CONNECT_TIMEOUT_MS 10000
/* What the VM's end pipe carries: a lifecycle event's detail, or this when the connection closed. */
#define END_CONNECTION_CLOSED 0xff

struct hypervisor_settings {
        char *uri;
        char *qemu;
        char *virtiofsd;
        char *qemu_user;
        char *machine;
        char *log_dir;
        struct vmm_settings vmm;
};

static const struct hypervisor_settings defaults = {
        .uri = (char *) "qemu:///system",
        .qemu = (char *) "/usr/bin/qemu-system-x86_64",
        .virtiofsd = (char *) "/usr/lib/qemu/virtiofsd",
        .qemu_user = (char *) "libvirt-qemu",
        .machine = (char *) "pc",
        .log_dir = (char *) "/var/log/libvirt/qemu",
        .vmm = VMM_SETTINGS_DEFAULTS,
};

static const struct hypervisor_settings *settings_of(const struct vm_config *cfg)
{
        return cfg->settings ? cfg->settings : &defaults;
}

/* What a libvirt callback holds: its own copy of the end pipe's write side, closed when libvirt drops it. */
struct watch {
        int end_wr;
        char name[64];
};

struct libvirt_vm {
        struct vm base;
        const struct hypervisor_settings *set;
        virConnectPtr conn;
        virDomainPtr dom;
        int lifecycle_cb; /* -1: none */
        bool close_cb;
        char name[64];   /* the domain's */
        char *sock_dir;  /* while QEMU connects */
        char *tag;       /* COCOON_SANDBOX=<run dir> */
        int end_rd;      /* readable once the domain ended; base.wait_fd: an epoll over it and virtiofsd's pidfd */
        int log_wr;      /* what libvirt said, into vmm.log */
        int virtiofsd_pidfd;
        int ended;       /* the end's code once read, -1 before */
        struct jail_uid uid;
        struct boot_file boot_files[2]; /* the kernel and the initrd */
        size_t n_boot_files;
};

/*
 * libvirt is loaded when this backend is first used, not linked: linking it
 * cost every cocoon process (each call an engine makes: create, start,
 * state, delete) about 14 ms of start-up in its 50-odd libraries' loading
 * and constructors, for a backend most hosts never select.
 */
#define LIBVIRT_SONAME "libvirt.so.0"
#define LIBVIRT_CALLS(X) \
        X(virConnectClose) \
        X(virConnectDomainEventDeregisterAny) \
        X(virConnectDomainEventRegisterAny) \
        X(virConnectOpen) \
        X(virConnectRegisterCloseCallback) \
        X(virConnectUnregisterCloseCallback) \
        X(virDomainCreateXML) \
        X(virDomainDestroy) \
        X(virDomainFree) \
        X(virDomainGetName) \
        X(virDomainGetState) \
        X(virDomainIsActive) \
        X(virDomainLookupByName) \
        X(virDomainResume) \
        X(virDomainSetMemoryParameters) \
        X(virEventRegisterDefaultImpl) \
        X(virEventRunDefaultImpl) \
        X(virGetLastErrorCode) \
        X(virGetLastErrorMessage) \
        X(virInitialize) \
        X(virSetErrorFunc)
#define LIBVIRT_POINTER(f) __typeof__(f) *f;
static struct {
        LIBVIRT_CALLS(LIBVIRT_POINTER)
} lv;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load_libvirt(void)
{
        void *h = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(load_error, sizeof(load_error), "%s", dlerror());
                return;
        }
#define LIBVIRT_RESOLVE(f)                                                                                            \
        if (!load_error[0] && !(lv.f = (__typeof__(f) *) dlsym(h, #f)))                                                \
                snprintf(load_error, sizeof(load_error), "%s has no %s", LIBVIRT_SONAME, #f);
        LIBVIRT_CALLS(LIBVIRT_RESOLVE)
}

static int libvirt_load(cocoon_error **err)
{
        (void) pthread_once(&load_once, load_libvirt);
        if (load_error[0])
                return error_set(err, ENOENT, "the libvirt backend cannot load libvirt: %s (apt-get install libvirt0)",
                                 load_error);
        return 0;
}

/* libvirt prints every error on stderr unless told otherwise; we report them ourselves. */
static void quiet(void *data, virErrorPtr e)
{
}

static const char *last_error(void)
{
        const char *m = lv.virGetLastErrorMessage();
        return m ? m : "unknown libvirt error";
}

static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static int events_status;

static void *run_events(void *data)
{
        for (;;)
                (void) lv.virEventRunDefaultImpl();
        return NULL;
}

/* Once per process: libvirt's event loop, in a thread, for the domain's lifecycle events. */
static void start_events(void)
{
        lv.virSetErrorFunc(NULL, quiet);
        if (lv.virEventRegisterDefaultImpl() < 0) {
                events_status = -EIO;
                return;
        }
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        events_status = -pthread_create(&t, &a, run_events, NULL);
        pthread_attr_destroy(&a);
}

static int connect_libvirt(const char *uri, virConnectPtr *ret, cocoon_error **err)
{
        int r = libvirt_load(err);
        if (r < 0)
                return r;
        if (lv.virInitialize() < 0)
                return error_set(err, EIO, "initialising libvirt: %s", last_error());
        lv.virSetErrorFunc(NULL, quiet);
        virConnectPtr c = lv.virConnectOpen(uri);
        if (!c)
                return error_set(err, ECONNREFUSED,
                                 "connecting to libvirt at %s: %s (is libvirtd or virtqemud running, and may this user "
                                 "manage its domains? [hypervisor] uri in cocoon.conf names another)",
                                 uri, last_error());
        *ret = c;
        return 0;
}

static void watch_free(void *data)
{
        struct watch *w = data;
        if (w->end_wr >= 0)
                close(w->end_wr);
        free(w);
}

static void tell_end(struct watch *w, unsigned char code)
{
        (void) !write(w->end_wr, &code, 1);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *data)
{
        struct watch *w = data;
        const char *name = lv.virDomainGetName(dom);
        if (event == VIR_DOMAIN_EVENT_STOPPED && name && strcmp(name, w->name) == 0)
                tell_end(w, (unsigned char) detail);
        return 0;
}

static void on_close(virConnectPtr conn, int reason, void *data)
{
        tell_end(data, END_CONNECTION_CLOSED);
}

static struct watch *watch_new(int end_wr, const char *name)
{
        struct watch *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->end_wr = fcntl(end_wr, F_DUPFD_CLOEXEC, 3);
        snprintf(w->name, sizeof(w->name), "%s", name);
        if (w->end_wr < 0) {
                free(w);
                return NULL;
        }
        return w;
}

/* The domain's end and a lost connection, both onto the end pipe. */
static int watch_domain(struct libvirt_vm *vm, int end_wr, cocoon_error **err)
{
        struct watch *w = watch_new(end_wr, vm->name);
        if (!w)
                return -ENOMEM;
        vm->lifecycle_cb = lv.virConnectDomainEventRegisterAny(vm->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                            VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), w, watch_free);
        if (vm->lifecycle_cb < 0) {
                watch_free(w);
                return error_set(err, EIO, "watching libvirt's domain events: %s", last_error());
        }
        w = watch_new(end_wr, vm->name);
        if (!w)
                return -ENOMEM;
        if (lv.virConnectRegisterCloseCallback(vm->conn, on_close, w, watch_free) < 0) {
                watch_free(w);
                return error_set(err, EIO, "watching the libvirt connection: %s", last_error());
        }
        vm->close_cb = true;
        return 0;
}

static void xml_text(FILE *f, const char *s)
{
        for (; *s; s++) {
                switch (*s) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '\'': fputs("&apos;", f); break;
                case '"': fputs("&quot;", f); break;
                default: fputc(*s, f);
                }
        }
}

static void xml_elem(FILE *f, const char *indent, const char *tag, const char *text)
{
        fprintf(f, "%s<%s>", indent, tag);
        xml_text(f, text);
        fprintf(f, "</%s>\n", tag);
}


/*
 * The domain: direct kernel boot, RAM from a shared memfd (virtio-fs needs
 * it), the console on the first serial port, the agent on a virtio-serial
 * channel, the share over vhost-user-fs from our virtiofsd, a balloon with
 * free page reporting, the NICs on host taps; no USB, no graphics.
 */
char *libvirt_domain_xml(const struct vm_config *cfg, const struct libvirt_domain_plan *p)
{
        const struct hypervisor_settings *set = settings_of(cfg);
        _cleanup_free_ char *cmdline = guest_cmdline(cfg, false, p->tsc_khz);
        char *xml = NULL;
        size_t len = 0;
        FILE *f = cmdline ? open_memstream(&xml, &len) : NULL;
        if (!f)
                return NULL;
        fprintf(f, "<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n",
                p->kvm ? "kvm" : "qemu");
        xml_elem(f, "  ", "name", p->name);
        xml_elem(f, "  ", "title", "cocoon sandbox");
        xml_elem(f, "  ", "description", p->run_dir);
        fprintf(f, "  <memory unit='MiB'>%u</memory>\n  <vcpu>%u</vcpu>\n", cfg->memory_mib, cfg->vcpus);
        fputs("  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n", f);
        fputs("  <os>\n    <type arch='x86_64' machine='", f);
        xml_text(f, set->machine);
        fputs("'>hvm</type>\n", f);
        xml_elem(f, "    ", "kernel", cfg->kernel);
        xml_elem(f, "    ", "initrd", cfg->initrd);
        xml_elem(f, "    ", "cmdline", cmdline);
        fputs("  </os>\n  <features><acpi/>", f);
        if (!p->kvm)
                fprintf(f, "<tcg><tb-cache unit='MiB'>%u</tb-cache></tcg>", set->vmm.tcg_buffer_mib);
        fputs("</features>\n", f);
        fputs(p->kvm ? "  <cpu mode='host-passthrough'/>\n" : "  <cpu mode='maximum' migratable='off'/>\n", f);
        /* The guest's own reboot or crash ends it, as -no-reboot does for the QEMU backend. */
        fputs("  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
              "  <on_crash>destroy</on_crash>\n  <devices>\n",
              f);
        xml_elem(f, "    ", "emulator", set->qemu);
        fputs("    <controller type='usb' model='none'/>\n", f);
        fputs("    <serial type='unix'><source mode='connect' path='", f);
        xml_text(f, p->sock_dir);
        fputs("/console.sock'/><target port='0'/></serial>\n", f);
        fputs("    <channel type='unix'><source mode='connect' path='", f);
        xml_text(f, p->sock_dir);
        fputs("/agent.sock'/><target type='virtio' name='" GUEST_SERIAL_PORT "'/></channel>\n", f);
        fputs("    <filesystem type='mount'><driver type='virtiofs' queue='1024'/><source socket='", f);
        xml_text(f, p->sock_dir);
        fputs("/virtiofs.sock'/><target dir='" GUEST_VIRTIOFS_TAG "'/></filesystem>\n", f);
        /*
         * Each NIC: the host tap the supervisor made (root's, muted, tc
         * redirected to the pod's interface through a veth), which libvirt
         * opens and leaves as it is (managed='no'), with the interface's
         * MAC; no option ROM, nothing boots from it.
         */
        for (size_t i = 0; i < cfg->n_nics; i++) {
                const unsigned char *m = cfg->nics[i].mac;
                fprintf(f,
                        "    <interface type='ethernet'><mac address='%02x:%02x:%02x:%02x:%02x:%02x'/><target dev='",
                        m[0], m[1], m[2], m[3], m[4], m[5]);
                xml_text(f, cfg->nics[i].tap_name);
                fputs("' managed='no'/><model type='virtio'/><rom enabled='no'/></interface>\n", f);
        }
        fputs("    <memballoon model='virtio' freePageReporting='on'/>\n", f);
        fputs("    <video><model type='none'/></video>\n  </devices>\n", f);
        /* libvirt's own user, pinned, and nothing of ours relabelled. */
        fprintf(f, "  <seclabel type='static' model='dac' relabel='no'><label>+%u:+%u</label></seclabel>\n",
                (unsigned) p->qemu_uid, (unsigned) p->qemu_gid);
        /* Marks its processes as this sandbox's, as the QEMU backend's jail does. */
        fputs("  <qemu:commandline><qemu:env name='COCOON_SANDBOX' value='", f);
        xml_text(f, p->tag_value);
        fputs("'/></qemu:commandline>\n</domain>\n", f);
        if (fclose(f) != 0) {
                free(xml);
                return NULL;
        }
        return xml;
}

/* A socket QEMU connects to: root's, its group's to write, nobody else's. */
static int listen_for_qemu(const char *dir, const char *name, gid_t gid, char **ret_path, cocoon_error **err)
{
        _cleanup_free_ char *path = path_join(dir, name);
        if (!path)
                return -ENOMEM;
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return error_set(err, ENAMETOOLONG, "socket path too long: %s", path);
        strcpy(addr.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_sys(err, errno, "socket");
        if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || chown(path, 0, gid) < 0 ||
            chmod(path, 0660) < 0 || listen(fd, 1) < 0)
                return error_sys(err, errno, "listening on %s", path);
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return TAKE_FD(fd);
}

/* QEMU's connection on a socket of ours; anyone but libvirt's user is refused. */
static int accept_qemu(int listen_fd, uid_t qemu_uid, const char *what, cocoon_error **err)
{
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        int n = poll(&p, 1, CONNECT_TIMEOUT_MS);
        if (n <= 0)
                return error_sys(err, n == 0 ? ETIMEDOUT : errno, "waiting for QEMU to connect the %s", what);
        _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "accepting QEMU's %s connection", what);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return error_sys(err, errno, "the %s connection's peer", what);
        if (cred.uid != qemu_uid)
                return error_set(err, EPERM, "the %s connection came from uid %u, not QEMU's (%u)", what,
                                 (unsigned) cred.uid, (unsigned) qemu_uid);
        return TAKE_FD(fd);
}

static void remove_sock_dir(struct libvirt_vm *vm)
{
        if (!vm->sock_dir)
                return;
        (void) remove_tree(vm->sock_dir);
        free(vm->sock_dir);
        vm->sock_dir = NULL;
}


static int qemu_identity(const struct hypervisor_settings *set, uid_t *ret_uid, gid_t *ret_gid, cocoon_error **err)
{
        struct passwd *pw = getpwnam(set->qemu_user);
        if (!pw)
                return error_set(err, ENOENT,
                                 "libvirt's QEMU user %s does not exist (qemu_user in cocoon.conf's [hypervisor] "
                                 "section names the user of libvirt's qemu.conf)",
                                 set->qemu_user);
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

static void write_log(struct libvirt_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_log(struct libvirt_vm *vm, const char *fmt, ...)
{
        if (vm->log_wr < 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void) vdprintf(vm->log_wr, fmt, ap);
        va_end(ap);
}

static void libvirt_free(struct vm *base);
static int libvirt_stop(struct vm *base, cocoon_error **err);

/* libvirt's log of a domain: QEMU's command line and its own stderr, one file per domain name. */
static char *domain_log_path(const struct hypervisor_settings *set, const char *name)
{
        char *p;
        return asprintf(&p, "%s/%s.log", set->log_dir, name) < 0 ? NULL : p;
}

/*
 * Once the domain is gone: the last of what QEMU said goes into vmm.log (the
 * report's VMM tail) and libvirt's file goes, so that sandboxes, each under a
 * name of its own, do not pile up logs in libvirt's directory.
 */
static void collect_domain_log(struct libvirt_vm *vm)
{
        _cleanup_free_ char *path = domain_log_path(vm->set, vm->name);
        if (!path)
                return;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        char buf[4096];
        off_t from = st.st_size > (off_t) sizeof(buf) ? st.st_size - (off_t) sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, sizeof(buf), from);
        if (n > 0 && vm->log_wr >= 0)
                (void) !write(vm->log_wr, buf, (size_t) n);
        (void) unlink(path);
}

/* Whether name is one of ours ("cocoon-" and 16 hex digits) and no domain of libvirt's has it. */
static bool stale_name(struct libvirt_vm *vm, const char *name)
{
        if (strncmp(name, "cocoon-", 7) != 0 || strlen(name) != 7 + 16 || strspn(name + 7, "0123456789abcdef") != 16)
                return false;
        virDomainPtr dom = lv.virDomainLookupByName(vm->conn, name);
        if (dom) {
                lv.virDomainFree(dom);
                return false;
        }
        return lv.virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
}

/* A sandbox starting a while ago has its domain by now: a socket directory this old without one is a leftover. */
#define STALE_SOCKET_DIR_S 600

/*
 * What supervisors killed before they could clean up left of domains that
 * no longer exist: libvirt's logs of them, and socket directories of
 * sandboxes that never got as far as QEMU connecting.
 */
static void sweep_leftovers(struct libvirt_vm *vm)
{
        DIR *d = opendir(vm->set->log_dir);
        for (struct dirent *e; d && (e = readdir(d));) {
                char name[64];
                size_t len = strlen(e->d_name);
                if (len < 4 || len >= sizeof(name) + 4 || strcmp(e->d_name + len - 4, ".log") != 0)
                        continue;
                snprintf(name, sizeof(name), "%.*s", (int) (len - 4), e->d_name);
                if (stale_name(vm, name))
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        }
        if (d)
                closedir(d);
        d = opendir(SOCKET_ROOT);
        for (struct dirent *e; d && (e = readdir(d));) {
                struct stat st;
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    time(NULL) - st.st_mtime < STALE_SOCKET_DIR_S || !stale_name(vm, e->d_name))
                        continue;
                _cleanup_free_ char *path = path_join(SOCKET_ROOT, e->d_name);
                if (path)
                        (void) remove_tree(path);
        }
        if (d)
                closedir(d);
}

/*
 * QEMU lives in libvirt's cgroup, not in the sandbox's, where the QEMU
 * backend's VMM is bounded: the same bound (guest RAM plus the VMM's
 * overhead) becomes the domain's memory hard limit, which libvirt writes
 * into its cgroup; then the paused domain runs. Set live rather than as
 * <memtune> in the XML, because libvirt also raises QEMU's RLIMIT_MEMLOCK to
 * a hard limit it starts with, which needs CAP_SYS_RESOURCE, which a
 * libvirtd in a container may lack, and which QEMU does not need (it locks
 * no memory).
 */
static int bound_memory(struct libvirt_vm *vm, unsigned mib, cocoon_error **err)
{
        virTypedParameter p = {.field = VIR_DOMAIN_MEMORY_HARD_LIMIT, .type = VIR_TYPED_PARAM_ULLONG};
        p.value.ul = (unsigned long long) mib * 1024; /* KiB */
        if (lv.virDomainSetMemoryParameters(vm->dom, &p, 1, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return error_set(err, EIO, "bounding domain %s's memory to %u MiB: %s", vm->name, mib, last_error());
        if (lv.virDomainResume(vm->dom) < 0)
                return error_set(err, EIO, "resuming domain %s: %s", vm->name, last_error());
        return 0;
}

static int libvirt_start(const struct vm_config *cfg, struct vm **ret, cocoon_error **err)
{
        struct libvirt_vm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        *vm = (struct libvirt_vm) {.set = settings_of(cfg), .lifecycle_cb = -1, .end_rd = -1, .log_wr = -1,
                                   .virtiofsd_pidfd = -1, .ended = -1, .uid.lock_fd = -1};
        int r = vm_base_init(&vm->base, &libvirt_ops, cfg, err);
        _cleanup_close_ int end_wr = -1, console_listen = -1, agent_listen = -1, vfs_listen = -1;
        _cleanup_close_ int console_fd = -1, log_rd = -1;
        _cleanup_free_ char *run_dir = realpath(cfg->run_dir, NULL), *xml = NULL, *jail_root = NULL;
        _cleanup_free_ char *vmm_log = path_join(cfg->run_dir, "vmm.log");
        _cleanup_free_ char *console_log = path_join(cfg->run_dir, "console.log");
        _cleanup_free_ char *jail_dir = path_join(cfg->run_dir, "jail");
        struct libvirt_domain_plan plan = {.kvm = vm->base.kvm};

        if (r < 0)
                goto fail;
        if (!run_dir || !vmm_log || !console_log || !jail_dir ||
            asprintf(&vm->tag, "COCOON_SANDBOX=%s", run_dir) < 0) {
                vm->tag = NULL;
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < cfg->n_nics; i++)
                if (!cfg->nics[i].tap_name[0]) {
                        r = error_set(err, EINVAL, "network interface %zu: libvirt opens taps by name, and it has none", i);
                        goto fail;
                }
        r = qemu_identity(vm->set, &plan.qemu_uid, &plan.qemu_gid, err);
        if (r < 0)
                goto fail;
        plan.tsc_khz = vm->base.kvm ? 0 : host_tsc_khz();

        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                r = error_sys(err, errno, "pipe");
                goto fail;
        }
        vm->end_rd = pfd[0];
        end_wr = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                r = error_sys(err, errno, "pipe");
                goto fail;
        }
        log_rd = pfd[0];
        vm->log_wr = pfd[1];

        r = libvirt_load(err);
        if (r < 0)
                goto fail;
        r = pthread_once(&events_once, start_events);
        if (r == 0 && events_status < 0)
                r = events_status;
        if (r != 0) {
                r = error_sys(err, r > 0 ? r : -r, "starting libvirt's event loop");
                goto fail;
        }
        r = connect_libvirt(vm->set->uri, &vm->conn, err);
        if (r < 0)
                goto fail;

        uint8_t rnd[8];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
                r = error_sys(err, errno, "getrandom");
                goto fail;
        }
        snprintf(vm->name, sizeof(vm->name), "cocoon-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5], rnd[6], rnd[7]);
        r = watch_domain(vm, end_wr, err);
        if (r < 0)
                goto fail;
        sweep_leftovers(vm);

        /* The sockets' directory: root's, entered only by QEMU's group. */
        vm->sock_dir = path_join(SOCKET_ROOT, vm->name);
        if (!vm->sock_dir) {
                r = -ENOMEM;
                goto fail;
        }
        if ((mkdir(SOCKET_ROOT, 0755) < 0 && errno != EEXIST) || mkdir(vm->sock_dir, 0700) < 0) {
                r = error_sys(err, errno, "creating %s", vm->sock_dir);
                free(vm->sock_dir);
                vm->sock_dir = NULL;
                goto fail;
        }
        if (chown(vm->sock_dir, 0, plan.qemu_gid) < 0 || chmod(vm->sock_dir, 0710) < 0) {
                r = error_sys(err, errno, "setting the owner of %s", vm->sock_dir);
                goto fail;
        }
        console_listen = listen_for_qemu(vm->sock_dir, "console.sock", plan.qemu_gid, NULL, err);
        agent_listen = console_listen < 0 ? -1 : listen_for_qemu(vm->sock_dir, "agent.sock", plan.qemu_gid, NULL, err);
        vfs_listen = agent_listen < 0 ? -1 : listen_for_qemu(vm->sock_dir, "virtiofs.sock", plan.qemu_gid, NULL, err);
        if (vfs_listen < 0) {
                r = console_listen < 0 ? console_listen : agent_listen < 0 ? agent_listen : vfs_listen;
                goto fail;
        }

        if (vm->set->vmm.jail) {
                r = jail_uid_claim(vm->set->vmm.uid_first, vm->set->vmm.uid_count, &vm->uid, err);
                if (r < 0)
                        goto fail;
                if ((mkdir(jail_dir, 0755) < 0 && errno != EEXIST) || !(jail_root = realpath(jail_dir, NULL))) {
                        r = error_sys(err, errno, "creating %s", jail_dir);
                        goto fail;
                }
        }
        r = virtiofsd_spawn(vm->set->virtiofsd, cfg->shared_dir, &cfg->share, vfs_listen, jail_root, vm->uid.uid,
                            vm->tag, &(pid_t) {0}, &vm->virtiofsd_pidfd, err);
        if (r < 0)
                goto fail;
        cleanup_closep(&vfs_listen);
        vfs_listen = -1;
        int ends[] = {vm->end_rd, vm->virtiofsd_pidfd};
        r = watch_fds(ends, ARRAY_SIZE(ends), &vm->base.wait_fd);
        if (r < 0) {
                r = error_sys(err, -r, "watching the VM's end");
                goto fail;
        }

        plan.name = vm->name;
        plan.run_dir = run_dir;
        plan.sock_dir = vm->sock_dir;
        plan.tag_value = vm->tag + strlen("COCOON_SANDBOX=");
        xml = libvirt_domain_xml(cfg, &plan);
        if (!xml) {
                r = -ENOMEM;
                goto fail;
        }
        /* Paused until its memory is bounded (bound_memory). */
        /* Known before QEMU opens them: what booted() looks for in its mappings. */
        vm->n_boot_files = boot_files_of(cfg, vm->boot_files);
        vm->dom = lv.virDomainCreateXML(vm->conn, xml,
                                     VIR_DOMAIN_START_AUTODESTROY | (cfg->vmm_memory_max_mib ? VIR_DOMAIN_START_PAUSED : 0));
        if (!vm->dom) {
                r = error_set(err, EIO, "libvirt could not start the domain: %s", last_error());
                goto fail;
        }
        if (cfg->vmm_memory_max_mib) {
                r = bound_memory(vm, cfg->vmm_memory_max_mib, err);
                if (r < 0)
                        goto fail;
        }
        console_fd = accept_qemu(console_listen, plan.qemu_uid, "console", err);
        if (console_fd < 0) {
                r = console_fd;
                goto fail;
        }
        vm->base.agent_fd = accept_qemu(agent_listen, plan.qemu_uid, "agent channel", err);
        if (vm->base.agent_fd < 0) {
                r = vm->base.agent_fd;
                goto fail;
        }
        /* QEMU holds its connections: nobody else needs the sockets. */
        remove_sock_dir(vm);
        write_log(vm, "libvirt started domain %s (%s)\n", vm->name, vm->set->uri);
        r = console_start(TAKE_FD(console_fd), console_log, TAKE_FD(log_rd), vmm_log, &vm->base.console, err);
        if (r < 0)
                goto fail;
        *ret = &vm->base;
        return 0;

fail:
        libvirt_free(&vm->base);
        return r;
}

static const char *end_reason(int code)
{
        switch (code) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "the guest shut down";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "the domain was destroyed";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "the guest crashed";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "QEMU failed (killed or crashed)";
        case END_CONNECTION_CLOSED: return "the connection to libvirt closed";
        default: return "the domain stopped";
        }
}

static int libvirt_stop(struct vm *base, cocoon_error **err)
{
        struct libvirt_vm *vm = (struct libvirt_vm *) base;
        if (vm->ended < 0 && vm->end_rd >= 0) {
                struct pollfd p = {.fd = vm->end_rd, .events = POLLIN};
                unsigned char code;
                if (poll(&p, 1, 0) > 0 && read(vm->end_rd, &code, 1) == 1) {
                        vm->ended = code;
                        write_log(vm, "domain %s ended by itself: %s\n", vm->name, end_reason(code));
                }
        }
        int r = 0;
        if (vm->dom) {
                int state = VIR_DOMAIN_NOSTATE;
                if (lv.virDomainGetState(vm->dom, &state, NULL, 0) == 0 && state != VIR_DOMAIN_SHUTOFF &&
                    lv.virDomainDestroy(vm->dom) < 0 && lv.virDomainIsActive(vm->dom) == 1)
                        r = error_set(err, EIO, "destroying domain %s: %s", vm->name, last_error());
                lv.virDomainFree(vm->dom);
                vm->dom = NULL;
                collect_domain_log(vm);
        }
        if (vm->virtiofsd_pidfd >= 0) {
                (void) reap_or_kill(vm->virtiofsd_pidfd, 2000);
                close(vm->virtiofsd_pidfd);
                vm->virtiofsd_pidfd = -1;
        }
        if (vm->log_wr >= 0) {
                close(vm->log_wr);
                vm->log_wr = -1;
        }
        /* QEMU is gone, and so is the console's writer. */
        console_stop(vm->base.console);
        return r;
}

static void libvirt_free(struct vm *base)
{
        struct libvirt_vm *vm = (struct libvirt_vm *) base;
        (void) libvirt_stop(base, NULL);
        remove_sock_dir(vm);
        if (vm->conn) {
                if (vm->lifecycle_cb >= 0)
                        (void) lv.virConnectDomainEventDeregisterAny(vm->conn, vm->lifecycle_cb);
                if (vm->close_cb)
                        (void) lv.virConnectUnregisterCloseCallback(vm->conn, on_close);
                (void) lv.virConnectClose(vm->conn);
        }
        cleanup_closep(&vm->end_rd);
        cleanup_closep(&vm->log_wr);
        vm_base_release(&vm->base);
        jail_uid_release(&vm->uid);
        free(vm->tag);
        free(vm);
}

/* libvirt's QEMU keeps the kernel and initrd mapped as ours does; it is found by its -name. */
static int libvirt_booted(struct vm *base)
{
        struct libvirt_vm *vm = (struct libvirt_vm *) base;
        return vmm_release_boot_files_named(vm->name, vm->boot_files, vm->n_boot_files);
}

static int libvirt_status(struct vm *base, char **ret_status)
{
        struct libvirt_vm *vm = (struct libvirt_vm *) base;
        int state;
        if (!vm->dom || lv.virDomainGetState(vm->dom, &state, NULL, 0) < 0)
                return -ESRCH;
        /* In QMP's words, as the runtime phrases them. */
        const char *s = state == VIR_DOMAIN_RUNNING   ? "running"
                        : state == VIR_DOMAIN_PAUSED  ? "paused"
                        : state == VIR_DOMAIN_CRASHED ? "guest-panicked"
                        : state == VIR_DOMAIN_PMSUSPENDED ? "suspended"
                                                      : "shutdown";
        *ret_status = strdup(s);
        return *ret_status ? 0 : -ENOMEM;
}

static int settings_new(struct hypervisor_settings **ret)
{
        struct hypervisor_settings *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = defaults;
        char **fields[] = {&s->uri, &s->qemu, &s->virtiofsd, &s->qemu_user, &s->machine, &s->log_dir};
        bool oom = false;
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                oom |= !(*fields[i] = strdup(*fields[i]));
        if (oom) {
                libvirt_ops.settings_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static int settings_set(struct hypervisor_settings *s, const char *key, const char *value)
{
        if (strcmp(key, "uri") == 0)
                return *value ? settings_set_string(&s->uri, value) : -EINVAL;
        char **path = strcmp(key, "qemu") == 0        ? &s->qemu
                      : strcmp(key, "virtiofsd") == 0 ? &s->virtiofsd
                      : strcmp(key, "log_dir") == 0   ? &s->log_dir
                                                      : NULL;
        if (path)
                return *value == '/' ? settings_set_string(path, value) : -EINVAL;
        if (strcmp(key, "qemu_user") == 0)
                return *value ? settings_set_string(&s->qemu_user, value) : -EINVAL;
        if (strcmp(key, "machine") == 0) {
                /* libvirt's x86 machines with PCI: virtio-pci is what the guest finds its devices on. */
                if (strcmp(value, "pc") != 0 && strcmp(value, "q35") != 0)
                        return -EINVAL;
                return settings_set_string(&s->machine, value);
        }
        return vmm_settings_set(&s->vmm, key, value);
}

static void settings_free(struct hypervisor_settings *s)
{
        if (!s)
                return;
        free(s->uri);
        free(s->qemu);
        free(s->virtiofsd);
        free(s->qemu_user);
        free(s->machine);
        free(s->log_dir);
        free(s);
}

/* QEMU opens the kernel and initrd by their host paths as libvirt's user: every directory on the way must let it. */
static int check_reachable(const char *what, const char *path, uid_t uid, gid_t gid, cocoon_error **err)
{
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        for (char *slash = strrchr(dir, '/'); slash && slash != dir; slash = strrchr(dir, '/')) {
                *slash = '\0';
                struct stat st;
                if (stat(dir, &st) < 0)
                        return error_sys(err, errno, "%s", dir);
                bool x = st.st_uid == uid ? st.st_mode & S_IXUSR
                         : st.st_gid == gid ? st.st_mode & S_IXGRP
                                            : st.st_mode & S_IXOTH;
                if (!x)
                        return error_set(err, EACCES,
                                         "%s %s: libvirt's QEMU user (uid %u) cannot enter %s; the guest images must be "
                                         "where QEMU can read them",
                                         what, path, (unsigned) uid, dir);
        }
        return 0;
}

static int libvirt_check_host(const struct vm_config *cfg, cocoon_error **err)
{
        const struct hypervisor_settings *s = settings_of(cfg);
        uid_t uid = 0;
        gid_t gid = 0;
        int r = qemu_identity(s, &uid, &gid, err);
        if (r == 0)
                r = guest_file_check("guest kernel", cfg->kernel, true, err);
        if (r == 0)
                r = guest_file_check("guest initrd", cfg->initrd, true, err);
        if (r == 0)
                r = check_reachable("guest kernel", cfg->kernel, uid, gid, err);
        if (r == 0)
                r = check_reachable("guest initrd", cfg->initrd, uid, gid, err);
        if (r == 0 && access(s->virtiofsd, X_OK) < 0)
                r = error_sys(err, errno, "virtiofsd %s (install qemu-system-common)", s->virtiofsd);
        if (r == 0 && cfg->vcpus > PC_MAX_VCPUS)
                r = error_set(err, EINVAL,
                              "the VM would have %u vCPUs (vcpus in cocoon.conf plus the container's CPU limit), more "
                              "than %u, libvirt's pc machine's limit",
                              cfg->vcpus, PC_MAX_VCPUS);
        if (r < 0)
                return r;
        /* The daemon is there and lets us in: the error a user can act on, before anything is made. */
        virConnectPtr conn = NULL;
        r = connect_libvirt(s->uri, &conn, err);
        if (r < 0)
                return r;
        (void) lv.virConnectClose(conn);
        if (!s->vmm.jail && cfg->warn)
                cfg->warn("jail = off: virtiofsd runs as root with every capability; a guest that breaks out of it "
                          "owns the host");
        return 0;
}

const struct hypervisor_ops libvirt_ops = {
        .name = "libvirt",
        .nics_by_name = true,
        .settings_new = settings_new,
        .settings_set = settings_set,
        .settings_free = settings_free,
        .check_host = libvirt_check_host,
        .start = libvirt_start,
        .stop = libvirt_stop,
        .status = libvirt_status,
        .booted = libvirt_booted,
        .free = libvirt_free,
};
