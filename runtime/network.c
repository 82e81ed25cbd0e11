/*
 * Taps for the interfaces of a container's network namespace, redirected to
 * and from them with tc (see network.h). Everything is done over rtnetlink
 * from inside the namespace; the supervisor enters it only while it plumbs.
 *
 * For a VMM that opens its taps by name in the host's namespace (libvirt's),
 * each interface gets instead a veth pair from the namespace to the host and
 * a tap beside the host end, redirected in both namespaces: interface <->
 * veth end in the container's, host veth end <-> tap in the host's. The
 * host-side devices carry no address, no IPv6, no ARP, and strict reverse
 * path filtering, and their every ingress frame is stolen by tc before the
 * host's stack could see it; each is tagged (IFLA_IFALIAS) with the
 * sandbox's state directory so that network_sweep() finds what a killed
 * supervisor left. docs/networking.md, docs/libvirt.md.
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
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
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
/* Host taps: the kernel numbers the tap (never an existing one); the veth ends get 8 random hex digits, created exclusively. */
#define HOST_TAP_NAME "cocoont%d"
#define VETH_HOST_PREFIX "cocoonv"
#define VETH_NS_PREFIX "cocoonp"
/* Every host-side device's alias: this and the sandbox's state directory. */
#define HOST_TAG "cocoon "
_Static_assert(sizeof(((struct vm_nic *) 0)->tap_name) == IFNAMSIZ, "a vm_nic holds a tap name");

struct address {
        unsigned char addr[16];
        size_t len; /* 4 or 16 */
        unsigned prefix;
};

struct iface {
        char name[IFNAMSIZ];
        int index, tap_index; /* the tap: in the namespace, or with host taps in the host's */
        unsigned mtu;
        bool redirected; /* our ingress qdisc is on it */
        /* Host taps: the veth pair, its end in the namespace and the one in the host's. */
        char veth_name[IFNAMSIZ], host_veth_name[IFNAMSIZ];
        int veth_index, host_veth_index;
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
        char *host_tag; /* host taps: HOST_TAG and the owner; NULL: taps in the namespace, handed over as fds */
        int host_nl;    /* host taps: rtnetlink in the host's namespace */
        int host_ns;    /* host taps: the host's namespace, where the veth's other end goes */
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
        /* A tap or a cocoon veth end is ours (or another VM's); only Ethernet devices can stand behind a guest NIC. */
        if (info[IFLA_INFO_KIND] && strcmp(RTA_DATA(info[IFLA_INFO_KIND]), "tun") == 0)
                return 0;
        if (strncmp(name, VETH_NS_PREFIX, strlen(VETH_NS_PREFIX)) == 0)
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
 * A tap for the VMM, named by the template (the kernel picks the number):
 * IFF_VNET_HDR as the VMM expects for offloads, and not persistent, so that
 * it vanishes with the last fd, the VMM's. Its name goes to ret_name.
 */
static int create_tap(const char *template, struct iface *i, char ret_name[IFNAMSIZ], int *ret_fd, cocoon_error **err)
{
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return error_sys(err, errno, "opening /dev/net/tun");
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", template);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return error_sys(err, errno, "creating a tap device");
        i->tap_index = (int) if_nametoindex(ifr.ifr_name);
        if (i->tap_index == 0)
                return error_sys(err, errno, "looking up the tap %s", ifr.ifr_name);
        memcpy(ret_name, ifr.ifr_name, IFNAMSIZ);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Sets flags (IFF_UP, IFF_NOARP) on the link, and its MTU unless 0. */
static int set_link(int nl, int index, unsigned mtu, unsigned flags, const char *what, cocoon_error **err)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        ifi->ifi_change = flags;
        ifi->ifi_flags = flags;
        if (mtu)
                nl_put_u32(&m, IFLA_MTU, mtu);
        return nl_call(nl, &m, what, err);
}

/*
 * A tap or veth end is a pipe, not a host: no IPv6 link-local address of
 * its own, so that it sends nothing (router or neighbour solicitations) to
 * the guest.
 */
static void quiet_ipv6(int nl, int index)
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
        int r = nl_call(nl, &m, "turning off IPv6 addresses on a tap or veth end", &e);
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

static int redirect_pair(int nl, int a, int b, const char *b_what, cocoon_error **err);

static int plumb(struct network *net, struct iface *i, struct vm_nic *nic, cocoon_error **err)
{
        char name[IFNAMSIZ];
        int r = create_tap(TAP_NAME, i, name, &nic->tap_fd, err);
        if (r < 0)
                return r;
        quiet_ipv6(net->nl, i->tap_index);
        r = set_link(net->nl, i->tap_index, i->mtu, IFF_UP, "bringing the tap up", err);
        if (r < 0)
                return r;
        r = add_ingress(net->nl, i->index, "adding an ingress qdisc (is another VM using this namespace?)", err);
        if (r < 0)
                return r;
        i->redirected = true;
        return redirect_pair(net->nl, i->index, i->tap_index, "the tap", err);
}

/* Redirects every frame entering a into b and every one entering b into a. */
static int redirect_pair(int nl, int a, int b, const char *b_what, cocoon_error **err)
{
        int r = add_ingress(nl, b, "adding an ingress qdisc", err);
        if (r == 0)
                r = add_redirect(nl, a, b, "redirecting its traffic", err);
        if (r == 0)
                r = add_redirect(nl, b, a, "redirecting the traffic back", err);
        return r < 0 ? error_wrap(err, r, "%s", b_what) : 0;
}

static void del_link(int nl, int index, const char *name)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_DELLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        _cleanup_error_ cocoon_error *e = NULL;
        int r = nl_call(nl, &m, "removing it", &e);
        /* ENODEV: gone already (a veth with its peer, or with the engine's namespace). */
        if (r < 0 && r != -ENODEV)
                log_warn("interface %s: %s, ignoring", name, e ? e->msg : strerror(-r));
}

