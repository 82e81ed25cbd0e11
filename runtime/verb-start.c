/* cocoon start: releases a created container's process. */
#include <string.h>

#include "cleanup.h"
#include "runtime.h"

static int start_main(struct runtime *rt, int argc, char **argv)
{
        struct container c;
        int r = verb_open(&verb_start, rt, argc, argv, &c);
        if (r <= 0)
                return -r;
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_free_ char *status = NULL;
        r = container_status(&c, &status);
        if (r == 0 && strcmp(status, "created") != 0)
                r = error_set(&err, EINVAL, "%s", strcmp(status, "stopped") == 0
                                                          ? "cannot start a container that has stopped"
                                                          : "cannot start an already running container");
        if (r == 0) {
                r = container_started(&c, sandbox_start(c.sv_dir, c.st.id, &err), &err);
        }
        container_close(&c);
        return r < 0 ? verb_fail(&verb_start, r, err) : 0;
}

const struct verb verb_start = {
        .name = "start",
        .run = start_main,
        .usage = "cocoon start ID\n  Starts the process of a created container.",
};
