/* cocoon create: the container exists in its VM, its stub waits, nothing runs yet. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "runtime.h"

/* Options shared with run: --bundle, --pid-file, --console-socket, --no-pivot, ... */
int verb_parse_create(const struct verb *v, int argc, char **argv, struct create_opts *o, const char **pid_file,
                      bool *detach)
{
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'},
                {"pid-file", required_argument, NULL, 'p'},
                {"console-socket", required_argument, NULL, 'c'},
                {"no-pivot", no_argument, NULL, 'P'},
                {"no-new-keyring", no_argument, NULL, 'k'},
                {"preserve-fds", required_argument, NULL, 'f'},
                {"detach", no_argument, NULL, 'd'},
                {"no-subreaper", no_argument, NULL, 'S'},
                {"keep", no_argument, NULL, 'K'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        *o = (struct create_opts) {.bundle_dir = "."};
        int c;
        while ((c = getopt_long(argc, argv, "+b:dh", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        o->bundle_dir = optarg;
                        break;
                case 'p':
                        *pid_file = optarg;
                        break;
                case 'c':
                        o->console_socket = optarg;
                        break;
                case 'P':
                        o->no_pivot = true;
                        break;
                case 'k':
                case 'S':
                        break; /* a guest has its own keyrings; the stub is no subreaper anyway */
                case 'f':
                        if (strcmp(optarg, "0") != 0) {
                                log_error("%s: --preserve-fds %s: host file descriptors cannot be passed into the VM",
                                          v->name, optarg);
                                return -1;
                        }
                        break;
                case 'd':
                case 'K':
                        /* run's own options */
                        if (!detach) {
                                log_error("%s: unknown option %s", v->name, c == 'd' ? "-d" : "--keep");
                                return -2;
                        }
                        if (c == 'd')
                                *detach = true;
                        else
                                o->keep = true;
                        break;
                case 'h':
                        printf("usage: %s\n", v->usage);
                        return 0;
                default:
                        return -2;
                }
        }
        if (optind != argc - 1) {
                log_error("%s: expected exactly one container id\nusage: %s", v->name, v->usage);
                return -2;
        }
        o->id = argv[optind];
        return 1;
}

static int create_main(struct runtime *rt, int argc, char **argv)
{
        struct create_opts o;
        const char *pid_file = NULL;
        int r = verb_parse_create(&verb_create, argc, argv, &o, &pid_file, NULL);
        if (r <= 0)
                return -r;
        o.detach = true;

        _cleanup_error_ cocoon_error *err = NULL;
        struct container c;
        r = check_pid_file(pid_file, &err);
        if (r == 0)
                r = container_create_sandbox(rt, &o, &c, &err);
        if (r < 0)
                return verb_fail(&verb_create, r, err);
        struct stub_opts so = {.id = o.id, .exec_id = "", .terminal = c.st.terminal, .cgroup = c.st.cgroup};
        r = stub_spawn(c.sv_dir, &so, o.console_socket, &c.st.pid, &err);
        if (r == 0)
                r = state_save(&c, &err);
        if (r == 0)
                r = container_run_hooks(&c, HOOKS_CREATE, &err);
        if (r == 0 && pid_file)
                r = write_pid_file(pid_file, c.st.pid, &err);
        if (r < 0) {
                (void) container_stop_sandbox(&c, NULL);
                (void) container_destroy(&c, NULL);
                return verb_fail(&verb_create, r, err);
        }
        container_close(&c);
        return 0;
}

const struct verb verb_create = {
        .name = "create",
        .run = create_main,
        .usage = "cocoon create [--bundle|-b DIR] [--pid-file F] [--console-socket S] [--no-pivot] ID\n"
                 "  Boots the container's microVM and creates the container in it, not yet running. The pid\n"
                 "  in --pid-file is a host process that lives as long as the container's process and exits\n"
                 "  with its status.",
};
