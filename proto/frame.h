/*
 * Framing for the agent and supervisor protocols.
 *
 * A frame is a 12-byte header followed by its payload:
 *   u32 payload length, u32 stream, u8 type, u8 flags, u16 reserved (0),
 * all big-endian. The length is checked against FRAME_MAX_PAYLOAD before any
 * buffer is grown, so a peer cannot make us allocate more than that.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FRAME_HEADER_SIZE 12u
#define FRAME_MAX_PAYLOAD (1u << 20) /* 1 MiB: largest config.json we accept plus margin */
#define FRAME_DATA_CHUNK (32u << 10) /* largest DATA payload a sender produces */
#define FRAME_WINDOW (256u << 10)    /* initial stdio credit per stream and fd */
#define FRAME_PROTOCOL_VERSION 1u

enum frame_type {
        FRAME_REQUEST = 1,  /* stream 0, payload: Request */
        FRAME_RESPONSE = 2, /* stream 0, payload: Response */
        FRAME_EVENT = 3,    /* stream 0, payload: Event */
        FRAME_DATA = 4,     /* stream = process, flags = fd (0, 1, 2), payload: bytes */
        FRAME_EOF = 5,      /* stream = process, flags = fd: no more data on it */
        FRAME_CREDIT = 6,   /* stream = process, flags = fd, payload: u32 bytes granted */
};

struct frame_header {
        uint32_t length;
        uint32_t stream;
        uint8_t type;
        uint8_t flags;
};

void frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_SIZE]);
/* Validates type, reserved bits and length; -EPROTO or -EMSGSIZE with a message. */
int frame_header_decode(const uint8_t in[FRAME_HEADER_SIZE], struct frame_header *ret, cocoon_error **err);

/*
 * Incremental decoder: feed it bytes as they arrive, take whole frames out.
 * The buffer only grows to hold one frame whose header has already been
 * validated.
 */
struct frame_decoder {
        uint8_t *buf;
        size_t len, cap;
        size_t consumed; /* bytes of buf already handed out as frames */
};

void frame_decoder_init(struct frame_decoder *d);
void frame_decoder_free(struct frame_decoder *d);
/* Space to read into: at least `want` bytes (grows the buffer). */
uint8_t *frame_decoder_space(struct frame_decoder *d, size_t want, size_t *ret_avail);
void frame_decoder_commit(struct frame_decoder *d, size_t n);
/*
 * 1 and a frame when one is complete (payload points into the decoder and is
 * valid until the next call), 0 when more bytes are needed, negative on a
 * malformed header.
 */
int frame_decoder_next(struct frame_decoder *d, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err);
/* Bytes received but not yet part of a returned frame (a truncated frame at EOF). */
size_t frame_decoder_pending(const struct frame_decoder *d);

/* Encodes header + payload into a new buffer of FRAME_HEADER_SIZE + len bytes. */
int frame_encode(const struct frame_header *h, const void *payload, uint8_t **ret, size_t *ret_len);
