#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "netlink.h"

/* The kernel sizes a dump's messages to the reader's buffer, up to 32 KiB each. */
#define NL_RECV_MAX (64 * 1024)

int nl_open(int *ret_fd, cocoon_error **err)
{
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return error_sys(err, errno, "opening an rtnetlink socket");
        /* The kernel's reason in error replies, without a copy of our request. */
        int one = 1;
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void *tail(struct nl_msg *m)
{
        return m->buf + NLMSG_ALIGN(m->hdr.nlmsg_len);
}

void *nl_begin(struct nl_msg *m, uint16_t type, uint16_t flags, size_t hdrlen)
{
        memset(m, 0, sizeof(*m));
        m->hdr.nlmsg_len = NLMSG_LENGTH(hdrlen);
        m->hdr.nlmsg_type = type;
        m->hdr.nlmsg_flags = NLM_F_REQUEST | flags;
        return NLMSG_DATA(&m->hdr);
}

void nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
        size_t at = NLMSG_ALIGN(m->hdr.nlmsg_len);
        if (m->overflow || at + RTA_SPACE(len) > sizeof(m->buf)) {
                m->overflow = true;
                return;
        }
        struct rtattr *a = tail(m);
        a->rta_type = type;
        a->rta_len = RTA_LENGTH(len);
        if (len)
                memcpy(RTA_DATA(a), data, len);
        m->hdr.nlmsg_len = at + RTA_SPACE(len);
}

void *nl_reserve(struct nl_msg *m, size_t len)
{
        size_t at = NLMSG_ALIGN(m->hdr.nlmsg_len);
        if (m->overflow || at + NLMSG_ALIGN(len) > sizeof(m->buf)) {
                m->overflow = true;
                return NULL;
        }
        m->hdr.nlmsg_len = at + NLMSG_ALIGN(len);
        return memset(m->buf + at, 0, NLMSG_ALIGN(len));
}

void nl_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
        nl_put(m, type, &v, sizeof(v));
}

void nl_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
        nl_put(m, type, s, strlen(s) + 1);
}

void nl_nest_begin(struct nl_msg *m, uint16_t type)
{
        if (m->depth == NL_NEST_MAX) {
                m->overflow = true;
                return;
        }
        m->nests[m->depth++] = NLMSG_ALIGN(m->hdr.nlmsg_len);
        nl_put(m, type, NULL, 0);
}

void nl_nest_end(struct nl_msg *m)
{
        if (m->depth == 0 || m->overflow)
                return;
        size_t at = m->nests[--m->depth];
        ((struct rtattr *) (m->buf + at))->rta_len = m->hdr.nlmsg_len - at;
}

static uint32_t next_seq;

static int send_msg(int fd, struct nl_msg *m, const char *what, cocoon_error **err)
{
        if (m->overflow || m->depth)
                return error_set(err, EMSGSIZE, "%s: netlink message too large", what);
        m->hdr.nlmsg_seq = ++next_seq;
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, m->buf, m->hdr.nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return error_sys(err, errno, "%s: sending the netlink request", what);
        return 0;
}

/* An error reply: its errno and, when the kernel gave one, its reason. */
static int reply_error(const struct nlmsghdr *h, const char *what, cocoon_error **err)
{
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                return error_set(err, EPROTO, "%s: short netlink error reply", what);
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == 0)
                return 0;
        const char *reason = NULL;
        if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
                /* NETLINK_CAP_ACK: the echoed request is its header only. */
                const struct rtattr *tb[NLMSGERR_ATTR_MAX + 1] = {0};
                size_t off = NLMSG_LENGTH(sizeof(*e));
                const struct rtattr *a = (const struct rtattr *) ((const char *) h + off);
                int len = (int) h->nlmsg_len - (int) off;
                for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
                        if (a->rta_type <= NLMSGERR_ATTR_MAX)
                                tb[a->rta_type] = a;
                const struct rtattr *msg = tb[NLMSGERR_ATTR_MSG];
                if (msg && RTA_PAYLOAD(msg) > 1 && ((const char *) RTA_DATA(msg))[RTA_PAYLOAD(msg) - 1] == '\0')
                        reason = RTA_DATA(msg);
        }
        if (reason)
                return error_set(err, -e->error, "%s: %s (%s)", what, strerror(-e->error), reason);
        return error_sys(err, -e->error, "%s", what);
}

/*
 * Reads replies to the last request until the ack (cb NULL) or the end of the
 * dump. A failing callback stops the calls but not the reading: what is left
 * of the dump must not reach the next request.
 */
static int receive(int fd, nl_dump_cb cb, void *userdata, const char *what, cocoon_error **err)
{
        _cleanup_free_ char *buf = malloc(NL_RECV_MAX);
        if (!buf)
                return -ENOMEM;
        int r = 0;
        for (;;) {
                ssize_t n = recv(fd, buf, NL_RECV_MAX, MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_sys(err, errno, "%s: reading the netlink reply", what);
                if (n > NL_RECV_MAX)
                        return error_set(err, EMSGSIZE, "%s: netlink reply truncated", what);
                int len = (int) n;
                for (const struct nlmsghdr *h = (void *) buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != next_seq)
                                continue; /* a late answer to an earlier request */
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                int e = reply_error(h, what, err);
                                return r < 0 ? r : e;
                        }
                        if (h->nlmsg_type == NLMSG_DONE)
                                return r;
                        if (cb && r == 0)
                                r = cb(h, userdata);
                }
        }
}

int nl_call(int fd, struct nl_msg *m, const char *what, cocoon_error **err)
{
        m->hdr.nlmsg_flags |= NLM_F_ACK;
        int r = send_msg(fd, m, what, err);
        return r < 0 ? r : receive(fd, NULL, NULL, what, err);
}

int nl_dump(int fd, struct nl_msg *m, nl_dump_cb cb, void *userdata, const char *what, cocoon_error **err)
{
        m->hdr.nlmsg_flags |= NLM_F_DUMP;
        int r = send_msg(fd, m, what, err);
        return r < 0 ? r : receive(fd, cb, userdata, what, err);
}

static void parse(const struct rtattr *a, int len, const struct rtattr **tb, size_t max)
{
        memset(tb, 0, (max + 1) * sizeof(*tb));
        for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
                if ((a->rta_type & NLA_TYPE_MASK) <= max)
                        tb[a->rta_type & NLA_TYPE_MASK] = a;
}

void nl_parse(const struct nlmsghdr *h, size_t hdrlen, const struct rtattr **tb, size_t max)
{
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(hdrlen);
        parse((const struct rtattr *) ((const char *) NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen)), len, tb, max);
}

void nl_parse_nested(const struct rtattr *nest, const struct rtattr **tb, size_t max)
{
        parse(RTA_DATA(nest), (int) RTA_PAYLOAD(nest), tb, max);
}
