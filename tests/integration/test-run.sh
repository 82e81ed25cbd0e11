#!/usr/bin/env bash
# cocoon run, end to end: each case boots a real microVM (TCG here) and then
# checks the output, the exit status, and that nothing is left on the host.
. "$(dirname "$0")/lib.sh"

B="$TEST_ROOT/bundle"
mkbundle "$B" echo hello from the guest
touch "$B/rootfs/bundle-marker"

# run_case NAME: runs `cocoon run` on $B, captures stdout, stderr, status.
run_case() {
    local id=$1; shift
    out=$(cocoon run --bundle "$B" "$id" "$@" 2> "$TEST_ROOT/stderr"); status=$?
    err=$(cat "$TEST_ROOT/stderr")
}

run_case echo
check "echo: output reaches stdout" [ "$out" = "hello from the guest" ]
check "echo: exit status 0" [ "$status" -eq 0 ]
check "echo: nothing left on the host" nothing_left

# How long the guest may take to boot follows the accelerator: 300 s
# emulated (a loaded host's TCG boots take a minute or more), 60 s with KVM.
cocoon --debug create --bundle "$B" timeout > /dev/null 2>&1
log="$STATE/timeout/supervisor.log"
if grep -q "TCG emulation" "$log"; then want=300; else want=60; fi
check "with no boot_timeout set, the agent gets the accelerator's default ($want s)" \
    grep -q "waiting up to $want s for the guest agent" "$log"
cocoon delete --force timeout
check "timeout: nothing left on the host" nothing_left

mkbundle --config-only "$B" sh -c 'echo to-stderr >&2; exit 3'
run_case status
check "exit status 3 comes back as 3" [ "$status" -eq 3 ]
check "stderr is relayed separately" [ "$err" = "to-stderr" -a -z "$out" ]
check "status: nothing left on the host" nothing_left

# Without a pid namespace the shell is not an init, so it can kill itself.
mkbundle --config-only "$B" sh -c 'kill -9 $$'
python3 - "$B/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
json.dump(c, open(sys.argv[1], "w"))
PY
run_case signal
check "a process killed by SIGKILL makes run exit 137" [ "$status" -eq 137 ]

# A signal sent to `cocoon run` reaches the container's process.
mkbundle --config-only "$B" sh -c 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'
"$COCOON" --root "$STATE" run -b "$B" forward > "$TEST_ROOT/forward.out" 2>&1 &
runpid=$!
for _ in $(seq 600); do grep -q ready "$TEST_ROOT/forward.out" && break; sleep 0.1; done
kill -TERM "$runpid"
wait "$runpid"; status=$?
check "SIGTERM to cocoon run is forwarded to the container" \
    sh -c 'grep -q "got TERM" "$1" && [ "$2" -eq 42 ]' _ "$TEST_ROOT/forward.out" "$status"
check "signal: nothing left on the host" nothing_left

mkbundle --config-only "$B" cat
out=$(printf 'line one\nline two\n' | cocoon run -b "$B" stdin 2>&1); status=$?
check "stdin is piped through cat" [ "$out" = "$(printf 'line one\nline two')" -a "$status" -eq 0 ]
head -c 2000000 /dev/urandom > "$TEST_ROOT/big"
sum=$(cocoon run -b "$B" bigstdin < "$TEST_ROOT/big" | md5sum)
check "2 MB through stdin and back arrive intact" [ "$sum" = "$(md5sum < "$TEST_ROOT/big")" ]
out=$(cocoon run -b "$B" closedstdin 0<&- 2>&1); status=$?
check "a closed stdin reads as empty" [ -z "$out" -a "$status" -eq 0 ]
check "stdin: nothing left on the host" nothing_left

mkbundle --config-only "$B" uname -r
run_case uname
echo "guest: $out, host: $(uname -r)" | diag
check "uname -r in the container is the guest kernel's, not the host's" \
    [ -n "$out" -a "$out" != "$(uname -r)" -a "$status" -eq 0 ]

mkbundle --config-only "$B" sh -c 'echo pid=$$; hostname; ls /; ls /dev; cut -d" " -f2,3 /proc/mounts; echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1'
run_case rootfs
echo "$out" | diag
check "the process is pid 1 of its own pid namespace" sh -c 'echo "$1" | grep -qx pid=1' _ "$out"
check "it has the bundle's hostname and sees the bundle's rootfs" \
    sh -c 'echo "$1" | grep -qx cocoon && echo "$1" | grep -qx bundle-marker' _ "$out"
check "the spec's mounts are there: proc, /dev tmpfs, devpts, shm, mqueue, sysfs" \
    sh -c 'for m in "/proc proc" "/dev tmpfs" "/dev/pts devpts" "/dev/shm tmpfs" "/dev/mqueue mqueue" "/sys sysfs"; do
               echo "$1" | grep -qx "$m" || exit 1; done' _ "$out"
