/*
 * Starting a sandbox: fork the supervisor, which boots the VM, greets the
 * agent and creates the container, then reports back over a pipe so that the
 * verb can print a precise error and leave nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "guest.h"
#include "log.h"
#include "mount.h"
#include "msg.h"
#include "network.h"
#include "runtime.h"
#include "supervisor.h"

#define CONTROL_SOCKET "ctl.sock"

/* Private mounts (the share's) go away with this process and never show on the host. */
static int private_mounts(cocoon_error **err)
{
        if (unshare(CLONE_NEWNS) < 0)
                return error_sys(err, errno, "creating the supervisor's mount namespace");
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return error_sys(err, errno, "making mounts private");
        /*
         * The VM serves it from the start; the containers come into it later.
         * share_setup makes it a shared mount point: what is mounted in it after
         * the VM started (a pod's next container) reaches the jailed virtiofsd,
         * whose copy of it is a slave of this one.
         */
        return share_setup(err);
}

static int set_recv_timeout(int fd, unsigned seconds)
{
        struct timeval tv = {.tv_sec = seconds};
        return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

static int greet_agent(struct supervisor *sv, unsigned timeout_s, cocoon_error **err)
{
        (void) set_recv_timeout(sv->agent.fd, timeout_s);
        Cocoon__VersionRequest v = COCOON__VERSION_REQUEST__INIT;
        v.protocol = FRAME_PROTOCOL_VERSION;
        v.host_version = (char *) "cocoon";
        Request req = COCOON__REQUEST__INIT;
        req.id = ++sv->next_id;
        req.body_case = COCOON__REQUEST__BODY_VERSION;
        req.version = &v;
        _cleanup_response_ Response *resp = NULL;
        int r = msg_call(&sv->agent, &req, NULL, 0, &resp, NULL, NULL, err);
        if (r < 0)
                return error_wrap(err, r, "waiting for the guest agent");
        if (resp->body_case != COCOON__RESPONSE__BODY_VERSION)
                return error_set(err, EPROTO, "the agent did not answer the version handshake");
        log_debug("agent %s up, guest kernel %s", resp->version->agent_version, resp->version->kernel_release);
        return 0;
}

/*
 * The guest never answered: say why as far as we know, most telling first:
 * the guest kernel's panic, the VMM's own exit and words, then the console's
 * last lines, which are only for reference (a boot that is merely slow ends
 * with harmless ones). r is greet_agent's error, already in *err.
 */
static int explain_silent_guest(struct supervisor *sv, const struct cocoon_config *cfg, unsigned timeout_s, int r,
                                 cocoon_error **err)
{
        bool accelerated = vm_accelerated(sv->vm);
        _cleanup_free_ char *state = NULL;
        bool have_state = vm_status(sv->vm, &state) == 0;
        (void) vm_stop(sv->vm, NULL); /* the logs are complete once the VMM is gone */
        struct vm_report rep;
        vm_report(sv->vm, &rep);
        if (r == -EAGAIN || r == -ETIMEDOUT) {
                error_free(*err);
                *err = NULL;
                if (cfg->boot_timeout_s)
                        r = error_set(err, ETIMEDOUT,
                                      "the guest agent did not answer within %u s (boot_timeout in cocoon.conf's "
                                      "[hypervisor] section; raise it to wait longer)",
                                      timeout_s);
                else
                        r = error_set(err, ETIMEDOUT,
                                      "the guest agent did not answer within %u s (the default %s; boot_timeout in "
                                      "cocoon.conf's [hypervisor] section sets another)",
                                      timeout_s,
                                      accelerated ? "with hardware acceleration"
                                                  : "without hardware acceleration, where boots are slow");
        }
        if (rep.panic)
                r = error_wrap(err, r, "the guest kernel panicked with \"%s\"", rep.panic);
        if (have_state)
                error_append(err, " (the hypervisor reports the guest %s)", state);
        if (rep.vmm_exit >= 0)
                error_append(err, "; the hypervisor exited with status %d%s%s", rep.vmm_exit,
                             rep.vmm_tail ? ", its last lines:\n" : "", rep.vmm_tail ? rep.vmm_tail : "");
        if (rep.console_tail)
                error_append(err, "\nthe guest console's last lines, for reference:\n%s", rep.console_tail);
        vm_report_done(&rep);
        return r;
}

/* How big the VM is: a pod's holds all its containers, sized for their sum when the sandbox says it. */
static int vm_size(const struct cocoon_config *cfg, const struct bundle *b, unsigned *ret_vcpus,
                   unsigned *ret_memory_mib, cocoon_error **err)
{
        struct resources pod;
        bool is_pod;
        int r = pod_vm_resources(b->spec, &pod, &is_pod, err);
        if (r < 0)
                return r;
        sandbox_vm_size(cfg->vcpus, cfg->memory_mib, is_pod ? &pod : b->spec->resources, ret_vcpus, ret_memory_mib);
        return 0;
}

/* The VM's first container: the one whose create started the sandbox. */
static int create_container(struct supervisor *sv, const char *id, const struct bundle *b, cocoon_error **err)
{
        Cocoon__CreateContainerRequest cc = COCOON__CREATE_CONTAINER_REQUEST__INIT;
        struct create_prep prep;
        struct share_trees trees;
        int r = share_open_trees(b, &trees, err);
        if (r < 0)
                return r;
        r = supervisor_prepare_create(sv, id, b, &trees, &cc, &prep, err);
        if (r < 0) {
                share_trees_close(&trees);
                return r;
        }
        cc.n_namespace_sources = b->ns_sources.n;
        cc.namespace_sources = b->ns_sources.ptrs;
        Request req = COCOON__REQUEST__INIT;
        req.id = ++sv->next_id;
        req.body_case = COCOON__REQUEST__BODY_CREATE_CONTAINER;
        req.create_container = &cc;
        r = msg_call(&sv->agent, &req, NULL, 0, NULL, NULL, NULL, err);
        if (r < 0)
                supervisor_abandon_create(sv, id, &prep);
        else
                create_prep_free(&prep);
        share_trees_close(&trees);
        return r;
}

static int listen_control(cocoon_error **err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strcpy(addr.sun_path, CONTROL_SOCKET); /* relative: the state dir is our cwd */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_sys(err, errno, "socket");
        if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
                int e = errno;
                close(fd);
                return error_sys(err, e, "listening on the control socket");
        }
        return fd;
}

