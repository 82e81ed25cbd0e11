#!/usr/bin/env bash
# cgroup v2 in the guest, checked from inside the container the way a user
# would: the limit files, a fork bomb held by pids.max, a memory hog killed
# by the OOM killer, a device node the rules deny, and the verbs that work
# on the cgroup (ps, pause, resume, update, events, kill --all). Four VMs.
. "$(dirname "$0")/lib.sh"
: "${CGROUP_GUEST:?set CGROUP_GUEST to the cgroup-guest program}"

B="$TEST_ROOT/bundle"
mkbundle "$B" true

# configure MODE RESOURCES_JSON [CAPS_JSON [DEVICES_JSON]]: a cgroup namespace
# and /sys/fs/cgroup mounted (MODE ro or rw), as runc's default spec has them,
# plus linux.resources, capabilities added to the default ones, linux.devices.
configure() {
    python3 - "$B/config.json" "$1" "$2" "${3:-[]}" "${4:-[]}" <<'PY'
import json, sys
path, mode, res = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
caps, devices = json.loads(sys.argv[4]), json.loads(sys.argv[5])
c = json.load(open(path))
c["process"]["terminal"] = False
for k, v in c["process"].get("capabilities", {}).items():
    c["process"]["capabilities"][k] = v + [x for x in caps if x not in v]
c["linux"]["devices"] = devices
c["linux"]["namespaces"].append({"type": "cgroup"})
c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "relatime", mode]})
c["linux"]["resources"] = res
json.dump(c, open(path, "w"))
PY
}

run_case() {
    local id=$1; shift
    out=$(cocoon "$@" run --bundle "$B" "$id" 2> "$TEST_ROOT/stderr"); status=$?
    err=$(cat "$TEST_ROOT/stderr")
}

