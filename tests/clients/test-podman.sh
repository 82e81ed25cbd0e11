#!/usr/bin/env bash
# podman drives cocoon (--runtime by path) through conmon, as a user would:
# run, a terminal, detached containers with logs, exec, pause, stop, kill,
# rm -f, resource limits, a volume, the default network, and a pod. podman keeps its images, containers
# and state in this run's temporary directory and reads no containers.conf of
# the host; cocoon keeps its state where podman lets it (root podman passes
# no --root to a runtime: /run/cocoon/ID). After each case nothing of it is
# left: no VM, virtiofsd or supervisor, no mount, no state, no host cgroup.
# podman-libvirt runs it again with backend = libvirt (COCOON_BACKEND=libvirt,
# COCOON_CONFIG naming a libvirt cocoon.conf).
. "$(dirname "$0")/lib.sh"

need podman conmon
RUNTIME_ROOT=/run/cocoon
PD="$TEST_ROOT/podman"
mkdir -p "$PD/tmp"
# No host containers.conf: this one is empty, so podman's own defaults apply
# (no default_ulimits: RLIMIT_NOFILE 1048576, which runc cannot set here).
: > "$PD/containers.conf"
# podman gives conmon, and so the runtime's create, only the environment
# conmon_env_vars names: a cocoon.conf other than /etc/cocoon's must be named
# there (podman-libvirt's selects backend = libvirt).
if [ -n "${COCOON_CONFIG:-}" ]; then
    printf '[engine]\nconmon_env_vars = ["PATH=%s", "COCOON_CONFIG=%s"]\n' "$PATH" "$COCOON_CONFIG" > "$PD/containers.conf"
fi
export CONTAINERS_CONF="$PD/containers.conf"
# podman with its own storage and state, and cocoon by path; a script, so
# that a terminal session (on_pty) runs the same.
printf '#!/bin/sh\nexec podman %s "$@"\n' "--root $PD/root --runroot $PD/runroot --tmpdir $PD/tmp --storage-driver overlay \
--cgroup-manager cgroupfs --events-backend file --runtime $COCOON" > "$PD/pm"
chmod +x "$PD/pm"
pm() { "$PD/pm" "$@"; }
test_teardown() {
    pm rm -af -t 0 > /dev/null 2>&1
    pm rmi -af > /dev/null 2>&1
}
IMG=localhost/busybox:latest
run_opts=(--network none)

# clean ID [CGROUP_PARENT]: the container is gone from podman and nothing of
# it is left (its host cgroup was CGROUP_PARENT/libpod-ID; a pod's are under
# libpod_parent/POD_ID).
clean() {
    if pm container exists "$1"; then
        echo "podman still has $1" | diag
        return 1
    fi
    host_cgroup_gone "${2:-libpod_parent}/libpod-$1" && nothing_left "$RUNTIME_ROOT/$1"
}
id_of() { pm inspect --format '{{.Id}}' "$1"; }
state_of() { pm inspect --format '{{.State.Status}}' "$1"; }
logs_have() { pm logs "$1" 2>&1 | grep -qx -- "$2"; }

"$MKIMAGE" "$TEST_ROOT/busybox/rootfs" "$TEST_ROOT/again.tar" sh
check "mkimage: the same rootfs gives the same archive, byte for byte" cmp -s "$IMAGE_TAR" "$TEST_ROOT/again.tar"
out=$(pm load -i "$IMAGE_TAR" 2>&1)
check "podman load takes the OCI archive tools/mkimage.sh made" has "$out" "Loaded image: $IMG"
check "podman has it with its default command" \
    has "$(pm image inspect --format '{{.RepoTags}} {{.Config.Cmd}}' "$IMG" 2>&1)" "localhost/busybox:latest.*\[sh\]"

# 1. run --rm: output, exit status, and the rlimit podman asks for.
out=$(pm run --rm --cidfile "$TEST_ROOT/run.cid" "${run_opts[@]}" "$IMG" \
    sh -c 'echo out; echo err >&2; echo nofile=$(ulimit -n); exit 3' 2>&1)
status=$?
check "run --rm: the exit status is the workload's (3)" [ "$status" = 3 ]
check "run --rm: stdout reaches the caller" has "$out" '^out$'
check "run --rm: stderr reaches the caller" has "$out" '^err$'
check "run --rm: podman's RLIMIT_NOFILE (1048576) applies in the guest without default_ulimits" \
    has "$out" '^nofile=1048576$'
check "run --rm: nothing left" clean "$(cat "$TEST_ROOT/run.cid")"

# 2. -it: a terminal in the guest, typed input, exit status.
terminal_case "run -it" "$PD/pm run -it --rm --cidfile $TEST_ROOT/it.cid --network none $IMG"
check "run -it: nothing left" clean "$(cat "$TEST_ROOT/it.cid")"

