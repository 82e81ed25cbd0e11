/*
 * The files are parsed by hand, not with fgetpwent(): the agent is static
 * (glibc's NSS does not work there) and the files belong to an untrusted
 * image, so a line is split only by ':' and numbers are checked.
 */
#include "passwd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsutil.h"

#define FIELDS_MAX 7

/* Splits line at ':' into at most FIELDS_MAX fields; returns how many. */
static size_t split(char *line, char *fields[FIELDS_MAX])
{
        size_t n = 0;
        line[strcspn(line, "\n")] = '\0';
        while (n < FIELDS_MAX) {
                fields[n++] = line;
                char *c = strchr(line, ':');
                if (!c)
                        break;
                *c = '\0';
                line = c + 1;
        }
        return n;
}

static bool parse_id(const char *s, unsigned *ret)
{
        if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
                return false;
        unsigned long long v = strtoull(s, NULL, 10);
        if (v >= 4294967295ULL)
                return false;
        *ret = (unsigned) v;
        return true;
}

static FILE *open_in(const char *root, const char *file)
{
        _cleanup_free_ char *p = path_join(root && *root ? root : "/", file);
        return p ? fopen(p, "re") : NULL;
}

/* Finds the entry whose name is name, or (name NULL) whose uid is uid. 1: found. */
static int find_user(const char *root, const char *name, uid_t uid, struct passwd_user *ret, char **ret_name)
{
        _cleanup_fclose_ FILE *f = open_in(root, "/etc/passwd");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *fl[FIELDS_MAX];
                unsigned u, g;
                /* Seven fields; a missing shell is forgiven. */
                if (split(line, fl) < 6 || !parse_id(fl[2], &u) || !parse_id(fl[3], &g))
                        continue;
                if (name ? strcmp(fl[0], name) != 0 : u != uid)
                        continue;
                ret->uid = u;
                ret->gid = g;
                ret->home = strdup(*fl[5] ? fl[5] : "/");
                *ret_name = strdup(fl[0]);
                return ret->home && *ret_name ? 1 : -ENOMEM;
        }
        return 0;
}

/* The groups whose member list names user. */
static int find_groups(const char *root, const char *user, struct passwd_user *ret)
{
        _cleanup_fclose_ FILE *f = open_in(root, "/etc/group");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *fl[FIELDS_MAX];
                unsigned g;
                if (split(line, fl) < 4 || !parse_id(fl[2], &g))
                        continue;
                char *save = NULL;
                for (char *m = strtok_r(fl[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
                        if (strcmp(m, user) != 0)
                                continue;
                        gid_t *n = realloc(ret->groups, (ret->n_groups + 1) * sizeof(gid_t));
                        if (!n)
                                return -ENOMEM;
                        ret->groups = n;
                        ret->groups[ret->n_groups++] = g;
                        break;
                }
        }
        return 0;
}

static int lookup(const char *root, const char *name, uid_t uid, struct passwd_user *ret, cocoon_error **err)
{
        struct passwd_user u = {0};
        _cleanup_free_ char *found_name = NULL;
        int r = find_user(root, name, uid, &u, &found_name);
        if (r > 0)
                r = find_groups(root, found_name, &u);
        if (r < 0) {
                passwd_user_free(&u);
                return error_sys(err, -r, "reading the container's /etc/passwd and /etc/group");
        }
        if (!found_name)
                return 0;
        *ret = u;
        return 1;
}

int passwd_lookup(const char *root, const char *name, struct passwd_user *ret, cocoon_error **err)
{
        int r = lookup(root, name, 0, ret, err);
        if (r != 0)
                return r < 0 ? r : 0;
        unsigned uid;
        if (!parse_id(name, &uid))
                return error_set(err, ENOENT, "no user \"%s\" in the container's /etc/passwd", name);
        r = lookup(root, NULL, uid, ret, err);
        if (r != 0)
                return r < 0 ? r : 0;
        /* A bare number with no entry: that uid, gid 0 and home /, as runc does for "1234". */
        *ret = (struct passwd_user) {.uid = uid, .gid = 0, .home = strdup("/")};
        return ret->home ? 0 : error_set(err, ENOMEM, "out of memory");
}

int passwd_lookup_uid(const char *root, uid_t uid, struct passwd_user *ret, cocoon_error **err)
{
        return lookup(root, NULL, uid, ret, err);
}

void passwd_user_free(struct passwd_user *u)
{
        free(u->home);
        free(u->groups);
        *u = (struct passwd_user) {0};
}
