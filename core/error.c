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

/* The errno an error stands for: its own, else the failure it wraps, else EINVAL (never "success"). */
static int error_errno(const cocoon_error *e, int r)
{
        if (e && e->errnum)
                return -e->errnum;
        return r < 0 ? r : -EINVAL;
}

int error_wrap(cocoon_error **err, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int ret;
        if (!err) {
                ret = error_errno(NULL, r);
        } else if (!*err) {
                /* Nothing said what failed: the context and the errno become the message. */
                int e = r < 0 ? -r : EIO;
                ret = error_vset(err, e, strerror(e), fmt, ap);
        } else {
                cocoon_error *e = *err;
                char *ctx = NULL, *full = NULL;
                if (vasprintf(&ctx, fmt, ap) >= 0 && asprintf(&full, "%s: %s", ctx, e->msg ? e->msg : "") >= 0) {
                        free(e->msg);
                        e->msg = full;
                }
                free(ctx);
                ret = error_errno(e, r);
        }
        va_end(ap);
        return ret;
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
