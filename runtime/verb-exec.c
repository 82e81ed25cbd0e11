/*
 * cocoon exec: another process in a running container. The process is the
 * container's own (config.json's "process": env, cwd, user, capabilities,
 * ...) with what the flags change, or the whole of --process FILE, as runc
 * does. It is sent to the agent as runtime-spec JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "runtime.h"

struct exec_opts {
        const char *process_file, *pid_file, *console_socket, *cwd, *user;
        bool detach, tty, no_new_privs, ignore_paused;
        char **env, **gids, **caps;
        size_t n_env, n_gids, n_caps;
        char **args; /* NULL-terminated, from the command line */
};

static int push(char ***v, size_t *n, char *s)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

/* Parses "uid[:gid]" into JSON members; a name goes to the guest to resolve in the container's /etc/passwd. */
static int put_user(struct json_writer *w, const char *user, yajl_val base_user, char **gids, cocoon_error **err)
{
        json_open_map(w, "user");
        if (user) {
                char *end;
                unsigned long uid = strtoul(user, &end, 10);
                if (end != user && (*end == '\0' || *end == ':')) {
                        json_key_uint(w, "uid", uid);
                        unsigned long gid = 0;
                        if (*end == ':') {
                                char *gend;
                                gid = strtoul(end + 1, &gend, 10);
                                if (gend == end + 1 || *gend)
                                        return error_set(err, EINVAL, "--user %s: expected UID[:GID]", user);
                        }
                        json_key_uint(w, "gid", gid);
                } else {
                        json_key_uint(w, "uid", 0);
                        json_key_uint(w, "gid", 0);
                        json_key_str(w, "username", user);
                }
        } else if (base_user) {
                for (size_t i = 0; i < base_user->u.object.len; i++) {
                        const char *k = base_user->u.object.keys[i];
                        if (gids && strcmp(k, "additionalGids") == 0)
                                continue;
                        json_str(w, k);
                        json_value(w, base_user->u.object.values[i]);
                }
        }
        if (gids) {
                json_open_array(w, "additionalGids");
                for (; *gids; gids++) {
                        char *end;
                        unsigned long g = strtoul(*gids, &end, 10);
                        if (end == *gids || *end)
                                return error_set(err, EINVAL, "--additional-gids %s: expected a number", *gids);
                        json_uint(w, g);
                }
                json_close_array(w);
        }
        json_close_map(w);
        return 0;
}

static bool strv_has(yajl_val list, const char *s)
{
        for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++)
                if (YAJL_IS_STRING(list->u.array.values[i]) && strcmp(list->u.array.values[i]->u.string, s) == 0)
                        return true;
        return false;
}

/*
 * process.capabilities with --cap: each named one is added to the bounding,
 * effective and permitted sets, and to the ambient set when the container's
 * inheritable set has it, as runc does (never to inheritable itself).
 */
static void put_capabilities(struct json_writer *w, yajl_val base, char **caps, size_t n_caps)
{
        static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable", "ambient"};
        yajl_val inheritable = json_get(base, "inheritable");
        json_open_map(w, "capabilities");
        for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
                yajl_val have = json_get(base, sets[s]);
                json_open_array(w, sets[s]);
                for (size_t i = 0; YAJL_IS_ARRAY(have) && i < have->u.array.len; i++)
                        json_value(w, have->u.array.values[i]);
                for (size_t i = 0; i < n_caps && strcmp(sets[s], "inheritable") != 0; i++) {
                        bool wanted = strcmp(sets[s], "ambient") != 0 || strv_has(inheritable, caps[i]);
                        if (wanted && !strv_has(have, caps[i]))
                                json_str(w, caps[i]);
                }
                json_close_array(w);
        }
        json_close_map(w);
}

