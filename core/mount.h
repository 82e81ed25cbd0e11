/* Mount handling for the container's rootfs, run in the container's child. */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Turns mount options into MS_* flags, a propagation type and a data string (malloc'd, may be ""). */
/* Every mount option the core knows (for `features`), NULL-terminated. */
const char *const *mount_option_names(void);
/* A bind mount: type "bind", or the bind/rbind option among the parsed flags. */
bool mount_is_bind(const struct spec_mount *m, unsigned long flags);
int mount_parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                        char **ret_data, cocoon_error **err);

/* "rslave" and the like into MS_* flags; -EINVAL for an unknown name. */
int mount_propagation_flag(const char *name, unsigned long *ret);

/*
 * Sets up the rootfs, the directory rootfs (an fd) is, and enters it (in a
 * new mount namespace): mounts (their destinations resolved inside the
 * rootfs), default devices and linux.devices, process.cwd, read-only and
 * recursive options last, then pivot_root, or MS_MOVE + chroot with
 * spec->no_pivot.
 */
int mount_setup_rootfs(const struct oci_spec *spec, int rootfs, cocoon_error **err);
/*
 * Once inside (and after linux.sysctl, which writes /proc/sys): masked and
 * read-only paths, and the read-only root.
 */
int mount_protect_paths(const struct oci_spec *spec, cocoon_error **err);
