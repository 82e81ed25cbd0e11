#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>
#include <net/if.h>

#include "cleanup.h"
#include "fdpass.h"
#include "fsutil.h"
#include "hooks.h"
#include "mount.h"
#include "netlink.h"
#include "process.h"
#include "terminal.h"

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

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/*
 * The namespaces cocoon knows, in the order a process joins existing ones:
 * the user namespace first (it grants the rights to join the others), the
 * mount namespace last (after it, /proc paths are the container's).
 */
static const struct {
        const char *type, *proc_name;
        int flag;
} namespace_table[] = {
        {"user", "user", CLONE_NEWUSER},       {"ipc", "ipc", CLONE_NEWIPC},   {"uts", "uts", CLONE_NEWUTS},
        {"network", "net", CLONE_NEWNET},      {"cgroup", "cgroup", CLONE_NEWCGROUP}, {"pid", "pid", CLONE_NEWPID},
        {"time", "time", CLONE_NEWTIME},       {"mount", "mnt", CLONE_NEWNS},
};
#define N_NAMESPACES ARRAY_SIZE(namespace_table)

const char *namespace_proc_name(const char *type)
{
        for (size_t i = 0; i < N_NAMESPACES; i++)
                if (strcmp(namespace_table[i].type, type) == 0)
                        return namespace_table[i].proc_name;
        return NULL;
}

/* The clone flags of the namespaces the container gets new, after checking the spec's combination. */
static int clone_flags(const struct oci_spec *spec, int *ret, cocoon_error **err)
{
        int flags = 0;
        for (size_t i = 0; i < N_NAMESPACES; i++) {
                const struct spec_namespace *ns = spec_namespace(spec, namespace_table[i].type);
                if (ns && !ns->path)
                        flags |= namespace_table[i].flag;
        }
        if (!(flags & CLONE_NEWNS))
                return error_set(err, EINVAL, "linux.namespaces: the container needs a new mount namespace (no path)");
        bool new_user = flags & CLONE_NEWUSER;
        if (new_user && (spec->n_uid_mappings == 0 || spec->n_gid_mappings == 0))
                return error_set(err, EINVAL, "linux.uidMappings, linux.gidMappings: required with a new user namespace");
        if (!new_user && (spec->n_uid_mappings || spec->n_gid_mappings))
                return error_set(err, EINVAL, "linux.uidMappings: mappings need a new user namespace in linux.namespaces");
        *ret = flags;
        return 0;
}

/* Opens the namespaces the spec joins by path (fds[i] -1 for the others). */
static int open_namespace_paths(const struct oci_spec *spec, int fds[N_NAMESPACES], cocoon_error **err)
{
        for (size_t i = 0; i < N_NAMESPACES; i++)
                fds[i] = -1;
        for (size_t i = 0; i < N_NAMESPACES; i++) {
                const struct spec_namespace *ns = spec_namespace(spec, namespace_table[i].type);
                if (!ns || !ns->path)
                        continue;
                fds[i] = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        return error_sys(err, errno, "linux.namespaces: opening the %s namespace %s", ns->type, ns->path);
        }
        return 0;
}

