/*
 * Reading JSON documents (config.json, linux.resources, state.json) with
 * yajl, the one way cocoon does it.
 *
 * The text goes through yajl twice. A streaming pass only checks it: strict
 * JSON (no comments, no trailing garbage), nesting no deeper than
 * JSON_MAX_DEPTH, and no NUL inside a string. yajl_tree then builds the tree
 * that callers walk with the json_get_* helpers. The first pass exists
 * because yajl_tree cannot do those checks itself: it accepts comments,
 * hands out strings as C strings (so "a\u0000b" would silently become "a"),
 * and frees its tree recursively (so a few megabytes of "[" overflow the
 * stack).
 *
 * Values are read the way runc's Go decoder reads them: null means "not
 * set", an empty optional string means "not set", and of two equal keys in
 * one object the last one wins. Errors name the field as "path.key".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "error.h"

#define JSON_MAX_DEPTH 64

static inline void json_freep(yajl_val *v) { yajl_tree_free(*v); }
#define _cleanup_json_ __attribute__((cleanup(json_freep)))

/* Checks text and builds its tree; the top level must be an object. */
int json_parse_object(const char *json, size_t len, yajl_val *ret, cocoon_error **err);

/* "a string", "an object", ... for messages. */
const char *json_type_name(yajl_val v);
/* The value of key in obj, or NULL when it is absent or null (or obj is). */
yajl_val json_get(yajl_val obj, const char *key);

/* "path.key: message"; path is "" at the top level. */
static inline const char *json_dot(const char *path) { return *path ? "." : ""; }
#define json_field_error(err, path, key, fmt, ...) \
        error_set(err, EINVAL, "%s%s%s: " fmt, path, json_dot(path), key, ##__VA_ARGS__)

/* An optional object member; NULL when absent. */
int json_get_object(yajl_val obj, const char *path, const char *key, yajl_val *ret, cocoon_error **err);
/* A required string must be present; an optional one that is absent or "" leaves *ret NULL. */
int json_get_string(yajl_val obj, const char *path, const char *key, bool required, char **ret, cocoon_error **err);
/* Leaves *ret alone when absent. */
int json_get_bool(yajl_val obj, const char *path, const char *key, bool *ret, cocoon_error **err);
/* A whole number written as digits only, at most max (Go rejects "1.0", "1e3" and "-0" too). */
int json_parse_uint(yajl_val v, unsigned long long max, const char *path, const char *key, unsigned long long *ret,
                    cocoon_error **err);
/* A whole number between min and max, written as digits with an optional '-'. */
int json_parse_int(yajl_val v, long long min, long long max, const char *path, const char *key, long long *ret,
                   cocoon_error **err);
/* A NULL-terminated list of strings; absent gives an empty list unless non_empty. */
int json_get_strv(yajl_val obj, const char *path, const char *key, bool non_empty, char ***ret, size_t *ret_n,
                  cocoon_error **err);

/*
 * Writing JSON: a yajl generator that remembers failure, so that callers
 * emit a whole document and check once, in json_writer_finish().
 */
struct json_writer {
        void *g; /* yajl_gen */
        bool failed;
};
/* pretty: indented with two spaces, like Go's json.MarshalIndent in runc. */
int json_writer_init(struct json_writer *w, bool pretty);
/* The text (malloc'd, NUL-terminated) or -ENOMEM; frees the generator either way. */
int json_writer_finish(struct json_writer *w, char **ret, size_t *ret_len);
void json_str(struct json_writer *w, const char *s); /* NULL writes null */
void json_int(struct json_writer *w, long long v);
void json_uint(struct json_writer *w, unsigned long long v);
void json_bool(struct json_writer *w, bool v);
/* key may be NULL inside arrays and at the top level. */
void json_open_map(struct json_writer *w, const char *key);
void json_close_map(struct json_writer *w);
void json_open_array(struct json_writer *w, const char *key);
void json_close_array(struct json_writer *w);
void json_key_str(struct json_writer *w, const char *key, const char *v);
void json_key_int(struct json_writer *w, const char *key, long long v);
void json_key_uint(struct json_writer *w, const char *key, unsigned long long v);
void json_key_bool(struct json_writer *w, const char *key, bool v);
void json_key_strv(struct json_writer *w, const char *key, char *const *strv);
/* Writes a parsed value back out, as it is. */
void json_value(struct json_writer *w, yajl_val v);
