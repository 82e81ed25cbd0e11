#!/usr/bin/env bash
# Conformance: config.json fields checked from inside the container, the way
# a user would (/proc/self/status, ulimit, a forbidden syscall, ls -l /dev),
# against one runtime chosen by the environment:
#
#   CONFORMANCE_RUNTIME=cocoon       $COCOON run (a real VM per bundle)
#   CONFORMANCE_RUNTIME=cocoon-host  $COCOON_HOST run (the core on this host)
#   CONFORMANCE_RUNTIME=runc         $RUNC run (Debian's runc, for comparison)
#
# One bundle prints everything (probe.sh), so the VM boots a few times only.
# Where a runtime differs on purpose, or this host cannot do what a VM can,
# the expectation says so next to the check.
. "$(dirname "$0")/../integration/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
RT=${CONFORMANCE_RUNTIME:?set CONFORMANCE_RUNTIME to cocoon, cocoon-host or runc}
case $RT in
    cocoon) ;;
    cocoon-host) : "${COCOON_HOST:?set COCOON_HOST}" ;;
    runc) : "${RUNC:=$(command -v runc)}"
          if [ -z "$RUNC" ]; then echo "1..0 # SKIP runc is not installed"; exit 0; fi ;;
    *) echo "unknown CONFORMANCE_RUNTIME $RT" >&2; exit 2 ;;
esac
export HOOK_LOG="$TEST_ROOT/hooks.log"

# run_bundle KIND ID [RUNTIME-OPTIONS...]: makes the bundle and runs it; sets out, err, status.
run_bundle() {
    local kind=$1 id=$2; shift 2
    B="$TEST_ROOT/$kind"
    mkbundle "$B"
    JOIN_NETNS=${JOIN_NETNS:-} python3 "$here/configure.py" "$B" "$kind"
    if declare -F before_run > /dev/null; then before_run "$kind"; fi
    case $RT in
        cocoon) cocoon run "$@" -b "$B" "$id" > "$TEST_ROOT/out" 2> "$TEST_ROOT/err" ;;
        cocoon-host) "$COCOON_HOST" run "$@" -b "$B" "$id" > "$TEST_ROOT/out" 2> "$TEST_ROOT/err" ;;
        runc) (cd "$B" && "$RUNC" --root "$TEST_ROOT/runc" run "$@" "$id") > "$TEST_ROOT/out" 2> "$TEST_ROOT/err" ;;
    esac
    status=$?
    out=$(cat "$TEST_ROOT/out")
    err=$(cat "$TEST_ROOT/err")
    err_shown=
    if [ "$status" -ne 0 ] || ! grep -q '^probe=done$' "$TEST_ROOT/out"; then
        { echo "$kind: status $status"; echo "$err"; } | diag
    fi
}

value() { sed -n "s/^$1=//p" "$TEST_ROOT/out" | head -n 1; }

# expect KEY WANT DESCRIPTION
expect() {
    local got; got=$(value "$1")
    if [ "$got" = "$2" ]; then
        ok "$RT: $3 ($1=$got)"
    else
        not_ok "$RT: $3"
        echo "$1: got '$got', want '$2'" | diag
        # The run's stderr, once per bundle: what the probe's shell said about the step that failed.
        if [ -z "$err_shown" ]; then
            err_shown=1
            { echo "stderr of the run (status $status):"; echo "$err" | tail -n 40; } | diag
        fi
    fi
}

# ---- one bundle with most of process and linux ----
run_bundle security sec
check "$RT: security bundle runs and exits 0" [ "$status" -eq 0 ]
expect probe done "the probe ran to its end"
expect uid 1000 "process.user: uid"
expect gid 1000 "process.user: gid"
if [ "$RT" = runc ]; then
    # runc follows the runtime-spec, where username is for Windows: it is ignored.
    expect groups "1000 3000" "groups: additionalGids only (runc ignores process.user.username)"
else
    expect groups "1000 2000 3000" "process.user.username: groups from the container's /etc/group, then additionalGids"
fi
expect home /home/tester "HOME from the container's /etc/passwd"
expect capeff 0000000000000420 "capabilities.effective: KILL and NET_BIND_SERVICE, unknown name ignored"
case $RT in
    runc) check "$RT: a warning names the unknown capability" \
              sh -c 'echo "$1" | grep -q "ignoring unknown or unavailable capabilities: \[CAP_NO_SUCH_THING\]"' _ "$err" ;;
    cocoon-host) check "$RT: a warning names the unknown capability" \
              sh -c 'echo "$1" | grep -q "warning: process.capabilities.bounding: ignoring unknown capability CAP_NO_SUCH_THING"' _ "$err" ;;
    cocoon) : ;; # the CLI does not print spec->process.warnings yet
