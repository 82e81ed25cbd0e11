#!/usr/bin/env bash
# cgroup v2 in the guest, checked from inside the container the way a user
# would: the limit files, a fork bomb held by pids.max, a memory hog killed
# by the OOM killer, a device node the rules deny. Three VMs in all.
. "$(dirname "$0")/lib.sh"
: "${CGROUP_GUEST:?set CGROUP_GUEST to the cgroup-guest program}"

B="$TEST_ROOT/bundle"
mkbundle "$B" true

# configure MODE RESOURCES_JSON: a cgroup namespace and /sys/fs/cgroup mounted
# (MODE ro or rw), as runc's default spec has them, plus linux.resources.
configure() {
    python3 - "$B/config.json" "$1" "$2" <<'PY'
import json, sys
path, mode, res = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = json.load(open(path))
c["process"]["terminal"] = False
c["linux"]["namespaces"].append({"type": "cgroup"})
c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "relatime", mode]})
c["linux"]["resources"] = res
# The cases mknod and load device programs: every capability, as a privileged
# container has them (the guest applies process.capabilities).
caps = ["CAP_" + n for n in (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
    "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE "
    "AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ "
    "PERFMON BPF CHECKPOINT_RESTORE").split()]
c["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
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
mknod /dev/console2 c 5 1 && { echo x > /dev/console2 && echo "console: opened" || echo "console: refused"; }
mknod /dev/zero2 c 1 5 && head -c 3 /dev/zero2 | wc -c | sed "s/^/zero: read /"
sh -c "b() { b | b & }; b" 2>/dev/null &
i=0
while read -r k v < pids.events; [ "$v" = 0 ] && [ $i -lt 200000 ]; do i=$((i+1)); done
read -r peak < pids.peak
echo "bomb: pids.peak $peak, pids.events $k $v"
echo alive'
configure ro '{"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000, "shares": 1024},
               "pids": {"limit": 20}, "devices": [{"allow": false, "access": "rwm"}]}'
run_case limits
echo "$out" | diag
[ -n "$err" ] && echo "$err" | diag
check "memory.max is the spec's memory.limit" sh -c 'echo "$1" | grep -qx "memory.max 67108864"' _ "$out"
check "cpu.max is quota and period" sh -c 'echo "$1" | grep -qx "cpu.max 50000 100000"' _ "$out"
check "pids.max is the spec's pids.limit" sh -c 'echo "$1" | grep -qx "pids.max 20"' _ "$out"
check "cpu.weight is the default 100 for 1024 shares" sh -c 'echo "$1" | grep -qx "cpu.weight 100"' _ "$out"
check "the container sees its cgroup as / (cgroup namespace)" sh -c 'echo "$1" | grep -qx "cgroup 0::/"' _ "$out"
check "a device the rules deny (c 5:1) cannot be opened" sh -c 'echo "$1" | grep -qx "console: refused"' _ "$out"
check "a standard device (c 1:5) can" sh -c 'echo "$1" | grep -qx "zero: read 3"' _ "$out"
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
configure ro '{"memory": {"limit": 33554432, "swap": 33554432}}'
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
cp "$CGROUP_GUEST" "$B/rootfs/cgroup-guest"
mkbundle --config-only "$B" /cgroup-guest
configure rw '{}'
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

done_testing
