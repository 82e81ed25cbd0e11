#!/usr/bin/env bash
# Container networking end to end: a network namespace made like a CNI plugin
# makes it (`ip netns add`, a veth pair, addresses, a default route), a
# container that joins it by path, and a listener on the host end of the
# veth. Checks what the container sees, that it reaches the host, and that
# the namespace is as it was afterwards: no tap, no qdisc.
. "$(dirname "$0")/lib.sh"

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

# no_plumbing: the namespace has no tap and eth0 only its default qdisc.
no_plumbing() {
    local taps qdiscs
    taps=$(ip -n "$NS" -o link show type tun)
    qdiscs=$(tc -n "$NS" qdisc show dev eth0 | grep -v '^qdisc noqueue 0: root')
    if [ -n "$taps$qdiscs" ]; then
        printf 'left in the namespace:\n%s\n%s\n' "$taps" "$qdiscs" | diag
        return 1
    fi
}

B="$TEST_ROOT/bundle"
# While the container runs: a tap beside eth0, and tc redirecting both ways.
mkbundle "$B" sh -c 'trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done'
set_netns "/run/netns/$NS"
"$COCOON" --root "$STATE" run -b "$B" plumbed > "$TEST_ROOT/plumbed.out" 2>&1 &
runpid=$!
for _ in $(seq 600); do grep -q ready "$TEST_ROOT/plumbed.out" && break; sleep 0.1; done
tap=$(ip -n "$NS" -o link show type tun | cut -d' ' -f2 | tr -d :)
filters="$(tc -n "$NS" filter show dev eth0 ingress; tc -n "$NS" filter show dev "${tap:-none}" ingress)"
echo "$filters" | diag
check "while it runs, the namespace has a tap ($tap) with eth0's MTU" \
    sh -c '[ -n "$1" ] && ip -n "$2" link show "$1" | grep -q "[<,]UP[,>].* mtu 1400 "' _ "$tap" "$NS"
check "tc redirects eth0 to the tap and the tap to eth0" \
    sh -c 'echo "$1" | grep -q "Egress Redirect to device $2" && echo "$1" | grep -q "Egress Redirect to device eth0"' \
    _ "$filters" "$tap"
kill -TERM "$runpid"
wait "$runpid"
check "plumbed: nothing left on the host" nothing_left

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

touch "$TEST_ROOT/not-a-netns"
set_netns "$TEST_ROOT/not-a-netns"
out=$(cocoon run --bundle "$B" bad 2>&1); status=$?
echo "$out" | diag
check "a path that is not a network namespace fails, naming it" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "network namespace $3: not a network namespace"' \
    _ "$out" "$status" "$TEST_ROOT/not-a-netns"
check "bad path: nothing left on the host" nothing_left

set_netns "/run/netns/$NS-missing"
out=$(cocoon run --bundle "$B" missing 2>&1); status=$?
check "a missing namespace fails, naming it" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "network namespace $3: opening it: No such file"' \
    _ "$out" "$status" "/run/netns/$NS-missing"
check "missing namespace: nothing left on the host" nothing_left
check "after all cases: no tap and no qdisc in the namespace" no_plumbing

# podman's default network (netavark) is in tests/clients/test-podman.sh.

done_testing
