#!/usr/bin/env bash
# The verbs that need no VM: --version, spec, usage errors.
. "$(dirname "$0")/lib.sh"

out=$(cocoon --version)
check "--version names the version, the commit, the spec and libseccomp versions, in runc's layout" \
    sh -c 'echo "$1" | sed -n 1p | grep -q "^cocoon version [0-9]" && echo "$1" | grep -q "^commit: ." && echo "$1" | grep -q "^spec: 1\." && echo "$1" | grep -q "^libseccomp: [0-9]"' _ "$out"
out=$(cocoon help); status=$?
check "help prints the usage, as -h does" sh -c '[ "$2" -eq 0 ] && [ "$1" = "$3" ] && echo "$1" | grep -q "^usage: cocoon"' _ "$out" "$status" "$(cocoon -h)"
out=$(cocoon help kill); status=$?
check "help COMMAND prints the command's usage" sh -c '[ "$2" -eq 0 ] && echo "$1" | grep -q "^usage: cocoon kill"' _ "$out" "$status"
out=$(cocoon --debug list 2>&1 >/dev/null)
check "--debug writes runc's debug lines on stderr" sh -c 'echo "$1" | grep -q "^time=\".*Z\" level=debug msg=\"list: "' _ "$out"
out=$(cocoon --debug --log "$TEST_ROOT/debug.log" list 2>&1 >/dev/null)
check "--debug with --log writes the debug lines to the log file, not stderr" \
    sh -c '[ -z "$1" ] && grep -q "^time=\".*Z\" level=debug msg=\"list: " "$2"' _ "$out" "$TEST_ROOT/debug.log"

mkdir -p "$TEST_ROOT/spec" && cd "$TEST_ROOT/spec"
cocoon spec; status=$?
check "spec writes config.json" [ "$status" -eq 0 -a -s config.json ]
check "the default config.json is valid JSON" python3 -c 'import json,sys; c=json.load(open("config.json")); sys.exit(c["process"]["args"] != ["sh"])'
out=$(cocoon spec 2>&1); status=$?
check "spec refuses to overwrite config.json" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q exists' _ "$out" "$status"
cd / 

out=$(cocoon features); status=$?
check "features prints the runtime-spec features document" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ociVersionMax"] == "1.1.0" and "startContainer" in d["hooks"] and "rbind" in d["mountOptions"]
l = d["linux"]
assert "user" in l["namespaces"] and "CAP_SYS_ADMIN" in l["capabilities"] and l["cgroup"]["v2"]
assert l["seccomp"]["enabled"] and "SCMP_ACT_ERRNO" in l["seccomp"]["actions"] and "SCMP_ARCH_X86_64" in l["seccomp"]["archs"]' "$out"
out=$(cocoon checkpoint c 2>&1); status=$?
check "checkpoint says it is not supported" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "not supported"' _ "$out" "$status"
for verb in create start run state kill delete exec ps list pause resume update events spec features checkpoint restore; do
    out=$(cocoon "$verb" -h 2>&1); status=$?
    check "$verb -h prints its usage and exits 0, as runc's verbs do" \
        sh -c '[ "$2" -eq 0 ] && echo "$1" | grep -q "^usage: cocoon $3"' _ "$out" "$status" "$verb"
done
out=$(cocoon create --help); status=$?
check "every verb has --help" sh -c '[ "$2" -eq 0 ] && echo "$1" | grep -q "pid-file"' _ "$out" "$status"

out=$(cocoon no-such-verb 2>&1); status=$?
check "an unknown command is an error that says so" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "unknown command"' _ "$out" "$status"
out=$(cocoon run 2>&1); status=$?
check "run without an id is a usage error" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "usage"' _ "$out" "$status"
# Errors go to --log in runc's JSON format, which containerd's shim parses.
out=$(cocoon --log "$TEST_ROOT/log.json" --log-format json run --bundle "$TEST_ROOT/nowhere" logged 2>&1); status=$?
check "an error exits non-zero and is printed on stderr" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q nowhere' _ "$out" "$status"
check "--log-format json writes a line with level, msg and time" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
e = json.loads(lines[-1])
sys.exit(not (e["level"] == "error" and "nowhere" in e["msg"] and e["time"].endswith("Z")))' "$TEST_ROOT/log.json"
out=$(cocoon --log-format yaml spec 2>&1); status=$?
check "an unknown --log-format is refused" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "log-format"' _ "$out" "$status"

