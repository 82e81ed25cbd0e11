/* linux.resources: parsing, and the cgroup v2 values runc writes for it. */
#include "resources.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static int oom(cocoon_error **err) { return error_set(err, ENOMEM, "out of memory"); }

/* "path.key" for messages and for cgroup_write.field; malloc'd. */
static char *field_name(const char *path, const char *key)
{
        char *s = NULL;
        if (asprintf(&s, "%s%s%s", path, json_dot(path), key) < 0)
                return NULL;
        return s;
}

/* A signed whole number in [min, max], read as json_parse_int reads one (as Go's decoder reads int64). */
static int parse_int(yajl_val v, int64_t min, int64_t max, const char *path, const char *key, int64_t *ret,
                     cocoon_error **err)
{
        long long n;
        int r = json_parse_int(v, min, max, path, key, &n, err);
        if (r == 0)
                *ret = n;
        return r;
}

/* Optional members: *has stays false when absent or null. */
static int get_int(yajl_val obj, const char *path, const char *key, int64_t min, int64_t max, bool *has, int64_t *ret,
                   cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return 0;
        int r = parse_int(v, min, max, path, key, ret, err);
        if (r == 0)
                *has = true;
        return r;
}

static int get_uint(yajl_val obj, const char *path, const char *key, unsigned long long max, bool *has, uint64_t *ret,
                    cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return 0;
        unsigned long long n;
        int r = json_parse_uint(v, max, path, key, &n, err);
        if (r == 0) {
                *ret = n;
                *has = true;
        }
        return r;
}

/* An optional array member; NULL when absent. */
static int get_array(yajl_val obj, const char *path, const char *key, yajl_val *ret, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (v && !YAJL_IS_ARRAY(v))
                return json_field_error(err, path, key, "expected an array, got %s", json_type_name(v));
        *ret = v;
        return 0;
}

/* The i-th element of an array of objects, with its own path "path.key[i]" in *elem_path. */
static int array_object(yajl_val arr, size_t i, const char *path, const char *key, char **elem_path, yajl_val *ret,
                        cocoon_error **err)
{
        yajl_val e = arr->u.array.values[i];
        if (asprintf(elem_path, "%s%s%s[%zu]", path, json_dot(path), key, i) < 0) {
                *elem_path = NULL;
                return oom(err);
        }
        if (!YAJL_IS_OBJECT(e))
                return error_set(err, EINVAL, "%s: expected an object, got %s", *elem_path, json_type_name(e));
        *ret = e;
        return 0;
}

/* ---- memory, cpu, pids ---- */

static int parse_memory(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val m;
        int r = json_get_object(res, path, "memory", &m, err);
        if (r < 0 || !m)
                return r;
        _cleanup_free_ char *p = field_name(path, "memory");
        if (!p)
                return oom(err);
        /* Kernel memory, swappiness and the OOM killer switch have no cgroup v2 file; runc ignores them too. */
        if ((r = get_int(m, p, "limit", -1, INT64_MAX, &out->memory.has_limit, &out->memory.limit, err)) < 0 ||
            (r = get_int(m, p, "reservation", -1, INT64_MAX, &out->memory.has_reservation, &out->memory.reservation,
                         err)) < 0 ||
            (r = get_int(m, p, "swap", -1, INT64_MAX, &out->memory.has_swap, &out->memory.swap, err)) < 0)
                return r;
        return 0;
}

static int parse_cpu(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val c;
        int r = json_get_object(res, path, "cpu", &c, err);
        if (r < 0 || !c)
                return r;
        _cleanup_free_ char *p = field_name(path, "cpu");
        if (!p)
                return oom(err);
        if ((r = get_uint(c, p, "shares", UINT64_MAX, &out->cpu.has_shares, &out->cpu.shares, err)) < 0 ||
            (r = get_int(c, p, "quota", INT64_MIN, INT64_MAX, &out->cpu.has_quota, &out->cpu.quota, err)) < 0 ||
            (r = get_uint(c, p, "period", UINT64_MAX, &out->cpu.has_period, &out->cpu.period, err)) < 0 ||
            (r = get_uint(c, p, "burst", UINT64_MAX, &out->cpu.has_burst, &out->cpu.burst, err)) < 0 ||
            (r = get_int(c, p, "idle", INT64_MIN, INT64_MAX, &out->cpu.has_idle, &out->cpu.idle, err)) < 0 ||
            (r = json_get_string(c, p, "cpus", false, &out->cpu.cpus, err)) < 0 ||
            (r = json_get_string(c, p, "mems", false, &out->cpu.mems, err)) < 0)
                return r;
        /* The kernel takes only a list of numbers and ranges; anything else would be a confusing EINVAL later. */
        const char *lists[] = {out->cpu.cpus, out->cpu.mems};
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                if (lists[i] && lists[i][strspn(lists[i], "0123456789,- ")] != '\0')
                        return json_field_error(err, p, i == 0 ? "cpus" : "mems",
                                                "expected a list such as \"0-2,4\", got \"%.64s\"", lists[i]);
        return 0;
}

