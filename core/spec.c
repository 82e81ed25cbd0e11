/*
 * config.json into struct oci_spec. The JSON reading itself (strictness,
 * depth, NULs, runc's rules for null and "") is json.c's; this file maps the
 * tree onto the structures. Unknown fields are ignored.
 *
 * The parse_* helpers fill a spec in place; when one fails, spec_parse frees
 * the half-built spec, so every list is counted and zeroed before it is
 * filled.
 */
#include "spec.h"

#include "fsutil.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "caps.h"
#include "cleanup.h"
#include "hooks.h"
#include "json.h"
#include "mount.h"
#include "rlimits.h"
#include "syscall-filter.h"

#define ID_MAX 4294967294ULL /* (uid_t) -1 is not an id */

static const char *const namespace_types[] = {
        "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
};

static inline void cleanup_yajl_genp(yajl_gen *g)
{
        if (*g)
                yajl_gen_free(*g);
}

static int oom(cocoon_error **err) { return error_set(err, ENOMEM, "out of memory"); }

static void strv_free(char **strv)
{
        if (!strv)
                return;
        for (char **s = strv; *s; s++)
                free(*s);
        free(strv);
}

/* uid or gid: required unless a username will supply it. */
static int parse_id(yajl_val obj, const char *path, const char *key, bool required, unsigned *ret, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return required ? json_field_error(err, path, key, "required field is missing") : 0;
        unsigned long long n = 0;
        int r = json_parse_uint(v, ID_MAX, path, key, &n, err);
        if (r < 0)
                return r;
        *ret = (unsigned) n;
        return 0;
}

static int parse_user(yajl_val obj, struct spec_user *user, cocoon_error **err)
{
        static const char path[] = "process.user";
        unsigned long long n = 0;
        int r;

        r = json_get_string(obj, path, "username", false, &user->username, err);
        if (r < 0)
                return r;
        /* With a username, uid and gid come from the container's /etc/passwd. */
        r = parse_id(obj, path, "uid", !user->username, &user->uid, err);
        if (r < 0)
                return r;
        /* A missing gid is 0, as runc and crun read it (the runtime-spec calls it required; callers omit it). */
        r = parse_id(obj, path, "gid", false, &user->gid, err);
        if (r < 0)
                return r;

        yajl_val v = json_get(obj, "umask");
        if (v) {
                r = json_parse_uint(v, 0777, path, "umask", &n, err);
                if (r < 0)
                        return r;
                user->has_umask = true;
                user->umask = (mode_t) n;
        }

        v = json_get(obj, "additionalGids");
        if (v) {
                if (!YAJL_IS_ARRAY(v))
                        return json_field_error(err, path, "additionalGids", "expected an array of integers, got %s",
                                           json_type_name(v));
                size_t len = v->u.array.len;
                if (len > 0) {
                        user->additional_gids = calloc(len, sizeof(gid_t));
                        if (!user->additional_gids)
                                return oom(err);
                }
                user->n_additional_gids = len;
                for (size_t i = 0; i < len; i++) {
                        char key[48];
                        snprintf(key, sizeof(key), "additionalGids[%zu]", i);
                        r = json_parse_uint(v->u.array.values[i], ID_MAX, path, key, &n, err);
                        if (r < 0)
                                return r;
                        user->additional_gids[i] = (gid_t) n;
                }
        }
        return 0;
}

static const char *const io_priority_classes[] = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"};

static int parse_io_priority(yajl_val obj, struct spec_process *p, cocoon_error **err)
{
        static const char path[] = "process.ioPriority";
        yajl_val v = NULL;
        int r = json_get_object(obj, "process", "ioPriority", &v, err);
        if (r < 0 || !v)
                return r;
        _cleanup_free_ char *class = NULL;
        r = json_get_string(v, path, "class", true, &class, err);
        if (r < 0)
                return r;
        size_t c = 0;
        while (c < ARRAY_SIZE(io_priority_classes) && strcmp(class, io_priority_classes[c]) != 0)
                c++;
        if (c == ARRAY_SIZE(io_priority_classes))
                return json_field_error(err, path, "class", "unknown class \"%s\"", class);
        unsigned long long n = 0;
        yajl_val prio = json_get(v, "priority");
        if (prio) {
                r = json_parse_uint(prio, 7, path, "priority", &n, err);
                if (r < 0)
                        return r;
        }
        p->has_io_priority = true;
        p->io_priority_class = (int) c + 1;
        p->io_priority = (int) n;
        return 0;
}

