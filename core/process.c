#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "cleanup.h"
#include "fsutil.h"
#include "passwd.h"
#include "rlimits.h"
#include "syscall-filter.h"

int process_resolve_identity(const struct spec_process *p, struct process_identity *ret, cocoon_error **err)
{
        const struct spec_user *u = &p->user;
        struct passwd_user pw = {0};
        int r;
        if (u->username) {
                r = passwd_lookup("/", u->username, &pw, err);
                if (r < 0)
                        return error_wrap(err, r, "process.user.username");
        } else {
                r = passwd_lookup_uid("/", u->uid, &pw, err);
                if (r < 0)
                        return r;
                /* A numeric user gets exactly its gid and additionalGids, as with runc. */
                free(pw.groups);
                pw.groups = NULL;
                pw.n_groups = 0;
                pw.uid = u->uid;
                pw.gid = u->gid;
        }
        gid_t *groups = NULL;
        size_t n = pw.n_groups + u->n_additional_gids;
        if (n > 0) {
                groups = calloc(n, sizeof(gid_t));
                if (!groups) {
                        passwd_user_free(&pw);
                        return error_set(err, ENOMEM, "out of memory");
                }
                if (pw.n_groups)
                        memcpy(groups, pw.groups, pw.n_groups * sizeof(gid_t));
                if (u->n_additional_gids)
                        memcpy(groups + pw.n_groups, u->additional_gids, u->n_additional_gids * sizeof(gid_t));
        }
        char *home = pw.home ? TAKE_PTR(pw.home) : strdup("/");
        *ret = (struct process_identity) {.uid = pw.uid, .gid = pw.gid, .groups = groups, .n_groups = n, .home = home};
        passwd_user_free(&pw);
        return home ? 0 : error_set(err, ENOMEM, "out of memory");
}

void process_identity_free(struct process_identity *id)
{
        free(id->groups);
        free(id->home);
        *id = (struct process_identity) {0};
}

/* The length of NAME in "NAME=value". */
static size_t env_name_len(const char *kv)
{
        return strcspn(kv, "=");
}

/* By name, then by position, later first: the first of each name in this order is the one kept. */
static int by_name_then_later(const void *a, const void *b, void *env_list)
{
        char *const *env = env_list;
        size_t i = *(const size_t *) a, j = *(const size_t *) b;
        size_t li = env_name_len(env[i]), lj = env_name_len(env[j]);
        int c = strncmp(env[i], env[j], li < lj ? li : lj);
        if (c == 0 && li != lj)
                c = li < lj ? -1 : 1;
        return c ? c : (i < j ? 1 : -1);
}

char **process_env(const struct spec_process *p, const struct process_identity *id)
{
        char **env = calloc(p->n_env + 2, sizeof(char *));
        _cleanup_free_ size_t *order = calloc(p->n_env + 1, sizeof(size_t));
        _cleanup_free_ bool *keep = calloc(p->n_env + 1, sizeof(bool));
        if (!env || !order || !keep) {
                free(env);
                return NULL;
        }
        /* Only the last of each name is kept, where it stands (runc 1.2: "A=1 A=2" is one A=2). */
        for (size_t i = 0; i < p->n_env; i++)
                order[i] = i;
        qsort_r(order, p->n_env, sizeof(size_t), by_name_then_later, p->env);
        for (size_t k = 0; k < p->n_env; k++) {
                size_t i = order[k], len = env_name_len(p->env[i]);
                keep[i] = k == 0 || env_name_len(p->env[order[k - 1]]) != len ||
                          strncmp(p->env[order[k - 1]], p->env[i], len) != 0;
        }
        /* An empty HOME counts as none: the user's home from /etc/passwd is added instead, as runc does. */
        bool has_home = false;
        size_t n = 0;
        for (size_t i = 0; i < p->n_env; i++) {
                if (!keep[i])
                        continue;
                if (strncmp(p->env[i], "HOME=", 5) == 0) {
                        if (p->env[i][5] == '\0')
                                continue;
                        has_home = true;
                }
                env[n++] = p->env[i];
        }
        if (!has_home && asprintf(&env[n], "HOME=%s", id->home) < 0) {
                free(env);
                return NULL;
        }
        return env;
}

