/*
 * Taps for the interfaces of a container's network namespace, redirected to
 * and from them with tc (see network.h). Everything is done over rtnetlink
 * from inside the namespace; the supervisor enters it only while it plumbs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/nsfs.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "msg.h"
#include "netlink.h"
#include "network.h"

/* tun picks the first free number: several sandboxes never share a namespace, but leftovers may be there. */
#define TAP_NAME "cocoon_tap%d"
#define INGRESS_HANDLE TC_H_MAKE(TC_H_INGRESS, 0)

struct address {
        unsigned char addr[16];
        size_t len; /* 4 or 16 */
        unsigned prefix;
};

struct iface {
        char name[IFNAMSIZ];
        int index, tap_index;
        unsigned mtu;
        bool redirected; /* our ingress qdisc is on it */
        struct address *addrs;
        size_t n_addrs;
};

struct route {
        struct address dst;
        unsigned char gateway[16]; /* dst.len bytes, when has_gateway */
        bool has_gateway;
        const struct iface *dev;
        unsigned scope, metric;
};

struct network {
        char *path; /* the namespace, for messages */
        int nl;     /* rtnetlink, bound to the container's namespace */
        struct iface ifaces[VM_MAX_NICS];
        struct vm_nic nics[VM_MAX_NICS];
        size_t n;
        struct route *routes;
        size_t n_routes;
};

static struct iface *find_iface(struct network *net, int index)
{
        for (size_t i = 0; i < net->n; i++)
                if (net->ifaces[i].index == index)
                        return &net->ifaces[i];
        return NULL;
}

/*
 * Appends a zeroed element to the malloc'd array of *n elements whose pointer
 * is at arrayp (a T **); returns the element, or NULL without memory.
 */
static void *append(void *arrayp, size_t *n, size_t size)
{
        char *a;
        memcpy(&a, arrayp, sizeof(a));
        a = realloc(a, (*n + 1) * size);
        if (!a)
                return NULL;
        memcpy(arrayp, &a, sizeof(a));
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

static int on_link(const struct nlmsghdr *h, void *userdata)
{
        struct network *net = userdata;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        const struct rtattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1] = {0};
        nl_parse(h, sizeof(*ifi), tb, IFLA_MAX);
        if (!tb[IFLA_IFNAME] || (ifi->ifi_flags & IFF_LOOPBACK))
                return 0;
        const char *name = RTA_DATA(tb[IFLA_IFNAME]);
        if (tb[IFLA_LINKINFO])
                nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
        /* A tap is ours (or another VM's); only Ethernet devices can stand behind a guest NIC. */
        if (info[IFLA_INFO_KIND] && strcmp(RTA_DATA(info[IFLA_INFO_KIND]), "tun") == 0)
                return 0;
        if (ifi->ifi_type != ARPHRD_ETHER || !tb[IFLA_ADDRESS] || RTA_PAYLOAD(tb[IFLA_ADDRESS]) != ETH_ALEN) {
                log_warn("network namespace %s: interface %s is not Ethernet, leaving it out of the VM", net->path,
                         name);
                return 0;
        }
        if (net->n == VM_MAX_NICS)
                return -E2BIG;
        struct iface *i = &net->ifaces[net->n];
        struct vm_nic *nic = &net->nics[net->n++];
        snprintf(i->name, sizeof(i->name), "%s", name);
        i->index = ifi->ifi_index;
        i->mtu = tb[IFLA_MTU] ? *(uint32_t *) RTA_DATA(tb[IFLA_MTU]) : 1500;
        memcpy(nic->mac, RTA_DATA(tb[IFLA_ADDRESS]), ETH_ALEN);
        return 0;
}

/* The host-side address attribute for family, or NULL with a wrong length. */
static const struct rtattr *ip_attr(const struct rtattr *a, int family, size_t *ret_len)
{
        size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
        if (!a || !len || RTA_PAYLOAD(a) != len)
                return NULL;
        *ret_len = len;
        return a;
}