/* The sandbox's tag on a host-side device, by index, so that network_sweep() finds it. */
static int tag_link(struct network *net, int index, cocoon_error **err)
{
        struct nl_msg m;
        struct ifinfomsg *ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
        ifi->ifi_index = index;
        nl_put_str(&m, IFLA_IFALIAS, net->host_tag);
        return nl_call(net->host_nl, &m, "tagging it with the sandbox", err);
}

/* Writes value to /proc/sys/net/<family>/conf/<dev>/<key>: the caller's network namespace's. */
static int write_conf(const char *family, const char *dev, const char *key, const char *value, cocoon_error **err)
{
        char path[96];
        snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, dev, key);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        /* A kernel without IPv6 has none to disable. */
        if (fd < 0 && errno == ENOENT && strcmp(family, "ipv6") == 0 && access("/proc/sys/net/ipv6", F_OK) < 0)
                return 0;
        if (fd < 0 || write(fd, value, strlen(value)) < 0)
                return error_sys(err, errno, "setting %s", path);
        return 0;
}

/*
 * A host-side device, still down, made a pipe that the host's stack ignores
 * even if tc did not steal a frame: IPv6 off (no link-local address, no
 * router or neighbour solicitation, no DAD), no ARP, and strict reverse
 * path filtering (no route leads back through it, so IPv4 drops whatever
 * enters it). It has no address.
 */
static int mute_host_link(struct network *net, int index, const char *name, cocoon_error **err)
{
        quiet_ipv6(net->host_nl, index);
        int r = write_conf("ipv6", name, "disable_ipv6", "1", err);
        if (r == 0)
                r = write_conf("ipv4", name, "rp_filter", "1", err);
        return r;
}

/*
 * In the namespace: a veth pair whose other end goes straight into the
 * host's namespace, both ends with the interface's MTU, names that exist
 * nowhere yet (NLM_F_EXCL), the host end tagged at once.
 */