# 3. A detached container: logs, exec, exec -i, exec -t, pause/unpause, stop.
pm run -d --name d1 "${run_opts[@]}" "$IMG" \
    sh -c 'echo started; trap "echo got TERM; exit 42" TERM; while :; do sleep 0.2; done' > /dev/null
id=$(id_of d1)
check "run -d: logs show the container's output" wait_for 60 logs_have d1 started
check "run -d: inspect says running" [ "$(state_of d1)" = running ]
if [ "${COCOON_BACKEND:-qemu}" = libvirt ]; then
    # podman's environment, COCOON_CONFIG with it, reaches cocoon through conmon: the VM is a libvirt domain.
    check "run -d: the container's VM is a libvirt domain (backend = libvirt)" \
        sh -c 'for d in $(virsh -c qemu:///system -q list --name); do
                   [ "$(virsh -c qemu:///system desc "$d")" = "$1" ] && exit 0; done; exit 1' _ "$RUNTIME_ROOT/$id"
fi
out=$(pm exec d1 sh -c 'echo exec-out; echo exec-err >&2; exit 9' 2>&1)
status=$?
check "exec: the exit status is the process's (9)" [ "$status" = 9 ]
check "exec: its stdout reaches the caller" has "$out" '^exec-out$'
check "exec: its stderr reaches the caller" has "$out" '^exec-err$'
check "exec -i: stdin reaches the process" has "$(echo piped-in | pm exec -i d1 cat 2>&1)" '^piped-in$'
on_pty "$TEST_ROOT/exec-t.out" '' '' "$PD/pm exec -t d1 sh -c 'tty; exit 5'"
status=$?
check "exec -t: the exit status is the process's (5)" [ "$status" = 5 ]
check "exec -t: its stdin is a terminal" has "$(tr -d '\r' < "$TEST_ROOT/exec-t.out")" '^/dev/pts/[0-9]+$'
pm pause d1 > /dev/null
check "pause: inspect says paused" [ "$(state_of d1)" = paused ]
pm unpause d1 > /dev/null
check "unpause: inspect says running" [ "$(state_of d1)" = running ]
check "unpause: exec works again" has "$(pm exec d1 echo thawed 2>&1)" '^thawed$'
pm stop -t 20 d1 > /dev/null
check "stop: SIGTERM reaches the workload, which exits 42 (podman wait)" [ "$(pm wait d1 2>&1)" = 42 ]
check "stop: inspect has exit code 42 and state exited" \
    [ "$(pm inspect --format '{{.State.ExitCode}} {{.State.Status}}' d1)" = "42 exited" ]
check "stop: the trap's output is in the logs" logs_have d1 "got TERM"
pm rm d1 > /dev/null
check "stop + rm: nothing left" clean "$id"

# 4. kill: SIGKILL, exit status 137.
pm run -d --name k1 "${run_opts[@]}" "$IMG" sleep 1000 > /dev/null
id=$(id_of k1)
pm kill k1 > /dev/null
check "kill: podman wait says 137" [ "$(pm wait k1 2>&1)" = 137 ]
check "kill: inspect has exit code 137" [ "$(pm inspect --format '{{.State.ExitCode}}' k1)" = 137 ]
pm rm k1 > /dev/null
check "kill + rm: nothing left" clean "$id"

# 5. rm -f of a running container.
pm run -d --name r1 "${run_opts[@]}" "$IMG" sleep 1000 > /dev/null
id=$(id_of r1)
check "rm -f: the container runs first" [ "$(state_of r1)" = running ]
# What clean looks for is there while it runs: the checks look in the right places.
check "rm -f: while it runs, its VM works in /run/cocoon/ID" test -n "$(pids_in_root "$RUNTIME_ROOT/$id")"
check "rm -f: while it runs, its host cgroup is podman's cgroupsPath" \
    test -n "$(ls -d /sys/fs/cgroup/*/libpod_parent/libpod-"$id" 2> /dev/null)"
pm rm -f -t 1 r1 > /dev/null 2>&1
check "rm -f: nothing left" clean "$id"