static int on_addr(const struct nlmsghdr *h, void *userdata)
{
        struct network *net = userdata;
        const struct ifaddrmsg *ifa = NLMSG_DATA(h);
        struct iface *i = find_iface(net, (int) ifa->ifa_index);
        /* Link-local addresses are the guest kernel's to make, from the same MAC. */
        if (!i || ifa->ifa_scope >= RT_SCOPE_LINK)
                return 0;
        const struct rtattr *tb[IFA_MAX + 1];
        nl_parse(h, sizeof(*ifa), tb, IFA_MAX);
        size_t len;
        /* IFA_LOCAL is the address itself; IFA_ADDRESS the peer's on point-to-point links. */
        const struct rtattr *a = ip_attr(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], ifa->ifa_family, &len);
        if (!a)
                return 0;
        struct address *ad = append(&i->addrs, &i->n_addrs, sizeof(*ad));
        if (!ad)
                return -ENOMEM;
        memcpy(ad->addr, RTA_DATA(a), len);
        ad->len = len;
        ad->prefix = ifa->ifa_prefixlen;
        return 0;
}

static int on_route(const struct nlmsghdr *h, void *userdata)
{
        struct network *net = userdata;
        const struct rtmsg *rt = NLMSG_DATA(h);
        const struct rtattr *tb[RTA_MAX + 1];
        nl_parse(h, sizeof(*rt), tb, RTA_MAX);
        uint32_t table = tb[RTA_TABLE] ? *(uint32_t *) RTA_DATA(tb[RTA_TABLE]) : rt->rtm_table;
        /* The kernel's own routes (the subnet of an address) come back by themselves in the guest. */
        if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST || rt->rtm_protocol == RTPROT_KERNEL)
                return 0;
        const struct iface *dev = tb[RTA_OIF] ? find_iface(net, *(int *) RTA_DATA(tb[RTA_OIF])) : NULL;
        if (!dev) {
                log_warn("network namespace %s: a route with several or unknown next hops is left out of the VM",
                         net->path);
                return 0;
        }
        size_t len = rt->rtm_family == AF_INET ? 4 : rt->rtm_family == AF_INET6 ? 16 : 0;
        if (!len)
                return 0;
        struct route *r = append(&net->routes, &net->n_routes, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->dst.len = len;
        r->dst.prefix = rt->rtm_dst_len;
        size_t got;
        if (ip_attr(tb[RTA_DST], rt->rtm_family, &got))
                memcpy(r->dst.addr, RTA_DATA(tb[RTA_DST]), len);
        if (ip_attr(tb[RTA_GATEWAY], rt->rtm_family, &got)) {
                memcpy(r->gateway, RTA_DATA(tb[RTA_GATEWAY]), len);
                r->has_gateway = true;
        }
        r->dev = dev;
        r->scope = rt->rtm_scope;
        r->metric = tb[RTA_PRIORITY] ? *(uint32_t *) RTA_DATA(tb[RTA_PRIORITY]) : 0;
        return 0;
}

