/*
 * A container's state on the host: <root>/<id>/state.json, written once by
 * create (atomically), and a lock on the directory that serializes the verbs
 * working on one container. The live status is not stored: the supervisor
 * knows it, and a supervisor that is gone means "stopped".
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct container_state {
        char *id;
        char *bundle;
        char *rootfs;
        char *created; /* RFC 3339 with nanoseconds, UTC */
        pid_t pid;     /* the init's stub: the host process callers wait on */
        pid_t supervisor_pid;
        unsigned long long supervisor_start; /* its start time, to tell it from a reused pid */
        bool terminal;
        char *cgroup; /* the host cgroup (relative to each hierarchy's root) */
        bool cgroup_owned; /* cocoon created it: removed with the container; else left as it was */
        char *sandbox; /* pods: the id of the container whose VM this one is in; NULL: its own VM */
        struct spec_kv *annotations;
        size_t n_annotations;
};

/* A container opened by a verb: its directory, locked, and its state. */
struct container {
        char *dir;
        char *sv_dir; /* where its supervisor's ctl.sock is: dir, or the sandbox's directory */
        int lock_fd;
        struct container_state st;
};

/*
 * --root must be a directory owned by the caller and writable by nobody else
 * (as must each container's directory and state.json, checked on open):
 * -ENOENT (error unset) when it does not exist, else a message naming it.
 */
int state_check_root(const char *root, cocoon_error **err);
/*
 * Reads the file name of an open container's directory (through its locked
 * fd, not following a symlink), trusted as state.json is: the caller's and
 * writable by nobody else. -ENOENT (error unset) when it does not exist.
 */
int container_read_file(const struct container *c, const char *name, size_t max, char **ret_text, size_t *ret_len,
                        cocoon_error **err);
/*
 * Creates <root>/<id> and locks it; "container with id exists: ID" if it is
 * there already. The state is filled by the caller and saved with state_save().
 */
int container_new(const char *root, const char *id, struct container *ret, cocoon_error **err);
/*
 * Opens and locks an existing container and reads its state; "container ID
 * does not exist" when it is not there (or was deleted while we waited).
 */
int container_open(const char *root, const char *id, struct container *ret, cocoon_error **err);
/* Lets other verbs in while keeping the state in memory. */
void container_unlock(struct container *c);
/* Locks again; -ENOENT if the container was deleted meanwhile. */
int container_relock(struct container *c);
/* Unlocks and frees (the directory stays). */
void container_close(struct container *c);
/* Removes the directory and everything in it, then closes. */
int container_destroy(struct container *c, cocoon_error **err);

int state_save(const struct container *c, cocoon_error **err);
void state_free(struct container_state *st);
/* The current time as runc writes it: 2006-01-02T15:04:05.999999999Z. */
char *state_now(void);

/* The start time of a process (field 22 of /proc/PID/stat), 0 if it is gone. */
unsigned long long process_start_time(pid_t pid);
/* True while the supervisor recorded in st runs (and is not a reused pid). */
bool state_supervisor_alive(const struct container_state *st);

struct json_writer;
/* runc's `state` document for a container whose status is known. */
void state_write(struct json_writer *w, const struct container_state *st, const char *status);
int state_format(const struct container_state *st, const char *status, bool pretty, char **ret, cocoon_error **err);
