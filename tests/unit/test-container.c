/*
 * core/container.c on this host: a container's init in new namespaces
 * (user namespace included), then a process exec'd into it, which must join
 * the same namespaces (the user namespace first) and get its own
 * capabilities, rlimits, no_new_privs and user from its process spec, and the
 * container's seccomp filter. Needs root and busybox-static; skips otherwise.
 */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test-container.XXXXXX";

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
}

static int make_rootfs(const char *rootfs)
{
        static const char *const applets[] = {"sh", "cat", "sleep", "grep", "id", "mkdir", "echo", "ls", "readlink"};
        _cleanup_free_ char *bin = path_join(rootfs, "bin"), *etc = path_join(rootfs, "etc"),
                            *proc = path_join(rootfs, "proc"), *dev = path_join(rootfs, "dev");
        if (mkdir_p(bin, 0755) < 0 || mkdir_p(etc, 0755) < 0 || mkdir_p(proc, 0755) < 0 || mkdir_p(dev, 0755) < 0)
                return -1;
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "cp /bin/busybox %s/busybox", bin) < 0 || system(cmd) != 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
                _cleanup_free_ char *link = path_join(bin, applets[i]);
                if (symlink("busybox", link) < 0)
                        return -1;
        }
        _cleanup_free_ char *passwd = path_join(etc, "passwd"), *group = path_join(etc, "group");
        write_text(passwd, "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\n");
        write_text(group, "root:x:0:\nwheel:x:10:tester\n");
        return 0;
}

