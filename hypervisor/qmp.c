#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "fsutil.h"

#define QMP_TIMEOUT_MS 30000
#define QMP_MAX_LINE (64 << 10)

/*
 * Reads one line. QMP answers are short and we only read while waiting for
 * one, so reading byte by byte keeps no state between calls.
 */
static int read_line(int fd, char **ret)
{
        size_t len = 0;
        _cleanup_free_ char *buf = malloc(QMP_MAX_LINE + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n = poll(&p, 1, QMP_TIMEOUT_MS);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n == 0 ? -ETIMEDOUT : -errno;
                char c;
                ssize_t k = read(fd, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k == 0 ? -ECONNRESET : -errno;
                if (c == '\n')
                        break;
                if (len == QMP_MAX_LINE)
                        return -EMSGSIZE;
                buf[len++] = c;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Reads lines until one carries "return" or "error", skipping events. */
static int read_answer(int fd, char **ret_json)
{
        for (;;) {
                _cleanup_free_ char *line = NULL;
                int r = read_line(fd, &line);
                if (r < 0)
                        return r;
                yajl_val root = yajl_tree_parse(line, NULL, 0);
                if (!root)
                        return -EPROTO;
                const char *ret_path[] = {"return", NULL};
                const char *err_path[] = {"error", NULL};
                const char *greet_path[] = {"QMP", NULL};
                bool is_return = yajl_tree_get(root, ret_path, yajl_t_any) != NULL;
                bool is_error = yajl_tree_get(root, err_path, yajl_t_any) != NULL;
                bool is_greeting = yajl_tree_get(root, greet_path, yajl_t_any) != NULL;
                yajl_tree_free(root);
                if (is_error)
                        return -EIO;
                if (is_return || is_greeting) {
                        if (ret_json)
                                *ret_json = TAKE_PTR(line);
                        return 0;
                }
        }
}

int qmp_command(int fd, const char *command, char **ret_json)
{
        char req[256];
        int n = snprintf(req, sizeof(req), "{\"execute\":\"%s\"}\n", command);
        if (n < 0 || (size_t) n >= sizeof(req))
                return -EINVAL;
        int r = write_all(fd, req, n);
        if (r < 0)
                return r;
        return read_answer(fd, ret_json);
}

int qmp_query_status(int fd, char **ret_status)
{
        _cleanup_free_ char *json = NULL;
        int r = qmp_command(fd, "query-status", &json);
        if (r < 0)
                return r;
        yajl_val root = yajl_tree_parse(json, NULL, 0);
        const char *path[] = {"return", "status", NULL};
        yajl_val v = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
        const char *s = v ? YAJL_GET_STRING(v) : NULL;
        char *status = s ? strdup(s) : NULL;
        yajl_tree_free(root);
        if (!status)
                return -EPROTO;
        *ret_status = status;
        return 0;
}

int qmp_handshake(int fd, cocoon_error **err)
{
        int r = read_answer(fd, NULL); /* the greeting */
        if (r < 0)
                return error_sys(err, -r, "waiting for QEMU's monitor");
        r = qmp_command(fd, "qmp_capabilities", NULL);
        if (r < 0)
                return error_sys(err, -r, "negotiating with QEMU's monitor");
        return 0;
}