# 1. Limits, devices and a fork bomb in one container. Once the bomb fills
# pids.max the shell can no longer fork, so it checks with builtins only
# (read, echo) and exits; its exit ends the pid namespace and the bomb.
mkbundle --config-only "$B" sh -c '
cd /sys/fs/cgroup
echo "memory.max $(cat memory.max)"; echo "cpu.max $(cat cpu.max)"; echo "pids.max $(cat pids.max)"
echo "cpu.weight $(cat cpu.weight)"; echo "cgroup $(cat /proc/self/cgroup)"
echo "nproc $(nproc)"; echo "memtotal $(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"
mknod /dev/console2 c 5 1 && { echo x > /dev/console2 && echo "console: opened" || echo "console: refused"; }
mknod /dev/zero2 c 1 5 && head -c 3 /dev/zero2 | wc -c | sed "s/^/zero: read /"
echo "<6>cocoon test-cgroups: kmsg from a container" > /dev/kmsg && echo "kmsg: written"
sh -c "b() { b | b & }; b" 2>/dev/null &
i=0
while read -r k v < pids.events; [ "$v" = 0 ] && [ $i -lt 200000 ]; do i=$((i+1)); done
read -r peak < pids.peak
echo "bomb: pids.peak $peak, pids.events $k $v"
echo alive'
configure ro '{"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000, "shares": 1024},
               "pids": {"limit": 20}, "devices": [{"allow": false, "access": "rwm"}]}' '["CAP_MKNOD"]' \
    '[{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]'
run_case limits
echo "$out" | diag
[ -n "$err" ] && echo "$err" | diag
check "memory.max is the spec's memory.limit" sh -c 'echo "$1" | grep -qx "memory.max 67108864"' _ "$out"
check "cpu.max is quota and period" sh -c 'echo "$1" | grep -qx "cpu.max 50000 100000"' _ "$out"
check "pids.max is the spec's pids.limit" sh -c 'echo "$1" | grep -qx "pids.max 20"' _ "$out"
check "cpu.weight is the default 100 for 1024 shares" sh -c 'echo "$1" | grep -qx "cpu.weight 100"' _ "$out"
check "the VM has a vCPU for the quota on top of the base one" sh -c 'echo "$1" | grep -qx "nproc 2"' _ "$out"
# A 512 MiB guest reports about 470 MiB of MemTotal, a 576 MiB one about 531.
check "the VM has the 64 MiB limit on top of the base memory" \
    sh -c '[ "$(echo "$1" | sed -n "s/^memtotal //p")" -gt $(( 520 * 1024 )) ]' _ "$out"
check "the container sees its cgroup as / (cgroup namespace)" sh -c 'echo "$1" | grep -qx "cgroup 0::/"' _ "$out"
check "a device the rules deny (c 5:1) cannot be opened" sh -c 'echo "$1" | grep -qx "console: refused"' _ "$out"
check "a standard device (c 1:5) can" sh -c 'echo "$1" | grep -qx "zero: read 3"' _ "$out"
# As runc: linux.devices makes the node, the device rules alone decide whether it opens.
check "a device of linux.devices (/dev/kmsg) cannot either: deny-all holds for it too" sh -c '! echo "$1" | grep -q "kmsg: written"' _ "$out"
check "a fork bomb is held at pids.max, and the container still answers" \
    sh -c 'echo "$1" | grep -Eqx "bomb: pids.peak 20, pids.events max [1-9][0-9]*" &&
           echo "$1" | grep -qx alive' _ "$out"
check "limits: exit status 0" [ "$status" -eq 0 ]
check "limits: nothing left on the host" nothing_left

# 2. A memory hog: the shell (the container's init) reads 200 MB into a
# variable under a 32 MiB limit. The guest console (--debug) shows the
# agent noticing the OOM kill through memory.events. Without device rules
# c 5:1 opens here, the contrast to case 1.
mkbundle --config-only "$B" sh -c '
mknod /dev/console2 c 5 1 && echo x > /dev/console2 && echo "console: opened"
echo hogging; x=$(head -c 200000000 /dev/zero | tr "\000" a); echo survived'
configure ro '{"memory": {"limit": 33554432, "swap": 33554432}}' '["CAP_MKNOD"]'
run_case oom --debug
echo "$out" | diag
echo "$err" | grep -Ei "oom|killed process" | diag
check "without device rules c 5:1 opens" sh -c 'echo "$1" | grep -qx "console: opened"' _ "$out"
check "a process writing past memory.max is OOM-killed: exit 137" \
    sh -c 'echo "$1" | grep -qx hogging && ! echo "$1" | grep -q survived && [ "$2" -eq 137 ]' _ "$out" "$status"
check "the agent saw the OOM kill in memory.events" \
    sh -c 'echo "$1" | grep -q "cocoon-agent: oom: OOM kill (memory.events oom_kill 1)"' _ "$err"
check "oom: nothing left on the host" nothing_left

# 3. core/cgroup.c itself, on the guest's kernel: cgroup-guest runs as the
# container with /sys/fs/cgroup writable and reports TAP lines, taken over here.
# It needs what a privileged container has: CAP_BPF and CAP_SYS_ADMIN to load
# device programs, CAP_NET_ADMIN to query them, CAP_MKNOD for its nodes.
cp "$CGROUP_GUEST" "$B/rootfs/cgroup-guest"
mkbundle --config-only "$B" /cgroup-guest
configure rw '{}' '["CAP_SYS_ADMIN", "CAP_BPF", "CAP_NET_ADMIN", "CAP_MKNOD", "CAP_KILL", "CAP_DAC_OVERRIDE"]'
run_case guest
[ -n "$err" ] && echo "$err" | diag
n_guest=0
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "in the guest: ${line#ok - }"; n_guest=$((n_guest + 1)) ;;
        "not ok - "*) not_ok "in the guest: ${line#not ok - }"; n_guest=$((n_guest + 1)) ;;
        *) echo "$line" | diag ;;
    esac
done <<< "$out"
check "cgroup-guest ran all its checks and exited 0" [ "$n_guest" -ge 20 -a "$status" -eq 0 ]
check "guest: nothing left on the host" nothing_left

