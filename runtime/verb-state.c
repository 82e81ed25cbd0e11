/* cocoon state: runc's state document. */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "runtime.h"

static int state_main(struct runtime *rt, int argc, char **argv)
{
        struct container c;
        int r = verb_open(&verb_state, rt, argc, argv, &c);
        if (r <= 0)
                return -r;
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_free_ char *status = NULL, *text = NULL;
        r = container_status(&c, &status);
        if (r == 0)
                r = state_format(&c.st, status, true, &text, &err);
        container_close(&c);
        if (r < 0)
                return verb_fail(&verb_state, r, err);
        printf("%s\n", text);
        return 0;
}

const struct verb verb_state = {
        .name = "state",
        .run = state_main,
        .usage = "cocoon state ID\n  Prints the container's state as JSON (status created, running, paused or stopped).",
};
