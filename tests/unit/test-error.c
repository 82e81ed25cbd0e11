/* core/error.c: the one error contract. A failure keeps its errno however it is wrapped. */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "tap.h"

int main(void)
{
        /* A failure that only returned its errno: wrapping it sets the error from it. */
        cocoon_error *err = NULL;
        int r = error_wrap(&err, -ENOMEM, "interface %s", "eth0");
        TAP_OK(r == -ENOMEM, "wrapping an unset error returns the failure's errno (got %d)", r);
        TAP_OK(err && err->errnum == ENOMEM, "... and the error carries it");
        TAP_STR_EQ(err ? err->msg : NULL, "interface eth0: Cannot allocate memory", "... in a message with the context");
        r = error_wrap(&err, r, "configuring the guest's network");
        TAP_STR_EQ(err ? err->msg : NULL, "configuring the guest's network: interface eth0: Cannot allocate memory",
                   "wrapping again adds context before it");
        TAP_OK(r == -ENOMEM, "... and keeps the errno (got %d)", r);
        error_free(err);

        /* A set error keeps its own errno, whatever the caller passes. */
        err = NULL;
        (void) error_set(&err, ENOENT, "container x does not exist");
        r = error_wrap(&err, -EIO, "the pod sandbox x");
        TAP_OK(r == -ENOENT, "a set error's errno wins (got %d)", r);
        TAP_STR_EQ(err ? err->msg : NULL, "the pod sandbox x: container x does not exist", "... with the context");
        error_free(err);

        /* An error with no errno takes the wrapped failure's, never "success". */
        err = NULL;
        (void) error_set(&err, 0, "no errno");
        TAP_OK(error_wrap(&err, -EPERM, "ctx") == -EPERM, "an error without errno takes the failure's");
        error_free(err);

        TAP_OK(error_wrap(NULL, -EAGAIN, "ctx") == -EAGAIN, "without an error to fill, the errno passes through");
        err = NULL;
        r = error_wrap(&err, 0, "ctx");
        TAP_OK(r < 0 && err && err->errnum == EIO, "wrapping no failure at all is still a failure (EIO, got %d)", r);
        error_free(err);
        return tap_done();
}
