/* cocoon kill: a signal to the container's init, or to all its processes. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "log.h"
#include "runtime.h"

/* "9", "KILL", "SIGKILL" and "sigkill" all name SIGKILL, as with runc. */
static int parse_signal(const char *s)
{
        if (isdigit((unsigned char) *s)) {
                char *end;
                long n = strtol(s, &end, 10);
                return *end || n < 0 || n >= NSIG ? -1 : (int) n; /* 0: is it alive? */
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int n = 1; n < SIGRTMIN; n++) {
                const char *name = sigabbrev_np(n);
                if (name && strcasecmp(name, s) == 0)
                        return n;
        }
        return -1;
}

static int kill_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"all", no_argument, NULL, 'a'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool all = false;
        int c;
        while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
                if (c == 'a')
                        all = true;
                else if (c == 'h') {
                        printf("usage: %s\n", verb_kill.usage);
                        return 0;
                } else
                        return 2;
        }
        if (optind != argc - 1 && optind != argc - 2) {
                log_error("kill: expected a container id and an optional signal\nusage: %s", verb_kill.usage);
                return 2;
        }
        const char *id = argv[optind];
        int sig = optind == argc - 2 ? parse_signal(argv[optind + 1]) : SIGTERM;
        if (sig < 0) {
                log_error("kill: invalid signal %s", argv[optind + 1]);
                return 1;
        }

        _cleanup_error_ cocoon_error *err = NULL;
        struct container ct;
        int r = container_open(rt->root, id, &ct, &err);
        if (r < 0)
                return verb_fail(&verb_kill, r, err);
        static const char *const live[] = {"created", "running", "paused", NULL};
        r = container_require_status(&ct, live, "container not running", &err);
        /*
         * --all reaches what is left in the container's cgroup after its init
         * exited, as long as the sandbox is there (runc: while the cgroup is).
         */
        bool leftovers = r < 0 && all && sig != 0;
        if (leftovers) {
                error_free(TAKE_PTR(err));
                r = state_supervisor_alive(&ct.st) ? 0 : 1;
        }
        /* Signal 0 asks only whether the container is alive, which its status said. */
        if (r == 0 && sig != 0)
                r = container_signal(&ct, sig, all, &err);
        container_close(&ct);
        if (r == -ENOENT && leftovers)
                r = 0; /* the container left the sandbox meanwhile: nothing is left to signal */
        return r < 0 ? verb_fail(&verb_kill, r, err) : 0;
}

const struct verb verb_kill = {
        .name = "kill",
        .run = kill_main,
        .usage = "cocoon kill [--all|-a] ID [SIGNAL]\n"
                 "  Sends SIGNAL (a name or number, default TERM) to the container's init, or with --all to\n"
                 "  every process in its cgroup in the guest (also after the init exited). Signal 0 checks\n"
                 "  that the container is alive.",
};