# The config file: a wrong key names the file, the section and the key.
printf '[hypervisor]\nmemory_mib = lots\n' > "$TEST_ROOT/bad.conf"
out=$(COCOON_CONFIG="$TEST_ROOT/bad.conf" cocoon run -b "$TEST_ROOT" cfg 2>&1); status=$?
check "an invalid setting in the config file is named" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "bad.conf: \[hypervisor\] memory_mib = lots"' _ "$out" "$status"
printf '[hypervisor]\nkernel = %s/no-kernel\n' "$TEST_ROOT" > "$TEST_ROOT/nokernel.conf"
mkbundle "$TEST_ROOT/bundle" true
out=$(COCOON_CONFIG="$TEST_ROOT/nokernel.conf" cocoon run -b "$TEST_ROOT/bundle" nokernel 2>&1); status=$?
check "a missing guest kernel is a clear error" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "guest kernel .*no-kernel"' _ "$out" "$status"

# A VMM that dies at once: the error gives its exit status and its last
# lines, on stderr and in --log, although its state directory is gone.
printf '#!/bin/sh\necho "fake-qemu: first line" >&2\necho "fake-qemu: the option it refused" >&2\nexit 3\n' > "$TEST_ROOT/qemu-fails"
chmod 755 "$TEST_ROOT/qemu-fails"
printf '[hypervisor]\nqemu = %s/qemu-fails\n' "$TEST_ROOT" > "$TEST_ROOT/qemu-fails.conf"
out=$(COCOON_CONFIG="$TEST_ROOT/qemu-fails.conf" cocoon --log "$TEST_ROOT/vmm.json" --log-format json run -b "$TEST_ROOT/bundle" vmmdies 2>&1); status=$?
echo "$out" | diag
check "a VMM that exits at start: its exit status and every line it printed are in the error" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "QEMU exited with status 3 before the VM started" && echo "$1" | grep -q "fake-qemu: first line" && echo "$1" | grep -q "fake-qemu: the option it refused"' _ "$out" "$status"
check "... and in --log" python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(not ("status 3" in e["msg"] and "the option it refused" in e["msg"]))' "$TEST_ROOT/vmm.json"
check "... and nothing is left of it" nothing_left

# A VM size QEMU would refuse is refused before anything boots, naming the limit.
printf '[hypervisor]\naccel = tcg\nvcpus = 256\n' > "$TEST_ROOT/vcpus.conf"
check "256 vCPUs without KVM are refused before boot, naming the limit of 255" \
    expect_fail "256 vCPUs .*more than 255" env COCOON_CONFIG="$TEST_ROOT/vcpus.conf" "$COCOON" --root "$STATE" run -b "$TEST_ROOT/bundle" big1
host_mib=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
printf '[hypervisor]\nmemory_mib = %s\n' $((host_mib + 1)) > "$TEST_ROOT/memory.conf"
check "more memory than the host has is refused before boot, naming the host's ($host_mib MiB)" \
    expect_fail "$((host_mib + 1)) MiB of memory.*more than this host's $host_mib MiB" env COCOON_CONFIG="$TEST_ROOT/memory.conf" "$COCOON" --root "$STATE" run -b "$TEST_ROOT/bundle" big2
check "the refused sizes leave nothing" nothing_left

# Containers whose VM is gone (no supervisor), as a state directory holds them:
# list, ps and kill need no VM for them.
fake_stopped() {
    mkdir -p "$STATE/$1"
    printf '{"id":"%s","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00.000000000Z","pid":0,"supervisorPid":0,"supervisorStart":0,"terminal":false,"cgroupPath":"cocoon/%s"}' \
        "$1" "$1" > "$STATE/$1/state.json"
}
for id in b2 a1 c3; do fake_stopped $id; done
check "list is sorted by id, as runc's" [ "$(cocoon list -q | tr '\n' ' ')" = "a1 b2 c3 " ]
check "list's table too" [ "$(cocoon list | awk 'NR > 1 {print $1}' | tr '\n' ' ')" = "a1 b2 c3 " ]
check "list with a --root that does not exist fails and names it (runc 1.3)" \
    expect_fail "--root $TEST_ROOT/no-such-root: No such file or directory" "$COCOON" --root "$TEST_ROOT/no-such-root" list
