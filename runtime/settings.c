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

struct parse_state {
        struct cocoon_config *cfg;
        cocoon_error **err;
        const char *path;
};

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
                else if (strcmp(name, "qemu") == 0)
                        ok = set_string(&c->qemu, value);
                else if (strcmp(name, "virtiofsd") == 0)
                        ok = set_string(&c->virtiofsd, value);
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
                }
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
                .qemu = strdup("/usr/bin/qemu-system-x86_64"),
                .virtiofsd = strdup("/usr/lib/qemu/virtiofsd"),
                /* The PVH ELF boots ~0.4 s faster than the bzImage: no decompression, no real mode. */
                .kernel = path_join(image_dir, "vmlinux"),
                .initrd = path_join(image_dir, "initrd.img"),
                .vcpus = 1,
                .memory_mib = 512,
                .accel = VM_ACCEL_AUTO,
                .boot_timeout_s = 60,
        };
        if (!cfg->hypervisor || !cfg->qemu || !cfg->virtiofsd || !cfg->kernel || !cfg->initrd)
                return error_set(err, ENOMEM, "out of memory");

        const char *path = getenv("COCOON_CONFIG");
        bool explicit = path != NULL;
        if (!path)
                path = COCOON_SYSCONFDIR "/cocoon.conf";
        FILE *f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && !explicit)
                        return 0;
                return error_sys(err, errno, "reading %s", path);
        }
        struct parse_state st = {.cfg = cfg, .err = err, .path = path};
        int line = ini_parse_file(f, on_entry, &st);
        fclose(f);
        if (*err)
                return -EINVAL;
        if (line != 0)
                return error_set(err, EINVAL, "%s: line %d: syntax error", path, line);
        return 0;
}

void config_free(struct cocoon_config *cfg)
{
        free(cfg->hypervisor);
        free(cfg->qemu);
        free(cfg->virtiofsd);
        free(cfg->kernel);
        free(cfg->initrd);
        free(cfg->kernel_args);
}
