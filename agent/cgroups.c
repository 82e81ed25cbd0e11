/*
 * The containers' cgroup v2 directories in the guest: created before the
 * container's init (which is cloned straight into it), given the spec's
 * linux.resources, frozen, listed, signalled and measured, and watched for
 * OOM kills. The generic work is core/cgroup.c; this file ties it to the
 * container table and the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent.h"
#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"

/* Where containers without linux.cgroupsPath go, one directory per id. */
#define DEFAULT_PARENT "cocoon"
/* How long pause and resume wait for the kernel to report the cgroup frozen or thawed. */
#define FREEZE_TIMEOUT_MS 10000

static int no_cgroup(cocoon_error **err)
{
        return error_set(err, ENOTSUP, "the container has no cgroup (the guest has no cgroup v2)");
}

/* Compares memory.events oom_kill with what was last seen; queues an OOM event when it went up. */
void cgroups_check_oom(struct agent *a, struct guest_container *c)
{
        uint64_t kills;
        if (!c->cgroup || cgroup_read_keyed(c->cgroup, "memory.events", "oom_kill", &kills) < 0 ||
            kills <= c->oom_kills)
                return;
        c->oom_kills = kills;
        /* On the guest console (cocoon --debug), next to the kernel's own OOM report. */
        fprintf(stderr, "cocoon-agent: %s: OOM kill (memory.events oom_kill %llu)\n", c->id, (unsigned long long) kills);
        if (a->conn_up && msg_queue_oom(&a->conn, c->id) < 0)
                fprintf(stderr, "cocoon-agent: %s: cannot queue the OOM event, ignoring\n", c->id);
}

static int on_memory_events(struct watch *w, uint32_t events)
{
        struct guest_container *c = w->data;
        struct agent *a = c->init.agent;
        (void) events;
        /* The events only say "modified"; drain them and read the file. */
        char buf[4096];
        while (read(c->oom_watch_fd, buf, sizeof(buf)) > 0)
                ;
        cgroups_check_oom(a, c);
        transport_kick(a);
        return 0;
}

static int watch_oom(struct agent *a, struct guest_container *c, cocoon_error **err)
{
        _cleanup_free_ char *events = path_join(c->cgroup, "memory.events");
        if (!events)
                return -ENOMEM;
        if (access(events, F_OK) < 0)
                return 0; /* no memory controller: nothing to watch */
        (void) cgroup_read_keyed(c->cgroup, "memory.events", "oom_kill", &c->oom_kills);
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "inotify");
        if (inotify_add_watch(fd, events, IN_MODIFY) < 0)
                return error_sys(err, errno, "watching %s", events);
        int r = loop_add(a->loop, fd, EPOLLIN, on_memory_events, c, &c->oom_watch);
        if (r < 0)
                return error_sys(err, -r, "watching %s", events);
        c->oom_watch_fd = TAKE_FD(fd);
        return 0;
}

