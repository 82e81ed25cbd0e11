/*
 * The guest's serial console and the VMM's own output, bounded. The VMM
 * writes both into sockets or pipes; a thread of ours reads them into log
 * files of at most CONSOLE_LOG_MAX bytes each (when one is full it becomes
 * NAME.1 and a new one starts, so the newest output is always kept) and
 * each one's last bytes into a ring for error messages. A guest flooding its
 * serial port costs the host two files of bounded size and a fixed ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"

#define RING_SIZE 8192
#define TAIL_LINES 10

/* What a Linux guest prints first when it panics. */
#define PANIC_MARK "Kernel panic - not syncing"

struct capped_log {
        int src;   /* what we read; -1 at EOF */
        int out;   /* the file */
        char *path;
        size_t size;
        char ring[RING_SIZE]; /* its last bytes, under the console's lock */
        size_t ring_pos;       /* total written, mod-indexed */
};

struct console {
        pthread_t thread;
        bool joined;
        struct capped_log logs[2]; /* CONSOLE_GUEST, CONSOLE_VMM */
        pthread_mutex_t lock;
};

static int open_log(struct capped_log *l)
{
        l->out = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        l->size = 0;
        return l->out < 0 ? -errno : 0;
}

static void log_write(struct capped_log *l, const char *buf, size_t n)
{
        if (l->size + n > CONSOLE_LOG_MAX && l->out >= 0) {
                char old[4096];
                snprintf(old, sizeof(old), "%s.1", l->path);
                close(l->out);
                (void) rename(l->path, old);
                (void) open_log(l);
        }
        if (l->out >= 0 && write(l->out, buf, n) > 0)
                l->size += n;
}

static void ring_write(struct console *c, struct capped_log *l, const char *buf, size_t n)
{
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++)
                l->ring[(l->ring_pos + i) % RING_SIZE] = buf[i];
        l->ring_pos += n;
        pthread_mutex_unlock(&c->lock);
}

static void *pump(void *data)
{
        struct console *c = data;
        char buf[4096];
        while (c->logs[0].src >= 0 || c->logs[1].src >= 0) {
                struct pollfd p[2] = {{.fd = c->logs[0].src, .events = POLLIN}, {.fd = c->logs[1].src, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (!p[i].revents)
                                continue;
                        ssize_t n = read(c->logs[i].src, buf, sizeof(buf));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                close(c->logs[i].src);
                                c->logs[i].src = -1;
                                continue;
                        }
                        log_write(&c->logs[i], buf, (size_t) n);
                        ring_write(c, &c->logs[i], buf, (size_t) n);
                }
        }
        return NULL;
}

void console_free(struct console *c)
{
        if (!c)
                return;
        console_stop(c);
        for (int i = 0; i < 2; i++) {
                if (c->logs[i].src >= 0)
                        close(c->logs[i].src);
                if (c->logs[i].out >= 0)
                        close(c->logs[i].out);
                free(c->logs[i].path);
        }
        pthread_mutex_destroy(&c->lock);
        free(c);
}

int console_start(int console_fd, const char *console_path, int log_fd, const char *log_path, struct console **ret,
                  cocoon_error **err)
{
        struct console *c = calloc(1, sizeof(*c));
        if (!c) {
                close(console_fd);
                close(log_fd);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->lock, NULL);
        c->logs[0] = (struct capped_log) {.src = console_fd, .out = -1, .path = strdup(console_path)};
        c->logs[1] = (struct capped_log) {.src = log_fd, .out = -1, .path = strdup(log_path)};
        int r = 0;
        for (int i = 0; i < 2 && r == 0; i++) {
                if (!c->logs[i].path)
                        r = -ENOMEM;
                else if (open_log(&c->logs[i]) < 0)
                        r = error_sys(err, errno, "creating %s", c->logs[i].path);
        }
        if (r == 0) {
                int e = pthread_create(&c->thread, NULL, pump, c);
                if (e)
                        r = error_sys(err, e, "starting the console reader");
        }
        if (r < 0) {
                c->joined = true; /* no thread to wait for */
                console_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* The ring's text in order, NUL-terminated, without its trailing newlines; returns its length. */
static size_t ring_text(struct console *c, const struct capped_log *l, char text[RING_SIZE + 1])
{
        pthread_mutex_lock(&c->lock);
        size_t len = l->ring_pos < RING_SIZE ? l->ring_pos : RING_SIZE;
        for (size_t i = 0; i < len; i++)
                text[i] = l->ring[(l->ring_pos - len + i) % RING_SIZE];
        pthread_mutex_unlock(&c->lock);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                len--;
        text[len] = '\0';
        return len;
}

char *console_tail(struct console *c, enum console_source which)
{
        char text[RING_SIZE + 1];
        size_t len = ring_text(c, &c->logs[which], text);
        if (len == 0)
                return NULL;
        int lines = 0;
        size_t start = len;
        while (start > 0 && lines < TAIL_LINES)
                if (text[--start] == '\n')
                        lines++;
        return strdup(text + start + (text[start] == '\n'));
}

char *console_panic(struct console *c)
{
        char text[RING_SIZE + 1];
        ring_text(c, &c->logs[CONSOLE_GUEST], text);
        /* The first one: the kernel repeats it in its closing "---[ end Kernel panic ..." line. */
        char *line = strstr(text, PANIC_MARK);
        if (!line)
                return NULL;
        size_t n = strcspn(line, "\r\n");
        return strndup(line, n > 200 ? 200 : n);
}

void console_stop(struct console *c)
{
        if (!c || c->joined)
                return;
        pthread_join(c->thread, NULL);
        c->joined = true;
}

void console_report(struct console *c, struct vm_report *ret)
{
        if (!c)
                return;
        ret->vmm_tail = console_tail(c, CONSOLE_VMM);
        ret->console_tail = console_tail(c, CONSOLE_GUEST);
        ret->panic = console_panic(c);
}
