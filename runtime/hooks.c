/*
 * The spec's hooks that run on the host: prestart, createRuntime and
 * createContainer once the container exists in the guest, poststart after
 * start, poststop at delete. Their programs are host programs, so they run
 * here, with the state document on stdin (the pid in it is the stub's, the
 * host process that stands for the container). startContainer hooks run in
 * the guest, inside the container, as the runtime-spec resolves their path
 * there (core/container.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsutil.h"
#include "hooks.h"
#include "runtime.h"

int container_run_hooks(const struct container *c, enum hooks_point point, cocoon_error **err)
{
        static const struct {
                enum spec_hook_kind kinds[3];
                size_t n;
                const char *status;
        } points[] = {
                [HOOKS_CREATE] = {{SPEC_HOOK_PRESTART, SPEC_HOOK_CREATE_RUNTIME, SPEC_HOOK_CREATE_CONTAINER}, 3, "creating"},
                [HOOKS_POSTSTART] = {{SPEC_HOOK_POSTSTART}, 1, "running"},
                [HOOKS_POSTSTOP] = {{SPEC_HOOK_POSTSTOP}, 1, "stopped"},
        };
        _cleanup_spec_ struct oci_spec *spec = NULL;
        int r = container_load_spec(c, &spec, err);
        if (r < 0)
                return error_wrap(err, r, "reading the hooks");
        size_t total = 0;
        for (size_t i = 0; i < points[point].n; i++)
                total += spec->hooks[points[point].kinds[i]].n;
        if (total == 0)
                return 0;

        spec->id = strdup(c->st.id);
        spec->bundle = strdup(c->st.bundle);
        _cleanup_free_ char *state = spec->id && spec->bundle
                                             ? hooks_state_json(spec, points[point].status, c->st.pid)
                                             : NULL;
        if (!state)
                return -ENOMEM;
        for (size_t i = 0; i < points[point].n; i++) {
                enum spec_hook_kind k = points[point].kinds[i];
                r = hooks_run(spec->hooks[k].list, spec->hooks[k].n, state, spec_hook_kind_names[k], err);
                if (r < 0)
                        return r;
        }
        return 0;
}
