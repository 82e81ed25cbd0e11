/*
 * The one error contract of cocoon: a function that can fail returns a
 * negative errno and, when the caller needs more, fills *err with a message.
 * Callers add context with error_wrap(); only the top of a program logs.
 */
#pragma once

#include <stdarg.h>

typedef struct cocoon_error {
        int errnum; /* positive errno, 0 when none applies */
        char *msg;  /* full message, context first */
} cocoon_error;

/* Sets *err (if err is non-NULL and *err is NULL) and returns -errnum
 * (or -EINVAL when errnum is 0). */
int error_set(cocoon_error **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like error_set, appending ": strerror(errnum)". */
int error_sys(cocoon_error **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Adds "context: " before the message of the failure r (a negative errno)
 * and returns its errno (the error's own if it has one, else r). When
 * nothing set the error, it is set now from r ("context: strerror"), so a
 * failure that only returned its errno keeps it: nothing turns into a
 * made-up EINVAL.
 */
int error_wrap(cocoon_error **err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends to the existing message; returns -errnum. */
int error_append(cocoon_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_free(cocoon_error *err);
static inline void error_freep(cocoon_error **err) { error_free(*err); }
#define _cleanup_error_ __attribute__((cleanup(error_freep)))