esac
expect capprm 0000000000000420 "capabilities.permitted"
expect capinh 0000000000000420 "capabilities.inheritable"
expect capbnd 0000000000000421 "capabilities.bounding: CHOWN, KILL, NET_BIND_SERVICE"
expect capamb 0000000000000420 "capabilities.ambient, kept across setuid to 1000"
expect nnp 1 "noNewPrivileges"
expect seccomp 2 "seccomp: a filter is loaded"
expect mkdir_rc 1 "seccomp: mkdir gets EPERM (errnoRet 1)"
expect kill0_rc 0 "seccomp: kill(pid, 0) is allowed (args do not match)"
expect killusr1_rc 1 "seccomp: kill(pid, SIGUSR1) is refused (args[1] == 10)"
expect nofile 512 "rlimits: NOFILE soft"
expect nofile_hard 768 "rlimits: NOFILE hard"
expect core 0 "rlimits: CORE"
expect oom_score_adj 100 "oomScoreAdj"
expect hostname probe-host "hostname"
if [ "$RT" = runc ]; then
    # Both came to runc in 1.2; Debian's 1.1.5 ignores them.
    expect machine x86_64 "linux.personality: not applied by runc 1.1.5"
    expect ionice "none: prio 0" "process.ioPriority: not applied by runc 1.1.5"
else
    expect machine i686 "linux.personality LINUX32: uname -m"
    expect ionice "best-effort: prio 6" "process.ioPriority: best-effort, 6"
fi
if [ "$RT" = runc ]; then
    expect domainname "(none)" "domainname: not applied by Debian's runc 1.1.5 (added to the runtime-spec after it)"
else
    expect domainname example.org "domainname"
fi
expect ip_forward 1 "sysctl net.ipv4.ip_forward (network namespace)"
expect shmmni 1000 "sysctl kernel.shmmni (ipc namespace)"
expect root_write_rc 1 "root.readonly: writing / fails"
expect tmp_write_rc 0 "a tmpfs mount on a read-only root is writable"
expect mydev "crw-r----- 1000 1000 1,3" "devices: char 1:3, fileMode 0640, uid and gid 1000"
expect myfifo "prw-------" "devices: a fifo with fileMode 0600"
expect ptmx "lrwxrwxrwx pts/ptmx" "/dev/ptmx points into the devpts instance"
expect fd_link /proc/self/fd "/dev/fd"
expect mqueue 1 "/dev/mqueue is an mqueue mount"
expect shm 1 "/dev/shm is a tmpfs"
expect uid_map "0 0 4294967295;" "no user namespace: the identity map"
expect start_hook_status created "startContainer hook ran in the container with the state on stdin"
expect start_hook_id sec "startContainer state: the container's id"
check "$RT: prestart, createRuntime, poststart, poststop ran in that order" \
    sh -c '[ "$(cut -d" " -f1 "$1" | tr "\n" " ")" = "prestart createRuntime poststart poststop " ]' _ "$HOOK_LOG"
# As runc: the hooks that run inside create see the status "creating".
check "$RT: prestart sees the container's id and the status creating" \
    grep -q '^prestart .*"id":"sec".*"status":"creating"' "$HOOK_LOG"
check "$RT: poststop sees the status stopped" grep -q '^poststop .*"status":"stopped"' "$HOOK_LOG"
[ "$RT" = cocoon ] && check "$RT: security: nothing left on the host" nothing_left

# ---- what callers rely on runc for ----
export COCOON_HOOK_MARK=from-the-runtime HOOK_ENV_LOG="$TEST_ROOT/hook-env.log"
# rro must reach a mount below the bind's source. The VM's share does not
# carry the host's submounts, so there /vol/sub is a plain directory.
before_run() { [ "$1" = compat ] && [ "$RT" != cocoon ] && mount -t tmpfs tmpfs "$B/vol/sub"; :; }
run_bundle compat cpt
unset -f before_run
[ "$RT" != cocoon ] && umount "$B/vol/sub"
check "$RT: compat bundle runs and exits 0" [ "$status" -eq 0 ]
expect probe done "compat: the probe ran to its end"
if [ "$RT" = runc ]; then
    expect root_shared 0 "rootfsPropagation rshared: pivot_root works; runc 1.1.5 leaves / private inside"
else
    expect root_shared 1 "rootfsPropagation rshared: pivot_root works, / is shared inside"
fi
expect nnp 0 "seccomp without noNewPrivileges leaves no_new_privs off"
expect seccomp 2 "seccomp: the filter is loaded without no_new_privs"
expect syscall_errno_rc 0 "seccomp: a static program runs under the profile"
expect kcmp EPERM "seccomp: a syscall the profile does not name gets the default errno"
expect process_mrelease ENOSYS "seccomp: a syscall newer than the profile's last (434) gets ENOSYS"
expect cwd /private/made/here "process.cwd: created, and entered while still root (0700, another owner)"
expect dev_write_rc 1 "a read-only /dev: writing it fails"
expect devnull_rc 0 "a read-only /dev: its devices and nested mounts are there"
expect data_mount 1 "a mount through an absolute symlink lands inside the rootfs (/etc/datalink -> /data)"
expect keep_mode 2710 "a tmpfs without mode= takes its mount point's mode, setgid included"
expect copyup "1 held 640" "tmpcopyup: a tmpfs that starts with its mount point's files, links and modes"
expect masked_write_rc 1 "maskedPaths: a masked directory cannot be written"
if [ "$RT" = runc ]; then
    expect masked_one_tmpfs 0 "maskedPaths: Debian's runc 1.1.5 mounts a tmpfs per directory (runc 1.2 shares one)"
    expect masked_twice_mounts 2 "maskedPaths: Debian's runc 1.1.5 masks a path listed twice twice"
