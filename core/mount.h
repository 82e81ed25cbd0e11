/* Mount handling for the container's rootfs, run in the container's child. */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Turns mount options into MS_* flags, a propagation type and a data string (malloc'd, may be ""). */
/* Every mount option the core knows (for `features`), NULL-terminated. */
const char *const *mount_option_names(void);
int mount_parse_options(char *const *options, size_t n, unsigned long *ret_flags, unsigned long *ret_propagation,
                        char **ret_data, cocoon_error **err);

/* Sets up the rootfs at `rootfs` and pivots into it (in a new mount namespace). */
int mount_setup_rootfs(const struct oci_spec *spec, const char *rootfs, cocoon_error **err);
