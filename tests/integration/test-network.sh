#!/usr/bin/env bash
# Container networking end to end: a network namespace made like a CNI plugin
# makes it (`ip netns add`, a veth pair, addresses, a default route), a
# container that joins it by path, and a listener on the host end of the
# veth. Checks what the container sees, that it reaches the host, and that
# the namespace is as it was afterwards: no tap, no qdisc.
# With COCOON_BACKEND=libvirt (meson's network-libvirt, under with-libvirtd.sh)
# the same cases run under the libvirt backend, whose taps live in the host's
# namespace behind a veth pair: while a container runs, the host-side
# devices must have no address and IPv6 disabled, and after each case no
# cocoon interface may be left on the host.
. "$(dirname "$0")/lib.sh"
BACKEND=${COCOON_BACKEND:-qemu}

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip > /dev/null || ! command -v tc > /dev/null; then
    echo "1..0 # SKIP needs root, /dev/net/tun, ip and tc"
    exit 77
fi

NS=cocoon-test-$$
NS_EMPTY=cocoon-test-lo-$$
HOST_IF=cocoon-h$$
NET=10.213.$(($$ % 250))
HOST_IP=$NET.1
CT_IP=$NET.2
HOST_IP6=fd00:213:$(printf %x $(($$ % 65536)))::1
CT_IP6=${HOST_IP6%1}2
PORT=$((20000 + $$ % 10000))
server=

net_cleanup() {
    [ -z "$server" ] || kill "$server" 2> /dev/null
    ip link del "$HOST_IF" 2> /dev/null
    ip netns del "$NS" 2> /dev/null
    ip netns del "$NS_EMPTY" 2> /dev/null
    cleanup
}
trap net_cleanup EXIT

ip netns add "$NS"
ip netns add "$NS_EMPTY"
ip link add "$HOST_IF" type veth peer name eth0 netns "$NS"
ip addr add "$HOST_IP/24" dev "$HOST_IF"
ip addr add "$HOST_IP6/64" dev "$HOST_IF" nodad
ip link set "$HOST_IF" up
ip -n "$NS" link set lo up
ip -n "$NS" link set eth0 mtu 1400 up
ip -n "$NS" addr add "$CT_IP/24" dev eth0
ip -n "$NS" addr add "$CT_IP6/64" dev eth0 nodad
ip -n "$NS" route add default via "$HOST_IP"
ip -n "$NS" -6 route add default via "$HOST_IP6"
CT_MAC=$(ip netns exec "$NS" cat /sys/class/net/eth0/address)

mkdir -p "$TEST_ROOT/www"
echo "hello from the host" > "$TEST_ROOT/www/hello.txt"
# Bound to the veth's host end only: the container can reach it only through the tap.
(cd "$TEST_ROOT/www" && exec python3 -m http.server --bind "$HOST_IP" "$PORT") > "$TEST_ROOT/www.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('$HOST_IP', $PORT), 1)" 2> /dev/null && break
    sleep 0.1
done

# set_netns PATH: the network namespace entry of $B joins PATH.
set_netns() {
    edit_config "$B" "[n.update(path='$1') for n in c['linux']['namespaces'] if n['type'] == 'network']"
}

# no_plumbing: the namespace has no tap, no veth of ours, and eth0 only its default qdisc.
no_plumbing() {
    local taps qdiscs
    taps=$(ip -n "$NS" -o link show type tun; ip -n "$NS" -o link show | grep ': cocoonp')
    qdiscs=$(tc -n "$NS" qdisc show dev eth0 | grep -v '^qdisc noqueue 0: root')
    if [ -n "$taps$qdiscs" ]; then
        printf 'left in the namespace:\n%s\n%s\n' "$taps" "$qdiscs" | diag
        return 1
    fi
}

