/* cocoon list: every container under --root. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "runtime.h"

static int by_id(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int list_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *format = "table";
        bool quiet = false;
        int c;
        while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
                if (c == 'f')
                        format = optarg;
                else if (c == 'q')
                        quiet = true;
                else if (c == 'h') {
                        printf("usage: %s\n", verb_list.usage);
                        return 0;
                } else
                        return 2;
        }
        bool json = strcmp(format, "json") == 0;
        if (!json && strcmp(format, "table") != 0) {
                log_error("list: --format: expected table or json, got %s", format);
                return 2;
        }
        if (optind != argc) {
                log_error("list: takes no arguments\nusage: %s", verb_list.usage);
                return 2;
        }

        /*
         * The default root that does not exist yet lists nothing; a --root
         * the caller named that does not exist is a mistake worth reporting
         * (as runc does since 1.3); one that cannot be trusted is an error.
         */
        _cleanup_error_ cocoon_error *err = NULL;
        int r = state_check_root(rt->root, &err);
        if (r == -ENOENT && rt->root_given) {
                r = error_sys(&err, ENOENT, "--root %s", rt->root);
                return verb_fail(&verb_list, r, err);
        }
        if (r < 0 && r != -ENOENT)
                return verb_fail(&verb_list, r, err);

        struct json_writer w;
        if (json && json_writer_init(&w, false) < 0)
                return verb_fail(&verb_list, -ENOMEM, NULL);
        if (json)
                json_open_array(&w, NULL);
        else if (!quiet)
                printf("%-24s %-8s %-8s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");

        /* Sorted by id, as runc lists them. */
        struct dirent **names = NULL;
        int n = scandir(rt->root, &names, NULL, by_id);
        for (int i = 0; i < n; i++) {
                const struct dirent *de = names[i];
                struct container ct;
                /* One that vanishes or is half-made meanwhile is not listed. */
                if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
                    container_open(rt->root, de->d_name, &ct, NULL) < 0)
                        continue;
                _cleanup_free_ char *status = NULL;
                if (container_status(&ct, &status) == 0) {
                        if (json)
                                state_write(&w, &ct.st, status);
                        else if (quiet)
                                printf("%s\n", ct.st.id);
                        else
                                printf("%-24s %-8d %-8s %-40s %-32s %s\n", ct.st.id,
                                       strcmp(status, "stopped") == 0 ? 0 : (int) ct.st.pid, status, ct.st.bundle,
                                       ct.st.created, "root");
                }
                container_close(&ct);
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (json) {
                json_close_array(&w);
                _cleanup_free_ char *text = NULL;
                if (json_writer_finish(&w, &text, NULL) < 0)
                        return verb_fail(&verb_list, -ENOMEM, NULL);
                printf("%s\n", text);
        }
        return 0;
}

const struct verb verb_list = {
        .name = "list",
        .run = list_main,
        .usage = "cocoon list [--format|-f table|json] [--quiet|-q]\n  Lists the containers under --root.",
};
