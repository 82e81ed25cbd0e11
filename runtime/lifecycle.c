/*
 * What the verbs share: creating a container (state directory, supervisor
 * and VM, the container in the guest, state.json), asking its supervisor,
 * and stopping its sandbox whatever state the supervisor is in.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "msg.h"
#include "runtime.h"

int sandbox_call(const char *dir, Request *req, Response **ret, cocoon_error **err)
{
        int fd = supervisor_connect(dir, err);
        if (fd < 0)
                return fd;
        struct conn c;
        conn_init(&c, fd, false);
        req->id = 1;
        int r = msg_call(&c, req, NULL, 0, ret, NULL, NULL, err);
        conn_destroy(&c);
        return r;
}

int container_status(const struct container *c, char **ret_status)
{
        if (!state_supervisor_alive(&c->st)) {
                *ret_status = strdup("stopped");
                return *ret_status ? 0 : -ENOMEM;
        }
        Cocoon__ContainerStateRequest cs = COCOON__CONTAINER_STATE_REQUEST__INIT;
        cs.container_id = c->st.id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_CONTAINER_STATE;
        req.container_state = &cs;
        _cleanup_response_ Response *resp = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        /* A supervisor that does not answer has nothing running. */
        if (sandbox_call(c->dir, &req, &resp, &err) < 0 || resp->body_case != COCOON__RESPONSE__BODY_CONTAINER_STATE)
                *ret_status = strdup("stopped");
        else
                *ret_status = strdup(resp->container_state->status);
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

/* Waits up to ten seconds for a process that is not our child to be gone. */
static bool wait_gone(const struct container_state *st)
{
        for (int i = 0; i < 1000; i++) {
                if (!state_supervisor_alive(st))
                        return true;
                struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return false;
}

int container_stop_sandbox(const struct container *c, cocoon_error **err)
{
        if (!state_supervisor_alive(&c->st))
                return 0;
        int fd = supervisor_connect(c->dir, NULL);
        if (fd >= 0) {
                _cleanup_error_ cocoon_error *serr = NULL;
                if (supervisor_shutdown(fd, &serr) < 0)
                        log_debug("stopping the sandbox of %s: %s", c->st.id, serr->msg);
                close(fd);
                if (wait_gone(&c->st))
                        return 0;
        }
        /* Wedged or not listening: its VM and virtiofsd die with it (PDEATHSIG). */
        if (kill(c->st.supervisor_pid, SIGKILL) < 0 && errno != ESRCH)
                return error_sys(err, errno, "killing the supervisor of %s", c->st.id);
        if (!wait_gone(&c->st))
                return error_set(err, ETIMEDOUT, "the supervisor of %s (pid %d) does not exit", c->st.id,
                                 (int) c->st.supervisor_pid);
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

int container_create_sandbox(struct runtime *rt, const struct create_opts *o, struct container *ret,
                             cocoon_error **err)
{
        struct bundle b;
        int r = bundle_load(o->bundle_dir, &b, err);
        if (r < 0)
                return r;
        b.no_pivot = o->no_pivot;
        bool terminal = b.spec->process.terminal;
        if (o->detach && terminal && !o->console_socket)
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
                r = supervisor_spawn(rt, o->id, &b, c.dir, o->detach, &c.st.supervisor_pid, err);
        bundle_free(&b);
        if (r == 0) {
                c.st.supervisor_start = process_start_time(c.st.supervisor_pid);
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
