/* cocoon: the OCI runtime CLI. Global options, then one verb per file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"
#include "version.h"

static const struct verb *const verbs[] = {
        &verb_create, &verb_start,  &verb_run,    &verb_state,  &verb_kill,     &verb_delete,
        &verb_exec,   &verb_ps,     &verb_list,   &verb_pause,  &verb_resume,   &verb_update,
        &verb_events, &verb_spec,   &verb_features, &verb_checkpoint, &verb_restore,
};

int verb_parse_id(const struct verb *v, int argc, char **argv, const char **id)
{
        static const struct option opts[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                if (c != 'h')
                        return -2;
                printf("usage: %s\n", v->usage);
                return 0;
        }
        if (optind != argc - 1) {
                log_error("%s: expected exactly one container id\nusage: %s", v->name, v->usage);
                return -2;
        }
        *id = argv[optind];
        return 1;
}

int verb_open(const struct verb *v, struct runtime *rt, int argc, char **argv, struct container *c)
{
        const char *id;
        int r = verb_parse_id(v, argc, argv, &id);
        if (r <= 0)
                return r;
        _cleanup_error_ cocoon_error *err = NULL;
        r = container_open(rt->root, id, c, &err);
        if (r < 0)
                return -verb_fail(v, r, err);
        return 1;
}

int verb_fail(const struct verb *v, int r, const cocoon_error *err)
{
        log_error("%s: %s", v->name, err && err->msg ? err->msg : strerror(r < 0 ? -r : EIO));
        return 1;
}

int verb_parse_bundle(const struct verb *v, int argc, char **argv, const char **bundle)
{
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        *bundle = optarg;
                        break;
                case 'h':
                        printf("usage: %s\n", v->usage);
                        return 0;
                default:
                        return -2;
                }
        }
        return 1;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: cocoon [global options] COMMAND [options] [ARGS]\n\n"
                   "cocoon runs OCI containers, each in its own lightweight virtual machine.\n\n"
                   "Commands:\n");
        /* The first line of each verb's usage; `cocoon VERB --help` has the rest. */
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                fprintf(f, "  %.*s\n", (int) strcspn(verbs[i]->usage, "\n"), verbs[i]->usage);
        fprintf(f, "\nGlobal options:\n"
                   "  --root DIR          state directory (default " COCOON_DEFAULT_ROOT ")\n"
                   "  --log FILE          also log to FILE\n"
                   "  --log-format FMT    text (default) or json\n"
                   "  --debug             verbose logging on stderr\n"
                   "  --systemd-cgroup    accepted for compatibility\n"
                   "  --version, -v       print the version\n"
                   "  --help, -h          this help (also: cocoon help [COMMAND])\n");
}

/* runc's layout, which callers parse line by line ("runc version X", "spec: Y", "libseccomp: Z"). */
static void print_version(void)
{
        const struct scmp_version *sv = seccomp_version();
        printf("cocoon version %s\ncommit: %s\nspec: %s\n", COCOON_VERSION, COCOON_COMMIT, COCOON_OCI_VERSION);
        if (sv)
                printf("libseccomp: %u.%u.%u\n", sv->major, sv->minor, sv->micro);
        printf("backends: %s\n", hypervisor_backend_names());
}

/* `cocoon help [COMMAND]`, as runc has it: the usage, or the command's. */
static int help_main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (strcmp(argv[1], verbs[i]->name) == 0) {
                        printf("usage: %s\n", verbs[i]->usage);
                        return 0;
                }
        log_error("help: unknown command %s (see cocoon --help)", argv[1]);
        return 2;
}

/*
 * A caller may start us with stdin, stdout or stderr closed. Fill the gap with
 * /dev/null, or the next socket we open would become the container's stdio.
 */
static void ensure_stdio(void)
{
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
                        int n = open("/dev/null", O_RDWR);
                        if (n >= 0 && n != fd) {
                                (void) dup2(n, fd);
                                (void) close(n);
                        }
                }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"log", required_argument, NULL, 'l'},
                {"log-format", required_argument, NULL, 'f'},
                {"debug", no_argument, NULL, 'd'},
                {"systemd-cgroup", no_argument, NULL, 's'},
                {"version", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        ensure_stdio();
        struct runtime rt = {.root = COCOON_DEFAULT_ROOT};
        const char *log_path = NULL, *log_format = "text";
        int c;

        while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        rt.root = optarg;
                        rt.root_given = true;
                        break;
                case 'l':
                        log_path = optarg;
                        break;
                case 'f':
                        log_format = optarg;
                        break;
                case 'd':
                        rt.debug = true;
                        break;
                case 's':
                        rt.systemd_cgroup = true;
                        break;
                case 'v':
                        print_version();
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
                fprintf(stderr, "cocoon: --log-format: expected text or json, got %s\n", log_format);
                return 2;
        }
        if (log_setup(log_path, strcmp(log_format, "json") == 0, rt.debug) < 0) {
                fprintf(stderr, "cocoon: --log %s: %s\n", log_path, strerror(errno));
                return 1;
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }

        const char *name = argv[optind];
        if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0)
                return help_main(argc - optind, argv + optind);
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if (strcmp(name, verbs[i]->name) != 0)
                        continue;
                _cleanup_error_ cocoon_error *err = NULL;
                if (config_load(&rt.cfg, &err) < 0) {
                        log_error("%s", err ? err->msg : "loading the configuration failed");
                        config_free(&rt.cfg);
                        return 1;
                }
                log_debug("%s: root %s, guest kernel %s", name, rt.root, rt.cfg.kernel ? rt.cfg.kernel : "(none)");
                /* Each verb parses its own options, with its name as argv[0]. */
                int vargc = argc - optind;
                char **vargv = argv + optind;
                optind = 0;
                int r = verbs[i]->run(&rt, vargc, vargv);
                config_free(&rt.cfg);
                return r;
        }
        log_error("unknown command %s (see cocoon --help)", name);
        return 2;
}
