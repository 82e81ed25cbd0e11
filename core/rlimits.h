/* process.rlimits: parsing and setting resource limits. */
#pragma once

#include <yajl/yajl_tree.h>

#include "error.h"
#include "spec.h"

/* Reads process.rlimits; an unknown or repeated type, or soft above hard, is an error naming the entry. */
int rlimits_parse(yajl_val obj, const char *path, struct spec_rlimit **ret, size_t *ret_n, cocoon_error **err);
/* Sets each limit on the calling process; call before the identity changes (raising a hard limit needs root). */
int rlimits_apply(const struct spec_rlimit *rl, size_t n, cocoon_error **err);
