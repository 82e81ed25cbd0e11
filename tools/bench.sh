#!/usr/bin/env bash
# Start-up benchmark, all measured in this one run on this machine:
#   cocoon  `cocoon run` of /bin/true in a busybox bundle (VM boot + agent + container)
#   floor   QEMU booting the same kernel with cocoon's own command line and an
#           init that powers off at once (build/tools/vm-floor)
#   runc    `runc run` of the same bundle (no VM), or crun where runc is missing
# It prints the median wall time of each and the ratio cocoon/floor. Then,
# with one container of each kind running (`run -d`): the median time of
# `exec /bin/true` in it, and the host memory (PSS) the container costs:
# for cocoon its supervisor, QEMU, virtiofsd and stub, for runc its process.
# Then pods: `cocoon run` of /bin/true as a container joining a running pod's
# VM, beside `runc run`, and what one more idle container costs the pod.
# Last, the jail: `cocoon run` of /bin/true and the PSS of one idle container
# with the default jail and with `jail = off`, interleaved, side by side.
# Last, the guest kernels (kernel_section): Debian's cloud kernel and
# cocoon's own, each with its floor, `cocoon run /bin/true` and one idle
# container's PSS with QEMU's part split into guest RAM, TCG buffer and the
# rest, and the ratios the guest's goals are stated in (docs/guest.md).
# Then the backends (backend_section): `cocoon run /bin/true` and one idle
# container's PSS under the QEMU backend and under the libvirt backend, when
# the build has it and libvirt answers.
# Last, containerd (containerd_section), with a containerd of its own: cocoon
# through its native shim (containerd-shim-cocoon-v2) and through the runc
# shim with BinaryName, interleaved: `ctr run --rm IMAGE ID true`, starting a
# pod (a sandbox task and one container task with `ctr run -d`, annotated as
# containerd's CRI does) and the host PSS of that running pod (shims and
# their children, supervisor, QEMU, virtiofsd).
# Usage: tools/bench.sh [RUNS] [backends|containerd|kernels|no-containerd]
#   (default 7; backends, containerd, kernels: that section alone; no-containerd:
#   everything else; needs a build: tools/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
section=${2:-}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS must be a positive number, not '$runs'" >&2; exit 2; }
[[ $section =~ ^(|backends|containerd|kernels|no-containerd)$ ]] ||
    { echo "bench: unknown section '$section' (backends, containerd, kernels or no-containerd)" >&2; exit 2; }