static void close_namespaces(int fds[N_NAMESPACES])
{
        for (size_t i = 0; i < N_NAMESPACES; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

static int join_namespaces(const int fds[N_NAMESPACES], cocoon_error **err)
{
        for (size_t i = 0; i < N_NAMESPACES; i++)
                if (fds[i] >= 0 && setns(fds[i], namespace_table[i].flag) < 0)
                        return error_sys(err, errno, "joining the %s namespace", namespace_table[i].type);
        return 0;
}

static bool any_fd(const int fds[N_NAMESPACES])
{
        for (size_t i = 0; i < N_NAMESPACES; i++)
                if (fds[i] >= 0)
                        return true;
        return false;
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
        /* With CLONE_PARENT the child inherits our exit signal; clone3 refuses to be given one. */
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

/*
 * One write of at most PIPE_BUF: the reader, once woken, finds the whole
 * report (a child frozen half way through cannot leave it blocked).
 */
static void report(int fd, uint8_t kind, int errnum, const char *msg)
{
        char buf[PIPE_BUF];
        size_t room = sizeof(buf) - sizeof(struct report), len = msg ? strlen(msg) : 0;
        struct report rep = {.kind = kind, .errnum = errnum, .len = len > room ? room : len};
        memcpy(buf, &rep, sizeof(rep));
        if (rep.len)
                memcpy(buf + sizeof(rep), msg, rep.len);
        (void) write_all(fd, buf, sizeof(rep) + rep.len);
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
static int setup_console(const struct spec_process *p, uid_t uid, int sock, cocoon_error **err)
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
        /*
         * As runc: no ONLCR, so "\n" stays "\n" on the way out; the caller's
         * own terminal, at the far end, adds the CR.
         */
        int r = terminal_no_onlcr(slave);
        if (r < 0)
                return error_sys(err, -r, "turning ONLCR off on %s", name);
        /* The process owns its terminal, as with runc. */
        if (p->has_console_size) {
                struct winsize ws = {.ws_row = p->console_height, .ws_col = p->console_width};
                if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
                        return error_sys(err, errno, "process.consoleSize: setting the terminal's size");
        }
        if (fchown(slave, uid, (gid_t) -1) < 0)
                return error_sys(err, errno, "chown %s", name);
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return error_sys(err, errno, "setting up the terminal");
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                return error_sys(err, errno, "making %s the controlling terminal", name);

        r = fd_send(sock, master, "T", 1);
        if (r < 0)
                return error_sys(err, -r, "passing the terminal");
        return 0;
}

static void reset_signals(void)
{
        sigset_t all;
        sigfillset(&all);
        (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
                (void) signal(s, SIG_DFL);
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

/* What a process execs once it is set up. */
struct exec_plan {
        char *exe;
        char **env;
        char *const *args;
};

/*
 * The part of a process's set-up that is the same for a container's init and
 * for an exec'd process, once it is inside the container's namespaces and
 * root: identity, terminal, executable, then process_apply() (limits,
 * capabilities, no_new_privs, seccomp).
 */
static int setup_process(const struct spec_process *proc, const struct spec_seccomp *seccomp, int console_sock,
                         struct exec_plan *plan, cocoon_error **err)
{
        struct process_identity id = {0};
        int r = process_resolve_identity(proc, &id, err);
        if (r == 0 && console_sock >= 0)
                r = setup_console(proc, id.uid, console_sock, err);
        if (r == 0) {
                plan->args = proc->args;
                plan->env = process_env(proc, &id);
                if (!plan->env)
                        r = error_set(err, ENOMEM, "out of memory");
        }
        if (r == 0)
                r = find_executable(proc->args[0], plan->env, &plan->exe, err);
        if (r == 0)
                r = process_apply(proc, &id, seccomp, err);
        process_identity_free(&id);
        return r;
}

/* sysctl names whose value belongs to a namespace, and which one (runc's list). */
static const char *sysctl_namespace(const char *key)
{
        static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                          "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
        for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
                if (strcmp(key, ipc[i]) == 0)
                        return "ipc";
        if (strncmp(key, "fs.mqueue.", 10) == 0)
                return "ipc";
        if (strncmp(key, "net.", 4) == 0)
                return "network";
        return NULL;
}

/*
 * linux.sysctl, written through the container's own /proc. Like runc, only
 * namespaced names are accepted, and only when the container has that
 * namespace: anything else would change the whole guest (or host).
 */
static int write_sysctls(const struct oci_spec *spec, cocoon_error **err)
{
        for (size_t i = 0; i < spec->n_sysctl; i++) {
                const char *key = spec->sysctl[i].key;
                const char *ns = sysctl_namespace(key);
                if (!ns)
                        return error_set(err, EINVAL, "linux.sysctl[\"%s\"]: not a namespaced sysctl", key);
                if (!spec_namespace(spec, ns))
                        return error_set(err, EINVAL, "linux.sysctl[\"%s\"]: the container has no %s namespace of its own",
                                         key, ns);
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "/proc/sys/%s", key) < 0)
                        return error_set(err, ENOMEM, "out of memory");
                for (char *c = path + strlen("/proc/sys/"); *c; c++)
                        if (*c == '.')
                                *c = '/';
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
                const char *v = spec->sysctl[i].value;
                int r = fd < 0 ? -errno : write_all(fd, v, strlen(v));
                if (r < 0)
                        return error_sys(err, -r, "linux.sysctl[\"%s\"]: writing %s", key, path);
        }
        return 0;
}

/*
 * A new network namespace starts with lo down; runc brings it up, so that a
 * server on localhost in the container answers.
 */
static int loopback_up(cocoon_error **err)
{
        _cleanup_close_ int nl = -1;
        int r = nl_open(&nl, err);
        if (r < 0)
                return error_wrap(err, r, "bringing lo up");
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = (int) if_nametoindex("lo");
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = IFF_UP;
        if (ifi->ifi_index == 0)
                return error_sys(err, errno, "finding lo in the container's network namespace");
        return nl_call(nl, &m, "bringing lo up", err);
}

/* Runs in the child: everything up to the exec. */
static int child_setup(const struct oci_spec *spec, int rootfs, const struct container_stdio *stdio,
                       int console_sock, struct exec_plan *plan, cocoon_error **err)
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

        const struct spec_namespace *net = spec_namespace(spec, "network");
        if (net && !net->path) {
                int r = loopback_up(err);
                if (r < 0)
                        return r;
        }
        int r = mount_setup_rootfs(spec, rootfs, err);
        if (r < 0)
                return r;
        bool own_uts = spec_has_namespace(spec, "uts");
        if (spec->hostname && own_uts && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return error_sys(err, errno, "setting the hostname");
        if (spec->domainname && own_uts && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
                return error_sys(err, errno, "domainname: setting it");
        if (spec->has_personality && personality(spec->personality) < 0)
                return error_sys(err, errno, "linux.personality: setting it");
        r = write_sysctls(spec, err);
        if (r < 0)
                return r;
        /* After the sysctls: /proc/sys is usually among the read-only paths. */
        r = mount_protect_paths(spec, err);
        if (r < 0)
                return r;
        return setup_process(&spec->process, spec->seccomp, console_sock, plan, err);
}

/*
 * Reports ready, waits to be released, runs the startContainer hooks (for a
 * container's init; hooks NULL for an exec), execs; reports the exec's failure.
 */
static _Noreturn void child_exec(const struct oci_spec *spec, const struct spec_hooks *hooks,
                                 const struct exec_plan *plan, int status_fd, int start_fd)
{
        report(status_fd, REPORT_READY, 0, NULL);

        char go;
        ssize_t n;
        do
                n = read(start_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(1); /* deleted before it was started */

        if (hooks && hooks->n) {
                /* A startContainer hook without env gets the process's, as runc's init has set it by then. */
                environ = plan->env;
                _cleanup_error_ cocoon_error *err = NULL;
                _cleanup_free_ char *state = hooks_state_json(spec, "created", getpid());
                int r = state ? hooks_run(hooks->list, hooks->n, state, "startContainer", &err)
                              : error_set(&err, ENOMEM, "out of memory");
                if (r < 0) {
                        report(status_fd, REPORT_ERROR, -r, err->msg);
                        _exit(1);
                }
        }

        execve(plan->exe, plan->args, plan->env);
        int e = errno;
        char msg[512];
        snprintf(msg, sizeof(msg), "exec: \"%s\": %s", plan->args[0], strerror(e));
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

/* Writes /proc/PID/uid_map and gid_map from the spec (the caller does it: the child cannot map itself). */
static int write_id_maps(const struct oci_spec *spec, pid_t pid, cocoon_error **err)
{
        const char *files[] = {"uid_map", "gid_map"};
        const char *fields[] = {"linux.uidMappings", "linux.gidMappings"};
        const struct spec_id_mapping *maps[] = {spec->uid_mappings, spec->gid_mappings};
        size_t counts[] = {spec->n_uid_mappings, spec->n_gid_mappings};
        for (size_t f = 0; f < 2; f++) {
                char text[4096] = "";
                size_t len = 0;
                for (size_t i = 0; i < counts[f] && len < sizeof(text); i++)
                        len += (size_t) snprintf(text + len, sizeof(text) - len, "%u %u %u\n", maps[f][i].container_id,
                                                 maps[f][i].host_id, maps[f][i].size);
                if (len >= sizeof(text))
                        return error_set(err, E2BIG, "%s: too many mappings", fields[f]);
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, files[f]);
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
                /* The kernel takes the whole map in one write. */
                ssize_t n = fd < 0 ? -1 : write(fd, text, len);
                if (n != (ssize_t) len)
                        return error_sys(err, n < 0 ? errno : EIO, "%s: writing %s", fields[f], path);
        }
        return 0;
}

/*
 * In the caller, once the child runs: waits for its report and, with a
 * terminal, for the pty master. pid 0 means the child reports its pid first
 * (one forked through an intermediate process). With maps_spec, the child
 * is in a new user namespace and waits for its id maps, written here and
 * announced with a byte on the start pipe. On failure the child is killed
 * and reaped.
 */
static int sync_await_ready(struct sync_channels *ch, pid_t pid, const struct oci_spec *maps_spec,
                            struct container_init *ret, cocoon_error **err)
{
        close(ch->status[1]);
        close(ch->start[0]);
        if (ch->console[1] >= 0)
                close(ch->console[1]);
        ch->status[1] = ch->start[0] = ch->console[1] = -1;

        struct report rep = {0};
        _cleanup_free_ char *msg = NULL;
        int r = 1;
        bool have_outcome = false; /* rep is the process's own first report */
        /*
         * Through an intermediate, its PID report and the process's first
         * report share the pipe in either order (each is one atomic write):
         * read until the pid is known, keeping an outcome that came first.
         * After an error of the intermediate's own, no pid comes: EOF.
         */
        while (pid == 0) {
                struct report next;
                _cleanup_free_ char *next_msg = NULL;
                r = read_report(ch->status[0], &next, &next_msg);
                if (r != 1)
                        break;
                if (next.kind == REPORT_PID && next.errnum > 0) {
                        pid = next.errnum;
                } else if (next.kind != REPORT_PID && !have_outcome) {
                        rep = next;
                        msg = TAKE_PTR(next_msg);
                        have_outcome = true;
                } else {
                        r = -EIO;
                        break;
                }
        }
        if (r == 0 && have_outcome)
                r = 1;
        if (r == 1 && !have_outcome && pid > 0 && maps_spec) {
                _cleanup_error_ cocoon_error *merr = NULL;
                int m = write_id_maps(maps_spec, pid, &merr);
                if (m == 0)
                        m = write_all(ch->start[1], "U", 1);
                if (m < 0) {
                        rep = (struct report) {.kind = REPORT_ERROR, .errnum = -m};
                        msg = strdup(merr ? merr->msg : "releasing the container process");
                        have_outcome = true;
                }
        }
        if (r == 1 && !have_outcome)
                r = read_report(ch->status[0], &rep, &msg);
        int console_fd = -1;
        if (r == 1 && rep.kind == REPORT_READY && ch->console[0] >= 0) {
                console_fd = fd_receive(ch->console[0], MSG_DONTWAIT);
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

/* A process to create in a container: its init (rootfs set) or an exec'd one. */
struct spawn {
        const struct oci_spec *spec;
        const struct spec_process *proc;
        const char *rootfs; /* NULL for an exec */
        const struct container_stdio *stdio;
        int cgroup_fd;
        int flags;                 /* namespaces to create */
        int ns_fds[N_NAMESPACES];  /* namespaces to join first, -1 for none */
};

/* The process itself, from its first instruction in its namespaces to its exec. */
static _Noreturn void spawned(const struct spawn *s, struct sync_channels *ch)
{
        /*
         * The rootfs is opened first, in the new mount namespace and still
         * with the caller's uid: the root of a new user namespace may not be
         * allowed to walk the path to it.
         */
        int root = -1;
        if (s->rootfs && (root = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
                _cleanup_error_ cocoon_error *rerr = NULL;
                int r = error_sys(&rerr, errno, "opening the rootfs %s", s->rootfs);
                child_fail(ch->status[1], r, rerr);
        }
        if (s->flags & CLONE_NEWUSER) {
                /* Nothing works as root before the caller has mapped us. */
                char c;
                ssize_t n;
                do
                        n = read(ch->start[0], &c, 1);
                while (n < 0 && errno == EINTR);
                if (n != 1)
                        _exit(1);
                /* Still the caller's (unmapped) ids: become the namespace's root, or nothing we create has an owner. */
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                        _cleanup_error_ cocoon_error *merr = NULL;
                        int r = error_sys(&merr, errno, "linux.uidMappings: becoming root (0) in the user namespace");
                        child_fail(ch->status[1], r, merr);
                }
        }
        _cleanup_error_ cocoon_error *err = NULL;
        struct exec_plan plan = {0};
        int r;
        const struct container_stdio *stdio = s->proc->terminal ? NULL : s->stdio;
        if (s->rootfs) {
                r = child_setup(s->spec, root, stdio, ch->console[1], &plan, &err);
        } else {
                reset_signals();
                r = setsid() < 0 ? error_sys(&err, errno, "setsid") : 0;
                if (r == 0 && stdio)
                        r = setup_stdio(stdio, &err);
                (void) syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
                /* The container's personality holds for every process in it. */
                if (r == 0 && s->spec->has_personality && personality(s->spec->personality) < 0)
                        r = error_sys(&err, errno, "linux.personality: setting it");
                if (r == 0)
                        r = setup_process(s->proc, s->spec->seccomp, ch->console[1], &plan, &err);
        }
        if (r < 0)
                child_fail(ch->status[1], r, err);
        child_exec(s->spec, s->rootfs ? &s->spec->hooks[SPEC_HOOK_START_CONTAINER] : NULL, &plan, ch->status[1],
                   ch->start[0]);
}

/*
 * A new time namespace for this process's children with the spec's clock
 * offsets: they can be written only before a process is in it, so the
 * intermediate unshares it, writes them and then clones the container's
 * process, which is the first to enter.
 */
static int enter_time_namespace(const struct oci_spec *spec, cocoon_error **err)
{
        static const int clock_ids[] = {CLOCK_MONOTONIC, CLOCK_BOOTTIME};
        if (unshare(CLONE_NEWTIME) < 0)
                return error_sys(err, errno, "linux.timeOffsets: creating the time namespace");
        _cleanup_close_ int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "linux.timeOffsets: opening /proc/self/timens_offsets");
        for (size_t i = 0; i < ARRAY_SIZE(clock_ids); i++) {
                char line[96];
                int n = snprintf(line, sizeof(line), "%d %lld %u\n", clock_ids[i], spec->time_offsets[i].secs,
                                 spec->time_offsets[i].nanosecs);
                if (write(fd, line, (size_t) n) != n)
                        return error_sys(err, errno, "linux.timeOffsets: writing \"%.*s\"", n - 1, line);
        }
        return 0;
}

/*
 * Creates the process. Joining namespaces needs an intermediate process: a
 * pid namespace joined with setns() holds only the children of the one that
 * joined, and the caller's own namespaces must not change. That process
 * joins (user namespace first), clones the real one as the caller's child
 * (CLONE_PARENT), reports its pid and exits.
 */
static int spawn(struct spawn *s, struct container_init *ret, cocoon_error **err)
{
        struct sync_channels ch;
        int r = sync_open(&ch, s->proc->terminal, err);
        if (r < 0) {
                close_namespaces(s->ns_fds);
                return r;
        }
        const struct oci_spec *maps = (s->flags & CLONE_NEWUSER) ? s->spec : NULL;
        bool offsets = s->rootfs && (s->flags & CLONE_NEWTIME) && s->spec->has_time_offsets;
        if (!any_fd(s->ns_fds) && !offsets) {
                pid_t pid = clone_child(s->flags, s->cgroup_fd);
                if (pid < 0) {
                        int e = errno;
                        sync_close(&ch);
                        return error_sys(err, e, "creating the container process");
                }
                if (pid == 0) {
                        sync_child_side(&ch);
                        spawned(s, &ch);
                }
                return sync_await_ready(&ch, pid, maps, ret, err);
        }

        pid_t child = fork();
        if (child < 0) {
                int e = errno;
                sync_close(&ch);
                close_namespaces(s->ns_fds);
                return error_sys(err, e, "fork");
        }
        if (child == 0) {
                sync_child_side(&ch);
                _cleanup_error_ cocoon_error *jerr = NULL;
                r = join_namespaces(s->ns_fds, &jerr);
                if (r < 0)
                        child_fail(ch.status[1], r, jerr);
                int flags = s->flags;
                if (offsets) {
                        r = enter_time_namespace(s->spec, &jerr);
                        if (r < 0)
                                child_fail(ch.status[1], r, jerr);
                        flags &= ~CLONE_NEWTIME;
                }
                pid_t pid = clone_child(flags | CLONE_PARENT, s->cgroup_fd);
                if (pid < 0) {
                        /* Not in child_fail's arguments: jerr must be read after error_sys set it. */
                        r = error_sys(&jerr, errno, "creating the process in the container");
                        child_fail(ch.status[1], r, jerr);
                }
                if (pid > 0) {
                        /* Our pid namespace is still the caller's: this is the pid the caller sees. */
                        report(ch.status[1], REPORT_PID, pid, NULL);
                        _exit(0);
                }
                spawned(s, &ch);
        }
        close_namespaces(s->ns_fds);
        /* It exits once it cloned the process, which is our child and reports after the pid it sent. */
        (void) waitpid(child, NULL, 0);
        return sync_await_ready(&ch, 0, maps, ret, err);
}

int container_create(const struct oci_spec *spec, const char *rootfs, const struct container_stdio *stdio,
                     int cgroup_fd, struct container_init *ret, cocoon_error **err)
{
        struct spawn s = {.spec = spec, .proc = &spec->process, .stdio = stdio, .cgroup_fd = cgroup_fd};
        int r = clone_flags(spec, &s.flags, err);
        if (r < 0)
                return r;
        if (!spec->process.args || !spec->process.args[0])
                return error_set(err, EINVAL, "process.args: the spec has no process to run");
        s.rootfs = rootfs;
        r = open_namespace_paths(spec, s.ns_fds, err);
        if (r < 0) {
                close_namespaces(s.ns_fds);
                return r;
        }
        return spawn(&s, ret, err);
}

int container_exec(const struct oci_spec *spec, pid_t init_pid, const struct spec_process *proc,
                   const struct container_stdio *stdio, int cgroup_fd, struct container_init *ret, cocoon_error **err)
{
        if (!proc->args || !proc->args[0])
                return error_set(err, EINVAL, "process.args: nothing to run");
        struct spawn s = {.spec = spec, .proc = proc, .stdio = stdio, .cgroup_fd = cgroup_fd};
        /* Every namespace the init is in, created or joined, through its /proc entries. */
        for (size_t i = 0; i < N_NAMESPACES; i++)
                s.ns_fds[i] = -1;
        for (size_t i = 0; i < N_NAMESPACES; i++) {
                if (!spec_namespace(spec, namespace_table[i].type))
                        continue;
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) init_pid, namespace_table[i].proc_name);
                s.ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (s.ns_fds[i] < 0) {
                        int e = errno;
                        close_namespaces(s.ns_fds);
                        return error_sys(err, e, "opening the container's %s namespace", namespace_table[i].type);
                }
        }
        return spawn(&s, ret, err);
}

int container_release(struct container_init *init, cocoon_error **err)
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
        return 0;
}

int container_start(struct container_init *init, cocoon_error **err)
{
        int r = container_release(init, err);
        return r < 0 ? r : container_exec_outcome(init, err);
}

int container_exec_outcome(struct container_init *init, cocoon_error **err)
{
        struct report rep;
        _cleanup_free_ char *msg = NULL;
        int r = read_report(init->status_fd, &rep, &msg);
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
