#!/usr/bin/env bash
# Pods: containers whose annotations name a sandbox share that sandbox's VM,
# the way containerd's and CRI-O's CRI write them. Checks the output, the exit
# status, one QEMU per pod, the namespaces shared or not, and what is left.
. "$(dirname "$0")/lib.sh"

# Replaces the namespaces of TYPES with paths: namespaces_from BUNDLE "type=path ..."
namespaces_from() {
    edit_config "$1" "
pairs = dict(p.split('=', 1) for p in '''$2'''.split())
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] not in pairs]
c['linux']['namespaces'] += [{'type': t, 'path': p} for t, p in pairs.items()]"
}

state_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# ---- containerd's annotations: the sandbox's namespaces by /proc/PID/ns ----
# containerd also writes the pod's summed limits on the sandbox: 256 MiB, one CPU.
CTD_SANDBOX='{"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pa",
  "io.kubernetes.cri.sandbox-memory": "268435456", "io.kubernetes.cri.sandbox-cpu-quota": "100000",
  "io.kubernetes.cri.sandbox-cpu-period": "100000"}'
CTD_MEMBER='{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pa"}'

mkbundle "$TEST_ROOT/pa" sh -c 'echo sandbox up; exec sleep 1000'
edit_config "$TEST_ROOT/pa" "c['annotations'] = $CTD_SANDBOX; c['hostname'] = 'podhost'"
cocoon create -b "$TEST_ROOT/pa" pa > "$TEST_ROOT/pa.out" 2>&1 && cocoon start pa
check "the sandbox (pause) container starts a VM" [ "$(cocoon state pa | state_field status)" = running ]
mem=$(cocoon exec pa sh -c "grep MemTotal /proc/meminfo" | awk '{print int($2 / 1024)}')
check "the pod's VM is sized for the pod's limits: 2 vCPUs (was $(cocoon exec pa nproc)), memory base + 256 MiB (guest sees $mem MiB)" \
    [ "$(cocoon exec pa nproc)" -eq 2 -a "$mem" -gt 600 ]
stub=$(cocoon state pa | state_field pid)
sandbox_net=$(cocoon exec pa readlink /proc/self/ns/net)
sandbox_ipc=$(cocoon exec pa readlink /proc/self/ns/ipc)

# A member sharing the sandbox's pid, ipc, uts and network namespaces, as CRI
# writes it for a pod with shareProcessNamespace.
mkbundle "$TEST_ROOT/c1" sh -c 'hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; ps -o args; exit 3'
edit_config "$TEST_ROOT/c1" "c['annotations'] = $CTD_MEMBER; c.pop('hostname', None)"
namespaces_from "$TEST_ROOT/c1" "pid=/proc/$stub/ns/pid ipc=/proc/$stub/ns/ipc uts=/proc/$stub/ns/uts network=/proc/$stub/ns/net"
out=$(cocoon run -b "$TEST_ROOT/c1" c1 2> "$TEST_ROOT/err"); status=$?
echo "$out" | diag
check "a member runs in the pod's VM and exits with its status" [ "$status" -eq 3 ]
check "it shares the sandbox's uts namespace (hostname)" [ "$(echo "$out" | sed -n 1p)" = podhost ]
check "it shares the sandbox's network namespace" [ "$(echo "$out" | sed -n 2p)" = "$sandbox_net" ]
check "it shares the sandbox's ipc namespace" [ "$(echo "$out" | sed -n 3p)" = "$sandbox_ipc" ]
check "with a shared pid namespace it sees the sandbox's process" \
    sh -c 'echo "$1" | grep -qx "sleep 1000"' _ "$out"
check "one QEMU for the pod" [ "$(pids_named qemu-system-x86 | wc -l)" -eq 1 ]
check "the member that ran is gone from the state" [ ! -e "$STATE/c1" ]

# A member whose rootfs is mounted after the sandbox started, under a
# private mount (as containers/storage keeps its overlays): the sandbox's
# supervisor cannot see that mount, so the CLI hands it the tree itself.
mkdir -p "$TEST_ROOT/private"
mount -t tmpfs tmpfs "$TEST_ROOT/private" && mount --make-private "$TEST_ROOT/private"
mkdir -p "$TEST_ROOT/private/root" "$TEST_ROOT/m1"
mount --bind "$TEST_ROOT/c1/rootfs" "$TEST_ROOT/private/root"
cp "$TEST_ROOT/c1/config.json" "$TEST_ROOT/m1/"
edit_config "$TEST_ROOT/m1" "c['root']['path'] = '$TEST_ROOT/private/root'; c['process']['args'] = ['sh', '-c', 'cat /marker']"
echo "mounted after the sandbox" > "$TEST_ROOT/c1/rootfs/marker"
out=$(cocoon run -b "$TEST_ROOT/m1" m1 2>&1); status=$?
echo "$out" | diag
check "a member's rootfs mounted after the sandbox started, under a private mount, reaches the VM" \
    [ "$status" -eq 0 -a "$out" = "mounted after the sandbox" ]