check "/dev has the default devices, and they work" \
    sh -c 'for d in null zero full random urandom tty ptmx fd stdin stdout stderr; do
               echo "$1" | grep -qx "$d" || exit 1; done; echo "$1" | grep -q "^ 00 00 00 00$"' _ "$out"

# With process.terminal the process gets a pty of the container's own devpts,
# sized like ours (script(1) gives the run a terminal).
mkbundle --config-only "$B" sh -c 'tty; stty size; exit 4'
python3 - "$B/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = True
json.dump(c, open(sys.argv[1], "w"))
PY
# (script echoes a stray ^@ into the pty when its own stdin is /dev/null.)
script -qec "stty rows 30 cols 100; $COCOON --root $STATE run -b $B terminal" /dev/null < /dev/null > "$TEST_ROOT/tty.out"
status=$?
out=$(tr -d '\r' < "$TEST_ROOT/tty.out")
echo "$out" | diag
check "a terminal process sees its pty, sized like the caller's" \
    sh -c 'echo "$1" | grep -q "/dev/pts/0$" && echo "$1" | grep -qx "30 100"' _ "$out"
check "terminal: exit status 4 comes back" [ "$status" -eq 4 ]
check "terminal: nothing left on the host" nothing_left

# Volumes: bind mounts of host paths reach the guest through the share, rw
# and ro as the spec says, files and directories alike.
mkdir -p "$TEST_ROOT/vol" "$TEST_ROOT/rovol"
echo from-host > "$TEST_ROOT/vol/h.txt"; echo ro-host > "$TEST_ROOT/rovol/r.txt"; echo hosts-file > "$TEST_ROOT/hosts"
mkbundle --config-only "$B" sh -c 'cat /data/h.txt; echo from-guest > /data/g.txt; cat /ro/r.txt; touch /ro/w 2>/dev/null || echo ro-refused; cat /etc/hosts'
python3 - "$B/config.json" "$TEST_ROOT" <<'PY'
import json, sys
p, root = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["mounts"] += [
    {"destination": "/data", "type": "bind", "source": root + "/vol", "options": ["rbind", "rw"]},
    {"destination": "/ro", "type": "bind", "source": root + "/rovol", "options": ["rbind", "ro"]},
    {"destination": "/etc/hosts", "type": "bind", "source": root + "/hosts", "options": ["bind", "ro"]},
]
json.dump(c, open(p, "w"))
PY
run_case volumes
check "volumes: the container reads host files, and ro refuses writes" \
    [ "$out" = "$(printf 'from-host\nro-host\nro-refused\nhosts-file')" -a "$status" -eq 0 ]
check "volumes: a file written in the container lands on the host" grep -qx from-guest "$TEST_ROOT/vol/g.txt"
check "volumes: nothing left on the host" nothing_left
mkbundle --config-only "$B" true
python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]}); json.dump(c, open(p, "w"))' "$B/config.json"
run_case badvolume
check "a missing volume source is a clear error" sh -c 'echo "$1" | grep -q "/no/such/dir" && [ "$2" -ne 0 ]' _ "$err" "$status"
check "badvolume: nothing left on the host" nothing_left

# If QEMU dies under a running container, run says so and exits 137.
mkbundle --config-only "$B" sh -c 'echo up; sleep 60'
"$COCOON" --root "$STATE" run -b "$B" vmdies > "$TEST_ROOT/vmdies.out" 2> "$TEST_ROOT/vmdies.err" &
runpid=$!
for _ in $(seq 600); do grep -q up "$TEST_ROOT/vmdies.out" && break; sleep 0.1; done
for p in $(pids_in_root); do
    case $(tr '\0' ' ' < /proc/$p/cmdline) in *qemu-system*) kill -9 "$p" ;; esac
done
wait "$runpid"; status=$?
check "when the VM is killed, run exits 137 and says why" \
    sh -c '[ "$2" -eq 137 ] && grep -q "VM stopped unexpectedly" "$1"' _ "$TEST_ROOT/vmdies.err" "$status"
check "vmdies: nothing left on the host" nothing_left

mkbundle --config-only "$B" no-such-program
run_case notfound
check "a missing executable is a clear error" \
    sh -c 'echo "$1" | grep -q "executable file not found" && [ "$2" -ne 0 ]' _ "$err" "$status"
check "notfound: nothing left on the host" nothing_left