/* A warning for the caller to log: a field that is accepted but not (or not always) applied. */
static int add_warning(struct spec_process *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_warning(struct spec_process *p, const char *fmt, ...)
{
        char **w = realloc(p->warnings, (p->n_warnings + 2) * sizeof(char *));
        if (!w)
                return -ENOMEM;
        p->warnings = w;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&w[p->n_warnings], fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        w[++p->n_warnings] = NULL;
        return 0;
}

/*
 * The LSM labels. A cocoon guest runs AppArmor without any profile loaded
 * and no SELinux: a profile is applied where the kernel has it (cocoon-host
 * on such a host), and otherwise ignored, as each warning says.
 */
static int parse_labels(yajl_val obj, struct spec_process *p, cocoon_error **err)
{
        int r = json_get_string(obj, "process", "apparmorProfile", false, &p->apparmor_profile, err);
        if (r < 0)
                return r;
        if (p->apparmor_profile && *p->apparmor_profile && strcmp(p->apparmor_profile, "unconfined") != 0 &&
            add_warning(p, "process.apparmorProfile \"%s\": applied only where the kernel has that AppArmor profile "
                           "loaded; a cocoon guest loads none, so there it is ignored",
                        p->apparmor_profile) < 0)
                return oom(err);
        _cleanup_free_ char *label = NULL;
        r = json_get_string(obj, "process", "selinuxLabel", false, &label, err);
        if (r < 0)
                return r;
        if (label && *label && add_warning(p, "process.selinuxLabel \"%s\": ignored (the guest kernel runs without SELinux)",
                                           label) < 0)
                return oom(err);
        return 0;
}

static int parse_process(yajl_val obj, struct spec_process *p, cocoon_error **err)
{
        static const char path[] = "process";
        yajl_val user = NULL;
        int r;

        r = json_get_bool(obj, path, "terminal", &p->terminal, err);
        if (r < 0)
                return r;

        yajl_val size = NULL;
        r = json_get_object(obj, path, "consoleSize", &size, err);
        if (r < 0)
                return r;
        if (size) {
                const char *keys[] = {"height", "width"};
                unsigned short *vals[] = {&p->console_height, &p->console_width};
                for (size_t i = 0; i < 2; i++) {
                        yajl_val x = json_get(size, keys[i]);
                        if (!x)
                                return json_field_error(err, "process.consoleSize", keys[i], "required field is missing");
                        unsigned long long n;
                        r = json_parse_uint(x, 65535, "process.consoleSize", keys[i], &n, err);
                        if (r < 0)
                                return r;
                        *vals[i] = (unsigned short) n;
                }
                p->has_console_size = true;
        }

        r = json_get_object(obj, path, "user", &user, err);
        if (r < 0)
                return r;
        if (user) {
                r = parse_user(user, &p->user, err);
                if (r < 0)
                        return r;
        }

        r = json_get_strv(obj, path, "args", true, &p->args, &p->n_args, err);
        if (r < 0)
                return r;

        r = json_get_strv(obj, path, "env", false, &p->env, &p->n_env, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_env; i++) {
                const char *eq = strchr(p->env[i], '=');
                if (!eq)
                        return error_set(err, EINVAL, "process.env[%zu]: expected \"KEY=value\", got \"%s\"", i,
                                         p->env[i]);
                if (eq == p->env[i])
                        return error_set(err, EINVAL, "process.env[%zu]: variable name is empty", i);
        }

        r = json_get_string(obj, path, "cwd", true, &p->cwd, err);
        if (r < 0)
                return r;
        if (p->cwd[0] != '/')
                return json_field_error(err, path, "cwd", "must be an absolute path");

        r = json_get_bool(obj, path, "noNewPrivileges", &p->no_new_privileges, err);
        if (r < 0)
                return r;

        yajl_val caps = NULL;
        r = json_get_object(obj, path, "capabilities", &caps, err);
        if (r < 0)
                return r;
        if (caps) {
                r = caps_parse(caps, "process.capabilities", &p->capabilities, &p->warnings, &p->n_warnings, err);
                if (r < 0)
                        return r;
        }

        r = rlimits_parse(obj, path, &p->rlimits, &p->n_rlimits, err);
        if (r < 0)
                return r;

        yajl_val oom_adj = json_get(obj, "oomScoreAdj");
        if (oom_adj) {
                long long n;
                r = json_parse_int(oom_adj, -1000, 1000, path, "oomScoreAdj", &n, err);
                if (r < 0)
                        return r;
                p->has_oom_score_adj = true;
                p->oom_score_adj = (int) n;
        }
        r = parse_labels(obj, p, err);
        if (r < 0)
                return r;
        return parse_io_priority(obj, p, err);
}

static int parse_root(yajl_val top, struct oci_spec *spec, cocoon_error **err)
{
        yajl_val root = NULL;
        int r;

        r = json_get_object(top, "", "root", &root, err);
        if (r < 0)
                return r;
        if (!root)
                return json_field_error(err, "", "root", "required field is missing");

        r = json_get_string(root, "root", "path", true, &spec->root_path, err);
        if (r < 0)
                return r;
        if (spec->root_path[0] == '\0')
                return json_field_error(err, "root", "path", "must not be empty");

        return json_get_bool(root, "root", "readonly", &spec->root_readonly, err);
}

static int parse_mount(yajl_val v, const char *path, struct spec_mount *m, cocoon_error **err)
{
        int r;

        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));

        r = json_get_string(v, path, "destination", true, &m->destination, err);
        if (r < 0)
                return r;
        if (m->destination[0] != '/')
                return json_field_error(err, path, "destination", "must be an absolute path");

        r = json_get_string(v, path, "type", false, &m->type, err);
        if (r < 0)
                return r;
        r = json_get_string(v, path, "source", false, &m->source, err);
        if (r < 0)
                return r;
        return json_get_strv(v, path, "options", false, &m->options, &m->n_options, err);
}

