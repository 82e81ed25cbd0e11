/*
 * The spec's hooks that run on the host. Placeholder until the core parses
 * hooks: no hook runs yet.
 */
#include "runtime.h"

int container_run_hooks(const struct container *c, enum hooks_point point, cocoon_error **err)
{
        (void) c, (void) point, (void) err;
        return 0;
}
