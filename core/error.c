#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int error_vset(cocoon_error **err, int errnum, const char *suffix, const char *fmt, va_list ap)
{
        if (errnum < 0)
                errnum = -errnum;
        if (!err || *err)
                return errnum ? -errnum : -EINVAL;

        cocoon_error *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        if (msg && suffix) {
                char *full = NULL;
                if (asprintf(&full, "%s: %s", msg, suffix) >= 0) {
                        free(msg);
                        msg = full;
                }
        }
        e->errnum = errnum;
        e->msg = msg ? msg : strdup("out of memory");
        *err = e;
        return errnum ? -errnum : -EINVAL;
}

int error_set(cocoon_error **err, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, errnum, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int error_sys(cocoon_error **err, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, errnum, strerror(errnum < 0 ? -errnum : errnum), fmt, ap);
        va_end(ap);
        return r;
}

int error_wrap(cocoon_error **err, const char *fmt, ...)
{
        if (!err || !*err)
                return -EINVAL;
        cocoon_error *e = *err;
        char *ctx = NULL, *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&ctx, fmt, ap);
        va_end(ap);
        if (n >= 0 && asprintf(&full, "%s: %s", ctx, e->msg ? e->msg : "") >= 0) {
                free(e->msg);
                e->msg = full;
        }
        free(ctx);
        return e->errnum ? -e->errnum : -EINVAL;
}

int error_append(cocoon_error **err, const char *fmt, ...)
{
        if (!err || !*err)
                return -EINVAL;
        cocoon_error *e = *err;
        char *more = NULL, *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&more, fmt, ap);
        va_end(ap);
        if (n >= 0 && asprintf(&full, "%s%s", e->msg ? e->msg : "", more) >= 0) {
                free(e->msg);
                e->msg = full;
        }
        free(more);
        return e->errnum ? -e->errnum : -EINVAL;
}

void error_free(cocoon_error *err)
{
        if (!err)
                return;
        free(err->msg);
        free(err);
}
