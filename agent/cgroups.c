/*
 * The containers' cgroup v2 directories in the guest. Placeholder: the
 * cgroup work (resources, freezer, stats, OOM) lands here; until then every
 * operation reports that it is not supported, and setup is a no-op so that
 * containers still run.
 */
#include <errno.h>

#include "agent.h"

int cgroups_setup(struct agent *a, struct guest_container *c, int *ret_fd, cocoon_error **err)
{
        (void) a, (void) c, (void) err;
        *ret_fd = -1;
        return 0;
}

int cgroups_open(struct guest_container *c, cocoon_error **err)
{
        (void) c, (void) err;
        return -1;
}

void cgroups_remove(struct agent *a, struct guest_container *c)
{
        (void) a, (void) c;
}

int cgroups_freeze(struct guest_container *c, bool frozen, cocoon_error **err)
{
        (void) c, (void) frozen;
        return error_set(err, ENOTSUP, "pausing containers is not supported yet");
}

int cgroups_pids(struct guest_container *c, pid_t **ret, size_t *ret_n, cocoon_error **err)
{
        (void) c, (void) ret, (void) ret_n;
        return error_set(err, ENOTSUP, "listing processes is not supported yet");
}

int cgroups_stats(struct guest_container *c, Cocoon__StatsContainerResponse *ret, cocoon_error **err)
{
        (void) c, (void) ret;
        return error_set(err, ENOTSUP, "statistics are not supported yet");
}

void cgroups_stats_free(Cocoon__StatsContainerResponse *s)
{
        (void) s;
}

int cgroups_update(struct guest_container *c, const char *resources_json, cocoon_error **err)
{
        (void) c, (void) resources_json;
        return error_set(err, ENOTSUP, "updating resources is not supported yet");
}

int cgroups_signal_all(struct guest_container *c, int sig, cocoon_error **err)
{
        (void) c, (void) sig;
        return error_set(err, ENOTSUP, "kill --all is not supported yet");
}
