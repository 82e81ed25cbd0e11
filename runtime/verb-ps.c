/*
 * cocoon ps: the container's processes. They live in the guest, so the PIDs
 * are the guest's (as the agent sees them), not host PIDs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "runtime.h"

static int ps_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *format = "table";
        int c;
        while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
                if (c == 'f')
                        format = optarg;
                else if (c == 'h') {
                        printf("usage: %s\n", verb_ps.usage);
                        return 0;
                } else
                        return 2;
        }
        if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0) {
                log_error("ps: --format: expected table or json, got %s", format);
                return 2;
        }
        if (optind >= argc) {
                log_error("ps: expected a container id\nusage: %s", verb_ps.usage);
                return 2;
        }
        const char *id = argv[optind];
        if (optind + 1 < argc)
                log_warn("ps: ps(1) options are ignored: the processes are in the guest");

        _cleanup_error_ cocoon_error *err = NULL;
        struct container ct;
        int r = container_open(rt->root, id, &ct, &err);
        if (r < 0)
                return verb_fail(&verb_ps, r, err);
        /* As runc: a stopped container has no processes, which is an empty list, not an error. */
        _cleanup_free_ char *status = NULL;
        r = container_status(&ct, &status);
        bool stopped = r == 0 && strcmp(status, "stopped") == 0;
        _cleanup_free_ int32_t *pids = NULL;
        size_t n_pids = 0;
        if (r == 0 && !stopped)
                r = sandbox_list_processes(ct.sv_dir, id, &pids, &n_pids, &err);
        container_close(&ct);
        if (r < 0)
                return verb_fail(&verb_ps, r, err);

        if (strcmp(format, "json") == 0) {
                struct json_writer w;
                _cleanup_free_ char *text = NULL;
                if (json_writer_init(&w, false) < 0)
                        return verb_fail(&verb_ps, -ENOMEM, NULL);
                json_open_array(&w, NULL);
                for (size_t i = 0; i < n_pids; i++)
                        json_int(&w, pids[i]);
                json_close_array(&w);
                if (json_writer_finish(&w, &text, NULL) < 0)
                        return verb_fail(&verb_ps, -ENOMEM, NULL);
                printf("%s\n", text);
                return 0;
        }
        printf("PID (guest)\n");
        for (size_t i = 0; i < n_pids; i++)
                printf("%d\n", pids[i]);
        return 0;
}

const struct verb verb_ps = {
        .name = "ps",
        .run = ps_main,
        .usage = "cocoon ps [--format|-f table|json] ID\n"
                 "  Lists the container's processes by their PIDs in the guest (they have no host PIDs).",
};