umount "$TEST_ROOT/private/root" "$TEST_ROOT/private"

# A member with its own pid namespace, created and started like CRI does.
mkbundle "$TEST_ROOT/c2" sh -c 'exec sleep 999'
edit_config "$TEST_ROOT/c2" "c['annotations'] = $CTD_MEMBER; c.pop('hostname', None)"
namespaces_from "$TEST_ROOT/c2" "ipc=/proc/$stub/ns/ipc uts=/proc/$stub/ns/uts network=/proc/$stub/ns/net"
cocoon create -b "$TEST_ROOT/c2" --pid-file "$TEST_ROOT/c2.pid" c2 > /dev/null 2>&1 && cocoon start c2
check "a second member is running" [ "$(cocoon state c2 | state_field status)" = running ]
out=$(cocoon exec c2 ps -o args)
check "with its own pid namespace it sees only its own processes" \
    sh -c 'echo "$1" | grep -qx "sleep 999" && ! echo "$1" | grep -q "sleep 1000"' _ "$out"
check "its network namespace is still the pod's" [ "$(cocoon exec c2 readlink /proc/self/ns/net)" = "$sandbox_net" ]
check "still one QEMU for the pod" [ "$(pids_named qemu-system-x86 | wc -l)" -eq 1 ]
check "list shows the sandbox and the member" [ "$(cocoon list -q | sort | tr '\n' ' ')" = "c2 pa " ]
supervisor=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisorPid"])' "$STATE/pa/state.json")
check "the member's rootfs is in the sandbox's share" grep -q "/shared/c2/rootfs" "/proc/$supervisor/mountinfo"

cocoon kill c2 KILL
for _ in $(seq 100); do [ "$(cocoon state c2 | state_field status)" = stopped ] && break; sleep 0.1; done
check "a killed member is stopped, its sandbox still runs" \
    [ "$(cocoon state c2 | state_field status)" = stopped -a "$(cocoon state pa | state_field status)" = running ]
cocoon delete c2
check "delete of a member removes its state and its share, not the VM" \
    sh -c '[ ! -e "$1/c2" ] && ! grep -q /shared/c2/ "/proc/$2/mountinfo" && kill -0 "$2"' _ "$STATE" "$supervisor"

# The same again for a member deleted while it runs.
cocoon create -b "$TEST_ROOT/c2" c3 > /dev/null 2>&1 && cocoon start c3
cocoon delete --force c3; status=$?
check "delete --force of a running member" [ "$status" -eq 0 -a ! -e "$STATE/c3" ]
check "the sandbox runs on" [ "$(cocoon state pa | state_field status)" = running ]

# A member in the sandbox's pid namespace whose init exits while its child
# lives on (and holds its stdout): the member is stopped when its init exits,
# as containerd's shim needs to stop the pod; kill --all and delete --force
# still reach the child, and the caller's stdout ends with it.
mkbundle "$TEST_ROOT/c4" sh -c 'sleep 998 & echo started; exit 3'
edit_config "$TEST_ROOT/c4" "c['annotations'] = $CTD_MEMBER; c.pop('hostname', None)"
namespaces_from "$TEST_ROOT/c4" "pid=/proc/$stub/ns/pid ipc=/proc/$stub/ns/ipc uts=/proc/$stub/ns/uts network=/proc/$stub/ns/net"
children() { cocoon exec pa ps -o args | grep -cx "sleep 998"; }
is_stopped() { [ "$(cocoon state "$1" | state_field status)" = stopped ]; }
for id in c4 c5; do
    rm -f "$TEST_ROOT/$id.eof"
    cocoon create -b "$TEST_ROOT/c4" --pid-file "$TEST_ROOT/$id.pid" $id < /dev/null 2> /dev/null \
        > >(cat > "$TEST_ROOT/$id.out"; touch "$TEST_ROOT/$id.eof") && cocoon start $id
    check "$id: a member whose init exited is stopped while its child lives on" \
        wait_for 30 is_stopped $id
    check "$id: ... its pid-file process exited" wait_for 10 sh -c '! kill -0 "$1" 2>/dev/null' _ "$(cat "$TEST_ROOT/$id.pid")"
    check "$id: ... its output came through, and its child holds its stdout" \
        sh -c '[ "$(cat "$1.out")" = started ] && [ ! -e "$1.eof" ] && [ "$2" -eq 1 ]' _ "$TEST_ROOT/$id" "$(children)"
    if [ $id = c4 ]; then
        cocoon kill --all c4 KILL; status=$?
        check "c4: kill --all of the stopped member succeeds" [ $status -eq 0 ]
        check "c4: ... and reaches the child: the caller's stdout ends" wait_for 30 test -e "$TEST_ROOT/c4.eof"
        cocoon delete c4
    else
        cocoon delete --force c5
        check "c5: delete --force of the stopped member reaches the child: the caller's stdout ends" \
            wait_for 30 test -e "$TEST_ROOT/c5.eof"
    fi
    check "$id: the child is gone, the state too, the sandbox runs on" \
        sh -c '[ "$1" -eq 0 ] && [ ! -e "$2" ] && [ "$3" = running ]' _ "$(children)" "$STATE/$id" "$(cocoon state pa | state_field status)"
