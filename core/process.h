/*
 * The last steps of a container process before its exec, the same for a
 * container's init and for an exec'd process: who it runs as, its limits,
 * capabilities, no_new_privs and seccomp filter. Runs in the child, inside
 * the container's namespaces and root.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct process_identity {
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups: /etc/group's for a username, then additionalGids */
        size_t n_groups;
        char *home; /* from the container's /etc/passwd, "/" when it has no entry */
};

/* Resolves process.user against the container's /etc/passwd and /etc/group (the current root). */
int process_resolve_identity(const struct spec_process *p, struct process_identity *ret, cocoon_error **err);
void process_identity_free(struct process_identity *id);

/*
 * proc->env as runc 1.2 passes it: the last of each name only, and HOME from
 * the user's passwd entry when it has none or an empty one; a malloc'd list
 * borrowing proc's strings.
 */
char **process_env(const struct spec_process *p, const struct process_identity *id);

/*
 * In runc's order: rlimits and oomScoreAdj; no_new_privs; the seccomp filter
 * now if no_new_privs is off (loading one without it needs CAP_SYS_ADMIN,
 * about to be dropped); the bounding set; the identity, keeping the permitted
 * capabilities across setuid; the other capability sets; umask and working
 * directory; and with no_new_privs the filter last, as close to the exec as
 * can be. seccomp may be NULL.
 */
int process_apply(const struct spec_process *p, const struct process_identity *id, const struct spec_seccomp *seccomp,
                  cocoon_error **err);