static int parse_pids(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val v;
        int r = json_get_object(res, path, "pids", &v, err);
        if (r < 0 || !v)
                return r;
        _cleanup_free_ char *p = field_name(path, "pids");
        if (!p)
                return oom(err);
        r = get_int(v, p, "limit", INT64_MIN, INT64_MAX, &out->pids.has_limit, &out->pids.limit, err);
        if (r < 0)
                return r;
        if (!out->pids.has_limit)
                return json_field_error(err, p, "limit", "required field is missing");
        return 0;
}

/* ---- blockIO ---- */

/* major and minor of a device entry: both required. */
static int parse_dev_numbers(yajl_val e, const char *p, int64_t *major, int64_t *minor, cocoon_error **err)
{
        bool has_major = false, has_minor = false;
        int r;
        if ((r = get_int(e, p, "major", 0, UINT32_MAX, &has_major, major, err)) < 0 ||
            (r = get_int(e, p, "minor", 0, UINT32_MAX, &has_minor, minor, err)) < 0)
                return r;
        if (!has_major || !has_minor)
                return json_field_error(err, p, has_major ? "minor" : "major", "required field is missing");
        return 0;
}

static int parse_io_devices(yajl_val bio, const char *path, const char *key, const char *value_key,
                            unsigned long long max, struct resources_io_device **ret, size_t *ret_n,
                            cocoon_error **err)
{
        yajl_val arr;
        int r = get_array(bio, path, key, &arr, err);
        if (r < 0 || !arr)
                return r;
        size_t n = arr->u.array.len;
        *ret = calloc(n ? n : 1, sizeof(**ret));
        if (!*ret)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                yajl_val e;
                struct resources_io_device *d = &(*ret)[i];
                bool has_value = false;
                if ((r = array_object(arr, i, path, key, &p, &e, err)) < 0 ||
                    (r = parse_dev_numbers(e, p, &d->major, &d->minor, err)) < 0 ||
                    (r = get_uint(e, p, value_key, max, &has_value, &d->value, err)) < 0)
                        return r;
                /* A weightDevice may carry only a leafWeight, which cgroup v2 does not have. */
                if (!has_value && strcmp(value_key, "rate") == 0)
                        return json_field_error(err, p, value_key, "required field is missing");
                *ret_n = i + 1;
        }
        return 0;
}

static int parse_block_io(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        static const char *const throttle_keys[THROTTLE_N] = {
                [THROTTLE_READ_BPS] = "throttleReadBpsDevice", [THROTTLE_WRITE_BPS] = "throttleWriteBpsDevice",
                [THROTTLE_READ_IOPS] = "throttleReadIOPSDevice", [THROTTLE_WRITE_IOPS] = "throttleWriteIOPSDevice"};
        yajl_val b;
        int r = json_get_object(res, path, "blockIO", &b, err);
        if (r < 0 || !b)
                return r;
        _cleanup_free_ char *p = field_name(path, "blockIO");
        if (!p)
                return oom(err);
        int64_t w = 0;
        if ((r = get_int(b, p, "weight", 10, 1000, &out->block_io.has_weight, &w, err)) < 0)
                return r;
        out->block_io.weight = (uint16_t) w;
        r = parse_io_devices(b, p, "weightDevice", "weight", 1000, &out->block_io.weight_devices,
                             &out->block_io.n_weight_devices, err);
        for (int t = 0; r >= 0 && t < THROTTLE_N; t++)
                r = parse_io_devices(b, p, throttle_keys[t], "rate", UINT64_MAX, &out->block_io.throttle[t],
                                     &out->block_io.n_throttle[t], err);
        return r;
}

/* ---- hugepageLimits, unified ---- */

