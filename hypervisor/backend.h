/*
 * What the backends share inside hypervisor/ and nobody above it sees: the
 * base of every struct vm, the jail step that starts each helper process,
 * the per-sandbox uid, and the console reader.
 */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "hypervisor.h"

/*
 * qemu.c, shared with the libvirt backend: the host's TSC rate for the
 * guest's tsc_early_khz= (0 where unknown), why /dev/kvm cannot run our guest
 * (NULL when it can), and whether a kernel or initrd is there and readable
 * (by others too, with others: a VMM of another uid opens it).
 */
unsigned long host_tsc_khz(void);
const char *kvm_unusable_why(void);
/* An epoll fd (CLOEXEC) readable once any of fds is: a VM's end is any of its parts' end. */
int watch_fds(const int *fds, size_t n, int *ret_epoll);
int guest_file_check(const char *what, const char *path, bool others, cocoon_error **err);
/* The guest kernel's command line: console, panic handling, the agent's transport (malloc'd, NULL: no memory). */
char *guest_cmdline(const struct vm_config *cfg, bool vsock, unsigned long tsc_khz);

/*
 * The [hypervisor] keys both QEMU-based backends take: jail (virtiofsd's, and
 * the QEMU backend's VMM's), jail_uids, tcg_buffer_mib. vmm_settings_set()
 * returns -ENOENT for a key that is none of these.
 */
struct vmm_settings {
        bool jail;
        uid_t uid_first;
        unsigned uid_count;
        unsigned tcg_buffer_mib;
};
#define VMM_SETTINGS_DEFAULTS \
        { .jail = true, .uid_first = JAIL_UID_FIRST_DEFAULT, .uid_count = JAIL_UID_COUNT_DEFAULT, .tcg_buffer_mib = 64 }
int vmm_settings_set(struct vmm_settings *v, const char *key, const char *value);
/* Replaces *field with a copy of value: 0, or -ENOMEM (the old value stays). */
int settings_set_string(char **field, const char *value);

/* libvirt.c, when built (meson option libvirt); the domain's XML is exposed for its unit test. */
extern const struct hypervisor_ops libvirt_ops;
struct libvirt_domain_plan {
        const char *name, *run_dir, *sock_dir, *tag_value;
        uid_t qemu_uid;
        gid_t qemu_gid;
        bool kvm;
        unsigned long tsc_khz;
};
char *libvirt_domain_xml(const struct vm_config *cfg, const struct libvirt_domain_plan *p);

/*
 * Every backend's vm starts with this: what vm_take_agent_fd(),
 * vm_wait_fd(), vm_accelerated() and vm_report() read, for every backend
 * alike (hypervisor.c).
 */
struct console;
struct vm {
        const struct hypervisor_ops *ops;
        int agent_fd;            /* the connected byte stream to the agent, until taken */
        int wait_fd;             /* readable once the VM has ended */
        bool kvm;                /* accelerated, rather than TCG */
        int vmm_exit;            /* the VMM's exit code (128 + signal) if it ended by itself, else -1 */
        struct console *console; /* the guest's console and the VMM's own output */
};
/*
 * Fills the base (nothing open yet, so that the backend's free is safe at
 * once), chooses KVM or TCG (warning through cfg->warn about TCG), and
 * checks what every backend refuses alike.
 */
int vm_base_init(struct vm *vm, const struct hypervisor_ops *ops, const struct vm_config *cfg, cocoon_error **err);
/* Closes and frees what the base holds; the backend's free calls it. */
void vm_base_release(struct vm *vm);

/*
 * boot-files.c: the guest's kernel and initrd, which the VMM keeps mapped
 * only to load them again on a reset, given back to the host once the guest
 * is up. A file is known by its device and inode, which a jail's bind mount
 * keeps.
 */
struct boot_file {
        dev_t dev;
        ino_t ino;
};
/* cfg's kernel and initrd, as far as they exist: how many of ret were filled. */
size_t boot_files_of(const struct vm_config *cfg, struct boot_file ret[2]);
/* MADV_PAGEOUT on the VMM's mappings of these files, on a thread of its own: 0 once it runs, or -errno. */
int vmm_release_boot_files(int pidfd, pid_t pid, const struct boot_file *files, size_t n_files);
/* The same for a VMM that is not our child, found on that thread by its "-name guest=NAME" (libvirt's QEMU). */
int vmm_release_boot_files_named(const char *name, const struct boot_file *files, size_t n_files);

/* jail.c: the uids the jailed processes run as, one per live sandbox. */
#define JAIL_UID_FIRST_DEFAULT 1879048192u /* 0x70000000: just above systemd-nspawn's container range */
#define JAIL_UID_COUNT_DEFAULT 65536u
#define JAIL_LOCK_DIR "/run/cocoon-jail"

struct jail_uid {
        uid_t uid;   /* also the gid */
        int lock_fd; /* flock'd for as long as the sandbox lives */
};
/* Claims a uid of [first, first+count) that no live sandbox holds. */
int jail_uid_claim(uid_t first, unsigned count, struct jail_uid *ret, cocoon_error **err);
void jail_uid_release(struct jail_uid *u);
/* Parses "FIRST-LAST" (inclusive). */
int jail_parse_uids(const char *value, uid_t *ret_first, unsigned *ret_count);

