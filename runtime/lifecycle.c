/*
 * What the verbs share: creating a container (state directory, supervisor
 * and VM, the container in the guest, state.json), asking its supervisor,
 * and stopping its sandbox whatever state the supervisor is in.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "msg.h"
#include "network.h"
#include "cgroup.h"
#include "runtime.h"

int sandbox_call_fds(const char *dir, Request *req, const int *fds, size_t n_fds, Response **ret, cocoon_error **err)
{
        int fd = supervisor_connect(dir, err);
        if (fd < 0)
                return fd;
        struct conn c;
        conn_init(&c, fd, false);
        req->id = 1;
        int r = msg_call(&c, req, fds, n_fds, ret, NULL, NULL, err);
        conn_destroy(&c);
        return r;
}

int sandbox_call(const char *dir, Request *req, Response **ret, cocoon_error **err)
{
        return sandbox_call_fds(dir, req, NULL, 0, ret, err);
}

int container_status(const struct container *c, char **ret_status)
{
        if (!state_supervisor_alive(&c->st)) {
                *ret_status = strdup("stopped");
                return *ret_status ? 0 : -ENOMEM;
        }
        /* A supervisor that does not answer has nothing running. */
        if (sandbox_container_state(c->sv_dir, c->st.id, ret_status, NULL) == 0)
                return 0;
        *ret_status = strdup("stopped");
        return *ret_status ? 0 : -ENOMEM;
}

int container_require_status(const struct container *c, const char *const *allowed, const char *message,
                             cocoon_error **err)
{
        _cleanup_free_ char *status = NULL;
        if (container_status(c, &status) < 0)
                return -ENOMEM;
        for (; *allowed; allowed++)
                if (strcmp(status, *allowed) == 0)
                        return 0;
        return error_set(err, EINVAL, "%s", message);
}