static int parse_mounts(yajl_val top, struct oci_spec *spec, cocoon_error **err)
{
        yajl_val v = json_get(top, "mounts");

        if (!v)
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return json_field_error(err, "", "mounts", "expected an array, got %s", json_type_name(v));
        if (v->u.array.len == 0)
                return 0;

        spec->mounts = calloc(v->u.array.len, sizeof(struct spec_mount));
        if (!spec->mounts)
                return oom(err);
        spec->n_mounts = v->u.array.len;

        for (size_t i = 0; i < spec->n_mounts; i++) {
                char path[48];
                snprintf(path, sizeof(path), "mounts[%zu]", i);
                int r = parse_mount(v->u.array.values[i], path, &spec->mounts[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_namespace(yajl_val v, const char *path, unsigned *seen, struct spec_namespace *ns,
                           cocoon_error **err)
{
        int r;

        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));

        r = json_get_string(v, path, "type", true, &ns->type, err);
        if (r < 0)
                return r;

        size_t t = 0;
        while (t < ARRAY_SIZE(namespace_types) && strcmp(ns->type, namespace_types[t]) != 0)
                t++;
        if (t == ARRAY_SIZE(namespace_types))
                return json_field_error(err, path, "type", "unknown namespace type \"%s\"", ns->type);
        if (*seen & (1u << t))
                return json_field_error(err, path, "type", "duplicate namespace type \"%s\"", ns->type);
        *seen |= 1u << t;

        r = json_get_string(v, path, "path", false, &ns->path, err);
        if (r < 0)
                return r;
        if (ns->path && ns->path[0] != '/')
                return json_field_error(err, path, "path", "must be an absolute path");
        return 0;
}

static int parse_namespaces(yajl_val linux_obj, struct oci_spec *spec, cocoon_error **err)
{
        yajl_val v = json_get(linux_obj, "namespaces");
        unsigned seen = 0;

        if (!v)
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return json_field_error(err, "linux", "namespaces", "expected an array, got %s", json_type_name(v));
        if (v->u.array.len == 0)
                return 0;

        spec->namespaces = calloc(v->u.array.len, sizeof(struct spec_namespace));
        if (!spec->namespaces)
                return oom(err);
        spec->n_namespaces = v->u.array.len;

        for (size_t i = 0; i < spec->n_namespaces; i++) {
                char path[48];
                snprintf(path, sizeof(path), "linux.namespaces[%zu]", i);
                int r = parse_namespace(v->u.array.values[i], path, &seen, &spec->namespaces[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_device(yajl_val v, const char *path, void *out, cocoon_error **err)
{
        struct spec_device *d = out;
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        int r = json_get_string(v, path, "path", true, &d->path, err);
        if (r < 0)
                return r;
        if (d->path[0] != '/')
                return json_field_error(err, path, "path", "must be an absolute path");
        _cleanup_free_ char *type = NULL;
        r = json_get_string(v, path, "type", true, &type, err);
        if (r < 0)
                return r;
        if (strlen(type) != 1 || !strchr("cbup", type[0]))
                return json_field_error(err, path, "type", "expected \"c\", \"b\", \"u\" or \"p\", got \"%s\"", type);
        d->type = type[0];

        unsigned long long n;
        const char *numbers[] = {"major", "minor"};
        unsigned *dev[] = {&d->major, &d->minor};
        for (size_t i = 0; i < 2; i++) {
                yajl_val x = json_get(v, numbers[i]);
                if (!x) {
                        if (d->type == 'p')
                                continue;
                        return json_field_error(err, path, numbers[i], "required for a %s device",
                                                d->type == 'b' ? "block" : "character");
                }
                r = json_parse_uint(x, i == 0 ? 4095 : 1048575, path, numbers[i], &n, err);
                if (r < 0)
                        return r;
                *dev[i] = (unsigned) n;
        }
        yajl_val x = json_get(v, "fileMode");
        if (x) {
                r = json_parse_uint(x, 07777, path, "fileMode", &n, err);
                if (r < 0)
                        return r;
                d->has_file_mode = true;
                d->file_mode = (mode_t) n;
        }
        d->has_uid = json_get(v, "uid") != NULL;
        r = parse_id(v, path, "uid", false, &d->uid, err);
        if (r < 0)
                return r;
        d->has_gid = json_get(v, "gid") != NULL;
        return parse_id(v, path, "gid", false, &d->gid, err);
}

/* A list of objects: counted, allocated (elem bytes each) and filled by parse, one "path[i]" at a time. */
static int parse_list(yajl_val obj, const char *path, const char *key, size_t elem, void **ret, size_t *ret_n,
                      int (*parse)(yajl_val, const char *, void *, cocoon_error **), cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return json_field_error(err, path, key, "expected an array, got %s", json_type_name(v));
        if (v->u.array.len == 0)
                return 0;
        char *list = calloc(v->u.array.len, elem);
        if (!list)
                return oom(err);
        *ret = list;
        *ret_n = v->u.array.len;
        for (size_t i = 0; i < v->u.array.len; i++) {
                char p[64];
                snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
                int r = parse(v->u.array.values[i], p, list + i * elem, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_mapping(yajl_val v, const char *path, void *out, cocoon_error **err)
{
        struct spec_id_mapping *m = out;
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        const char *keys[] = {"containerID", "hostID", "size"};
        uint32_t *vals[] = {&m->container_id, &m->host_id, &m->size};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                yajl_val x = json_get(v, keys[i]);
                if (!x)
                        return json_field_error(err, path, keys[i], "required field is missing");
                unsigned long long n;
                int r = json_parse_uint(x, UINT32_MAX, path, keys[i], &n, err);
                if (r < 0)
                        return r;
                *vals[i] = (uint32_t) n;
        }
        if (m->size == 0)
                return json_field_error(err, path, "size", "must be greater than zero");
        return 0;
}

static int parse_sysctl(yajl_val linux_obj, struct oci_spec *spec, cocoon_error **err)
{
        yajl_val v = NULL;
        int r = json_get_object(linux_obj, "linux", "sysctl", &v, err);
        if (r < 0 || !v || v->u.object.len == 0)
                return r;
        spec->sysctl = calloc(v->u.object.len, sizeof(struct spec_kv));
        if (!spec->sysctl)
                return oom(err);
        for (size_t i = 0; i < v->u.object.len; i++) {
                const char *key = v->u.object.keys[i];
                yajl_val value = v->u.object.values[i];
                if (!YAJL_IS_STRING(value))
                        return error_set(err, EINVAL, "linux.sysctl[\"%s\"]: expected a string, got %s", key,
                                         json_type_name(value));
                /* The key becomes a path under /proc/sys: no way out of it. */
                if (!*key || key[0] == '.' || key[0] == '/' || strstr(key, "..") || strstr(key, "//"))
                        return error_set(err, EINVAL, "linux.sysctl[\"%s\"]: not a sysctl name", key);
                /* As runc: these two belong to the hostname and domainname fields (sysctl(8) allows '/' for '.'). */
                for (const char *const *f = (const char *const[]) {"hostname", "domainname", NULL}; *f; f++)
                        if (strncmp(key, "kernel", 6) == 0 && (key[6] == '.' || key[6] == '/') && strcmp(key + 7, *f) == 0)
                                return error_set(err, EINVAL,
                                                 "linux.sysctl[\"%s\"]: not allowed, it conflicts with the \"%s\" field", key,
                                                 *f);
                struct spec_kv *kv = &spec->sysctl[spec->n_sysctl++];
                kv->key = strdup(key);
                kv->value = strdup(value->u.string);
                if (!kv->key || !kv->value)
                        return oom(err);
        }
        return 0;
}

/* The parts of "linux" that say how the container's world looks, beyond namespaces. */
/*
 * linux.timeOffsets: {"monotonic"|"boottime": {"secs": N, "nanosecs": M}}.
 * They are written into a time namespace before anything enters it, so they
 * need one the container creates (runc refuses them otherwise too).
 */
static int parse_time_offsets(yajl_val linux_obj, struct oci_spec *spec, cocoon_error **err)
{
        static const char path[] = "linux.timeOffsets";
        static const char *const clocks[] = {"monotonic", "boottime"};
        yajl_val offsets = NULL;
        int r = json_get_object(linux_obj, "linux", "timeOffsets", &offsets, err);
        if (r < 0 || !offsets)
                return r;
        for (size_t i = 0; i < offsets->u.object.len; i++) {
                const char *name = offsets->u.object.keys[i];
                size_t c = 0;
                while (c < ARRAY_SIZE(clocks) && strcmp(name, clocks[c]) != 0)
                        c++;
                if (c == ARRAY_SIZE(clocks))
                        return json_field_error(err, path, name, "unknown clock (expected monotonic or boottime)");
                yajl_val o = offsets->u.object.values[i];
                char where[64];
                snprintf(where, sizeof(where), "%s.%s", path, name);
                if (!YAJL_IS_OBJECT(o))
                        return json_field_error(err, path, name, "expected an object, got %s", json_type_name(o));
                long long secs = 0;
                unsigned long long nsecs = 0;
                yajl_val v = json_get(o, "secs");
                if (v && (r = json_parse_int(v, LLONG_MIN, LLONG_MAX, where, "secs", &secs, err)) < 0)
                        return r;
                v = json_get(o, "nanosecs");
                if (v && (r = json_parse_uint(v, 999999999, where, "nanosecs", &nsecs, err)) < 0)
                        return r;
                spec->time_offsets[c] = (struct spec_time_offset) {.secs = secs, .nanosecs = (unsigned) nsecs};
        }
        const struct spec_namespace *time = spec_namespace(spec, "time");
        if (!time || time->path)
                return json_field_error(err, "linux", "timeOffsets",
                                        "needs a new time namespace (linux.namespaces type \"time\" without a path)");
        spec->has_time_offsets = true;
        return 0;
}

static int parse_linux_setup(yajl_val linux_obj, struct oci_spec *spec, cocoon_error **err)
{
        static const char path[] = "linux";
        int r = parse_list(linux_obj, path, "devices", sizeof(struct spec_device), (void **) &spec->devices,
                           &spec->n_devices, parse_device, err);
        if (r < 0)
                return r;
        r = parse_list(linux_obj, path, "uidMappings", sizeof(struct spec_id_mapping), (void **) &spec->uid_mappings,
                       &spec->n_uid_mappings, parse_mapping, err);
        if (r < 0)
                return r;
        r = parse_list(linux_obj, path, "gidMappings", sizeof(struct spec_id_mapping), (void **) &spec->gid_mappings,
                       &spec->n_gid_mappings, parse_mapping, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *mount_label = NULL;
        r = json_get_string(linux_obj, path, "mountLabel", false, &mount_label, err);
        if (r < 0)
                return r;
        if (mount_label && *mount_label &&
            add_warning(&spec->process, "linux.mountLabel \"%s\": ignored (the guest kernel runs without SELinux)",
                        mount_label) < 0)
                return oom(err);
        r = parse_sysctl(linux_obj, spec, err);
        if (r < 0)
                return r;

        r = parse_time_offsets(linux_obj, spec, err);
        if (r < 0)
                return r;

        yajl_val personality = NULL;
        r = json_get_object(linux_obj, path, "personality", &personality, err);
        if (r < 0)
                return r;
        if (personality) {
                _cleanup_free_ char *domain = NULL;
                r = json_get_string(personality, "linux.personality", "domain", true, &domain, err);
                if (r < 0)
                        return r;
                if (strcmp(domain, "LINUX") != 0 && strcmp(domain, "LINUX32") != 0)
                        return json_field_error(err, "linux.personality", "domain",
                                                "expected \"LINUX\" or \"LINUX32\", got \"%s\"", domain);
                yajl_val flags = json_get(personality, "flags");
                if (flags && (!YAJL_IS_ARRAY(flags) || flags->u.array.len > 0))
                        return json_field_error(err, "linux.personality", "flags", "personality flags are not supported");
                spec->has_personality = true;
                spec->personality = strcmp(domain, "LINUX32") == 0 ? PER_LINUX32 : PER_LINUX;
        }

        _cleanup_free_ char *propagation = NULL;
        r = json_get_string(linux_obj, path, "rootfsPropagation", false, &propagation, err);
        if (r < 0)
                return r;
        if (propagation && mount_propagation_flag(propagation, &spec->rootfs_propagation) < 0)
                return json_field_error(err, path, "rootfsPropagation", "unknown propagation \"%s\"", propagation);

        yajl_val seccomp = NULL;
        r = json_get_object(linux_obj, path, "seccomp", &seccomp, err);
        if (r < 0 || !seccomp)
                return r;
        return syscall_filter_parse(seccomp, "linux.seccomp", &spec->seccomp, err);
}

static int parse_linux(yajl_val top, struct oci_spec *spec, cocoon_error **err)
{
        static const char path[] = "linux";
        yajl_val linux_obj = NULL;
        int r;

        r = json_get_object(top, "", "linux", &linux_obj, err);
        if (r < 0)
                return r;
        if (linux_obj) {
                r = parse_namespaces(linux_obj, spec, err);
                if (r < 0)
                        return r;
                r = json_get_string(linux_obj, path, "cgroupsPath", false, &spec->cgroups_path, err);
                if (r < 0)
                        return r;
                yajl_val res = json_get(linux_obj, "resources");
                if (res && (r = resources_parse_tree(res, "linux.resources", &spec->resources, err)) < 0)
                        return r;
                r = parse_linux_setup(linux_obj, spec, err);
                if (r < 0)
                        return r;
        }

        /* Also without "linux": the lists are then empty, not NULL. */
        r = json_get_strv(linux_obj, path, "maskedPaths", false, &spec->masked_paths, &spec->n_masked_paths, err);
        if (r < 0)
                return r;
        return json_get_strv(linux_obj, path, "readonlyPaths", false, &spec->readonly_paths, &spec->n_readonly_paths, err);
}

struct annotation {
        const char *key;
        const char *value;
        size_t index; /* position in the document, so the last duplicate wins */
};

static int annotation_cmp(const void *a, const void *b)
{
        const struct annotation *x = a, *y = b;
        int c = strcmp(x->key, y->key);

        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int parse_annotations(yajl_val top, struct oci_spec *spec, cocoon_error **err)
{
        yajl_val v = NULL;
        int r;

        r = json_get_object(top, "", "annotations", &v, err);
        if (r < 0)
                return r;
        if (!v || v->u.object.len == 0)
                return 0;

        size_t n = v->u.object.len;
        _cleanup_free_ struct annotation *all = calloc(n, sizeof(*all));
        if (!all)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                yajl_val value = v->u.object.values[i];
                if (!YAJL_IS_STRING(value))
                        return error_set(err, EINVAL, "annotations[\"%s\"]: expected a string, got %s",
                                         v->u.object.keys[i], json_type_name(value));
                all[i] = (struct annotation) { v->u.object.keys[i], value->u.string, i };
        }

        /* Sorting puts duplicates next to each other, in document order;
         * keep the last of each run, as a Go map would. */
        qsort(all, n, sizeof(*all), annotation_cmp);

        spec->annotations = calloc(n, sizeof(struct spec_kv));
        if (!spec->annotations)
                return oom(err);
        for (size_t i = 0; i < n; i++) {
                if (i + 1 < n && strcmp(all[i].key, all[i + 1].key) == 0)
                        continue;
                struct spec_kv *kv = &spec->annotations[spec->n_annotations++];
                kv->key = strdup(all[i].key);
                kv->value = strdup(all[i].value);
                if (!kv->key || !kv->value)
                        return oom(err);
        }
        return 0;
}

int spec_parse_process(const char *json, size_t len, struct spec_process *ret, cocoon_error **err)
{
        _cleanup_json_ yajl_val top = NULL;
        int r = json_parse_object(json, len, &top, err);
        if (r < 0)
                return r;
        struct spec_process p = {0};
        r = parse_process(top, &p, err);
        if (r < 0) {
                spec_process_free(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int spec_parse(const char *json, size_t len, struct oci_spec **ret, cocoon_error **err)
{
        _cleanup_json_ yajl_val top = NULL;
        int r = json_parse_object(json, len, &top, err);
        if (r < 0)
                return r;

        _cleanup_spec_ struct oci_spec *spec = calloc(1, sizeof(*spec));
        if (!spec)
                return oom(err);

        r = json_get_string(top, "", "ociVersion", true, &spec->oci_version, err);
        if (r < 0)
                return r;
        if (spec->oci_version[0] == '\0')
                return json_field_error(err, "", "ociVersion", "must not be empty");

        r = parse_root(top, spec, err);
        if (r < 0)
                return r;

        yajl_val process = NULL;
        r = json_get_object(top, "", "process", &process, err);
        if (r < 0)
                return r;
        if (process) {
                spec->has_process = true;
                r = parse_process(process, &spec->process, err);
                if (r < 0)
                        return r;
        } else {
                spec->process.args = calloc(1, sizeof(char *));
                spec->process.env = calloc(1, sizeof(char *));
                if (!spec->process.args || !spec->process.env)
                        return oom(err);
        }

        r = json_get_string(top, "", "hostname", false, &spec->hostname, err);
        if (r < 0)
                return r;
        r = json_get_string(top, "", "domainname", false, &spec->domainname, err);
        if (r < 0)
                return r;
        r = hooks_parse(top, spec->hooks, err);
        if (r < 0)
                return r;

        r = parse_mounts(top, spec, err);
        if (r < 0)
                return r;

        r = parse_linux(top, spec, err);
        if (r < 0)
                return r;

        r = parse_annotations(top, spec, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(spec);
        return 0;
}

int spec_load(const char *path, struct oci_spec **ret, cocoon_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, SPEC_MAX_SIZE, &text, &len);
        if (r == -EFBIG)
                return error_set(err, EFBIG, "%s: file is larger than %u MiB, refusing to read it", path,
                                 SPEC_MAX_SIZE >> 20);
        if (r < 0)
                return error_sys(err, -r, "%s", path);

        r = spec_parse(text, len, ret, err);
        if (r < 0) {
                (void) error_wrap(err, r, "%s", path);
                return r;
        }
        return 0;
}

void spec_process_free(struct spec_process *p)
{
        free(p->user.username);
        free(p->user.additional_gids);
        free(p->capabilities);
        free(p->rlimits);
        strv_free(p->warnings);
        strv_free(p->args);
        strv_free(p->env);
        free(p->cwd);
        free(p->apparmor_profile);
        *p = (struct spec_process) {0};
}

void spec_free(struct oci_spec *spec)
{
        if (!spec)
                return;

        free(spec->oci_version);
        spec_process_free(&spec->process);
        free(spec->root_path);
        free(spec->hostname);
        for (size_t i = 0; i < spec->n_mounts; i++) {
                free(spec->mounts[i].destination);
                free(spec->mounts[i].type);
                free(spec->mounts[i].source);
                strv_free(spec->mounts[i].options);
        }
        free(spec->mounts);
        for (size_t i = 0; i < spec->n_namespaces; i++) {
                free(spec->namespaces[i].type);
                free(spec->namespaces[i].path);
        }
        free(spec->namespaces);
        strv_free(spec->masked_paths);
        strv_free(spec->readonly_paths);
        for (size_t i = 0; i < spec->n_annotations; i++) {
                free(spec->annotations[i].key);
                free(spec->annotations[i].value);
        }
        free(spec->annotations);
        free(spec->cgroups_path);
        resources_free(spec->resources);
        free(spec->domainname);
        for (size_t i = 0; i < spec->n_devices; i++)
                free(spec->devices[i].path);
        free(spec->devices);
        for (size_t i = 0; i < spec->n_sysctl; i++) {
                free(spec->sysctl[i].key);
                free(spec->sysctl[i].value);
        }
        free(spec->sysctl);
        free(spec->uid_mappings);
        free(spec->gid_mappings);
        syscall_filter_free(spec->seccomp);
        hooks_free(spec->hooks);
        free(spec->id);
        free(spec->bundle);
        free(spec);
}

const char *spec_annotation(const struct oci_spec *spec, const char *key)
{
        for (size_t i = 0; i < spec->n_annotations; i++)
                if (strcmp(spec->annotations[i].key, key) == 0)
                        return spec->annotations[i].value;
        return NULL;
}

const struct spec_namespace *spec_namespace(const struct oci_spec *spec, const char *type)
{
        for (size_t i = 0; i < spec->n_namespaces; i++)
                if (strcmp(spec->namespaces[i].type, type) == 0)
                        return &spec->namespaces[i];
        return NULL;
}

bool spec_has_namespace(const struct oci_spec *spec, const char *type)
{
        const struct spec_namespace *ns = spec_namespace(spec, type);
        return ns && !ns->path;
}

/* ---- the default config.json ---- */

/* A yajl_gen that remembers its first failure, so the writer below can read
 * as a plain list of what goes into the document. */
struct out {
        yajl_gen g;
        bool failed;
};

static void out_check(struct out *o, yajl_gen_status s)
{
        if (s != yajl_gen_status_ok)
                o->failed = true;
}

static void put_str(struct out *o, const char *s)
{
        out_check(o, yajl_gen_string(o->g, (const unsigned char *) s, strlen(s)));
}

static void put_key_str(struct out *o, const char *key, const char *value)
{
        put_str(o, key);
        put_str(o, value);
}

static void put_key_bool(struct out *o, const char *key, bool value)
{
        put_str(o, key);
        out_check(o, yajl_gen_bool(o->g, value));
}

static void put_key_int(struct out *o, const char *key, long long value)
{
        put_str(o, key);
        out_check(o, yajl_gen_integer(o->g, value));
}

static void put_key_strv(struct out *o, const char *key, const char *const *strv)
{
        put_str(o, key);
        out_check(o, yajl_gen_array_open(o->g));
        for (; *strv; strv++)
                put_str(o, *strv);
        out_check(o, yajl_gen_array_close(o->g));
}

static void open_map(struct out *o, const char *key)
{
        if (key)
                put_str(o, key);
        out_check(o, yajl_gen_map_open(o->g));
}

static void close_map(struct out *o) { out_check(o, yajl_gen_map_close(o->g)); }

static void open_array(struct out *o, const char *key)
{
        put_str(o, key);
        out_check(o, yajl_gen_array_open(o->g));
}

static void close_array(struct out *o) { out_check(o, yajl_gen_array_close(o->g)); }

static const struct {
        const char *destination, *type, *source;
        const char *options[7];
} default_mounts[] = {
        { "/proc", "proc", "proc", { NULL } },
        { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k", NULL } },
        { "/dev/pts", "devpts", "devpts",
          { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL } },
        { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL } },
        { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev", NULL } },
        { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro", NULL } },
        { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro", NULL } },
};

static const char *const default_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL };

/* runc 1.1's default has no cgroup namespace: tools that want one append it, and a duplicate is refused. */
static const char *const default_namespaces[] = { "pid", "network", "ipc", "uts", "mount" };

static const char *const default_masked_paths[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
        "/sys/devices/virtual/tpm",
        NULL,
};

static const char *const default_readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static void put_default_process(struct out *o)
{
        open_map(o, "process");
        put_key_bool(o, "terminal", true);
        open_map(o, "user");
        put_key_int(o, "uid", 0);
        put_key_int(o, "gid", 0);
        close_map(o);
        put_key_strv(o, "args", (const char *const[]) { "sh", NULL });
        put_key_strv(o, "env",
                     (const char *const[]) {
                             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "TERM=xterm",
                             NULL,
                     });
        put_key_str(o, "cwd", "/");
        open_map(o, "capabilities");
        put_key_strv(o, "bounding", default_caps);
        put_key_strv(o, "effective", default_caps);
        put_key_strv(o, "permitted", default_caps);
        close_map(o);
        open_array(o, "rlimits");
        open_map(o, NULL);
        put_key_str(o, "type", "RLIMIT_NOFILE");
        put_key_int(o, "hard", 1024);
        put_key_int(o, "soft", 1024);
        close_map(o);
        close_array(o);
        put_key_bool(o, "noNewPrivileges", true);
        close_map(o);
}

static void put_default_linux(struct out *o)
{
        open_map(o, "linux");
        open_map(o, "resources");
        open_array(o, "devices");
        open_map(o, NULL);
        put_key_bool(o, "allow", false);
        put_key_str(o, "access", "rwm");
        close_map(o);
        close_array(o);
        close_map(o);
        open_array(o, "namespaces");
        for (size_t i = 0; i < ARRAY_SIZE(default_namespaces); i++) {
                open_map(o, NULL);
                put_key_str(o, "type", default_namespaces[i]);
                close_map(o);
        }
        close_array(o);
        put_key_strv(o, "maskedPaths", default_masked_paths);
        put_key_strv(o, "readonlyPaths", default_readonly_paths);
        close_map(o);
}

char *spec_default_json(void)
{
        _cleanup_(cleanup_yajl_genp) yajl_gen g = yajl_gen_alloc(NULL);
        if (!g)
                return NULL;
        struct out o = { .g = g };

        /* Tabs, as runc's json.MarshalIndent(spec, "", "\t"). */
        if (!yajl_gen_config(g, yajl_gen_beautify, 1) || !yajl_gen_config(g, yajl_gen_indent_string, "\t"))
                return NULL;

        open_map(&o, NULL);
        put_key_str(&o, "ociVersion", "1.1.0");
        put_default_process(&o);
        open_map(&o, "root");
        put_key_str(&o, "path", "rootfs");
        put_key_bool(&o, "readonly", true);
        close_map(&o);
        put_key_str(&o, "hostname", "cocoon");
        open_array(&o, "mounts");
        for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
                open_map(&o, NULL);
                put_key_str(&o, "destination", default_mounts[i].destination);
                put_key_str(&o, "type", default_mounts[i].type);
                put_key_str(&o, "source", default_mounts[i].source);
                if (default_mounts[i].options[0])
                        put_key_strv(&o, "options", default_mounts[i].options);
                close_map(&o);
        }
        close_array(&o);
        put_default_linux(&o);
        close_map(&o);
        if (o.failed)
                return NULL;

        const unsigned char *buf;
        size_t len;
        if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
                return NULL;
        return strndup((const char *) buf, len);
}
