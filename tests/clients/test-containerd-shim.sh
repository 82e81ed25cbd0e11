#!/usr/bin/env bash
# containerd drives cocoon through its native shim, containerd-shim-cocoon-v2
# (runtime io.containerd.cocoon.v2), with ctr as the user: run with output
# and exit status, run -t, exec and exec -t, stats from the guest's cgroup,
# pause/resume/ps, kill, the guest's OOM killer as a /tasks/oom event, the
# events' order, and a pod (CRI's annotations) in one VM under one shim.
# No host process stands for a container's or an exec's process (ps: the
# shim has no child); a kill of an exec reaches the guest process; CloseIO
# ends an exec's stdin.
# After each case nothing is left: no shim, VM, virtiofsd or supervisor, no
# shim socket, no rootfs mount or bundle, no state, no host cgroup. The test
# starts its own containerd (root, state and socket in this run's temporary
# directory) with this build's shim first in its PATH and COCOON_ROOT
# pointing at this run's state.
. "$(dirname "$0")/lib.sh"

need containerd ctr
: "${COCOON_SHIM:?set COCOON_SHIM to the built containerd-shim-cocoon-v2}"
NS="cocoon-shim-test-$$"
. "$(dirname "$0")/containerd-lib.sh"
PATH="$(dirname "$COCOON_SHIM"):$PATH" COCOON_ROOT="$STATE" containerd_start < <(printf 'version = 2\n')
R=(--runtime io.containerd.cocoon.v2)

# The shims this containerd started (their command line names its socket);
# the sandbox supervisors they fork share it but are named cocoon-sandbox.
shims() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2> /dev/null)" = containerd-shim ] || continue
        tr '\0' ' ' 2> /dev/null < "$d/cmdline" | grep -q -- "containerd-shim-cocoon-v2 .*-address $SOCK " && echo "${d#/proc/}"
    done
}
# No host process stands for a container's or an exec's process: the shims
# have no child (the stubs of the CLI path would be theirs, named cocoon-stub).
shim_children() {
    local p
    for p in $(shims); do ps -o pid=,comm= --ppid "$p"; done
}
no_stub() {
    local kids
    kids=$(shim_children)
    [ -z "$kids" ] && return 0
    echo "the shim has child processes: $kids" | diag
    return 1
}
# The shims' sockets (/run/containerd/s/cocoon-HASH) that were not there before this run.
shim_sockets() { ls /run/containerd/s/cocoon-* 2> /dev/null | grep -vxF -f "$CT/sockets-before"; }
ls /run/containerd/s/cocoon-* > "$CT/sockets-before" 2> /dev/null
echo /nonexistent >> "$CT/sockets-before"
test_teardown() { containerd_teardown; }

# clean ID: the container is gone from containerd and nothing of it is left.
clean() {
    local id=$1 what=""
    c task ls -q | grep -qx -- "$id" && what="$what task"
    c container ls -q | grep -qx -- "$id" && what="$what container"
    wait_for 10 test -z "$(shims)" || what="$what shim: $(shims)"
    [ -z "$(shim_sockets)" ] || what="$what socket: $(shim_sockets)"
    grep -q " $CT/state/io.containerd.runtime.v2.task/$NS/$id" /proc/self/mountinfo && what="$what rootfs mount"
    [ -d "$CT/state/io.containerd.runtime.v2.task/$NS/$id" ] && what="$what bundle"
    if [ -n "$what" ]; then
        echo "containerd still has:$what" | diag
        return 1
    fi
    host_cgroup_gone "$NS/$id" && nothing_left
}

check "containerd starts" wait_for 60 up
c image import --base-name localhost/busybox "$IMAGE_TAR" > /dev/null 2>&1
check "ctr image import takes the OCI archive tools/mkimage.sh made" has "$(c image ls -q 2>&1)" "^$IMG\$"

# 1. run --rm: output and exit status.
out=$(c run --rm "${R[@]}" "$IMG" s1 echo hi < /dev/null 2>&1)
status=$?
check "run --rm echo hi: exit status 0" [ "$status" = 0 ]
check "run --rm echo hi: prints hi" [ "$out" = hi ]
check "run --rm: nothing left" clean s1

run_rm_case s2

# 2. run -t: the fifos carry the guest's terminal; typed input, exit status.
terminal_case "run -t" "ctr -a $SOCK -n $NS run -t --rm ${R[*]} $IMG st"
check "run -t: nothing left" clean st

