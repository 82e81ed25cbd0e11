/*
 * The sandbox's cgroup on the host. Its supervisor (and so the VMM's
 * processes) and its detached stubs join linux.cgroupsPath on the host, so
 * the host accounts the VM to the container the way it would runc's
 * processes, and a caller that reads the cgroup of the --pid-file process
 * (containerd's shim does, for metrics) finds it. The container's own limits
 * apply in the guest's cgroup and the VM's size follows them; the host
 * cgroup gets only the VM's bounds (host_cgroup_limit), so that a broken VMM
 * cannot take the host down.
 *
 * cgroup v2 (a unified /sys/fs/cgroup) or v1: then every mounted hierarchy.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "runtime.h"

#define HOST_CGROUP_ROOT "/sys/fs/cgroup"

/* Calls fn for the root of every cgroup hierarchy mounted on the host. */
static int for_each_hierarchy(int (*fn)(const char *root, void *ud), void *ud)
{
        if (cgroup_is_v2(HOST_CGROUP_ROOT))
                return fn(HOST_CGROUP_ROOT, ud);
        DIR *d = opendir(HOST_CGROUP_ROOT);
        if (!d)
                return -errno;
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (de->d_name[0] == '.' || de->d_type != DT_DIR) /* cpu,cpuacct symlinks: once is enough */
                        continue;
                _cleanup_free_ char *root = path_join(HOST_CGROUP_ROOT, de->d_name);
                struct statfs sf;
                if (!root)
                        r = -ENOMEM;
                else if (statfs(root, &sf) == 0 && (sf.f_type == CGROUP_SUPER_MAGIC || sf.f_type == CGROUP2_SUPER_MAGIC))
                        r = fn(root, ud);
        }
        closedir(d);
        return r;
}

/* v1 cpuset refuses tasks until cpus and mems are set: take the parent's, level by level. */
static int v1_cpuset_inherit(const char *root, const char *rel)
{
        if (strcmp(strrchr(root, '/'), "/cpuset") != 0)
                return 0;
        _cleanup_free_ char *dir = strdup(root), *copy = strdup(rel);
        if (!dir || !copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                _cleanup_free_ char *parent = TAKE_PTR(dir);
                dir = path_join(parent, part);
                if (!dir)
                        return -ENOMEM;
                static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
                for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                        _cleanup_free_ char *mine = path_join(dir, files[i]), *theirs = path_join(parent, files[i]);
                        _cleanup_free_ char *value = NULL, *current = NULL;
                        if (!mine || !theirs)
                                return -ENOMEM;
                        if (read_file(mine, 4096, &current, NULL) == 0 && strspn(current, " \n") != strlen(current))
                                continue;
                        if (read_file(theirs, 4096, &value, NULL) == 0 && cgroup_write(dir, files[i], value, NULL) < 0)
                                return -EINVAL;
                }
        }
        return 0;
}

struct join {
        const char *rel;
        pid_t pid;
        cocoon_error **err;
};

static int join_one(const char *root, void *ud)
{
        struct join *j = ud;
        _cleanup_free_ char *dir = NULL;
        int r;
        /* for_each_hierarchy() hands out the root itself only when it is a v2 tree. */
        if (strcmp(root, HOST_CGROUP_ROOT) == 0) {
                r = cgroup_create(root, j->rel, &dir, j->err);
                if (r < 0)
                        return r;
        } else {
                dir = path_join(root, j->rel);
                if (!dir)
                        return -ENOMEM;
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return error_sys(j->err, -r, "creating the host cgroup %s", dir);
                r = v1_cpuset_inherit(root, j->rel);
                if (r < 0)
                        return error_sys(j->err, -r, "setting up the host cpuset cgroup %s", dir);
        }
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int) j->pid);
        r = cgroup_write(dir, "cgroup.procs", pid, j->err);
        return r < 0 ? error_wrap(j->err, r, "joining the host cgroup") : 0;
}

int host_cgroup_join(const char *rel, pid_t pid, cocoon_error **err)
{
        struct join j = {.rel = rel, .pid = pid, .err = err};
        int r = for_each_hierarchy(join_one, &j);
        if (r < 0 && !(err && *err))
                return error_sys(err, -r, "%s", HOST_CGROUP_ROOT);
        return r;
}

