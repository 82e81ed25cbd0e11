/*
 * The jail step: every process the host starts on the guest's behalf (the
 * VMM, virtiofsd) comes through spawn_process. With a jail it is born in new
 * mount, pid, ipc, uts and network namespaces, gets a tmpfs root holding only
 * what the jail lists, limits, its own uid and gid, only the capabilities the
 * jail keeps, and no_new_privs, before it execs. docs/jail.md gives the order.
 *
 * The child is made with clone3 (a pidfd for the parent, the namespaces in
 * one go) and runs on the parent's memory image: it does no allocation, so
 * that it is safe even when the parent has threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"

#define MAX_KEEP_FDS 16

/* What the child reports on its error pipe when a step fails. */
struct child_error {
        int errnum;
        char what[200];
};

static __attribute__((noreturn)) void child_fail(int fd, int errnum, const char *fmt, const char *arg)
{
        struct child_error ce = {.errnum = errnum};
        snprintf(ce.what, sizeof(ce.what), fmt, arg ? arg : "");
        (void) !write(fd, &ce, sizeof(ce));
        _exit(127);
}

/* Creates path (in the jail's tmpfs) as a directory, or as an empty file to bind one onto. */
static int make_mountpoint(char *path, bool dir)
{
        struct stat st;
        if (lstat(path, &st) == 0)
                return 0; /* inside an earlier bind (a binary under /usr) */
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                int r = mkdir(path, 0755);
                *p = '/';
                if (r < 0 && errno != EEXIST)
                        return -errno;
        }
        if (dir)
                return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

/*
 * A device node is made, not bound: in the jail's /dev (a tmpfs of its own,
 * the one place without nodev), with the host node's numbers, and owned by
 * the jail's uid when it is for the jailed process alone (/dev/kvm).
 */
static int make_device(const char *root, const struct jail_bind *b, uid_t uid)
{
        char dst[4096];
        struct stat st;
        if (stat(b->src, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode))
                return -ENODEV;
        if ((size_t) snprintf(dst, sizeof(dst), "%s%s", root, b->dst) >= sizeof(dst))
                return -ENAMETOOLONG;
        if (mknod(dst, S_IFCHR | (b->writable ? 0600 : 0666), st.st_rdev) < 0)
                return -errno;
        if (b->writable && chown(dst, uid, uid) < 0)
                return -errno;
        return chmod(dst, b->writable ? 0600 : 0666) < 0 ? -errno : 0; /* whatever the umask */
}