else
    expect masked_one_tmpfs 1 "maskedPaths: the masked directories share one read-only tmpfs, as in runc 1.2"
    expect masked_twice_mounts 1 "maskedPaths: a path listed twice is masked once, as in runc 1.2"
fi
expect vol_write_rc 1 "rro: the bind mount is read-only"
expect vol_sub_write_rc 1 "rro: and so is the mount below it"
expect mynull "crw-rw-rw- 1,3" "linux.devices: a path with a trailing slash"
expect lo_flags 0x9 "lo is up in a new network namespace"
expect localhost_server hello "a server on localhost answers"
check "$RT: a hook without env gets the runtime's environment" grep -qx "mark=from-the-runtime" "$HOOK_ENV_LOG"
expect start_hook_env from-the-process "a startContainer hook without env gets the process's environment"
[ "$RT" = cocoon ] && check "$RT: compat: nothing left on the host" nothing_left

# ---- a user namespace ----
# The mapped root (host uid 100000) must be able to reach the rootfs, as with runc.
chmod 755 "$TEST_ROOT"
run_bundle userns uns
check "$RT: user namespace bundle runs and exits 0" [ "$status" -eq 0 ]
expect uid_map "0 100000 65536;" "uidMappings written before the process ran"
expect uid 0 "root inside the user namespace"
expect capeff 0000000020000420 "capabilities inside the user namespace"
expect mqueue 1 "mounts work inside the user namespace"
expect made_mount 1 "a mount point made in a rootfs the mapped root owns"
expect nested_proc refused "a nested user+mount+pid namespace cannot mount an unmasked /proc"
[ "$RT" = cocoon ] && check "$RT: userns: nothing left on the host" nothing_left

# ---- what only a VM can grant ----
run_bundle limits lim
if [ "$RT" = cocoon ]; then
    check "$RT: limits bundle runs and exits 0" [ "$status" -eq 0 ]
    expect oom_score_adj -500 "a negative oomScoreAdj"
    expect nofile 1048576 "NOFILE raised to the guest's nr_open"
    check "$RT: limits: nothing left on the host" nothing_left
else
    # This host refuses both: no CAP_SYS_RESOURCE (hard NOFILE limit 20000 and
    # no negative oom_score_adj). runc and cocoon-host fail the same way.
    check "$RT: this host refuses a negative oomScoreAdj and NOFILE 1048576 (no CAP_SYS_RESOURCE)" [ "$status" -ne 0 ]
    if [ "$RT" = cocoon-host ]; then
        check "$RT: the error names the field" sh -c 'echo "$1" | grep -Eq "process\.(rlimits|oomScoreAdj)"' _ "$err"
    fi
fi

# ---- what cocoon refuses ----
if [ "$RT" != runc ]; then
    run_bundle notify ntf
    check "$RT: SCMP_ACT_NOTIFY is refused" [ "$status" -ne 0 ]
    check "$RT: the error names the field" \
        sh -c 'echo "$1" | grep -q "linux.seccomp.syscalls\[0\].action: SCMP_ACT_NOTIFY"' _ "$err"
fi

# ---- joining a namespace by path ----
if [ "$RT" = cocoon ]; then
    : # a path names a namespace in the guest; the CLI has no way to make one there yet
elif command -v ip > /dev/null; then
    netns=cocoon-conformance-$$
    ip netns add "$netns"
    JOIN_NETNS=/run/netns/$netns run_bundle join join
    expect net_ns "net:[$(stat -L -c %i "/run/netns/$netns")]" "namespaces: network joined by path"
    ip netns del "$netns"
else
    ok "$RT: namespaces: network joined by path # SKIP ip (iproute2) is not installed"
fi

# ---- no pivot_root ----
run_bundle userns nopivot --no-pivot
check "$RT: --no-pivot runs the bundle (MS_MOVE + chroot)" [ "$status" -eq 0 ]
expect probe done "--no-pivot: the probe ran"
expect uid_map "0 100000 65536;" "--no-pivot: in its user namespace"
expect nested_proc refused "--no-pivot: no unmasked /proc from a nested namespace (the old root's is unmounted)"
[ "$RT" = cocoon ] && check "$RT: no-pivot: nothing left on the host" nothing_left

done_testing