# 6. Limits in the guest, read where the container finds its own cgroup
# (/sys/fs/cgroup, as with crun without a cgroup namespace), and a volume
# read and written.
vol="$TEST_ROOT/vol"
mkdir -p "$vol"
echo from-host > "$vol/in.txt"
out=$(pm run --rm --cidfile "$TEST_ROOT/res.cid" "${run_opts[@]}" --memory 64m --cpus 1.5 --pids-limit 50 \
    -v "$vol:/data" "$IMG" sh -c 'cd /sys/fs/cgroup; echo mem=$(cat memory.max) cpu=$(cat cpu.max) pids=$(cat pids.max);
        cat /data/in.txt; echo from-guest > /data/out.txt' 2>&1)
status=$?
check "limits: the run succeeds" [ "$status" = 0 ]
check "limits: --memory 64m is memory.max" has "$out" 'mem=67108864 '
check "limits: --cpus 1.5 is cpu.max" has "$out" 'cpu=150000 100000 '
check "limits: --pids-limit 50 is pids.max" has "$out" 'pids=50$'
check "volume: the guest reads the host's file" has "$out" '^from-host$'
check "volume: the host sees the guest's file" [ "$(cat "$vol/out.txt" 2>/dev/null)" = from-guest ]
check "limits and volume: nothing left" clean "$(cat "$TEST_ROOT/res.cid")"

# 7. podman's default network (netavark's bridge): the container's address
# in the guest, a published port reaching a server in the VM, and the
# container reaching a server on the host through its gateway. (No wget -T:
# Debian's static busybox crashes with it.)
port=$((20000 + $$ % 20000))
fetch() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end="")' "$1" 2>/dev/null; }
mkdir -p "$TEST_ROOT/www" && echo served-from-the-host > "$TEST_ROOT/www/host.txt"
python3 -m http.server --bind 0.0.0.0 --directory "$TEST_ROOT/www" $((port + 1)) > /dev/null 2>&1 &
host_server=$!
pm run -d --name web -p "127.0.0.1:$port:8000" "$IMG" sh -c \
    'mkdir /w && echo served-from-the-vm > /w/index.html && exec httpd -f -p 8000 -h /w' > /dev/null
id=$(id_of web)
ip=$(pm inspect --format '{{.NetworkSettings.IPAddress}}' web)
page() { [ "$(fetch "http://127.0.0.1:$port/")" = served-from-the-vm ]; }
check "network: a published port reaches the server in the VM" wait_for 60 page
check "network: the guest's eth0 has the address podman gave ($ip)" \
    has "$(pm exec web ip -o -4 addr show eth0 2>&1)" "inet $ip/"
gw=$(pm exec web ip route 2>&1 | awk '/^default/ { print $3 }')
check "network: the container reaches a server on the host at its gateway ($gw)" \
    has "$(pm exec web timeout 10 wget -q -O- "http://$gw:$((port + 1))/host.txt" 2>&1)" '^served-from-the-host$'
check "network: podman's resolv.conf reached the guest" has "$(pm exec web cat /etc/resolv.conf 2>&1)" '^nameserver '
pm rm -f -t 0 web > /dev/null 2>&1
kill "$host_server"
check "network: nothing left" clean "$id"
check "network: no cocoon interface left on the host (the libvirt backend's taps and veths)" \
    sh -c '[ -z "$(ip -o link show | grep -E ": cocoon[tvp][0-9a-f]+[@:]")" ]'

# 8. A podman pod: podman marks its containers with CRI-O's annotations, so
# the infra container boots the pod's VM and the others join it, sharing
# its network and uts namespaces.
pod=$(pm pod create --name pod1)
pm pod start pod1 > /dev/null
infra=$(pm pod inspect --format '{{.InfraContainerID}}' pod1)
out=$(pm run --rm --pod pod1 "$IMG" sh -c 'hostname; ip -o -4 addr show eth0' 2>&1)
status=$?
echo "$out" | diag
check "pod: a container runs in the pod" [ "$status" = 0 ]
check "pod: it has the pod's hostname" has "$out" '^pod1$'
check "pod: it has the pod's address on eth0" \
    has "$out" "inet $(pm inspect --format '{{.NetworkSettings.IPAddress}}' "$infra")/"
pm run -d --name pm1 --pod pod1 "$IMG" sleep 1000 > /dev/null
member=$(id_of pm1)
qemus=$(pids_named 'qemu-system*' "$RUNTIME_ROOT/$infra" | wc -l)
check "pod: one QEMU for the infra container and its members" [ "$qemus" = 1 ]
check "pod: the member's state names the infra container as its sandbox" \
    grep -q "\"sandbox\":\"$infra\"" "$RUNTIME_ROOT/$member/state.json"
check "pod: while it runs, the member's host cgroup is in the pod's" \
    test -n "$(ls -d /sys/fs/cgroup/*/libpod_parent/"$pod"/libpod-"$member" 2> /dev/null)"
pm pod rm -f -t 0 pod1 > /dev/null 2>&1
check "pod: after pod rm nothing is left of the infra container" clean "$infra" "libpod_parent/$pod"
check "pod: nor of the member" clean "$member" "libpod_parent/$pod"

done_testing
