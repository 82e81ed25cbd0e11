/* cocoon run: create, start and wait for a container in its own microVM, then delete it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "msg.h"
#include "runtime.h"

/* --debug: what the guest and the supervisor said, before the state directory goes. */
static void dump_debug_logs(const char *dir)
{
        static const char *const logs[] = {"console.log", "supervisor.log", "qemu.log"};
        for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
                _cleanup_free_ char *path = path_join(dir, logs[i]);
                _cleanup_free_ char *text = NULL;
                if (path && read_file(path, 1 << 20, &text, NULL) == 0 && *text)
                        fprintf(stderr, "----- %s -----\n%s\n", logs[i], text);
        }
}

static int run_container(struct runtime *rt, const char *id, const char *bundle_dir, int *ret_exit, cocoon_error **err)
{
        if (!msg_id_valid(id))
                return error_set(err, EINVAL, "invalid container id %s: use 1 to 1024 of A-Z a-z 0-9 _ + - .", id);
        struct bundle b;
        int r = bundle_load(bundle_dir, &b, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *dir = state_dir(rt, id);
        if (!dir) {
                bundle_free(&b);
                return -ENOMEM;
        }
        r = mkdir_p(rt->root, 0700);
        if (r < 0) {
                bundle_free(&b);
                return error_sys(err, -r, "creating the state root %s", rt->root);
        }
        if (mkdir(dir, 0700) < 0) {
                int e = errno;
                bundle_free(&b);
                if (e == EEXIST)
                        return error_set(err, EEXIST, "container with id exists: %s", id);
                return error_sys(err, e, "creating %s", dir);
        }

        pid_t sup;
        r = supervisor_spawn(rt, id, &b, dir, false, &sup, err);
        bool terminal = b.spec->process.terminal;
        bundle_free(&b);
        if (r < 0) {
                (void) state_remove(dir, NULL);
                return r;
        }

        int ctl = supervisor_connect(dir, err);
        if (ctl >= 0) {
                r = stub_attach_and_wait(ctl, id, "", true, terminal, ret_exit, err);
                _cleanup_error_ cocoon_error *serr = NULL;
                if (supervisor_shutdown(ctl, &serr) < 0)
                        log_debug("stopping the sandbox: %s", serr->msg);
                close(ctl);
        } else {
                r = ctl;
                (void) kill(sup, SIGTERM);
        }
        (void) waitpid(sup, NULL, 0);
        if (rt->debug)
                dump_debug_logs(dir);
        (void) state_remove(dir, NULL);
        return r;
}

static int verb_run_main(struct runtime *rt, int argc, char **argv)
{
        const char *bundle = ".";
        int r = verb_parse_bundle(&verb_run, argc, argv, &bundle);
        if (r <= 0)
                return -r;
        if (optind != argc - 1) {
                log_error("run: expected exactly one container id\nusage: %s", verb_run.usage);
                return 2;
        }

        _cleanup_error_ cocoon_error *err = NULL;
        int exit_code = 0;
        r = run_container(rt, argv[optind], bundle, &exit_code, &err);
        if (r < 0) {
                log_error("run: %s", err ? err->msg : strerror(-r));
                return 1;
        }
        return exit_code;
}

const struct verb verb_run = {
        .name = "run",
        .run = verb_run_main,
        .usage = "cocoon run [--bundle|-b DIR] ID\n"
                 "  Runs the bundle's process in a new microVM, relays its stdio, and exits with its exit status.",
};
