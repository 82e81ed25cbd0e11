/* ttrpc framing and containerd's connection to the shim. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.pb-c.h"
#include "ttrpc.h"

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE])
{
        put_be32(out, h->length);
        put_be32(out + 4, h->stream);
        out[8] = h->type;
        out[9] = h->flags;
}

int ttrpc_frame_decode(const uint8_t *buf, size_t len, struct ttrpc_header *ret, cocoon_error **err)
{
        if (len < TTRPC_HEADER_SIZE)
                return 0;
        struct ttrpc_header h = {.length = get_be32(buf), .stream = get_be32(buf + 4), .type = buf[8],
                                 .flags = buf[9]};
        if (h.length > TTRPC_MAX_MESSAGE)
                return error_set(err, EPROTO, "ttrpc: a frame of %u bytes (at most %u)", h.length,
                                 TTRPC_MAX_MESSAGE);
        if (h.type != TTRPC_TYPE_REQUEST)
                return error_set(err, EPROTO, "ttrpc: a frame of type %u where requests come", h.type);
        if (len - TTRPC_HEADER_SIZE < h.length)
                return 0;
        *ret = h;
        return 1;
}

void ttrpc_conn_init(struct ttrpc_conn *c, int fd)
{
        *c = (struct ttrpc_conn) {.fd = fd};
}

void ttrpc_conn_destroy(struct ttrpc_conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        free(c->in);
        *c = (struct ttrpc_conn) {.fd = -1};
}

ssize_t ttrpc_conn_fill(struct ttrpc_conn *c)
{
        if (c->in_cap - c->in_len < 64 * 1024) {
                /* Never more than one frame's worth plus a read. */
                size_t cap = c->in_cap ? c->in_cap * 2 : 128 * 1024;
                if (cap > TTRPC_HEADER_SIZE + TTRPC_MAX_MESSAGE + 128 * 1024)
                        cap = TTRPC_HEADER_SIZE + TTRPC_MAX_MESSAGE + 128 * 1024;
                if (cap > c->in_cap) {
                        uint8_t *in = realloc(c->in, cap);
                        if (!in)
                                return -ENOMEM;
                        c->in = in;
                        c->in_cap = cap;
                }
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0)
                return -errno;
        c->in_len += n;
        return n;
}

int ttrpc_conn_next(struct ttrpc_conn *c, struct ttrpc_header *ret_h, const uint8_t **ret_payload,
                    cocoon_error **err)
{
        int r = ttrpc_frame_decode(c->in, c->in_len, ret_h, err);
        if (r == 1)
                *ret_payload = c->in + TTRPC_HEADER_SIZE;
        return r;
}

void ttrpc_conn_consume(struct ttrpc_conn *c, const struct ttrpc_header *h)
{
        size_t n = TTRPC_HEADER_SIZE + (size_t) h->length;
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                        if (poll(&pfd, 1, 30 * 1000) <= 0)
                                return -ETIMEDOUT;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= n;
        }
        return 0;
}

int ttrpc_send_response(int fd, uint32_t stream, int code, const char *message, const uint8_t *payload,
                        size_t payload_len)
{
        Cocoon__Shim__RpcStatus st = COCOON__SHIM__RPC_STATUS__INIT;
        st.code = code;
        st.message = (char *) (message ? message : "");
        Cocoon__Shim__TtrpcResponse resp = COCOON__SHIM__TTRPC_RESPONSE__INIT;
        resp.status = &st;
        if (code == 0 && payload) {
                resp.payload.data = (uint8_t *) payload;
                resp.payload.len = payload_len;
        }
        size_t len = cocoon__shim__ttrpc_response__get_packed_size(&resp);
        if (len > TTRPC_MAX_MESSAGE)
                return -EMSGSIZE;
        uint8_t *buf = malloc(TTRPC_HEADER_SIZE + len);
        if (!buf)
                return -ENOMEM;
        struct ttrpc_header h = {.length = len, .stream = stream, .type = TTRPC_TYPE_RESPONSE};
        ttrpc_header_encode(&h, buf);
        cocoon__shim__ttrpc_response__pack(&resp, buf + TTRPC_HEADER_SIZE);
        int r = write_all(fd, buf, TTRPC_HEADER_SIZE + len);
        free(buf);
        return r;
}
