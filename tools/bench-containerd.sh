#!/usr/bin/env bash
# containerd with cocoon two ways, measured in this one run on this machine:
#   native  containerd-shim-cocoon-v2 (runtime io.containerd.cocoon.v2)
#   runc    containerd's runc v2 shim running the cocoon CLI (BinaryName)
# For each: the median wall time of `ctr run --rm IMAGE ID true`, of starting
# a pod (a sandbox task and one container task, annotated as containerd's CRI
# does, both with `ctr run -d`), and the host memory (PSS) of that running
# pod: its shims, stubs, supervisor, QEMU and virtiofsd.
# Usage: tools/bench-containerd.sh [RUNS]   (default 5; needs a build and containerd)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-containerd: RUNS must be a positive number, not '$runs'" >&2; exit 2; }
for f in build/runtime/cocoon build/shim/containerd-shim-cocoon-v2; do
    [[ -e $f ]] || { echo "bench-containerd: $f is missing: build first" >&2; exit 1; }
done
command -v containerd > /dev/null || { echo "bench-containerd: containerd is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/cocoon-bench-ctrd.XXXXXX)
sock="$work/containerd.sock" ns=bench img=localhost/busybox:latest
cocoon=$PWD/build/runtime/cocoon
c() { ctr -a "$sock" -n "$ns" "$@"; }
cleanup() {
    local id
    for id in $(c task ls -q 2> /dev/null); do c task kill -s SIGKILL "$id" > /dev/null 2>&1 || true; c task rm -f "$id" > /dev/null 2>&1 || true; done
    for id in $(c container ls -q 2> /dev/null); do c container rm "$id" > /dev/null 2>&1 || true; done
    [[ -n ${ctrd:-} ]] && kill "$ctrd" 2> /dev/null && wait "$ctrd" 2> /dev/null
    for id in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do [[ -d $id ]] && rmdir "$id" 2> /dev/null; done
    grep -o " $work/[^ ]*rootfs" /proc/self/mountinfo | xargs -r -n1 umount 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
printf 'version = 2\nroot = "%s"\nstate = "%s"\n[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n' \
    "$work/root" "$work/state" "$sock" "$sock" > "$work/config.toml"
PATH="$PWD/build/shim:$PATH" COCOON_ROOT="$work/native" containerd --config "$work/config.toml" > "$work/log" 2>&1 &
ctrd=$!
for ((i = 0; i < 100; i++)); do c version > /dev/null 2>&1 && break; sleep 0.1; done
bash tools/mkbundle.sh "$work/bb" /bin/true > /dev/null
bash tools/mkimage.sh --name "$img" "$work/bb/rootfs" "$work/bb.tar" sh > /dev/null
c image import --base-name localhost/busybox "$work/bb.tar" > /dev/null

declare -A rt=([native]="--runtime io.containerd.cocoon.v2"
               [runc]="--runtime io.containerd.runc.v2 --runc-binary $cocoon --runc-root $work/runc")
ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
pss() { local p t=0; for p in "$@"; do t=$((t + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done; echo $t; }
# The pod's host processes: the shims of this containerd and all their
# descendants, the supervisors (double-forked: their cwd is in a state
# root), and QEMU and virtiofsd (COCOON_SANDBOX names a state directory).
pod_pids() {
    local d
    for d in /proc/[0-9]*; do
        tr '\0' ' ' 2> /dev/null < "$d/cmdline" | grep -q -- "containerd-shim.* -address $sock " && echo "${d#/proc/}"
        case $(readlink "$d/cwd" 2> /dev/null) in "$work"/*) echo "${d#/proc/}" ;; esac
        tr '\0' '\n' 2> /dev/null < "$d/environ" | grep -q "^COCOON_SANDBOX=$work/" && echo "${d#/proc/}"
    done | sort -u
    pgrep -f -- "containerd-shim.* -address $sock " | while read -r p; do pgrep -P "$p"; done
}

A=io.kubernetes.cri
declare -A run_t pod_t pod_kib
# Interleaved, so that a busy moment of the machine weighs on both.
for ((n = 0; n < runs; n++)); do
    for kind in native runc; do
        read -ra opts <<< "${rt[$kind]}"
        id="$kind$n"
        t0=$(ms); c run --rm "${opts[@]}" "$img" "r$id" true < /dev/null > /dev/null; run_t[$kind]+="$(( $(ms) - t0 )) "
        t0=$(ms)
        c run -d --annotation $A.container-type=sandbox --annotation $A.sandbox-id="p$id" "${opts[@]}" "$img" "p$id" \
            sleep 100000 > /dev/null
        c run -d --annotation $A.container-type=container --annotation $A.sandbox-id="p$id" "${opts[@]}" "$img" "m$id" \
            sleep 100000 > /dev/null
        pod_t[$kind]+="$(( $(ms) - t0 )) "
        sleep 3
        pod_kib[$kind]+="$(pss $(pod_pids | sort -u)) "
        for c_id in "m$id" "p$id"; do
            c task kill -s SIGKILL "$c_id" > /dev/null; c task rm -f "$c_id" > /dev/null 2>&1 || true; c container rm "$c_id" > /dev/null
        done
    done
done
for kind in native runc; do
    printf '%-7s run --rm true: %6d ms   pod start (sandbox + 1 container): %6d ms   pod PSS: %6d KiB   (medians of %d)\n' \
        "$kind" "$(median ${run_t[$kind]})" "$(median ${pod_t[$kind]})" "$(median ${pod_kib[$kind]})" "$runs"
done
