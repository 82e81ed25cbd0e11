#!/usr/bin/env bash
# overhead.sh [SECONDS]: what one idle cocoon container costs the host beyond
# its workload, for a RuntimeClass's overhead.podFixed
# (docs/k8s/runtimeclass.yaml). It starts `sleep` in a busybox bundle with
# `cocoon run -d`, lets it settle for 10 s, then over SECONDS (default 30)
# samples every second the memory (PSS, summed) of the supervisor, QEMU,
# virtiofsd and the stub, and counts the CPU time they use. It prints the
# largest PSS sample and the average CPU in millicores. Needs a build
# (tools/setup.sh); run it on an otherwise idle host.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "overhead: SECONDS must be a positive number, not '$secs'" >&2; exit 2; }
cocoon=build/runtime/cocoon
[[ -x $cocoon ]] || { echo "overhead: $cocoon is missing: run tools/setup.sh first" >&2; exit 1; }

work=$(mktemp -d /tmp/cocoon-overhead.XXXXXX)
trap '"$cocoon" --root "$work/state" delete --force idle > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
bash tools/mkbundle.sh "$work/bundle" sleep 1000000 > /dev/null
"$cocoon" --root "$work/state" run -d -b "$work/bundle" idle < /dev/null > /dev/null 2>&1
sleep 10

# The sandbox's processes: the supervisor (working in its state directory),
# QEMU and virtiofsd (COCOON_SANDBOX=<state dir> in their environment) and
# the stub (its pid is the state's).
stub=$("$cocoon" --root "$work/state" state idle | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
pids=$(for d in /proc/[0-9]*; do
    case $(readlink "$d/cwd" 2>/dev/null) in "$work/state/idle" | "$work/state/idle"/*) echo "${d#/proc/}"; continue ;; esac
    # (|| true: the loop's status is its last test's, which set -e must not see.)
    tr '\0' '\n' 2>/dev/null < "$d/environ" | grep -qx "COCOON_SANDBOX=$work/state/idle" && echo "${d#/proc/}" || true
done)
pids="$pids $stub"
pss_kib() { local p t=0; for p in $pids; do t=$((t + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done; echo $t; }
# utime + stime of all of them, in clock ticks (fields 14 and 15 of stat; comm has no spaces here).
cpu_ticks() { local p t=0; for p in $pids; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }

hz=$(getconf CLK_TCK)
start_ticks=$(cpu_ticks) start_ns=$(date +%s%N) max=0
for ((i = 0; i < secs; i++)); do
    sleep 1
    kib=$(pss_kib)
    (( kib > max )) && max=$kib
done
ticks=$(( $(cpu_ticks) - start_ticks )) elapsed_ns=$(( $(date +%s%N) - start_ns ))
# As the QEMU backend decides: KVM only with a hardware back end (a PVM /dev/kvm does not count).
accel=TCG; [[ -w /dev/kvm && ( -e /sys/module/kvm_intel || -e /sys/module/kvm_amd ) ]] && accel=KVM
printf 'one idle container (%s, %d processes: supervisor, QEMU, virtiofsd, stub), over %d s\n' \
    "$accel" "$(echo $pids | wc -w)" "$secs"
printf '  memory (PSS, largest sample) %6d KiB = %d MiB\n' "$max" $(( (max + 1023) / 1024 ))
printf '  cpu (average)                %6d millicores\n' $(( ticks * 1000 * 1000000000 / hz / elapsed_ns ))
