/* A tiny TAP producer for unit tests: meson runs them with protocol 'tap'. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

static inline void tap_ok(int cond, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        if (!cond)
                tap_failed++;
        fflush(stdout);
}

#define TAP_OK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define TAP_STR_EQ(a, b, ...)                                                                                                  \
        do {                                                                                                                   \
                const char *_a = (a), *_b = (b);                                                                               \
                int _eq = _a && _b && strcmp(_a, _b) == 0;                                                                     \
                tap_ok(_eq, __VA_ARGS__);                                                                                      \
                if (!_eq)                                                                                                      \
                        printf("#   got: '%s'\n#   expected: '%s'\n", _a ? _a : "(null)", _b ? _b : "(null)");              \
        } while (0)
#define TAP_CONTAINS(hay, needle, ...)                                                                                         \
        do {                                                                                                                   \
                const char *_h = (hay), *_n = (needle);                                                                        \
                int _in = _h && strstr(_h, _n) != NULL;                                                                        \
                tap_ok(_in, __VA_ARGS__);                                                                                      \
                if (!_in)                                                                                                      \
                        printf("#   '%s' does not contain '%s'\n", _h ? _h : "(null)", _n);                                \
        } while (0)

static inline int tap_done(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}

/* Reads fd to EOF into buf (at most size - 1 bytes), NUL-terminated; returns the length. */
static inline size_t tap_read_all(int fd, char *buf, size_t size)
{
        size_t got = 0;
        ssize_t n;
        while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
                got += (size_t) n;
        buf[got] = '\0';
        return got;
}