# 3. A detached task with a memory limit: exec, exec -t, stats from the
# guest's cgroup, pause/resume/ps, kill, and the exit status at delete.
c run -d --memory-limit 104857600 "${R[@]}" "$IMG" s3 sh -c 'while :; do sleep 0.2; done' > /dev/null 2>&1
check "run -d: the task is running" status_is s3 RUNNING
check "run -d: one shim serves it" [ "$(shims | wc -l)" = 1 ]
# An exec that runs on: no host process for it or the init; a kill reaches the guest process.
c task exec --exec-id e0 s3 sleep 1000 < /dev/null > /dev/null 2>&1 &
exec_pid=$!
exec_sleeps() { c task exec --exec-id probe s3 sh -c 'ps -o args | grep -q "^sleep 1000"' < /dev/null > /dev/null 2>&1; }
check "task exec: a long exec runs in the guest" wait_for 30 exec_sleeps
check "run -d and a running exec: no stub or other host process under the shim (ps)" no_stub
c task kill --exec-id e0 -s SIGKILL s3
wait "$exec_pid"
status=$?
check "task kill --exec-id: the guest process dies, the exec's status is 137" [ "$status" = 137 ]
check "the container still runs after its exec was killed" status_is s3 RUNNING
out=$(printf 'in-data\n' | c task exec --exec-id e3 s3 cat 2>&1)
status=$?
check "task exec with stdin: cat sees the input and its end (CloseIO), exit 0" [ "$status" = 0 ]
check "task exec with stdin: the input comes back" [ "$out" = in-data ]
out=$(c task exec --exec-id e1 s3 sh -c 'echo exec-out; exit 7' < /dev/null 2>&1)
status=$?
check "task exec: the exit status is the process's (7)" [ "$status" = 7 ]
check "task exec: its output reaches ctr" has "$out" '^exec-out$'
on_pty "$TEST_ROOT/exec-t.out" '' '' "ctr -a $SOCK -n $NS task exec -t --exec-id e2 s3 sh -c 'tty; exit 4'"
status=$?
check "task exec -t: the exit status is the process's (4)" [ "$status" = 4 ]
check "task exec -t: its stdin is a terminal" has "$(tr -d '\r' < "$TEST_ROOT/exec-t.out")" '^/dev/pts/[0-9]+$'
metrics=$(c task metrics s3 2>&1)
check "task metrics: the guest cgroup's memory limit (memory.usage_limit 104857600)" \
    has "$metrics" '^memory\.usage_limit +104857600 *$'
check "task metrics: the guest's process count (pids.current >= 2)" has "$metrics" '^pids\.current +([2-9]|[1-9][0-9]+) *$'
check "task metrics: the guest's memory use (memory.usage > 0)" has "$metrics" '^memory\.usage +[1-9][0-9]* *$'
c task pause s3
check "task pause: ctr task ls says PAUSED" status_is s3 PAUSED
c task resume s3
check "task resume: ctr task ls says RUNNING" status_is s3 RUNNING
check "task ps lists the container's (guest) processes" has "$(c task ps s3 2>&1)" '^[0-9]+ '
c task kill -s SIGKILL s3
check "task kill: the task stops" wait_for 60 status_is s3 STOPPED
check "task kill of a finished task: the shim says it is finished" \
    expect_fail "process already finished: not found" c task kill s3
check "task rm reports the exit status 137" has "$(c task rm s3 2>&1)" 'exit code 137'
c container rm s3
check "kill + rm: nothing left" clean s3

# 4. The guest's OOM killer: a TaskOOM event in ctr events, exit status 137.
c events > "$TEST_ROOT/events" 2>&1 &
events_pid=$!
out=$(c run --rm --memory-limit 33554432 "${R[@]}" "$IMG" s4 sh -c 'tail /dev/zero' < /dev/null 2>&1)
status=$?
check "run --rm over its memory limit: killed, 137" [ "$status" = 137 ]
check "ctr events has /tasks/oom for it" wait_for 10 grep -q '/tasks/oom.*s4' "$TEST_ROOT/events"
check "ctr events has its /tasks/delete" wait_for 10 grep -q '/tasks/delete.*s4' "$TEST_ROOT/events"
# The order containerd needs: create, start, exit, delete.
order=$(grep -o '/tasks/[a-z]*.*"s4"' "$TEST_ROOT/events" | grep -o '^/tasks/[a-z]*' | grep -vx /tasks/oom | tr '\n' ' ')
check "its events came in order: create, start, exit, delete" [ "$order" = "/tasks/create /tasks/start /tasks/exit /tasks/delete " ]
kill "$events_pid"
wait "$events_pid" 2> /dev/null
check "the shims sent their events on containerd's ttrpc socket (no fallback to the publish binary)" \
    sh -c '! grep -q "from now on" "$1"' _ "$CT/containerd.log"
check "OOM: nothing left" clean s4

# 5. A pod as containerd's CRI annotates it: the sandbox's task and a
# container of the pod in one VM, under one shim process.
A=io.kubernetes.cri
c run -d --annotation $A.container-type=sandbox --annotation $A.sandbox-id=p1 "${R[@]}" "$IMG" p1 sleep 1000 \
    > /dev/null 2>&1
c run -d --annotation $A.container-type=container --annotation $A.sandbox-id=p1 "${R[@]}" "$IMG" p2 \
    sh -c 'while :; do sleep 0.2; done' > /dev/null 2>&1
pod_runs() { status_is p1 RUNNING && status_is p2 RUNNING; }
check "pod: the sandbox and its container run" pod_runs
check "pod: one shim process serves both" [ "$(shims | wc -l)" = 1 ]
check "pod: no stub or other host process under the shim (ps)" no_stub
qemus=$(pids_named 'qemu-system*' | wc -l)
check "pod: one VM (QEMU) for both" [ "$qemus" = 1 ]
check "pod: exec in the container" has "$(c task exec --exec-id e1 p2 sh -c 'echo in-p2' < /dev/null 2>&1)" '^in-p2$'
c task kill -s SIGKILL p2
check "pod: the container stops" wait_for 60 status_is p2 STOPPED
c task rm p2 > /dev/null 2>&1
c container rm p2
check "pod: with the container gone, the sandbox still runs in its VM" status_is p1 RUNNING
check "pod: and its shim stays" [ "$(shims | wc -l)" = 1 ]
c task kill -s SIGKILL p1
check "pod: the sandbox stops" wait_for 60 status_is p1 STOPPED
c task rm p1 > /dev/null 2>&1
c container rm p1
check "pod: nothing left" clean p1

c image rm "$IMG" > /dev/null
kill "$CONTAINERD_PID" && wait "$CONTAINERD_PID"
check "containerd stops" sh -c "! kill -0 $CONTAINERD_PID 2> /dev/null"

done_testing