# Bad input: clear errors, non-zero exits, nothing created.
out=$(cocoon run --bundle "$TEST_ROOT/no-such-bundle" missing 2>&1); status=$?
check "a missing bundle is a clear error" sh -c 'echo "$1" | grep -q "no-such-bundle" && [ "$2" -ne 0 ]' _ "$out" "$status"
mkdir -p "$TEST_ROOT/bad" && echo '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": "sh"}}' > "$TEST_ROOT/bad/config.json"
out=$(cocoon run --bundle "$TEST_ROOT/bad" invalid 2>&1); status=$?
check "an invalid config.json names the field" sh -c 'echo "$1" | grep -q "process.args" && [ "$2" -ne 0 ]' _ "$out" "$status"
echo '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["sh"]}}' > "$TEST_ROOT/bad/config.json"
out=$(cocoon run --bundle "$TEST_ROOT/bad" noroot 2>&1); status=$?
check "a missing rootfs is a clear error" sh -c 'echo "$1" | grep -q "root.path" && [ "$2" -ne 0 ]' _ "$out" "$status"
out=$(cocoon run --bundle "$B" "../escape" 2>&1); status=$?
check "an invalid container id is refused" sh -c 'echo "$1" | grep -q "invalid container id" && [ "$2" -ne 0 ]' _ "$out" "$status"
# linux.timeOffsets: written into the new time namespace before the process
# enters it; an exec joins the same namespace and sees them too.
mkbundle "$TEST_ROOT/timens" sh -c 'cat /proc/self/timens_offsets; sleep 30'
edit_config "$TEST_ROOT/timens" "c['linux']['namespaces'].append({'type': 'time'})
c['linux']['timeOffsets'] = {'monotonic': {'secs': 7881, 'nanosecs': 2718281}, 'boottime': {'secs': 1337, 'nanosecs': 3141519}}"
offsets_ok() { echo "$1" | grep -Eq '^monotonic +7881 +2718281$' && echo "$1" | grep -Eq '^boottime +1337 +3141519$'; }
cocoon create --bundle "$TEST_ROOT/timens" timens < /dev/null > "$TEST_ROOT/timens.out" 2>&1
out=$(cocoon exec timens cat /proc/self/timens_offsets 2>&1)
check "linux.timeOffsets: an exec sees the container's clock offsets" offsets_ok "$out"
cocoon delete -f timens > /dev/null 2>&1
edit_config "$TEST_ROOT/timens" "c['process']['args'] = ['cat', '/proc/self/timens_offsets']"
out=$(cocoon run --bundle "$TEST_ROOT/timens" timens 2>&1)
check "linux.timeOffsets: the container's process runs with them" offsets_ok "$out"
edit_config "$TEST_ROOT/timens" "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'time']"
check "linux.timeOffsets without a time namespace is refused" \
    expect_fail "linux.timeOffsets: needs a new time namespace" cocoon run --bundle "$TEST_ROOT/timens" timens
check "timens: nothing left on the host" nothing_left

# A read-only rootfs whose mount point is a chain of dangling symlinks: the
# mount point is made where the chain ends, inside the rootfs, as runc makes it.
mkbundle "$TEST_ROOT/dangle" cat /tmp/foo/bar/baz/hosts
ln -s /tmp/foo/bar "$TEST_ROOT/dangle/rootfs/jump" && ln -sf /jump/baz/hosts "$TEST_ROOT/dangle/rootfs/etc/hosts"
echo "bound through the links" > "$TEST_ROOT/hosts-src"
edit_config "$TEST_ROOT/dangle" "c['root']['readonly'] = True
c['mounts'].append({'destination': '/etc/hosts', 'type': 'bind', 'source': '$TEST_ROOT/hosts-src', 'options': ['bind', 'ro']})"
out=$(cocoon run --bundle "$TEST_ROOT/dangle" dangle 2>&1); status=$?
check "a bind mount through dangling symlinks in a read-only rootfs lands at their end" \
    sh -c '[ "$2" -eq 0 ] && [ "$1" = "bound through the links" ]' _ "$out" "$status"
check "...which is inside the rootfs" [ -f "$TEST_ROOT/dangle/rootfs/tmp/foo/bar/baz/hosts" ]

# An image whose /proc is a symlink: proc would land where maskedPaths do not reach.
mkbundle "$TEST_ROOT/symproc" true
rmdir "$TEST_ROOT/symproc/rootfs/proc" && mkdir "$TEST_ROOT/symproc/rootfs/bad-proc" && ln -s /bad-proc "$TEST_ROOT/symproc/rootfs/proc"
check "proc on a symlinked /proc is refused, as runc refuses it" \
    expect_fail 'filesystem "proc" must be mounted on ordinary directory' cocoon run --bundle "$TEST_ROOT/symproc" symproc
check "...and nothing was mounted through it" [ -z "$(ls -A "$TEST_ROOT/symproc/rootfs/bad-proc")" ]
check "bad input: nothing left on the host" nothing_left

done_testing
