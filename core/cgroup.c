/* cgroup v2: directories, resource files, freezer, processes, statistics. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cleanup.h"
#include "fsutil.h"

static inline void closedirp(DIR **d)
{
        if (*d)
                (void) closedir(*d);
}

/* Files here are small: a few KiB for memory.stat, cgroup.procs of a big container a few hundred KiB. */
#define CGROUP_FILE_MAX (4u << 20)

bool cgroup_is_v2(const char *root)
{
        struct statfs sfs;
        return statfs(root, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static bool component_ok(const char *s, size_t len)
{
        return len > 0 && !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

/* Appends "/comp" (or "comp" at the start) to *buf. */
static int append(char **buf, const char *comp, size_t len)
{
        size_t old = *buf ? strlen(*buf) : 0;
        char *n = realloc(*buf, old + len + 2);
        if (!n)
                return -ENOMEM;
        if (old)
                n[old++] = '/';
        memcpy(n + old, comp, len);
        n[old + len] = '\0';
        *buf = n;
        return 0;
}

/* "a-b-c.slice" lives at "a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
static int expand_slice(const char *slice, char **buf)
{
        size_t len = strlen(slice);
        if (len < 6 || strcmp(slice + len - 6, ".slice") != 0)
                return -EINVAL;
        if (strcmp(slice, "-.slice") == 0)
                return 0;
        const char *name_end = slice + len - 6;
        if (slice[0] == '-' || name_end[-1] == '-' || strstr(slice, "--") || memchr(slice, '/', len))
                return -EINVAL;
        for (const char *dash = slice;; dash++) {
                dash = memchr(dash, '-', name_end - dash);
                size_t prefix = dash ? (size_t) (dash - slice) : (size_t) (name_end - slice);
                _cleanup_free_ char *unit = NULL;
                if (asprintf(&unit, "%.*s.slice", (int) prefix, slice) < 0)
                        return -ENOMEM;
                int r = append(buf, unit, strlen(unit));
                if (r < 0 || !dash)
                        return r;
        }
}

static int systemd_path(const char *spec, char **buf)
{
        const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strchr(c2 + 1, ':'))
                return -EINVAL;
        _cleanup_free_ char *slice = strndup(spec, c1 - spec);
        _cleanup_free_ char *prefix = strndup(c1 + 1, c2 - c1 - 1);
        const char *name = c2 + 1;
        if (!slice || !prefix)
                return -ENOMEM;
        int r = expand_slice(*slice ? slice : "system.slice", buf);
        if (r < 0)
                return r;
        if (!*name || strchr(name, '/') || !component_ok(name, strlen(name)))
                return -EINVAL;
        size_t nl = strlen(name);
        /* A name that is itself a slice is used as is; anything else becomes prefix-name.scope. */
        if (nl > 6 && strcmp(name + nl - 6, ".slice") == 0)
                return append(buf, name, nl);
        _cleanup_free_ char *unit = NULL;
        if (asprintf(&unit, "%s%s%s.scope", prefix, *prefix ? "-" : "", name) < 0)
                return -ENOMEM;
        return append(buf, unit, strlen(unit));
}

static int plain_path(const char *p, char **buf)
{
        for (;;) {
                p += strspn(p, "/");
                if (!*p)
                        return 0;
                size_t len = strcspn(p, "/");
                if (!component_ok(p, len))
                        return -EINVAL;
                int r = append(buf, p, len);
                if (r < 0)
                        return r;
                p += len;
        }
}

int cgroup_path_for(const char *cgroups_path, const char *default_parent, const char *id, char **ret,
                    cocoon_error **err)
{
        _cleanup_free_ char *buf = NULL;
        int r;
        if (cgroups_path && *cgroups_path) {
                /* A plain path starts with "/"; systemd's form has exactly two colons and no leading slash. */
                r = cgroups_path[0] != '/' && strchr(cgroups_path, ':') ? systemd_path(cgroups_path, &buf)
                                                                          : plain_path(cgroups_path, &buf);
                if (r == -EINVAL)
                        return error_set(err, EINVAL, "linux.cgroupsPath: invalid cgroup path \"%.256s\"",
                                         cgroups_path);
        } else {
                r = plain_path(default_parent, &buf);
                if (r == 0)
                        r = plain_path(id, &buf);
        }
        if (r < 0)
                return error_sys(err, -r, "cgroup path");
        if (!buf)
                return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\" is the root cgroup", cgroups_path);
        *ret = TAKE_PTR(buf);
        return 0;
}

int cgroup_write(const char *dir, const char *file, const char *value, cocoon_error **err)
{
        _cleanup_free_ char *p = path_join(dir, file);
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno == ENOENT ? ENOTSUP : errno; /* no such file: its controller is not there */
                return error_sys(err, e, "writing %s to %s", value, file);
        }
        /* cgroup files take one value per write(2); a short write is an error from the kernel. */
        ssize_t n = write(fd, value, strlen(value));
        if (n < 0)
                return error_sys(err, errno, "writing %s to %s", value, file);
        return 0;
}

