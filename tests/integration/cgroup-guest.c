/*
 * core/cgroup.c against a real cgroup v2 kernel: this machine's host has
 * none, so test-cgroups.sh copies this static program into a bundle and runs
 * it as a container in a cocoon guest, with /sys/fs/cgroup mounted
 * read-write at the container's cgroup (its cgroup namespace root).
 *
 * The program first moves itself into a leaf ("self"), since a cgroup with
 * processes cannot hand controllers down, then works on "t/a" below the
 * root: create, apply, freeze, list, stats, device rules, signal, remove.
 * It prints TAP lines (without a plan; the script counts them).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"

static int failed;

static void ok(int cond, const char *what, cocoon_error *err)
{
        printf("%s - %s", cond ? "ok" : "not ok", what);
        if (!cond && err)
                printf(" (%s)", err->msg);
        printf("\n");
        fflush(stdout);
        failed |= !cond;
}

static char *slurp(const char *dir, const char *file)
{
        _cleanup_free_ char *p = path_join(dir, file);
        char *text = NULL;
        size_t len;
        if (!p || read_file(p, 1 << 20, &text, &len) < 0)
                return strdup("(unreadable)");
        text[strcspn(text, "\n")] = '\0';
        return text;
}

static bool file_is(const char *dir, const char *file, const char *want)
{
        _cleanup_free_ char *got = slurp(dir, file);
        if (strcmp(got, want) != 0)
                printf("#   %s is \"%s\", expected \"%s\"\n", file, got, want);
        return strcmp(got, want) == 0;
}

/* A child that sleeps in dir until killed, with 1 MiB touched there. */
static pid_t sleeper(const char *dir)
{
        int go[2], ready[2];
        if (pipe(go) < 0 || pipe(ready) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                char b;
                (void) read(go[0], &b, 1); /* moved into its cgroup by then */
                /* Pages are charged where they are first touched, so touch some here. */
                volatile char *m = malloc(1 << 20); /* volatile: the compiler may not drop the stores */
                for (size_t i = 0; m && i < 1 << 20; i += 4096)
                        m[i] = 1;
                (void) write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        char pidstr[16], b;
        snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);
        (void) cgroup_write(dir, "cgroup.procs", pidstr, NULL);
        (void) write(go[1], "x", 1);
        (void) read(ready[0], &b, 1);
        close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
        return pid;
}