for f in build/runtime/cocoon build/tools/vm-floor build/tools/floor-initrd.img build/guest-image/vmlinux \
         build/guest-image/vmlinux-cloud build/guest-image/cloud.conf build/guest-image/lean.conf \
         build/shim/containerd-shim-cocoon-v2; do
    [[ -e $f ]] || { echo "bench: $f is missing: run tools/setup.sh first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/cocoon-bench.XXXXXX)
cleanup() {
    build/runtime/cocoon --root "$work/state" delete --force bench-exec > /dev/null 2>&1 || true
    build/runtime/cocoon --root "$work/state" delete --force bench-member > /dev/null 2>&1 || true
    build/runtime/cocoon --root "$work/state" delete --force bench-pod > /dev/null 2>&1 || true
    build/runtime/cocoon --root "$work/state" delete --force bench-idle > /dev/null 2>&1 || true
    "${oci:-runc}" --root "$work/oci" delete --force bench-exec > /dev/null 2>&1 || true
    rm -rf "$work"
}
cleanup_all() { containerd_cleanup; cleanup; }
trap cleanup_all EXIT
bash tools/mkbundle.sh "$work/bundle" /bin/true > /dev/null
bash tools/mkbundle.sh "$work/sleeper" sleep 100000 > /dev/null

now_ms() { date +%s%3N; }
# run_timed COMMAND...: runs it once, prints its wall time in ms.
run_timed() {
    local start; start=$(now_ms)
    "$@" > /dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    echo $(( $(now_ms) - start ))
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

# pss PID...: the sum of their proportional set sizes, in KiB.
pss() { local p t=0; for p in "$@"; do t=$((t + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done; echo $t; }
# sandbox_pids ID: the supervisor (its cwd is the state directory), the
# QEMU and virtiofsd (COCOON_SANDBOX=<state dir> in their environment) and
# the detached stubs.
sandbox_pids() {
    local d
    for d in /proc/[0-9]*; do
        case $(readlink "$d/cwd" 2>/dev/null) in "$work/state/$1" | "$work/state/$1"/*) echo "${d#/proc/}" ;; esac
        tr '\0' '\n' 2>/dev/null < "$d/environ" | grep -qx "COCOON_SANDBOX=$work/state/$1" && echo "${d#/proc/}"
        tr '\0' ' ' 2> /dev/null < "$d/cmdline" | grep -q -- "--root $work/state run -d" && echo "${d#/proc/}"
    done | sort -u || true
}
# idle_pss [CONFIG]: the PSS of one idle container, settled for 3 s.
idle_pss() {
    local conf=(); [[ -n ${1:-} ]] && conf=("COCOON_CONFIG=$1")
    env "${conf[@]}" build/runtime/cocoon --root "$work/state" run -d -b "$work/sleeper" bench-idle < /dev/null > /dev/null 2>&1
    sleep 3
    pss $(sandbox_pids bench-idle)
    build/runtime/cocoon --root "$work/state" delete --force bench-idle > /dev/null 2>&1
}
# ---- backends: QEMU's and libvirt's, the same cloud kernel (docs/libvirt.md) ----
backend_section() {
    local q=$PWD/build/guest-image/cloud.conf l=$PWD/build/guest-image/libvirt.conf n i
    if ! build/runtime/cocoon --version | grep -q '^backends:.* libvirt'; then
        echo "backends: this build has no libvirt backend (libvirt-dev missing at meson setup)"
        return
    fi
    if ! virsh -c qemu:///system version > /dev/null 2>&1; then
        echo "backends: libvirt does not answer at qemu:///system (start libvirtd or virtqemud)"
        return
    fi
    local q_run=() l_run=() q_idle=() l_idle=()
    backend_run() { COCOON_CONFIG=$1 build/runtime/cocoon --root "$work/state" run -b "$work/bundle" "bench-b$n"; }
    for ((n = 0; n < runs; n++)); do
        q_run+=("$(run_timed backend_run "$q")")
        l_run+=("$(run_timed backend_run "$l")")
    done
    for ((i = 0; i < (runs + 1) / 2; i++)); do
        q_idle+=("$(idle_pss "$q")")
        l_idle+=("$(idle_pss "$l")")
    done
    printf 'backends, median of %d runs (start) and %d idle containers (PSS; libvirtd itself not counted)\n' \
        "$runs" "${#l_idle[@]}"
    printf '  %-28s %10s %10s\n' "" "qemu" "libvirt"
    printf '  %-28s %7d ms %7d ms\n' "cocoon run /bin/true" "$(median "${q_run[@]}")" "$(median "${l_run[@]}")"
    printf '  %-28s %6d KiB %6d KiB\n' "idle container PSS" "$(median "${q_idle[@]}")" "$(median "${l_idle[@]}")"
}
# ---- containerd: the native shim against the runc shim with BinaryName (docs/containerd.md) ----
ctrd_sock="$work/containerd/containerd.sock"
c() { ctr -a "$ctrd_sock" -n bench "$@"; }
containerd_cleanup() {
    [[ -n ${ctrd:-} ]] || return 0
    local id
    for id in $(c task ls -q 2> /dev/null); do
        c task kill -s SIGKILL "$id" > /dev/null 2>&1 || true
        c task rm -f "$id" > /dev/null 2>&1 || true
    done
    for id in $(c container ls -q 2> /dev/null); do c container rm "$id" > /dev/null 2>&1 || true; done
    kill "$ctrd" 2> /dev/null && wait "$ctrd" 2> /dev/null || true
    for id in /sys/fs/cgroup/bench /sys/fs/cgroup/*/bench; do [[ -d $id ]] && rmdir "$id" 2> /dev/null; done
    grep -o " $work/[^ ]*rootfs" /proc/self/mountinfo | xargs -r -n1 umount 2> /dev/null || true
    ctrd=
}
# The pod's host processes: the shims of this containerd and their children
# (the runc shim's stubs), the supervisors (double-forked: their cwd is in a
# state root), and QEMU and virtiofsd (COCOON_SANDBOX names a state directory).
ctrd_pod_pids() {
    local d p
    for d in /proc/[0-9]*; do
        tr '\0' ' ' 2> /dev/null < "$d/cmdline" | grep -q -- "containerd-shim.* -address $ctrd_sock " && echo "${d#/proc/}"
        case $(readlink "$d/cwd" 2> /dev/null) in "$work"/containerd/*) echo "${d#/proc/}" ;; esac
        tr '\0' '\n' 2> /dev/null < "$d/environ" | grep -q "^COCOON_SANDBOX=$work/containerd/" && echo "${d#/proc/}"
    done
    for p in $(pgrep -f -- "containerd-shim.* -address $ctrd_sock " || true); do pgrep -P "$p" || true; done
}
containerd_section() {
    if ! command -v containerd > /dev/null || ! command -v ctr > /dev/null; then
        echo "containerd: containerd (and ctr) not installed: apt-get install containerd; section skipped"
        return 1
    fi
    local w=$work/containerd img=localhost/busybox:latest A=io.kubernetes.cri kind n id cid t0 opts
    mkdir -p "$w"
    printf 'version = 2\nroot = "%s"\nstate = "%s"\n[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n' \
        "$w/root" "$w/state" "$ctrd_sock" "$ctrd_sock" > "$w/config.toml"
    PATH="$PWD/build/shim:$PATH" COCOON_ROOT="$w/native" containerd --config "$w/config.toml" > "$w/log" 2>&1 &
    ctrd=$!
    for ((n = 0; n < 100; n++)); do c version > /dev/null 2>&1 && break; sleep 0.1; done
    bash tools/mkimage.sh --name "$img" "$work/sleeper/rootfs" "$w/bb.tar" sh > /dev/null
    c image import --base-name localhost/busybox "$w/bb.tar" > /dev/null
    declare -A rt=([native]="--runtime io.containerd.cocoon.v2"
                   [runc]="--runtime io.containerd.runc.v2 --runc-binary $PWD/build/runtime/cocoon --runc-root $w/runc")
    declare -A run_t pod_t pod_kib
    ctr_run_rm() { c run --rm "${opts[@]}" "$img" "r$id" true < /dev/null; }
    ctr_pod() {
        c run -d --annotation $A.container-type=sandbox --annotation $A.sandbox-id="p$id" "${opts[@]}" "$img" "p$id" \
            sleep 100000 &&
            c run -d --annotation $A.container-type=container --annotation $A.sandbox-id="p$id" "${opts[@]}" "$img" \
                "m$id" sleep 100000
    }
    # Interleaved, so that a busy moment of the machine weighs on both.
    for ((n = 0; n < runs; n++)); do
        for kind in native runc; do
            read -ra opts <<< "${rt[$kind]}"
            id="$kind$n"
            run_t[$kind]+="$(run_timed ctr_run_rm) "
            pod_t[$kind]+="$(run_timed ctr_pod) "
            sleep 3
            pod_kib[$kind]+="$(pss $(ctrd_pod_pids | sort -u)) "
            for cid in "m$id" "p$id"; do
                c task kill -s SIGKILL "$cid" > /dev/null
                c task rm -f "$cid" > /dev/null 2>&1 || true
                c container rm "$cid" > /dev/null
            done
        done
    done
    containerd_cleanup
    printf 'containerd, median of %d runs (pod: a sandbox and one container; PSS 3 s after its start)\n' "$runs"
    printf '  %-32s %12s %12s\n' "" "native shim" "runc shim"
    # shellcheck disable=SC2086
    printf '  %-32s %9d ms %9d ms\n' "ctr run --rm true" "$(median ${run_t[native]})" "$(median ${run_t[runc]})" \
        "pod start (ctr run -d twice)" "$(median ${pod_t[native]})" "$(median ${pod_t[runc]})"
    # shellcheck disable=SC2086
    printf '  %-32s %8d KiB %8d KiB\n' "pod PSS" "$(median ${pod_kib[native]})" "$(median ${pod_kib[runc]})"
}
# ---- guest kernels: Debian's cloud kernel beside cocoon's own ----
# qemu_split PID: "GUEST TCG OTHER", QEMU's PSS in KiB split by mapping: the
# guest RAM (the memfd backend), the TCG translation buffer (QEMU's one
# anonymous executable mapping; absent under KVM) and everything else (heap,
# libraries, stacks).
qemu_split() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { c = "other"; if ($0 ~ /memfd:mem/) c = "guest"; else if ($2 ~ /x/ && NF == 5) c = "tcg"; next }
         /^Pss:/ { k[c] += $2 }
         END { printf "%d %d %d\n", k["guest"], k["tcg"], k["other"] }' "/proc/$1/smaps" 2>/dev/null || echo "0 0 0"
}
# kernel_idle CONFIG: "TOTAL GUEST TCG QEMU-OTHER" of one idle container (KiB), settled for 3 s.
kernel_idle() {
    local pids p qemu=
    env ${1:+COCOON_CONFIG="$1"} build/runtime/cocoon --root "$work/state" run -d -b "$work/sleeper" bench-idle \
        < /dev/null > /dev/null 2>&1 || { echo "bench: idle container failed to start" >&2; exit 1; }
    sleep 3
    pids=$(sandbox_pids bench-idle)
    for p in $pids; do [[ $(cat "/proc/$p/comm" 2>/dev/null) == qemu-system-* ]] && qemu=$p; done
    echo "$(pss $pids) $(qemu_split "${qemu:-0}")"
    build/runtime/cocoon --root "$work/state" delete --force bench-idle > /dev/null 2>&1
}
kernel_section() {
    mkdir -p "$work/floor"
    local cloud=$PWD/build/guest-image/cloud.conf lean=$PWD/build/guest-image/lean.conf n i
    local cl_floor=() co_floor=() cl_run=() co_run=() cl_idle=() co_idle=()
    cloud_floor() { build/tools/vm-floor "$PWD/build/guest-image/vmlinux-cloud" "$PWD/build/tools/floor-initrd.img" "$work/floor"; }
    cloud_run() { COCOON_CONFIG=$cloud build/runtime/cocoon --root "$work/state" run -b "$work/bundle" "bench-k$n"; }
    own_floor() { build/tools/vm-floor "$PWD/build/guest-image/vmlinux" "$PWD/build/tools/floor-initrd.img" "$work/floor"; }
    own_run() { COCOON_CONFIG=$lean build/runtime/cocoon --root "$work/state" run -b "$work/bundle" "bench-k$n"; }
    for ((n = 0; n < runs; n++)); do
        cl_floor+=("$(run_timed cloud_floor)")
        co_floor+=("$(run_timed own_floor)")
        cl_run+=("$(run_timed cloud_run)")
        co_run+=("$(run_timed own_run)")
    done
    for ((i = 0; i < (runs + 1) / 2; i++)); do
        cl_idle+=("$(kernel_idle "$cloud")")
        co_idle+=("$(kernel_idle "$lean")")
    done
    # median_of FIELD LINE...: the line with the median value of FIELD.
    median_of() { local f=$1; shift; printf '%s\n' "$@" | sort -n -k"$f","$f" | sed -n "$(( ($# + 1) / 2 ))p"; }
    local clf cof clr cor cli coi
    clf=$(median "${cl_floor[@]}") cof=$(median "${co_floor[@]}")
    clr=$(median "${cl_run[@]}") cor=$(median "${co_run[@]}")
    cli=$(median_of 1 "${cl_idle[@]}") coi=$(median_of 1 "${co_idle[@]}")
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
    mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
    printf 'guest kernels, median of %d runs (start) and %d idle containers (PSS)\n' "$runs" "${#co_idle[@]}"
    printf '  %-34s %12s %12s\n' "" "Debian cloud" "cocoon"
    printf '  %-34s %9d ms %9d ms\n' "floor (QEMU boot, init powers off)" "$clf" "$cof" \
        "cocoon run /bin/true" "$clr" "$cor"
    read -r clt clg clc clo <<< "$cli"
    read -r cot cog coc coo <<< "$coi"
    printf '  %-34s %8s MiB %8s MiB\n' "idle container PSS" "$(mib "$clt")" "$(mib "$cot")" \
        "  QEMU: guest RAM" "$(mib "$clg")" "$(mib "$cog")" \
        "  QEMU: TCG translation buffer" "$(mib "$clc")" "$(mib "$coc")" \
        "  QEMU: the rest" "$(mib "$clo")" "$(mib "$coo")" \
        "  supervisor, virtiofsd, stub" "$(mib $((clt - clg - clc - clo)))" "$(mib $((cot - cog - coc - coo)))" \
        "  without the TCG buffer (as KVM)" "$(mib $((clt - clc)))" "$(mib $((cot - coc)))"
    printf '  %-34s %12s (goal <= 0.60)\n' "cocoon run, cocoon / cloud floor" "$(ratio "$cor" "$clf")"
    printf '  %-34s %12s (goal <= 1.10)\n' "cocoon run, cocoon / own floor" "$(ratio "$cor" "$cof")"
    printf '  %-34s %12s\n' "floor, cocoon / cloud" "$(ratio "$cof" "$clf")" \
        "idle PSS, cocoon / cloud" "$(ratio "$cot" "$clt")"
}
# `tools/bench.sh RUNS backends|containerd|kernels`: that section alone.
case $section in
backends) backend_section; exit 0 ;;
kernels) kernel_section; exit 0 ;;
containerd) containerd_section; exit $? ;;
esac

n=0
cocoon_run() { build/runtime/cocoon --root "$work/state" run -b "$work/bundle" "bench-$n"; }
mkdir -p "$work/floor"
floor_run() { build/tools/vm-floor "$PWD/build/guest-image/vmlinux" "$PWD/build/tools/floor-initrd.img" "$work/floor"; }
if command -v runc > /dev/null; then oci=runc; else oci=crun; fi
oci_run() { "$oci" --root "$work/oci" run -b "$work/bundle" "bench-$n"; }

# Interleaved, so that a noisy neighbour slows all three alike.
cocoon_t=() floor_t=() oci_t=()
for ((n = 0; n < runs; n++)); do
    cocoon_t+=("$(run_timed cocoon_run)")
    floor_t+=("$(run_timed floor_run)")
    oci_t+=("$(run_timed oci_run)")
done
cocoon_ms=$(median "${cocoon_t[@]}")
floor_ms=$(median "${floor_t[@]}")
oci_ms=$(median "${oci_t[@]}")

# As the QEMU backend decides: KVM only with a hardware back end (a PVM /dev/kvm does not count).
accel=TCG; [[ -w /dev/kvm && ( -e /sys/module/kvm_intel || -e /sys/module/kvm_amd ) ]] && accel=KVM
printf 'start-up, median of %d runs (%s, %s cores)\n' "$runs" "$accel" "$(nproc)"
printf '  %-28s %6d ms\n' "cocoon run /bin/true" "$cocoon_ms" "floor (QEMU boot, no agent)" "$floor_ms" \
    "$oci run /bin/true" "$oci_ms"
printf '  %-28s %6s\n' "cocoon / floor" "$(awk -v a="$cocoon_ms" -v b="$floor_ms" 'BEGIN { printf "%.2f", a / b }')"

# A running container of each kind: exec latency and host memory.
build/runtime/cocoon --root "$work/state" run -d -b "$work/sleeper" bench-exec < /dev/null > /dev/null 2>&1
"$oci" --root "$work/oci" run -d -b "$work/sleeper" bench-exec < /dev/null > /dev/null 2>&1
cocoon_exec() { build/runtime/cocoon --root "$work/state" exec bench-exec /bin/true; }
oci_exec() { "$oci" --root "$work/oci" exec bench-exec /bin/true; }
cexec_t=() oexec_t=()
for ((n = 0; n < runs; n++)); do
    cexec_t+=("$(run_timed cocoon_exec)")
    oexec_t+=("$(run_timed oci_exec)")
done
sandbox_pids=$(sandbox_pids bench-exec)
oci_pid=$("$oci" --root "$work/oci" state bench-exec | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
printf 'a running container, median of %d execs\n' "$runs"
printf '  %-28s %6d ms\n' "cocoon exec /bin/true" "$(median "${cexec_t[@]}")" "$oci exec /bin/true" "$(median "${oexec_t[@]}")"
printf 'host memory of one idle container (PSS)\n'
printf '  %-28s %6d KiB  (%d processes: supervisor, QEMU, virtiofsd, stub)\n' "cocoon" "$(pss $sandbox_pids)" "$(echo $sandbox_pids | wc -w)"
printf '  %-28s %6d KiB  (the container'"'"'s process)\n' "$oci" "$(pss "$oci_pid")"

# Pods: a sandbox and its members, with the annotations containerd's CRI writes.
pod_member() { # pod_member BUNDLE: makes BUNDLE's config a member of bench-pod
    python3 - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["annotations"] = {"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "bench-pod"}
json.dump(c, open(sys.argv[1], "w"))
PY
}
cp -a "$work/sleeper" "$work/pod"
python3 - "$work/pod/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["annotations"] = {"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "bench-pod"}
json.dump(c, open(sys.argv[1], "w"))
PY
bash tools/mkbundle.sh --config-only "$work/bundle" /bin/true > /dev/null
pod_member "$work/bundle"
build/runtime/cocoon --root "$work/state" run -d -b "$work/pod" bench-pod < /dev/null > /dev/null 2>&1
pod_pids() { sandbox_pids bench-pod; }
member_t=() oci2_t=()
for ((n = 0; n < runs; n++)); do
    member_t+=("$(run_timed cocoon_run)")
    oci2_t+=("$(run_timed oci_run)")
done
before=$(pss $(pod_pids))
cp -a "$work/sleeper" "$work/member" && pod_member "$work/member"
build/runtime/cocoon --root "$work/state" run -d -b "$work/member" bench-member < /dev/null > /dev/null 2>&1
sleep 1
after=$(pss $(pod_pids))
printf 'pods: a container joining a running pod'"'"'s VM, median of %d runs\n' "$runs"
printf '  %-28s %6d ms\n' "cocoon run /bin/true in a pod" "$(median "${member_t[@]}")" "$oci run /bin/true" "$(median "${oci2_t[@]}")"
printf '  %-28s %6d KiB  (the pod'"'"'s PSS: %d KiB with one container, %d KiB with two)\n' "one more idle container" \
    "$((after - before))" "$before" "$after"

# The jail: the same start and idle container, jailed (the default) and with
# jail = off, interleaved.
build/runtime/cocoon --root "$work/state" delete --force bench-member > /dev/null 2>&1
build/runtime/cocoon --root "$work/state" delete --force bench-pod > /dev/null 2>&1
build/runtime/cocoon --root "$work/state" delete --force bench-exec > /dev/null 2>&1
bash tools/mkbundle.sh --config-only "$work/bundle" /bin/true > /dev/null
printf '[hypervisor]\njail = off\n' > "$work/jail-off.conf"
jail_run() { build/runtime/cocoon --root "$work/state" run -b "$work/bundle" "bench-$n"; }
nojail_run() { COCOON_CONFIG="$work/jail-off.conf" jail_run; }
jail_t=() nojail_t=() jail_pss=() nojail_pss=()
for ((n = 0; n < runs; n++)); do
    jail_t+=("$(run_timed jail_run)")
    nojail_t+=("$(run_timed nojail_run)")
done
for ((n = 0; n < (runs + 1) / 2; n++)); do
    jail_pss+=("$(idle_pss)")
    nojail_pss+=("$(idle_pss "$work/jail-off.conf")")
done
printf 'the jail, median of %d runs (start) and %d idle containers (PSS)\n' "$runs" "${#jail_pss[@]}"
printf '  %-28s %10s %10s\n' "" "jail on" "jail off"
printf '  %-28s %7d ms %7d ms\n' "cocoon run /bin/true" "$(median "${jail_t[@]}")" "$(median "${nojail_t[@]}")"
printf '  %-28s %6d KiB %6d KiB\n' "idle container PSS" "$(median "${jail_pss[@]}")" "$(median "${nojail_pss[@]}")"

kernel_section
backend_section
[[ $section == no-containerd ]] || containerd_section || true
