/*
 * core/process.c, hooks.c and passwd.c on this machine: each case runs in a
 * forked child, applies what a container process gets, and reports what the
 * kernel then says (/proc/self/status, getrlimit, a forbidden syscall).
 * Needs root (capabilities, setuid); skips otherwise.
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "hooks.h"
#include "passwd.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test-process.XXXXXX";

static char *status_field(const char *name)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t n = strlen(name);
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, name, n) == 0 && line[n] == ':') {
                        char *v = line + n + 1;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = '\0';
                        return strdup(v);
                }
        return strdup("?");
}

/* Runs fn in a child; the child writes one line of results into *ret (malloc'd). */
static int in_child(void (*fn)(const struct oci_spec *, FILE *), const struct oci_spec *spec, char **ret)
{
        int fds[2];
        if (pipe(fds) < 0)
                abort();
        pid_t pid = fork();
        if (pid == 0) {
                close(fds[0]);
                FILE *out = fdopen(fds[1], "w");
                fn(spec, out);
                fclose(out);
                _exit(0);
        }
        close(fds[1]);
        char buf[4096] = "";
        size_t got = 0;
        ssize_t n;
        while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t) n;
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        buf[got] = '\0';
        *ret = strdup(buf);
        return status;
}

static struct oci_spec *parse(const char *json)
{
        struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        if (spec_parse(json, strlen(json), &spec, &err) < 0) {
                printf("# parse: %s\n", err->msg);
                abort();
        }
        return spec;
}

static void apply_and_report(const struct oci_spec *spec, FILE *out)
{
        struct process_identity id = {0};
        _cleanup_error_ cocoon_error *err = NULL;
        int r = process_resolve_identity(&spec->process, &id, &err);
        if (r == 0)
                r = process_apply(&spec->process, &id, spec->seccomp, &err);
        if (r < 0) {
                fprintf(out, "error=%s", err ? err->msg : "?");
                return;
        }
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        char oom[16] = "";
        _cleanup_free_ char *oom_text = NULL;
        size_t len;
        if (read_file("/proc/self/oom_score_adj", 64, &oom_text, &len) == 0)
                snprintf(oom, sizeof(oom), "%.*s", (int) strcspn(oom_text, "\n"), oom_text);
        errno = 0;
        int mk = mkdir("/proc/forbidden", 0700);
        int mk_errno = errno;
        _cleanup_free_ char *eff = status_field("CapEff"), *bnd = status_field("CapBnd"), *amb = status_field("CapAmb"),
                            *nnp = status_field("NoNewPrivs"), *sec = status_field("Seccomp");
        char cwd[256] = "";
        if (!getcwd(cwd, sizeof(cwd)))
                strcpy(cwd, "?");
        fprintf(out, "uid=%u gid=%u ngroups=%d nofile=%llu/%llu oom=%s eff=%s bnd=%s amb=%s nnp=%s seccomp=%s mkdir=%d/%d cwd=%s umask=%03o",
                (unsigned) getuid(), (unsigned) getgid(), getgroups(0, NULL), (unsigned long long) rl.rlim_cur,
                (unsigned long long) rl.rlim_max, oom, eff, bnd, amb, nnp, sec, mk, mk_errno, cwd, (unsigned) umask(0));
}

static void test_apply(void)
{
        _cleanup_spec_ struct oci_spec *spec = parse(
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"},"
                " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/tmp\", \"noNewPrivileges\": true, \"oomScoreAdj\": 200,"
                "  \"user\": {\"uid\": 1234, \"gid\": 4321, \"additionalGids\": [5, 6], \"umask\": 23},"
                "  \"capabilities\": {\"bounding\": [\"CAP_KILL\", \"CAP_CHOWN\"], \"effective\": [\"CAP_KILL\"],"
                "    \"permitted\": [\"CAP_KILL\"], \"inheritable\": [\"CAP_KILL\"], \"ambient\": [\"CAP_KILL\"]},"
                "  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 100, \"hard\": 200}]},"
                " \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                "   {\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},"
                "   {\"names\": [\"not_a_syscall\"], \"action\": \"SCMP_ACT_KILL\"}]}}}");
        _cleanup_free_ char *out = NULL;
        in_child(apply_and_report, spec, &out);
        printf("# %s\n", out);
        TAP_CONTAINS(out, "uid=1234 gid=4321 ngroups=2 ", "identity: uid, gid, additionalGids");
        TAP_CONTAINS(out, "nofile=100/200", "process.rlimits: NOFILE 100/200");
        TAP_CONTAINS(out, "oom=200", "process.oomScoreAdj");
        TAP_CONTAINS(out, "eff=0000000000000020 bnd=0000000000000021 amb=0000000000000020",
                     "capabilities kept across setuid: effective, bounding, ambient");
        TAP_CONTAINS(out, "nnp=1 seccomp=2", "no_new_privs and a seccomp filter");
        TAP_CONTAINS(out, "mkdir=-1/38", "seccomp: mkdir fails with errnoRet 38 (ENOSYS); unknown names skipped");
        TAP_CONTAINS(out, "cwd=/tmp umask=027", "working directory and umask");
}