static int parse_hugepages(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val arr;
        int r = get_array(res, path, "hugepageLimits", &arr, err);
        if (r < 0 || !arr)
                return r;
        size_t n = arr->u.array.len;
        out->hugepages = calloc(n ? n : 1, sizeof(*out->hugepages));
        if (!out->hugepages)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                yajl_val e;
                struct resources_kv *kv = &out->hugepages[i];
                uint64_t limit = 0;
                bool has_limit = false;
                if ((r = array_object(arr, i, path, "hugepageLimits", &p, &e, err)) < 0 ||
                    (r = json_get_string(e, p, "pageSize", true, &kv->key, err)) < 0)
                        return r;
                out->n_hugepages = i + 1;
                /* "2MB", "1GB": it becomes part of a file name. */
                size_t digits = strspn(kv->key, "0123456789");
                if (digits == 0 || !strchr("KMG", kv->key[digits]) || strcmp(kv->key + digits + 1, "B") != 0)
                        return json_field_error(err, p, "pageSize", "expected a size such as \"2MB\", got \"%.32s\"",
                                                kv->key);
                if ((r = get_uint(e, p, "limit", UINT64_MAX, &has_limit, &limit, err)) < 0)
                        return r;
                if (!has_limit)
                        return json_field_error(err, p, "limit", "required field is missing");
                if (asprintf(&kv->value, "%" PRIu64, limit) < 0) {
                        kv->value = NULL;
                        return oom(err);
                }
        }
        return 0;
}

/* A cgroup v2 interface file name: "controller.something", no path. */
static bool unified_key_valid(const char *k)
{
        const char *dot = strchr(k, '.');
        return dot && dot != k && dot[1] && !strchr(k, '/') && strcmp(k, "cgroup.procs") != 0 &&
               strcmp(k, "cgroup.threads") != 0 && strcmp(k, "cgroup.subtree_control") != 0;
}

static int parse_unified(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val u;
        int r = json_get_object(res, path, "unified", &u, err);
        if (r < 0 || !u)
                return r;
        _cleanup_free_ char *p = field_name(path, "unified");
        if (!p)
                return oom(err);
        size_t n = u->u.object.len;
        out->unified = calloc(n ? n : 1, sizeof(*out->unified));
        if (!out->unified)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                const char *k = u->u.object.keys[i];
                yajl_val v = u->u.object.values[i];
                if (!unified_key_valid(k))
                        return json_field_error(err, p, k, "not a cgroup v2 file this runtime may write");
                if (!YAJL_IS_STRING(v))
                        return json_field_error(err, p, k, "expected a string, got %s", json_type_name(v));
                out->unified[i].key = strdup(k);
                out->unified[i].value = strdup(v->u.string);
                out->n_unified = i + 1;
                if (!out->unified[i].key || !out->unified[i].value)
                        return oom(err);
        }
        return 0;
}

/* ---- devices ---- */

static int parse_access(const char *s, unsigned *ret)
{
        unsigned a = 0;
        for (; *s; s++) {
                const char *at = strchr("mrw", *s);
                if (!at)
                        return -EINVAL;
                a |= 1u << (at - "mrw");
        }
        *ret = a;
        return 0;
}

static int parse_device_rule(yajl_val e, const char *p, struct resources_device_rule *d, cocoon_error **err)
{
        _cleanup_free_ char *type = NULL, *access = NULL;
        yajl_val allow = json_get(e, "allow");
        if (!allow)
                return json_field_error(err, p, "allow", "required field is missing");
        int r = json_get_bool(e, p, "allow", &d->allow, err);
        if (r < 0 || (r = json_get_string(e, p, "type", false, &type, err)) < 0 ||
            (r = json_get_string(e, p, "access", false, &access, err)) < 0)
                return r;
        d->type = type ? type[0] : 'a';
        if (type && (strlen(type) != 1 || !strchr("acbu", d->type)))
                return json_field_error(err, p, "type", "expected \"a\", \"c\", \"b\" or \"u\", got \"%.16s\"", type);
        if (d->type == 'u') /* unbuffered character devices are character devices */
                d->type = 'c';
        d->access = RESOURCES_DEV_ALL;
        if (access && parse_access(access, &d->access) < 0)
                return json_field_error(err, p, "access", "expected letters of \"rwm\", got \"%.16s\"", access);
        bool has = false;
        d->major = d->minor = -1;
        if ((r = get_int(e, p, "major", -1, UINT32_MAX, &has, &d->major, err)) < 0 ||
            (r = get_int(e, p, "minor", -1, UINT32_MAX, &has, &d->minor, err)) < 0)
                return r;
        return 0;
}

