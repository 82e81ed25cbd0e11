/* cocoon delete: stops the VM and removes every trace of the container. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "runtime.h"

static int delete_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"force", no_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool force = false;
        int c;
        while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
                if (c == 'f')
                        force = true;
                else if (c == 'h') {
                        printf("usage: %s\n", verb_delete.usage);
                        return 0;
                } else
                        return 2;
        }
        if (optind != argc - 1) {
                log_error("delete: expected exactly one container id\nusage: %s", verb_delete.usage);
                return 2;
        }
        const char *id = argv[optind];
        _cleanup_error_ cocoon_error *err = NULL;
        struct container ct;
        int r = container_open(rt->root, id, &ct, &err);
        if (r == -ENOENT && force)
                return 0; /* as runc: forcing the deletion of nothing succeeds */
        if (r < 0)
                return verb_fail(&verb_delete, r, err);
        _cleanup_free_ char *status = NULL;
        r = container_status(&ct, &status);
        if (r == 0 && !force && (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0))
                r = error_set(&err, EBUSY, "cannot delete container %s that is not stopped: %s", id, status);
        if (r == 0)
                r = container_stop_sandbox(&ct, &err);
        if (r == 0) {
                /* poststop failures are logged, not fatal: the container is gone either way. */
                _cleanup_error_ cocoon_error *herr = NULL;
                if (container_run_hooks(&ct, HOOKS_POSTSTOP, &herr) < 0)
                        log_warn("delete: %s", herr ? herr->msg : "poststop hook failed");
                return container_destroy(&ct, &err) < 0 ? verb_fail(&verb_delete, -EIO, err) : 0;
        }
        container_close(&ct);
        return verb_fail(&verb_delete, r, err);
}

const struct verb verb_delete = {
        .name = "delete",
        .run = delete_main,
        .usage = "cocoon delete [--force|-f] ID\n"
                 "  Stops the container's VM and removes its state; --force also when it is running.",
};
