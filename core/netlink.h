/*
 * A small rtnetlink client, enough for links, addresses, routes and tc: the
 * host plumbs taps with it and the static agent configures the guest's NICs,
 * so it depends on nothing but the kernel headers.
 */
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NL_MSG_MAX 4096
#define NL_NEST_MAX 8

/* A request being built; messages that outgrow the buffer fail when sent. */
struct nl_msg {
        union {
                struct nlmsghdr hdr;
                char buf[NL_MSG_MAX];
        };
        size_t nests[NL_NEST_MAX];
        unsigned depth;
        bool overflow;
};

/*
 * An rtnetlink socket: it stays in the network namespace it was opened in,
 * whatever namespace its owner enters later.
 */
int nl_open(int *ret_fd, cocoon_error **err);

/* Starts a message and returns its zeroed family header (ifinfomsg, rtmsg...) of hdrlen bytes. */
void *nl_begin(struct nl_msg *m, uint16_t type, uint16_t flags, size_t hdrlen);
void nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);
/* Appends len zeroed bytes that are no attribute (a veth peer's ifinfomsg); NULL once the message overflows. */
void *nl_reserve(struct nl_msg *m, size_t len);
void nl_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
void nl_put_str(struct nl_msg *m, uint16_t type, const char *s);
void nl_nest_begin(struct nl_msg *m, uint16_t type);
void nl_nest_end(struct nl_msg *m);

/*
 * Sends m and waits for the kernel's acknowledgement. Returns 0 or the
 * negative errno, with the kernel's own explanation (extended ack) in err
 * after what: "adding the qdisc: File exists (Exclusivity flag on...)".
 */
int nl_call(int fd, struct nl_msg *m, const char *what, cocoon_error **err);

/* Sends a dump request and calls cb on every answer until it returns < 0 or the dump ends. */
typedef int (*nl_dump_cb)(const struct nlmsghdr *h, void *userdata);
int nl_dump(int fd, struct nl_msg *m, nl_dump_cb cb, void *userdata, const char *what, cocoon_error **err);

/* Indexes the attributes following a family header of hdrlen bytes; tb[type] NULL when absent. */
void nl_parse(const struct nlmsghdr *h, size_t hdrlen, const struct rtattr **tb, size_t max);
/* The same for a nested attribute's payload. */
void nl_parse_nested(const struct rtattr *nest, const struct rtattr **tb, size_t max);