static int read_config(struct network *net, cocoon_error **err)
{
        struct nl_msg m;
        nl_begin(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
        int r = nl_dump(net->nl, &m, on_link, net, "listing the interfaces", err);
        if (r == -E2BIG)
                return error_set(err, E2BIG, "more than %d interfaces besides lo", VM_MAX_NICS);
        if (r < 0 || net->n == 0)
                return r;
        nl_begin(&m, RTM_GETADDR, 0, sizeof(struct ifaddrmsg));
        r = nl_dump(net->nl, &m, on_addr, net, "listing the addresses", err);
        if (r < 0)
                return r;
        nl_begin(&m, RTM_GETROUTE, 0, sizeof(struct rtmsg));
        return nl_dump(net->nl, &m, on_route, net, "listing the routes", err);
}

/*
 * A tap for the VMM: IFF_VNET_HDR as the VMM expects for offloads, and not
 * persistent, so that it vanishes with the last fd, the VMM's.
 */
static int create_tap(struct iface *i, int *ret_fd, cocoon_error **err)
{
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening /dev/net/tun");
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        strcpy(ifr.ifr_name, TAP_NAME);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return error_sys(err, errno, "creating a tap device");
        i->tap_index = (int) if_nametoindex(ifr.ifr_name);
        if (i->tap_index == 0)
                return error_sys(err, errno, "looking up the tap %s", ifr.ifr_name);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int set_link(int nl, int index, unsigned mtu, bool up, const char *what, cocoon_error **err)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        ifi->ifi_change = up ? IFF_UP : 0;
        ifi->ifi_flags = up ? IFF_UP : 0;
        if (mtu)
                nl_put_u32(&m, IFLA_MTU, mtu);
        return nl_call(nl, &m, what, err);
}

/*
 * The tap is a pipe, not a host: no IPv6 link-local address of its own, so
 * that it sends nothing (router or neighbour solicitations) to the guest.
 */
static void tap_quiet(int nl, int index)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        nl_nest_begin(&m, IFLA_AF_SPEC);
        nl_nest_begin(&m, AF_INET6);
        uint8_t mode = IN6_ADDR_GEN_MODE_NONE;
        nl_put(&m, IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof(mode));
        nl_nest_end(&m);
        nl_nest_end(&m);
        _cleanup_error_ cocoon_error *e = NULL;
        int r = nl_call(nl, &m, "turning off IPv6 addresses on the tap", &e);
        if (r < 0)
                log_debug("%s, ignoring", e ? e->msg : strerror(-r));
}

static int add_ingress(int nl, int index, const char *what, cocoon_error **err)
{
        struct nl_msg m;
        struct tcmsg *tc = nl_begin(&m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, sizeof(*tc));
        tc->tcm_ifindex = index;
        tc->tcm_handle = INGRESS_HANDLE;
        tc->tcm_parent = TC_H_INGRESS;
        nl_put_str(&m, TCA_KIND, "ingress");
        return nl_call(nl, &m, what, err);
}

/*
 * Everything that enters `from` leaves through `to`: a u32 filter whose one
 * key has mask 0 matches every frame (the kernel here may lack matchall), and
 * its mirred action redirects the frame to `to`'s egress and steals it from
 * `from`'s own stack.
 */
static int add_redirect(int nl, int from, int to, const char *what, cocoon_error **err)
{
        struct nl_msg m;
        struct tcmsg *tc = nl_begin(&m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, sizeof(*tc));
        tc->tcm_ifindex = from;
        tc->tcm_parent = INGRESS_HANDLE;
        tc->tcm_info = TC_H_MAKE(1 << 16, htons(ETH_P_ALL)); /* priority 1, every protocol */
        nl_put_str(&m, TCA_KIND, "u32");
        nl_nest_begin(&m, TCA_OPTIONS);
        struct {
                struct tc_u32_sel sel;
                struct tc_u32_key key;
        } sel = {.sel = {.flags = TC_U32_TERMINAL, .nkeys = 1}};
        nl_put(&m, TCA_U32_SEL, &sel, sizeof(sel));
        nl_nest_begin(&m, TCA_U32_ACT);
        nl_nest_begin(&m, 1); /* the first action */
        nl_put_str(&m, TCA_ACT_KIND, "mirred");
        nl_nest_begin(&m, TCA_ACT_OPTIONS);
        struct tc_mirred parms = {.action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR, .ifindex = (uint32_t) to};
        nl_put(&m, TCA_MIRRED_PARMS, &parms, sizeof(parms));
        nl_nest_end(&m);
        nl_nest_end(&m);
        nl_nest_end(&m);
        nl_nest_end(&m);
        return nl_call(nl, &m, what, err);
}

