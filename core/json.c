#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "cleanup.h"

static inline void cleanup_yajl_handlep(yajl_handle *h)
{
        if (*h)
                yajl_free(*h);
}

static int oom(cocoon_error **err) { return error_set(err, ENOMEM, "out of memory"); }

/* ---- first pass: is this JSON we are willing to build a tree of? ---- */

struct json_check {
        unsigned depth;
        const char *problem; /* why a callback stopped the parse */
};

static int check_open(void *ctx)
{
        struct json_check *c = ctx;

        if (++c->depth > JSON_MAX_DEPTH) {
                c->problem = "nested too deeply";
                return 0;
        }
        return 1;
}

static int check_close(void *ctx)
{
        struct json_check *c = ctx;

        c->depth--;
        return 1;
}

static int check_string(void *ctx, const unsigned char *s, size_t len)
{
        struct json_check *c = ctx;

        if (memchr(s, '\0', len)) {
                c->problem = "string contains a NUL character";
                return 0;
        }
        return 1;
}

static const yajl_callbacks check_callbacks = {
        .yajl_string = check_string,
        .yajl_start_map = check_open,
        .yajl_map_key = check_string,
        .yajl_end_map = check_close,
        .yajl_start_array = check_open,
        .yajl_end_array = check_close,
};

static int json_check(const char *json, size_t len, cocoon_error **err)
{
        struct json_check c = {};
        _cleanup_(cleanup_yajl_handlep) yajl_handle h = yajl_alloc(&check_callbacks, NULL, &c);
        if (!h)
                return oom(err);

        /* Offset of the offending byte: the last one yajl consumed, or the
         * end of the text when it ended too early. */
        size_t at = len;
        yajl_status s = yajl_parse(h, (const unsigned char *) json, len);
        if (s != yajl_status_ok) {
                at = yajl_get_bytes_consumed(h);
                if (at > 0)
                        at--;
        } else {
                s = yajl_complete_parse(h);
        }
        if (s == yajl_status_ok)
                return 0;

        /* Point at it as an editor would: line and column, from 1. */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at && i < len; i++) {
                if (json[i] == '\n') {
                        line++;
                        col = 1;
                } else {
                        col++;
                }
        }

        if (s == yajl_status_client_canceled)
                return error_set(err, EINVAL, "invalid JSON: %s (line %zu, column %zu)", c.problem, line, col);

        unsigned char *raw = yajl_get_error(h, 0, NULL, 0);
        if (!raw)
                return oom(err);
        size_t n = strlen((char *) raw);
        while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '.'))
                raw[--n] = '\0';
        int r = error_set(err, EINVAL, "invalid JSON: %s (line %zu, column %zu)", (char *) raw, line, col);
        yajl_free_error(h, raw);
        return r;
}

/* ---- second pass: the tree into struct oci_spec ---- */

const char *json_type_name(yajl_val v)
{
        switch (v->type) {
        case yajl_t_string:
                return "a string";
        case yajl_t_number:
                return "a number";
        case yajl_t_object:
                return "an object";
        case yajl_t_array:
                return "an array";
        case yajl_t_true:
        case yajl_t_false:
                return "a boolean";
        case yajl_t_null:
                return "null";
        default:
                return "an unknown value";
        }
}

/* The value of key in obj, or NULL when it is absent or null (or obj is). */
yajl_val json_get(yajl_val obj, const char *key)
{
        yajl_val found = NULL;

        if (!obj)
                return NULL;
        for (size_t i = 0; i < obj->u.object.len; i++)
                if (strcmp(obj->u.object.keys[i], key) == 0)
                        found = obj->u.object.values[i];
        return YAJL_IS_NULL(found) ? NULL : found;
}


/* An optional object member; NULL when absent. */
int json_get_object(yajl_val obj, const char *path, const char *key, yajl_val *ret, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);

        if (v && !YAJL_IS_OBJECT(v))
                return json_field_error(err, path, key, "expected an object, got %s", json_type_name(v));
        *ret = v;
        return 0;
}

/* A required string must be present; an optional one that is absent or ""
 * leaves *ret NULL. */
int json_get_string(yajl_val obj, const char *path, const char *key, bool required, char **ret,
                      cocoon_error **err)
{
        yajl_val v = json_get(obj, key);

        if (!v) {
                if (required)
                        return json_field_error(err, path, key, "required field is missing");
                return 0;
        }
        if (!YAJL_IS_STRING(v))
                return json_field_error(err, path, key, "expected a string, got %s", json_type_name(v));
        if (!required && v->u.string[0] == '\0')
                return 0;
        *ret = strdup(v->u.string);
        return *ret ? 0 : oom(err);
}

