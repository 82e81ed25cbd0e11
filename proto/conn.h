/*
 * A framed, non-blocking connection: the agent's transport, the supervisor's
 * agent link and its control clients all use it. Output is queued and flushed
 * when the fd is writable, so that neither side ever blocks on a peer that is
 * itself blocked writing. The queue is bounded in practice by the stdio credit
 * windows (FRAME_WINDOW) and by the request/response pattern.
 */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <sys/types.h>

#include "frame.h"

#define CONN_MAX_FDS 64

struct conn {
        int fd;
        bool unix_fds; /* receive SCM_RIGHTS file descriptors (unix sockets) */
        bool eof;
        struct frame_decoder dec;
        uint8_t *out;
        size_t out_len, out_off, out_cap;
        int fds[CONN_MAX_FDS]; /* received, not yet taken, oldest first */
        size_t n_fds;
};

void conn_init(struct conn *c, int fd, bool unix_fds);
/* Closes the fd and any received fds not taken. */
void conn_destroy(struct conn *c);

/*
 * Reads what is available. Returns the number of bytes read, 0 at EOF (sets
 * c->eof), -EAGAIN when nothing is there, -EINTR, or another negative errno.
 */
ssize_t conn_fill(struct conn *c, cocoon_error **err);
/* As frame_decoder_next. */
int conn_next(struct conn *c, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err);
/* Takes the oldest received fd, or -1. */
int conn_take_fd(struct conn *c);

/* Queues a frame. */
int conn_queue(struct conn *c, uint8_t type, uint32_t stream, uint8_t flags, const void *payload, size_t len);
int conn_queue_msg(struct conn *c, uint8_t type, const ProtobufCMessage *msg);
/* Writes queued output: 1 when the queue is empty, 0 when the fd is full, negative on error. */
int conn_flush(struct conn *c, cocoon_error **err);
static inline bool conn_has_output(const struct conn *c) { return c->out_len > c->out_off; }

/*
 * Blocking helpers for the short-lived clients (CLI verbs and stubs), whose
 * fd is in blocking mode.
 */
int conn_send_msg_fds(struct conn *c, uint8_t type, const ProtobufCMessage *msg, const int *fds, size_t n_fds,
                      cocoon_error **err);
/* Waits for the next whole frame (blocking read). -ECONNRESET at EOF, -ETIMEDOUT past SO_RCVTIMEO. */
int conn_read_frame(struct conn *c, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err);
