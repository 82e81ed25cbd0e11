#!/usr/bin/env bash
# The OCI lifecycle as containerd's shim and conmon drive it, black-box: the
# runtime binary comes from $RUNTIME, so the same checks run against cocoon
# and against Debian's runc. Run it under tests/helpers/subreaper (as the
# shim is a subreaper): pid-file processes are reparented to it and their
# exit statuses land in $REAPED_LOG.
. "$(dirname "$0")/lib.sh"

: "${RUNTIME:?set RUNTIME to the runtime binary (cocoon or runc)}"
: "${RECVTTY:?set RECVTTY to tests/helpers/recvtty}"
: "${REAPED_LOG:?run under tests/helpers/subreaper with REAPED_LOG set}"
if ! command -v "$RUNTIME" > /dev/null; then
    echo "Bail out! $RUNTIME is not installed (tools/setup.sh installs it)"
    exit 1
fi
name=$(basename "$RUNTIME")
rt() { "$RUNTIME" --root "$STATE" "$@"; }
: > "$REAPED_LOG"
B="$TEST_ROOT/bundles"

# Also whatever runs in a runc container (its root is the bundle's rootfs),
# and any stub (its command line names the state root).
strays() {
    local d
    for d in /proc/[0-9]*; do
        [ "${d#/proc/}" = "$$" ] && continue
        case $(readlink "$d/root" 2>/dev/null) in "$B"/*) echo "${d#/proc/}"; continue ;; esac
        tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -- "--root $STATE " && echo "${d#/proc/}"
    done
}
clean() {
    local s; s=$(strays)
    if [ -n "$s" ]; then
        echo "still running: $s" | diag
        return 1
    fi
    # No host cgroup of this suite's containers (cocoon's default place for them).
    s=$(ls -d /sys/fs/cgroup/cocoon/c[0-9] /sys/fs/cgroup/*/cocoon/c[0-9] 2>/dev/null)
    if [ -n "$s" ]; then
        echo "host cgroups left: $s" | diag
        return 1
    fi
    nothing_left
}

