#include "pump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pump_init(struct pump *p, int fd, uint32_t stream, uint8_t fdno, bool outbound)
{
        *p = (struct pump) {.fd = fd, .stream = stream, .fdno = fdno, .outbound = outbound,
                            .credit = outbound ? FRAME_WINDOW : 0};
}

int pump_watch(struct pump *p, struct loop *l, watch_fn fn)
{
        int r = loop_add(l, p->fd, 0, fn, p, &p->watch);
        if (r < 0)
                return r;
        pump_update(p);
        return 0;
}

/* Stops watching the local fd and closes it; the pump's other state stays. */
static void close_fd(struct pump *p)
{
        if (p->watch)
                loop_remove(p->watch);
        p->watch = NULL;
        if (p->fd >= 0)
                (void) close(p->fd);
        p->fd = -1;
}

void pump_close(struct pump *p)
{
        close_fd(p);
        p->total += p->len;
        free(p->buf);
        p->buf = NULL;
        p->len = 0;
}

void pump_update(struct pump *p)
{
        if (!p->watch)
                return;
        uint32_t ev = 0;
        if (p->fd >= 0) {
                if (p->outbound && !p->eof && p->credit > 0)
                        ev = EPOLLIN;
                else if (!p->outbound && p->len > 0)
                        ev = EPOLLOUT;
        }
        (void) loop_set_events(p->watch, ev);
}

int pump_read(struct pump *p, struct conn *c)
{
        if (p->fd < 0 || p->eof || p->credit == 0)
                return 0;
        uint8_t buf[FRAME_DATA_CHUNK];
        size_t want = p->credit < sizeof(buf) ? p->credit : sizeof(buf);
        ssize_t n = read(p->fd, buf, want);
        if (n < 0 && (errno == EINTR || (errno == EAGAIN && !p->closing)))
                return 0;
        if (n <= 0) {
                /* EOF, or EIO from a pty whose other side is gone: the stream ends either way. */
                p->eof = true;
                pump_update(p);
                return conn_queue(c, FRAME_EOF, p->stream, p->fdno, NULL, 0);
        }
        p->credit -= n;
        p->total += n;
        pump_update(p);
        return conn_queue(c, FRAME_DATA, p->stream, p->fdno, buf, n);
}

int pump_drain(struct pump *p, struct conn *c)
{
        if (!p->outbound)
                return -EINVAL;
        p->closing = true;
        int r = 0;
        while (r == 0 && p->fd >= 0 && !p->eof && p->credit > 0)
                r = pump_read(p, c);
        return r;
}

int pump_reader_gone(struct pump *p, struct conn *c)
{
        /* Closing our read end makes the local writer's next write fail with EPIPE. */
        close_fd(p);
        if (p->eof)
                return 0;
        /* The stream ends here: an EOF in its own direction lets the far side finish it too. */
        p->eof = true;
        return conn_queue(c, FRAME_EOF, p->stream, p->fdno, NULL, 0);
}

void pump_grant(struct pump *p, uint32_t credit)
{
        /* Never more than one window outstanding, whatever the peer says. */
        uint64_t c = (uint64_t) p->credit + credit;
        p->credit = c > FRAME_WINDOW ? FRAME_WINDOW : (uint32_t) c;
        pump_update(p);
}

static int queue_credit(struct conn *c, const struct pump *p, uint32_t n)
{
        uint8_t b[4] = {n >> 24, n >> 16, n >> 8, n};
        return conn_queue(c, FRAME_CREDIT, p->stream, p->fdno, b, 4);
}

int pump_push(struct pump *p, struct conn *c, const uint8_t *data, size_t len)
{
        if (p->eof)
                return -EPROTO;
        if (p->len + len > FRAME_WINDOW)
                return -EPROTO;
        if (p->fd < 0) {
                p->total += len;
                return queue_credit(c, p, len); /* reader gone: discard, but keep the sender going */
        }
        uint8_t *b = realloc(p->buf, p->len + len);
        if (!b)
                return -ENOMEM;
        p->buf = b;
        memcpy(p->buf + p->len, data, len);
        p->len += len;
        return pump_write(p, c);
}

void pump_push_eof(struct pump *p)
{
        p->eof = true;
        /* Closing our end is how the local reader learns of the EOF. */
        if (p->len == 0)
                close_fd(p);
}

int pump_write(struct pump *p, struct conn *c)
{
        size_t done = 0;
        while (done < p->len && p->fd >= 0) {
                ssize_t n = write(p->fd, p->buf + done, p->len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        /*
                         * EPIPE and friends: nobody reads any more. Drop what is
                         * left and tell the sender, so that the writer at the far
                         * end gets its EPIPE too, as it would with a plain pipe.
                         */
                        close_fd(p);
                        done = p->len;
                        if (!p->eof) {
                                int r = conn_queue(c, FRAME_EOF, p->stream, p->fdno, NULL, 0);
                                if (r < 0)
                                        return r;
                        }
                        break;
                }
                done += n;
        }
        if (done) {
                p->total += done;
                memmove(p->buf, p->buf + done, p->len - done);
                p->len -= done;
                int r = queue_credit(c, p, done);
                if (r < 0)
                        return r;
        }
        if (p->eof)
                pump_push_eof(p);
        pump_update(p);
        return 0;
}

bool pump_done(const struct pump *p)
{
        return p->outbound ? p->eof : (p->eof && p->len == 0);
}

uint64_t pump_mark(const struct pump *p, uint64_t pending)
{
        return p->total + (p->outbound ? pending : p->len);
}

bool pump_reached(const struct pump *p, uint64_t mark)
{
        return pump_done(p) || p->total >= mark;
}