# 4. The verbs that reach the cgroup from the host: ps, pause/resume (the
# freezer), update, events --stats, kill --all. The container's loop keeps
# the longest gap between its turns (in centiseconds, from /proc/uptime) in
# /tmp/maxgap: a pause shows up there as a gap as long as the pause. (The
# centiseconds are counted without the text's leading zeros: a guest this
# young has an uptime of 0.87 s, and sh reads 087 as a bad octal number.)
mkbundle --config-only "$B" sh -c 'sleep 1000 & echo 0 > /tmp/maxgap; last=; max=0
while :; do read -r up _ < /proc/uptime; t=$((${up%.*} * 100 + 1${up#*.} - 100))
    if [ -n "$last" ] && [ $((t - last)) -gt $max ]; then max=$((t - last)); echo $max > /tmp/maxgap; fi
    last=$t; sleep 0.1; done'
configure ro '{"memory": {"limit": 67108864}, "pids": {"limit": 30}}' '["CAP_MKNOD"]' \
    '[{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]'
is_state() { cocoon state "$1" | grep -q "\"status\": \"$2\""; }
# (The loop rewrites the file in place: a read may catch it empty.)
maxgap() {
    local v
    for _ in 1 2 3 4 5; do v=$(cocoon exec verbs cat /tmp/maxgap); [ -n "$v" ] && break; done
    echo "$v"
}
cocoon create --bundle "$B" verbs < /dev/null > "$TEST_ROOT/verbs.out" 2>&1
created=$?
cocoon start verbs
sleep 1
out=$(cocoon ps verbs 2>&1)
echo "$out" | diag
check "ps lists the shell and its sleeps" \
    sh -c '[ "$2" -eq 0 ] && [ "$(echo "$1" | grep -c "^[0-9][0-9]*$")" -ge 2 ]' _ "$out" "$created"
g0=$(maxgap)
cocoon pause verbs
check "pause: the state says paused" is_state verbs paused
out=$(cocoon exec verbs true 2>&1); status=$?
check "pause: exec is refused while paused" [ "$status" -ne 0 ]
sleep 3
cocoon resume verbs
check "resume: the state says running" is_state verbs running
sleep 0.5
g1=$(maxgap)
echo "longest gap before the pause: $g0 cs, after it: $g1 cs" | diag
# (Turns take up to about a second on a loaded TCG host; a 3 s pause stands out.)
check "the processes stood still while paused (a gap of 2.8 s or more)" \
    sh -c '[ "$1" -lt 200 ] && [ "$2" -ge 280 ]' _ "$g0" "$g1"
# An exec'd memory hog is OOM-killed under the 64 MiB limit; the container
# lives on, and `events` (listening meanwhile) reports the OOM.
"$COCOON" --root "$STATE" events --interval 60s verbs > "$TEST_ROOT/events.out" 2>&1 &
evpid=$!
sleep 1
out=$(cocoon exec verbs sh -c 'x=$(head -c 200000000 /dev/zero | tr "\000" a); echo survived' 2>&1); status=$?
for _ in $(seq 50); do grep -q '"type":"oom"' "$TEST_ROOT/events.out" && break; sleep 0.1; done
kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null
cut -c1-120 "$TEST_ROOT/events.out" | diag
check "an exec'd memory hog is OOM-killed: exit 137" [ "$status" -eq 137 -a "$out" != survived ]
check "events reports the OOM kill" grep -q '"type":"oom","id":"verbs"' "$TEST_ROOT/events.out"
check "the container runs on after the OOM kill" is_state verbs running
cocoon update --memory 128m --pids-limit 50 verbs
out=$(cocoon exec verbs cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>&1)
check "update: memory.max and pids.max change in the container" [ "$out" = "$(printf '134217728\n50')" ]
out=$(echo '{"memory": {"limit": "lots"}}' | cocoon update --resources - verbs 2>&1); status=$?
check "update: a bad value is refused, naming the field" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "memory.limit: expected an integer"' _ "$out" "$status"
# Device rules by update: deny-all replaces "no rules"; the standard devices
# stay usable, /dev/kmsg of linux.devices does not (as with runc).
devices() { cocoon exec verbs sh -c '[ -e /dev/c51 ] || mknod /dev/c51 c 5 1
    for d in c51 kmsg null; do echo "<6>cocoon test-cgroups: update" 2>/dev/null > /dev/$d && echo "$d: ok" || echo "$d: refused"; done'; }
before=$(devices)
echo '{"devices": [{"allow": false, "access": "rwm"}]}' | cocoon update --resources - verbs
after=$(devices)
echo "before: $(echo $before); after: $(echo $after)" | diag
check "update: new device rules apply to the running container" \
    [ "$before" = "$(printf 'c51: ok\nkmsg: ok\nnull: ok')" -a "$after" = "$(printf 'c51: refused\nkmsg: refused\nnull: ok')" ]
out=$(cocoon events --stats verbs 2>&1)
echo "$out" | cut -c1-300 | diag
check "events --stats: the new limits and some usage" \
    sh -c 'echo "$1" | grep -q "\"limit\":134217728" && echo "$1" | grep -q "\"pids\":{\"current\":[1-9][0-9]*,\"limit\":50}"' _ "$out"
cocoon kill --all verbs KILL
for _ in $(seq 100); do is_state verbs stopped && break; sleep 0.1; done
check "kill --all stops the container" is_state verbs stopped
cocoon delete verbs
check "verbs: nothing left on the host" nothing_left

done_testing