# host_links: cocoon's interfaces in the host's namespace (the libvirt backend's taps and veth ends).
host_links() { ip -o link show | grep -E '^[0-9]+: cocoon[tvp][0-9a-f]+[@:]' | cut -d' ' -f2 | cut -d@ -f1 | tr -d :; }
no_host_links() {
    local left; left=$(host_links)
    [ -z "$left" ] || { echo "cocoon interfaces left on the host: $left" | diag; return 1; }
}
# muted_host_links: every host-side interface is up, without an address, with IPv6 disabled,
# strict rp_filter, tagged with its sandbox, its ingress redirected by tc; the taps root's.
muted_host_links() {
    local l bad=""
    for l in $(host_links); do
        ip -o link show "$l" | grep -q '[<,]UP[,>]' || bad="$bad $l:down"
        [ -z "$(ip -o addr show dev "$l")" ] || bad="$bad $l:address($(ip -o addr show dev "$l"))"
        [ "$(cat "/proc/sys/net/ipv6/conf/$l/disable_ipv6")" = 1 ] || bad="$bad $l:ipv6"
        [ "$(cat "/proc/sys/net/ipv4/conf/$l/rp_filter")" = 1 ] || bad="$bad $l:rp_filter"
        ip -d -o link show "$l" | grep -q "alias cocoon $STATE/" || bad="$bad $l:untagged"
        tc filter show dev "$l" ingress | grep -q "Egress Redirect to device cocoon[tv]" || bad="$bad $l:no-redirect"
        case $l in cocoont*) [ "$(cat "/sys/class/net/$l/owner")" = 0 ] || bad="$bad $l:owner" ;; esac
    done
    [ -z "$bad" ] || { echo "host interfaces not muted:$bad" | diag; return 1; }
}

B="$TEST_ROOT/bundle"
# While the container runs: a tap beside eth0, and tc redirecting both ways.
mkbundle "$B" sh -c 'trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done'
set_netns "/run/netns/$NS"
"$COCOON" --root "$STATE" run -b "$B" plumbed > "$TEST_ROOT/plumbed.out" 2>&1 &
runpid=$!
for _ in $(seq 600); do grep -q ready "$TEST_ROOT/plumbed.out" && break; sleep 0.1; done
if [ "$BACKEND" = libvirt ]; then
    # The namespace's side: a veth end beside eth0; the host's: its peer and a tap.
    tap=$(ip -n "$NS" -o link show | grep -o ': cocoonp[0-9a-f]*' | tr -d ': ')
    what="veth end"
    host=$(host_links | tr '\n' ' ')
    { echo "host side: $host"; for l in $host; do ip -d -o link show "$l"; ip -o addr show dev "$l"; tc filter show dev "$l" ingress; done; } | diag
    check "while it runs, the host has the sandbox's tap and veth end ($host)" \
        sh -c 'echo "$1" | grep -q "cocoont[0-9]" && echo "$1" | grep -q "cocoonv[0-9a-f]"' _ "$host"
    check "the host-side interfaces have no address, IPv6 disabled, strict rp_filter, tc redirects; the tap is root's" \
        muted_host_links
    check "the tap has eth0's MTU" sh -c 'ip -o link show | grep -q ": cocoont[0-9]*: .* mtu 1400 "'
else
    tap=$(ip -n "$NS" -o link show type tun | cut -d' ' -f2 | tr -d :)
    what=tap
fi
filters="$(tc -n "$NS" filter show dev eth0 ingress; tc -n "$NS" filter show dev "${tap:-none}" ingress)"
echo "$filters" | diag
check "while it runs, the namespace has a $what ($tap) with eth0's MTU" \
    sh -c '[ -n "$1" ] && ip -n "$2" link show "$1" | grep -q "[<,]UP[,>].* mtu 1400 "' _ "$tap" "$NS"
check "tc redirects eth0 to the $what and the $what to eth0" \
    sh -c 'echo "$1" | grep -q "Egress Redirect to device $2" && echo "$1" | grep -q "Egress Redirect to device eth0"' \
    _ "$filters" "$tap"
kill -TERM "$runpid"
wait "$runpid"
check "plumbed: nothing left on the host" nothing_left
check "plumbed: no cocoon interface left on the host" no_host_links

mkbundle --config-only "$B" sh -c "ip addr; ip route; ip -6 route; wget -qO- http://$HOST_IP:$PORT/hello.txt && wget -qO- http://[$HOST_IP6]:$PORT/ 2>&1; exit 3"
set_netns "/run/netns/$NS"
out=$(cocoon run --bundle "$B" net 2> "$TEST_ROOT/stderr"); status=$?
echo "$out" | diag
diag < "$TEST_ROOT/stderr"
check "the container's eth0 has the veth's MAC ($CT_MAC)" sh -c 'echo "$1" | grep -q "link/ether $2 "' _ "$out" "$CT_MAC"
check "eth0 has the veth's MTU" sh -c 'echo "$1" | grep -q "eth0: .* mtu 1400 "' _ "$out"
check "eth0 has the veth's IPv4 and IPv6 addresses" \
    sh -c 'echo "$1" | grep -q "inet $2/24 " && echo "$1" | grep -q "inet6 $3/64 "' _ "$out" "$CT_IP" "$CT_IP6"
