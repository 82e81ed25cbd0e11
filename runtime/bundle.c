#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"

/* The parts of a bundle that need no file: the spec from config's text (taken), the paths from dir. */
static int bundle_parse(const char *dir, const char *config, char *text, size_t len, struct bundle *b,
                        cocoon_error **err)
{
        *b = (struct bundle) {.config_json = text};
        int r = spec_parse(b->config_json, len, &b->spec, err);
        if (r < 0) {
                bundle_free(b);
                return error_wrap(err, r, "%s", config);
        }
        for (size_t i = 0; i < b->spec->process.n_warnings; i++)
                log_warn("%s: %s", config, b->spec->process.warnings[i]);
        if (!b->spec->has_process) {
                bundle_free(b);
                return error_set(err, EINVAL, "%s: process: the spec has no process to run", config);
        }
        b->dir = strdup(dir);
        b->rootfs = b->spec->root_path[0] == '/' ? strdup(b->spec->root_path) : path_join(dir, b->spec->root_path);
        if (!b->dir || !b->rootfs) {
                bundle_free(b);
                return -ENOMEM;
        }
        return 0;
}

int bundle_load(const char *dir, struct bundle *ret, cocoon_error **err)
{
        char abs[PATH_MAX];
        if (!realpath(dir, abs))
                return error_sys(err, errno, "bundle %s", dir);
        struct stat st;
        if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(err, ENOTDIR, "bundle %s: not a directory", dir);

        _cleanup_free_ char *config = path_join(abs, "config.json");
        if (!config)
                return -ENOMEM;
        char *text = NULL;
        size_t len;
        int r = read_file(config, SPEC_MAX_SIZE, &text, &len);
        if (r == -EFBIG)
                return error_set(err, EFBIG, "%s: larger than the %u MiB cocoon reads", config, SPEC_MAX_SIZE >> 20);
        if (r < 0)
                return error_sys(err, -r, "%s", config);
        struct bundle b;
        r = bundle_parse(abs, config, text, len, &b, err);
        if (r < 0)
                return r;

        char root_abs[PATH_MAX];
        if (!realpath(b.rootfs, root_abs) || stat(root_abs, &st) < 0) {
                r = error_sys(err, errno, "root.path %s", b.rootfs);
                bundle_free(&b);
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                r = error_set(err, ENOTDIR, "root.path %s: not a directory", b.rootfs);
                bundle_free(&b);
                return r;
        }
        free(b.rootfs);
        b.rootfs = strdup(root_abs);
        if (!b.rootfs) {
                bundle_free(&b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

int bundle_from_request(const char *dir, const char *config_json, struct bundle *ret, cocoon_error **err)
{
        char *text = strdup(config_json);
        if (!text)
                return -ENOMEM;
        return bundle_parse(dir, "config.json", text, strlen(text), ret, err);
}

void bundle_free(struct bundle *b)
{
        free(b->dir);
        free(b->rootfs);
        free(b->config_json);
        spec_free(b->spec);
        namespace_sources_free(&b->ns_sources);
        *b = (struct bundle) {0};
}