done

# Bad input: nothing may be left of the container that failed.
edit_config "$TEST_ROOT/c2" "c['annotations']['io.kubernetes.cri.sandbox-id'] = 'nosuch'"
err=$(cocoon create -b "$TEST_ROOT/c2" bad1 2>&1); status=$?
check "a member of a sandbox that does not exist fails, naming it" \
    sh -c '[ "$1" -ne 0 ] && echo "$2" | grep -q "pod sandbox nosuch: container nosuch does not exist"' _ "$status" "$err"
check "and leaves no state" [ ! -e "$STATE/bad1" ]
edit_config "$TEST_ROOT/c2" "c['annotations']['io.kubernetes.cri.container-type'] = 'podman'"
err=$(cocoon create -b "$TEST_ROOT/c2" bad2 2>&1); status=$?
check "an unknown container type is refused, naming the annotation" \
    sh -c '[ "$1" -ne 0 ] && echo "$2" | grep -q "io.kubernetes.cri.container-type: unknown container type \"podman\""' _ "$status" "$err"
check "and leaves no state" [ ! -e "$STATE/bad2" ]

mkbundle "$TEST_ROOT/pbad" true
edit_config "$TEST_ROOT/pbad" "c['annotations'] = {'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-memory': 'lots'}"
err=$(cocoon create -b "$TEST_ROOT/pbad" pbad 2>&1); status=$?
check "a sandbox with an unreadable pod memory annotation is refused, naming it" \
    sh -c '[ "$1" -ne 0 ] && echo "$2" | grep -q "io.kubernetes.cri.sandbox-memory: \"lots\" is not"' _ "$status" "$err"
check "and leaves no state" [ ! -e "$STATE/pbad" ]

cocoon delete --force pa
check "deleting the sandbox stops the pod's VM; nothing is left" nothing_left

# ---- CRI-O's annotations: pinned namespaces, named by the same paths ----
if command -v unshare > /dev/null && command -v ip > /dev/null; then
    pins="$TEST_ROOT/pins"
    mkdir -p "$pins"
    touch "$pins/ipc" "$pins/uts"
    netns=cocoon-pods-$$
    unshare --ipc="$pins/ipc" --uts="$pins/uts" true && ip netns add "$netns"
    pinned="ipc=$pins/ipc uts=$pins/uts network=/run/netns/$netns"
    mkbundle "$TEST_ROOT/pb" sh -c 'exec sleep 1000'
    edit_config "$TEST_ROOT/pb" "c['annotations'] = {'io.kubernetes.cri-o.ContainerType': 'sandbox', 'io.kubernetes.cri-o.SandboxID': 'pb'}"
    namespaces_from "$TEST_ROOT/pb" "$pinned"
    cocoon create -b "$TEST_ROOT/pb" pb > /dev/null 2>&1 && cocoon start pb
    mkbundle "$TEST_ROOT/m" sh -c 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/net'
    edit_config "$TEST_ROOT/m" "c['annotations'] = {'io.kubernetes.cri-o.ContainerType': 'container', 'io.kubernetes.cri-o.SandboxID': 'pb'}"
    namespaces_from "$TEST_ROOT/m" "$pinned"
    out=$(cocoon run -b "$TEST_ROOT/m" m 2>&1); status=$?
    expected="$(cocoon exec pb readlink /proc/self/ns/ipc)
$(cocoon exec pb readlink /proc/self/ns/net)"
    check "CRI-O: a member naming the sandbox's pinned namespaces shares them in the VM" \
        [ "$status" -eq 0 -a "$out" = "$expected" ]
    check "CRI-O: one QEMU for the pod" [ "$(pids_named qemu-system-x86 | wc -l)" -eq 1 ]
    cocoon delete --force pb
    check "CRI-O: nothing left" nothing_left
    umount "$pins/ipc" "$pins/uts"
    ip netns del "$netns"
else
    ok "CRI-O pinned namespaces # SKIP unshare or ip is not installed"
fi
check "no host cgroup is left of any of the pods' containers" no_host_cgroup pa c1 m1 c2 c3 pb m

done_testing
