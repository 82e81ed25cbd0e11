#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

static int log_fd = -1;
static bool log_json, log_debug_on;

int log_setup(const char *path, bool json, bool debug)
{
        log_json = json;
        log_debug_on = debug;
        if (path) {
                log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log_fd < 0)
                        return -1;
        }
        return 0;
}

void log_detach(void)
{
        log_fd = -1;
}

static const char *level_name(enum log_level l)
{
        static const char *const names[] = {"debug", "info", "warning", "error"};
        return names[l];
}

static void write_json(enum log_level level, const char *msg, const char *stamp)
{
        yajl_gen g = yajl_gen_alloc(NULL);
        if (!g)
                return;
        yajl_gen_map_open(g);
        yajl_gen_string(g, (const unsigned char *) "level", 5);
        yajl_gen_string(g, (const unsigned char *) level_name(level), strlen(level_name(level)));
        yajl_gen_string(g, (const unsigned char *) "msg", 3);
        yajl_gen_string(g, (const unsigned char *) msg, strlen(msg));
        yajl_gen_string(g, (const unsigned char *) "time", 4);
        yajl_gen_string(g, (const unsigned char *) stamp, strlen(stamp));
        yajl_gen_map_close(g);
        const unsigned char *buf;
        size_t len;
        if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
                (void) !write(log_fd, buf, len);
                (void) !write(log_fd, "\n", 1);
        }
        yajl_gen_free(g);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
        if (level == LOG_DEBUG && !log_debug_on)
                return;
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char stamp[64];
        snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
        /* runc's text lines (logrus): what --log gets in text, and what --debug shows on stderr. */
        char line[4300];
        int n = snprintf(line, sizeof(line), "time=\"%s\" level=%s msg=\"%s\"\n", stamp, level_name(level), msg);
        size_t len = n < 0 ? 0 : (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;
        /*
         * Errors and warnings always reach stderr, as runc's do. With --debug
         * every line goes there in runc's format, unless --log names the
         * place for them: then debug lines go to that file only, as runc's do.
         */
        bool lines_on_stderr = log_debug_on && log_fd < 0;
        if (lines_on_stderr)
                (void) !write(STDERR_FILENO, line, len);
        else if (level == LOG_ERROR)
                fprintf(stderr, "cocoon: %s\n", msg);
        else if (level == LOG_WARN)
                fprintf(stderr, "cocoon: warning: %s\n", msg);
        if (log_fd < 0)
                return;
        if (log_json)
                write_json(level, msg, stamp);
        else
                (void) !write(log_fd, line, len);
}
