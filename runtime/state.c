#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "fsutil.h"
#include "json.h"
#include "msg.h"

#define STATE_FILE "state.json"

static int check_id(const char *id, cocoon_error **err)
{
        if (!msg_id_valid(id))
                return error_set(err, EINVAL, "invalid container id %s: use 1 to 1024 of A-Z a-z 0-9 _ + - .", id);
        return 0;
}

/*
 * What cocoon trusts on the host (--root, each container's directory, each
 * state.json) must be the caller's and writable by nobody else: another user
 * who could write there could forge the state that root then acts on (hooks
 * run, pids killed).
 */
static int check_trusted(int fd, const char *path, bool dir, cocoon_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_sys(err, errno, "%s", path);
        if (dir && !S_ISDIR(st.st_mode))
                return error_set(err, ENOTDIR, "%s is not a directory", path);
        if (!dir && !S_ISREG(st.st_mode))
                return error_set(err, EINVAL, "%s is not a regular file", path);
        if (st.st_uid != geteuid())
                return error_set(err, EPERM,
                                 "%s is owned by uid %u, not by uid %u that runs cocoon: refusing to trust it", path,
                                 (unsigned) st.st_uid, (unsigned) geteuid());
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return error_set(err, EPERM, "%s is writable by %s (mode %04o): refusing to trust it", path,
                                 (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "its group and others"
                                 : st.st_mode & S_IWGRP                           ? "its group"
                                                                                  : "others",
                                 (unsigned) (st.st_mode & 07777));
        return 0;
}

int state_check_root(const char *root, cocoon_error **err)
{
        _cleanup_close_ int fd = open(root, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : error_sys(err, errno, "--root %s", root);
        int r = check_trusted(fd, root, true, err);
        return r < 0 ? error_wrap(err, r, "--root") : 0;
}

static int lock_dir(const char *dir, int *ret_fd, cocoon_error **err)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0) {
                int e = errno;
                close(fd);
                return error_sys(err, e, "locking %s", dir);
        }
        *ret_fd = fd;
        return 0;
}

int container_new(const char *root, const char *id, struct container *ret, cocoon_error **err)
{
        int r = check_id(id, err);
        if (r < 0)
                return r;
        r = mkdir_p(root, 0700);
        if (r < 0)
                return error_sys(err, -r, "creating the state root %s", root);
        r = state_check_root(root, err);
        if (r < 0)
                return r == -ENOENT ? error_sys(err, ENOENT, "--root %s", root) : r;
        _cleanup_free_ char *dir = path_join(root, id);
        if (!dir)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST)
                        return error_set(err, EEXIST, "container with id exists: %s", id);
                return error_sys(err, errno, "creating %s", dir);
        }
        int fd;
        r = lock_dir(dir, &fd, err);
        if (r < 0) {
                (void) rmdir(dir);
                return r == -ENOENT ? error_sys(err, ENOENT, "%s", dir) : r;
        }
        char *sv_dir = strdup(dir); /* before TAKE_PTR: an initializer's order of evaluation is unspecified */
        *ret = (struct container) {.sv_dir = sv_dir, .dir = TAKE_PTR(dir), .lock_fd = fd};
        ret->st.id = strdup(id);
        return ret->st.id && ret->sv_dir ? 0 : -ENOMEM;
}

static int parse_state(const char *text, size_t len, struct container_state *st, cocoon_error **err)
{
        _cleanup_json_ yajl_val top = NULL;
        int r = json_parse_object(text, len, &top, err);
        if (r < 0)
                return r;
        static const struct {
                const char *key;
                size_t off;
        } strings[] = {
                {"id", offsetof(struct container_state, id)},
                {"bundle", offsetof(struct container_state, bundle)},
                {"rootfs", offsetof(struct container_state, rootfs)},
                {"created", offsetof(struct container_state, created)},
                {"cgroupPath", offsetof(struct container_state, cgroup)},
        };
        for (size_t i = 0; i < ARRAY_SIZE(strings) && r >= 0; i++)
                r = json_get_string(top, "", strings[i].key, true, (char **) ((char *) st + strings[i].off), err);
        if (r >= 0)
                r = json_get_string(top, "", "sandbox", false, &st->sandbox, err);
        unsigned long long n;
        yajl_val v;
        if (r >= 0 && (v = json_get(top, "pid")))
                r = json_parse_uint(v, INT32_MAX, "", "pid", &n, err), st->pid = n;
        if (r >= 0 && (v = json_get(top, "supervisorPid")))
                r = json_parse_uint(v, INT32_MAX, "", "supervisorPid", &n, err), st->supervisor_pid = n;
        if (r >= 0 && (v = json_get(top, "supervisorStart")))
                r = json_parse_uint(v, UINT64_MAX, "", "supervisorStart", &st->supervisor_start, err);
        if (r >= 0)
                r = json_get_bool(top, "", "terminal", &st->terminal, err);
        if (r >= 0)
                r = json_get_bool(top, "", "cgroupOwned", &st->cgroup_owned, err);
        yajl_val ann = NULL;
        if (r >= 0)
                r = json_get_object(top, "", "annotations", &ann, err);
        if (r >= 0 && ann && ann->u.object.len) {
                st->annotations = calloc(ann->u.object.len, sizeof(*st->annotations));
                if (!st->annotations)
                        return -ENOMEM;
                for (size_t i = 0; i < ann->u.object.len; i++) {
                        yajl_val val = ann->u.object.values[i];
                        if (!YAJL_IS_STRING(val))
                                return error_set(err, EINVAL, "annotations.%s: expected a string", ann->u.object.keys[i]);
                        st->annotations[i].key = strdup(ann->u.object.keys[i]);
                        st->annotations[i].value = strdup(val->u.string);
                        st->n_annotations++;
                        if (!st->annotations[i].key || !st->annotations[i].value)
                                return -ENOMEM;
                }
        }
        return r;
}

