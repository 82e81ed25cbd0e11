#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "fsutil.h"
#include "json.h"

const char *const spec_hook_kind_names[SPEC_HOOK_KINDS] = {
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static void hook_clear(struct spec_hook *h)
{
        free(h->path);
        for (size_t i = 0; h->args && h->args[i]; i++)
                free(h->args[i]);
        free(h->args);
        for (size_t i = 0; h->env && h->env[i]; i++)
                free(h->env[i]);
        free(h->env);
}

void hooks_free(struct spec_hooks hooks[])
{
        for (size_t k = 0; k < SPEC_HOOK_KINDS; k++) {
                for (size_t i = 0; i < hooks[k].n; i++)
                        hook_clear(&hooks[k].list[i]);
                free(hooks[k].list);
                hooks[k] = (struct spec_hooks) {0};
        }
}

static int parse_hook(yajl_val v, const char *path, struct spec_hook *h, cocoon_error **err)
{
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        int r = json_get_string(v, path, "path", true, &h->path, err);
        if (r < 0)
                return r;
        if (h->path[0] != '/')
                return json_field_error(err, path, "path", "must be an absolute path");
        r = json_get_strv(v, path, "args", false, &h->args, &h->n_args, err);
        if (r < 0)
                return r;
        r = json_get_strv(v, path, "env", false, &h->env, &h->n_env, err);
        if (r < 0)
                return r;
        yajl_val env = json_get(v, "env");
        h->has_env = env && !YAJL_IS_NULL(env);
        yajl_val t = json_get(v, "timeout");
        if (t) {
                unsigned long long n;
                r = json_parse_uint(t, 86400, path, "timeout", &n, err);
                if (r < 0)
                        return r;
                if (n == 0)
                        return json_field_error(err, path, "timeout", "must be greater than zero");
                h->has_timeout = true;
                h->timeout = (unsigned) n;
        }
        return 0;
}

int hooks_parse(yajl_val top, struct spec_hooks hooks[], cocoon_error **err)
{
        yajl_val obj = NULL;
        int r = json_get_object(top, "", "hooks", &obj, err);
        if (r < 0 || !obj)
                return r;
        for (size_t k = 0; k < SPEC_HOOK_KINDS; k++) {
                const char *kind = spec_hook_kind_names[k];
                yajl_val list = json_get(obj, kind);
                if (!list)
                        continue;
                if (!YAJL_IS_ARRAY(list))
                        return json_field_error(err, "hooks", kind, "expected an array, got %s", json_type_name(list));
                if (list->u.array.len == 0)
                        continue;
                hooks[k].list = calloc(list->u.array.len, sizeof(struct spec_hook));
                if (!hooks[k].list)
                        return error_set(err, ENOMEM, "out of memory");
                hooks[k].n = list->u.array.len;
                for (size_t i = 0; i < hooks[k].n; i++) {
                        char path[64];
                        snprintf(path, sizeof(path), "hooks.%s[%zu]", kind, i);
                        r = parse_hook(list->u.array.values[i], path, &hooks[k].list[i], err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* An anonymous file holding text, positioned at its start. */
static int memfd_with(const char *name, const char *text)
{
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = text ? write_all(fd, text, strlen(text)) : 0;
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Waits for pid, at most timeout seconds (0: no limit); kills it when the time is up. */
static int wait_hook(pid_t pid, unsigned timeout, int *ret_status, bool *ret_timed_out)
{
        *ret_timed_out = false;
        if (timeout > 0) {
                _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                if (pidfd >= 0) {
                        struct pollfd p = {.fd = pidfd, .events = POLLIN};
                        int n;
                        do
                                n = poll(&p, 1, (int) timeout * 1000);
                        while (n < 0 && errno == EINTR);
                        if (n == 0) {
                                *ret_timed_out = true;
                                (void) kill(pid, SIGKILL);
                        }
                }
        }
        pid_t w;
        do
                w = waitpid(pid, ret_status, 0);
        while (w < 0 && errno == EINTR);
        return w < 0 ? -errno : 0;
}

static int run_one(const struct spec_hook *h, const char *state_json, cocoon_error **err)
{
        _cleanup_close_ int in = memfd_with("hook-state", state_json);
        _cleanup_close_ int out = memfd_with("hook-output", NULL);
        if (in < 0 || out < 0)
                return error_sys(err, -(in < 0 ? in : out), "%s: creating its stdin", h->path);
        char *const default_args[] = {h->path, NULL};
        pid_t pid = fork();
        if (pid < 0)
                return error_sys(err, errno, "%s: fork", h->path);
        if (pid == 0) {
                sigset_t all;
                sigfillset(&all);
                (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
                if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(126);
                /* No env in the hook: ours, as runc and crun pass theirs; "env": [] is an empty one. */
                char *const no_env[] = {NULL};
                char *const *env = !h->has_env ? environ : h->env ? h->env : no_env;
                execve(h->path, h->n_args ? h->args : default_args, env);
                dprintf(2, "exec: %s", strerror(errno));
                _exit(127);
        }
        int status = 0;
        bool timed_out;
        int r = wait_hook(pid, h->has_timeout ? h->timeout : 0, &status, &timed_out);
        if (r < 0)
                return error_sys(err, -r, "%s: waiting", h->path);
        if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;

        char output[1024] = "";
        ssize_t n = pread(out, output, sizeof(output) - 1, 0);
        if (n > 0) {
                output[n] = '\0';
                while (n > 0 && (output[n - 1] == '\n' || output[n - 1] == ' '))
                        output[--n] = '\0';
        }
        const char *sep = output[0] ? ": " : "";
        if (timed_out)
                return error_set(err, ETIMEDOUT, "%s: timed out after %us%s%s", h->path, h->timeout, sep,
                                 output);
        if (WIFSIGNALED(status))
                return error_set(err, ECHILD, "%s: killed by signal %d%s%s", h->path, WTERMSIG(status), sep,
                                 output);
        return error_set(err, ECHILD, "%s: exited with status %d%s%s", h->path, WEXITSTATUS(status), sep,
                         output);
}

int hooks_run(const struct spec_hook *hooks, size_t n, const char *state_json, const char *kind, cocoon_error **err)
{
        for (size_t i = 0; i < n; i++) {
                /* runc's words, which callers and runc's tests match: "error running prestart hook #1: ..." */
                int r = run_one(&hooks[i], state_json, err);
                if (r < 0)
                        return error_wrap(err, r, "error running %s hook #%zu", kind, i);
        }
        return 0;
}

static inline void genp_free(yajl_gen *g)
{
        if (*g)
                yajl_gen_free(*g);
}

static void gen_str(yajl_gen g, const char *s) { (void) yajl_gen_string(g, (const unsigned char *) s, strlen(s)); }

char *hooks_state_json(const struct oci_spec *spec, const char *status, pid_t pid)
{
        _cleanup_(genp_free) yajl_gen g = yajl_gen_alloc(NULL);
        if (!g)
                return NULL;
        (void) yajl_gen_map_open(g);
        gen_str(g, "ociVersion");
        gen_str(g, spec->oci_version ? spec->oci_version : "1.1.0");
        gen_str(g, "id");
        gen_str(g, spec->id ? spec->id : "");
        gen_str(g, "status");
        gen_str(g, status);
        if (pid > 0) {
                gen_str(g, "pid");
                (void) yajl_gen_integer(g, pid);
        }
        gen_str(g, "bundle");
        gen_str(g, spec->bundle ? spec->bundle : "");
        if (spec->n_annotations) {
                gen_str(g, "annotations");
                (void) yajl_gen_map_open(g);
                for (size_t i = 0; i < spec->n_annotations; i++) {
                        gen_str(g, spec->annotations[i].key);
                        gen_str(g, spec->annotations[i].value);
                }
                (void) yajl_gen_map_close(g);
        }
        const unsigned char *buf;
        size_t len;
        if (yajl_gen_map_close(g) != yajl_gen_status_ok || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
                return NULL;
        return strndup((const char *) buf, len);
}