/*
 * A file or directory the jailed process sees at dst in its root, bound
 * read-only, nosuid, nodev; or a device node made afresh in its /dev (mode
 * 0666 and root's, or with writable: 0600 and the jail uid's alone).
 */
struct jail_bind {
        const char *src;
        const char *dst; /* absolute, inside the jail */
        bool writable;
        bool device;
};

/* How one helper process is jailed; see docs/jail.md for the order of the steps. */
struct jail {
        const char *root;  /* an empty host directory; the jail's root (a tmpfs) is mounted on it */
        uid_t uid;         /* and gid */
        const struct jail_bind *binds;
        size_t n_binds;
        bool proc;         /* a /proc of its own (its pid namespace's) */
        const int *caps;   /* capabilities it keeps, as ambient ones; none for the VMM */
        size_t n_caps;
        rlim_t nofile;     /* RLIMIT_NOFILE, 0 = unchanged */
        rlim_t fsize;      /* RLIMIT_FSIZE, 0 = unchanged */
};

/* spawn.c: the jail step. */
struct spawn_req {
        char *const *argv;
        const int *keep_fds; /* placed at 3, 4, ... */
        size_t n_keep;
        int out_fd;               /* stdout and stderr; -1 for /dev/null */
        char *tag;                /* "COCOON_SANDBOX=<state dir>" in its environment, or NULL */
        const struct jail *jail;  /* NULL: not jailed (jail = off) */
        /* Runs in the child just before exec (after the jail); nonzero errno fails the spawn. */
        int (*pre_exec)(void *data);
        void *pre_exec_data;
};
/* Starts argv[0]; *ret_pidfd (CLOEXEC) tells its end and signals it without pid reuse. */
int spawn_process(const struct spawn_req *req, pid_t *ret_pid, int *ret_pidfd, cocoon_error **err);
/*
 * Waits up to timeout_ms for the process to exit, then SIGKILLs it; reaps it
 * unless someone did. Returns its exit code, 128 + the signal that killed it,
 * or -1 when unknown (reaped elsewhere).
 */
int reap_or_kill(int pidfd, int timeout_ms);

/* The sandbox's host directories and files every jail binds (libraries, /dev/null...). */
size_t jail_common_binds(struct jail_bind *out, size_t max);

/* console.c: the guest console and the VMM's own log, read into bounded files and a ring. */
#define CONSOLE_LOG_MAX (1u << 20) /* each log file; the previous one is kept as NAME.1 */
struct console;
int console_start(int console_fd, const char *console_path, int log_fd, const char *log_path, struct console **ret,
                  cocoon_error **err);
enum console_source { CONSOLE_GUEST, CONSOLE_VMM };
/* The last lines of the guest's console or of the VMM's own output (malloc'd), or NULL. */
char *console_tail(struct console *c, enum console_source which);
/* The guest kernel's panic line ("Kernel panic - not syncing: ...") if it printed one (malloc'd), or NULL. */
char *console_panic(struct console *c);
/* Both tails and the panic line into a report (nothing without a console). */
void console_report(struct console *c, struct vm_report *ret);
/* Waits for both sources to reach EOF (their writer has exited); the tail stays readable. */
void console_stop(struct console *c);
void console_free(struct console *c);

/* qemu.c, exposed for the unit test that checks a KVM and vsock host's jail without one. */
#define QEMU_MAX_ARGS 128
struct argv_builder {
        char *v[QEMU_MAX_ARGS + 1];
        size_t n;
        bool oom;
};
void argv_free(struct argv_builder *b);
struct qemu_plan {
        const struct hypervisor_settings *set;
        bool kvm, vsock;
        unsigned cid;
        unsigned long tsc_khz; /* 0: let the guest calibrate */
};
int qemu_build_argv(const struct vm_config *cfg, const struct qemu_plan *p, struct argv_builder *b);
size_t qemu_jail_binds(const struct vm_config *cfg, const struct qemu_plan *p, struct jail_bind *out, size_t max);

/* virtiofsd.c */
int virtiofsd_spawn(const char *binary, const char *shared_dir, const struct share_policy *policy, int listen_fd,
                    const char *jail_root, uid_t uid, char *tag, pid_t *ret_pid, int *ret_pidfd, cocoon_error **err);
/*
 * virtiofsd-confine.c: what virtiofsd may not do for the guest (the share
 * policy): prepared in the parent, applied by virtiofsd_confine() as the jail
 * step's pre_exec (its data is the confinement), which only drops bounding
 * capabilities and installs the compiled filter. Returns an errno, 0 if fine.
 */
#include <linux/filter.h>
struct virtiofsd_confinement {
        struct share_policy policy;
        struct sock_fprog filter; /* .filter NULL: none */
};
int virtiofsd_confinement_prepare(const struct share_policy *policy, struct virtiofsd_confinement *ret,
                                  cocoon_error **err);
void virtiofsd_confinement_free(struct virtiofsd_confinement *c);
int virtiofsd_confine(void *data);
