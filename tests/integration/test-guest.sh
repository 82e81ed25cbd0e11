#!/usr/bin/env bash
# The guest kernel's features, used the way containers use them (not read
# from its config): a privileged container builds a bridge with two network
# namespaces on it and filters and NATs their traffic with iptables, both the
# legacy (x_tables) and the nf_tables front end; the guest reports the kernel
# the build recorded; and guest memory a workload frees goes back to the host.
# Runs against the default guest kernel (cocoon's own, guest-image/kernel/).
. "$(dirname "$0")/lib.sh"
: "${KERNEL_INFO:?set KERNEL_INFO to vmlinux.info of the built kernel}"

B="$TEST_ROOT/bundle"
mkbundle "$B" true
R="$B/rootfs"

# Debian's iproute2 and iptables in the busybox rootfs, with their libraries
# and iptables' extensions at the same paths as on this host (busybox's ip
# cannot make veth pairs and it has no iptables).
copy_in() { # copy_in FILE...: each file and the libraries it loads
    local f lib
    for f in "$@"; do
        mkdir -p "$R$(dirname "$f")"
        cp -L "$f" "$R$f"
        for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
            [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
        done
    done
}
xt=$(dirname "$(readlink -f /usr/sbin/xtables-nft-multi)")
xtlib=$(ls -d /usr/lib/*/xtables | head -n1)
copy_in "$(readlink -f /usr/bin/ip || readlink -f /sbin/ip)" "$xt/xtables-nft-multi" "$xt/xtables-legacy-multi" $xtlib/*.so
mkdir -p "$R/opt/bin"
ln -sf "$(readlink -f /usr/bin/ip || readlink -f /sbin/ip)" "$R/opt/bin/ip"
ln -sf "$xt/xtables-legacy-multi" "$R/opt/bin/iptables-legacy"
ln -sf "$xt/xtables-nft-multi" "$R/opt/bin/iptables-nft"

# Privileged: every capability, no seccomp, /sys and /proc/sys writable (ip
# netns exec mounts sysfs; bridge-nf-call-iptables is a sysctl), all devices.
edit_config "$B" '
import re
caps = [l.split()[1] for l in open("/usr/include/linux/capability.h") if re.match(r"#define CAP_[A-Z_]+\s+\d+$", l)]
c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
c["linux"].pop("seccomp", None)
c["linux"].pop("maskedPaths", None)
c["linux"].pop("readonlyPaths", None)
c["linux"]["resources"] = {"devices": [{"allow": True, "access": "rwm"}]}
for m in c["mounts"]:
    if m["destination"] == "/sys":
        m["options"] = [o for o in m["options"] if o != "ro"]
c["process"]["args"] = ["sh", "/pod.sh"]
'
cat > "$R/pod.sh" <<'SH'
# busybox's sh runs its own applets before PATH: iproute2's ip by its path.
export PATH=/opt/bin:$PATH
ip=/opt/bin/ip
exec 2>&1
mkdir -p /run   # iptables-legacy's lock file
brctl addbr br0; echo "addbr=$?"
$ip link set br0 up && $ip addr add 10.9.0.1/24 dev br0
# Two network namespaces, each held by a sleeping process, on the bridge.
for n in 1 2; do
    unshare -n sleep 1000 &
    eval pid$n=$!
done
sleep 1
for n in 1 2; do
    eval pid=\$pid$n
    $ip link add v$n type veth peer name e$n
    $ip link set e$n netns $pid
    brctl addif br0 v$n
    $ip link set v$n up
    nsenter -t $pid -n $ip addr add 10.9.0.$((n + 1))/24 dev e$n
    nsenter -t $pid -n $ip link set e$n up
    nsenter -t $pid -n $ip link set lo up
done
echo "ports=$(ls /sys/class/net/br0/brif | tr '\n' ' ')"
sleep 1
across() { nsenter -t $pid1 -n ping -c 1 -W 3 10.9.0.3 > /tmp/ping.out 2>&1; r=$?; [ $r -eq 0 ] || sed 's/^/ping: /' /tmp/ping.out >&2; echo $r; }
echo "bridged=$(across)"
# What the traffic checks depend on, for the log.
cat /sys/class/net/br0/brif/*/state | tr '\n' ' '; echo "(port states)"
nsenter -t $pid1 -n $ip -br addr; nsenter -t $pid1 -n $ip neigh; $ip -br addr
echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables; echo "brnf=$?"
$ip route add 10.99.0.0/24 dev br0
for ipt in iptables-legacy iptables-nft; do
    $ipt -A FORWARD -d 10.9.0.3 -j DROP; echo "$ipt.rule=$?"
    echo "$ipt.dropped=$(across)"
    $ipt -D FORWARD -d 10.9.0.3 -j DROP
    echo "$ipt.again=$(across)"
    $ipt -t nat -A OUTPUT -d 10.99.0.3 -j DNAT --to-destination 10.9.0.3; echo "$ipt.dnat_rule=$?"
    ping -c 1 -W 3 10.99.0.3 > /tmp/ping.out 2>&1; echo "$ipt.dnat=$?"; cat /tmp/ping.out
    $ipt -t nat -A POSTROUTING -s 10.9.0.0/24 ! -d 10.9.0.0/24 -j MASQUERADE; echo "$ipt.masq=$?"
    $ipt -t nat -F; $ipt -F
done
echo "release=$(uname -r)"
echo "modules=$(test -e /proc/modules && echo yes || echo no)"
kill $pid1 $pid2
echo done
SH

out=$(cocoon run --bundle "$B" guest-net 2> "$TEST_ROOT/stderr"); status=$?
[ "$status" -eq 0 ] || { echo "status $status"; cat "$TEST_ROOT/stderr"; } | diag
echo "$out" | diag
value() { echo "$out" | sed -n "s/^$1=//p" | head -n1; }
expect() { # expect KEY WANT DESCRIPTION
    if [ "$(value "$1")" = "$2" ]; then ok "$3"; else not_ok "$3 ($1: got '$(value "$1")', want '$2')"; fi
}
check "the privileged container's script ran to its end" grep -qx done <<< "$out"
expect addbr 0 "brctl addbr makes a bridge"
expect ports "v1 v2 " "veth ports join the bridge"
expect bridged 0 "two namespaces reach each other across the bridge"
expect brnf 0 "bridge netfilter can be switched on (bridge-nf-call-iptables)"
for ipt in iptables-legacy iptables-nft; do
    expect $ipt.rule 0 "$ipt: a FORWARD rule is accepted"
    expect $ipt.dropped 1 "$ipt: bridged traffic to the dropped address is dropped"
    expect $ipt.again 0 "$ipt: with the rule deleted it passes again"
    expect $ipt.dnat_rule 0 "$ipt: a DNAT rule is accepted"
    expect $ipt.dnat 0 "$ipt: ping to the DNAT address is answered (conntrack, NAT)"
    expect $ipt.masq 0 "$ipt: a MASQUERADE rule is accepted"
done
want_release=$(sed -n 's/^release=//p' "$KERNEL_INFO")
expect release "$want_release" "the guest runs the kernel the build recorded ($want_release)"
expect modules no "the guest kernel has no loadable modules"
check "guest-net: nothing left on the host" nothing_left

# Free page reporting: a container fills 256 MiB of tmpfs in guest RAM, then
# frees it; QEMU's resident guest RAM must grow by that much and then give
# most of it back.
mkbundle --config-only "$B" sh -c 'head -c 256m /dev/zero > /big/x; echo "filled $?" > /filled; sleep 4; rm /big/x;
    echo freed > /freed; sleep 100000'
edit_config "$B" '
c["mounts"].append({"destination": "/big", "type": "tmpfs", "source": "tmpfs", "options": ["size=300m"]})
c["root"]["readonly"] = False
'
cocoon run -d --bundle "$B" guest-mem < /dev/null > /dev/null 2>&1
# guest_rss: the resident KiB of this sandbox's QEMU guest RAM (the memfd mapping).
guest_rss() {
    local p
    for p in $(pids_named 'qemu-system-*'); do
        awk '/^[0-9a-f]+-/ { m = ($0 ~ /memfd:mem/) } m && /^Rss:/ { s += $2 } END { print s + 0 }' "/proc/$p/smaps"
        return
    done
    echo 0
}
peak=0
for _ in $(seq 1 120); do
    r=$(guest_rss); [ "$r" -gt "$peak" ] && peak=$r
    [ -e "$R/filled" ] && break
    sleep 0.5
done
for _ in 1 2 3 4 5 6; do r=$(guest_rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.5; done
low=$peak
for _ in $(seq 1 40); do
    r=$(guest_rss); [ "$r" -lt "$low" ] && low=$r
    [ $((peak - low)) -gt $((200 * 1024)) ] && break
    sleep 0.5
done
echo "container: $(cat "$R/filled" "$R/freed" 2>&1 | tr '\n' ' ')" | diag
echo "guest RAM resident: peak $((peak / 1024)) MiB, after the free $((low / 1024)) MiB" | diag
check "the workload's 256 MiB made QEMU's guest RAM grow" [ "$peak" -gt $((256 * 1024)) ]
check "freed guest memory goes back to the host (>= 200 MiB)" [ $((peak - low)) -gt $((200 * 1024)) ]

# QEMU keeps the kernel and initrd mapped only to boot them again on a reset,
# which never comes: once the guest is up, the supervisor has those pages
# paged out (hypervisor/boot-files.c). Mappings are told by the files' inodes
# (in the jail they are /vm/kernel and /vm/initrd).
guest_dir=$(dirname "$KERNEL_INFO")
qemu=$(pids_named 'qemu-system-*')
read -r maps rss <<< "$(boot_files_rss "${qemu:-0}" "$guest_dir/vmlinux" "$guest_dir/initrd.img")"
echo "QEMU maps the kernel and initrd $maps times, $rss KiB resident" | diag
check "QEMU still maps the kernel and initrd" [ "$maps" -ge 2 ]
check "none of their pages stays resident in QEMU once the guest is up" [ "$rss" -eq 0 ]

# The agent's link through virtio-serial gets 128 receive buffers per queue
# (guest-image/kernel/patches): 16 MiB of stdin and back arrive whole.
head -c 16M /dev/urandom > "$TEST_ROOT/blob"
check "16 MiB through exec's stdin and stdout arrive whole" \
    [ "$(cocoon exec guest-mem cat < "$TEST_ROOT/blob" | sha256sum)" = "$(sha256sum < "$TEST_ROOT/blob")" ]
rm -f "$TEST_ROOT/blob"
cocoon delete --force guest-mem > /dev/null 2>&1
check "guest-mem: nothing left on the host" nothing_left

# Under TCG the host's TSC rate reaches the guest as tsc_early_khz=: measured
# once per host boot, kept in /run/cocoon-tsc-khz with the boot's id, and
# not trusted from a file that others could have written.
TSC=/run/cocoon-tsc-khz
boot_id=$(cat /proc/sys/kernel/random/boot_id)
mkbundle "$TEST_ROOT/cmdline" cat /proc/cmdline
guest_tsc() { cocoon run -b "$TEST_ROOT/cmdline" "$1" 2>&1 | grep -o 'tsc_early_khz=[0-9]*' | cut -d= -f2; }
if [ -n "$(cocoon run -b "$TEST_ROOT/cmdline" tsc0 2>&1 | grep -o 'tsc_early_khz=[0-9]*')" ]; then
    first=$(cut -d' ' -f2 "$TSC")
    check "the guest's TSC rate is the one kept for this boot" [ "$(guest_tsc tsc1)" = "$first" ]
    check "the rate is kept with this boot's id, root's and not writable by others" \
        sh -c "grep -qx '$boot_id [0-9]*' $TSC && [ \"\$(stat -c %u:%a $TSC)\" = 0:644 ]"
    # A kept rate 500 kHz off (0.02%: harmless to the guest) shows which one the guest got.
    printf '%s %s\n' "$boot_id" $((first + 500)) > "$TSC"
    check "a start uses the kept rate" [ "$(guest_tsc tsc2)" = $((first + 500)) ]
    chmod 0666 "$TSC"
    again=$(guest_tsc tsc3)
    check "a kept rate that others could have written is measured again" \
        sh -c "[ -n '$again' ] && [ '$again' != $((first + 500)) ]"
    check "and kept again, root's alone" sh -c "grep -qx '$boot_id $again' $TSC && [ \"\$(stat -c %a $TSC)\" = 644 ]"
    check "tsc: nothing left on the host" nothing_left
else
    ok "the TSC rate # SKIP no tsc_early_khz= (KVM, or no TSC)"
fi
done_testing
