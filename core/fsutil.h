/* Small filesystem helpers shared by the core, the agent and the runtime. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* "a" + "/" + "b" with exactly one slash between them; malloc'd, NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* mkdir -p; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* Creates an empty file (and its parents) if it does not exist; 0 or -errno. */
int touch_p(const char *path);
/* Reads a whole file (or pipe, or sysfs attribute) up to max bytes into a NUL-terminated buffer; -EFBIG past max. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes a file atomically: temp file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Writes all of buf, retrying on EINTR; 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
/* rm -rf that does not cross mount points; 0 or -errno. */
int remove_tree(const char *path);
/*
 * Opens path (O_PATH) inside the tree rootfd is the top of, resolving every
 * symlink and ".." as if rootfd were "/" (openat2 RESOLVE_IN_ROOT), as runc
 * resolves paths in a rootfs. create S_IFDIR or S_IFREG makes what is missing
 * on the way (directories 0755, the last one a file 0644 for S_IFREG),
 * including the targets of dangling symlinks; 0 creates nothing. fd or -errno.
 */
int open_in_root(int rootfd, const char *path, mode_t create);
/* lstat() of path under rootfd: symlinks on the way resolve inside it, the last one is not followed. 0 or -errno. */
int lstat_in_root(int rootfd, const char *path, struct stat *st);
/*
 * Copies what the directory src_dir holds into the directory dst_dir:
 * directories, files' contents, symlinks and device, fifo and socket nodes,
 * with their owners and modes (not hard links, times or xattrs). 0 or -errno.
 */
int copy_tree(int src_dir, int dst_dir);
/* "/proc/self/fd/N": a path for syscalls that take no fd (mount); malloc'd, NULL on ENOMEM. */
char *fd_path(int fd);
