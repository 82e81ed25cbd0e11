/*
 * ttrpc, containerd's RPC protocol for shims, on our side of a unix socket:
 * the frame format and a buffered connection. A frame is a 10-byte header
 * (payload length u32 BE, stream id u32 BE, type u8, flags u8) and the
 * payload; a request's payload is a TtrpcRequest, a response's (same stream
 * id) a TtrpcResponse. containerd is the client (odd stream ids).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TTRPC_HEADER_SIZE 10
#define TTRPC_MAX_MESSAGE (4u << 20) /* ttrpc's own limit */
#define TTRPC_TYPE_REQUEST 1
#define TTRPC_TYPE_RESPONSE 2

struct ttrpc_header {
        uint32_t length;
        uint32_t stream;
        uint8_t type;
        uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE]);
/*
 * Looks for one whole frame at the start of buf: 0 when more bytes are
 * needed, 1 with the header and the payload's offset (the frame's size is
 * TTRPC_HEADER_SIZE + h.length), or -EPROTO (err set) for a frame no
 * ttrpc peer sends: a payload over TTRPC_MAX_MESSAGE or a type other than a
 * request. Nothing past buf[len] is read.
 */
int ttrpc_frame_decode(const uint8_t *buf, size_t len, struct ttrpc_header *ret, cocoon_error **err);

/* A connection from containerd: bytes read but not yet taken as frames. */
struct ttrpc_conn {
        int fd;
        uint8_t *in;
        size_t in_len, in_cap;
};
void ttrpc_conn_init(struct ttrpc_conn *c, int fd);
void ttrpc_conn_destroy(struct ttrpc_conn *c);
/* Reads what is there (the fd is non-blocking): bytes read, 0 at EOF, -EAGAIN, or a negative errno. */
ssize_t ttrpc_conn_fill(struct ttrpc_conn *c);
/*
 * The next whole request: 1 with its header and payload (valid until the
 * next call), 0 when none is complete, -EPROTO on a bad frame.
 */
int ttrpc_conn_next(struct ttrpc_conn *c, struct ttrpc_header *ret_h, const uint8_t **ret_payload,
                    cocoon_error **err);
/* Drops the frame ttrpc_conn_next() returned, once handled. */
void ttrpc_conn_consume(struct ttrpc_conn *c, const struct ttrpc_header *h);
/*
 * Sends a response on stream: status code (a gRPC code, 0 for OK) and
 * message, or the packed reply. Waits for room if the socket is full.
 */
int ttrpc_send_response(int fd, uint32_t stream, int code, const char *message, const uint8_t *payload,
                        size_t payload_len);
