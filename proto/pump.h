/*
 * One direction of one stdio fd of one process, between a local fd and the
 * peer's DATA frames, with credit-based flow control: a sender only sends
 * what the receiver granted (FRAME_WINDOW to begin with), and the receiver
 * grants again as it writes the bytes out. A workload that writes faster
 * than the far end reads is therefore held back by its own pipe, and neither
 * side buffers more than one window per fd.
 *
 * The agent pumps stdout/stderr to the host and stdin from it; the
 * supervisor does the reverse. Both use this code.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "loop.h"

struct pump {
        int fd; /* owned; -1 once closed */
        uint32_t stream;
        uint8_t fdno;  /* 0, 1 or 2: which stdio fd of the process */
        bool outbound; /* local fd -> peer; else peer -> local fd */
        bool eof;      /* outbound: EOF sent; inbound: EOF received */
        bool closing;  /* outbound: ends at the first read that finds nothing (pump_drain) */
        uint32_t credit; /* outbound: bytes the peer still accepts */
        uint8_t *buf;    /* inbound: bytes not yet written to fd */
        size_t len;
        uint64_t total; /* outbound: bytes read from fd; inbound: bytes written to fd or dropped */
        struct watch *watch; /* NULL for fds the owner does not poll */
};

void pump_init(struct pump *p, int fd, uint32_t stream, uint8_t fdno, bool outbound);
/* Registers the fd in the loop; fn gets the pump as watch->data. */
int pump_watch(struct pump *p, struct loop *l, watch_fn fn);
/* Closes the fd, removes the watch, frees the buffer. */
void pump_close(struct pump *p);

/* Outbound: reads what the credit allows and queues DATA, or EOF at the end. */
int pump_read(struct pump *p, struct conn *c);
void pump_grant(struct pump *p, uint32_t credit);
/*
 * Outbound: the local fd is to end (containerd's CloseIO) even though its
 * writers may not have closed it: sends what it holds, as far as the credit
 * allows, and the EOF once a read finds nothing. Call it again when credit
 * comes while p->closing and !p->eof.
 */
int pump_drain(struct pump *p, struct conn *c);
/*
 * Outbound: the peer's reader is gone (it sent EOF against the flow). Stops
 * reading, so the local writer gets EPIPE, and ends the stream with an EOF.
 */
int pump_reader_gone(struct pump *p, struct conn *c);
/* Inbound: a DATA frame arrived; -EPROTO if the peer overran its credit. */
int pump_push(struct pump *p, struct conn *c, const uint8_t *data, size_t len);
void pump_push_eof(struct pump *p);
/* Inbound: writes buffered bytes and queues CREDIT for what was written. */
int pump_write(struct pump *p, struct conn *c);

/* True when nothing more will flow: EOF seen and everything written. */
bool pump_done(const struct pump *p);
/*
 * The position a process's exit is reported after: what the pump has taken
 * in so far (inbound: received; outbound: read plus pending, the bytes
 * pending in fd, which the process wrote before it exited). pump_reached()
 * is true once that much went out (or nothing more will).
 */
uint64_t pump_mark(const struct pump *p, uint64_t pending);
bool pump_reached(const struct pump *p, uint64_t mark);
/* Updates the watch's events from the pump's state. */
void pump_update(struct pump *p);