int cgroups_setup(struct agent *a, struct guest_container *c, int *ret_fd, cocoon_error **err)
{
        *ret_fd = -1;
        if (!cgroup_is_v2(CGROUP_ROOT))
                return 0;
        _cleanup_free_ char *rel = NULL;
        int r = cgroup_path_for(c->spec->cgroups_path, DEFAULT_PARENT, c->id, &rel, err);
        if (r < 0)
                return r;
        r = cgroup_create(CGROUP_ROOT, rel, &c->cgroup, err);
        if (r < 0)
                return error_wrap(err, r, "cgroup %s", rel);
        /* Two containers in one cgroup would share limits and kill each other on removal. */
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        r = cgroup_pids(c->cgroup, &pids, &n, err);
        if (r < 0)
                return r;
        if (n > 0) {
                free(TAKE_PTR(c->cgroup)); /* not ours to remove */
                return error_set(err, EBUSY, "cgroup %s is in use by another container", rel);
        }
        if (c->spec->resources) {
                /* Only the spec's rules and runc's standard devices: linux.devices gets no rule of its own, as with runc. */
                r = cgroup_apply(c->cgroup, c->spec->resources, "linux.resources", false, err);
                if (r < 0)
                        return r;
        }
        r = watch_oom(a, c, err);
        if (r < 0)
                return r;
        *ret_fd = open(c->cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (*ret_fd < 0)
                return error_sys(err, errno, "opening %s", c->cgroup);
        return 0;
}

int cgroups_open(struct guest_container *c, int *ret_fd, cocoon_error **err)
{
        *ret_fd = -1;
        if (!c->cgroup)
                return 0;
        int fd = open(c->cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening %s", c->cgroup);
        *ret_fd = fd;
        return 0;
}

void cgroups_remove(struct agent *a, struct guest_container *c)
{
        (void) a;
        if (c->oom_watch) {
                loop_remove(c->oom_watch);
                c->oom_watch = NULL;
        }
        if (c->oom_watch_fd >= 0) {
                close(c->oom_watch_fd);
                c->oom_watch_fd = -1;
        }
        if (!c->cgroup)
                return;
        _cleanup_error_ cocoon_error *err = NULL;
        if (cgroup_remove(c->cgroup, &err) < 0)
                fprintf(stderr, "cocoon-agent: %s: %s, ignoring\n", c->id, err ? err->msg : "removing the cgroup");
        free(TAKE_PTR(c->cgroup));
}

int cgroups_enter(struct guest_container *c, pid_t pid, cocoon_error **err)
{
        if (!c->cgroup)
                return 0;
        char value[16];
        snprintf(value, sizeof(value), "%d", (int) pid);
        return cgroup_write(c->cgroup, "cgroup.procs", value, err);
}

int cgroups_freeze(struct guest_container *c, bool frozen, cocoon_error **err)
{
        if (!c->cgroup)
                return no_cgroup(err);
        int r = cgroup_freeze(c->cgroup, frozen, FREEZE_TIMEOUT_MS, err);
        if (r < 0 && frozen)
                (void) cgroup_write(c->cgroup, "cgroup.freeze", "0", NULL); /* not half paused */
        return r;
}

int cgroups_pids(struct guest_container *c, pid_t **ret, size_t *ret_n, cocoon_error **err)
{
        if (!c->cgroup)
                return no_cgroup(err);
        return cgroup_pids(c->cgroup, ret, ret_n, err);
}

int cgroups_stats(struct guest_container *c, Cocoon__StatsContainerResponse *ret, cocoon_error **err)
{
        if (!c->cgroup)
                return no_cgroup(err);
        struct cgroup_stats s;
        int r = cgroup_stats(c->cgroup, &s, err);
        if (r < 0)
                return r;
        ret->cpu_usage_ns = s.cpu_usage_usec * 1000;
        ret->cpu_user_ns = s.cpu_user_usec * 1000;
        ret->cpu_system_ns = s.cpu_system_usec * 1000;
        ret->cpu_periods = s.cpu_nr_periods;
        ret->cpu_throttled_periods = s.cpu_nr_throttled;
        ret->cpu_throttled_ns = s.cpu_throttled_usec * 1000;
        ret->memory_usage = s.memory_current;
        ret->memory_limit = s.memory_max;
        ret->memory_max_usage = s.memory_peak;
        ret->memory_swap_usage = s.memory_swap_current;
        ret->memory_swap_limit = s.memory_swap_max;
        ret->memory_oom_kills = s.memory_oom_kills;
        ret->pids_current = s.pids_current;
        ret->pids_limit = s.pids_max;
        if (s.n_memory_stat > 0) {
                /* One array of entries and one of pointers to them; the names move over from s. */
                ret->memory_stat = calloc(s.n_memory_stat, sizeof(*ret->memory_stat));
                Cocoon__StatEntry *entries = calloc(s.n_memory_stat, sizeof(*entries));
                if (!ret->memory_stat || !entries) {
                        free(ret->memory_stat);
                        ret->memory_stat = NULL;
                        free(entries);
                        cgroup_stats_release(&s);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < s.n_memory_stat; i++) {
                        cocoon__stat_entry__init(&entries[i]);
                        entries[i].name = TAKE_PTR(s.memory_stat[i].name);
                        entries[i].value = s.memory_stat[i].value;
                        ret->memory_stat[i] = &entries[i];
                }
        }
        ret->n_memory_stat = s.n_memory_stat;
        cgroup_stats_release(&s);
        return 0;
}

void cgroups_stats_free(Cocoon__StatsContainerResponse *s)
{
        if (!s->memory_stat)
                return;
        for (size_t i = 0; i < s->n_memory_stat; i++)
                free(s->memory_stat[i]->name);
        free(s->memory_stat[0]); /* the entries' array */
        free(s->memory_stat);
        s->memory_stat = NULL;
        s->n_memory_stat = 0;
}

int cgroups_update(struct guest_container *c, const char *resources_json, cocoon_error **err)
{
        if (!c->cgroup)
                return no_cgroup(err);
        _cleanup_resources_ struct resources *res = NULL;
        int r = resources_parse(resources_json, strlen(resources_json), &res, err);
        if (r < 0)
                return error_wrap(err, r, "resources");
        return cgroup_apply(c->cgroup, res, "", false, err);
}

int cgroups_signal_all(struct guest_container *c, int sig, cocoon_error **err)
{
        if (!c->cgroup)
                return no_cgroup(err);
        return cgroup_signal_all(c->cgroup, sig, err);
}