static int parse_devices(yajl_val res, const char *path, struct resources *out, cocoon_error **err)
{
        yajl_val arr;
        int r = get_array(res, path, "devices", &arr, err);
        if (r < 0 || !arr)
                return r;
        size_t n = arr->u.array.len;
        out->has_devices = true;
        out->devices = calloc(n ? n : 1, sizeof(*out->devices));
        if (!out->devices)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                yajl_val e;
                if ((r = array_object(arr, i, path, "devices", &p, &e, err)) < 0 ||
                    (r = parse_device_rule(e, p, &out->devices[i], err)) < 0)
                        return r;
                out->n_devices = i + 1;
        }
        return 0;
}

int resources_parse_tree(yajl_val obj, const char *path, struct resources **ret, cocoon_error **err)
{
        _cleanup_resources_ struct resources *res = calloc(1, sizeof(*res));
        if (!res)
                return oom(err);
        if (obj && !YAJL_IS_OBJECT(obj))
                return error_set(err, EINVAL, "%s: expected an object, got %s", *path ? path : "resources",
                                 json_type_name(obj));
        int (*const parts[])(yajl_val, const char *, struct resources *, cocoon_error **) = {
                parse_memory, parse_cpu, parse_pids, parse_block_io, parse_hugepages, parse_unified, parse_devices};
        for (size_t i = 0; obj && i < ARRAY_SIZE(parts); i++) {
                int r = parts[i](obj, path, res, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(res);
        return 0;
}

int resources_parse(const char *json, size_t len, struct resources **ret, cocoon_error **err)
{
        _cleanup_json_ yajl_val top = NULL;
        int r = json_parse_object(json, len, &top, err);
        if (r < 0)
                return r;
        return resources_parse_tree(top, "", ret, err);
}

static void kv_free(struct resources_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

void resources_free(struct resources *r)
{
        if (!r)
                return;
        free(r->cpu.cpus);
        free(r->cpu.mems);
        free(r->block_io.weight_devices);
        for (int t = 0; t < THROTTLE_N; t++)
                free(r->block_io.throttle[t]);
        kv_free(r->hugepages, r->n_hugepages);
        kv_free(r->unified, r->n_unified);
        free(r->devices);
        free(r);
}

/* ---- conversions ---- */

/*
 * cgroup v1 shares span [2, 262144] (default 1024), v2 weights [1, 10000]
 * (default 100). runc >= 1.3.2 and crun >= 1.23 map them on a log scale
 * that sends 2, 1024 and 262144 to 1, 100 and 10000:
 * weight = ceil(10^((l^2 + 125 l) / 612 - 7/34)), l = log2(shares).
 * The older linear formula sent the default 1024 to 39, starving containers
 * next to anything at the v2 default.
 */
uint64_t resources_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0; /* not set */
        if (shares <= 2)
                return 1;
        if (shares >= 262144)
                return 10000;
        double l = log2((double) shares);
        double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
        /* exponent is exactly 2 for 1024 on paper; do not let rounding push 100 up to 101. */
        return (uint64_t) ceil(pow(10, exponent) - 1e-9);
}

/* blkio weights [10, 1000] onto io.weight's [1, 10000], linearly, as runc does. */
uint64_t resources_blkio_to_io_weight(uint64_t weight)
{
        if (weight == 0)
                return 0;
        return 1 + (weight - 10) * 9999 / 990;
}

/*
 * The spec's swap is memory+swap (cgroup v1's memsw); v2's memory.swap.max is
 * swap alone. Unlimited memory with swap unset means both unlimited.
 */
int resources_swap_v2(int64_t swap, int64_t limit, int64_t *ret)
{
        if (limit == -1 && swap == 0) {
                *ret = -1;
                return 0;
        }
        if (swap == -1 || swap == 0) {
                *ret = swap;
                return 0;
        }
        if (limit <= 0)
                return -ENOEXEC; /* swap without a memory limit */
        if (swap < limit)
                return -ERANGE;
        *ret = swap - limit;
        return 0;
}

struct writes {
        struct cgroup_write *w;
        size_t n, cap;
        const char *path;
};

static int add(struct writes *ws, const char *file, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int add(struct writes *ws, const char *file, const char *key, const char *fmt, ...)
{
        if (ws->n == ws->cap) {
                size_t cap = ws->cap ? 2 * ws->cap : 16;
                struct cgroup_write *w = realloc(ws->w, cap * sizeof(*w));
                if (!w)
                        return -ENOMEM;
                ws->w = w;
                ws->cap = cap;
        }
        struct cgroup_write *w = &ws->w[ws->n];
        *w = (struct cgroup_write) {.file = strdup(file), .field = field_name(ws->path, key)};
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&w->value, fmt, ap) < 0)
                w->value = NULL;
        va_end(ap);
        ws->n++; /* counted even when incomplete, so that it is freed */
        return w->file && w->field && w->value ? 0 : -ENOMEM;
}

/* "max" for the spec's "no limit" values. */
static const char *limit_str(int64_t v, char buf[static 24])
{
        if (v < 0)
                return "max";
        snprintf(buf, 24, "%" PRId64, v);
        return buf;
}

static int memory_writes(const struct resources *r, struct writes *ws, cocoon_error **err)
{
        char buf[24];
        int e;
        if (r->memory.has_swap) {
                int64_t swap;
                e = resources_swap_v2(r->memory.swap, r->memory.has_limit ? r->memory.limit : 0, &swap);
                if (e == -ENOEXEC)
                        return error_set(err, EINVAL, "%s%smemory.swap: a swap limit needs memory.limit", ws->path,
                                         json_dot(ws->path));
                if (e == -ERANGE)
                        return error_set(err, EINVAL, "%s%smemory.swap: memory+swap (%" PRId64
                                         ") is below memory.limit (%" PRId64 ")", ws->path, json_dot(ws->path),
                                         r->memory.swap, r->memory.limit);
                if (swap != 0 && (e = add(ws, "memory.swap.max", "memory.swap", "%s", limit_str(swap, buf))) < 0)
                        return e;
        } else if (r->memory.has_limit && r->memory.limit == -1) {
                if ((e = add(ws, "memory.swap.max", "memory.limit", "max")) < 0)
                        return e;
        }
        if (r->memory.has_limit && (e = add(ws, "memory.max", "memory.limit", "%s", limit_str(r->memory.limit, buf))) < 0)
                return e;
        if (r->memory.has_reservation &&
            (e = add(ws, "memory.low", "memory.reservation", "%s", limit_str(r->memory.reservation, buf))) < 0)
                return e;
        return 0;
}

static int cpu_writes(const struct resources *r, struct writes *ws)
{
        char buf[24];
        int e;
        if (r->cpu.has_shares && r->cpu.shares &&
            (e = add(ws, "cpu.weight", "cpu.shares", "%" PRIu64, resources_shares_to_weight(r->cpu.shares))) < 0)
                return e;
        if (r->cpu.has_idle && (e = add(ws, "cpu.idle", "cpu.idle", "%" PRId64, r->cpu.idle)) < 0)
                return e;
        /* As runc: a quota of 0 or below is "max"; a period of 0 keeps the kernel's. */
        if ((r->cpu.has_quota && r->cpu.quota != 0) || (r->cpu.has_period && r->cpu.period != 0)) {
                const char *quota = r->cpu.has_quota && r->cpu.quota > 0 ? limit_str(r->cpu.quota, buf) : "max";
                if (r->cpu.has_period && r->cpu.period)
                        e = add(ws, "cpu.max", r->cpu.has_quota ? "cpu.quota" : "cpu.period", "%s %" PRIu64, quota,
                                r->cpu.period);
                else
                        e = add(ws, "cpu.max", "cpu.quota", "%s", quota);
                if (e < 0)
                        return e;
        }
        if (r->cpu.has_burst && (e = add(ws, "cpu.max.burst", "cpu.burst", "%" PRIu64, r->cpu.burst)) < 0)
                return e;
        if (r->cpu.cpus && (e = add(ws, "cpuset.cpus", "cpu.cpus", "%s", r->cpu.cpus)) < 0)
                return e;
        if (r->cpu.mems && (e = add(ws, "cpuset.mems", "cpu.mems", "%s", r->cpu.mems)) < 0)
                return e;
        return 0;
}

static int io_writes(const struct resources *r, struct writes *ws)
{
        static const char *const keys[THROTTLE_N] = {"rbps", "wbps", "riops", "wiops"};
        static const char *const fields[THROTTLE_N] = {
                "blockIO.throttleReadBpsDevice", "blockIO.throttleWriteBpsDevice", "blockIO.throttleReadIOPSDevice",
                "blockIO.throttleWriteIOPSDevice"};
        int e;
        if (r->block_io.has_weight &&
            (e = add(ws, "io.weight", "blockIO.weight", "default %" PRIu64,
                     resources_blkio_to_io_weight(r->block_io.weight))) < 0)
                return e;
        for (size_t i = 0; i < r->block_io.n_weight_devices; i++) {
                const struct resources_io_device *d = &r->block_io.weight_devices[i];
                if (d->value && (e = add(ws, "io.weight", "blockIO.weightDevice", "%" PRId64 ":%" PRId64 " %" PRIu64,
                                         d->major, d->minor, resources_blkio_to_io_weight(d->value))) < 0)
                        return e;
        }
        for (int t = 0; t < THROTTLE_N; t++)
                for (size_t i = 0; i < r->block_io.n_throttle[t]; i++) {
                        const struct resources_io_device *d = &r->block_io.throttle[t][i];
                        /* 0 means "no limit" in the spec; io.max spells it "max". */
                        char rate[24];
                        if (d->value)
                                snprintf(rate, sizeof(rate), "%" PRIu64, d->value);
                        if ((e = add(ws, "io.max", fields[t], "%" PRId64 ":%" PRId64 " %s=%s", d->major, d->minor,
                                     keys[t], d->value ? rate : "max")) < 0)
                                return e;
                }
        return 0;
}

int resources_v2_writes(const struct resources *r, const char *path, struct cgroup_write **ret, size_t *ret_n,
                        cocoon_error **err)
{
        struct writes ws = {.path = path};
        int e = memory_writes(r, &ws, err);
        if (e == 0)
                e = cpu_writes(r, &ws);
        if (e == 0 && r->pids.has_limit) {
                char buf[24];
                e = add(&ws, "pids.max", "pids.limit", "%s", r->pids.limit > 0 ? limit_str(r->pids.limit, buf) : "max");
        }
        if (e == 0)
                e = io_writes(r, &ws);
        for (size_t i = 0; e == 0 && i < r->n_hugepages; i++) {
                _cleanup_free_ char *file = NULL;
                if (asprintf(&file, "hugetlb.%s.max", r->hugepages[i].key) < 0)
                        e = -ENOMEM;
                else
                        e = add(&ws, file, "hugepageLimits", "%s", r->hugepages[i].value);
        }
        /* Last, so that an explicit unified value wins over a converted one, as in runc. */
        for (size_t i = 0; e == 0 && i < r->n_unified; i++) {
                _cleanup_free_ char *key = field_name("unified", r->unified[i].key);
                e = key ? add(&ws, r->unified[i].key, key, "%s", r->unified[i].value) : -ENOMEM;
        }
        if (e < 0) {
                cgroup_writes_free(ws.w, ws.n);
                return e == -ENOMEM ? oom(err) : e;
        }
        *ret = ws.w;
        *ret_n = ws.n;
        return 0;
}

void cgroup_writes_free(struct cgroup_write *w, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(w[i].file);
                free(w[i].value);
                free(w[i].field);
        }
        free(w);
}