static int write_oom_score_adj(int value, cocoon_error **err)
{
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", value);
        int r = fd < 0 ? -errno : write_all(fd, buf, (size_t) n);
        if (r < 0)
                return error_sys(err, -r, "process.oomScoreAdj: setting %d", value);
        return 0;
}

static bool setgroups_denied(void)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        return read_file("/proc/self/setgroups", 64, &text, &len) == 0 && strncmp(text, "deny", 4) == 0;
}

static int set_identity(const struct spec_process *p, const struct process_identity *id, cocoon_error **err)
{
        /* A user namespace whose setgroups is "deny" refuses even an empty list; with no groups to set, that is fine (runc too). */
        if (setgroups(id->n_groups, id->groups) < 0 && !(errno == EPERM && id->n_groups == 0 && setgroups_denied()))
                return error_sys(err, errno, "setgroups");
        if (setresgid(id->gid, id->gid, id->gid) < 0)
                return error_sys(err, errno, "setgid %u", (unsigned) id->gid);
        if (setresuid(id->uid, id->uid, id->uid) < 0)
                return error_sys(err, errno, "setuid %u", (unsigned) id->uid);
        return 0;
}

/*
 * process.apparmorProfile, for the exec that follows, where the kernel has
 * AppArmor and that profile loaded. A profile the kernel does not have (a
 * cocoon guest loads none) is ignored, as the parse warning said.
 */
static int apply_apparmor(const char *profile, cocoon_error **err)
{
        _cleanup_free_ char *enabled = NULL;
        if (!profile || !*profile || read_file("/sys/module/apparmor/parameters/enabled", 16, &enabled, NULL) < 0 ||
            enabled[0] != 'Y')
                return 0;
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "exec %s", profile) < 0)
                return error_set(err, ENOMEM, "out of memory");
        _cleanup_close_ int fd = open("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
        int r = fd < 0 ? -errno : write_all(fd, cmd, strlen(cmd));
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_sys(err, -r, "process.apparmorProfile: applying \"%s\"", profile);
        return 0;
}

int process_apply(const struct spec_process *p, const struct process_identity *id, const struct spec_seccomp *seccomp,
                  cocoon_error **err)
{
        int r = rlimits_apply(p->rlimits, p->n_rlimits, err);
        if (r < 0)
                return r;
        if (p->has_oom_score_adj) {
                r = write_oom_score_adj(p->oom_score_adj, err);
                if (r < 0)
                        return r;
        }
        if (p->has_io_priority &&
            syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (p->io_priority_class << 13) | p->io_priority) < 0)
                return error_sys(err, errno, "process.ioPriority: setting class %d priority %d", p->io_priority_class,
                                 p->io_priority);
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_sys(err, errno, "process.noNewPrivileges: setting no_new_privs");
        if (seccomp && !p->no_new_privileges) {
                r = syscall_filter_load(seccomp, err);
                if (r < 0)
                        return r;
        }

        /*
         * The working directory, as runc: tried while still root (a directory
         * only root can reach works), and again as the container's user.
         */
        bool in_cwd = chdir(p->cwd) == 0;
        r = apply_apparmor(p->apparmor_profile, err);
        if (r < 0)
                return r;

        if (p->capabilities) {
                r = caps_apply_bounding(p->capabilities, err);
                if (r < 0)
                        return r;
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return error_sys(err, errno, "keeping capabilities across setuid");
        }
        r = set_identity(p, id, err);
        if (r < 0)
                return r;
        if (p->capabilities) {
                (void) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
                r = caps_apply(p->capabilities, err);
                if (r < 0)
                        return r;
        }
        if (p->user.has_umask)
                umask(p->user.umask);
        if (!in_cwd && chdir(p->cwd) < 0)
                return error_sys(err, errno, "process.cwd: changing to the working directory %s", p->cwd);

        if (seccomp && p->no_new_privileges) {
                r = syscall_filter_load(seccomp, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
