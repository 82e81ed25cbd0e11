/*
 * cgroup v2 operations on a unified hierarchy: create a directory with its
 * controllers enabled, apply linux.resources, freeze, list, signal, read
 * statistics, remove. The agent uses them on the guest's /sys/fs/cgroup;
 * nothing here assumes a VM, so the host runtime can use them on a v2 host.
 *
 * Directories are absolute paths. Errors name the cgroup file, and the spec
 * field when a write comes from one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "resources.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* True when root is a cgroup v2 mount. */
bool cgroup_is_v2(const char *root);

/*
 * The container's cgroup below the root, as a relative path without ".."
 * components: linux.cgroupsPath when set ("/a/b" and "a/b" alike; systemd's
 * "slice:prefix:name" becomes "slice's path/prefix-name.scope" as systemd
 * would lay it out), else "<default_parent>/<id>".
 */
int cgroup_path_for(const char *cgroups_path, const char *default_parent, const char *id, char **ret,
                    cocoon_error **err);

/*
 * Creates root/rel and its missing parents, enabling in the root and every
 * ancestor's cgroup.subtree_control each controller of cpu, cpuset, io,
 * memory, pids, hugetlb and misc that the root offers, so that the new
 * directory has their files. *ret gets the absolute path. Creating a
 * directory that exists is not an error (a pod's containers share parents).
 */
int cgroup_create(const char *root, const char *rel, char **ret, cocoon_error **err);

/* Writes value into dir/file; errors read "writing 42 to memory.max: ...". */
int cgroup_write(const char *dir, const char *file, const char *value, cocoon_error **err);

/*
 * Applies resources: every file write (see resources_v2_writes(); path
 * names the object in messages, as there) and, when r has device rules or
 * always_devices is set, the device program. A write that fails names the file
 * and the field: "linux.resources.memory.limit: writing 1x to memory.max:
 * Invalid argument". A file whose controller is missing is ENOTSUP.
 */
int cgroup_apply(const char *dir, const struct resources *r, const char *path, bool always_devices,
                 cocoon_error **err);

/*
 * Freezes (or thaws) every process below dir and waits until cgroup.events
 * says "frozen 1" (or 0), at most timeout_ms.
 */
int cgroup_freeze(const char *dir, bool frozen, int timeout_ms, cocoon_error **err);

/* The pids in dir and its descendants, malloc'd (may be empty). */
int cgroup_pids(const char *dir, pid_t **ret, size_t *ret_n, cocoon_error **err);

/*
 * Sends sig to every process below dir. SIGKILL goes through cgroup.kill
 * where the kernel has it (one write, no race with forks, frozen processes
 * included); other signals go to each pid of cgroup.procs.
 */
int cgroup_signal_all(const char *dir, int sig, cocoon_error **err);

/*
 * Removes dir and the cgroups below it, killing what still runs there and
 * retrying while the processes exit (at most about a second). A missing
 * dir is not an error.
 */
int cgroup_remove(const char *dir, cocoon_error **err);

/* A "key value" line of a flat keyed file (cpu.stat, memory.events); -ENOENT when absent. */
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret);
/* A single number; "max" reads as 0 (no limit). */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret);

struct cgroup_stat_entry {
        char *name;
        uint64_t value;
};

/* Statistics as the kernel reports them; a value whose file is absent is 0. */
struct cgroup_stats {
        uint64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec;
        uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_usec;
        uint64_t memory_current, memory_max, memory_peak; /* max 0: no limit */
        uint64_t memory_swap_current, memory_swap_max;
        uint64_t memory_oom_kills;
        struct cgroup_stat_entry *memory_stat;
        size_t n_memory_stat;
        uint64_t pids_current, pids_max;
};

int cgroup_stats(const char *dir, struct cgroup_stats *ret, cocoon_error **err);
void cgroup_stats_release(struct cgroup_stats *s);

/*
 * cgroup-devices.c: device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program.
 * The program checks the rules from last to first and returns the first
 * match's verdict (so the last matching rule decides, as in the spec);
 * no match allows.
 */
struct bpf_insn;
int cgroup_devices_program(const struct resources_device_rule *rules, size_t n, struct bpf_insn **ret,
                           size_t *ret_n);
/* Loads the program and makes it the only device program of dir. */
int cgroup_devices_apply(const char *dir, const struct resources_device_rule *rules, size_t n, cocoon_error **err);