static int remove_one(const char *root, void *ud)
{
        const char *rel = ud;
        _cleanup_free_ char *dir = path_join(root, rel);
        if (!dir)
                return -ENOMEM;
        /* Stubs leave as their processes' exits reach them: give them a moment before killing what is left. */
        for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++) {
                struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        _cleanup_error_ cocoon_error *err = NULL;
        (void) cgroup_remove(dir, &err);
        /* The parent cocoon made for containers without a cgroupsPath goes once empty. */
        _cleanup_free_ char *parent = path_join(root, HOST_CGROUP_DEFAULT_PARENT);
        if (parent && strncmp(rel, HOST_CGROUP_DEFAULT_PARENT "/", strlen(HOST_CGROUP_DEFAULT_PARENT) + 1) == 0)
                (void) rmdir(parent);
        return 0;
}

void host_cgroup_remove(const char *rel)
{
        if (rel && *rel)
                (void) for_each_hierarchy(remove_one, (void *) rel);
}

struct limit {
        const char *rel;
        uint64_t memory;
        unsigned pids;
        cocoon_error **err;
};

static int limit_one(const char *root, void *ud)
{
        struct limit *l = ud;
        _cleanup_free_ char *dir = path_join(root, l->rel);
        if (!dir)
                return -ENOMEM;
        bool v2 = strcmp(root, HOST_CGROUP_ROOT) == 0;
        const char *name = strrchr(root, '/') + 1;
        char memory[32], pids[16];
        snprintf(memory, sizeof(memory), "%llu", (unsigned long long) l->memory);
        snprintf(pids, sizeof(pids), "%u", l->pids);
        int r = 0;
        if (v2 || strcmp(name, "memory") == 0)
                r = cgroup_write(dir, v2 ? "memory.max" : "memory.limit_in_bytes", memory, l->err);
        if (r == 0 && (v2 || strcmp(name, "pids") == 0))
                r = cgroup_write(dir, "pids.max", pids, l->err);
        return r < 0 ? error_wrap(l->err, r, "limiting the host cgroup") : 0;
}

int host_cgroup_limit(const char *rel, uint64_t memory_bytes, unsigned pids, cocoon_error **err)
{
        struct limit l = {.rel = rel, .memory = memory_bytes, .pids = pids, .err = err};
        int r = for_each_hierarchy(limit_one, &l);
        if (r < 0 && !(err && *err))
                return error_sys(err, -r, "%s", HOST_CGROUP_ROOT);
        return r;
}

struct precheck {
        const char *rel;
        bool warned, existed;
        cocoon_error **err;
};

/*
 * A cgroup that exists before the container: frozen, whatever joins it
 * (the stub, the supervisor) would freeze there and the verb hang, so it is
 * refused, as runc refuses it; with processes in it, a warning, as runc's.
 */
static int check_one(const char *root, void *ud)
{
        struct precheck *p = ud;
        _cleanup_free_ char *dir = path_join(root, p->rel);
        if (!dir)
                return -ENOMEM;
        struct stat st;
        if (stat(dir, &st) < 0)
                return 0;
        p->existed = true;
        bool v2 = strcmp(root, HOST_CGROUP_ROOT) == 0;
        _cleanup_free_ char *state = NULL, *procs = NULL;
        _cleanup_free_ char *freeze = path_join(dir, v2 ? "cgroup.freeze" : "freezer.state");
        _cleanup_free_ char *members = path_join(dir, "cgroup.procs");
        if (!freeze || !members)
                return -ENOMEM;
        if (read_file(freeze, 4096, &state, NULL) == 0 &&
            (v2 ? strtol(state, NULL, 10) != 0 : strncmp(state, "THAWED", 6) != 0))
                return error_set(p->err, EBUSY, "the host cgroup %s is frozen (linux.cgroupsPath %s): thaw it first",
                                 dir, p->rel);
        if (!p->warned && read_file(members, 1 << 20, &procs, NULL) == 0 && strspn(procs, " \n") != strlen(procs)) {
                log_warn("the host cgroup %s is not empty: the container's processes join others", dir);
                p->warned = true;
        }
        return 0;
}

int host_cgroup_check(const char *rel, bool *ret_existed, cocoon_error **err)
{
        struct precheck p = {.rel = rel, .err = err};
        int r = for_each_hierarchy(check_one, &p);
        if (r < 0 && !(err && *err))
                return error_sys(err, -r, "%s", HOST_CGROUP_ROOT);
        *ret_existed = p.existed;
        return r;
}
