#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"

int bundle_load(const char *dir, struct bundle *ret, cocoon_error **err)
{
        struct bundle b = {0};
        char abs[PATH_MAX];
        if (!realpath(dir, abs))
                return error_sys(err, errno, "bundle %s", dir);
        struct stat st;
        if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(err, ENOTDIR, "bundle %s: not a directory", dir);

        _cleanup_free_ char *config = path_join(abs, "config.json");
        if (!config)
                return -ENOMEM;
        size_t len;
        int r = read_file(config, SPEC_MAX_SIZE, &b.config_json, &len);
        if (r < 0)
                return error_sys(err, -r, "%s", config);
        r = spec_parse(b.config_json, len, &b.spec, err);
        if (r < 0) {
                bundle_free(&b);
                return error_wrap(err, "%s", config);
        }
        for (size_t i = 0; i < b.spec->process.n_warnings; i++)
                log_warn("%s: %s", config, b.spec->process.warnings[i]);
        if (!b.spec->has_process) {
                bundle_free(&b);
                return error_set(err, EINVAL, "%s: process: the spec has no process to run", config);
        }

        _cleanup_free_ char *root = b.spec->root_path[0] == '/' ? strdup(b.spec->root_path)
                                                                : path_join(abs, b.spec->root_path);
        b.dir = strdup(abs);
        if (!root || !b.dir) {
                bundle_free(&b);
                return -ENOMEM;
        }
        char root_abs[PATH_MAX];
        if (!realpath(root, root_abs) || stat(root_abs, &st) < 0) {
                r = error_sys(err, errno, "root.path %s", root);
                bundle_free(&b);
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                bundle_free(&b);
                return error_set(err, ENOTDIR, "root.path %s: not a directory", root);
        }
        b.rootfs = strdup(root_abs);
        if (!b.rootfs) {
                bundle_free(&b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
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
