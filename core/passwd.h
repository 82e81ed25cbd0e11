/*
 * Users and groups from the container's own /etc/passwd and /etc/group
 * (never the host's or the guest's NSS): what process.user.username and
 * `exec --user NAME` need.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct passwd_user {
        uid_t uid;
        gid_t gid;
        char *home; /* malloc'd; "/" when the entry has none */
        gid_t *groups; /* supplementary groups from /etc/group; malloc'd */
        size_t n_groups;
};

/*
 * Looks up name in root/etc/passwd (root "" or "/" for the current root) and
 * collects the groups of root/etc/group that list it as a member. A name of
 * digits only is taken as a uid when no entry has that name (runc's rule).
 * -ENOENT with "no user \"x\" in /etc/passwd" when absent.
 */
int passwd_lookup(const char *root, const char *name, struct passwd_user *ret, cocoon_error **err);
/* The entry for uid, if /etc/passwd has one: 1 and *ret filled, 0 when none. */
int passwd_lookup_uid(const char *root, uid_t uid, struct passwd_user *ret, cocoon_error **err);
void passwd_user_free(struct passwd_user *u);