/* The supervisor's log: what the backend says of a slower setting it chose (TCG). */
static void warn_log(const char *msg)
{
        log_warn("%s", msg);
}

static int boot(struct runtime *rt, struct supervisor *sv, const char *id, const struct bundle *b, const char *cgroup,
                int *ret_listen, cocoon_error **err)
{
        const struct cocoon_config *cfg = &rt->cfg;
        const struct hypervisor_ops *ops = cfg->hv_ops;
        _cleanup_free_ char *shared = path_join(rt->root, id);
        _cleanup_free_ char *shared_dir = shared ? path_join(shared, "shared") : NULL;
        if (!shared_dir)
                return -ENOMEM;
        struct vm_config vc = {
                .settings = cfg->hv_settings,
                .kernel = cfg->kernel,
                .initrd = cfg->initrd,
                .vcpus = cfg->vcpus,
                .memory_mib = cfg->memory_mib,
                .accel = cfg->accel,
                .run_dir = ".",
                .shared_dir = shared_dir,
                .kernel_args = cfg->kernel_args,
                .boot_timeout_s = cfg->boot_timeout_s,
                .debug = rt->debug,
                .warn = warn_log,
                .share = cfg->share,
        };
        int r = private_mounts(err);
        if (r < 0)
                return r;
        /*
         * The taps must exist before the VMM, which gets them as fds, or, for
         * a VMM that opens them by name, in the host's namespace, tagged
         * with this state directory (our cwd) for network_sweep().
         */
        _cleanup_free_ char *owner = ops->nics_by_name ? realpath(".", NULL) : NULL;
        if (ops->nics_by_name && !owner)
                return error_sys(err, errno, "resolving the state directory");
        r = network_setup(b->spec, owner, &sv->net, err);
        if (r < 0)
                return r;
        vc.n_nics = network_nics(sv->net, &vc.nics);
        r = vm_size(cfg, b, &vc.vcpus, &vc.memory_mib, err);
        if (r < 0)
                return r;
        vc.vmm_memory_max_mib = vc.memory_mib + cfg->vmm_overhead_mib;
        if (cgroup) {
                r = host_cgroup_limit(cgroup, (uint64_t) vc.vmm_memory_max_mib << 20, cfg->vmm_pids_max, err);
                if (r < 0)
                        return r;
        }
        r = ops->start(&vc, &sv->vm, err);
        network_close_taps(sv->net);
        if (r < 0)
                return error_wrap(err, r, "starting the VM");

        conn_init(&sv->agent, vm_take_agent_fd(sv->vm), false);
        unsigned timeout_s = cfg->boot_timeout_s ? cfg->boot_timeout_s : vm_default_boot_timeout(vm_accelerated(sv->vm));
        log_debug("waiting up to %u s for the guest agent", timeout_s);
        r = greet_agent(sv, timeout_s, err);
        if (r < 0) {
                return explain_silent_guest(sv, cfg, timeout_s, r, err);
        }
        /* Before the container: it shares the agent's network namespace from its first process on. */
        if (sv->net) {
                r = network_configure_guest(sv->net, &sv->agent, ++sv->next_id, err);
                if (r < 0)
                        return r;
        }
        r = create_container(sv, id, b, err);
        if (r < 0)
                return r;
        (void) set_recv_timeout(sv->agent.fd, 0);
        (void) fcntl(sv->agent.fd, F_SETFL, O_NONBLOCK);

        int lfd = listen_control(err);
        if (lfd < 0)
                return lfd;
        *ret_listen = lfd;
        return 0;
}

/*
 * For `run`, the caller owns the sandbox: if it dies, the sandbox goes too,
 * state directory included, as nobody is left to delete it.
 */
