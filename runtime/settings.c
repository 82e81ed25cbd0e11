#include "settings.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "fsutil.h"

/* A [hypervisor] key the runtime does not know: the backend's, once we know which backend. */
struct backend_key {
        char *name, *value;
        struct backend_key *next;
};

struct parse_state {
        struct cocoon_config *cfg;
        cocoon_error **err;
        const char *path;
        struct backend_key *backend_keys, **tail;
};

static int defer_to_backend(struct parse_state *st, const char *name, const char *value)
{
        struct backend_key *k = calloc(1, sizeof(*k));
        if (!k)
                return 0;
        k->name = strdup(name);
        k->value = strdup(value);
        *st->tail = k;
        st->tail = &k->next;
        return k->name && k->value;
}

static int apply_backend_keys(struct parse_state *st)
{
        struct cocoon_config *c = st->cfg;
        c->hv_ops = hypervisor_find(c->hypervisor);
        if (!c->hv_ops && hypervisor_known_backend(c->hypervisor))
                return error_set(st->err, ENOTSUP,
                                 "%s: [hypervisor] backend = %s: this cocoon was built without that backend (it has: "
                                 "%s)",
                                 st->path, c->hypervisor, hypervisor_backend_names());
        if (!c->hv_ops)
                return error_set(st->err, EINVAL, "%s: [hypervisor] backend = %s: unknown hypervisor backend", st->path,
                                 c->hypervisor);
        int r = c->hv_ops->settings_new(&c->hv_settings);
        if (r < 0)
                return error_set(st->err, -r, "out of memory");
        for (struct backend_key *k = st->backend_keys; k; k = k->next) {
                r = c->hv_ops->settings_set(c->hv_settings, k->name, k->value);
                if (r < 0)
                        return error_set(st->err, r == -ENOMEM ? ENOMEM : EINVAL,
                                         "%s: [hypervisor] %s = %s: %s", st->path, k->name, k->value,
                                         r == -ENOENT ? "unknown setting" : "invalid value");
        }
        return 0;
}

static void free_backend_keys(struct backend_key *k)
{
        while (k) {
                struct backend_key *next = k->next;
                free(k->name);
                free(k->value);
                free(k);
                k = next;
        }
}

static int set_string(char **field, const char *value)
{
        char *v = strdup(value);
        if (!v)
                return 0;
        free(*field);
        *field = v;
        return 1;
}

static int set_uint(unsigned *field, const char *value, unsigned min, unsigned max)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno || *end || end == value || v < min || v > max)
                return 0;
        *field = v;
        return 1;
}

static int set_bool(bool *field, const char *value)
{
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
                return 0;
        *field = strcmp(value, "true") == 0;
        return 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
        struct parse_state *st = user;
        struct cocoon_config *c = st->cfg;
        int ok = 0;
        if (strcmp(section, "hypervisor") == 0) {
                if (strcmp(name, "backend") == 0)
                        ok = set_string(&c->hypervisor, value);
                else if (strcmp(name, "kernel") == 0)
                        ok = set_string(&c->kernel, value);
                else if (strcmp(name, "initrd") == 0)
                        ok = set_string(&c->initrd, value);
                else if (strcmp(name, "kernel_args") == 0)
                        ok = set_string(&c->kernel_args, value);
                else if (strcmp(name, "vcpus") == 0)
                        ok = set_uint(&c->vcpus, value, 1, 256);
                else if (strcmp(name, "memory_mib") == 0)
                        ok = set_uint(&c->memory_mib, value, 64, 1 << 20);
                else if (strcmp(name, "boot_timeout") == 0)
                        ok = set_uint(&c->boot_timeout_s, value, 1, 3600);
                else if (strcmp(name, "accel") == 0) {
                        ok = 1;
                        if (strcmp(value, "auto") == 0)
                                c->accel = VM_ACCEL_AUTO;
                        else if (strcmp(value, "kvm") == 0)
                                c->accel = VM_ACCEL_KVM;
                        else if (strcmp(value, "tcg") == 0)
                                c->accel = VM_ACCEL_TCG;
                        else
                                ok = 0;
                } else if (strcmp(name, "vmm_overhead_mib") == 0)
                        ok = set_uint(&c->vmm_overhead_mib, value, 16, 1 << 20);
                else if (strcmp(name, "vmm_pids_max") == 0)
                        ok = set_uint(&c->vmm_pids_max, value, 16, 1 << 22);
                else
                        return defer_to_backend(st, name, value);
        } else if (strcmp(section, "share") == 0) {
                if (strcmp(name, "allow_devices") == 0)
                        ok = set_bool(&c->share.allow_devices, value);
                else if (strcmp(name, "allow_privileged_files") == 0)
                        ok = set_bool(&c->share.allow_privileged_files, value);
        }
        if (!ok && !*st->err)
                error_set(st->err, EINVAL, "%s: [%s] %s = %s: unknown setting or invalid value", st->path, section,
                          name, value);
        return ok;
}

/* Running from the build tree: use the guest image built there. */
static bool running_from_build_tree(void)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return false;
        exe[n] = '\0';
        size_t root = strlen(COCOON_BUILD_ROOT);
        return strncmp(exe, COCOON_BUILD_ROOT, root) == 0 && exe[root] == '/';
}

int config_load(struct cocoon_config *cfg, cocoon_error **err)
{
        const char *image_dir = running_from_build_tree() ? COCOON_BUILD_ROOT "/guest-image" : COCOON_DATADIR;
        *cfg = (struct cocoon_config) {
                .hypervisor = strdup("qemu"),
                /*
                 * cocoon's own kernel (no modules, PVH entry) and the initrd that
                 * is the agent; Debian's cloud kernel (vmlinux-cloud,
                 * initrd-cloud.img) stays selectable (docs/guest.md).
                 */
                .kernel = path_join(image_dir, "vmlinux"),
                .initrd = path_join(image_dir, "initrd.img"),
                .vcpus = 1,
                .memory_mib = 512,
                .accel = VM_ACCEL_AUTO,
                .boot_timeout_s = 0, /* by the accelerator in use: vm_default_boot_timeout() */
                .vmm_overhead_mib = 320,
                .vmm_pids_max = 1024,
        };
        if (!cfg->hypervisor || !cfg->kernel || !cfg->initrd)
                return error_set(err, ENOMEM, "out of memory");

        const char *path = getenv("COCOON_CONFIG");
        bool explicit = path != NULL;
        if (!path)
                path = COCOON_SYSCONFDIR "/cocoon.conf";
        struct parse_state st = {.cfg = cfg, .err = err, .path = path};
        st.tail = &st.backend_keys;
        FILE *f = fopen(path, "re");
        if (!f && (errno != ENOENT || explicit))
                return error_sys(err, errno, "reading %s", path);
        int r = 0, line = f ? ini_parse_file(f, on_entry, &st) : 0;
        if (f)
                fclose(f);
        if (*err)
                r = -EINVAL;
        else if (line != 0)
                r = error_set(err, EINVAL, "%s: line %d: syntax error", path, line);
        else
                r = apply_backend_keys(&st);
        free_backend_keys(st.backend_keys);
        return r;
}

void config_free(struct cocoon_config *cfg)
{
        free(cfg->hypervisor);
        if (cfg->hv_ops)
                cfg->hv_ops->settings_free(cfg->hv_settings);
        free(cfg->kernel);
        free(cfg->initrd);
        free(cfg->kernel_args);
}
