/*
 * The CLI's logging. Errors go to stderr and, with --log, to that file in
 * runc's format: text, or with --log-format json one JSON object a line with
 * "level", "msg" and "time", which containerd's shim reads back.
 */
#pragma once

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

int log_setup(const char *path, bool json, bool debug);
/* Forgets the --log file (its fd may be closed): stderr only from now on. */
void log_detach(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Errors are also printed on stderr; the others only when --debug or --log says so. */
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