static void clean_up_after_dead_caller(const char *id, const char *dir)
{
        share_release(id);
        share_teardown();
        (void) remove_tree(dir);
}

static int supervisor_main(struct runtime *rt, const char *id, const struct bundle *b, const char *dir,
                           const char *cgroup, int ready_fd, pid_t caller)
{
        _cleanup_error_ cocoon_error *err = NULL;
        struct supervisor sv = {0};
        int listen_fd = -1;
        int r;

        /* Its own session: a ^C at the caller's terminal is for the container, not for us. */
        (void) setsid();
        (void) signal(SIGPIPE, SIG_IGN);
        if (chdir(dir) < 0) {
                r = error_sys(&err, errno, "entering %s", dir);
                goto out;
        }
        /*
         * None of the caller's fds: whoever waits for EOF on a pipe the caller
         * passed must not wait on us. We keep the ready pipe (as fd 3) and
         * log to supervisor.log in the state directory.
         */
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        int log = open("supervisor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        (void) dup2(nul, 0);
        (void) dup2(nul, 1);
        (void) dup2(log >= 0 ? log : nul, 2);
        if (ready_fd != 3) {
                (void) dup3(ready_fd, 3, O_CLOEXEC);
                ready_fd = 3;
        }
        (void) syscall(SYS_close_range, 4, ~0U, 0);
        log_detach();

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        /* Before the VMM's processes exist, so that they are born in it. */
        r = cgroup ? host_cgroup_join(cgroup, getpid(), &err) : 0;
        if (r < 0)
                goto out;
        r = loop_new(&sv.loop);
        if (r < 0)
                goto out;
        r = boot(rt, &sv, id, b, cgroup, &listen_fd, &err);
        if (r < 0)
                goto out;
        r = supervisor_watch(&sv, listen_fd, &mask);
        if (r < 0) {
                r = error_sys(&err, -r, "setting up the supervisor loop");
                goto out;
        }
        ready_send(ready_fd, 0, NULL);
        close(ready_fd);
        ready_fd = -1;
        int released = vm_booted(sv.vm);
        if (released < 0)
                log_debug("giving back the VMM's boot-only memory: %s", strerror(-released));
        r = supervisor_loop(&sv);

out:
        if (ready_fd >= 0)
                ready_send(ready_fd, r, err);
        if (sv.vm)
                (void) vm_stop(sv.vm, NULL);
        (void) unlink(CONTROL_SOCKET);
        supervisor_free(&sv);
        if (caller && getppid() != caller)
                clean_up_after_dead_caller(id, dir);
        return r < 0 ? 1 : 0;
}

/* Said to the user whatever the log level: a setting that weakens the sandbox. */
static void warn_user(const char *msg)
{
        fprintf(stderr, "cocoon: warning: %s\n", msg);
}

int supervisor_spawn(struct runtime *rt, const char *id, const struct bundle *b, const char *dir, const char *cgroup,
                     bool detach, pid_t *ret_pid, cocoon_error **err)
{
        /* Before anything is started: whether this host can run the VM at all. */
        const struct cocoon_config *cfg = &rt->cfg;
        struct vm_config host = {.settings = cfg->hv_settings, .kernel = cfg->kernel, .initrd = cfg->initrd,
                                 .accel = cfg->accel, .warn = warn_user};
        int r = vm_size(cfg, b, &host.vcpus, &host.memory_mib, err);
        if (r < 0)
                return r;
        r = cfg->hv_ops->check_host(&host, err);
        if (r < 0)
                return r;
        pid_t caller = getpid();
        int ready;
        pid_t pid = fork_with_ready(&ready, err);
        if (pid < 0)
                return pid;
        if (pid == 0) {
                /* Detached: the supervisor must be nobody's child but init's (or the subreaper's). */
                if (detach) {
                        if (fork() != 0)
                                _exit(0);
                        caller = 0;
                } else {
                        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                        if (getppid() != caller)
                                _exit(1);
                }
                /* Its own name in ps: its command line is its parent's (cocoon or the containerd shim). */
                (void) prctl(PR_SET_NAME, "cocoon-sandbox");
                _exit(supervisor_main(rt, id, b, dir, cgroup, ready, caller));
        }
        if (detach)
                (void) waitpid(pid, NULL, 0);
        r = ready_receive(ready, ret_pid, err);
        close(ready);
        if (r < 0 && !detach)
                (void) waitpid(pid, NULL, 0);
        if (r == -EPIPE)
                return error_set(err, EIO, "the sandbox supervisor died while starting (see %s/supervisor.log)", dir);
        return r;
}

int supervisor_connect(const char *dir, cocoon_error **err)
{
        /* Through /proc/self/fd: state paths may be longer than a socket address allows. */
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_sys(err, errno, "%s", dir);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/" CONTROL_SOCKET, dfd);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_sys(err, errno, "socket");
        if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                int e = errno;
                close(fd);
                return error_sys(err, e, "connecting to the sandbox supervisor");
        }
        return fd;
}
