/*
 * linux.seccomp: parsing the profile and loading it with libseccomp.
 * (Not named seccomp.h: that would hide libseccomp's own header.)
 */
#pragma once

#include <yajl/yajl_tree.h>

#include "error.h"
#include "spec.h"

/*
 * Reads linux.seccomp into *ret (malloc'd; free with syscall_filter_free).
 * Unknown actions, operators, flags and argument indexes are errors naming
 * the field; SCMP_ACT_NOTIFY and listenerPath are refused, since cocoon has
 * no seccomp agent to hand the notifications to.
 */
int syscall_filter_parse(yajl_val obj, const char *path, struct spec_seccomp **ret, cocoon_error **err);
void syscall_filter_free(struct spec_seccomp *s);

/*
 * Builds the filter and loads it into the calling process. Syscall names that
 * this libseccomp does not know are skipped, as runc does (a profile lists
 * syscalls of newer kernels); unknown architectures and flags libseccomp
 * cannot set are errors.
 */
int syscall_filter_load(const struct spec_seccomp *s, cocoon_error **err);

/* What the filter understands, for `cocoon features`; every list NULL-terminated. */
struct syscall_filter_names {
        const char *const *actions, *const *operators, *const *archs, *const *known_flags, *const *supported_flags;
};
void syscall_filter_known(struct syscall_filter_names *ret);
