#include "rlimits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cleanup.h"
#include "json.h"

static const struct {
        const char *name;
        int resource;
} rlimit_types[] = {
        {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
};

static const char *rlimit_name(int resource)
{
        for (size_t i = 0; i < ARRAY_SIZE(rlimit_types); i++)
                if (rlimit_types[i].resource == resource)
                        return rlimit_types[i].name;
        return "?";
}

static int parse_one(yajl_val v, const char *path, struct spec_rlimit *rl, cocoon_error **err)
{
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        _cleanup_free_ char *type = NULL;
        int r = json_get_string(v, path, "type", true, &type, err);
        if (r < 0)
                return r;
        size_t t = 0;
        while (t < ARRAY_SIZE(rlimit_types) && strcmp(type, rlimit_types[t].name) != 0)
                t++;
        if (t == ARRAY_SIZE(rlimit_types))
                return json_field_error(err, path, "type", "unknown resource limit \"%s\"", type);
        rl->resource = rlimit_types[t].resource;

        const char *keys[] = {"soft", "hard"};
        uint64_t *vals[] = {&rl->soft, &rl->hard};
        for (size_t i = 0; i < 2; i++) {
                yajl_val n = json_get(v, keys[i]);
                if (!n)
                        return json_field_error(err, path, keys[i], "required field is missing");
                unsigned long long x;
                r = json_parse_uint(n, UINT64_MAX, path, keys[i], &x, err);
                if (r < 0)
                        return r;
                *vals[i] = x;
        }
        if (rl->soft > rl->hard)
                return json_field_error(err, path, "soft", "%llu is above the hard limit %llu",
                                        (unsigned long long) rl->soft, (unsigned long long) rl->hard);
        return 0;
}

int rlimits_parse(yajl_val obj, const char *path, struct spec_rlimit **ret, size_t *ret_n, cocoon_error **err)
{
        yajl_val v = json_get(obj, "rlimits");
        if (!v)
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return json_field_error(err, path, "rlimits", "expected an array, got %s", json_type_name(v));
        size_t n = v->u.array.len;
        if (n == 0)
                return 0;
        struct spec_rlimit *list = calloc(n, sizeof(*list));
        if (!list)
                return error_set(err, ENOMEM, "out of memory");
        *ret = list;
        *ret_n = n;
        for (size_t i = 0; i < n; i++) {
                char key[48];
                snprintf(key, sizeof(key), "%s.rlimits[%zu]", path, i);
                int r = parse_one(v->u.array.values[i], key, &list[i], err);
                if (r < 0)
                        return r;
                /* The runtime-spec: each type at most once. */
                for (size_t j = 0; j < i; j++)
                        if (list[j].resource == list[i].resource)
                                return json_field_error(err, key, "type", "duplicate resource limit \"%s\"",
                                                        rlimit_name(list[i].resource));
        }
        return 0;
}

int rlimits_apply(const struct spec_rlimit *rl, size_t n, cocoon_error **err)
{
        for (size_t i = 0; i < n; i++) {
                struct rlimit lim = {.rlim_cur = rl[i].soft, .rlim_max = rl[i].hard};
                if (setrlimit(rl[i].resource, &lim) < 0)
                        return error_sys(err, errno, "process.rlimits: setting %s to %llu:%llu", rlimit_name(rl[i].resource),
                                         (unsigned long long) rl[i].soft, (unsigned long long) rl[i].hard);
        }
        return 0;
}
