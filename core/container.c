#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include "cleanup.h"
#include "fsutil.h"
#include "mount.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What the child reports on its status pipe. */
enum { REPORT_READY = 'R', REPORT_ERROR = 'E', REPORT_PID = 'P' /* errnum carries the pid */ };

struct report {
        uint8_t kind;
        int32_t errnum;
        uint32_t len; /* message bytes following */
} __attribute__((packed));

static const struct {
        const char *type;
        int flag;
} namespace_flags[] = {
        {"mount", CLONE_NEWNS}, {"pid", CLONE_NEWPID},       {"uts", CLONE_NEWUTS},
        {"ipc", CLONE_NEWIPC},  {"network", CLONE_NEWNET},   {"cgroup", CLONE_NEWCGROUP},
};

static int clone_flags(const struct oci_spec *spec, int *ret, cocoon_error **err)
{
        int flags = 0;
        for (size_t i = 0; i < spec->n_namespaces; i++) {
                const struct spec_namespace *ns = &spec->namespaces[i];
                bool known = false;
                for (size_t j = 0; j < ARRAY_SIZE(namespace_flags); j++)
                        if (strcmp(ns->type, namespace_flags[j].type) == 0) {
                                known = true;
                                if (ns->path)
                                        return error_set(err, ENOTSUP,
                                                         "linux.namespaces[%zu]: joining a %s namespace by path is not supported yet",
                                                         i, ns->type);
                                flags |= namespace_flags[j].flag;
                        }
                if (!known)
                        return error_set(err, ENOTSUP, "linux.namespaces[%zu]: %s namespaces are not supported yet", i,
                                         ns->type);
        }
        if (!(flags & CLONE_NEWNS))
                return error_set(err, EINVAL, "linux.namespaces: a mount namespace is required");
        *ret = flags;
        return 0;
}

/*
 * fork(), optionally into new namespaces (a raw clone can enter a new pid
 * namespace, which unshare cannot for the caller itself), into the cgroup
 * whose directory cgroup_fd is (-1: the caller's), and with CLONE_PARENT on
 * request. clone3 places the child in its cgroup before it runs, so a cgroup
 * namespace it creates is rooted there.
 */
static pid_t clone_child(unsigned long flags, int cgroup_fd)
{
        /* With CLONE_PARENT the kernel takes the exit signal from our parent's child; clone3 wants 0. */
        struct clone_args args = {.flags = flags, .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD};
        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }
        pid_t pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0 && errno == ENOSYS && cgroup_fd < 0)
                pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        return pid;
}

static void close_pair(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static void report(int fd, uint8_t kind, int errnum, const char *msg)
{
        struct report rep = {.kind = kind, .errnum = errnum, .len = msg ? strlen(msg) : 0};
        (void) write_all(fd, &rep, sizeof(rep));
        if (rep.len)
                (void) write_all(fd, msg, rep.len);
}

static int read_report(int fd, struct report *rep, char **ret_msg)
{
        ssize_t n;
        do
                n = read(fd, rep, sizeof(*rep));
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return 0;
        if (n != (ssize_t) sizeof(*rep))
                return -EIO;
        uint32_t len = rep->len > 4096 ? 4096 : rep->len;
        char *msg = calloc(1, len + 1);
        if (!msg)
                return -ENOMEM;
        size_t got = 0;
        while (got < len) {
                n = read(fd, msg + got, len - got);
                if (n <= 0)
                        break;
                got += n;
        }
        *ret_msg = msg;
        return 1;
}

static const char *env_lookup(char *const *env, const char *name)
{
        size_t n = strlen(name);
        for (; env && *env; env++)
                if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
                        return *env + n + 1;
        return NULL;
}

/* Resolves args[0] against the container's own PATH, as runc does. */
static int find_executable(const char *name, char *const *env, char **ret, cocoon_error **err)
{
        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return error_sys(err, errno, "exec: \"%s\"", name);
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        const char *path = env_lookup(env, "PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *full = path_join(*dir ? dir : ".", name);
                if (!full)
                        return -ENOMEM;
                struct stat st;
                if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
                        *ret = TAKE_PTR(full);
                        return 0;
                }
        }
        return error_set(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/*
 * Opens a pty from the container's /dev/ptmx, makes the slave the process's
 * stdio and controlling terminal, and passes the master to the parent.
 */
static int setup_console(const struct spec_process *p, int sock, cocoon_error **err)
{
        _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return error_sys(err, errno, "allocating a terminal: /dev/ptmx");
        char name[64];
        if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
                return error_sys(err, errno, "allocating a terminal");
        _cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return error_sys(err, errno, "opening %s", name);
        /* The process owns its terminal, as with runc. */
        if (fchown(slave, p->user.uid, (gid_t) -1) < 0)
                return error_sys(err, errno, "chown %s", name);
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return error_sys(err, errno, "setting up the terminal");
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                return error_sys(err, errno, "making %s the controlling terminal", name);

        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } cbuf = {0};
        char byte = 'T';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &master, sizeof(int));
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
                return error_sys(err, errno, "passing the terminal");
        return 0;
}

