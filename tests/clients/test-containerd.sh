#!/usr/bin/env bash
# containerd drives cocoon through its runc v2 shim (cocoon as the runc
# binary), with ctr as the user: run, a terminal, exec, pause/resume/ps,
# kill, and the shim's error paths (a finished task, a VM that died). The
# test starts its own containerd (root, state and socket in this run's
# temporary directory) with docs/k8s/containerd-cocoon.toml in its config,
# which checks that the shipped CRI runtime entries load, and stops it at
# the end. cocoon's state is this run's: --runc-root, so the shim runs
# `cocoon --root $STATE/NAMESPACE`. After each case nothing of it is left:
# no shim, VM, virtiofsd or supervisor, no mount, no state, no host cgroup.
. "$(dirname "$0")/lib.sh"

need containerd ctr containerd-shim-runc-v2
: "${CONTAINERD_SNIPPET:?set CONTAINERD_SNIPPET to docs/k8s/containerd-cocoon.toml}"
NS="cocoon-test-$$"
. "$(dirname "$0")/containerd-lib.sh"

# The shipped snippet with this build's cocoon and this run's state.
containerd_start < <(sed -e "s|\"/usr/local/bin/cocoon\"|\"$COCOON\"|" -e "s|\"/run/containerd/cocoon\"|\"$STATE\"|" \
    "$CONTAINERD_SNIPPET")
R=(--runtime io.containerd.runc.v2 --runc-binary "$COCOON" --runc-root "$STATE")

# The shims this containerd started (their command line names its socket).
shims() {
    local d
    for d in /proc/[0-9]*; do
        tr '\0' ' ' 2> /dev/null < "$d/cmdline" | grep -q -- "containerd-shim.* -address $SOCK " && echo "${d#/proc/}"
    done
}
test_teardown() { containerd_teardown; }

# clean ID: the container is gone from containerd and nothing of it is left.
clean() {
    local id=$1 what=""
    c task ls -q | grep -qx -- "$id" && what="$what task"
    c container ls -q | grep -qx -- "$id" && what="$what container"
    [ -z "$(shims)" ] || what="$what shim: $(shims)"
    grep -q " $CT/state/io.containerd.runtime.v2.task/$NS/$id" /proc/self/mountinfo && what="$what rootfs mount"
    if [ -n "$what" ]; then
        echo "containerd still has:$what" | diag
        return 1
    fi
    # cocoon makes the namespace's directory under --root; it must be empty.
    rmdir "$STATE/$NS" 2> /dev/null
    host_cgroup_gone "$NS/$id" && nothing_left
}

check "containerd starts with the shipped snippet in its config" wait_for 60 up
check "the cri plugin loads it (ctr plugins ls: ok)" has "$(c plugins ls 2>&1)" '^io\.containerd\.grpc\.v1 +cri +.* ok *$'
cri_config=$(grep -m1 'Start cri plugin with config' "$CT/containerd.log")
check "the cri plugin has runtime cocoon: the runc v2 shim with BinaryName" \
    has "$cri_config" "cocoon:\{Type:io.containerd.runc.v2 [^}]*Options:map\[BinaryName:$COCOON Root:$STATE\]"
check "the cri plugin has the untrusted workload runtime too" \
    has "$cri_config" "UntrustedWorkloadRuntime:\{Type:io.containerd.runc.v2 [^}]*Options:map\[BinaryName:$COCOON "
check "the cri plugin has runtime cocoon-shim: cocoon's native shim" \
    has "$cri_config" "cocoon-shim:\{Type:io.containerd.cocoon.v2 "
check "runc stays the default runtime" has "$cri_config" "DefaultRuntimeName:runc .*runc:\{Type:io.containerd.runc.v2 "

# The other shipped configs, as far as this host can check them (no CRI-O or
# Kubernetes in Debian 12): they parse and name cocoon.
K8S="$(dirname "$CONTAINERD_SNIPPET")"
check "the CRI-O drop-in is TOML with runtime handler cocoon (oci, runtime_path, runtime_root)" python3 -c '
import sys, tomllib
r = tomllib.load(open(sys.argv[1], "rb"))["crio"]["runtime"]["runtimes"]["cocoon"]
sys.exit(not (r["runtime_type"] == "oci" and r["runtime_path"].endswith("/cocoon") and r["runtime_root"]))' "$K8S/crio-cocoon.conf"
if python3 -c 'import yaml' 2> /dev/null; then
    check "the RuntimeClasses are YAML with handlers cocoon and cocoon-shim and overhead.podFixed memory and cpu" python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
