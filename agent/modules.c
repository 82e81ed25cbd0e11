/*
 * Loads the kernel modules the agent needs, each after its dependencies, from
 * the modules.dep that guest-image/mkinitrd.sh regenerated for the image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "fsutil.h"

#define MAX_MODULES 128

struct module {
        char *path; /* relative to the modules dir */
        char *deps; /* space-separated relative paths */
        bool loaded, loading;
};

/*
 * The kernel applies "module.param=value" from its command line only to
 * built-in code; for a loadable module it is the loader's job (modprobe does
 * it), so options given with the guest kernel arguments reach our modules.
 */
static char *cmdline_params(const char *cmdline, const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strcspn(base, ".");
        char name[64];
        if (n >= sizeof(name) - 1)
                return strdup("");
        for (size_t i = 0; i < n; i++)
                name[i] = base[i] == '-' ? '_' : base[i];
        name[n] = '.';
        name[n + 1] = '\0';

        size_t len = 0;
        char *out = calloc(1, strlen(cmdline) + 1);
        if (!out)
                return NULL;
        for (const char *p = cmdline; *p;) {
                p += strspn(p, " \t\n");
                size_t w = strcspn(p, " \t\n");
                if (w > n + 1 && strncmp(p, name, n + 1) == 0) {
                        if (len)
                                out[len++] = ' ';
                        memcpy(out + len, p + n + 1, w - n - 1);
                        len += w - n - 1;
                }
                p += w;
        }
        out[len] = '\0';
        return out;
}

static struct module *find(struct module *mods, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(mods[i].path, path) == 0)
                        return &mods[i];
        return NULL;
}

static int load(struct module *mods, size_t n, struct module *m, const char *dir, const char *cmdline,
                cocoon_error **err)
{
        if (m->loaded)
                return 0;
        if (m->loading)
                return error_set(err, ELOOP, "module %s: dependency cycle", m->path);
        m->loading = true;

        _cleanup_free_ char *deps = strdup(m->deps);
        if (!deps)
                return -ENOMEM;
        char *save = NULL;
        for (char *d = strtok_r(deps, " \t", &save); d; d = strtok_r(NULL, " \t", &save)) {
                struct module *dep = find(mods, n, d);
                if (!dep)
                        return error_set(err, ENOENT, "module %s needs %s, which the image lacks", m->path, d);
                int r = load(mods, n, dep, dir, cmdline, err);
                if (r < 0)
                        return r;
        }

        _cleanup_free_ char *full = path_join(dir, m->path);
        if (!full)
                return -ENOMEM;
        _cleanup_close_ int fd = open(full, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening module %s", full);
        _cleanup_free_ char *params = cmdline_params(cmdline, m->path);
        if (!params)
                return -ENOMEM;
        if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
                return error_sys(err, errno, "loading module %s", m->path);
        m->loaded = true;
        return 0;
}

/* "kernel/fs/fuse/virtiofs.ko" is module "virtiofs"; '-' and '_' are the same to the kernel. */
static bool module_is(const char *path, const char *name)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strcspn(base, ".");
        if (n != strlen(name))
                return false;
        for (size_t i = 0; i < n; i++) {
                char a = base[i] == '-' ? '_' : base[i], b = name[i] == '-' ? '_' : name[i];
                if (a != b)
                        return false;
        }
        return true;
}

static bool builtin(const char *dir, const char *name)
{
        _cleanup_free_ char *path = path_join(dir, "modules.builtin");
        _cleanup_free_ char *text = NULL;
        if (!path || read_file(path, 1 << 20, &text, NULL) < 0)
                return false;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (module_is(line, name))
                        return true;
        return false;
}

bool modules_supported(void)
{
        return access("/proc/modules", F_OK) == 0;
}

int modules_load(const char *dir, const char *const *wanted, cocoon_error **err)
{
        _cleanup_free_ char *dep_path = path_join(dir, "modules.dep");
        _cleanup_free_ char *text = NULL;
        if (!dep_path)
                return -ENOMEM;
        int r = read_file(dep_path, 1 << 20, &text, NULL);
        if (r < 0 && r != -ENOENT)
                return error_sys(err, -r, "reading %s", dep_path);

        _cleanup_free_ char *cmdline = NULL;
        if (read_file("/proc/cmdline", 64 << 10, &cmdline, NULL) < 0)
                cmdline = strdup("");
        if (!cmdline)
                return -ENOMEM;

        struct module mods[MAX_MODULES];
        size_t n = 0;
        char *save = NULL;
        for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                if (n == MAX_MODULES)
                        return error_set(err, E2BIG, "more than %d modules in %s", MAX_MODULES, dep_path);
                *colon = '\0';
                mods[n++] = (struct module) {.path = line, .deps = colon + 1};
        }
        /* Only what this boot needs: every module costs time under emulation. */
        for (const char *const *w = wanted; *w; w++) {
                struct module *m = NULL;
                for (size_t i = 0; i < n && !m; i++)
                        if (module_is(mods[i].path, *w))
                                m = &mods[i];
                if (!m) {
                        if (builtin(dir, *w))
                                continue;
                        return error_set(err, ENOENT, "module %s is neither in the guest image nor built into its kernel",
                                         *w);
                }
                r = load(mods, n, m, dir, cmdline, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