check "the default routes are there" \
    sh -c 'echo "$1" | grep -q "^default via $2 dev eth0" && echo "$1" | grep -q "^default via $3 dev eth0"' \
    _ "$out" "$HOST_IP" "$HOST_IP6"
check "the container fetched a page from the host end of the veth" \
    sh -c 'echo "$1" | grep -qx "hello from the host"' _ "$out"
check "it reached the host over IPv6 too (connection refused: the server is on IPv4 only)" \
    sh -c 'echo "$1" | grep -q "Connection refused"' _ "$out"
check "the container's exit status comes back" [ "$status" -eq 3 ]
check "no tap and no qdisc left in the namespace" no_plumbing
check "nothing left on the host" nothing_left
check "no cocoon interface left on the host" no_host_links

# A pod: the sandbox (pause) container boots the VM with the NICs; a member
# naming the same namespace, as CRI writes it, shares them.
mkbundle "$TEST_ROOT/sandbox" sh -c 'exec sleep 1000'
B="$TEST_ROOT/sandbox" set_netns "/run/netns/$NS"
edit_config "$TEST_ROOT/sandbox" "c['process']['terminal'] = False
c['annotations'] = {'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod'}"
cocoon create -b "$TEST_ROOT/sandbox" pod > /dev/null 2>&1 && cocoon start pod
mkbundle --config-only "$B" sh -c "ip -o -4 addr show eth0; wget -qO- http://$HOST_IP:$PORT/hello.txt"
set_netns "/run/netns/$NS"
edit_config "$B" "c['annotations'] = {'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod'}"
out=$(cocoon run --bundle "$B" member 2>&1); status=$?
echo "$out" | diag
check "a pod member shares the sandbox's NIC and reaches the host" \
    sh -c '[ "$2" -eq 0 ] && echo "$1" | grep -q "eth0 .*inet $3/24" && echo "$1" | grep -qx "hello from the host"' \
    _ "$out" "$status" "$CT_IP"
cocoon delete -f pod
check "pod: nothing left on the host" nothing_left
check "pod: no cocoon interface left on the host" no_host_links
check "pod: no tap and no qdisc left in the namespace" no_plumbing

# Only lo in the namespace: nothing to plumb, the container has lo only.
mkbundle --config-only "$B" sh -c 'ip -o link | cut -d" " -f2,3; wget -qO- http://127.0.0.1:1/ 2>&1'
set_netns "/run/netns/$NS_EMPTY"
out=$(cocoon run --bundle "$B" lo-only 2>&1); status=$?
echo "$out" | diag
check "a namespace with lo only gives the container lo only, and up" \
    sh -c 'echo "$1" | head -1 | grep -qx "lo: <LOOPBACK,UP,LOWER_UP>" && [ $(echo "$1" | wc -l) -eq 2 ]' _ "$out"
check "lo works (connection refused, not unreachable)" sh -c 'echo "$1" | grep -q "Connection refused"' _ "$out"
check "lo only: nothing left on the host" nothing_left
check "lo only: no cocoon interface left on the host" no_host_links

touch "$TEST_ROOT/not-a-netns"
set_netns "$TEST_ROOT/not-a-netns"
out=$(cocoon run --bundle "$B" bad 2>&1); status=$?
echo "$out" | diag
check "a path that is not a network namespace fails, naming it" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "network namespace $3: not a network namespace"' \
    _ "$out" "$status" "$TEST_ROOT/not-a-netns"
check "bad path: nothing left on the host" nothing_left
check "bad path: no cocoon interface left on the host" no_host_links

set_netns "/run/netns/$NS-missing"
out=$(cocoon run --bundle "$B" missing 2>&1); status=$?
check "a missing namespace fails, naming it" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "network namespace $3: opening it: No such file"' \
    _ "$out" "$status" "/run/netns/$NS-missing"
check "missing namespace: nothing left on the host" nothing_left
check "missing namespace: no cocoon interface left on the host" no_host_links
check "after all cases: no tap and no qdisc in the namespace" no_plumbing

# podman's default network (netavark) is in tests/clients/test-podman.sh.

done_testing
