/* cocoon pause / resume: the container's processes freeze in the guest (cgroup v2 freezer). */
#include <string.h>

#include "cleanup.h"
#include "runtime.h"

static int set_paused(const struct verb *v, struct runtime *rt, int argc, char **argv, bool paused)
{
        struct container c;
        int r = verb_open(v, rt, argc, argv, &c);
        if (r <= 0)
                return -r;
        _cleanup_error_ cocoon_error *err = NULL;
        static const char *const running[] = {"running", NULL}, *const frozen[] = {"paused", NULL};
        r = container_require_status(&c, paused ? running : frozen,
                                     paused ? "container not running" : "container not paused", &err);
        if (r == 0)
                r = sandbox_pause(c.sv_dir, c.st.id, paused, &err);
        container_close(&c);
        return r < 0 ? verb_fail(v, r, err) : 0;
}

static int pause_main(struct runtime *rt, int argc, char **argv)
{
        return set_paused(&verb_pause, rt, argc, argv, true);
}

static int resume_main(struct runtime *rt, int argc, char **argv)
{
        return set_paused(&verb_resume, rt, argc, argv, false);
}

const struct verb verb_pause = {
        .name = "pause",
        .run = pause_main,
        .usage = "cocoon pause ID\n  Freezes every process of the container (in the guest; the VM keeps running).",
};

const struct verb verb_resume = {
        .name = "resume",
        .run = resume_main,
        .usage = "cocoon resume ID\n  Thaws a paused container.",
};
