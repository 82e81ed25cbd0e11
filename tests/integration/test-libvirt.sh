#!/usr/bin/env bash
# The libvirt backend seen from the host: each sandbox is a libvirt domain
# that `virsh list` shows while it runs and never after (delete, a killed
# supervisor), whose QEMU runs as libvirt's unprivileged user under seccomp;
# a backend that cannot be used is a clear error that leaves nothing behind;
# a networked sandbox's host-side tap and veth go at delete, also after a
# killed supervisor.
# COCOON_CONFIG selects backend = libvirt (meson passes libvirt.conf); run
# under with-libvirtd.sh, which makes sure the daemon answers.
. "$(dirname "$0")/lib.sh"
: "${COCOON_CONFIG:?set COCOON_CONFIG to a cocoon.conf with backend = libvirt}"

URI=qemu:///system
LOG_DIR=/var/log/libvirt/qemu
QEMU_UID=$(id -u libvirt-qemu)
NS=cocoon-lv-$$
HOST_IF=lv$$

lv_cleanup() {
    ip link del "$HOST_IF" 2> /dev/null
    ip netns del "$NS" 2> /dev/null
    cleanup
}
trap lv_cleanup EXIT

# The domains of this run's sandboxes: the backend puts the state directory in the description.
domains() {
    local d
    for d in $(virsh -c "$URI" -q list --all --name); do
        case $(virsh -c "$URI" desc "$d" 2> /dev/null) in "$STATE"/*) echo "$d" ;; esac
    done
}
no_domain() {
    local left; left=$(domains)
    [ -z "$left" ] || { echo "domains left: $left" | diag; return 1; }
}
# The socket directory goes as soon as QEMU is connected.
no_socket_dir() { [ -z "$(ls -A /run/cocoon-libvirt 2> /dev/null)" ]; }

check "cocoon --version names the libvirt backend" sh -c '"$1" --version | grep -qx "backends: qemu libvirt"' _ "$COCOON"
check "cocoon features names the backends" sh -c '"$1" features | grep -q "\"io.github.cocoon.backends\": \"qemu libvirt\""' _ "$COCOON"

B="$TEST_ROOT/bundle"
mkbundle "$B" sh -c 'echo up; sleep 600'

# A running sandbox: one domain, its QEMU confined by libvirt.
cocoon create --bundle "$B" c1 > /dev/null 2> "$TEST_ROOT/c1.err"; status=$?
check "create with the libvirt backend succeeds" [ "$status" -eq 0 ]
[ "$status" -eq 0 ] || diag < "$TEST_ROOT/c1.err"
dom=$(domains)
check "virsh list shows the sandbox's domain" sh -c '[ -n "$1" ] && virsh -c "$2" -q list --name | grep -qx "$1"' _ "$dom" "$URI"
check "the domain's socket directory is gone once QEMU is connected" no_socket_dir
pid=$(pids_named 'qemu-system-*')
status_of() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status"; }
echo "QEMU pid ${pid:-none}: Uid $(status_of Uid) Gid $(status_of Gid) Seccomp $(status_of Seccomp) CapEff $(status_of CapEff)" | diag
check "the domain's QEMU runs as libvirt's user (uid $QEMU_UID), every uid of it" \
    sh -c '[ -n "$1" ] && [ "$(echo $2)" = "$3 $3 $3 $3" ]' _ "$pid" "$(status_of Uid)" "$QEMU_UID"
check "the domain's QEMU runs under a seccomp filter (Seccomp: 2)" [ "$(status_of Seccomp)" = 2 ]
check "the domain's QEMU has no effective capabilities" [ "$(status_of CapEff)" = 0000000000000000 ]
if [ -r /sys/module/apparmor/parameters/enabled ] && [ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ]; then
    check "the domain's QEMU runs under libvirt's AppArmor profile" \
        sh -c 'grep -q "^libvirt-" "/proc/$1/attr/current"' _ "$pid"
else
    echo "AppArmor is off on this host: no profile to check" | diag
fi
# libvirt's QEMU keeps the kernel and initrd mapped as ours does; the
# supervisor finds it by its -name and has them paged out too.
kernel=$(sed -n 's/^kernel *= *//p' "$COCOON_CONFIG") initrd=$(sed -n 's/^initrd *= *//p' "$COCOON_CONFIG")
# (on a thread of the supervisor's, right after create returned)
for _ in $(seq 50); do
    read -r maps rss <<< "$(boot_files_rss "${pid:-0}" "$kernel" "$initrd")"
    [ "$rss" -eq 0 ] && break
    sleep 0.1
done
echo "the domain's QEMU maps the kernel and initrd $maps times, $rss KiB resident" | diag
check "none of the kernel's and initrd's pages stays resident in the domain's QEMU" [ "$maps" -ge 2 -a "$rss" -eq 0 ]
# The QEMU backend's host cgroup bound on the VMM's memory (the guest's plus
# vmm_overhead_mib, 320 MiB by default) is the domain's memtune hard_limit,
# which libvirt writes into the cgroup it made for the domain.
xml=$(virsh -c "$URI" dumpxml "$dom" 2> /dev/null)
mem_kib=$(echo "$xml" | sed -n "s|.*<memory unit='KiB'>\([0-9]*\)</memory>.*|\1|p")
hard_kib=$(echo "$xml" | sed -n "s|.*<hard_limit unit='KiB'>\([0-9]*\)</hard_limit>.*|\1|p")
echo "domain memory ${mem_kib:-?} KiB, hard_limit ${hard_kib:-?} KiB" | diag
check "the domain's memtune hard_limit is its memory plus 320 MiB" \
    sh -c '[ -n "$1" ] && [ "$2" = $(($1 + 320 * 1024)) ]' _ "$mem_kib" "$hard_kib"
# memory_limit: the limit of QEMU's memory cgroup (v2 memory.max or v1 memory.limit_in_bytes).
memory_limit() {
    local rel
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        rel=$(sed -n 's|^0::||p' "/proc/$1/cgroup"); cat "/sys/fs/cgroup$rel/memory.max"
    else
        rel=$(sed -n 's|^[0-9]*:[^:]*\bmemory\b[^:]*:||p' "/proc/$1/cgroup"); cat "/sys/fs/cgroup/memory$rel/memory.limit_in_bytes"
    fi
}
limit=$(memory_limit "$pid" 2> /dev/null)
echo "QEMU's cgroup: $(grep -E '(^0::|memory)' "/proc/$pid/cgroup" 2> /dev/null | tr '\n' ' ') limit ${limit:-?}" | diag
check "libvirt's cgroup of QEMU has that memory limit" sh -c '[ -n "$1" ] && [ "$2" = $(($1 * 1024)) ]' _ "$hard_kib" "$limit"
cocoon start c1
check "the container runs in the domain" wait_for 120 sh -c '[ "$("$1" --root "$2" state c1 | python3 -c "import json,sys; print(json.load(sys.stdin)[\"status\"])")" = running ]' _ "$COCOON" "$STATE"
cocoon delete --force c1
check "after delete, virsh list shows no domain of it" no_domain
check "after delete, libvirt's log of the domain is gone" [ -n "$dom" -a ! -e "$LOG_DIR/$dom.log" ]
check "delete: nothing left on the host" nothing_left

# The supervisor killed: libvirt destroys the domain when its connection closes.
cocoon create --bundle "$B" c2 > /dev/null 2>&1
sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisorPid"])' "$STATE/c2/state.json")
dom2=$(domains)
check "a second sandbox has its domain" [ -n "$dom2" ]
kill -9 "$sup"
check "with its supervisor SIGKILLed, the domain goes (auto-destroy)" wait_for 30 no_domain
cocoon delete --force c2
check "killed supervisor: no domain after delete" no_domain
check "killed supervisor: nothing left on the host" nothing_left

# A backend that is configured but cannot be used: a clear error at create, nothing made.
printf '%s\nuri = qemu+unix:///system?socket=%s/no-such.sock\n' "$(cat "$COCOON_CONFIG")" "$TEST_ROOT" > "$TEST_ROOT/bad-uri.conf"
check "an unreachable libvirt is a clear error at create" \
    expect_fail "connecting to libvirt at qemu+unix" env COCOON_CONFIG="$TEST_ROOT/bad-uri.conf" "$COCOON" --root "$STATE" create --bundle "$B" c3
check "unreachable libvirt: no domain" no_domain
check "unreachable libvirt: nothing left on the host" nothing_left
printf '%s\nqemu_user = no-such-user-%s\n' "$(cat "$COCOON_CONFIG")" "$$" > "$TEST_ROOT/bad-user.conf"
check "a QEMU user that does not exist is a clear error" \
    expect_fail "QEMU user no-such-user" env COCOON_CONFIG="$TEST_ROOT/bad-user.conf" "$COCOON" --root "$STATE" create --bundle "$B" c4
check "bad user: nothing left on the host" nothing_left

# A networked sandbox: its host-side tap and veth end (tagged with its state
# directory) go at delete also when its supervisor was SIGKILLed and could
# not remove them; a second VM on the same namespace fails and leaves none.
host_links() { ip -o link show | grep -E '^[0-9]+: cocoon[tvp][0-9a-f]+[@:]' | cut -d' ' -f2 | cut -d@ -f1 | tr -d :; }
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name eth0 netns "$NS"
ip -n "$NS" link set eth0 up
edit_config "$B" "[n.update(path='/run/netns/$NS') for n in c['linux']['namespaces'] if n['type'] == 'network']"
cocoon create --bundle "$B" c5 > /dev/null 2> "$TEST_ROOT/c5.err"; status=$?
[ "$status" -eq 0 ] || diag < "$TEST_ROOT/c5.err"
links=$(host_links | tr '\n' ' ')
check "a networked sandbox runs, with a tap and a veth end on the host ($links)" \
    sh -c '[ "$1" -eq 0 ] && echo "$2" | grep -q cocoont && echo "$2" | grep -q cocoonv' _ "$status" "$links"
check "a second VM on the same namespace fails, naming the interface" \
    expect_fail "interface eth0: adding an ingress qdisc" "$COCOON" --root "$STATE" run --bundle "$B" c5b
check "the failed one left no interface on the host" [ "$(host_links | tr '\n' ' ')" = "$links" ]
sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisorPid"])' "$STATE/c5/state.json")
kill -9 "$sup"
check "networked, supervisor SIGKILLed: the domain goes" wait_for 30 no_domain
cocoon delete --force c5
check "networked, killed supervisor: delete removes the host's tap and veth" sh -c '[ -z "$(ip -o link show | grep -E ": cocoon[tvp][0-9a-f]+[@:]")" ]'
check "networked, killed supervisor: no veth end left in the namespace" \
    sh -c '[ -z "$(ip -n "$1" -o link show | grep cocoonp)" ]' _ "$NS"
check "networked: nothing left on the host" nothing_left

# The next sandbox sweeps the log the killed supervisor could not collect, and collects its own.
mkbundle --config-only "$B" true
edit_config "$B" "[n.pop('path', None) for n in c['linux']['namespaces'] if n['type'] == 'network']"
cocoon run --bundle "$B" c6 > /dev/null 2>&1; status=$?
check "a container that exits at once runs under libvirt" [ "$status" -eq 0 ]
# stale_logs: libvirt logs of cocoon domains (cocoon-<16 hex digits>) that no longer run.
stale_logs() {
    local f name left=""
    for f in "$LOG_DIR"/cocoon-*.log; do
        name=$(basename "$f" .log)
        echo "$name" | grep -qx 'cocoon-[0-9a-f]\{16\}' || continue
        virsh -c "$URI" -q list --name | grep -qx "$name" || left="$left $name"
    done
    [ -z "$left" ] || { echo "stale libvirt logs:$left" | diag; return 1; }
}
check "libvirt's logs of the killed sandbox's domain ($dom2) and of the last one are gone" \
    sh -c '[ -n "$1" ] && [ ! -e "$2/$1.log" ]' _ "$dom2" "$LOG_DIR"
check "no libvirt log of a cocoon domain that no longer runs" stale_logs
check "c6: nothing left on the host" nothing_left

done_testing