/* The container's process with the flags applied. */
static int process_from_flags(const struct container *c, const struct exec_opts *o, char **ret, cocoon_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = container_read_config(c, &text, &len, err);
        if (r < 0)
                return r;
        _cleanup_json_ yajl_val top = NULL;
        r = json_parse_object(text, len, &top, err);
        if (r < 0)
                return error_wrap(err, r, "%s/%s", c->dir, KEPT_CONFIG);
        yajl_val base = json_get(top, "process");

        static const char *const replaced[] = {"args", "terminal", "env", "cwd", "user", "consoleSize", NULL};
        struct json_writer w;
        if (json_writer_init(&w, false) < 0)
                return -ENOMEM;
        json_open_map(&w, NULL);
        for (size_t i = 0; YAJL_IS_OBJECT(base) && i < base->u.object.len; i++) {
                const char *k = base->u.object.keys[i];
                bool skip = (o->no_new_privs && strcmp(k, "noNewPrivileges") == 0) ||
                            (o->n_caps && strcmp(k, "capabilities") == 0);
                for (const char *const *p = replaced; *p; p++)
                        skip = skip || strcmp(k, *p) == 0;
                if (skip)
                        continue;
                json_str(&w, k);
                json_value(&w, base->u.object.values[i]);
        }
        json_key_strv(&w, "args", o->args);
        json_key_bool(&w, "terminal", o->tty);
        json_open_array(&w, "env");
        yajl_val env = json_get(base, "env");
        for (size_t i = 0; YAJL_IS_ARRAY(env) && i < env->u.array.len; i++)
                json_value(&w, env->u.array.values[i]);
        for (size_t i = 0; i < o->n_env; i++)
                json_str(&w, o->env[i]);
        json_close_array(&w);
        yajl_val cwd = json_get(base, "cwd");
        json_key_str(&w, "cwd", o->cwd ? o->cwd : YAJL_IS_STRING(cwd) ? cwd->u.string : "/");
        if (o->no_new_privs)
                json_key_bool(&w, "noNewPrivileges", true);
        if (o->n_caps)
                put_capabilities(&w, json_get(base, "capabilities"), o->caps, o->n_caps);
        r = put_user(&w, o->user, YAJL_IS_OBJECT(json_get(base, "user")) ? json_get(base, "user") : NULL, o->gids, err);
        json_close_map(&w);
        _cleanup_free_ char *out = NULL;
        if (json_writer_finish(&w, &out, NULL) < 0)
                return -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse(int argc, char **argv, struct exec_opts *o, const char **id)
{
        static const struct option opts[] = {
                {"process", required_argument, NULL, 'p'},
                {"detach", no_argument, NULL, 'd'},
                {"pid-file", required_argument, NULL, 'P'},
                {"console-socket", required_argument, NULL, 'S'},
                {"cap", required_argument, NULL, 'c'},
                {"tty", no_argument, NULL, 't'},
                {"env", required_argument, NULL, 'e'},
                {"cwd", required_argument, NULL, 'w'},
                {"user", required_argument, NULL, 'u'},
                {"additional-gids", required_argument, NULL, 'g'},
                {"no-new-privs", no_argument, NULL, 'n'},
                {"preserve-fds", required_argument, NULL, 'f'},
                {"ignore-paused", no_argument, NULL, 'I'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "+p:dte:w:u:g:c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'I':
                        o->ignore_paused = true;
                        break;
                case 'p':
                        o->process_file = optarg;
                        break;
                case 'd':
                        o->detach = true;
                        break;
                case 'P':
                        o->pid_file = optarg;
                        break;
                case 'S':
                        o->console_socket = optarg;
                        break;
                case 'c':
                        if (strncmp(optarg, "CAP_", 4) != 0) {
                                log_error("exec: --cap %s: expected a capability name such as CAP_KILL", optarg);
                                return -2;
                        }
                        if (push(&o->caps, &o->n_caps, optarg) < 0)
                                return -1;
                        break;
                case 't':
                        o->tty = true;
                        break;
                case 'e':
                        if (!strchr(optarg, '=')) {
                                log_error("exec: --env %s: expected KEY=VALUE", optarg);
                                return -2;
                        }
                        if (push(&o->env, &o->n_env, optarg) < 0)
                                return -1;
                        break;
                case 'w':
                        o->cwd = optarg;
                        break;
                case 'u':
                        o->user = optarg;
                        break;
                case 'g':
                        if (push(&o->gids, &o->n_gids, optarg) < 0)
                                return -1;
                        break;
                case 'n':
                        o->no_new_privs = true;
                        break;
                case 'f':
                        if (strcmp(optarg, "0") != 0) {
                                log_error("exec: --preserve-fds %s: host file descriptors cannot be passed into the VM",
                                          optarg);
                                return -1;
                        }
                        break;
                case 'h':
                        printf("usage: %s\n", verb_exec.usage);
                        return 0;
                default:
                        return -2;
                }
        }
        if (optind >= argc) {
                log_error("exec: expected a container id\nusage: %s", verb_exec.usage);
                return -2;
        }
        *id = argv[optind++];
        o->args = argv + optind;
        if (!o->process_file && !*o->args) {
                log_error("exec: expected a command or --process\nusage: %s", verb_exec.usage);
                return -2;
        }
        return 1;
}

/* An exec that fails itself exits 255, as runc's does: callers tell it from the process's own status. */
static int exec_fail(int r, const cocoon_error *err)
{
        (void) verb_fail(&verb_exec, r, err);
        return 255;
}

static int exec_main(struct runtime *rt, int argc, char **argv)
{
        struct exec_opts o = {0};
        const char *id = NULL;
        int r = parse(argc, argv, &o, &id);
        if (r <= 0) {
                free(o.env);
                free(o.gids);
                free(o.caps);
                return -r;
        }
        _cleanup_free_ char **env = o.env, **gids = o.gids, **caps = o.caps;
        _cleanup_error_ cocoon_error *err = NULL;
        struct container c;
        r = check_pid_file(o.pid_file, &err);
        if (r == 0)
                r = container_open(rt->root, id, &c, &err);
        if (r < 0)
                return exec_fail(r, err);
        /* As runc: a created container's namespaces can be joined before its process starts. */
        static const char *const live[] = {"created", "running", "paused", NULL};
        static const char *const not_paused[] = {"created", "running", "stopped", NULL};
        /* As runc: a paused container is named as such; with --ignore-paused the process runs once it is resumed. */
        if (r == 0 && !o.ignore_paused)
                r = container_require_status(&c, not_paused,
                                             "cannot exec in a paused container (use --ignore-paused to override)", &err);
        if (r == 0)
                r = container_require_status(&c, live, "cannot exec in a container that is not running", &err);

        _cleanup_free_ char *process = NULL;
        if (r == 0 && o.process_file) {
                size_t len;
                r = read_file(o.process_file, SPEC_MAX_SIZE, &process, &len);
                if (r < 0)
                        r = error_sys(&err, -r, "--process %s", o.process_file);
        } else if (r == 0) {
                r = process_from_flags(&c, &o, &process, &err);
        }
        /* Checked here too, so that a bad process is reported before anything happens. */
        struct spec_process proc = {0};
        if (r == 0) {
                r = spec_parse_process(process, strlen(process), &proc, &err);
                if (r < 0)
                        (void) error_wrap(&err, r, "%s", o.process_file ? o.process_file : "exec");
        }
        bool tty = proc.terminal;
        spec_process_free(&proc);
        if (r == 0 && o.detach && tty && !o.console_socket)
                r = error_set(&err, EINVAL, "cannot allocate tty if cocoon will detach without setting console socket");
        if (r == 0 && o.console_socket && !tty)
                r = error_set(&err, EINVAL, "cannot use console socket if cocoon will not detach or allocate tty");

        uint8_t rnd[8];
        char exec_id[32];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                memset(rnd, 0, sizeof(rnd));
        snprintf(exec_id, sizeof(exec_id), "exec-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5], rnd[6], rnd[7]);
        struct stub_opts so = {.id = id, .exec_id = exec_id, .exec_process_json = process, .terminal = tty,
                               .ignore_paused = o.ignore_paused, .cgroup = c.st.cgroup};
        if (r < 0) {
                container_close(&c);
                return exec_fail(r, err);
        }
        container_unlock(&c);

        int exit_code = 0;
        if (o.detach) {
                pid_t pid;
                r = stub_spawn(c.sv_dir, &so, o.console_socket, &pid, &err);
                if (r == 0 && o.pid_file)
                        r = write_pid_file(o.pid_file, pid, &err);
        } else {
                if (o.pid_file)
                        r = write_pid_file(o.pid_file, getpid(), &err);
                int ctl = r < 0 ? r : supervisor_connect(c.sv_dir, &err);
                if (ctl >= 0) {
                        r = stub_attach_and_wait(ctl, &so, &exit_code, &err);
                        close(ctl);
                } else {
                        r = ctl;
                }
        }
        container_close(&c);
        return r < 0 ? exec_fail(r, err) : exit_code;
}

const struct verb verb_exec = {
        .name = "exec",
        .run = exec_main,
        .usage = "cocoon exec [--process|-p F] [-d] [--pid-file F] [--console-socket S] [-t] [--env|-e K=V]\n"
                 "            [--cwd|-w DIR] [--user|-u UID[:GID]|NAME] [--additional-gids|-g GID]\n"
                 "            [--cap|-c CAP_NAME] [--ignore-paused] ID [ARGS...]\n"
                 "  Runs another process in the created or running container, in the foreground (exiting with\n"
                 "  its status, or 255 when the exec itself fails) or with -d behind a stub whose pid goes to\n"
                 "  --pid-file. A paused container is refused unless --ignore-paused: then the process is set\n"
                 "  up and runs once the container is resumed (and exec waits until then, as runc's).",
};