int container_read_file(const struct container *c, const char *name, size_t max, char **ret_text, size_t *ret_len,
                        cocoon_error **err)
{
        _cleanup_free_ char *path = path_join(c->dir, name);
        if (!path)
                return -ENOMEM;
        /* Unlocked (run's poststart hooks, while the container runs): the directory is checked afresh. */
        _cleanup_close_ int unlocked = -1;
        int dir = c->lock_fd;
        if (dir < 0) {
                unlocked = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (unlocked < 0)
                        return error_sys(err, errno, "%s", c->dir);
                int r = check_trusted(unlocked, c->dir, true, err);
                if (r < 0)
                        return r;
                dir = unlocked;
        }
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : error_sys(err, errno, "%s", path);
        int r = check_trusted(fd, path, false, err);
        if (r < 0)
                return r;
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        r = read_file(self, max, ret_text, ret_len);
        return r < 0 ? error_sys(err, -r, "%s", path) : 0;
}

int container_open(const char *root, const char *id, struct container *ret, cocoon_error **err)
{
        int r = check_id(id, err);
        if (r < 0)
                return r;
        r = state_check_root(root, err);
        if (r == -ENOENT)
                return error_set(err, ENOENT, "container %s does not exist", id);
        if (r < 0)
                return r;
        struct container c = {.lock_fd = -1};
        c.dir = path_join(root, id);
        if (!c.dir)
                return -ENOMEM;
        r = lock_dir(c.dir, &c.lock_fd, err);
        if (r == -ENOENT || r == -ENOTDIR) {
                container_close(&c);
                return error_set(err, ENOENT, "container %s does not exist", id);
        }
        if (r >= 0)
                r = check_trusted(c.lock_fd, c.dir, true, err);
        if (r < 0) {
                container_close(&c);
                return r;
        }
        /* Read through the locked fd: a delete that won the race left nothing behind it. */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = container_read_file(&c, STATE_FILE, 1 << 20, &text, &len, err);
        if (r == -ENOENT) {
                container_close(&c);
                return error_set(err, ENOENT, "container %s does not exist", id);
        }
        if (r >= 0)
                r = parse_state(text, len, &c.st, err);
        if (r >= 0) {
                c.sv_dir = c.st.sandbox ? path_join(root, c.st.sandbox) : strdup(c.dir);
                if (!c.sv_dir)
                        r = -ENOMEM;
        }
        if (r < 0) {
                container_close(&c);
                return error_wrap(err, r, "reading the state of %s", id);
        }
        *ret = c;
        return 0;
}

void container_unlock(struct container *c)
{
        if (c->lock_fd >= 0)
                close(c->lock_fd);
        c->lock_fd = -1;
}

int container_relock(struct container *c)
{
        int r = lock_dir(c->dir, &c->lock_fd, NULL);
        if (r < 0)
                return r;
        if (faccessat(c->lock_fd, STATE_FILE, F_OK, 0) < 0) {
                container_unlock(c);
                return -ENOENT;
        }
        return 0;
}

void container_close(struct container *c)
{
        if (c->lock_fd >= 0)
                close(c->lock_fd);
        free(c->dir);
        free(c->sv_dir);
        state_free(&c->st);
        *c = (struct container) {.lock_fd = -1};
}