int resources_device_rules(const struct resources *r, struct resources_device_rule **ret, size_t *ret_n)
{
        /* What runc lets every container use, whatever the spec's rules say before. */
        static const struct resources_device_rule standard[] = {
                {true, 'c', -1, -1, RESOURCES_DEV_MKNOD}, {true, 'b', -1, -1, RESOURCES_DEV_MKNOD},
                {true, 'c', 1, 3, RESOURCES_DEV_ALL},     /* null */
                {true, 'c', 1, 8, RESOURCES_DEV_ALL},     /* random */
                {true, 'c', 1, 7, RESOURCES_DEV_ALL},     /* full */
                {true, 'c', 5, 0, RESOURCES_DEV_ALL},     /* tty */
                {true, 'c', 1, 5, RESOURCES_DEV_ALL},     /* zero */
                {true, 'c', 1, 9, RESOURCES_DEV_ALL},     /* urandom */
                {true, 'c', 136, -1, RESOURCES_DEV_ALL},  /* pts */
                {true, 'c', 5, 2, RESOURCES_DEV_ALL},     /* ptmx */
        };
        size_t n_spec = r ? r->n_devices : 0;
        struct resources_device_rule *all = calloc(n_spec + ARRAY_SIZE(standard), sizeof(*all));
        if (!all)
                return -ENOMEM;
        if (n_spec)
                memcpy(all, r->devices, n_spec * sizeof(*all));
        memcpy(all + n_spec, standard, sizeof(standard));
        *ret = all;
        *ret_n = n_spec + ARRAY_SIZE(standard);
        return 0;
}