/* Polls done(c) every 10 ms for up to ten seconds: what we wait on is not our child. */
static bool wait_until(bool (*done)(const struct container *c), const struct container *c)
{
        for (int i = 0; i < 1000; i++) {
                if (done(c))
                        return true;
                struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return false;
}

static bool supervisor_gone(const struct container *c)
{
        return !state_supervisor_alive(&c->st);
}

/*
 * Waits up to ten seconds for the supervisor's exit through a pidfd, which
 * is readable the moment it exits (our child or not): no polling interval
 * added to every stop. Falls back to polling where pidfds are missing.
 */
static bool wait_supervisor_gone(const struct container *c)
{
        _cleanup_close_ int fd = (int) syscall(SYS_pidfd_open, c->st.supervisor_pid, 0);
        if (fd < 0)
                return errno == ESRCH || wait_until(supervisor_gone, c);
        /* The pidfd holds the pid: if the start time matches now, it is the supervisor's. */
        if (supervisor_gone(c))
                return true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;
        do
                r = poll(&p, 1, 10000);
        while (r < 0 && errno == EINTR);
        return r > 0;
}

/* An unknown status (out of memory) is not "stopped": the wait goes on. */
static bool is_stopped(const struct container *c)
{
        _cleanup_free_ char *status = NULL;
        return container_status(c, &status) == 0 && strcmp(status, "stopped") == 0;
}

static int stop_supervisor(const struct container *c, cocoon_error **err)
{
        if (!state_supervisor_alive(&c->st))
                return 0;
        int fd = supervisor_connect(c->sv_dir, NULL);
        if (fd >= 0) {
                _cleanup_error_ cocoon_error *serr = NULL;
                if (supervisor_shutdown(fd, &serr) < 0)
                        log_debug("stopping the sandbox of %s: %s", c->st.id, serr->msg);
                close(fd);
                if (wait_supervisor_gone(c))
                        return 0;
        }
        /* Wedged or not listening: its VM dies with it (PDEATHSIG). */
        if (kill(c->st.supervisor_pid, SIGKILL) < 0 && errno != ESRCH)
                return error_sys(err, errno, "killing the supervisor of %s", c->st.id);
        if (!wait_supervisor_gone(c))
                return error_set(err, ETIMEDOUT, "the supervisor of %s (pid %d) does not exit", c->st.id,
                                 (int) c->st.supervisor_pid);
        return 0;
}

/* A pod's container leaves the VM, which stays for the others: its processes are killed, then it is removed. */
static int leave_sandbox(const struct container *c, cocoon_error **err)
{
        if (!state_supervisor_alive(&c->st))
                return 0; /* the sandbox's VM is gone, and the container with it */
        _cleanup_free_ char *status = NULL;
        if (container_status(c, &status) < 0)
                return -ENOMEM;
        if (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0) {
                /* A SIGKILL gets through cgroup v2's freezer: no thaw needed. */
                int r = container_signal(c, SIGKILL, true, err);
                if (r == 0 && !wait_until(is_stopped, c))
                        r = error_set(err, ETIMEDOUT, "the processes of %s do not exit after SIGKILL", c->st.id);
                if (r < 0)
                        return r;
        }
        int r = sandbox_remove(c->sv_dir, c->st.id, err);
        /* Gone already (its sandbox stopped meanwhile) is what we wanted. */
        return r == -ENOENT || !state_supervisor_alive(&c->st) ? 0 : r;
}

int container_stop_sandbox(const struct container *c, cocoon_error **err)
{
        int r = c->st.sandbox ? leave_sandbox(c, err) : stop_supervisor(c, err);
        /* Host interfaces a killed supervisor could not remove (docs/networking.md). */
        if (r == 0 && !c->st.sandbox) {
                _cleanup_free_ char *owner = realpath(c->sv_dir, NULL);
                if (owner)
                        network_sweep(owner);
        }
        /* A cgroup that was there before the container stays, with whatever else is in it. */
        if (r == 0 && c->st.cgroup_owned)
                host_cgroup_remove(c->st.cgroup);
        return r;
}

int container_signal(const struct container *c, int sig, bool all, cocoon_error **err)
{
        return sandbox_signal(c->sv_dir, c->st.id, "", sig, all, err);
}

int container_started(const struct container *c, int r, cocoon_error **err)
{
        if (r == 0)
                r = container_run_hooks(c, HOOKS_POSTSTART, err);
        if (r < 0 && container_signal(c, SIGKILL, true, NULL) == 0)
                log_debug("%s: killed after its start failed", c->st.id);
        return r;
}

char *container_config_path(const struct container *c)
{
        return path_join(c->dir, KEPT_CONFIG);
}

int container_load_spec(const struct container *c, struct oci_spec **ret, cocoon_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = container_read_config(c, &text, &len, err);
        if (r >= 0)
                r = spec_parse(text, len, ret, err);
        return r < 0 ? error_wrap(err, r, "the config.json kept at create in %s", c->dir) : 0;
}

int container_read_config(const struct container *c, char **ret_text, size_t *ret_len, cocoon_error **err)
{
        int r = container_read_file(c, KEPT_CONFIG, SPEC_MAX_SIZE, ret_text, ret_len, err);
        return r == -ENOENT ? error_set(err, ENOENT, "%s/%s is missing", c->dir, KEPT_CONFIG) : r;
}

int check_pid_file(const char *path, cocoon_error **err)
{
        if (!path)
                return 0;
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                return 0; /* the working directory */
        slash[slash == dir] = '\0';
        struct stat st;
        if (stat(dir, &st) < 0)
                return error_sys(err, errno, "--pid-file %s: directory %s", path, dir);
        if (!S_ISDIR(st.st_mode))
                return error_set(err, ENOTDIR, "--pid-file %s: %s is not a directory", path, dir);
        return 0;
}

int write_pid_file(const char *path, pid_t pid, cocoon_error **err)
{
        char text[32];
        int n = snprintf(text, sizeof(text), "%d", (int) pid);
        int r = write_file_atomic(path, text, n, 0644);
        if (r < 0)
                return error_sys(err, -r, "writing the pid file %s", path);
        return 0;
}

/*
 * A pod's container: created in the VM of its sandbox, whose supervisor
 * shares its rootfs and asks the agent. Its state names the sandbox, and its
 * verbs go to that supervisor.
 */
static int join_sandbox(struct runtime *rt, struct bundle *b, const char *sandbox, struct container *c,
                        cocoon_error **err)
{
        struct container sb;
        int r = container_open(rt->root, sandbox, &sb, err);
        if (r < 0)
                return error_wrap(err, r, "the pod sandbox %s", sandbox);
        _cleanup_spec_ struct oci_spec *sb_spec = NULL;
        if (sb.st.sandbox)
                r = error_set(err, EINVAL, "%s is not a pod sandbox: it is a container in the VM of %s", sandbox,
                              sb.st.sandbox);
        else if (!state_supervisor_alive(&sb.st))
                r = error_set(err, ESRCH, "the pod sandbox %s is stopped: its VM is gone", sandbox);
        if (r == 0)
                r = container_load_spec(&sb, &sb_spec, err);
        if (r == 0) {
                /* From here on, undoing this container never touches the sandbox's VM. */
                free(c->sv_dir);
                c->sv_dir = strdup(sb.dir);
                c->st.sandbox = strdup(sandbox);
                c->st.supervisor_pid = sb.st.supervisor_pid;
                c->st.supervisor_start = sb.st.supervisor_start;
                if (!c->sv_dir || !c->st.sandbox)
                        r = -ENOMEM;
        }
        struct pod_sandbox ps = {.id = sandbox, .stub_pid = sb.st.pid, .spec = sb_spec};
        if (r == 0)
                r = pod_namespace_sources(b->spec, &ps, &b->ns_sources, err);
        if (r == 0) {
                Cocoon__CreateContainerRequest cc = COCOON__CREATE_CONTAINER_REQUEST__INIT;
                cc.container_id = c->st.id;
                cc.config_json = b->config_json;
                cc.bundle = b->dir;
                cc.no_pivot = b->no_pivot;
                cc.n_namespace_sources = b->ns_sources.n;
                cc.namespace_sources = b->ns_sources.ptrs;
                Request req = COCOON__REQUEST__INIT;
                req.body_case = COCOON__REQUEST__BODY_CREATE_CONTAINER;
                req.create_container = &cc;
                /* The rootfs and volumes as this namespace sees them: the supervisor's may be older. */
                struct share_trees trees;
                r = share_open_trees(b, &trees, err);
                if (r == 0)
                        r = sandbox_call_fds(sb.dir, &req, trees.fds, trees.n, NULL, err);
                share_trees_close(&trees);
        }
        container_close(&sb);
        return r;
}

/* The rootfs and every volume's source can be opened, checked before a VM boots for nothing. */
static int check_sources(const struct bundle *b, cocoon_error **err)
{
        struct share_trees trees;
        int r = share_open_trees(b, &trees, err);
        if (r == 0)
                share_trees_close(&trees);
        return r;
}

int container_create_sandbox(struct runtime *rt, const struct create_opts *o, struct container *ret,
                             cocoon_error **err)
{
        struct bundle b;
        int r = bundle_load(o->bundle_dir, &b, err);
        if (r < 0)
                return r;
        b.no_pivot = o->no_pivot;
        bool terminal = b.spec->process.terminal;
        if (o->detach && terminal && !o->console_socket && !o->stdio_by_caller)
                r = error_set(err, EINVAL, "cannot allocate tty if cocoon will detach without setting console socket");
        else if (o->console_socket && !terminal)
                r = error_set(err, EINVAL, "cannot use console socket if cocoon will not detach or allocate tty");
        struct container c = {.lock_fd = -1};
        if (r == 0)
                r = container_new(rt->root, o->id, &c, err);
        if (r < 0) {
                bundle_free(&b);
                return r;
        }
        /* What create read is what the container is: later verbs never read the bundle again. */
        _cleanup_free_ char *kept = container_config_path(&c);
        if (!kept)
                r = -ENOMEM;
        else if ((r = write_file_atomic(kept, b.config_json, strlen(b.config_json), 0600)) < 0)
                r = error_sys(err, -r, "keeping config.json in %s", c.dir);

        c.st.bundle = strdup(b.dir);
        c.st.rootfs = strdup(b.rootfs);
        c.st.created = state_now();
        c.st.terminal = terminal;
        c.st.annotations = calloc(b.spec->n_annotations + 1, sizeof(*c.st.annotations));
        if (!c.st.bundle || !c.st.rootfs || !c.st.created || !c.st.annotations)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < b.spec->n_annotations; i++) {
                c.st.annotations[i].key = strdup(b.spec->annotations[i].key);
                c.st.annotations[i].value = strdup(b.spec->annotations[i].value);
                c.st.n_annotations++;
                if (!c.st.annotations[i].key || !c.st.annotations[i].value)
                        r = -ENOMEM;
        }
        if (r == 0)
                r = cgroup_path_for(b.spec->cgroups_path, HOST_CGROUP_DEFAULT_PARENT, o->id, &c.st.cgroup, err);
        bool existed = false;
        if (r == 0 && (r = host_cgroup_check(c.st.cgroup, &existed, err)) < 0)
                free(TAKE_PTR(c.st.cgroup)); /* not ours: the clean-up below must not touch it */
        c.st.cgroup_owned = !existed;
        const char *sandbox = NULL;
        if (r == 0)
                r = pod_sandbox_of(b.spec, o->id, &sandbox, err);
        if (r == 0 && sandbox) {
                r = join_sandbox(rt, &b, sandbox, &c, err);
        } else if (r == 0) {
                r = pod_namespace_sources(b.spec, NULL, &b.ns_sources, err);
                if (r == 0)
                        r = check_sources(&b, err);
                if (r == 0)
                        r = supervisor_spawn(rt, o->id, &b, c.dir, c.st.cgroup, o->detach, &c.st.supervisor_pid, err);
                if (r == 0)
                        c.st.supervisor_start = process_start_time(c.st.supervisor_pid);
        }
        bundle_free(&b);
        if (r == 0) {
                c.st.pid = getpid(); /* until a stub stands for the init */
                r = state_save(&c, err);
        }
        if (r < 0) {
                (void) container_stop_sandbox(&c, NULL);
                (void) container_destroy(&c, NULL);
                return r;
        }
        *ret = c;
        return 0;
}