int container_destroy(struct container *c, cocoon_error **err)
{
        /* Unlinked while we hold the lock: whoever waits finds no state file. */
        _cleanup_free_ char *state = path_join(c->dir, STATE_FILE);
        if (state)
                (void) unlink(state);
        /*
         * Whoever locks it next finds no state file, so the lock can go now:
         * its fd is one that the removal may need (a create failing for want
         * of fds must still leave nothing).
         */
        container_unlock(c);
        int r = remove_tree(c->dir);
        if (r < 0 && r != -ENOENT)
                r = error_sys(err, -r, "removing %s", c->dir);
        else
                r = 0;
        container_close(c);
        return r;
}

void state_free(struct container_state *st)
{
        free(st->id);
        free(st->bundle);
        free(st->rootfs);
        free(st->created);
        free(st->cgroup);
        free(st->sandbox);
        for (size_t i = 0; i < st->n_annotations; i++) {
                free(st->annotations[i].key);
                free(st->annotations[i].value);
        }
        free(st->annotations);
        *st = (struct container_state) {0};
}

static void put_annotations(struct json_writer *w, const struct container_state *st)
{
        if (st->n_annotations == 0)
                return;
        json_open_map(w, "annotations");
        for (size_t i = 0; i < st->n_annotations; i++)
                json_key_str(w, st->annotations[i].key, st->annotations[i].value);
        json_close_map(w);
}

int state_save(const struct container *c, cocoon_error **err)
{
        const struct container_state *st = &c->st;
        struct json_writer w;
        if (json_writer_init(&w, false) < 0)
                return -ENOMEM;
        json_open_map(&w, NULL);
        json_key_str(&w, "id", st->id);
        json_key_str(&w, "bundle", st->bundle);
        json_key_str(&w, "rootfs", st->rootfs);
        json_key_str(&w, "created", st->created);
        json_key_int(&w, "pid", st->pid);
        json_key_int(&w, "supervisorPid", st->supervisor_pid);
        json_key_uint(&w, "supervisorStart", st->supervisor_start);
        json_key_bool(&w, "terminal", st->terminal);
        json_key_bool(&w, "cgroupOwned", st->cgroup_owned);
        json_key_str(&w, "cgroupPath", st->cgroup);
        if (st->sandbox)
                json_key_str(&w, "sandbox", st->sandbox);
        put_annotations(&w, st);
        json_close_map(&w);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (json_writer_finish(&w, &text, &len) < 0)
                return -ENOMEM;
        _cleanup_free_ char *path = path_join(c->dir, STATE_FILE);
        if (!path)
                return -ENOMEM;
        int r = write_file_atomic(path, text, len, 0600);
        if (r < 0)
                return error_sys(err, -r, "writing %s", path);
        return 0;
}

void state_write(struct json_writer *w, const struct container_state *st, const char *status)
{
        json_open_map(w, NULL);
        json_key_str(w, "ociVersion", COCOON_OCI_VERSION);
        json_key_str(w, "id", st->id);
        /* As runc: a stopped container has no process to wait on. */
        json_key_int(w, "pid", strcmp(status, "stopped") == 0 ? 0 : st->pid);
        json_key_str(w, "status", status);
        json_key_str(w, "bundle", st->bundle);
        json_key_str(w, "rootfs", st->rootfs);
        json_key_str(w, "created", st->created);
        put_annotations(w, st);
        json_key_str(w, "owner", "");
        json_close_map(w);
}

int state_format(const struct container_state *st, const char *status, bool pretty, char **ret, cocoon_error **err)
{
        struct json_writer w;
        if (json_writer_init(&w, pretty) < 0)
                return -ENOMEM;
        state_write(&w, st, status);
        if (json_writer_finish(&w, ret, NULL) < 0)
                return error_set(err, ENOMEM, "formatting the state");
        return 0;
}

char *state_now(void)
{
        struct timespec ts;
        struct tm tm;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        (void) gmtime_r(&ts.tv_sec, &tm);
        char buf[64];
        size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
        return strdup(buf);
}

unsigned long long process_start_time(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        _cleanup_free_ char *text = NULL;
        if (pid <= 0 || read_file(path, 4096, &text, NULL) < 0)
                return 0;
        /* The command may contain spaces and parentheses: count from the last ')'. */
        char *p = strrchr(text, ')');
        if (!p)
                return 0;
        unsigned long long start = 0;
        int field = 2;
        for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
                if (++field == 3 && (*tok == 'Z' || *tok == 'X'))
                        return 0; /* a zombie is gone for our purposes */
                else if (field == 22) {
                        start = strtoull(tok, NULL, 10);
                        break;
                }
        return start;
}

bool state_supervisor_alive(const struct container_state *st)
{
        if (st->supervisor_pid <= 0)
                return false;
        unsigned long long start = process_start_time(st->supervisor_pid);
        return start != 0 && start == st->supervisor_start;
}