ok = [r["handler"] for r in docs if r["kind"] == "RuntimeClass" and r["overhead"]["podFixed"]["memory"] and r["overhead"]["podFixed"]["cpu"]]
sys.exit(ok != ["cocoon", "cocoon-shim"])' "$K8S/runtimeclass.yaml"
else
    ok "the RuntimeClass is YAML # SKIP python3-yaml is not installed"
fi

c image import --base-name localhost/busybox "$IMAGE_TAR" > /dev/null 2>&1
check "ctr image import takes the OCI archive tools/mkimage.sh made" has "$(c image ls -q 2>&1)" "^$IMG\$"

# 1. run --rm: output and exit status.
run_rm_case c1

# 2. run -t: a terminal (the shim's console socket), typed input, exit status.
terminal_case "run -t" "ctr -a $SOCK -n $NS run -t --rm ${R[*]} $IMG c2"
check "run -t: nothing left" clean c2

# 3. A detached task: exec, exec -t, pause/resume/ps, kill, then the shim's
# answer for a finished task, and the exit status when it is deleted.
c run -d "${R[@]}" "$IMG" c3 sh -c 'while :; do sleep 0.2; done' > /dev/null 2>&1
check "run -d: the task is running" status_is c3 RUNNING
out=$(c task exec --exec-id e1 c3 sh -c 'echo exec-out; exit 7' < /dev/null 2>&1)
status=$?
check "task exec: the exit status is the process's (7)" [ "$status" = 7 ]
check "task exec: its output reaches ctr" has "$out" '^exec-out$'
on_pty "$TEST_ROOT/exec-t.out" '' '' "ctr -a $SOCK -n $NS task exec -t --exec-id e2 c3 sh -c 'tty; exit 4'"
status=$?
check "task exec -t: the exit status is the process's (4)" [ "$status" = 4 ]
check "task exec -t: its stdin is a terminal" has "$(tr -d '\r' < "$TEST_ROOT/exec-t.out")" '^/dev/pts/[0-9]+$'
c task pause c3
check "task pause: ctr task ls says PAUSED" status_is c3 PAUSED
check "task ps lists the container's (guest) processes" has "$(c task ps c3 2>&1)" '^[0-9]+ '
c task resume c3
check "task resume: ctr task ls says RUNNING" status_is c3 RUNNING
c task kill -s SIGKILL c3
check "task kill: the task stops" wait_for 60 status_is c3 STOPPED
check "task kill of a finished task: the shim says it is finished" \
    expect_fail "process already finished: not found" c task kill c3
check "task rm reports the exit status 137" has "$(c task rm c3 2>&1)" 'exit code 137'
c container rm c3
check "kill + rm: nothing left" clean c3

# 4. The VM dies under the shim (QEMU killed): the task stops with 137, kill
# says so, and delete still cleans everything.
c run -d "${R[@]}" "$IMG" c4 sleep 1000 > /dev/null 2>&1
check "run -d: the second task is running" status_is c4 RUNNING
sup=$(grep -o '"supervisorPid":[0-9]*' "$STATE/$NS/c4/state.json" | cut -d: -f2)
qemu=$(ps -o pid=,comm= --ppid "${sup:-0}" | awk '$2 ~ /^qemu-system/ { print $1 }')
check "the supervisor (state.json) has a QEMU child" [ -n "$qemu" ]
# What clean looks for is there while it runs: the checks look in the right places.
check "while it runs, its host cgroup is NAMESPACE/ID" test -n "$(ls -d /sys/fs/cgroup/*/"$NS"/c4 2> /dev/null)"
check "while it runs, its shim and its VM are there" test -n "$(shims)" -a -n "$(pids_in_root)"
[ -n "$qemu" ] && kill -9 $qemu
check "QEMU killed: the task stops" wait_for 60 status_is c4 STOPPED
check "QEMU killed: task kill says the process is finished" \
    expect_fail "process already finished: not found" c task kill c4
check "QEMU killed: task rm works and reports 137" has "$(c task rm c4 2>&1)" 'exit code 137'
c container rm c4
check "QEMU killed: nothing left" clean c4

c image rm "$IMG" > /dev/null
kill "$CONTAINERD_PID" && wait "$CONTAINERD_PID"
check "containerd stops" sh -c "! kill -0 $CONTAINERD_PID 2> /dev/null"

done_testing
