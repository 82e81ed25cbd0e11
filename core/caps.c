/*
 * Capabilities, in runc's order: the bounding set is cut while the process
 * still has CAP_SETPCAP, the identity changes with PR_SET_KEEPCAPS so that
 * the permitted set survives setuid, then capset() sets the other sets and
 * the ambient set is raised last (it needs permitted and inheritable).
 * Capabilities the running kernel does not have are left out, not failed on.
 */
#include "caps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "cleanup.h"
#include "json.h"

static const char *const set_names[] = {"bounding", "effective", "permitted", "inheritable", "ambient"};

static uint64_t *set_field(struct spec_caps *c, size_t i)
{
        uint64_t *fields[] = {&c->bounding, &c->effective, &c->permitted, &c->inheritable, &c->ambient};
        return fields[i];
}

static int add_warning(char ***warnings, size_t *n, const char *path, const char *key, const char *name)
{
        char **w = realloc(*warnings, (*n + 2) * sizeof(char *));
        if (!w)
                return -ENOMEM;
        *warnings = w;
        if (asprintf(&w[*n], "%s.%s: ignoring unknown capability %s", path, key, name) < 0)
                return -ENOMEM;
        w[++*n] = NULL;
        return 0;
}

static int parse_set(yajl_val obj, const char *path, const char *key, uint64_t *ret, char ***warnings,
                     size_t *n_warnings, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return json_field_error(err, path, key, "expected an array of strings, got %s", json_type_name(v));
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val e = v->u.array.values[i];
                if (!YAJL_IS_STRING(e))
                        return error_set(err, EINVAL, "%s.%s[%zu]: expected a string, got %s", path, key, i,
                                         json_type_name(e));
                cap_value_t cap;
                /* libcap also takes numbers; config.json names capabilities as CAP_*. */
                if (strncasecmp(e->u.string, "CAP_", 4) != 0 || cap_from_name(e->u.string, &cap) < 0 || cap < 0 ||
                    cap > 63) {
                        if (add_warning(warnings, n_warnings, path, key, e->u.string) < 0)
                                return error_set(err, ENOMEM, "out of memory");
                        continue;
                }
                *ret |= UINT64_C(1) << cap;
        }
        return 0;
}

int caps_parse(yajl_val obj, const char *path, struct spec_caps **ret, char ***warnings, size_t *n_warnings,
               cocoon_error **err)
{
        _cleanup_free_ struct spec_caps *caps = calloc(1, sizeof(*caps));
        if (!caps)
                return error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < ARRAY_SIZE(set_names); i++) {
                int r = parse_set(obj, path, set_names[i], set_field(caps, i), warnings, n_warnings, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(caps);
        return 0;
}

/* The capabilities this kernel has: 0 .. cap_max_bits()-1. */
static int last_cap(void)
{
        int n = (int) cap_max_bits();
        return n > 0 && n <= 64 ? n - 1 : CAP_LAST_CAP;
}

int caps_apply_bounding(const struct spec_caps *caps, cocoon_error **err)
{
        for (int c = 0; c <= last_cap(); c++) {
                if (caps->bounding & (UINT64_C(1) << c))
                        continue;
                if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
                        continue; /* already gone */
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                        return error_sys(err, errno, "process.capabilities.bounding: dropping %s", cap_to_name(c));
        }
        return 0;
}

static inline void cap_freep(cap_t *c)
{
        if (*c)
                (void) cap_free(*c);
}

int caps_apply(const struct spec_caps *caps, cocoon_error **err)
{
        _cleanup_(cap_freep) cap_t state = cap_init();
        if (!state)
                return error_sys(err, errno, "process.capabilities");
        static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
        const uint64_t sets[] = {caps->effective, caps->permitted, caps->inheritable};
        for (int c = 0; c <= last_cap(); c++)
                for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                        cap_value_t v = c;
                        if ((sets[i] & (UINT64_C(1) << c)) && cap_set_flag(state, flags[i], 1, &v, CAP_SET) < 0)
                                return error_sys(err, errno, "process.capabilities: %s", cap_to_name(c));
                }
        if (cap_set_proc(state) < 0)
                return error_sys(err, errno, "process.capabilities: setting the effective, permitted and inheritable sets");

        if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
                return error_sys(err, errno, "process.capabilities.ambient: clearing");
        for (int c = 0; c <= last_cap(); c++) {
                if (!(caps->ambient & (UINT64_C(1) << c)))
                        continue;
                /*
                 * A capability missing from permitted or inheritable cannot be
                 * ambient (EPERM): the runtime-spec says not to fail on what
                 * cannot be granted, and runc does not.
                 */
                if (cap_set_ambient(c, CAP_SET) < 0 && errno != EPERM)
                        return error_sys(err, errno, "process.capabilities.ambient: raising %s", cap_to_name(c));
        }
        return 0;
}