static int read_dir_file(const char *dir, const char *file, char **ret)
{
        _cleanup_free_ char *p = path_join(dir, file);
        if (!p)
                return -ENOMEM;
        size_t len;
        return read_file(p, CGROUP_FILE_MAX, ret, &len);
}

/* The controllers to enable for containers, those the root offers. */
static const char *const wanted_controllers[] = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb", "misc"};

static bool word_in(const char *list, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += wl)
                if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\0'))
                        return true;
        return false;
}

static int enable_controllers(const char *dir, const char *available, cocoon_error **err)
{
        _cleanup_free_ char *enabled = NULL;
        int r = read_dir_file(dir, "cgroup.subtree_control", &enabled);
        if (r < 0)
                return error_sys(err, -r, "reading %s/cgroup.subtree_control", dir);
        for (size_t i = 0; i < ARRAY_SIZE(wanted_controllers); i++) {
                const char *c = wanted_controllers[i];
                if (!word_in(available, c) || word_in(enabled, c))
                        continue;
                char plus[32];
                snprintf(plus, sizeof(plus), "+%s", c);
                r = cgroup_write(dir, "cgroup.subtree_control", plus, err);
                if (r < 0)
                        return error_wrap(err, r, "%s", dir);
        }
        return 0;
}

int cgroup_create(const char *root, const char *rel, char **ret, cocoon_error **err)
{
        _cleanup_free_ char *available = NULL;
        int r = read_dir_file(root, "cgroup.controllers", &available);
        if (r < 0)
                return error_sys(err, -r, "reading %s/cgroup.controllers", root);

        _cleanup_free_ char *dir = strdup(root);
        if (!dir)
                return -ENOMEM;
        const char *p = rel;
        for (;;) {
                p += strspn(p, "/");
                if (!*p)
                        break;
                /* The parent must hand its controllers down before the child exists to use them. */
                r = enable_controllers(dir, available, err);
                if (r < 0)
                        return r;
                size_t len = strcspn(p, "/");
                if (!component_ok(p, len))
                        return error_set(err, EINVAL, "invalid cgroup path %s", rel);
                r = append(&dir, p, len);
                if (r < 0)
                        return r;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return error_sys(err, errno, "creating cgroup %s", dir);
                p += len;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

/*
 * A period without a quota is "max PERIOD" in resources_v2_writes(), which
 * would lift the quota; on a cgroup that has one, an update of the period
 * alone (`update --cpu-period`) keeps it instead.
 */
static char *keep_quota(const char *dir, const struct resources *r, const struct cgroup_write *w)
{
        if (strcmp(w->file, "cpu.max") != 0 || r->cpu.has_quota)
                return NULL;
        _cleanup_free_ char *cur = NULL;
        if (read_dir_file(dir, "cpu.max", &cur) < 0 || strncmp(cur, "max", 3) == 0)
                return NULL;
        char *v = NULL;
        if (asprintf(&v, "%.*s%s", (int) strcspn(cur, " \n"), cur, w->value + strlen("max")) < 0)
                return NULL;
        return v;
}

int cgroup_apply(const char *dir, const struct resources *r, const char *path, bool always_devices,
                 cocoon_error **err)
{
        struct cgroup_write *w = NULL;
        size_t n = 0;
        int e = resources_v2_writes(r, path, &w, &n, err);
        for (size_t i = 0; e == 0 && i < n; i++) {
                _cleanup_free_ char *kept = keep_quota(dir, r, &w[i]);
                e = cgroup_write(dir, w[i].file, kept ? kept : w[i].value, err);
                if (e < 0)
                        (void) error_wrap(err, e, "%s", w[i].field);
        }
        cgroup_writes_free(w, n);
        if (e < 0 || (!r->has_devices && !always_devices))
                return e;

        _cleanup_free_ struct resources_device_rule *rules = NULL;
        e = resources_device_rules(r, &rules, &n);
        if (e < 0)
                return error_sys(err, -e, "device rules");
        e = cgroup_devices_apply(dir, rules, n, err);
        if (e < 0)
                return error_wrap(err, e, "%s%sdevices", path, json_dot(path));
        return 0;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cgroup_freeze(const char *dir, bool frozen, int timeout_ms, cocoon_error **err)
{
        int r = cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
        if (r < 0)
                return r;
        _cleanup_free_ char *events = path_join(dir, "cgroup.events");
        if (!events)
                return -ENOMEM;
        _cleanup_close_ int fd = open(events, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening cgroup.events");
        /* A change of cgroup.events wakes poll() with POLLPRI; check again at least every 50 ms anyway. */
        int64_t deadline = now_ms() + timeout_ms;
        for (;;) {
                char buf[512];
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return error_sys(err, errno, "reading cgroup.events");
                buf[n] = '\0';
                const char *f = strstr(buf, "frozen ");
                if (f && f[7] == (frozen ? '1' : '0'))
                        return 0;
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        return error_set(err, ETIMEDOUT, "%s: cgroup.events does not say frozen %d after %d ms",
                                         frozen ? "freezing" : "thawing", frozen, timeout_ms);
                struct pollfd pfd = {.fd = fd, .events = POLLPRI};
                (void) poll(&pfd, 1, left < 50 ? (int) left : 50);
        }
}

struct pidv {
        pid_t *v;
        size_t n, cap;
};

static int collect_pids(const char *dir, struct pidv *pv)
{
        _cleanup_free_ char *procs = NULL;
        int r = read_dir_file(dir, "cgroup.procs", &procs);
        if (r < 0)
                return r;
        for (char *line = procs, *next; *line; line = next) {
                next = line + strcspn(line, "\n");
                if (*next)
                        *next++ = '\0';
                if (!*line)
                        continue;
                if (pv->n == pv->cap) {
                        size_t cap = pv->cap ? 2 * pv->cap : 32;
                        pid_t *v = realloc(pv->v, cap * sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        pv->v = v;
                        pv->cap = cap;
                }
                pv->v[pv->n++] = (pid_t) strtol(line, NULL, 10);
        }
        _cleanup_(closedirp) DIR *d = opendir(dir);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || !component_ok(de->d_name, strlen(de->d_name)))
                        continue;
                _cleanup_free_ char *sub = path_join(dir, de->d_name);
                if (!sub)
                        return -ENOMEM;
                r = collect_pids(sub, pv);
                if (r < 0 && r != -ENOENT) /* a child cgroup may go away meanwhile */
                        return r;
        }
        return 0;
}

int cgroup_pids(const char *dir, pid_t **ret, size_t *ret_n, cocoon_error **err)
{
        struct pidv pv = {0};
        int r = collect_pids(dir, &pv);
        if (r < 0) {
                free(pv.v);
                return error_sys(err, -r, "listing the processes of %s", dir);
        }
        *ret = pv.v;
        *ret_n = pv.n;
        return 0;
}

int cgroup_signal_all(const char *dir, int sig, cocoon_error **err)
{
        if (sig == SIGKILL) {
                _cleanup_free_ char *kill_file = path_join(dir, "cgroup.kill");
                if (!kill_file)
                        return -ENOMEM;
                if (access(kill_file, F_OK) == 0)
                        return cgroup_write(dir, "cgroup.kill", "1", err);
        }
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = cgroup_pids(dir, &pids, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], sig) < 0 && errno != ESRCH) /* it may have exited since */
                        return error_sys(err, errno, "sending signal %d to %d", sig, (int) pids[i]);
        return 0;
}

/* rmdir dir's descendants, then dir; -EBUSY while a process is left. */
static int remove_tree_once(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || !component_ok(de->d_name, strlen(de->d_name)))
                        continue;
                char *sub = path_join(dir, de->d_name);
                int s = sub ? remove_tree_once(sub) : -ENOMEM;
                free(sub);
                if (s < 0 && r == 0)
                        r = s;
        }
        closedir(d);
        if (r < 0)
                return r;
        return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

