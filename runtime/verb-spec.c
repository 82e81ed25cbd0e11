/* cocoon spec: writes a default config.json, like runc spec. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"

static int verb_spec_main(struct runtime *rt, int argc, char **argv)
{
        const char *bundle = ".";
        int r = verb_parse_bundle(&verb_spec, argc, argv, &bundle);
        if (r <= 0)
                return -r;
        if (optind != argc) {
                log_error("spec: takes no arguments\nusage: %s", verb_spec.usage);
                return 2;
        }
        _cleanup_free_ char *path = path_join(bundle, "config.json");
        _cleanup_free_ char *json = spec_default_json();
        if (!path || !json) {
                log_error("spec: out of memory");
                return 1;
        }
        /* Like runc: never overwrite an existing config.json. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
                if (errno == EEXIST)
                        log_error("spec: File %s exists. Remove it first", path);
                else
                        log_error("spec: %s: %s", path, strerror(errno));
                return 1;
        }
        r = write_all(fd, json, strlen(json));
        if (r == 0 && json[strlen(json) - 1] != '\n')
                r = write_all(fd, "\n", 1);
        close(fd);
        if (r < 0) {
                (void) unlink(path);
                log_error("spec: writing %s: %s", path, strerror(-r));
                return 1;
        }
        return 0;
}

const struct verb verb_spec = {
        .name = "spec",
        .run = verb_spec_main,
        .usage = "cocoon spec [--bundle|-b DIR]\n  Writes a default config.json into DIR (default: the current directory).",
};