static int create_veth(struct network *net, struct iface *i, cocoon_error **err)
{
        for (int attempt = 0;; attempt++) {
                uint32_t rnd;
                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return error_sys(err, errno, "getrandom");
                snprintf(i->veth_name, sizeof(i->veth_name), VETH_NS_PREFIX "%08x", rnd);
                snprintf(i->host_veth_name, sizeof(i->host_veth_name), VETH_HOST_PREFIX "%08x", rnd);
                struct nl_msg m;
                nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
                nl_put_str(&m, IFLA_IFNAME, i->veth_name);
                nl_put_u32(&m, IFLA_MTU, i->mtu);
                nl_nest_begin(&m, IFLA_LINKINFO);
                nl_put_str(&m, IFLA_INFO_KIND, "veth");
                nl_nest_begin(&m, IFLA_INFO_DATA);
                nl_nest_begin(&m, VETH_INFO_PEER);
                nl_reserve(&m, sizeof(struct ifinfomsg));
                nl_put_str(&m, IFLA_IFNAME, i->host_veth_name);
                nl_put_u32(&m, IFLA_MTU, i->mtu);
                nl_put_u32(&m, IFLA_NET_NS_FD, (uint32_t) net->host_ns);
                nl_nest_end(&m);
                nl_nest_end(&m);
                nl_nest_end(&m);
                _cleanup_error_ cocoon_error *e = NULL;
                int r = nl_call(net->nl, &m, "creating a veth pair to the host", &e);
                if (r == -EEXIST && attempt < 3)
                        continue; /* a name taken (by chance, 32 random bits): other names */
                if (r < 0) {
                        if (err)
                                *err = TAKE_PTR(e);
                        return r;
                }
                break;
        }
        i->veth_index = (int) if_nametoindex(i->veth_name);
        if (i->veth_index == 0)
                return error_sys(err, errno, "looking up the veth end %s", i->veth_name);
        /* By name in the host's namespace: its index there is not known here. */
        struct nl_msg m;
        nl_begin(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
        nl_put_str(&m, IFLA_IFNAME, i->host_veth_name);
        nl_put_str(&m, IFLA_IFALIAS, net->host_tag);
        return nl_call(net->host_nl, &m, "tagging the veth's host end with the sandbox", err);
}

/* In the namespace: interface <-> our veth end, which goes up quiet. */
static int plumb_veth(struct network *net, struct iface *i, cocoon_error **err)
{
        int r = create_veth(net, i, err);
        if (r < 0)
                return r;
        quiet_ipv6(net->nl, i->veth_index);
        r = add_ingress(net->nl, i->index, "adding an ingress qdisc (is another VM using this namespace?)", err);
        if (r < 0)
                return r;
        i->redirected = true;
        r = redirect_pair(net->nl, i->index, i->veth_index, i->veth_name, err);
        if (r == 0)
                r = set_link(net->nl, i->veth_index, 0, IFF_UP, "bringing the veth end up", err);
        return r;
}

/*
 * A persistent tap in the host's namespace for the VMM to open by name:
 * numbered by the kernel (so never one that existed), tagged before it is
 * made persistent (a supervisor killed before that leaves nothing: the tap
 * goes with our fd), and owned by root, so that no other user can attach to
 * it while no VMM holds it.
 */
static int create_host_tap(struct network *net, struct iface *i, struct vm_nic *nic, cocoon_error **err)
{
        _cleanup_close_ int fd = -1;
        int r = create_tap(HOST_TAP_NAME, i, nic->tap_name, &fd, err);
        if (r < 0)
                return r;
        r = tag_link(net, i->tap_index, err);
        if (r < 0)
                return r;
        if (ioctl(fd, TUNSETOWNER, 0UL) < 0 || ioctl(fd, TUNSETPERSIST, 1UL) < 0)
                return error_sys(err, errno, "making the tap %s root's and persistent", nic->tap_name);
        return 0;
}

/* In the host's namespace: the tap <-> the veth's host end, both muted before they go up. */
static int plumb_host(struct network *net, struct iface *i, struct vm_nic *nic, cocoon_error **err)
{
        i->host_veth_index = (int) if_nametoindex(i->host_veth_name);
        if (i->host_veth_index == 0)
                return error_sys(err, errno, "looking up the veth end %s", i->host_veth_name);
        int r = create_host_tap(net, i, nic, err);
        if (r == 0)
                r = mute_host_link(net, i->host_veth_index, i->host_veth_name, err);
        if (r == 0)
                r = mute_host_link(net, i->tap_index, nic->tap_name, err);
        if (r == 0)
                r = add_ingress(net->host_nl, i->host_veth_index, "adding an ingress qdisc to the veth's host end", err);
        if (r == 0)
                r = redirect_pair(net->host_nl, i->host_veth_index, i->tap_index, nic->tap_name, err);
        if (r == 0)
                r = set_link(net->host_nl, i->host_veth_index, 0, IFF_UP | IFF_NOARP, "bringing the veth's host end up",
                             err);
        if (r == 0)
                r = set_link(net->host_nl, i->tap_index, i->mtu, IFF_UP | IFF_NOARP, "bringing the tap up", err);
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
                r = net->host_tag ? plumb_veth(net, &net->ifaces[k], err) : plumb(net, &net->ifaces[k], &net->nics[k], err);
                if (r < 0)
                        return error_wrap(err, r, "interface %s", net->ifaces[k].name);
        }
        return 0;
}

