/*
 * The guest's network: the agent's own (initial) network namespace, which a
 * container whose spec names a host network namespace shares. The host
 * plumbed a tap for each of that namespace's interfaces into a virtio NIC
 * with the same MAC; here each NIC takes the interface's name, MTU and
 * addresses, and the namespace gets its routes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "netlink.h"

struct nic_lookup {
        const uint8_t *mac;
        int index;
};

static int on_link(const struct nlmsghdr *h, void *userdata)
{
        struct nic_lookup *l = userdata;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        const struct rtattr *tb[IFLA_MAX + 1];
        nl_parse(h, sizeof(*ifi), tb, IFLA_MAX);
        if (ifi->ifi_type == ARPHRD_ETHER && tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) == ETH_ALEN &&
            memcmp(RTA_DATA(tb[IFLA_ADDRESS]), l->mac, ETH_ALEN) == 0)
                l->index = ifi->ifi_index;
        return 0;
}

static int find_nic(int nl, const uint8_t *mac, int *ret_index, cocoon_error **err)
{
        struct nic_lookup l = {.mac = mac};
        struct nl_msg m;
        nl_begin(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
        int r = nl_dump(nl, &m, on_link, &l, "listing the guest's interfaces", err);
        if (r < 0)
                return r;
        if (l.index == 0)
                return error_set(err, ENODEV, "no guest NIC has this MAC (is virtio_net in the guest image?)");
        *ret_index = l.index;
        return 0;
}

/* Renames (the link must be down), sets the MTU, and brings it up or not. */
static int set_link(int nl, int index, const char *name, unsigned mtu, bool up, cocoon_error **err)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
        if (name)
                nl_put_str(&m, IFLA_IFNAME, name);
        if (mtu)
                nl_put_u32(&m, IFLA_MTU, mtu);
        return nl_call(nl, &m, up ? "bringing it up" : "configuring it", err);
}

static int family_of(const ProtobufCBinaryData *a)
{
        return a->len == 4 ? AF_INET : a->len == 16 ? AF_INET6 : AF_UNSPEC;
}

/* "10.0.0.2/24", for messages. */
static const char *addr_str(const ProtobufCBinaryData *a, unsigned prefix, char buf[INET6_ADDRSTRLEN + 4])
{
        char ip[INET6_ADDRSTRLEN] = "?";
        if (family_of(a) != AF_UNSPEC)
                (void) inet_ntop(family_of(a), a->data, ip, sizeof(ip));
        snprintf(buf, INET6_ADDRSTRLEN + 4, "%s/%u", ip, prefix);
        return buf;
}

static int add_address(int nl, int index, const Cocoon__NetAddress *a, cocoon_error **err)
{
        char s[INET6_ADDRSTRLEN + 4];
        int family = family_of(&a->address);
        if (family == AF_UNSPEC || a->prefix_length > a->address.len * 8)
                return error_set(err, EINVAL, "invalid address %s", addr_str(&a->address, a->prefix_length, s));
        struct nl_msg m;
        struct ifaddrmsg *ifa = nl_begin(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
        ifa->ifa_family = (uint8_t) family;
        ifa->ifa_prefixlen = (uint8_t) a->prefix_length;
        ifa->ifa_index = (unsigned) index;
        /* The host did duplicate detection for this address already; waiting again costs a second or more. */
        ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
        nl_put(&m, IFA_LOCAL, a->address.data, a->address.len);
        nl_put(&m, IFA_ADDRESS, a->address.data, a->address.len);
        int r = nl_call(nl, &m, "adding", err);
        return r < 0 ? error_wrap(err, r, "address %s", addr_str(&a->address, a->prefix_length, s)) : 0;
}

static int add_route(int nl, const Cocoon__NetRoute *rt, cocoon_error **err)
{
        char s[INET6_ADDRSTRLEN + 4];
        int family = family_of(&rt->destination);
        const char *what = addr_str(&rt->destination, rt->destination_length, s);
        if (family == AF_UNSPEC || rt->destination_length > rt->destination.len * 8 ||
            (rt->gateway.len && rt->gateway.len != rt->destination.len) || rt->scope > UINT8_MAX)
                return error_set(err, EINVAL, "route to %s: invalid", what);
        unsigned index = if_nametoindex(rt->device);
        if (index == 0)
                return error_sys(err, errno, "route to %s: device %s", what, rt->device);
        struct nl_msg m;
        struct rtmsg *r = nl_begin(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*r));
        r->rtm_family = (uint8_t) family;
        r->rtm_dst_len = (uint8_t) rt->destination_length;
        r->rtm_table = RT_TABLE_MAIN;
        r->rtm_protocol = RTPROT_BOOT;
        r->rtm_scope = (uint8_t) rt->scope;
        r->rtm_type = RTN_UNICAST;
        if (rt->destination_length)
                nl_put(&m, RTA_DST, rt->destination.data, rt->destination.len);
        if (rt->gateway.len)
                nl_put(&m, RTA_GATEWAY, rt->gateway.data, rt->gateway.len);
        nl_put_u32(&m, RTA_OIF, index);
        if (rt->metric)
                nl_put_u32(&m, RTA_PRIORITY, rt->metric);
        int e = nl_call(nl, &m, "adding", err);
        if (e == -EEXIST) {
                /* The kernel made the same route for an address already. */
                error_free(*err);
                *err = NULL;
                return 0;
        }
        return e < 0 ? error_wrap(err, e, "route to %s via %s", what, rt->device) : 0;
}