static void test_seccomp_kill(void)
{
        /* Without no_new_privs the filter is loaded while still privileged; KILL_PROCESS ends the process. */
        _cleanup_spec_ struct oci_spec *spec = parse(
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"},"
                " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"},"
                " \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
                "   \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}}}");
        _cleanup_free_ char *out = NULL;
        int status = in_child(apply_and_report, spec, &out);
        TAP_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "SCMP_ACT_KILL_PROCESS: killed by SIGSYS");
}

static void test_seccomp_bad_arch(void)
{
        _cleanup_spec_ struct oci_spec *spec = parse(
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"},"
                " \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}}}");
        _cleanup_free_ char *out = NULL;
        in_child(apply_and_report, spec, &out);
        TAP_CONTAINS(out, "error=linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"",
                     "an unknown architecture is an error naming the field");
}

static void write_text(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *p = path_join(dir, name);
        (void) mkdir_p(dir, 0755);
        FILE *f = fopen(p, "w");
        fputs(text, f);
        fclose(f);
}

static void test_passwd(void)
{
        _cleanup_free_ char *etc = path_join(tmpdir, "etc");
        write_text(etc, "passwd", "root:x:0:0:root:/root:/bin/sh\nbroken line\nweb:x:33:44:Web:/var/www:/bin/false\n"
                                  "nohome:x:70:70::\n");
        write_text(etc, "group", "root:x:0:\nadm:x:4:web,other\nwww:x:44:\nstaff:x:50:other,web\nbad:x:zz:web\n");
        struct passwd_user u = {0};
        _cleanup_error_ cocoon_error *err = NULL;
        int r = passwd_lookup(tmpdir, "web", &u, &err);
        TAP_OK(r == 0 && u.uid == 33 && u.gid == 44 && strcmp(u.home, "/var/www") == 0, "web: uid 33, gid 44, home");
        TAP_OK(r == 0 && u.n_groups == 2 && u.groups[0] == 4 && u.groups[1] == 50, "web: supplementary groups 4 and 50");
        passwd_user_free(&u);
        r = passwd_lookup(tmpdir, "nohome", &u, &err);
        TAP_OK(r == 0 && u.uid == 70 && strcmp(u.home, "/") == 0, "an entry without a home gets /");
        passwd_user_free(&u);
        r = passwd_lookup(tmpdir, "1500", &u, &err);
        TAP_OK(r == 0 && u.uid == 1500 && u.gid == 0, "a number with no entry: that uid, gid 0");
        passwd_user_free(&u);
        r = passwd_lookup(tmpdir, "nobody-here", &u, &err);
        TAP_OK(r == -ENOENT, "an unknown name: -ENOENT");
        TAP_CONTAINS(err ? err->msg : NULL, "no user \"nobody-here\" in the container's /etc/passwd", "and says which");
        error_free(TAKE_PTR(err));
        r = passwd_lookup_uid(tmpdir, 33, &u, &err);
        TAP_OK(r == 1 && u.gid == 44, "lookup by uid");
        passwd_user_free(&u);
        TAP_OK(passwd_lookup_uid(tmpdir, 99, &u, &err) == 0, "no entry for a uid: 0");
}