static int bind_into(const char *root, const struct jail_bind *b)
{
        char dst[4096];
        struct stat st;
        if (stat(b->src, &st) < 0)
                return -errno;
        if ((size_t) snprintf(dst, sizeof(dst), "%s%s", root, b->dst) >= sizeof(dst))
                return -ENAMETOOLONG;
        int r = make_mountpoint(dst, S_ISDIR(st.st_mode));
        if (r < 0)
                return r;
        if (mount(b->src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
        if (!b->writable)
                flags |= MS_RDONLY;
        return mount(NULL, dst, NULL, flags, NULL) < 0 ? -errno : 0;
}

/* Steps 2-4: the root, in the new mount namespace; the host's / is gone afterwards. */
static void enter_root(const struct jail *j, int efd)
{
        /* Nothing we mount goes back to the host; the host's mounts still come in (the share). */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                child_fail(efd, errno, "making the mounts slaves%s", NULL);
        if (mount("cocoon-jail", j->root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=256") < 0)
                child_fail(efd, errno, "mounting the root tmpfs on %s", j->root);
        char dev[4096];
        snprintf(dev, sizeof(dev), "%s/dev", j->root);
        if (mkdir(dev, 0755) < 0 || mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=16k,nr_inodes=16") < 0)
                child_fail(efd, errno, "mounting the jail's /dev%s", NULL);
        for (size_t i = 0; i < j->n_binds; i++) {
                const struct jail_bind *b = &j->binds[i];
                int r = b->device ? make_device(j->root, b, j->uid) : bind_into(j->root, b);
                if (r < 0)
                        child_fail(efd, -r, b->device ? "making the device node %s" : "binding %s", b->src);
        }
        /* Debian's /bin, /lib... are links into /usr: the jail gets the same links. */
        static const char *const links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
        for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
                char host[32], target[256], dst[4096];
                snprintf(host, sizeof(host), "/%s", links[i]);
                ssize_t n = readlink(host, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                snprintf(dst, sizeof(dst), "%s/%s", j->root, links[i]);
                if (symlink(target, dst) < 0 && errno != EEXIST)
                        child_fail(efd, errno, "linking %s", host);
        }
        if (j->proc) {
                char dst[4096];
                snprintf(dst, sizeof(dst), "%s/proc", j->root);
                if (mkdir(dst, 0555) < 0 || mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        child_fail(efd, errno, "mounting /proc%s", NULL);
        }
        if (chdir(j->root) < 0)
                child_fail(efd, errno, "entering %s", j->root);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(efd, errno, "pivot_root into %s", j->root);
        if (umount2(".", MNT_DETACH) < 0)
                child_fail(efd, errno, "detaching the host's root%s", NULL);
        if (chdir("/") < 0)
                child_fail(efd, errno, "entering the jail's root%s", NULL);
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0 ||
            mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
                child_fail(efd, errno, "making the jail's root read-only%s", NULL);
}

static bool kept(const struct jail *j, int cap)
{
        for (size_t i = 0; i < j->n_caps; i++)
                if (j->caps[i] == cap)
                        return true;
        return false;
}

/* Steps 6-8: the uid and gid, and only the capabilities the jail keeps, in every set. */
static void drop_privileges(const struct jail *j, int efd)
{
        for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
                if (!kept(j, cap) && prctl(PR_CAPBSET_DROP, cap) < 0)
                        child_fail(efd, errno, "dropping a capability from the bounding set%s", NULL);
        /*
         * A process that keeps capabilities keeps them across the uid change
         * (NO_SETUID_FIXUP) and gets them after exec as ambient ones; root's
         * special treatment at exec is off (NOROOT) either way.
         */
        unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
        if (j->n_caps)
                bits |= SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED;
        if (prctl(PR_SET_SECUREBITS, bits) < 0)
                child_fail(efd, errno, "setting the securebits%s", NULL);
        /*
         * The system calls, not glibc's wrappers: those change every thread
         * glibc believes the process has, and the parent's threads (libvirt's
         * event loop, say) are in our copy of its memory but not in this
         * process. One that was being created at the clone is a thread glibc
         * waits for forever.
         */
        if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, j->uid, j->uid, j->uid) < 0 ||
            syscall(SYS_setresuid, j->uid, j->uid, j->uid) < 0)
                child_fail(efd, errno, "changing to the jail's uid and gid%s", NULL);
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2] = {0};
        for (size_t i = 0; i < j->n_caps; i++) {
                int c = j->caps[i];
                d[c / 32].effective |= 1u << (c % 32);
                d[c / 32].permitted |= 1u << (c % 32);
                d[c / 32].inheritable |= 1u << (c % 32);
        }
        if (syscall(SYS_capset, &h, d) < 0)
                child_fail(efd, errno, "setting the capabilities%s", NULL);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                child_fail(efd, errno, "clearing the ambient capabilities%s", NULL);
        for (size_t i = 0; i < j->n_caps; i++)
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, j->caps[i], 0, 0) < 0)
                        child_fail(efd, errno, "raising an ambient capability%s", NULL);
}

/* Lowers a limit to value (never raises one: that needs CAP_SYS_RESOURCE, which a host may not grant). */
static void set_limit(int resource, rlim_t value, int efd)
{
        struct rlimit rl;
        if (!value || getrlimit(resource, &rl) < 0)
                return;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < value)
                value = rl.rlim_max;
        rl.rlim_cur = rl.rlim_max = value;
        if (setrlimit(resource, &rl) < 0)
                child_fail(efd, errno, "setting a resource limit%s", NULL);
}

