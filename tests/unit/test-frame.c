/* Framing: encoding, decoding, limits checked before allocation, partial input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"
#include "tap.h"

static void put_u32(uint8_t *p, uint32_t v)
{
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

static void feed(struct frame_decoder *d, const void *data, size_t len)
{
        size_t avail;
        uint8_t *space = frame_decoder_space(d, len, &avail);
        memcpy(space, data, len);
        frame_decoder_commit(d, len);
}

static void test_roundtrip(void)
{
        struct frame_header h = {.length = 5, .stream = 7, .type = FRAME_DATA, .flags = 1};
        uint8_t *buf;
        size_t len;
        TAP_OK(frame_encode(&h, "hello", &buf, &len) == 0, "encode a data frame");
        TAP_OK(len == FRAME_HEADER_SIZE + 5, "encoded size is header + payload");

        struct frame_decoder d;
        frame_decoder_init(&d);
        struct frame_header out;
        const uint8_t *payload;
        cocoon_error *err = NULL;
        /* byte by byte: nothing comes out before the last byte */
        int got = 0;
        for (size_t i = 0; i < len; i++) {
                feed(&d, buf + i, 1);
                int r = frame_decoder_next(&d, &out, &payload, &err);
                if (r != 0 && i + 1 < len)
                        got = -1;
                if (r == 1 && i + 1 == len && got == 0)
                        got = 1;
        }
        TAP_OK(got == 1, "a frame fed byte by byte comes out exactly at its last byte");
        TAP_OK(out.stream == 7 && out.type == FRAME_DATA && out.flags == 1 && out.length == 5, "header fields round-trip");
        TAP_OK(memcmp(payload, "hello", 5) == 0, "payload round-trips");
        TAP_OK(frame_decoder_pending(&d) == 0, "nothing pending after a whole frame");
        frame_decoder_free(&d);
        free(buf);
}

static void test_two_frames_in_one_read(void)
{
        struct frame_decoder d;
        frame_decoder_init(&d);
        uint8_t both[2 * FRAME_HEADER_SIZE + 3];
        struct frame_header a = {.length = 3, .stream = 0, .type = FRAME_REQUEST};
        struct frame_header b = {.length = 0, .stream = 2, .type = FRAME_EOF, .flags = 1};
        frame_header_encode(&a, both);
        memcpy(both + FRAME_HEADER_SIZE, "abc", 3);
        frame_header_encode(&b, both + FRAME_HEADER_SIZE + 3);
        feed(&d, both, sizeof(both));
        struct frame_header out;
        const uint8_t *payload;
        TAP_OK(frame_decoder_next(&d, &out, &payload, NULL) == 1 && out.type == FRAME_REQUEST, "first of two frames");
        TAP_OK(frame_decoder_next(&d, &out, &payload, NULL) == 1 && out.type == FRAME_EOF && out.stream == 2,
               "second of two frames");
        TAP_OK(frame_decoder_next(&d, &out, &payload, NULL) == 0, "then nothing");
        frame_decoder_free(&d);
}

static void test_oversized(void)
{
        uint8_t hdr[FRAME_HEADER_SIZE] = {0};
        put_u32(hdr, FRAME_MAX_PAYLOAD + 1);
        hdr[8] = FRAME_REQUEST;
        struct frame_decoder d;
        frame_decoder_init(&d);
        feed(&d, hdr, sizeof(hdr));
        struct frame_header out;
        const uint8_t *payload;
        cocoon_error *err = NULL;
        int r = frame_decoder_next(&d, &out, &payload, &err);
        TAP_OK(r == -EMSGSIZE, "a frame over the limit is refused (%d)", r);
        TAP_CONTAINS(err ? err->msg : NULL, "exceeds the limit", "the error says why");
        TAP_OK(d.cap < 64 * 1024, "the decoder did not allocate for the oversized payload (cap %zu)", d.cap);
        error_free(err);
        frame_decoder_free(&d);

        put_u32(hdr, 0xffffffffu);
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EMSGSIZE, "a 4 GiB length is refused");

        put_u32(hdr, FRAME_DATA_CHUNK + 1);
        hdr[8] = FRAME_DATA;
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EMSGSIZE, "a data frame over the chunk size is refused");

        struct frame_header big = {.length = FRAME_MAX_PAYLOAD + 1, .type = FRAME_REQUEST};
        uint8_t *buf;
        size_t len;
        TAP_OK(frame_encode(&big, NULL, &buf, &len) == -EMSGSIZE, "encoding over the limit fails");
}

static void test_malformed(void)
{
        uint8_t hdr[FRAME_HEADER_SIZE] = {0};
        struct frame_header out;
        cocoon_error *err = NULL;
        hdr[8] = 0;
        TAP_OK(frame_header_decode(hdr, &out, &err) == -EPROTO, "type 0 is refused");
        TAP_CONTAINS(err ? err->msg : NULL, "unknown type", "the error names the type");
        error_free(err);
        hdr[8] = 200;
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EPROTO, "an unknown type is refused");
        hdr[8] = FRAME_REQUEST;
        hdr[11] = 1;
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EPROTO, "reserved bits are refused");
        hdr[11] = 0;
        hdr[8] = FRAME_DATA;
        hdr[9] = 3;
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EPROTO, "a data frame for fd 3 is refused");
        hdr[8] = FRAME_CREDIT;
        hdr[9] = 1;
        put_u32(hdr, 8);
        TAP_OK(frame_header_decode(hdr, &out, NULL) == -EPROTO, "a credit frame must carry 4 bytes");
        put_u32(hdr, 4);
        TAP_OK(frame_header_decode(hdr, &out, NULL) == 0, "a well-formed credit frame is accepted");
}

static void test_truncated(void)
{
        struct frame_header h = {.length = 100, .type = FRAME_RESPONSE};
        uint8_t *buf;
        size_t len;
        frame_encode(&h, (uint8_t[100]) {0}, &buf, &len);
        struct frame_decoder d;
        frame_decoder_init(&d);
        feed(&d, buf, len - 1);
        struct frame_header out;
        const uint8_t *payload;
        TAP_OK(frame_decoder_next(&d, &out, &payload, NULL) == 0, "a truncated frame is not returned");
        TAP_OK(frame_decoder_pending(&d) == len - 1, "its bytes stay pending, so EOF here is detectable");
        feed(&d, buf, 5);
        TAP_OK(frame_decoder_next(&d, &out, &payload, NULL) == 1, "completing it yields the frame");
        TAP_OK(frame_decoder_pending(&d) == 4, "the extra bytes of a next header stay pending");
        frame_decoder_free(&d);
        free(buf);
}

int main(void)
{
        test_roundtrip();
        test_two_frames_in_one_read();
        test_oversized();
        test_malformed();
        test_truncated();
        return tap_done();
}
