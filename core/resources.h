/*
 * The runtime-spec's linux.resources object: parsed into a struct, and
 * turned into the cgroup v2 file writes that runc makes for it.
 *
 * Parsing keeps what the spec says (cgroup v1 units: cpu shares, blkio
 * weights, memory+swap); the conversion to cgroup v2 values happens in
 * resources_v2_writes(), so that the host runtime on a v1 host could use the
 * same struct. Device rules are not files in cgroup v2: cgroup_devices.h
 * turns them into an eBPF program.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json.h"

/* "no limit" for memory and pids, as the spec writes it. */
#define RESOURCES_UNLIMITED (-1)

struct resources_device_rule {
        bool allow;
        char type;      /* 'a' (all), 'c' or 'b' */
        int64_t major;  /* -1: any */
        int64_t minor;  /* -1: any */
        unsigned access; /* RESOURCES_DEV_* bits */
};
#define RESOURCES_DEV_MKNOD 1u
#define RESOURCES_DEV_READ 2u
#define RESOURCES_DEV_WRITE 4u
#define RESOURCES_DEV_ALL 7u

/* A per-device io setting: a weight (weightDevice) or a rate (throttle*). */
struct resources_io_device {
        int64_t major, minor;
        uint64_t value;
};

enum resources_throttle { THROTTLE_READ_BPS, THROTTLE_WRITE_BPS, THROTTLE_READ_IOPS, THROTTLE_WRITE_IOPS, THROTTLE_N };

struct resources_kv {
        char *key;
        char *value;
};

struct resources {
        struct {
                bool has_limit, has_reservation, has_swap;
                int64_t limit, reservation, swap; /* bytes; -1: unlimited; swap is memory+swap */
        } memory;
        struct {
                bool has_shares, has_quota, has_period, has_burst, has_idle;
                uint64_t shares, period, burst;
                int64_t quota, idle;
                char *cpus, *mems; /* NULL when not set */
        } cpu;
        struct {
                bool has_limit;
                int64_t limit; /* <= 0: unlimited */
        } pids;
        struct {
                bool has_weight;
                uint16_t weight; /* blkio scale, 10..1000 */
                struct resources_io_device *weight_devices;
                size_t n_weight_devices;
                struct resources_io_device *throttle[THROTTLE_N];
                size_t n_throttle[THROTTLE_N];
        } block_io;
        struct resources_kv *hugepages; /* pageSize ("2MB") -> limit in bytes */
        size_t n_hugepages;
        struct resources_kv *unified; /* cgroup v2 file -> value, written as is */
        size_t n_unified;
        bool has_devices;
        struct resources_device_rule *devices;
        size_t n_devices;
};

/*
 * Parses a linux.resources object from a yajl tree (NULL: an empty struct).
 * path names the object in messages ("linux.resources" in config.json, ""
 * for `update --resources`), so errors read "linux.resources.memory.limit:
 * expected an integer ...".
 */
int resources_parse_tree(yajl_val obj, const char *path, struct resources **ret, cocoon_error **err);
/* The same from standalone JSON text (what `runc update --resources` reads). */
int resources_parse(const char *json, size_t len, struct resources **ret, cocoon_error **err);
void resources_free(struct resources *r);
static inline void resources_freep(struct resources **r) { resources_free(*r); }
#define _cleanup_resources_ __attribute__((cleanup(resources_freep)))

/* One write into a cgroup v2 directory, and the spec field it comes from. */
struct cgroup_write {
        char *file;  /* "memory.max" */
        char *value; /* "1048576" */
        char *field; /* "linux.resources.memory.limit" */
};

/*
 * The cgroup v2 writes for r, in the order runc makes them, with runc's
 * conversions: shares -> cpu.weight, blkio weight -> io.weight, memory+swap
 * -> memory.swap.max (swap - limit), quota/period -> cpu.max. path prefixes
 * the field names as in resources_parse_tree(). Inconsistent values (swap
 * below the limit, swap without a limit) are errors naming the field.
 */
int resources_v2_writes(const struct resources *r, const char *path, struct cgroup_write **ret, size_t *ret_n,
                        cocoon_error **err);
void cgroup_writes_free(struct cgroup_write *w, size_t n);

/* The conversions, exposed for tests and for the host runtime. */
uint64_t resources_shares_to_weight(uint64_t shares);
uint64_t resources_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max for the spec's memory+swap value; -1 is "max". */
int resources_swap_v2(int64_t swap, int64_t limit, int64_t *ret);

/*
 * The rules the container gets: the spec's rules followed by the devices
 * every container may use (null, zero, full, random, urandom, tty, ptmx,
 * pts, and mknod of any node), as runc appends them. Evaluated in order, the
 * last matching rule decides; nothing matches: allowed (as in cgroup v1).
 */
int resources_device_rules(const struct resources *r, struct resources_device_rule **ret, size_t *ret_n);
