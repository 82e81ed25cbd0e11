/*
 * The jail's uids and its common layout. Each live sandbox holds one uid of
 * the configured range: the lock file JAIL_LOCK_DIR/UID, flock'd by the
 * supervisor for its whole life. The kernel drops the lock when the
 * supervisor goes, however it ends, so a uid is never leaked nor shared. The
 * files stay (removing one could let two holders lock two different files
 * of the same name); there is one per uid ever used, empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"

int jail_parse_uids(const char *value, uid_t *ret_first, unsigned *ret_count)
{
        char *end;
        errno = 0;
        unsigned long first = strtoul(value, &end, 10);
        if (errno || end == value || *end != '-')
                return -EINVAL;
        const char *second = end + 1;
        unsigned long last = strtoul(second, &end, 10);
        /* Never root's, never the overflow uid nor above 2^31 (some tools read uids as signed). */
        if (errno || end == second || *end || first == 0 || last < first || last >= 0x7fffffffUL ||
            (first <= 65534 && last >= 65534))
                return -EINVAL;
        *ret_first = (uid_t) first;
        *ret_count = (unsigned) (last - first + 1);
        return 0;
}

int jail_uid_claim(uid_t first, unsigned count, struct jail_uid *ret, cocoon_error **err)
{
        if (mkdir(JAIL_LOCK_DIR, 0700) < 0 && errno != EEXIST)
                return error_sys(err, errno, "creating %s", JAIL_LOCK_DIR);
        _cleanup_close_ int dfd = open(JAIL_LOCK_DIR, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return error_sys(err, errno, "opening %s", JAIL_LOCK_DIR);
        struct stat st;
        if (fstat(dfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022))
                return error_set(err, EPERM, "%s is not root's alone: refusing its uid locks", JAIL_LOCK_DIR);
        /* Start where the last sandbox is unlikely to be, so that claims rarely contend. */
        unsigned start = (unsigned) getpid() % count;
        for (unsigned i = 0; i < count; i++) {
                uid_t uid = first + (start + i) % count;
                char name[16];
                snprintf(name, sizeof(name), "%u", (unsigned) uid);
                int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return error_sys(err, errno, "opening %s/%s", JAIL_LOCK_DIR, name);
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        *ret = (struct jail_uid) {.uid = uid, .lock_fd = fd};
                        return 0;
                }
                int e = errno;
                close(fd);
                if (e != EWOULDBLOCK)
                        return error_sys(err, e, "locking %s/%s", JAIL_LOCK_DIR, name);
        }
        return error_set(err, EUSERS, "all %u jail uids from %u are taken by live sandboxes", count, (unsigned) first);
}

void jail_uid_release(struct jail_uid *u)
{
        if (u->lock_fd >= 0)
                close(u->lock_fd);
        u->lock_fd = -1;
}

size_t jail_common_binds(struct jail_bind *out, size_t max)
{
        /* What a dynamically linked program needs: the libraries and its data under /usr, read-only. */
        static const struct jail_bind common[] = {
                {.src = "/usr", .dst = "/usr"},
                {.src = "/dev/null", .dst = "/dev/null", .device = true},
                {.src = "/dev/zero", .dst = "/dev/zero", .device = true},
                {.src = "/dev/urandom", .dst = "/dev/urandom", .device = true},
        };
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(common) && n < max; i++)
                out[n++] = common[i];
        /* /lib and friends when they are directories of their own rather than links into /usr. */
        static const char *const libs[] = {"/lib", "/lib64", "/lib32", "/libx32"};
        for (size_t i = 0; i < ARRAY_SIZE(libs) && n < max; i++) {
                struct stat st;
                if (lstat(libs[i], &st) == 0 && S_ISDIR(st.st_mode))
                        out[n++] = (struct jail_bind) {.src = libs[i], .dst = libs[i]};
        }
        return n;
}