static void del_ingress(int nl, int index, const char *name)
{
        struct nl_msg m;
        struct tcmsg *tc = nl_begin(&m, RTM_DELQDISC, 0, sizeof(*tc));
        tc->tcm_ifindex = index;
        tc->tcm_handle = INGRESS_HANDLE;
        tc->tcm_parent = TC_H_INGRESS;
        _cleanup_error_ cocoon_error *e = NULL;
        int r = nl_call(nl, &m, "removing the ingress qdisc", &e);
        /* ENODEV: the engine deleted the interface first, and its qdiscs with it. */
        if (r < 0 && r != -ENODEV)
                log_warn("interface %s: %s, ignoring", name, e ? e->msg : strerror(-r));
}

static int plumb(struct network *net, struct iface *i, struct vm_nic *nic, cocoon_error **err)
{
        int r = create_tap(i, &nic->tap_fd, err);
        if (r < 0)
                return r;
        tap_quiet(net->nl, i->tap_index);
        r = set_link(net->nl, i->tap_index, i->mtu, true, "bringing the tap up", err);
        if (r < 0)
                return r;
        r = add_ingress(net->nl, i->index, "adding an ingress qdisc (is another VM using this namespace?)", err);
        if (r < 0)
                return r;
        i->redirected = true;
        r = add_ingress(net->nl, i->tap_index, "adding an ingress qdisc to the tap", err);
        if (r == 0)
                r = add_redirect(net->nl, i->index, i->tap_index, "redirecting its traffic to the tap", err);
        if (r == 0)
                r = add_redirect(net->nl, i->tap_index, i->index, "redirecting the tap's traffic to it", err);
        return r;
}

/* Inside the namespace: what is there, and a tap beside each interface. */
static int setup_inside(struct network *net, cocoon_error **err)
{
        int r = nl_open(&net->nl, err);
        if (r < 0)
                return r;
        r = read_config(net, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < net->n; k++) {
                r = plumb(net, &net->ifaces[k], &net->nics[k], err);
                if (r < 0)
                        return error_wrap(err, r, "interface %s", net->ifaces[k].name);
        }
        return 0;
}

/* Opens path and checks that it is a network namespace (the host's own was refused before, see pod.c). */
static int open_netns(const char *path, int *ret_fd, cocoon_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening it");
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
                return error_set(err, EINVAL, "not a network namespace");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int network_setup(const struct oci_spec *spec, struct network **ret, cocoon_error **err)
{
        *ret = NULL;
        const struct spec_namespace *ns = spec_namespace(spec, "network");
        const char *path = ns ? ns->path : NULL;
        if (!path)
                return 0; /* a new namespace in the guest, with lo only */

        _cleanup_close_ int target = -1, own = -1;
        int r = open_netns(path, &target, err);
        if (r < 0)
                return error_wrap(err, r, "network namespace %s", path);
        own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own < 0)
                return error_sys(err, errno, "opening our own network namespace");

        struct network *net = calloc(1, sizeof(*net));
        if (!net || !(net->path = strdup(path))) {
                free(net);
                return -ENOMEM;
        }
        net->nl = -1;
        for (size_t k = 0; k < VM_MAX_NICS; k++)
                net->nics[k].tap_fd = -1;
        if (setns(target, CLONE_NEWNET) < 0) {
                network_free(net);
                return error_sys(err, errno, "network namespace %s: entering it", path);
        }
        r = setup_inside(net, err);
        /* The VMM and everything after must run in the host's namespace. */
        if (setns(own, CLONE_NEWNET) < 0) {
                log_error("returning to our own network namespace: %s", strerror(errno));
                abort();
        }
        if (r < 0) {
                network_free(net);
                return error_wrap(err, r, "network namespace %s", path);
        }
        /* Even with lo only: the guest's lo must come up, as CNI's loopback plugin brings the namespace's up. */
        *ret = net;
        return 0;
}

size_t network_nics(const struct network *net, const struct vm_nic **ret)
{
        *ret = net ? net->nics : NULL;
        return net ? net->n : 0;
}