/* What open(2) of a fresh node c major:minor says in a child placed in dir: 0 or an errno. */
static int try_open(const char *dir, unsigned major, unsigned minor)
{
        (void) unlink("/dev/cgtest");
        if (mknod("/dev/cgtest", S_IFCHR | 0600, makedev(major, minor)) < 0)
                return errno;
        int p[2];
        if (pipe(p) < 0)
                return errno;
        pid_t pid = fork();
        if (pid == 0) {
                char b;
                (void) read(p[0], &b, 1);
                int fd = open("/dev/cgtest", O_RDONLY | O_NONBLOCK);
                _exit(fd < 0 ? errno : 0);
        }
        close(p[0]);
        char pidstr[16];
        snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);
        (void) cgroup_write(dir, "cgroup.procs", pidstr, NULL);
        (void) write(p[1], "x", 1);
        close(p[1]);
        int status;
        (void) waitpid(pid, &status, 0);
        (void) unlink("/dev/cgtest");
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
        const char *root = CGROUP_ROOT;
        cocoon_error *err = NULL;
        char pidstr[16];
        snprintf(pidstr, sizeof(pidstr), "%d", (int) getpid());
        _cleanup_free_ char *self = path_join(root, "self");
        if (mkdir(self, 0755) < 0 || cgroup_write(self, "cgroup.procs", pidstr, &err) < 0) {
                printf("not ok - moving into a leaf cgroup (%s)\n", err ? err->msg : strerror(errno));
                return 1;
        }

        _cleanup_free_ char *dir = NULL;
        int r = cgroup_create(root, "t/a", &dir, &err);
        ok(r == 0 && dir && strcmp(dir, "/sys/fs/cgroup/t/a") == 0, "cgroup_create makes t/a", err);
        _cleanup_free_ char *parent = path_join(root, "t");
        _cleanup_free_ char *sc = slurp(parent, "cgroup.subtree_control");
        ok(strstr(sc, "memory") && strstr(sc, "pids") && strstr(sc, "cpu") && strstr(sc, "io"),
           "the parent hands memory, pids, cpu and io down", NULL);
        printf("#   t/cgroup.subtree_control: %s\n", sc);
        _cleanup_free_ char *again = NULL;
        ok(cgroup_create(root, "t/a", &again, &err) == 0, "creating it again is fine", err);

        const char *json = "{\"memory\": {\"limit\": 33554432, \"reservation\": 1048576},"
                           " \"cpu\": {\"shares\": 2048, \"quota\": 25000, \"period\": 100000},"
                           " \"pids\": {\"limit\": 7}, \"unified\": {\"memory.high\": \"30000000\"},"
                           " \"devices\": [{\"allow\": false, \"access\": \"rwm\"}]}";
        _cleanup_resources_ struct resources *res = NULL;
        r = resources_parse(json, strlen(json), &res, &err);
        if (r == 0)
                r = cgroup_apply(dir, res, "", false, &err);
        ok(r == 0, "cgroup_apply with memory, cpu, pids, unified and devices", err);
        ok(file_is(dir, "memory.max", "33554432") && file_is(dir, "memory.low", "1048576") &&
                   file_is(dir, "memory.high", "29999104") && file_is(dir, "cpu.max", "25000 100000") &&
                   file_is(dir, "cpu.weight", "174") && file_is(dir, "pids.max", "7"),
           "the files say what the spec asked (memory.high rounded to pages)", NULL);

        /* /dev/console is c 5:1, not among the devices every container gets. */
        int e = try_open(dir, 5, 1);
        ok(e == EPERM, "device rules: c 5:1 cannot be opened in the cgroup", NULL);
        if (e != EPERM)
                printf("#   open said %s\n", e ? strerror(e) : "ok");
        ok(try_open(dir, 1, 5) == 0, "device rules: c 1:5 (zero) opens", NULL);
        ok(try_open(self, 5, 1) == 0, "outside the cgroup c 5:1 opens", NULL);
        _cleanup_resources_ struct resources *allow = NULL;
        const char *allow_json = "{\"devices\": [{\"allow\": true, \"type\": \"c\", \"major\": 5, \"minor\": 1}]}";
        r = resources_parse(allow_json, strlen(allow_json), &allow, &err);
        if (r == 0)
                r = cgroup_apply(dir, allow, "", false, &err);
        ok(r == 0 && try_open(dir, 5, 1) == 0, "new device rules replace the old program", err);

        const char *bad = "{\"memory\": {\"limit\": 4096}, \"cpu\": {\"cpus\": \"99\"}}";
        _cleanup_resources_ struct resources *badres = NULL;
        r = resources_parse(bad, strlen(bad), &badres, &err);
        if (r == 0)
                r = cgroup_apply(dir, badres, "linux.resources", false, &err);
        ok(r < 0 && err && strstr(err->msg, "linux.resources.cpu.cpus: writing 99 to cpuset.cpus"),
           "a refused value names the field and the file", err);
        if (err)
                printf("#   %s\n", err->msg);
        error_free(err);
        err = NULL;
        (void) cgroup_write(dir, "memory.max", "33554432", NULL);

        pid_t a = sleeper(dir), b = sleeper(dir);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        r = cgroup_pids(parent, &pids, &n, &err);
        ok(r == 0 && n == 2 && ((pids[0] == a && pids[1] == b) || (pids[0] == b && pids[1] == a)),
           "cgroup_pids of the parent lists both sleepers below it", err);

        r = cgroup_freeze(dir, true, 5000, &err);
        ok(r == 0, "cgroup_freeze returns once frozen", err);
        _cleanup_free_ char *ev = path_join(dir, "cgroup.events");
        _cleanup_free_ char *evtext = NULL;
        size_t evlen;
        ok(read_file(ev, 4096, &evtext, &evlen) == 0 && strstr(evtext, "frozen 1"), "cgroup.events says frozen 1",
           NULL);
        r = cgroup_freeze(dir, false, 5000, &err);
        free(evtext);
        evtext = NULL;
        ok(r == 0 && read_file(ev, 4096, &evtext, &evlen) == 0 && strstr(evtext, "frozen 0"),
           "cgroup_freeze(false) thaws", err);

        struct cgroup_stats st;
        r = cgroup_stats(dir, &st, &err);
        ok(r == 0 && st.pids_current == 2 && st.pids_max == 7 && st.memory_max == 33554432 && st.memory_current >= 2 << 20 &&
                   st.n_memory_stat > 10,
           "cgroup_stats: pids 2 of 7, memory limit, the 2 MiB they touched, memory.stat", err);
        if (r == 0)
                printf("#   usage_usec %llu, memory %llu, peak %llu, %zu memory.stat entries\n",
                       (unsigned long long) st.cpu_usage_usec, (unsigned long long) st.memory_current,
                       (unsigned long long) st.memory_peak, st.n_memory_stat);
        struct cgroup_stats root_st;
        r = cgroup_stats(self, &root_st, &err);
        ok(r == 0 && root_st.memory_max == 0 && root_st.pids_max == 0, "no limit reads as 0", err);
        cgroup_stats_release(&st);
        cgroup_stats_release(&root_st);

        /* SIGTERM goes pid by pid; both die of it. */
        r = cgroup_signal_all(dir, SIGTERM, &err);
        int sa = 0, sb = 0;
        (void) waitpid(a, &sa, 0);
        (void) waitpid(b, &sb, 0);
        ok(r == 0 && WIFSIGNALED(sa) && WTERMSIG(sa) == SIGTERM && WIFSIGNALED(sb) && WTERMSIG(sb) == SIGTERM,
           "cgroup_signal_all(SIGTERM) reaches every process", err);

        /* SIGKILL through cgroup.kill also reaches frozen processes. */
        a = sleeper(dir);
        (void) cgroup_freeze(dir, true, 5000, NULL);
        r = cgroup_signal_all(dir, SIGKILL, &err);
        (void) waitpid(a, &sa, 0);
        ok(r == 0 && WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL, "SIGKILL reaches a frozen process", err);
        (void) cgroup_freeze(dir, false, 5000, NULL);

        /* Removal with a live process in a child cgroup: killed, then removed. */
        _cleanup_free_ char *deep = NULL;
        r = cgroup_create(root, "t/a/deep", &deep, &err);
        a = r == 0 ? sleeper(deep) : -1;
        /* Not reaped meanwhile: an exited process no longer counts as a member, zombie or not. */
        r = cgroup_remove(parent, &err);
        ok(r == 0 && access(parent, F_OK) < 0, "cgroup_remove kills what is left and removes the tree", err);
        (void) waitpid(a, &sa, 0);
        ok(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL, "the process left in it was killed", NULL);
        ok(cgroup_remove(parent, &err) == 0, "removing a missing cgroup is fine", err);
        return failed;
}
