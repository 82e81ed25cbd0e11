/* process.capabilities: parsing the five sets and applying them (libcap). */
#pragma once

#include <yajl/yajl_tree.h>

#include "error.h"
#include "spec.h"

/*
 * Reads process.capabilities into *ret (malloc'd). Names that are not
 * capabilities, or that this libcap does not know, are ignored, as the
 * runtime-spec asks and runc does, each with a line added to *warnings (a
 * NULL-terminated list, grown here); anything that is not a list of strings
 * is an error naming the field.
 */
int caps_parse(yajl_val obj, const char *path, struct spec_caps **ret, char ***warnings, size_t *n_warnings,
               cocoon_error **err);

/* Drops what is not in the bounding set; call while still privileged, before the identity changes. */
int caps_apply_bounding(const struct spec_caps *caps, cocoon_error **err);
/* Sets effective, permitted, inheritable and ambient; call after the identity changed (with PR_SET_KEEPCAPS). */
int caps_apply(const struct spec_caps *caps, cocoon_error **err);