# wait_reaped PID: prints the exit status the subreaper saw (waits up to 60 s).
wait_reaped() {
    local i
    for i in $(seq 600); do
        if grep -q "^$1 " "$REAPED_LOG"; then
            grep "^$1 " "$REAPED_LOG" | tail -1 | cut -d' ' -f2
            return 0
        fi
        sleep 0.1
    done
    echo "timeout"
}
status_of() { rt state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
# Stopped, or gone (runc destroys a container whose start failed).
not_running() { local s; s=$(status_of "$1"); [ -z "$s" ] || [ "$s" = stopped ]; }
# wait_status ID STATUS: the status changes asynchronously after a kill.
wait_status() {
    local i
    for i in $(seq 100); do
        [ "$(status_of "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# bundle NAME [terminal] -- ARGS...
bundle() {
    local dir="$B/$1" tty=$2; shift 3
    mkbundle "$dir" "$@"
    if [ "$tty" = terminal ]; then
        python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["process"]["terminal"]=True; json.dump(c,open(p,"w"))' "$dir/config.json"
    fi
}
cd "$TEST_ROOT"

# 1. create, start, state, kill, delete; the pid-file process and its status.
bundle sleeper plain -- sleep 300
# The host cgroup: the pid-file process is accounted to cgroupsPath (containerd reads it for metrics).
CG="cocoon-test-$$"
bundle cgsleeper plain -- sleep 300
python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["linux"]["cgroupsPath"]="/" + sys.argv[2] + "/c1"; json.dump(c,open(p,"w"))' "$B/cgsleeper/config.json" "$CG"
in_cgroup() { grep -q ":pids:/$CG/c1\$\|^0::/$CG/c1\$" "/proc/$1/cgroup"; }
rt create --bundle "$B/cgsleeper" --pid-file "$TEST_ROOT/c1.pid" c1 > "$TEST_ROOT/c1.out" 2>&1 < /dev/null
check "$name: create exits 0 and writes the pid file" test -s "$TEST_ROOT/c1.pid"
pid=$(cat "$TEST_ROOT/c1.pid" 2>/dev/null)
st=$(rt state c1)
check "$name: state says created, with the pid-file pid" python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(not (s["status"] == "created" and s["pid"] == int(sys.argv[2]) and s["id"] == "c1" and s["bundle"].endswith("/cgsleeper") and s["created"].endswith("Z")))' "$st" "$pid"
check "$name: the pid-file process is alive and is not the caller's child" sh -c "kill -0 $pid && [ \$(awk '{print \$4}' /proc/$pid/stat) != $$ ]"
check "$name: the pid-file process is in the host cgroup of cgroupsPath" in_cgroup "$pid"
rt start c1
check "$name: start makes it running" wait_status c1 running
check "$name: starting it again is refused" expect_fail "running\|not in the created state\|cannot start" rt start c1
check "$name: delete without --force refuses a running container" expect_fail "not stopped\|running" rt delete c1
check "$name: list shows it" sh -c "'$RUNTIME' --root '$STATE' list | grep -q '^c1 .*running'"
check "$name: list -q and --format json" sh -c "'$RUNTIME' --root '$STATE' list -q | grep -qx c1 && '$RUNTIME' --root '$STATE' list --format json | python3 -c 'import json,sys; l=json.load(sys.stdin); sys.exit(l[0][\"id\"] != \"c1\")'"
rt kill c1 KILL
check "$name: the pid-file process exits 137 after kill KILL" [ "$(wait_reaped "$pid")" = 137 ]
check "$name: state says stopped" wait_status c1 stopped
check "$name: kill of a stopped container is an error" expect_fail "not running" rt kill c1 KILL
rt delete c1
check "$name: delete leaves nothing" clean
check "$name: delete removes the host cgroup" sh -c "! ls -d /sys/fs/cgroup/$CG/c1 /sys/fs/cgroup/*/$CG/c1 2>/dev/null | grep -q ."
# The parent is the test's own: neither runtime removes a parent it did not make.
for d in /sys/fs/cgroup/$CG /sys/fs/cgroup/*/$CG; do [ -d "$d" ] && rmdir "$d"; done
check "$name: and the test's parent cgroup is gone with it" sh -c "! ls -d /sys/fs/cgroup/$CG /sys/fs/cgroup/*/$CG 2>/dev/null | grep -q ."

# 2. The workload's exit status and output reach the caller through the stub;
# the host-side hooks run at their points with the state on stdin.
bundle exit3 plain -- sh -c 'echo out; echo err >&2; exit 3'
printf '#!/bin/sh\ncat > "%s/hook-$1.json"\n' "$TEST_ROOT" > "$TEST_ROOT/hook.sh"
chmod +x "$TEST_ROOT/hook.sh"
python3 - "$B/exit3/config.json" "$TEST_ROOT/hook.sh" <<'PY'
import json, sys
p, hook = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["hooks"] = {k: [{"path": hook, "args": ["hook.sh", k]}] for k in ("createRuntime", "poststart", "poststop")}
json.dump(c, open(p, "w"))
PY
rt create --bundle "$B/exit3" --pid-file "$TEST_ROOT/c2.pid" c2 > "$TEST_ROOT/c2.out" 2> "$TEST_ROOT/c2.err" < /dev/null
rt start c2
check "$name: the pid-file process exits with the workload's status (3)" [ "$(wait_reaped "$(cat "$TEST_ROOT/c2.pid")")" = 3 ]
if [ "$name" != runc ]; then
    # A stopped container nobody deleted yet gives its VM's memory back: no QEMU, virtiofsd or supervisor.
    no_vm() { [ -z "$(pids_in_root)" ]; }
    check "$name: once its process exited, the container's VM is gone before delete" wait_for 30 no_vm
    check "$name: ... and state still says stopped" [ "$(status_of c2)" = stopped ]
fi
check "$name: stdout and stderr went to the fds given to create" sh -c "grep -qx out '$TEST_ROOT/c2.out' && grep -qx err '$TEST_ROOT/c2.err'"
rt delete c2
check "$name: nothing left after an exited container" clean
check "$name: createRuntime, poststart and poststop hooks ran with the state on stdin" python3 -c '
import json, sys
for kind in ("createRuntime", "poststart", "poststop"):
    s = json.load(open(sys.argv[1] + "/hook-" + kind + ".json"))
    assert s["id"] == "c2" and s["bundle"].endswith("/exit3"), (kind, s)' "$TEST_ROOT"

# 3. A terminal through --console-socket: the caller gets the pty master.
bundle tty terminal -- sh -c 'tty; stty size; read x; echo got:$x; exit 4'
ROWS=30 COLS=100 "$RECVTTY" "$TEST_ROOT/tty.sock" "$TEST_ROOT/tty.out" $'hello\r' > "$TEST_ROOT/recvtty.log" &
rpid=$!
for i in $(seq 50); do [ -S "$TEST_ROOT/tty.sock" ] && break; sleep 0.1; done
check "$name: create without --console-socket refuses a terminal" expect_fail "console" rt create --bundle "$B/tty" c3x
rt create --bundle "$B/tty" --console-socket "$TEST_ROOT/tty.sock" --pid-file "$TEST_ROOT/c3.pid" c3 < /dev/null
rt start c3
wait $rpid
check "$name: the terminal's process exits 4" [ "$(wait_reaped "$(cat "$TEST_ROOT/c3.pid")")" = 4 ]
check "$name: the process has a pty, sized by the caller, and reads what the caller typed" \
    sh -c "tr -d '\r' < '$TEST_ROOT/tty.out' | grep -q '^/dev/pts/' && tr -d '\r' < '$TEST_ROOT/tty.out' | grep -qx '30 100' && tr -d '\r' < '$TEST_ROOT/tty.out' | grep -qx 'got:hello'"
# runc turns ONLCR off on a pty it relays itself (run and exec in the foreground)
# and leaves it to a --console-socket caller: Debian's runc 1.1.5 sends CR LF here.
# cocoon turns it off on every container pty (the guest cannot tell the two apart).
crs=$(tr -cd '\r' < "$TEST_ROOT/tty.out" | wc -c)
if [ "$name" = runc ]; then
    check "$name: the terminal's output has CR LF line ends (ONLCR left to the --console-socket caller)" [ "$crs" -gt 0 ]
else
    check "$name: the terminal's output has LF line ends, no CR (ONLCR off, as runc's own relay)" \
        [ -s "$TEST_ROOT/tty.out" -a "$crs" -eq 0 ]
fi
rt delete c3
check "$name: nothing left after a terminal" clean

# 4. exec, with and without a terminal, attached and detached.
rt run -d --bundle "$B/sleeper" --pid-file "$TEST_ROOT/c4.pid" c4 < /dev/null > /dev/null 2>&1
check "$name: run -d returns with the container running" wait_status c4 running
out=$(rt exec c4 sh -c 'echo exec-out; exit 5' 2>&1); status=$?
check "$name: exec relays output and exits with the process's status" sh -c "[ '$out' = exec-out ] && [ $status -eq 5 ]"
out=$(rt exec --env FOO=bar --cwd /tmp --user 1000:1000 c4 sh -c 'echo $FOO $(pwd) $(id -u):$(id -g)' 2>&1)
check "$name: exec --env --cwd --user" [ "$out" = "bar /tmp 1000:1000" ]
out=$(rt exec --cap CAP_SYS_ADMIN c4 grep -E '^Cap(Inh|Prm|Eff|Bnd)' /proc/self/status 2>&1 | tr -s '\t\n' ' ')
check "$name: exec --cap adds to bounding, effective and permitted, not inheritable" \
    [ "$out" = "CapInh: 0000000000000000 CapPrm: 0000000020200420 CapEff: 0000000020200420 CapBnd: 0000000020200420 " ]
if [ "$name" != runc ]; then
    # runc 1.1 takes only numbers; cocoon resolves a name in the container's /etc/passwd.
    out=$(rt exec --user nobody c4 sh -c 'echo $(id -u):$(id -g)' 2>&1)
    check "$name: exec --user NAME resolves it in the container" [ "$out" = "65534:65534" ]
fi
rt exec -d --pid-file "$TEST_ROOT/e1.pid" c4 sh -c 'exit 7' < /dev/null > /dev/null 2>&1
check "$name: exec -d: the pid-file process exits with the exec's status (7)" [ "$(wait_reaped "$(cat "$TEST_ROOT/e1.pid")")" = 7 ]
cat > "$TEST_ROOT/process.json" <<'EOF'
{"args": ["sh", "-c", "tty; echo $HOME"], "env": ["HOME=/exec-home", "PATH=/bin"], "cwd": "/", "terminal": true, "user": {"uid": 0, "gid": 0}}
EOF
"$RECVTTY" "$TEST_ROOT/tty2.sock" "$TEST_ROOT/tty2.out" > /dev/null &
rpid=$!
for i in $(seq 50); do [ -S "$TEST_ROOT/tty2.sock" ] && break; sleep 0.1; done
rt exec -d --process "$TEST_ROOT/process.json" --console-socket "$TEST_ROOT/tty2.sock" --pid-file "$TEST_ROOT/e2.pid" c4 < /dev/null
wait $rpid
check "$name: exec --process with a terminal over --console-socket" \
    sh -c "tr -d '\r' < '$TEST_ROOT/tty2.out' | grep -q '^/dev/pts/' && tr -d '\r' < '$TEST_ROOT/tty2.out' | grep -qx /exec-home"
check "$name: the exec'd terminal's process exits 0" [ "$(wait_reaped "$(cat "$TEST_ROOT/e2.pid")")" = 0 ]
check "$name: exec of a missing program is an error naming it" expect_fail "no-such-program" rt exec c4 no-such-program
rt exec c4 no-such-program > /dev/null 2>&1; status=$?
check "$name: a failed exec exits 255, as runc's" [ $status -eq 255 ]

# 5. ps, events --stats, update, pause and resume on the same container.
out=$(rt ps --format json c4)
check "$name: ps --format json lists the container's processes" python3 -c 'import json,sys; l=json.loads(sys.argv[1]); sys.exit(not (isinstance(l, list) and len(l) >= 1 and all(isinstance(p, int) for p in l)))' "$out"
rt update --pids-limit 42 c4
out=$(rt events --stats c4)
check "$name: update --pids-limit shows in events --stats" python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(not (e["type"] == "stats" and e["id"] == "c4" and e["data"]["pids"]["limit"] == 42 and e["data"]["pids"]["current"] >= 1 and e["data"]["memory"]["usage"]["usage"] > 0))' "$out"
rt pause c4
check "$name: pause makes it paused" [ "$(status_of c4)" = paused ]
check "$name: exec in a paused container is refused, naming --ignore-paused" \
    expect_fail "cannot exec in a paused container (use --ignore-paused to override)" rt exec c4 true
# --ignore-paused: the exec waits, frozen, and runs once the container is resumed.
rt exec --ignore-paused c4 sh -c 'echo ran-after-resume' > "$TEST_ROOT/ip.out" 2>&1 & ip=$!
sleep 3
check "$name: exec --ignore-paused into a paused container waits while it is paused" \
    sh -c 'kill -0 "$1" && [ ! -s "$2" ] && [ "$3" = paused ]' _ $ip "$TEST_ROOT/ip.out" "$(status_of c4)"
rt resume c4
check "$name: resume makes it running again" [ "$(status_of c4)" = running ]
wait $ip; status=$?
check "$name: ... and the --ignore-paused exec then runs and exits 0" \
    sh -c '[ "$1" -eq 0 ] && [ "$(cat "$2")" = ran-after-resume ]' _ $status "$TEST_ROOT/ip.out"
check "$name: resume of a running container is an error" expect_fail "not paused" rt resume c4
out=$(rt exec c4 echo thawed 2>&1)
check "$name: a resumed container runs processes" [ "$out" = thawed ]

# 6. kill --all reaches every process of the container.
rt exec -d c4 sleep 301 < /dev/null > /dev/null 2>&1
rt kill --all c4 KILL
check "$name: kill --all stops the container" [ "$(wait_reaped "$(cat "$TEST_ROOT/c4.pid")")" = 137 ]
check "$name: ... and state says stopped" wait_status c4 stopped
rt delete c4
check "$name: nothing left after exec, pause and kill --all" clean

# 7. Two deletes at once: one succeeds, the other says the container does not exist.
rt create --bundle "$B/exit3" c5 < /dev/null > /dev/null 2>&1
rt kill c5 KILL
wait_status c5 stopped
rt delete c5 > "$TEST_ROOT/d1.out" 2>&1 & d1=$!
rt delete c5 > "$TEST_ROOT/d2.out" 2>&1 & d2=$!
wait $d1; s1=$?; wait $d2; s2=$?
if [ "$name" = runc ]; then
    # runc takes no lock: both deletes may see the container and succeed.
    echo "runc does not serialize deletes; exit statuses $s1 and $s2" | diag
    check "$name: concurrent deletes: at least one succeeds" [ $s1 -eq 0 -o $s2 -eq 0 ]
    check "$name: ... and a failing one says it does not exist" sh -c "[ $s1 -eq 0 ] || grep -q 'does not exist' '$TEST_ROOT/d1.out'; [ $s2 -eq 0 ] || grep -q 'does not exist' '$TEST_ROOT/d2.out'"
else
    check "$name: concurrent deletes: exactly one succeeds" [ $((s1 == 0)) -ne $((s2 == 0)) ]
    check "$name: ... and the other says it does not exist" grep -q "does not exist" "$TEST_ROOT/d1.out" "$TEST_ROOT/d2.out"
fi
check "$name: nothing left after concurrent deletes" clean

# 8. delete --force after the workload's host side was killed with SIGKILL:
# for cocoon that is QEMU, for runc the container's init.
rt run -d --bundle "$B/sleeper" --pid-file "$TEST_ROOT/c6.pid" c6 < /dev/null > /dev/null 2>&1
if [ "$name" = runc ]; then
    victim=$(cat "$TEST_ROOT/c6.pid")
else
    victim=$(pids_named qemu-system-x86)
fi
check "$name: found the process to kill ($victim)" [ -n "$victim" ]
kill -9 $victim
check "$name: state says stopped once it is gone" wait_status c6 stopped
check "$name: the pid-file process exits 137" [ "$(wait_reaped "$(cat "$TEST_ROOT/c6.pid")")" = 137 ]
rt delete --force c6
check "$name: delete --force cleans everything up" clean

# 8b. cocoon only: the supervisor itself killed with SIGKILL takes its VM
# with it; the container is then stopped and delete cleans up.
if [ "$name" != runc ]; then
    rt run -d --bundle "$B/sleeper" --pid-file "$TEST_ROOT/c8.pid" c8 < /dev/null > /dev/null 2>&1
    sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisorPid"])' "$STATE/c8/state.json")
    kill -9 "$sup"
    check "$name: with its supervisor killed, the container is stopped" wait_status c8 stopped
    check "$name: ... its pid-file process exits 137" [ "$(wait_reaped "$(cat "$TEST_ROOT/c8.pid")")" = 137 ]
    rt delete c8
    check "$name: ... and delete cleans everything up" clean

    # virtiofsd killed under a workload that ends "cleanly" when its files
    # vanish: the container's status must still say it died with its VM.
    bundle looper plain -- sh -c 'while sleep 0.2; do :; done'
    rt run -d --bundle "$B/looper" --pid-file "$TEST_ROOT/c9.pid" c9 < /dev/null > /dev/null 2>&1
    vfs=$(pids_named virtiofsd)
    kill -9 $vfs
    check "$name: with virtiofsd killed, the pid-file process exits 137, never 0" [ "$(wait_reaped "$(cat "$TEST_ROOT/c9.pid")")" = 137 ]
    check "$name: ... the container is stopped" wait_status c9 stopped
    rt delete c9
    check "$name: ... and delete cleans everything up" clean
fi

# 10. What a container was created from is what it is, the caller's streams end
# when the container closes them, and a stub that dies takes its process along.
bundle closer plain -- sh -c 'exec >&- 2>&-; exec sleep 302'
edit_config "$B/closer" "c['process']['env'].append('FOO=created')"
# poststop would leave a file behind if it ran from the bundle as edited after create.
rt create --bundle "$B/closer" --pid-file "$TEST_ROOT/c10.pid" c10 < /dev/null \
    > >(cat > /dev/null; touch "$TEST_ROOT/eof-init") 2>&1
edit_config "$B/closer" "c['process']['env'].append('FOO=edited')
c['hooks'] = {k: [{'path': '/bin/touch', 'args': ['touch', '$TEST_ROOT/edited-' + k]}] for k in ('poststart', 'poststop')}"
out=$(rt exec c10 sh -c 'echo $FOO' 2>&1); status=$?
check "$name: exec into a created container runs" [ "$status" -eq 0 ]
if [ "$name" = runc ]; then
    # runc 1.1 builds an exec's process from the bundle's config.json as it is now.
    echo "runc's exec saw FOO=$out" | diag
else
    check "$name: ... with the process create read, not the bundle as edited since" [ "$out" = created ]
fi
rt start c10
check "$name: start ran no hook the bundle got after create" wait_for 2 sh -c "! ls '$TEST_ROOT'/edited-* 2>/dev/null | grep -q ."
check "$name: the caller sees EOF once the container closed its stdout and stderr" wait_for 30 test -e "$TEST_ROOT/eof-init"
rt kill c10 0; status=$?
check "$name: kill ID 0 of a running container succeeds" [ $status -eq 0 ]
nprocs() { [ "$(rt ps --format json c10 | python3 -c 'import json,sys; print(len(json.load(sys.stdin) or []))')" = "$1" ]; }
check "$name: the container runs its process alone (the exec before start left nothing)" wait_for 10 nprocs 1
rt exec -d --pid-file "$TEST_ROOT/e10.pid" c10 sleep 303 < /dev/null > >(cat > /dev/null; touch "$TEST_ROOT/eof-exec") 2>&1
check "$name: a detached exec runs" wait_for 10 nprocs 2
kill -9 "$(cat "$TEST_ROOT/e10.pid")"
check "$name: an exec whose pid-file process is killed (SIGKILL) ends: its caller sees EOF" wait_for 30 test -e "$TEST_ROOT/eof-exec"
check "$name: ... and its process is gone from the container" wait_for 30 nprocs 1
# Gone from the guest too: neither running nor a zombie.
out=$(rt exec c10 ps -o stat,args 2>&1)
check "$name: ... killed and reaped: the container's own ps shows no such process, nor a zombie" \
    sh -c 'echo "$1" | grep -q "sleep 302" && ! echo "$1" | grep -q "sleep 303" && ! echo "$1" | grep -q "^ *Z"' _ "$out" || echo "$out" | diag
if [ "$name" != runc ]; then
    # The stub stands for the caller's streams: once it is gone, a child
    # still writing to the exec's stdout gets EPIPE (runc's caller holds its
    # own pipe, so there the child writes on).
    rt exec -d --pid-file "$TEST_ROOT/e10b.pid" c10 sh -c "sh -c 'while echo x; do sleep 0.2; done' writer-loop & exec sleep 305" \
        < /dev/null > /dev/null 2>&1
    writer_runs() { rt exec c10 ps -o args 2>&1 | grep -q writer-loop; }
    writer_gone() { local o; o=$(rt exec c10 ps -o args 2>&1) && echo "$o" | grep -q "sleep 302" && ! echo "$o" | grep -q writer-loop; }
    check "$name: a detached exec with a writing child runs" wait_for 10 writer_runs
    kill -9 "$(cat "$TEST_ROOT/e10b.pid")"
    if wait_for 15 writer_gone; then
        ok "$name: ... once its stub is killed, the child writing to its stdout ends too (EPIPE)"
    else
        not_ok "$name: ... once its stub is killed, the child writing to its stdout ends too (EPIPE)"
        { echo "the container's processes:"; rt exec c10 ps -o pid,stat,args 2>&1
          echo "the supervisor's log:"; tail -n 20 "$STATE"/c10/supervisor.log 2>&1; } | diag
    fi
fi
kill -9 "$(cat "$TEST_ROOT/c10.pid")"
check "$name: a container whose pid-file process is killed (SIGKILL) is stopped" wait_status c10 stopped
check "$name: ... and state does not name the dead pid" python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["pid"] != 0)' "$(rt state c10)"
check "$name: kill ID 0 of a stopped container is an error" expect_fail "not running" rt kill c10 0
rt kill --all c10 KILL; status=$?
check "$name: kill --all of a stopped container succeeds" [ $status -eq 0 ]
out=$(rt ps --format json c10); status=$?
check "$name: ps of a stopped container lists nothing" python3 -c 'import json,sys; sys.exit(not (sys.argv[2] == "0" and json.loads(sys.argv[1]) in (None, [])))' "$out" "$status"
rt delete c10
check "$name: delete ran no hook the bundle got after create" sh -c "! ls '$TEST_ROOT'/edited-* 2>/dev/null | grep -q ."
check "$name: nothing left after a killed pid-file process" clean

# A start whose poststart hook fails reports the failure and leaves nothing running.
bundle badhook plain -- sleep 304
edit_config "$B/badhook" "c['hooks'] = {'poststart': [{'path': '/bin/false'}]}"
# (runc 1.1.5 already fails at create: it runs poststart hooks there.)
check "$name: a container whose poststart hook fails reports the failure" \
    expect_fail "hook" sh -c "'$RUNTIME' --root '$STATE' create --bundle '$B/badhook' c11 < /dev/null && '$RUNTIME' --root '$STATE' start c11"
check "$name: ... and the container does not run on" wait_for 30 not_running c11
rt delete --force c11 > /dev/null 2>&1
check "$name: nothing left after a failed start" clean

# run --keep: the container stays, stopped, until delete.
rt run --keep --bundle "$B/exit3" k1 < /dev/null > /dev/null 2>&1; status=$?
check "$name: run --keep exits with the process's status" [ $status -eq 3 ]
check "$name: ... and the container stays, stopped" [ "$(status_of k1)" = stopped ]
rt delete k1
check "$name: nothing left after run --keep and delete" clean

# 9. Bad input: a clear error, a non-zero exit, nothing left.
check "$name: an id with a path separator is refused" expect_fail "invalid\|id" rt create --bundle "$B/sleeper" a/b
check "$name: an id of .. is refused" expect_fail "invalid\|id" rt create --bundle "$B/sleeper" ..
check "$name: a bundle without config.json is refused" expect_fail "config.json" rt create --bundle "$TEST_ROOT" bad1
check "$name: state of an unknown container says it does not exist" expect_fail "does not exist" rt state nope
check "$name: kill of an unknown container says it does not exist" expect_fail "does not exist" rt kill nope KILL
check "$name: delete of an unknown container says it does not exist" expect_fail "does not exist" rt delete nope
# A host cgroup frozen before the container: whatever joined it would hang.
if [ -d /sys/fs/cgroup/freezer ]; then
    fz=/sys/fs/cgroup/freezer/$CG/fz; mkdir -p $fz && echo FROZEN > $fz/freezer.state
else
    fz=/sys/fs/cgroup/$CG/fz; mkdir -p $fz && echo 1 > $fz/cgroup.freeze
fi
bundle frozen plain -- true
edit_config "$B/frozen" "c['linux']['cgroupsPath'] = '/$CG/fz'"
check "$name: run -d into a frozen host cgroup is refused" expect_fail "frozen" timeout 60 "$RUNTIME" --root "$STATE" run -d --bundle "$B/frozen" fz
echo THAWED > $fz/freezer.state 2>/dev/null || echo 0 > $fz/cgroup.freeze
rt delete --force fz > /dev/null 2>&1
for d in /sys/fs/cgroup/*/$CG/fz /sys/fs/cgroup/$CG/fz /sys/fs/cgroup/*/$CG /sys/fs/cgroup/$CG; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
check "$name: nothing left after a frozen cgroup" clean
rt create --bundle "$B/sleeper" c7 < /dev/null > /dev/null 2>&1
check "$name: a second create with the same id is refused" expect_fail "exists" rt create --bundle "$B/sleeper" c7
check "$name: kill with an unknown signal is refused" expect_fail "signal" rt kill c7 NOSUCHSIG
rt delete --force c7
check "$name: nothing left after bad input" clean

done_testing