int cgroup_remove(const char *dir, cocoon_error **err)
{
        int r = remove_tree_once(dir);
        if (r != -EBUSY)
                return r < 0 ? error_sys(err, -r, "removing cgroup %s", dir) : 0;
        r = cgroup_signal_all(dir, SIGKILL, err);
        if (r < 0)
                return error_wrap(err, r, "removing cgroup %s", dir);
        /* Killed processes leave their cgroup when they exit, which takes a moment. */
        for (int i = 0; i < 100; i++) {
                r = remove_tree_once(dir);
                if (r != -EBUSY)
                        break;
                struct timespec ts = {0, 10 * 1000000};
                nanosleep(&ts, NULL);
        }
        return r < 0 ? error_sys(err, -r, "removing cgroup %s", dir) : 0;
}

int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        int r = read_dir_file(dir, file, &text);
        if (r < 0)
                return r;
        size_t kl = strlen(key);
        for (const char *line = text; *line; line += strcspn(line, "\n"), line += *line == '\n') {
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                        *ret = strtoull(line + kl + 1, NULL, 10);
                        return 0;
                }
        }
        return -ENOENT;
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        int r = read_dir_file(dir, file, &text);
        if (r < 0)
                return r;
        if (strncmp(text, "max", 3) == 0) {
                *ret = 0;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (end == text || errno)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int read_memory_stat(const char *dir, struct cgroup_stats *s)
{
        _cleanup_free_ char *text = NULL;
        int r = read_dir_file(dir, "memory.stat", &text);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        size_t lines = 0;
        for (const char *p = text; *p; p++)
                lines += *p == '\n';
        s->memory_stat = calloc(lines + 1, sizeof(*s->memory_stat));
        if (!s->memory_stat)
                return -ENOMEM;
        for (char *line = text, *next; *line; line = next) {
                next = line + strcspn(line, "\n");
                if (*next)
                        *next++ = '\0';
                char *sp = strchr(line, ' ');
                if (!sp)
                        continue;
                *sp = '\0';
                struct cgroup_stat_entry *e = &s->memory_stat[s->n_memory_stat];
                e->name = strdup(line);
                if (!e->name)
                        return -ENOMEM;
                e->value = strtoull(sp + 1, NULL, 10);
                s->n_memory_stat++;
        }
        return 0;
}

int cgroup_stats(const char *dir, struct cgroup_stats *ret, cocoon_error **err)
{
        struct cgroup_stats s = {0};
        const struct {
                const char *file, *key; /* key NULL: a single number */
                uint64_t *to;
        } reads[] = {
                {"cpu.stat", "usage_usec", &s.cpu_usage_usec},
                {"cpu.stat", "user_usec", &s.cpu_user_usec},
                {"cpu.stat", "system_usec", &s.cpu_system_usec},
                {"cpu.stat", "nr_periods", &s.cpu_nr_periods},
                {"cpu.stat", "nr_throttled", &s.cpu_nr_throttled},
                {"cpu.stat", "throttled_usec", &s.cpu_throttled_usec},
                {"memory.current", NULL, &s.memory_current},
                {"memory.max", NULL, &s.memory_max},
                {"memory.peak", NULL, &s.memory_peak},
                {"memory.swap.current", NULL, &s.memory_swap_current},
                {"memory.swap.max", NULL, &s.memory_swap_max},
                {"memory.events", "oom_kill", &s.memory_oom_kills},
                {"pids.current", NULL, &s.pids_current},
                {"pids.max", NULL, &s.pids_max},
        };
        for (size_t i = 0; i < ARRAY_SIZE(reads); i++) {
                int r = reads[i].key ? cgroup_read_keyed(dir, reads[i].file, reads[i].key, reads[i].to)
                                     : cgroup_read_u64(dir, reads[i].file, reads[i].to);
                /* A controller that is not enabled, or a file older kernels lack, reads as 0. */
                if (r < 0 && r != -ENOENT)
                        return error_sys(err, -r, "reading %s", reads[i].file);
        }
        int r = read_memory_stat(dir, &s);
        if (r < 0) {
                cgroup_stats_release(&s);
                return error_sys(err, -r, "reading memory.stat");
        }
        *ret = s;
        return 0;
}

void cgroup_stats_release(struct cgroup_stats *s)
{
        for (size_t i = 0; i < s->n_memory_stat; i++)
                free(s->memory_stat[i].name);
        free(s->memory_stat);
        *s = (struct cgroup_stats) {0};
}