static int receive_console(int sock)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } cbuf;
        char byte;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) <= 0)
                return -1;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
                return -1;
        int fd;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

static void reset_signals(void)
{
        sigset_t all;
        sigfillset(&all);
        (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
                (void) signal(s, SIG_DFL);
}

static int set_identity(const struct spec_process *p, cocoon_error **err)
{
        const struct spec_user *u = &p->user;
        if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
                return error_sys(err, errno, "setgroups");
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return error_sys(err, errno, "setgid %u", (unsigned) u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return error_sys(err, errno, "setuid %u", (unsigned) u->uid);
        if (u->has_umask)
                umask(u->umask);
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_sys(err, errno, "setting no_new_privs");
        return 0;
}

/* Makes the given fds the process's 0, 1 and 2, without O_CLOEXEC. */
static int setup_stdio(const struct container_stdio *stdio, cocoon_error **err)
{
        int fds[3] = {stdio->in, stdio->out, stdio->err};
        for (int i = 0; i < 3; i++) {
                /* dup2 onto itself would keep O_CLOEXEC; clear the flag instead. */
                if (fds[i] == i) {
                        int flags = fcntl(i, F_GETFD);
                        if (flags >= 0)
                                (void) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
                } else if (dup2(fds[i], i) < 0) {
                        return error_sys(err, errno, "setting up stdio");
                }
        }
        return 0;
}

/*
 * The part of a process's set-up that is the same for a container's init and
 * for an exec'd process, once it is inside the container's namespaces and
 * root: terminal, executable, identity, working directory.
 */
static int setup_process(const struct spec_process *proc, int console_sock, char **ret_exe, cocoon_error **err)
{
        int r;
        if (console_sock >= 0) {
                r = setup_console(proc, console_sock, err);
                if (r < 0)
                        return r;
        }
        r = find_executable(proc->args[0], proc->env, ret_exe, err);
        if (r < 0)
                return r;
        r = set_identity(proc, err);
        if (r < 0)
                return r;
        if (chdir(proc->cwd) < 0)
                return error_sys(err, errno, "changing to the working directory %s", proc->cwd);
        return 0;
}

/* Runs in the child: everything up to the exec. */
static int child_setup(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                       int console_sock, char **ret_exe, cocoon_error **err)
{
        reset_signals();
        if (setsid() < 0)
                return error_sys(err, errno, "setsid");
        if (stdio) {
                int r = setup_stdio(stdio, err);
                if (r < 0)
                        return r;
        }
        /* Nothing of the agent's may leak into the workload. */
        (void) syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

        int r = mount_setup_rootfs(spec, rootfs, err);
        if (r < 0)
                return r;
        if (spec->hostname && spec_has_namespace(spec, "uts") &&
            sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return error_sys(err, errno, "setting the hostname");
        return setup_process(&spec->process, console_sock, ret_exe, err);
}

/* Reports ready, waits to be released, execs; reports the exec's failure. */
static _Noreturn void child_exec(const struct spec_process *proc, const char *exe, int status_fd, int start_fd)
{
        report(status_fd, REPORT_READY, 0, NULL);

        char go;
        ssize_t n;
        do
                n = read(start_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(1); /* deleted before it was started */

        execve(exe, proc->args, proc->env);
        int e = errno;
        char msg[512];
        snprintf(msg, sizeof(msg), "exec: \"%s\": %s", proc->args[0], strerror(e));
        report(status_fd, REPORT_ERROR, e, msg);
        _exit(127);
}

static _Noreturn void child_fail(int status_fd, int r, const cocoon_error *err)
{
        report(status_fd, REPORT_ERROR, -r, err && err->msg ? err->msg : strerror(-r));
        _exit(1);
}

/* The channels between the caller and a process being set up. */
struct sync_channels {
        int status[2], start[2], console[2];
};

static void sync_close(struct sync_channels *ch)
{
        close_pair(ch->status);
        close_pair(ch->start);
        close_pair(ch->console);
}

static int sync_open(struct sync_channels *ch, bool terminal, cocoon_error **err)
{
        *ch = (struct sync_channels) {{-1, -1}, {-1, -1}, {-1, -1}};
        if (pipe2(ch->status, O_CLOEXEC) < 0 || pipe2(ch->start, O_CLOEXEC) < 0 ||
            (terminal && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch->console) < 0)) {
                int e = errno;
                sync_close(ch);
                return error_sys(err, e, "creating the container's sync channels");
        }
        return 0;
}

/* In the child: keep only its ends. */
static void sync_child_side(struct sync_channels *ch)
{
        close(ch->status[0]);
        close(ch->start[1]);
        if (ch->console[0] >= 0)
                close(ch->console[0]);
        ch->status[0] = ch->start[1] = ch->console[0] = -1;
}

/*
 * In the caller, once the child runs: waits for its report and, with a
 * terminal, for the pty master. pid 0 means the child reports its pid first
 * (an exec's). On failure the child is killed and reaped.
 */
static int sync_await_ready(struct sync_channels *ch, pid_t pid, struct container_init *ret, cocoon_error **err)
{
        close(ch->status[1]);
        close(ch->start[0]);
        if (ch->console[1] >= 0)
                close(ch->console[1]);
        ch->status[1] = ch->start[0] = ch->console[1] = -1;

        struct report rep;
        _cleanup_free_ char *msg = NULL;
        int r = read_report(ch->status[0], &rep, &msg);
        if (r == 1 && rep.kind == REPORT_PID && pid == 0 && rep.errnum > 0) {
                pid = rep.errnum;
                free(TAKE_PTR(msg));
                r = read_report(ch->status[0], &rep, &msg);
        }
        int console_fd = -1;
        if (r == 1 && rep.kind == REPORT_READY && ch->console[0] >= 0) {
                console_fd = receive_console(ch->console[0]);
                if (console_fd < 0) {
                        rep = (struct report) {.kind = REPORT_ERROR, .errnum = EIO};
                        free(msg);
                        msg = strdup("the container's terminal did not arrive");
                }
        }
        if (r == 1 && rep.kind == REPORT_READY) {
                *ret = (struct container_init) {.pid = pid, .start_fd = ch->start[1], .status_fd = ch->status[0],
                                                .console_fd = console_fd};
                ch->start[1] = ch->status[0] = -1;
                sync_close(ch);
                return 0;
        }
        sync_close(ch);
        if (pid > 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        if (r == 1)
                return error_set(err, rep.errnum ? rep.errnum : EINVAL, "%s", msg ? msg : "setting up the process failed");
        return error_set(err, EIO, "the container process died while being set up");
}

int container_create(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                     int cgroup_fd, struct container_init *ret, cocoon_error **err)
{
        int flags = 0;
        int r = clone_flags(spec, &flags, err);
        if (r < 0)
                return r;
        if (!spec->process.args || !spec->process.args[0])
                return error_set(err, EINVAL, "process.args: the spec has no process to run");

        struct sync_channels ch;
        r = sync_open(&ch, spec->process.terminal, err);
        if (r < 0)
                return r;
        pid_t pid = clone_child(flags, cgroup_fd);
        if (pid < 0) {
                int e = errno;
                sync_close(&ch);
                return error_sys(err, e, "creating the container process");
        }
        if (pid == 0) {
                sync_child_side(&ch);
                _cleanup_error_ cocoon_error *cerr = NULL;
                _cleanup_free_ char *exe = NULL;
                r = child_setup(spec, rootfs, spec->process.terminal ? NULL : stdio, ch.console[1], &exe, &cerr);
                if (r < 0)
                        child_fail(ch.status[1], r, cerr);
                child_exec(&spec->process, exe, ch.status[1], ch.start[0]);
        }
        return sync_await_ready(&ch, pid, ret, err);
}

/* The namespaces an exec'd process joins, in the order it joins them: the mount namespace last. */
static const struct {
        const char *type, *proc_name;
        int flag;
} exec_namespaces[] = {
        {"ipc", "ipc", CLONE_NEWIPC},         {"uts", "uts", CLONE_NEWUTS}, {"network", "net", CLONE_NEWNET},
        {"cgroup", "cgroup", CLONE_NEWCGROUP}, {"pid", "pid", CLONE_NEWPID}, {"mount", "mnt", CLONE_NEWNS},
};

/*
 * In the first child of an exec: joins the container's namespaces, then
 * forks the process itself (a pid namespace applies to children only) as a
 * child of the caller, and tells the caller nothing else: the grandchild
 * reports on the status pipe.
 */
static _Noreturn void exec_join(const int ns_fds[], const struct spec_process *proc,
                                const struct container_stdio *stdio, int cgroup_fd, struct sync_channels *ch)
{
        _cleanup_error_ cocoon_error *err = NULL;
        int r;
        for (size_t i = 0; i < ARRAY_SIZE(exec_namespaces); i++)
                if (ns_fds[i] >= 0 && setns(ns_fds[i], exec_namespaces[i].flag) < 0) {
                        r = error_sys(&err, errno, "joining the container's %s namespace", exec_namespaces[i].type);
                        child_fail(ch->status[1], r, err);
                }
        pid_t pid = clone_child(CLONE_PARENT, cgroup_fd);
        if (pid < 0) {
                r = error_sys(&err, errno, "creating the process in the container");
                child_fail(ch->status[1], r, err);
        }
        if (pid > 0) {
                /* Our pid namespace is still the caller's: this is the pid the caller sees. */
                report(ch->status[1], REPORT_PID, pid, NULL);
                _exit(0);
        }

        reset_signals();
        r = setsid() < 0 ? error_sys(&err, errno, "setsid") : 0;
        if (r == 0 && !proc->terminal)
                r = setup_stdio(stdio, &err);
        (void) syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
        _cleanup_free_ char *exe = NULL;
        if (r == 0)
                r = setup_process(proc, ch->console[1], &exe, &err);
        if (r < 0)
                child_fail(ch->status[1], r, err);
        child_exec(proc, exe, ch->status[1], ch->start[0]);
}

int container_exec(const struct oci_spec *spec, pid_t init_pid, const struct spec_process *proc,
                   const struct container_stdio *stdio, int cgroup_fd, struct container_init *ret, cocoon_error **err)
{
        if (!proc->args || !proc->args[0])
                return error_set(err, EINVAL, "process.args: nothing to run");
        int ns_fds[ARRAY_SIZE(exec_namespaces)];
        int r = 0;
        for (size_t i = 0; i < ARRAY_SIZE(exec_namespaces); i++) {
                ns_fds[i] = -1;
                if (r < 0 || !spec_has_namespace(spec, exec_namespaces[i].type))
                        continue;
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) init_pid, exec_namespaces[i].proc_name);
                ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (ns_fds[i] < 0)
                        r = error_sys(err, errno, "opening the container's %s namespace", exec_namespaces[i].type);
        }
        struct sync_channels ch;
        if (r == 0)
                r = sync_open(&ch, proc->terminal, err);
        pid_t child = -1;
        if (r == 0) {
                child = fork();
                if (child < 0) {
                        r = error_sys(err, errno, "fork");
                        sync_close(&ch);
                } else if (child == 0) {
                        sync_child_side(&ch);
                        exec_join(ns_fds, proc, stdio, cgroup_fd, &ch);
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(exec_namespaces); i++)
                if (ns_fds[i] >= 0)
                        close(ns_fds[i]);
        if (r < 0)
                return r;

        /*
         * The first child exits once it forked the process, which is our
         * child (CLONE_PARENT) and reports on the status pipe after the pid
         * the first child sent.
         */
        (void) waitpid(child, NULL, 0);
        return sync_await_ready(&ch, 0, ret, err);
}

int container_start(struct container_init *init, cocoon_error **err)
{
        char go = 1;
        int r = write_all(init->start_fd, &go, 1);
        close(init->start_fd);
        init->start_fd = -1;
        if (r < 0) {
                close(init->status_fd);
                init->status_fd = -1;
                return error_sys(err, -r, "starting the container process");
        }
        struct report rep;
        _cleanup_free_ char *msg = NULL;
        r = read_report(init->status_fd, &rep, &msg);
        close(init->status_fd);
        init->status_fd = -1;
        if (r == 0)
                return 0; /* the status pipe closed on exec */
        if (r < 0)
                return error_sys(err, -r, "starting the container process");
        return error_set(err, rep.errnum ? rep.errnum : EINVAL, "%s", msg);
}

void container_init_release(struct container_init *init)
{
        if (init->start_fd >= 0)
                close(init->start_fd);
        if (init->status_fd >= 0)
                close(init->status_fd);
        if (init->console_fd >= 0)
                close(init->console_fd);
        init->start_fd = init->status_fd = init->console_fd = -1;
}
