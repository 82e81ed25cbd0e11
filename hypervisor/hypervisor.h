/*
 * Virtual machine monitors behind one ops table. QEMU is the first backend;
 * others (libvirt, Cloud Hypervisor) plug in beside it. Everything about a VM
 * is private to its backend: the runtime holds a struct vm it cannot look
 * into and calls the vm_* functions below. A backend whose VMM is not our
 * child (libvirt) fits as well: the VM's end is a file descriptor to poll,
 * not a SIGCHLD.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum vm_accel { VM_ACCEL_AUTO, VM_ACCEL_KVM, VM_ACCEL_TCG };

/* At most this many NICs: each is one more fd handed to the VMM. */
#define VM_MAX_NICS 8

/*
 * A guest NIC backed by a tap device the caller made (and keeps owning):
 * open, as tap_fd, for a backend that hands fds to its VMM; by name, in the
 * host's network namespace, for one whose VMM opens it itself
 * (hypervisor_ops.nics_by_name).
 */
struct vm_nic {
        int tap_fd;           /* -1 when by name */
        char tap_name[16];    /* IFNAMSIZ; "" when by fd */
        unsigned char mac[6]; /* the guest NIC's: the interface's it stands in for */
};

/* The backend's own settings ([hypervisor] keys it knows, such as the VMM's path). */
struct hypervisor_settings;

/*
 * What the guest may create through virtio-fs beyond plain files and
 * directories (cocoon.conf [share]); both off by default, docs/security.md.
 */
struct share_policy {
        bool allow_devices;          /* device nodes: virtiofsd keeps CAP_MKNOD */
        bool allow_privileged_files; /* setuid/setgid bits and file capabilities */
};

struct vm_config {
        const struct hypervisor_settings *settings; /* NULL: the backend's defaults */
        const char *kernel;
        const char *initrd;
        unsigned vcpus;
        unsigned memory_mib;
        /*
         * The host's bound on the VMM's memory (guest RAM plus its own), 0:
         * none. The runtime sets it on the sandbox's host cgroup, where the
         * QEMU backend's VMM lives; a backend whose VMM lives elsewhere
         * (libvirt's cgroup) applies it there itself.
         */
        unsigned vmm_memory_max_mib;
        enum vm_accel accel;
        const char *run_dir;     /* private directory for sockets and logs */
        const char *shared_dir;  /* served to the guest over virtio-fs */
        const char *kernel_args; /* extra guest kernel arguments, may be NULL */
        bool debug;              /* guest kernel messages to the console log */
        bool no_agent;           /* the initrd has no agent (the benchmark floor): do not connect */
        unsigned boot_timeout_s; /* for the agent to be reachable; 0: vm_default_boot_timeout() */
        struct share_policy share;
        const struct vm_nic *nics;
        size_t n_nics; /* at most VM_MAX_NICS */
        /* Tells the user about a degraded setting (TCG, no jail); may be NULL. */
        void (*warn)(const char *msg);
};

struct vm;

/* What the backend saw of a VM that failed, for the runtime to phrase. */
struct vm_report {
        int vmm_exit;       /* the VMM's exit code (128 + signal) if it ended by itself; -1 if we stopped it or it runs */
        char *vmm_tail;     /* the VMM's own last lines (its stderr), or NULL */
        char *console_tail; /* the guest console's last lines, or NULL */
        char *panic;        /* the guest kernel's panic line, if it printed one, or NULL */
};

struct hypervisor_ops {
        const char *name;
        /* Its VMM opens taps by name in the host's network namespace (libvirt), rather than taking their fds. */
        bool nics_by_name;
        /* Settings: new (defaults), set one key (-ENOENT: not a key of this backend, -EINVAL: bad value), free. */
        int (*settings_new)(struct hypervisor_settings **ret);
        int (*settings_set)(struct hypervisor_settings *s, const char *key, const char *value);
        void (*settings_free)(struct hypervisor_settings *s);
        /* Whether this host can run cfg: binaries, devices, kernel and initrd. */
        int (*check_host)(const struct vm_config *cfg, cocoon_error **err);
        /* Starts the VM; the agent link is connected (bytes may wait until the agent is up). */
        int (*start)(const struct vm_config *cfg, struct vm **ret, cocoon_error **err);
        /* Stops the VM (graceful, then by force) and reaps its processes. */
        int (*stop)(struct vm *vm, cocoon_error **err);
        /* The VMM's view of the guest: "running", "paused", "shutdown", "guest-panicked"... (malloc'd) */
        int (*status)(struct vm *vm, char **ret_status);
        /* The guest is up (its agent answered): give back what only its boot needed, in the background; optional. */
        int (*booted)(struct vm *vm);
        void (*free)(struct vm *vm);
};

extern const struct hypervisor_ops qemu_ops;

/*
 * How long a guest may take to boot by default: seconds under hardware
 * acceleration, but tens of seconds emulated on a loaded host, where a slow
 * boot is no failure.
 */
#define VM_BOOT_TIMEOUT_ACCELERATED_S 60u
#define VM_BOOT_TIMEOUT_EMULATED_S 300u
static inline unsigned vm_default_boot_timeout(bool accelerated)
{
        return accelerated ? VM_BOOT_TIMEOUT_ACCELERATED_S : VM_BOOT_TIMEOUT_EMULATED_S;
}

/* The backend by name, if this build has it; NULL means the default (qemu). */
const struct hypervisor_ops *hypervisor_find(const char *name);
/* The backends this build has, space-separated ("qemu libvirt"). */
const char *hypervisor_backend_names(void);
/* Whether name is a backend cocoon has at all, built in or not (for a clearer error). */
bool hypervisor_known_backend(const char *name);

/* The VM's calls: through its backend's table, or read from what every backend's VM has. */
/* The connected byte stream to the agent, handed over once (-EBADF after). */
int vm_take_agent_fd(struct vm *vm);
/* Readable once the VM has ended (any of its parts: the VMM, virtiofsd). */
int vm_wait_fd(struct vm *vm);
/* Whether the guest runs accelerated (KVM) rather than emulated. */
bool vm_accelerated(struct vm *vm);
int vm_stop(struct vm *vm, cocoon_error **err);
int vm_status(struct vm *vm, char **ret_status);
/* Tells the backend the guest is up, so that it gives back the VMM's boot-only memory (in the background): 0 or -errno. */
int vm_booted(struct vm *vm);
/* What the backend knows of the VM's end (best after stop, once the logs are complete); strings malloc'd. */
void vm_report(struct vm *vm, struct vm_report *ret);
void vm_report_done(struct vm_report *r);
void vm_free(struct vm *vm);