check "...and creates nothing" [ ! -e "$TEST_ROOT/no-such-root" ]
out=$(cocoon ps --format json a1); status=$?
check "ps of a stopped container is an empty list, as runc's" sh -c '[ "$2" -eq 0 ] && [ "$1" = "[]" ]' _ "$out" "$status"
check "kill ID 0 of a stopped container says it is not running" expect_fail "not running" cocoon kill a1 0
cocoon kill --all a1 KILL; status=$?
check "kill --all of a stopped container with nothing left succeeds, as runc's" [ "$status" -eq 0 ]
for id in a1 b2 c3; do cocoon delete $id; done
check "and delete removes them" [ -z "$(ls -A "$STATE")" ]

# Host namespaces cannot be given to a container in a VM: refused before
# anything boots, naming the field and the pod setting. (Without a guest
# kernel, so that a container let through fails instead of booting here.)
export COCOON_CONFIG="$TEST_ROOT/nokernel.conf"
mkbundle "$TEST_ROOT/pod" true
without_ns() { # without_ns TYPE: a containerd pod sandbox that leaves that namespace to the host
    edit_config "$TEST_ROOT/pod" "c['annotations'] = {'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'hp'}
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != '$1']"
}
for pair in network:hostNetwork pid:hostPID ipc:hostIPC; do
    without_ns "${pair%%:*}"
    check "a pod without its own ${pair%%:*} namespace (${pair#*:}) is refused, naming both" \
        expect_fail "no ${pair%%:*} namespace of its own.*(${pair#*:})" cocoon create -b "$TEST_ROOT/pod" hp
    mkbundle "$TEST_ROOT/pod" true
done
for t in ipc:ipc uts:uts pid:pid network:net; do
    edit_config "$TEST_ROOT/pod" "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != '${t%%:*}'] + [{'type': '${t%%:*}', 'path': '/proc/$$/ns/${t#*:}'}]"
    check "a ${t%%:*} namespace path that is the host's own is refused, naming it" \
        expect_fail "linux.namespaces\[[0-9]*\]: /proc/$$/ns/${t#*:} is the host's own ${t%%:*} namespace" cocoon create -b "$TEST_ROOT/pod" hn
    mkbundle "$TEST_ROOT/pod" true
done
check "nothing is left of the refused containers" [ -z "$(ls -A "$STATE")" ]

# What can be checked before a VM boots is checked before: each of these
# fails naming what is wrong, leaves nothing, and never reaches the kernel.
mkbundle "$TEST_ROOT/pre" true
check "a --pid-file in a missing directory is refused before anything is made" \
    expect_fail "pid-file $TEST_ROOT/nodir/p.pid: directory $TEST_ROOT/nodir: No such file" \
    cocoon create -b "$TEST_ROOT/pre" --pid-file "$TEST_ROOT/nodir/p.pid" pre1
edit_config "$TEST_ROOT/pre" "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$TEST_ROOT/no-volume', 'options': ['rbind']})"
check "a volume whose source does not exist is refused, naming it" \
    expect_fail "mounts\[[0-9]*\].*source $TEST_ROOT/no-volume: No such file" cocoon create -b "$TEST_ROOT/pre" pre2
mkbundle "$TEST_ROOT/pre" true
edit_config "$TEST_ROOT/pre" "c['annotations'] = {'pad': 'x' * (5 << 20)}"
check "an oversized config.json is refused, naming the limit" expect_fail "config.json: larger than the 4 MiB" \
    cocoon create -b "$TEST_ROOT/pre" pre3
# A host cgroup frozen before the container: whatever joined it would hang there.
mkbundle "$TEST_ROOT/pre" true
CG="cocoon-cli-$$"
if [ -d /sys/fs/cgroup/freezer ]; then
    frozen=/sys/fs/cgroup/freezer/$CG/f; mkdir -p $frozen && echo FROZEN > $frozen/freezer.state