static __attribute__((noreturn)) void child(const struct spawn_req *req, int parent, int efd, int nul)
{
        const struct jail *j = req->jail;
        /* 1. Dies with the parent; a clean signal state; stdio; only the fds it is given. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The parent may have died before PDEATHSIG was set (its pid is not visible from a new pid namespace). */
        struct pollfd pp = {.fd = parent, .events = POLLIN};
        if (poll(&pp, 1, 0) != 0)
                _exit(1);
        sigset_t all;
        sigfillset(&all);
        (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
                (void) signal(s, SIG_DFL);
        /* Over RLIMIT_FSIZE a write fails instead of killing the VMM. */
        (void) signal(SIGXFSZ, SIG_IGN);
        int first_free = 3 + (int) req->n_keep;
        int moved[MAX_KEEP_FDS];
        for (size_t i = 0; i < req->n_keep; i++)
                moved[i] = fcntl(req->keep_fds[i], F_DUPFD_CLOEXEC, first_free + 3);
        int out = req->out_fd >= 0 ? fcntl(req->out_fd, F_DUPFD_CLOEXEC, first_free + 3) : nul;
        efd = fcntl(efd, F_DUPFD_CLOEXEC, first_free + 3);
        parent = fcntl(parent, F_DUPFD_CLOEXEC, first_free + 3);
        pp.fd = first_free + 1;
        (void) dup2(nul, 0);
        (void) dup2(out, 1);
        (void) dup2(out, 2);
        for (size_t i = 0; i < req->n_keep; i++)
                if (moved[i] < 0 || dup2(moved[i], 3 + (int) i) < 0)
                        child_fail(efd, errno, "passing the fds%s", NULL);
        if (dup3(efd, first_free, O_CLOEXEC) < 0 || dup3(parent, first_free + 1, O_CLOEXEC) < 0)
                child_fail(efd, errno, "passing the fds%s", NULL);
        efd = first_free;
        (void) syscall(SYS_close_range, first_free + 2, ~0U, 0);

        if (j) {
                /* 2-4. The root: a tmpfs with the jail's binds, pivoted into. */
                enter_root(j, efd);
                /* 5. Limits and a name of its own. */
                set_limit(RLIMIT_NOFILE, j->nofile, efd);
                set_limit(RLIMIT_FSIZE, j->fsize, efd);
                (void) sethostname("cocoon-jail", 11);
                /* 6-8. Uid, gid, capabilities. */
                drop_privileges(j, efd);
                /* A change of credentials clears the death signal: set it again, and check the parent again. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (poll(&pp, 1, 0) != 0)
                        _exit(1);
                /* 9. Nothing it execs gains privileges. */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        child_fail(efd, errno, "setting no_new_privs%s", NULL);
        }
        /* 10. The caller's own last step (a seccomp filter, say). */
        if (req->pre_exec) {
                int e = req->pre_exec(req->pre_exec_data);
                if (e)
                        child_fail(efd, e, "preparing %s", req->argv[0]);
        }
        /* 11. A clean environment, with the sandbox's name for the host's eyes (/proc/PID/environ). */
        char *env[] = {"PATH=/usr/bin:/usr/sbin:/bin:/sbin", req->tag, NULL};
        execve(req->argv[0], req->argv, env);
        child_fail(efd, errno, "executing %s", req->argv[0]);
}

int spawn_process(const struct spawn_req *req, pid_t *ret_pid, int *ret_pidfd, cocoon_error **err)
{
        if (req->n_keep > MAX_KEEP_FDS)
                return error_set(err, E2BIG, "%zu fds for %s, at most %d", req->n_keep, req->argv[0], MAX_KEEP_FDS);
        /* An error pipe that closes on exec tells us whether the jail and the exec worked. */
        int ep[2];
        if (pipe2(ep, O_CLOEXEC) < 0)
                return error_sys(err, errno, "pipe");
        _cleanup_close_ int rd = ep[0], wr = ep[1];
        _cleanup_close_ int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul < 0)
                return error_sys(err, errno, "opening /dev/null");
        int pidfd = -1;
        struct clone_args ca = {
                .flags = CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
        };
        if (req->jail)
                ca.flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
        _cleanup_close_ int parent = syscall(SYS_pidfd_open, getpid(), 0);
        if (parent < 0)
                return error_sys(err, errno, "pidfd_open");
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0)
                return error_sys(err, errno, "starting %s", req->argv[0]);
        if (pid == 0) {
                close(rd);
                child(req, parent, wr, nul);
        }
        cleanup_closep(&wr);
        wr = -1;
        struct child_error ce;
        ssize_t n;
        do
                n = read(rd, &ce, sizeof(ce));
        while (n < 0 && errno == EINTR);
        if (n == sizeof(ce)) {
                (void) waitid(P_PIDFD, pidfd, NULL, WEXITED);
                close(pidfd);
                ce.what[sizeof(ce.what) - 1] = '\0';
                return error_sys(err, ce.errnum, "%s%s", req->jail ? "jail: " : "", ce.what);
        }
        *ret_pid = (pid_t) pid;
        *ret_pidfd = pidfd;
        return 0;
}

int reap_or_kill(int pidfd, int timeout_ms)
{
        if (pidfd < 0)
                return -1;
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;
        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        /* ECHILD: someone reaped it already (the supervisor's SIGCHLD loop). */
        siginfo_t si = {0};
        if (waitid(P_PIDFD, pidfd, &si, WEXITED) < 0)
                return -1;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}
