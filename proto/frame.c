#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put_u32(uint8_t *p, uint32_t v)
{
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

static uint32_t get_u32(const uint8_t *p)
{
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_SIZE])
{
        put_u32(out, h->length);
        put_u32(out + 4, h->stream);
        out[8] = h->type;
        out[9] = h->flags;
        out[10] = out[11] = 0;
}

int frame_header_decode(const uint8_t in[FRAME_HEADER_SIZE], struct frame_header *ret, cocoon_error **err)
{
        struct frame_header h = {
                .length = get_u32(in),
                .stream = get_u32(in + 4),
                .type = in[8],
                .flags = in[9],
        };

        if (h.type < FRAME_REQUEST || h.type > FRAME_CREDIT)
                return error_set(err, EPROTO, "frame: unknown type %u", h.type);
        if (in[10] || in[11])
                return error_set(err, EPROTO, "frame: reserved bits set");
        if (h.length > FRAME_MAX_PAYLOAD)
                return error_set(err, EMSGSIZE, "frame: payload of %u bytes exceeds the limit of %u", h.length,
                                 FRAME_MAX_PAYLOAD);
        if (h.type == FRAME_DATA && h.length > FRAME_DATA_CHUNK)
                return error_set(err, EMSGSIZE, "frame: data payload of %u bytes exceeds the limit of %u", h.length,
                                 FRAME_DATA_CHUNK);
        if ((h.type == FRAME_DATA || h.type == FRAME_EOF || h.type == FRAME_CREDIT) && h.flags > 2)
                return error_set(err, EPROTO, "frame: invalid fd %u", h.flags);
        if (h.type == FRAME_CREDIT && h.length != 4)
                return error_set(err, EPROTO, "frame: credit payload must be 4 bytes");
        *ret = h;
        return 0;
}

void frame_decoder_init(struct frame_decoder *d)
{
        *d = (struct frame_decoder) {0};
}

void frame_decoder_free(struct frame_decoder *d)
{
        free(d->buf);
        *d = (struct frame_decoder) {0};
}

uint8_t *frame_decoder_space(struct frame_decoder *d, size_t want, size_t *ret_avail)
{
        /* Drop what was handed out so the buffer does not creep. */
        if (d->consumed) {
                memmove(d->buf, d->buf + d->consumed, d->len - d->consumed);
                d->len -= d->consumed;
                d->consumed = 0;
        }
        if (d->cap - d->len < want) {
                size_t cap = d->len + want;
                uint8_t *b = realloc(d->buf, cap);
                if (!b)
                        return NULL;
                d->buf = b;
                d->cap = cap;
        }
        *ret_avail = d->cap - d->len;
        return d->buf + d->len;
}

void frame_decoder_commit(struct frame_decoder *d, size_t n)
{
        d->len += n;
}

int frame_decoder_next(struct frame_decoder *d, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err)
{
        size_t avail = d->len - d->consumed;
        if (avail < FRAME_HEADER_SIZE)
                return 0;

        struct frame_header h;
        int r = frame_header_decode(d->buf + d->consumed, &h, err);
        if (r < 0)
                return r;
        if (avail < FRAME_HEADER_SIZE + h.length)
                return 0;

        *ret_h = h;
        *ret_payload = d->buf + d->consumed + FRAME_HEADER_SIZE;
        d->consumed += FRAME_HEADER_SIZE + h.length;
        return 1;
}

size_t frame_decoder_pending(const struct frame_decoder *d)
{
        return d->len - d->consumed;
}

int frame_encode(const struct frame_header *h, const void *payload, uint8_t **ret, size_t *ret_len)
{
        if (h->length > FRAME_MAX_PAYLOAD)
                return -EMSGSIZE;
        uint8_t *buf = malloc(FRAME_HEADER_SIZE + h->length);
        if (!buf)
                return -ENOMEM;
        frame_header_encode(h, buf);
        if (h->length)
                memcpy(buf + FRAME_HEADER_SIZE, payload, h->length);
        *ret = buf;
        *ret_len = FRAME_HEADER_SIZE + h->length;
        return 0;
}
