/* OCI hooks: parsing config.json's "hooks" and running them. */
#pragma once

#include <sys/types.h>
#include <yajl/yajl_tree.h>

#include "error.h"
#include "spec.h"

/* Reads config.json's "hooks" object into hooks[SPEC_HOOK_KINDS]; errors name the field ("hooks.prestart[0].path"). */
int hooks_parse(yajl_val top, struct spec_hooks hooks[], cocoon_error **err);
void hooks_free(struct spec_hooks hooks[]);

/*
 * Runs hooks one after the other, each with state_json on stdin, its own
 * args and env, and its timeout (SIGKILL when it passes). Stops at the first
 * that fails: "prestart hook /usr/bin/x: exited with status 2: <its output>".
 * kind is the name used in messages ("prestart", "poststop", ...).
 */
int hooks_run(const struct spec_hook *hooks, size_t n, const char *state_json, const char *kind, cocoon_error **err);

/*
 * The runtime-spec state document for a container: ociVersion, id, status,
 * pid (when > 0), bundle and annotations, from spec->id and spec->bundle.
 * Returns a malloc'd string, NULL when out of memory.
 */
char *hooks_state_json(const struct oci_spec *spec, const char *status, pid_t pid);