/* Back in the host's namespace, with host taps: a tap beside each veth's host end. */
static int setup_host(struct network *net, cocoon_error **err)
{
        for (size_t k = 0; net->host_tag && k < net->n; k++) {
                int r = plumb_host(net, &net->ifaces[k], &net->nics[k], err);
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

/* With host taps: the tag, and the host's namespace with an rtnetlink socket in it, kept while we are in the other. */
static int open_host(struct network *net, const char *host_owner, int own, cocoon_error **err)
{
        if (asprintf(&net->host_tag, HOST_TAG "%s", host_owner) < 0) {
                net->host_tag = NULL;
                return -ENOMEM;
        }
        /* The kernel keeps aliases shorter than IFALIASZ. */
        if (strlen(net->host_tag) >= IFALIASZ)
                return error_set(err, ENAMETOOLONG,
                                 "the sandbox's state directory %s is too long a path to tag its host interfaces with",
                                 host_owner);
        net->host_ns = fcntl(own, F_DUPFD_CLOEXEC, 3);
        if (net->host_ns < 0)
                return error_sys(err, errno, "duplicating a namespace fd");
        return nl_open(&net->host_nl, err);
}

int network_setup(const struct oci_spec *spec, const char *host_owner, struct network **ret, cocoon_error **err)
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
        net->nl = net->host_nl = net->host_ns = -1;
        for (size_t k = 0; k < VM_MAX_NICS; k++)
                net->nics[k].tap_fd = -1;
        r = host_owner ? open_host(net, host_owner, own, err) : 0;
        if (r < 0) {
                network_free(net);
                return r;
        }
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
        if (r == 0)
                r = setup_host(net, err);
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
        /*
         * The taps in the namespace go with the VMM's fds, their qdiscs with
         * them; the interfaces stay, so ours must go. Host taps and veth
         * pairs (either end takes the other) are ours to remove.
         */
        for (size_t k = 0; k < net->n; k++) {
                struct iface *i = &net->ifaces[k];
                if (i->redirected)
                        del_ingress(net->nl, i->index, i->name);
                if (i->veth_index)
                        del_link(net->nl, i->veth_index, i->veth_name);
                if (net->host_tag && i->tap_index)
                        del_link(net->host_nl, i->tap_index, net->nics[k].tap_name);
                free(i->addrs);
        }
        network_close_taps(net);
        cleanup_closep(&net->nl);
        cleanup_closep(&net->host_nl);
        cleanup_closep(&net->host_ns);
        free(net->host_tag);
        free(net->routes);
        free(net->path);
        free(net);
}

struct sweep {
        const char *tag;
        int found[64];
        size_t n;
};

static int on_tagged(const struct nlmsghdr *h, void *userdata)
{
        struct sweep *sw = userdata;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        const struct rtattr *tb[IFLA_MAX + 1];
        nl_parse(h, sizeof(*ifi), tb, IFLA_MAX);
        const struct rtattr *alias = tb[IFLA_IFALIAS];
        size_t len = strlen(sw->tag);
        /* The kernel's copy may or may not end with its NUL. */
        if (alias && (RTA_PAYLOAD(alias) == len || (RTA_PAYLOAD(alias) == len + 1 && !((char *) RTA_DATA(alias))[len])) &&
            memcmp(RTA_DATA(alias), sw->tag, len) == 0 && sw->n < ARRAY_SIZE(sw->found))
                sw->found[sw->n++] = ifi->ifi_index;
        return 0;
}

void network_sweep(const char *host_owner)
{
        _cleanup_free_ char *tag = NULL;
        _cleanup_close_ int nl = -1;
        _cleanup_error_ cocoon_error *e = NULL;
        if (asprintf(&tag, HOST_TAG "%s", host_owner) < 0) {
                tag = NULL;
                return;
        }
        struct sweep sw = {.tag = tag};
        struct nl_msg m;
        nl_begin(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
        if (nl_open(&nl, &e) < 0 || nl_dump(nl, &m, on_tagged, &sw, "listing the interfaces", &e) < 0) {
                log_warn("looking for the host interfaces of %s: %s, ignoring", host_owner, e ? e->msg : "failed");
                return;
        }
        for (size_t k = 0; k < sw.n; k++) {
                char name[IFNAMSIZ] = "";
                log_debug("removing host interface %s of %s, left by its supervisor",
                          if_indextoname((unsigned) sw.found[k], name) ? name : "?", host_owner);
                del_link(nl, sw.found[k], name);
        }
}