int json_get_bool(yajl_val obj, const char *path, const char *key, bool *ret, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);

        if (!v)
                return 0;
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
                return json_field_error(err, path, key, "expected a boolean, got %s", json_type_name(v));
        *ret = YAJL_IS_TRUE(v);
        return 0;
}

/* A whole number written as digits only: Go rejects "1.0", "1e3" and "-0"
 * for its unsigned fields, and so do we. */
int json_parse_uint(yajl_val v, unsigned long long max, const char *path, const char *key,
                      unsigned long long *ret, cocoon_error **err)
{
        if (!YAJL_IS_NUMBER(v))
                return json_field_error(err, path, key, "expected an integer between 0 and %llu, got %s", max,
                                   json_type_name(v));

        const char *s = v->u.number.r;
        bool digits = *s != '\0';
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        digits = false;

        unsigned long long n = 0;
        if (digits) {
                errno = 0;
                n = strtoull(s, NULL, 10);
        }
        if (!digits || errno == ERANGE || n > max)
                return json_field_error(err, path, key, "expected an integer between 0 and %llu, got %.32s", max, s);
        *ret = n;
        return 0;
}

/* A whole number between min and max, optionally negative, digits only. */
int json_parse_int(yajl_val v, long long min, long long max, const char *path, const char *key, long long *ret,
                   cocoon_error **err)
{
        const char *s = YAJL_IS_NUMBER(v) ? v->u.number.r : NULL;
        bool digits = s && s[s[0] == '-'] != '\0';
        for (const char *p = s ? s + (s[0] == '-') : ""; *p; p++)
                if (*p < '0' || *p > '9')
                        digits = false;

        long long n = 0;
        if (digits) {
                errno = 0;
                n = strtoll(s, NULL, 10);
        }
        if (!digits || errno == ERANGE || n < min || n > max)
                return json_field_error(err, path, key, "expected an integer between %lld and %lld, got %.32s", min,
                                        max, s ? s : json_type_name(v));
        *ret = n;
        return 0;
}

/* A list of strings; absent gives an empty list unless non_empty asks for
 * at least one element. */
int json_get_strv(yajl_val obj, const char *path, const char *key, bool non_empty, char ***ret, size_t *ret_n,
                    cocoon_error **err)
{
        yajl_val v = json_get(obj, key);

        if (non_empty && (!YAJL_IS_ARRAY(v) || v->u.array.len == 0))
                return json_field_error(err, path, key, "expected a non-empty array of strings");
        if (v && !YAJL_IS_ARRAY(v))
                return json_field_error(err, path, key, "expected an array of strings, got %s", json_type_name(v));

        size_t n = v ? v->u.array.len : 0;
        char **strv = calloc(n + 1, sizeof(char *));
        if (!strv)
                return oom(err);
        *ret = strv;
        *ret_n = n;

        for (size_t i = 0; i < n; i++) {
                yajl_val e = v->u.array.values[i];
                if (!YAJL_IS_STRING(e))
                        return error_set(err, EINVAL, "%s%s%s[%zu]: expected a string, got %s", path, json_dot(path), key,
                                         i, json_type_name(e));
                strv[i] = strdup(e->u.string);
                if (!strv[i])
                        return oom(err);
        }
        return 0;
}

static bool blank(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r\n", s[i]))
                        return false;
        return true;
}

/* Checks and parses JSON text whose top level must be an object. */
int json_parse_object(const char *json, size_t len, yajl_val *ret, cocoon_error **err)
{
        if (!json || blank(json, len))
                return error_set(err, EINVAL, "invalid JSON: empty input");

        int r = json_check(json, len, err);
        if (r < 0)
                return r;

        /* yajl_tree wants a C string; check_json made sure there is no NUL. */
        _cleanup_free_ char *text = malloc(len + 1);
        if (!text)
                return oom(err);
        memcpy(text, json, len);
        text[len] = '\0';

        char msg[256] = "";
        yajl_val top = yajl_tree_parse(text, msg, sizeof(msg));
        if (!top)
                /* The text passed check_json, so this is yajl running out of memory. */
                return error_set(err, ENOMEM, "parsing JSON: %s", *msg ? msg : "out of memory");
        if (!YAJL_IS_OBJECT(top)) {
                r = error_set(err, EINVAL, "expected a JSON object at the top level, got %s", json_type_name(top));
                yajl_tree_free(top);
                return r;
        }
        *ret = top;
        return 0;
}


