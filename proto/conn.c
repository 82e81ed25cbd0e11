#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

void conn_init(struct conn *c, int fd, bool unix_fds)
{
        *c = (struct conn) {.fd = fd, .unix_fds = unix_fds};
        frame_decoder_init(&c->dec);
}

void conn_destroy(struct conn *c)
{
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -1;
        for (size_t i = 0; i < c->n_fds; i++)
                (void) close(c->fds[i]);
        c->n_fds = 0;
        frame_decoder_free(&c->dec);
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = 0;
}

static void stash_fds(struct conn *c, struct msghdr *mh)
{
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) CMSG_DATA(cm);
                for (size_t i = 0; i < n; i++) {
                        if (c->n_fds < CONN_MAX_FDS)
                                c->fds[c->n_fds++] = fds[i];
                        else
                                (void) close(fds[i]); /* a peer sending more than it may */
                }
        }
}

ssize_t conn_fill(struct conn *c, cocoon_error **err)
{
        size_t avail;
        uint8_t *space = frame_decoder_space(&c->dec, 64 << 10, &avail);
        if (!space)
                return error_set(err, ENOMEM, "out of memory reading a frame");

        ssize_t n;
        if (c->unix_fds) {
                struct iovec iov = {.iov_base = space, .iov_len = avail};
                union {
                        char buf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
                        struct cmsghdr align;
                } cbuf;
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                                    .msg_controllen = sizeof(cbuf.buf)};
                n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
                if (n >= 0)
                        stash_fds(c, &mh);
        } else {
                n = read(c->fd, space, avail);
        }
        if (n < 0) {
                /* EAGAIN: nothing now (or, on a blocking fd with SO_RCVTIMEO, a time-out). */
                if (errno == EAGAIN || errno == EINTR)
                        return -errno;
                return error_sys(err, errno, "reading from peer");
        }
        if (n == 0)
                c->eof = true;
        frame_decoder_commit(&c->dec, n);
        return n;
}

int conn_next(struct conn *c, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err)
{
        return frame_decoder_next(&c->dec, ret_h, ret_payload, err);
}

int conn_take_fd(struct conn *c)
{
        if (c->n_fds == 0)
                return -1;
        int fd = c->fds[0];
        memmove(c->fds, c->fds + 1, (--c->n_fds) * sizeof(int));
        return fd;
}

static int out_reserve(struct conn *c, size_t n)
{
        if (c->out_off && c->out_off == c->out_len)
                c->out_off = c->out_len = 0;
        if (c->out_cap - c->out_len >= n)
                return 0;
        if (c->out_off) {
                memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
                c->out_len -= c->out_off;
                c->out_off = 0;
                if (c->out_cap - c->out_len >= n)
                        return 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap - c->out_len < n)
                cap *= 2;
        uint8_t *b = realloc(c->out, cap);
        if (!b)
                return -ENOMEM;
        c->out = b;
        c->out_cap = cap;
        return 0;
}

int conn_queue(struct conn *c, uint8_t type, uint32_t stream, uint8_t flags, const void *payload, size_t len)
{
        if (len > FRAME_MAX_PAYLOAD)
                return -EMSGSIZE;
        int r = out_reserve(c, FRAME_HEADER_SIZE + len);
        if (r < 0)
                return r;
        struct frame_header h = {.length = len, .stream = stream, .type = type, .flags = flags};
        frame_header_encode(&h, c->out + c->out_len);
        if (len)
                memcpy(c->out + c->out_len + FRAME_HEADER_SIZE, payload, len);
        c->out_len += FRAME_HEADER_SIZE + len;
        return 0;
}

int conn_queue_msg(struct conn *c, uint8_t type, const ProtobufCMessage *msg)
{
        size_t len = protobuf_c_message_get_packed_size(msg);
        if (len > FRAME_MAX_PAYLOAD)
                return -EMSGSIZE;
        int r = out_reserve(c, FRAME_HEADER_SIZE + len);
        if (r < 0)
                return r;
        struct frame_header h = {.length = len, .stream = 0, .type = type};
        frame_header_encode(&h, c->out + c->out_len);
        protobuf_c_message_pack(msg, c->out + c->out_len + FRAME_HEADER_SIZE);
        c->out_len += FRAME_HEADER_SIZE + len;
        return 0;
}

int conn_flush(struct conn *c, cocoon_error **err)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return error_sys(err, errno, "writing to peer");
                }
                c->out_off += n;
        }
        c->out_off = c->out_len = 0;
        return 1;
}

int conn_send_msg_fds(struct conn *c, uint8_t type, const ProtobufCMessage *msg, const int *fds, size_t n_fds,
                      cocoon_error **err)
{
        int r = conn_queue_msg(c, type, msg);
        if (r < 0)
                return error_set(err, -r, "message too large");

        if (n_fds > 0) {
                /* The fds ride along with the first byte of the frame. */
                struct iovec iov = {.iov_base = c->out + c->out_off, .iov_len = 1};
                union {
                        char buf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
                        struct cmsghdr align;
                } cbuf = {0};
                if (n_fds > CONN_MAX_FDS)
                        return error_set(err, EINVAL, "too many file descriptors");
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                                    .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds)};
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
                ssize_t n;
                do
                        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return error_sys(err, errno, "passing file descriptors");
                c->out_off += n;
        }
        r = conn_flush(c, err);
        return r < 0 ? r : 0;
}

int conn_read_frame(struct conn *c, struct frame_header *ret_h, const uint8_t **ret_payload, cocoon_error **err)
{
        for (;;) {
                int r = conn_next(c, ret_h, ret_payload, err);
                if (r != 0)
                        return r;
                if (c->eof)
                        return error_set(err, ECONNRESET, "connection closed by peer");
                ssize_t n = conn_fill(c, err);
                if (n == -EAGAIN)
                        return error_set(err, ETIMEDOUT, "timed out waiting for the peer");
                if (n < 0 && n != -EINTR)
                        return n;
        }
}
