/*
 * cocoon-host: runs an OCI bundle with cocoon's core directly on this host,
 * no VM. A developer tool: the same namespaces, mounts, capabilities, seccomp
 * and hooks code the guest agent uses, fast to try and easy to compare with
 * runc on the same bundle.
 *
 *   cocoon-host run [--bundle|-b DIR] [--no-pivot] ID
 *
 * Runs in the foreground with the caller's stdio (or a pty relayed to it when
 * process.terminal is set), forwards the usual signals to the container's
 * init, and exits with its status (128+N when killed by signal N). The
 * container's mounts live in its own mount namespace and vanish with it;
 * nothing is written on the host. Host cgroups are not touched (the
 * container stays in the caller's cgroup).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "fsutil.h"
#include "hooks.h"
#include "spec.h"

static volatile sig_atomic_t container_pid;

static void forward_signal(int sig)
{
        if (container_pid > 0)
                (void) kill(container_pid, sig);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: cocoon-host run [--bundle|-b DIR] [--no-pivot] ID\n"
                   "Runs the bundle (default: the current directory) with cocoon's core on this host, no VM.\n");
}

/* Relays stdin to the pty master and the master to stdout until the master hangs up. */
static void relay_console(int master)
{
        struct termios saved;
        bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
        if (raw) {
                struct termios t = saved;
                cfmakeraw(&t);
                (void) tcsetattr(0, TCSANOW, &t);
        }
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = master, .events = POLLIN}};
        char buf[4096];
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & POLLIN) {
                        ssize_t n = read(master, buf, sizeof(buf));
                        if (n <= 0 || write_all(1, buf, (size_t) n) < 0)
                                break;
                } else if (p[1].revents & (POLLHUP | POLLERR)) {
                        break;
                }
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        ssize_t n = read(0, buf, sizeof(buf));
                        if (n <= 0)
                                p[0].fd = -1; /* stdin closed: keep showing output */
                        else
                                (void) write_all(master, buf, (size_t) n);
                }
        }
        if (raw)
                (void) tcsetattr(0, TCSANOW, &saved);
}

/* Host-side hooks of one kind; a failure is reported with its kind and path. */
static int run_hooks(const struct oci_spec *spec, enum spec_hook_kind kind, const char *status, pid_t pid,
                     cocoon_error **err)
{
        if (spec->hooks[kind].n == 0)
                return 0;
        _cleanup_free_ char *state = hooks_state_json(spec, status, pid);
        if (!state)
                return error_set(err, ENOMEM, "out of memory");
        return hooks_run(spec->hooks[kind].list, spec->hooks[kind].n, state, spec_hook_kind_names[kind], err);
}

static int run(const char *bundle, const char *id, bool no_pivot, cocoon_error **err)
{
        char abs_bundle[PATH_MAX];
        if (!realpath(bundle, abs_bundle))
                return error_sys(err, errno, "bundle %s", bundle);
        _cleanup_free_ char *config = path_join(abs_bundle, "config.json");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        int r = config ? spec_load(config, &spec, err) : -ENOMEM;
        if (r < 0)
                return r;
        spec->id = strdup(id);
        spec->bundle = strdup(abs_bundle);
        if (!spec->id || !spec->bundle)
                return error_set(err, ENOMEM, "out of memory");
        spec->no_pivot = no_pivot;
        for (size_t i = 0; i < spec->process.n_warnings; i++)
                fprintf(stderr, "cocoon-host: warning: %s\n", spec->process.warnings[i]);
        if (!spec->has_process)
                return error_set(err, EINVAL, "process: config.json has no process to run");
        _cleanup_free_ char *rootfs =
                spec->root_path[0] == '/' ? strdup(spec->root_path) : path_join(abs_bundle, spec->root_path);
        if (!rootfs)
                return error_set(err, ENOMEM, "out of memory");

        struct container_stdio stdio = {0, 1, 2};
        struct container_init init;
        r = container_create(spec, rootfs, &stdio, -1, &init, err);
        if (r < 0)
                return r;
        container_pid = init.pid;

        /*
         * The runtime-spec's order around start: prestart and createRuntime
         * (still part of create, so the status is "creating", as runc says),
         * start, poststart.
         */
        r = run_hooks(spec, SPEC_HOOK_PRESTART, "creating", init.pid, err);
        if (r == 0)
                r = run_hooks(spec, SPEC_HOOK_CREATE_RUNTIME, "creating", init.pid, err);
        if (r == 0)
                r = container_start(&init, err);
        if (r < 0) {
                (void) kill(init.pid, SIGKILL);
                (void) waitpid(init.pid, NULL, 0);
                container_init_release(&init);
                (void) run_hooks(spec, SPEC_HOOK_POSTSTOP, "stopped", 0, NULL);
                return r;
        }
        _cleanup_error_ cocoon_error *post_err = NULL;
        if (run_hooks(spec, SPEC_HOOK_POSTSTART, "running", init.pid, &post_err) < 0)
                fprintf(stderr, "cocoon-host: %s\n", post_err->msg); /* the runtime-spec: a warning, not a failure */

        if (init.console_fd >= 0)
                relay_console(init.console_fd);
        int status = 0;
        pid_t w;
        do
                w = waitpid(init.pid, &status, 0);
        while (w < 0 && errno == EINTR);
        container_pid = 0;
        container_init_release(&init);

        _cleanup_error_ cocoon_error *stop_err = NULL;
        if (run_hooks(spec, SPEC_HOOK_POSTSTOP, "stopped", 0, &stop_err) < 0)
                fprintf(stderr, "cocoon-host: %s\n", stop_err->msg);
        if (w < 0)
                return error_sys(err, errno, "waiting for the container");
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "run") != 0) {
                usage(argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr);
                return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
        }
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'},
                {"no-pivot", no_argument, NULL, 'P'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *bundle = ".";
        bool no_pivot = false;
        int c;
        optind = 2;
        while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        bundle = optarg;
                        break;
                case 'P':
                        no_pivot = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return 2;
        }

        struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                (void) sigaction(forwarded[i], &sa, NULL);

        _cleanup_error_ cocoon_error *err = NULL;
        int r = run(bundle, argv[optind], no_pivot, &err);
        if (r < 0) {
                fprintf(stderr, "cocoon-host: %s\n", err && err->msg ? err->msg : strerror(-r));
                return 1;
        }
        return r;
}
