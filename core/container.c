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

#include "cleanup.h"
#include "fsutil.h"
#include "mount.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What the child reports on its status pipe. */
enum { REPORT_READY = 'R', REPORT_ERROR = 'E' };

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

/* Runs in the child: everything up to the exec. */
static int child_setup(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                       int console_sock, char **ret_exe, cocoon_error **err)
{
        reset_signals();
        if (setsid() < 0)
                return error_sys(err, errno, "setsid");
        int fds[3] = {stdio ? stdio->in : -1, stdio ? stdio->out : -1, stdio ? stdio->err : -1};
        for (int i = 0; i < 3 && stdio; i++) {
                /* dup2 onto itself would keep O_CLOEXEC; a fresh dup clears it. */
                if (fds[i] == i) {
                        int flags = fcntl(i, F_GETFD);
                        if (flags >= 0)
                                (void) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
                } else if (dup2(fds[i], i) < 0) {
                        return error_sys(err, errno, "setting up stdio");
                }
        }
        /* Nothing of the agent's may leak into the workload. */
        (void) syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

        int r = mount_setup_rootfs(spec, rootfs, err);
        if (r < 0)
                return r;
        if (spec->hostname && spec_has_namespace(spec, "uts") &&
            sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return error_sys(err, errno, "setting the hostname");
        if (console_sock >= 0) {
                r = setup_console(&spec->process, console_sock, err);
                if (r < 0)
                        return r;
        }
        r = find_executable(spec->process.args[0], spec->process.env, ret_exe, err);
        if (r < 0)
                return r;
        r = set_identity(&spec->process, err);
        if (r < 0)
                return r;
        if (chdir(spec->process.cwd) < 0)
                return error_sys(err, errno, "changing to the working directory %s", spec->process.cwd);
        return 0;
}

static _Noreturn void child_main(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                                 int console_sock, int status_fd, int start_fd)
{
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_free_ char *exe = NULL;
        int r = child_setup(spec, rootfs, stdio, console_sock, &exe, &err);
        if (r < 0) {
                report(status_fd, REPORT_ERROR, -r, err ? err->msg : strerror(-r));
                _exit(1);
        }
        report(status_fd, REPORT_READY, 0, NULL);

        char go;
        ssize_t n;
        do
                n = read(start_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(1); /* deleted before it was started */

        execve(exe, spec->process.args, spec->process.env);
        int e = errno;
        char msg[512];
        snprintf(msg, sizeof(msg), "exec: \"%s\": %s", spec->process.args[0], strerror(e));
        report(status_fd, REPORT_ERROR, e, msg);
        _exit(127);
}

int container_create(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                     struct container_init *ret, cocoon_error **err)
{
        int flags = 0;
        int r = clone_flags(spec, &flags, err);
        if (r < 0)
                return r;
        if (!spec->process.args || !spec->process.args[0])
                return error_set(err, EINVAL, "process.args: the spec has no process to run");

        int status_pipe[2] = {-1, -1}, start_pipe[2] = {-1, -1}, console[2] = {-1, -1};
        if (pipe2(status_pipe, O_CLOEXEC) < 0 || pipe2(start_pipe, O_CLOEXEC) < 0 ||
            (spec->process.terminal && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, console) < 0)) {
                int e = errno;
                close_pair(status_pipe);
                close_pair(start_pipe);
                close_pair(console);
                return error_sys(err, e, "creating the container's sync channels");
        }

        /* A raw clone behaves like fork() but can enter new namespaces, pid included. */
        pid_t pid = syscall(SYS_clone, (unsigned long) flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) {
                int e = errno;
                close_pair(status_pipe);
                close_pair(start_pipe);
                close_pair(console);
                return error_sys(err, e, "creating the container process");
        }
        if (pid == 0) {
                close(status_pipe[0]);
                close(start_pipe[1]);
                if (console[0] >= 0)
                        close(console[0]);
                child_main(spec, rootfs, spec->process.terminal ? NULL : stdio, console[1], status_pipe[1],
                           start_pipe[0]);
        }
        close(status_pipe[1]);
        close(start_pipe[0]);
        if (console[1] >= 0)
                close(console[1]);

        struct report rep;
        _cleanup_free_ char *msg = NULL;
        r = read_report(status_pipe[0], &rep, &msg);
        int console_fd = -1;
        if (r == 1 && rep.kind == REPORT_READY && console[0] >= 0) {
                console_fd = receive_console(console[0]);
                if (console_fd < 0) {
                        r = 1;
                        rep = (struct report) {.kind = REPORT_ERROR, .errnum = EIO};
                        free(msg);
                        msg = strdup("the container's terminal did not arrive");
                }
        }
        if (console[0] >= 0)
                close(console[0]);
        if (r == 1 && rep.kind == REPORT_READY) {
                *ret = (struct container_init) {.pid = pid, .start_fd = start_pipe[1], .status_fd = status_pipe[0],
                                                .console_fd = console_fd};
                return 0;
        }
        close(status_pipe[0]);
        close(start_pipe[1]);
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        if (r == 1)
                return error_set(err, rep.errnum ? rep.errnum : EINVAL, "%s", msg);
        return error_set(err, EIO, "the container process died while being set up");
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