static int configure_nic(int nl, const Cocoon__NetInterface *nif, int index, cocoon_error **err)
{
        int r = set_link(nl, index, nif->name, nif->mtu, false, err);
        for (size_t k = 0; r == 0 && k < nif->n_addresses; k++)
                r = add_address(nl, index, nif->addresses[k], err);
        if (r == 0)
                r = set_link(nl, index, NULL, 0, true, err);
        return r;
}

int network_configure(const Cocoon__ConfigureNetworkRequest *req, cocoon_error **err)
{
        _cleanup_close_ int nl = -1;
        int r = nl_open(&nl, err);
        if (r < 0)
                return r;
        /* The kernel leaves lo down in the initial namespace; nothing local works without it. */
        r = set_link(nl, (int) if_nametoindex("lo"), NULL, 0, true, err);
        if (r < 0)
                return error_wrap(err, r, "lo");

        if (req->n_interfaces > 16)
                return error_set(err, E2BIG, "%zu interfaces, at most 16", req->n_interfaces);
        int index[16];
        for (size_t k = 0; k < req->n_interfaces; k++) {
                const Cocoon__NetInterface *nif = req->interfaces[k];
                if (!*nif->name || strlen(nif->name) >= IFNAMSIZ || strchr(nif->name, '/') || nif->mac.len != ETH_ALEN)
                        return error_set(err, EINVAL, "interface \"%s\": invalid name or MAC", nif->name);
                const uint8_t *m = nif->mac.data;
                r = find_nic(nl, m, &index[k], err);
                /*
                 * The kernel named the NICs eth0, eth1... in probe order, which
                 * need not be the host's: a temporary name first, so that no
                 * rename below collides with a NIC not renamed yet.
                 */
                char tmp[IFNAMSIZ];
                snprintf(tmp, sizeof(tmp), "cocoon%u", (unsigned char) k);
                if (r == 0)
                        r = set_link(nl, index[k], tmp, 0, false, err);
                if (r < 0)
                        return error_wrap(err, r, "interface %s (MAC %02x:%02x:%02x:%02x:%02x:%02x)", nif->name, m[0],
                                          m[1], m[2], m[3], m[4], m[5]);
        }
        for (size_t k = 0; k < req->n_interfaces; k++) {
                r = configure_nic(nl, req->interfaces[k], index[k], err);
                if (r < 0)
                        return error_wrap(err, r, "interface %s", req->interfaces[k]->name);
        }
        /* Routes on the link first: a gateway must be reachable before a route goes through it. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < req->n_routes; k++)
                        if ((req->routes[k]->gateway.len > 0) == pass && (r = add_route(nl, req->routes[k], err)) < 0)
                                return r;
        return 0;
}