static void test_hooks(void)
{
        _cleanup_free_ char *log = path_join(tmpdir, "hook.log");
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "cat > %s; echo \"$1 $K\" >> %s", log, log) < 0)
                abort();
        char *args[] = {"sh", "-c", cmd, "sh", "first", NULL};
        char *env[] = {"K=V", NULL};
        struct spec_hook ok_hook = {.path = "/bin/sh", .args = args, .n_args = 5, .env = env, .n_env = 1, .has_env = true};
        _cleanup_error_ cocoon_error *err = NULL;
        int r = hooks_run(&ok_hook, 1, "{\"id\":\"x\"}", "prestart", &err);
        _cleanup_free_ char *text = NULL;
        size_t len;
        (void) read_file(log, 4096, &text, &len);
        TAP_OK(r == 0, "a hook that succeeds");
        TAP_STR_EQ(text, "{\"id\":\"x\"}first V\n", "the hook reads the state on stdin, gets its args and env");

        /* No env in the hook: the runtime's own, as runc and crun pass theirs. */
        (void) unlink(log);
        setenv("K", "from-the-runtime", 1);
        struct spec_hook inherit = {.path = "/bin/sh", .args = args, .n_args = 5};
        r = hooks_run(&inherit, 1, "{}", "prestart", &err);
        free(TAKE_PTR(text));
        (void) read_file(log, 4096, &text, &len);
        TAP_STR_EQ(r == 0 ? text : NULL, "{}first from-the-runtime\n", "a hook without env gets the runtime's environment");
        (void) unlink(log);
        char *no_vars[] = {NULL};
        struct spec_hook empty = {.path = "/bin/sh", .args = args, .n_args = 5, .env = no_vars, .has_env = true};
        r = hooks_run(&empty, 1, "{}", "prestart", &err);
        free(TAKE_PTR(text));
        (void) read_file(log, 4096, &text, &len);
        TAP_STR_EQ(r == 0 ? text : NULL, "{}first \n", "a hook with \"env\": [] gets an empty environment");
        unsetenv("K");

        char *fail_args[] = {"sh", "-c", "echo broken >&2; exit 4", NULL};
        struct spec_hook hooks[] = {{.path = "/bin/sh", .args = fail_args, .n_args = 3}, ok_hook};
        r = hooks_run(hooks, 2, "{}", "poststop", &err);
        TAP_OK(r < 0, "a failing hook fails the run");
        TAP_CONTAINS(err ? err->msg : NULL, "error running poststop hook #0: /bin/sh: exited with status 4: broken",
                     "the error names the kind, the path, the status and the output");
        error_free(TAKE_PTR(err));

        char *slow_args[] = {"sleep", "10", NULL};
        struct spec_hook slow = {.path = "/bin/sleep", .args = slow_args, .n_args = 2, .has_timeout = true, .timeout = 1};
        r = hooks_run(&slow, 1, "{}", "createRuntime", &err);
        TAP_OK(r == -ETIMEDOUT, "a hook past its timeout is killed");
        TAP_CONTAINS(err ? err->msg : NULL, "error running createRuntime hook #0: /bin/sleep: timed out after 1s", "and says so");
        error_free(TAKE_PTR(err));

        struct spec_hook missing = {.path = "/nonexistent/hook"};
        r = hooks_run(&missing, 1, "{}", "poststart", &err);
        TAP_CONTAINS(err ? err->msg : NULL, "error running poststart hook #0: /nonexistent/hook: exited with status 127: exec: No such file",
                     "a missing hook binary");

        struct oci_spec spec = {.oci_version = "1.1.0", .id = "c1", .bundle = "/b"};
        _cleanup_free_ char *state = hooks_state_json(&spec, "created", 42);
        TAP_STR_EQ(state, "{\"ociVersion\":\"1.1.0\",\"id\":\"c1\",\"status\":\"created\",\"pid\":42,\"bundle\":\"/b\"}",
                   "the state document");
}

/* process.env as execve gets it, joined by spaces. */
static char *env_of(char **in, size_t n, const char *home)
{
        struct spec_process p = {.env = in, .n_env = n};
        struct process_identity id = {.home = (char *) home};
        _cleanup_free_ char **env = process_env(&p, &id);
        char *out = strdup("");
        for (size_t i = 0; env && env[i]; i++) {
                char *next = NULL;
                if (asprintf(&next, "%s%s%s", out, *out ? " " : "", env[i]) < 0)
                        abort();
                free(out);
                out = next;
        }
        return out;
}

static void test_env(void)
{
        char *plain[] = {"PATH=/bin", "TERM=xterm"};
        char *dup[] = {"ONE=two", "PATH=/bin", "ONE=", "ONEX=1", "ONE=three"};
        char *empty_home[] = {"HOME=/override", "A=1", "HOME="};
        char *set_home[] = {"HOME=", "HOME=/h"};
        _cleanup_free_ char *a = env_of(plain, 2, "/root");
        TAP_STR_EQ(a, "PATH=/bin TERM=xterm HOME=/root", "HOME from passwd is added when the env has none");
        _cleanup_free_ char *b = env_of(dup, 5, "/root");
        TAP_STR_EQ(b, "PATH=/bin ONEX=1 ONE=three HOME=/root", "only the last of each name is kept, where it stands");
        _cleanup_free_ char *c = env_of(empty_home, 3, "/root");
        TAP_STR_EQ(c, "A=1 HOME=/root", "an empty HOME, even after another, is replaced by passwd's");
        _cleanup_free_ char *d = env_of(set_home, 2, "/root");
        TAP_STR_EQ(d, "HOME=/h", "a HOME set last is kept as it is");
        _cleanup_free_ char *e = env_of(NULL, 0, "/");
        TAP_STR_EQ(e, "HOME=/", "an empty env gets HOME alone");
}

int main(void)
{
        if (!mkdtemp(tmpdir))
                abort();
        test_passwd();
        test_env();
        test_hooks();
        if (geteuid() == 0) {
                test_apply();
                test_seccomp_kill();
                test_seccomp_bad_arch();
        } else {
                printf("# not root: process_apply cases skipped\n");
        }
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf %s", tmpdir) > 0)
                (void) system(cmd);
        return tap_done();
}
