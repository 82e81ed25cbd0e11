/*
 * cocoon run: create and start a container in its own microVM. In the
 * foreground this process is the stub: it relays stdio, exits with the
 * process's status and deletes the container. With -d it leaves a stub
 * behind, as create does, and returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"

/* --debug: what the guest and the supervisor said, before the state directory goes. */
static void dump_debug_logs(const char *dir)
{
        static const char *const logs[] = {"console.log", "supervisor.log", "vmm.log"};
        for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
                _cleanup_free_ char *path = path_join(dir, logs[i]);
                _cleanup_free_ char *text = NULL;
                if (path && read_file(path, 1 << 20, &text, NULL) == 0 && *text)
                        fprintf(stderr, "----- %s -----\n%s\n", logs[i], text);
        }
}

struct started {
        const struct container *c;
        int r;
        cocoon_error *err;
};

static void on_started(int r, const cocoon_error *err, void *ud)
{
        struct started *s = ud;
        if (r == 0)
                s->r = container_started(s->c, 0, &s->err);
}

static int run_foreground(struct runtime *rt, struct container *c, bool keep, int *ret_exit, cocoon_error **err)
{
        pid_t sup = c->st.supervisor_pid;
        struct stub_opts so = {.id = c->st.id, .exec_id = "", .start = true, .terminal = c->st.terminal};
        /* Unlocked while it runs, so that state, kill and exec work meanwhile. */
        container_unlock(c);

        int r, ctl = supervisor_connect(c->sv_dir, err);
        if (ctl >= 0) {
                struct started s = {.c = c};
                r = stub_run(ctl, &so, on_started, &s, ret_exit, err);
                if (r == 0 && s.r < 0) {
                        /* The container was killed: the failure is the verb's. */
                        r = s.r;
                        if (err && !*err)
                                *err = TAKE_PTR(s.err);
                }
                error_free(s.err);
                close(ctl);
        } else {
                r = ctl;
        }

        /* Someone may have deleted it meanwhile (delete --force): then there is nothing left to do. */
        if (container_relock(c) == 0) {
                (void) container_stop_sandbox(c, NULL);
                (void) waitpid(sup, NULL, 0);
                if (rt->debug)
                        dump_debug_logs(c->sv_dir);
                if (keep) {
                        /* Stopped, its VM gone; state works and delete runs poststop and removes it. */
                        container_close(c);
                        return r;
                }
                _cleanup_error_ cocoon_error *herr = NULL;
                if (container_run_hooks(c, HOOKS_POSTSTOP, &herr) < 0)
                        log_warn("run: %s", herr ? herr->msg : "poststop hook failed");
                (void) container_destroy(c, NULL);
        } else {
                (void) waitpid(sup, NULL, 0);
                container_close(c);
        }
        return r;
}

static int run_main(struct runtime *rt, int argc, char **argv)
{
        struct create_opts o;
        const char *pid_file = NULL;
        bool detach = false;
        int r = verb_parse_create(&verb_run, argc, argv, &o, &pid_file, &detach);
        if (r <= 0)
                return -r;
        o.detach = detach;

        _cleanup_error_ cocoon_error *err = NULL;
        struct container c;
        r = check_pid_file(pid_file, &err);
        if (r == 0)
                r = container_create_sandbox(rt, &o, &c, &err);
        if (r < 0)
                return verb_fail(&verb_run, r, err);
        r = container_run_hooks(&c, HOOKS_CREATE, &err);
        if (r == 0 && !detach) {
                if (pid_file)
                        r = write_pid_file(pid_file, getpid(), &err);
                if (r == 0) {
                        int exit_code = 0;
                        r = run_foreground(rt, &c, o.keep, &exit_code, &err);
                        return r < 0 ? verb_fail(&verb_run, r, err) : exit_code;
                }
        }
        if (r == 0) {
                struct stub_opts so = {.id = o.id, .exec_id = "", .start = true, .terminal = c.st.terminal,
                                       .cgroup = c.st.cgroup};
                r = stub_spawn(c.sv_dir, &so, o.console_socket, &c.st.pid, &err);
        }
        if (r == 0)
                r = state_save(&c, &err);
        if (r == 0)
                r = container_run_hooks(&c, HOOKS_POSTSTART, &err);
        if (r == 0 && pid_file)
                r = write_pid_file(pid_file, c.st.pid, &err);
        if (r < 0) {
                (void) container_stop_sandbox(&c, NULL);
                if (!detach)
                        (void) waitpid(c.st.supervisor_pid, NULL, 0);
                (void) container_destroy(&c, NULL);
                return verb_fail(&verb_run, r, err);
        }
        container_close(&c);
        return 0;
}

const struct verb verb_run = {
        .name = "run",
        .run = run_main,
        .usage = "cocoon run [--bundle|-b DIR] [-d|--detach] [--keep] [--pid-file F] [--console-socket S] [--no-pivot] ID\n"
                 "  Runs the bundle's process in a new microVM. In the foreground it relays stdio, exits with\n"
                 "  the process's status and removes the container (with --keep it stays, stopped, until\n"
                 "  delete); with -d it returns once it runs.",
};