else
    frozen=/sys/fs/cgroup/$CG/f; mkdir -p $frozen && echo 1 > $frozen/cgroup.freeze
fi
edit_config "$TEST_ROOT/pre" "c['linux']['cgroupsPath'] = '/$CG/f'"
check "a frozen host cgroup is refused, naming it" expect_fail "host cgroup .*$CG/f is frozen" cocoon run -d -b "$TEST_ROOT/pre" pre4
check "... and left as it was" sh -c 'grep -q FROZEN "$1/freezer.state" 2>/dev/null || grep -qx 1 "$1/cgroup.freeze"' _ "$frozen"
echo THAWED > $frozen/freezer.state 2>/dev/null || echo 0 > $frozen/cgroup.freeze
for d in /sys/fs/cgroup/*/$CG/f /sys/fs/cgroup/$CG/f /sys/fs/cgroup/*/$CG /sys/fs/cgroup/$CG; do [ -d "$d" ] && rmdir "$d"; done
sleep 1000 & sleeper=$!
mkdir -p /sys/fs/cgroup/pids/$CG/busy 2>/dev/null || mkdir -p /sys/fs/cgroup/$CG/busy
busy=$(ls -d /sys/fs/cgroup/pids/$CG/busy /sys/fs/cgroup/$CG/busy 2>/dev/null | head -1)
echo $sleeper > "$busy/cgroup.procs"
edit_config "$TEST_ROOT/pre" "c['linux']['cgroupsPath'] = '/$CG/busy'"
out=$(cocoon create -b "$TEST_ROOT/pre" pre5 2>&1)
check "a host cgroup with processes in it gets a warning" sh -c 'echo "$1" | grep -q "host cgroup .*$2/busy is not empty"' _ "$out" "$CG"
# A create that fails leaves a cgroup it did not make, and what runs there, alone.
check "... the create fails (no guest kernel here)" [ -z "$(ls -A "$STATE")" ]
check "... and the cgroup that was there before it stays, its process alive in it" \
    sh -c 'kill -0 "$1" && grep -qx "$1" "$2/cgroup.procs"' _ "$sleeper" "$busy"
edit_config "$TEST_ROOT/pre" "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$TEST_ROOT/no-volume', 'options': ['rbind']})"
check "a create into that cgroup with a missing volume source fails" expect_fail "source $TEST_ROOT/no-volume" cocoon create -b "$TEST_ROOT/pre" pre6
check "... and leaves the cgroup and its process alone" sh -c 'kill -0 "$1" && grep -qx "$1" "$2/cgroup.procs"' _ "$sleeper" "$busy"
kill $sleeper; wait $sleeper 2>/dev/null
for d in /sys/fs/cgroup/*/$CG/busy /sys/fs/cgroup/$CG/busy /sys/fs/cgroup/*/$CG /sys/fs/cgroup/$CG; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
# Out of file descriptors (EMFILE) at each step of create in turn: it fails,
# and leaves nothing, so that the id can be used again.
mkbundle "$TEST_ROOT/pre" true
for n in 4 5 6 7 8 10 12 16; do
    out=$( (ulimit -n $n; "$COCOON" --root "$STATE" create -b "$TEST_ROOT/pre" emfile) 2>&1 ); status=$?
    [ $status -ne 0 ] && [ -z "$(ls -A "$STATE")" ] || { echo "ulimit -n $n: exit $status, $out, left: $(ls -A "$STATE")" | diag; break; }
done
check "a create that runs out of file descriptors fails and leaves nothing (ulimit -n 4 to 16)" [ -z "$(ls -A "$STATE")" -a $status -ne 0 ]
check "nothing is left of the refused containers, nor their cgroups" \
    sh -c '[ -z "$(ls -A "$1")" ] && ! ls -d /sys/fs/cgroup/*/"$2" /sys/fs/cgroup/"$2" 2>/dev/null | grep -q .' _ "$STATE" "$CG"
unset COCOON_CONFIG

check "nothing left on the host" nothing_left

done_testing
