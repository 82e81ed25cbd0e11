/*
 * Virtual machine monitors behind one ops table. QEMU is the first backend;
 * others (libvirt) plug in beside it. A vm owns its VMM and virtiofsd
 * processes; they die with the process that started them (PDEATHSIG), so a
 * killed supervisor never leaves a VM behind.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

enum vm_transport { VM_TRANSPORT_SERIAL, VM_TRANSPORT_VSOCK };
enum vm_accel { VM_ACCEL_AUTO, VM_ACCEL_KVM, VM_ACCEL_TCG };

/* At most this many NICs: each is one more fd handed to the VMM. */
#define VM_MAX_NICS 8

/* A guest NIC backed by a tap device the caller opened (and keeps owning). */
struct vm_nic {
        int tap_fd;
        unsigned char mac[6];
};

/*
 * What the guest may create through virtio-fs beyond plain files and
 * directories (cocoon.conf [share]); both off by default, docs/security.md.
 */
struct share_policy {
        bool allow_devices;          /* device nodes: virtiofsd keeps CAP_MKNOD */
        bool allow_privileged_files; /* setuid/setgid bits and file capabilities */
};

struct vm_config {
        const char *qemu;      /* qemu-system-x86_64 */
        const char *virtiofsd; /* /usr/lib/qemu/virtiofsd */
        const char *kernel;
        const char *initrd;
        unsigned vcpus;
        unsigned memory_mib;
        enum vm_accel accel;
        const char *run_dir;    /* private directory for sockets and logs */
        const char *shared_dir; /* served to the guest over virtio-fs */
        const char *kernel_args; /* extra guest kernel arguments, may be NULL */
        bool debug;              /* guest kernel messages to the console log */
        bool no_agent;           /* the initrd has no agent (the benchmark floor): do not connect */
        struct share_policy share;
        const struct vm_nic *nics;
        size_t n_nics;           /* at most VM_MAX_NICS */
};

struct vm {
        const struct hypervisor_ops *ops;
        pid_t vmm_pid;
        pid_t virtiofsd_pid;
        int qmp_fd;
        int agent_fd; /* connected byte stream to the agent, taken by vm_take_agent_fd */
        enum vm_transport transport;
        bool kvm;
        unsigned cid; /* vsock guest CID */
        char *console_log;
};

struct hypervisor_ops {
        const char *name;
        /* Starts the VM; the agent link is connected (bytes may wait until the agent is up). */
        int (*start)(const struct vm_config *cfg, struct vm **ret, cocoon_error **err);
        /* Stops the VM (graceful, then by force) and reaps its processes. */
        int (*stop)(struct vm *vm, cocoon_error **err);
        /* The VMM's view of the guest: "running", "paused", "shutdown", "guest-panicked"... (malloc'd) */
        int (*status)(struct vm *vm, char **ret_status);
};

extern const struct hypervisor_ops qemu_ops;

const struct hypervisor_ops *hypervisor_find(const char *name);
/* KVM when /dev/kvm can be opened read-write (and not forbidden by cfg). */
bool hypervisor_kvm_usable(void);
/* vhost-vsock when /dev/vhost-vsock can be opened. */
bool hypervisor_vsock_usable(void);

/* Called from the supervisor's SIGCHLD handling: true if pid was one of the VM's. */
bool vm_owns_pid(struct vm *vm, pid_t pid, int status);
void vm_free(struct vm *vm);

/* virtiofsd.c */
int virtiofsd_spawn(const char *binary, const char *shared_dir, const struct share_policy *policy, int listen_fd,
                    pid_t *ret_pid, cocoon_error **err);
/*
 * virtiofsd-confine.c: in virtiofsd's child just before exec (policy is a
 * const struct share_policy *): capabilities out of the bounding set and a
 * seccomp filter against setuid/setgid files. A negative errno on failure.
 */
int virtiofsd_confine(void *policy);

/* spawn.c: fork+exec with the given fds placed at 3.., PDEATHSIG and output to a log file */
int spawn_process(char *const argv[], const int *keep_fds, size_t n_keep, const char *log_path, pid_t *ret_pid,
                  cocoon_error **err);
/* The same, calling child_setup(arg) in the child just before exec; a negative errno from it fails the spawn. */
int spawn_process_setup(char *const argv[], const int *keep_fds, size_t n_keep, const char *log_path,
                        int (*child_setup)(void *), void *arg, pid_t *ret_pid, cocoon_error **err);
/* Waits up to timeout_ms for pid to exit, then SIGKILLs it; always reaps. */
void reap_or_kill(pid_t pid, int timeout_ms);