void network_close_taps(struct network *net)
{
        for (size_t k = 0; net && k < net->n; k++) {
                cleanup_closep(&net->nics[k].tap_fd);
                net->nics[k].tap_fd = -1;
        }
}

static ProtobufCBinaryData bytes(const unsigned char *p, size_t len)
{
        return (ProtobufCBinaryData) {.len = len, .data = (uint8_t *) p};
}

int network_configure_guest(const struct network *net, struct conn *agent, uint64_t id, cocoon_error **err)
{
        /* Every message points into net; only the arrays of pointers are ours. */
        size_t n_addrs = 0;
        for (size_t k = 0; k < net->n; k++)
                n_addrs += net->ifaces[k].n_addrs;
        Cocoon__NetInterface ifs[VM_MAX_NICS], *ifp[VM_MAX_NICS];
        _cleanup_free_ Cocoon__NetAddress *addrs = calloc(n_addrs + 1, sizeof(*addrs));
        _cleanup_free_ Cocoon__NetAddress **addrp = calloc(n_addrs + 1, sizeof(*addrp));
        _cleanup_free_ Cocoon__NetRoute *routes = calloc(net->n_routes + 1, sizeof(*routes));
        _cleanup_free_ Cocoon__NetRoute **routep = calloc(net->n_routes + 1, sizeof(*routep));
        if (!addrs || !addrp || !routes || !routep)
                return -ENOMEM;
        size_t a = 0;
        for (size_t k = 0; k < net->n; k++) {
                const struct iface *i = &net->ifaces[k];
                cocoon__net_interface__init(&ifs[k]);
                ifs[k].name = (char *) i->name;
                ifs[k].mac = bytes(net->nics[k].mac, ETH_ALEN);
                ifs[k].mtu = i->mtu;
                ifs[k].addresses = &addrp[a];
                ifs[k].n_addresses = i->n_addrs;
                for (size_t j = 0; j < i->n_addrs; j++, a++) {
                        cocoon__net_address__init(&addrs[a]);
                        addrs[a].address = bytes(i->addrs[j].addr, i->addrs[j].len);
                        addrs[a].prefix_length = i->addrs[j].prefix;
                        addrp[a] = &addrs[a];
                }
                ifp[k] = &ifs[k];
        }
        for (size_t k = 0; k < net->n_routes; k++) {
                const struct route *rt = &net->routes[k];
                cocoon__net_route__init(&routes[k]);
                routes[k].destination = bytes(rt->dst.addr, rt->dst.len);
                routes[k].destination_length = rt->dst.prefix;
                routes[k].gateway = bytes(rt->gateway, rt->has_gateway ? rt->dst.len : 0);
                routes[k].device = (char *) rt->dev->name;
                routes[k].scope = rt->scope;
                routes[k].metric = rt->metric;
                routep[k] = &routes[k];
        }
        Cocoon__ConfigureNetworkRequest cn = COCOON__CONFIGURE_NETWORK_REQUEST__INIT;
        cn.interfaces = ifp;
        cn.n_interfaces = net->n;
        cn.routes = routep;
        cn.n_routes = net->n_routes;
        Request req = COCOON__REQUEST__INIT;
        req.id = id;
        req.body_case = COCOON__REQUEST__BODY_CONFIGURE_NETWORK;
        req.configure_network = &cn;
        int r = msg_call(agent, &req, NULL, 0, NULL, NULL, NULL, err);
        return r < 0 ? error_wrap(err, r, "configuring the guest's network") : 0;
}

void network_free(struct network *net)
{
        if (!net)
                return;
        /* The taps go with the VMM's fds, their qdiscs with them; the interfaces stay, so ours must go. */
        for (size_t k = 0; k < net->n; k++) {
                if (net->ifaces[k].redirected)
                        del_ingress(net->nl, net->ifaces[k].index, net->ifaces[k].name);
                free(net->ifaces[k].addrs);
        }
        network_close_taps(net);
        cleanup_closep(&net->nl);
        free(net->routes);
        free(net->path);
        free(net);
}