static const char config[] =
        "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"rootfs\"},"
        " \"process\": {\"args\": [\"sleep\", \"30\"], \"cwd\": \"/\", \"env\": [\"PATH=/bin\"]},"
        " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        "              {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
        "               \"options\": [\"mode=755\"]}],"
        " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"ipc\"},"
        "                              {\"type\": \"uts\"}, {\"type\": \"user\"}, {\"type\": \"time\"}],"
        "   \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
        "   \"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
        "   \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\","
        "     \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]}}}";

static const char exec_process[] =
        "{\"args\": [\"sh\", \"-c\", \"grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
        " cat /proc/self/uid_map; echo uid=$(id -u) groups=$(id -G) home=$HOME nofile=$(ulimit -n);"
        " mkdir /dev/x 2>/dev/null; echo mkdir=$?; echo ns=$(readlink /proc/self/ns/time)\"],"
        " \"cwd\": \"/\", \"env\": [\"PATH=/bin\"], \"noNewPrivileges\": true,"
        " \"user\": {\"username\": \"tester\"},"
        " \"capabilities\": {\"bounding\": [\"CAP_KILL\"], \"effective\": [\"CAP_KILL\"], \"permitted\": [\"CAP_KILL\"],"
        "   \"inheritable\": [\"CAP_KILL\"], \"ambient\": [\"CAP_KILL\"]},"
        " \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 256, \"hard\": 256}]}";

static void test_exec(const char *bundle)
{
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = spec_parse(config, strlen(config), &spec, &err);
        TAP_OK(r == 0, "the container's spec parses");
        if (r < 0)
                return;
        _cleanup_free_ char *rootfs = path_join(bundle, "rootfs");
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        struct container_stdio quiet = {devnull, devnull, devnull};
        struct container_init init;
        r = container_create(spec, rootfs, &quiet, -1, &init, &err);
        TAP_OK(r == 0, "container_create with a new user namespace");
        if (r < 0) {
                printf("# %s\n", err->msg);
                return;
        }
        r = container_start(&init, &err);
        TAP_OK(r == 0, "the init starts");

        struct spec_process proc;
        r = spec_parse_process(exec_process, strlen(exec_process), &proc, &err);
        TAP_OK(r == 0, "the exec's process spec parses");
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                abort();
        struct container_stdio stdio = {devnull, out[1], out[1]};
        struct container_init x;
        r = container_exec(spec, init.pid, &proc, &stdio, -1, &x, &err);
        close(out[1]);
        TAP_OK(r == 0, "container_exec joins the container");
        if (r == 0) {
                r = container_start(&x, &err);
                TAP_OK(r == 0, "the exec'd process starts");
                char buf[4096];
                tap_read_all(out[0], buf, sizeof(buf));
                int status;
                (void) waitpid(x.pid, &status, 0);
                container_init_release(&x);
                /* As TAP diagnostics: one "# " per line, or meson reads them as unknown TAP. */
                for (char *line = buf, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
                        nl = strchr(line, '\n');
                        printf("# %.*s\n", nl ? (int) (nl - line) : (int) strlen(line), line);
                }
                TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the exec'd process exits 0");
                TAP_CONTAINS(buf, "0     100000      65536", "it is in the container's user namespace");
                TAP_CONTAINS(buf, "uid=1000 groups=1000 10 home=/home/tester", "process.user.username resolved in the container");
                TAP_CONTAINS(buf, "CapEff:\t0000000000000020", "its own effective capabilities (ambient, as uid 1000)");
                TAP_CONTAINS(buf, "CapBnd:\t0000000000000020", "its own bounding set");
                TAP_CONTAINS(buf, "NoNewPrivs:\t1", "its own noNewPrivileges");
                TAP_CONTAINS(buf, "Seccomp:\t2", "the container's seccomp filter");
                TAP_CONTAINS(buf, "nofile=256", "its own rlimits");
                TAP_CONTAINS(buf, "mkdir=1", "seccomp refuses mkdir");
                char link[64] = "", path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/time", (int) init.pid);
                ssize_t n = readlink(path, link, sizeof(link) - 1);
                char want[80];
                snprintf(want, sizeof(want), "ns=%s", n > 0 ? link : "?");
                TAP_CONTAINS(buf, want, "it is in the init's time namespace");
                char own[64] = "";
                n = readlink("/proc/self/ns/time", own, sizeof(own) - 1);
                TAP_OK(n > 0 && strcmp(own, link) != 0, "which is not the host's");
        } else {
                printf("# %s\n", err->msg);
        }
        close(out[0]);
        spec_process_free(&proc);
        (void) kill(init.pid, SIGKILL);
        (void) waitpid(init.pid, NULL, 0);
        container_init_release(&init);
        close(devnull);
}

/*
 * Without a user namespace nothing orders the intermediate's pid report
 * before the process's own ready report: many execs, each must start and
 * be reaped by its pid (a ready report read first once failed the exec
 * with the pid as its error number).
 */
static void test_exec_report_order(const char *bundle)
{
        static const char plain[] =
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"rootfs\"},"
                " \"process\": {\"args\": [\"sleep\", \"30\"], \"cwd\": \"/\", \"env\": [\"PATH=/bin\"]},"
                " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}],"
                " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}]}}";
        static const char quick[] = "{\"args\": [\"echo\"], \"cwd\": \"/\", \"env\": [\"PATH=/bin\"]}";
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        struct spec_process proc = {0};
        int r = spec_parse(plain, strlen(plain), &spec, &err);
        if (r == 0)
                r = spec_parse_process(quick, strlen(quick), &proc, &err);
        TAP_OK(r == 0, "a pid-namespace container's spec and a short exec parse");
        if (r < 0)
                return;
        _cleanup_free_ char *rootfs = path_join(bundle, "rootfs");
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        struct container_stdio quiet = {devnull, devnull, devnull};
        struct container_init init = {.start_fd = -1, .status_fd = -1, .console_fd = -1};
        r = container_create(spec, rootfs, &quiet, -1, &init, &err);
        if (r == 0)
                r = container_start(&init, &err);
        TAP_OK(r == 0, "its init starts");
        int started = 0, reaped = 0;
        for (int i = 0; r == 0 && i < 60; i++) {
                struct container_init x;
                _cleanup_error_ cocoon_error *xerr = NULL;
                if (container_exec(spec, init.pid, &proc, &quiet, -1, &x, &xerr) < 0 ||
                    container_start(&x, &xerr) < 0) {
                        printf("# exec %d: %s\n", i, xerr ? xerr->msg : "?");
                        continue;
                }
                started++;
                int status;
                if (waitpid(x.pid, &status, 0) == x.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                        reaped++;
                container_init_release(&x);
        }
        TAP_OK(started == 60, "60 execs into a pid namespace all start (%d did)", started);
        TAP_OK(reaped == 60, "and each is reaped by the pid it reported, exiting 0 (%d were)", reaped);
        spec_process_free(&proc);
        if (init.pid > 0)
                (void) kill(init.pid, SIGKILL);
        /* Every child: an exec that failed set-up may leave one the pid namespace's end waits for. */
        while (waitpid(-1, NULL, 0) > 0)
                ;
        container_init_release(&init);
        close(devnull);
}

int main(void)
{
        if (geteuid() != 0 || access("/bin/busybox", X_OK) < 0) {
                printf("1..0 # SKIP needs root and /bin/busybox (busybox-static)\n");
                return 77;
        }
        if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) < 0)
                abort();
        _cleanup_free_ char *rootfs = path_join(tmpdir, "rootfs");
        if (make_rootfs(rootfs) < 0) {
                printf("# cannot make the rootfs\n");
                return 1;
        }
        test_exec(tmpdir);
        test_exec_report_order(tmpdir);
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf %s", tmpdir) > 0)
                (void) system(cmd);
        return tap_done();
}
