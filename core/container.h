/*
 * Creating a container process from a parsed spec: namespaces, rootfs,
 * mounts, identity. Used by the agent inside the guest (and, later, by the
 * host-mode developer tool).
 *
 * container_create() forks the container's init. The child sets everything
 * up, reports "ready" and then blocks until container_start() releases it to
 * exec the spec's process, the split that OCI's create/start needs.
 */
#pragma once

#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct container_stdio {
        int in, out, err; /* fds the process gets as 0, 1, 2 */
};

struct container_init {
        pid_t pid;
        int start_fd;   /* write end: one byte releases the child to exec */
        int status_fd;  /* read end: error reports from the child; EOF after a successful exec */
        int console_fd; /* pty master when process.terminal is set, else -1 */
};

/*
 * rootfs is the absolute path of the root filesystem (it replaces
 * spec->root_path). The child is cloned into the cgroup whose directory
 * cgroup_fd is (-1: the caller's), before it makes a cgroup namespace. With process.terminal the process gets a pty allocated
 * inside the container (from its own devpts instance, so that tty(1) and
 * /proc/self/fd agree with /dev/pts) and stdio is not used; the master comes
 * back in ret->console_fd. On success the child is set up and waiting; its pid is in
 * ret->pid. On failure the child has been reaped and *err says what failed in
 * it, for example "mounting proc on /proc: Permission denied".
 */
int container_create(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                     int cgroup_fd, struct container_init *ret, cocoon_error **err);

/*
 * Sets up another process in the running container whose init is init_pid
 * (`runc exec`): it joins every namespace the spec gave the container, enters
 * the cgroup whose directory is cgroup_fd (-1: the caller's), gets proc's
 * identity, terminal and working directory, and waits for container_start()
 * like an init. It is the caller's child.
 */
int container_exec(const struct oci_spec *spec, pid_t init_pid, const struct spec_process *proc,
                   const struct container_stdio *stdio, int cgroup_fd, struct container_init *ret, cocoon_error **err);

/*
 * Releases the child to exec. Returns once the exec has happened (0) or
 * failed (negative, with *err such as "exec: \"foo\": executable file not
 * found in $PATH"); in that case the child exits with status 127.
 */
int container_start(struct container_init *init, cocoon_error **err);
/*
 * container_start() in two halves, for a caller that must not block (the
 * process may be frozen): container_release() lets the child go on to exec;
 * container_exec_outcome() reads how that went once init->status_fd is readable,
 * and returns as container_start() does.
 */
int container_release(struct container_init *init, cocoon_error **err);
int container_exec_outcome(struct container_init *init, cocoon_error **err);

/* The name under /proc/PID/ns/ of a runtime-spec namespace type ("network": "net"), NULL if unknown. */
const char *namespace_proc_name(const char *type);

/* Closes the fds of a container_init that was not started. */
void container_init_release(struct container_init *init);