/* ---- writing ---- */

#include <stdio.h>
#include <yajl/yajl_gen.h>

static void check(struct json_writer *w, yajl_gen_status s)
{
        if (s != yajl_gen_status_ok)
                w->failed = true;
}

int json_writer_init(struct json_writer *w, bool pretty)
{
        yajl_gen g = yajl_gen_alloc(NULL);
        *w = (struct json_writer) {.g = g, .failed = !g};
        if (!g)
                return -ENOMEM;
        if (pretty) {
                yajl_gen_config(g, yajl_gen_beautify, 1);
                yajl_gen_config(g, yajl_gen_indent_string, "  ");
        }
        return 0;
}

int json_writer_finish(struct json_writer *w, char **ret, size_t *ret_len)
{
        const unsigned char *buf;
        size_t len;
        int r = 0;
        if (w->failed || yajl_gen_get_buf(w->g, &buf, &len) != yajl_gen_status_ok) {
                r = -ENOMEM;
        } else {
                char *text = strndup((const char *) buf, len);
                if (!text)
                        r = -ENOMEM;
                else {
                        *ret = text;
                        if (ret_len)
                                *ret_len = len;
                }
        }
        if (w->g)
                yajl_gen_free(w->g);
        w->g = NULL;
        return r;
}

void json_str(struct json_writer *w, const char *s)
{
        check(w, s ? yajl_gen_string(w->g, (const unsigned char *) s, strlen(s)) : yajl_gen_null(w->g));
}

void json_int(struct json_writer *w, long long v) { check(w, yajl_gen_integer(w->g, v)); }

void json_uint(struct json_writer *w, unsigned long long v)
{
        /* yajl's integers are signed; print larger values as a number ourselves. */
        char num[24];
        int n = snprintf(num, sizeof(num), "%llu", v);
        check(w, yajl_gen_number(w->g, num, n));
}

void json_bool(struct json_writer *w, bool v) { check(w, yajl_gen_bool(w->g, v)); }

void json_open_map(struct json_writer *w, const char *key)
{
        if (key)
                json_str(w, key);
        check(w, yajl_gen_map_open(w->g));
}

void json_close_map(struct json_writer *w) { check(w, yajl_gen_map_close(w->g)); }

void json_open_array(struct json_writer *w, const char *key)
{
        if (key)
                json_str(w, key);
        check(w, yajl_gen_array_open(w->g));
}

void json_close_array(struct json_writer *w) { check(w, yajl_gen_array_close(w->g)); }

void json_key_str(struct json_writer *w, const char *key, const char *v)
{
        json_str(w, key);
        json_str(w, v);
}

void json_key_int(struct json_writer *w, const char *key, long long v)
{
        json_str(w, key);
        json_int(w, v);
}

void json_key_uint(struct json_writer *w, const char *key, unsigned long long v)
{
        json_str(w, key);
        json_uint(w, v);
}

void json_key_bool(struct json_writer *w, const char *key, bool v)
{
        json_str(w, key);
        json_bool(w, v);
}

void json_key_strv(struct json_writer *w, const char *key, char *const *strv)
{
        json_open_array(w, key);
        for (; strv && *strv; strv++)
                json_str(w, *strv);
        json_close_array(w);
}

void json_value(struct json_writer *w, yajl_val v)
{
        if (!v) {
                json_str(w, NULL);
                return;
        }
        switch (v->type) {
        case yajl_t_string:
                json_str(w, v->u.string);
                break;
        case yajl_t_number:
                check(w, yajl_gen_number(w->g, v->u.number.r, strlen(v->u.number.r)));
                break;
        case yajl_t_object:
                json_open_map(w, NULL);
                for (size_t i = 0; i < v->u.object.len; i++) {
                        json_str(w, v->u.object.keys[i]);
                        json_value(w, v->u.object.values[i]);
                }
                json_close_map(w);
                break;
        case yajl_t_array:
                json_open_array(w, NULL);
                for (size_t i = 0; i < v->u.array.len; i++)
                        json_value(w, v->u.array.values[i]);
                json_close_array(w);
                break;
        case yajl_t_true:
        case yajl_t_false:
                json_bool(w, YAJL_IS_TRUE(v));
                break;
        default:
                json_str(w, NULL);
                break;
        }
}
