/* The rtnetlink client: message layout, overflow, and a dump and an error from the kernel. */
#include <errno.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "netlink.h"
#include "tap.h"

static void test_layout(void)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE, sizeof(*ifi));
        ifi->ifi_index = 7;
        nl_put_str(&m, IFLA_IFNAME, "eth0");
        nl_nest_begin(&m, IFLA_AF_SPEC);
        nl_nest_begin(&m, AF_INET6);
        nl_put_u32(&m, 1, 42);
        nl_nest_end(&m);
        nl_nest_end(&m);
        nl_put_u32(&m, IFLA_MTU, 1400);
        TAP_OK(!m.overflow && m.depth == 0, "a message with nests builds");
        TAP_OK(m.hdr.nlmsg_flags == (NLM_F_REQUEST | NLM_F_CREATE), "flags are the request's");

        const struct rtattr *tb[IFLA_MAX + 1], *spec[AF_INET6 + 1], *inner[2];
        nl_parse(&m.hdr, sizeof(*ifi), tb, IFLA_MAX);
        TAP_STR_EQ(tb[IFLA_IFNAME] ? (const char *) RTA_DATA(tb[IFLA_IFNAME]) : NULL, "eth0", "the name parses back");
        TAP_OK(tb[IFLA_MTU] && *(uint32_t *) RTA_DATA(tb[IFLA_MTU]) == 1400, "the attribute after the nest parses back");
        TAP_OK(tb[IFLA_AF_SPEC] && RTA_PAYLOAD(tb[IFLA_AF_SPEC]) == RTA_SPACE(RTA_SPACE(4)),
               "the outer nest's length covers the inner one");
        nl_parse_nested(tb[IFLA_AF_SPEC], spec, AF_INET6);
        TAP_OK(spec[AF_INET6] != NULL, "the inner nest parses");
        nl_parse_nested(spec[AF_INET6], inner, 1);
        TAP_OK(inner[1] && *(uint32_t *) RTA_DATA(inner[1]) == 42, "the innermost value parses back");
}

static void test_overflow(void)
{
        struct nl_msg m;
        char big[NL_MSG_MAX / 2];
        memset(big, 'x', sizeof(big));
        nl_begin(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
        nl_put(&m, IFLA_IFALIAS, big, sizeof(big));
        nl_put(&m, IFLA_IFALIAS, big, sizeof(big));
        cocoon_error *err = NULL;
        TAP_OK(m.overflow, "a message larger than the buffer is marked");
        TAP_OK(nl_call(-1, &m, "sending it", &err) == -EMSGSIZE, "and fails before it is sent");
        TAP_CONTAINS(err ? err->msg : NULL, "sending it: netlink message too large", "with a message");
        error_free(err);
}

static int on_link(const struct nlmsghdr *h, void *userdata)
{
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        if (ifi->ifi_flags & IFF_LOOPBACK)
                *(int *) userdata = ifi->ifi_index;
        return 0;
}

static void test_kernel(void)
{
        int fd = -1, lo = 0;
        cocoon_error *err = NULL;
        TAP_OK(nl_open(&fd, &err) == 0, "an rtnetlink socket opens");
        struct nl_msg m;
        nl_begin(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
        TAP_OK(nl_dump(fd, &m, on_link, &lo, "listing", &err) == 0, "a link dump ends");
        TAP_OK(lo > 0 && lo == (int) if_nametoindex("lo"), "and lists lo");

        /* No such interface: the kernel's errno comes back with our context. */
        struct tcmsg *tc = nl_begin(&m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, sizeof(*tc));
        tc->tcm_ifindex = 0x7ffffff0;
        tc->tcm_parent = TC_H_INGRESS;
        tc->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
        nl_put_str(&m, TCA_KIND, "ingress");
        int r = nl_call(fd, &m, "adding a qdisc", &err);
        TAP_OK(r == -ENODEV || r == -EPERM, "a qdisc on a missing interface fails (%d)", r);
        TAP_CONTAINS(err ? err->msg : NULL, "adding a qdisc: ", "naming what failed");
        error_free(err);
        err = NULL;

        /* The socket is in step after an error: the next request gets its own answer. */
        lo = 0;
        nl_begin(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
        TAP_OK(nl_dump(fd, &m, on_link, &lo, "listing", &err) == 0 && lo > 0, "a dump after an error works");
        close(fd);
}

int main(void)
{
        test_layout();
        test_overflow();
        test_kernel();
        return tap_done();
}
