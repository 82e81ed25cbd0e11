#!/usr/bin/env bash
# The jail, checked from the host while containers run: every QEMU and
# virtiofsd process of a sandbox runs as a uid of its own (never root), with
# no_new_privs, a seccomp filter, namespaces other than the host's and a root
# without the host's files; QEMU holds no capability at all. Two sandboxes
# get two uids; a uid is free again after delete and after the supervisor is
# SIGKILLed. The host cgroup bounds the VM. A guest flooding its console
# fills no host file beyond its cap. `jail = off` works and warns.
# The sandbox's QEMU and virtiofsd are told apart by COCOON_SANDBOX in their
# environment (a chrooted virtiofsd's mountinfo does not show the jail's root).
. "$(dirname "$0")/../integration/lib.sh"
: "${CLOUD_KERNEL:?set CLOUD_KERNEL and CLOUD_INITRD to Debian's cloud kernel and its initrd}"
: "${CLOUD_INITRD:?set CLOUD_INITRD to the cloud kernel's initrd}"

LOCKS=/run/cocoon-jail
B="$TEST_ROOT/bundle"
mkbundle "$B" sleep 100000

# jail_pids ID NAME: the sandbox's jailed processes whose command is NAME.
jail_pids() {
    local d
    for d in /proc/[0-9]*; do
        tr '\0' '\n' 2>/dev/null < "$d/environ" | grep -qx "COCOON_SANDBOX=$STATE/$1" || continue
        [ "$(cat "$d/comm" 2>/dev/null)" = "$2" ] && echo "${d#/proc/}"
    done
}
status_field() { awk -v f="$2:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$1/status"; }
supervisor_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisorPid"])' "$STATE/$1/state.json"; }
uid_free() { flock -n "$LOCKS/$1" true; }

# jailed PID KIND: the checks every jailed process must pass; KIND qemu also has no capabilities.
jailed() {
    local pid=$1 kind=$2 bad="" ns
    for f in Uid Gid; do
        case " $(status_field "$pid" $f) " in *" 0 "*) bad="$bad $f=0" ;; esac
    done
    [ "$(status_field "$pid" NoNewPrivs | cut -d' ' -f1)" = 1 ] || bad="$bad no_new_privs"
    [ "$(status_field "$pid" Seccomp | cut -d' ' -f1)" = 2 ] || bad="$bad seccomp"
    for ns in mnt pid net ipc uts; do
        [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/$$/ns/$ns")" ] || bad="$bad host-$ns"
    done
    for f in /etc/shadow /root "$STATE" /work /home; do
        [ ! -e "/proc/$pid/root$f" ] || bad="$bad sees-$f"
    done
    if [ "$kind" = qemu ]; then
        for f in CapInh CapPrm CapEff CapBnd CapAmb; do
            [ "$(status_field "$pid" $f | cut -d' ' -f1)" = 0000000000000000 ] || bad="$bad $f"
        done
    else
        # No CAP_SYS_ADMIN (bit 21) in any set.
        for f in CapPrm CapEff CapBnd CapAmb; do
            (( (0x$(status_field "$pid" $f | cut -d' ' -f1) >> 21) & 1 )) && bad="$bad $f:sys_admin"
        done
    fi
    [ -z "$bad" ] || { echo "$kind $pid:$bad" | diag; return 1; }
}

cocoon run -d -b "$B" j1 < /dev/null > /dev/null 2>&1
q1=$(jail_pids j1 qemu-system-x86); v1=$(jail_pids j1 virtiofsd)
check "j1: one jailed QEMU and a jailed virtiofsd" [ "$(echo $q1 | wc -w)" = 1 -a -n "$v1" ]
check "j1: QEMU runs jailed, with no capabilities" jailed "$q1" qemu
for p in $v1; do check "j1: virtiofsd $p runs jailed, without CAP_SYS_ADMIN" jailed "$p" virtiofsd; done
check "j1: QEMU's root holds only /usr, the libraries' links, /dev and the VM's files" \
    sh -c '[ "$(ls /proc/$1/root | tr "\n" " ")" = "bin dev lib lib32 lib64 sbin usr vm " ] && [ "$(ls /proc/$1/root/vm | tr "\n" " ")" = "initrd kernel " ]' _ "$q1"
uid1=$(status_field "$q1" Uid | cut -d' ' -f1)
check "j1: its uid ($uid1) is held while it runs" sh -c '! flock -n "$1/$2" true' _ "$LOCKS" "$uid1"
check "j1: virtiofsd runs as the sandbox's uid too" \
    sh -c 'for p in $2; do [ "$(awk "/^Uid:/ { print \$2 }" /proc/$p/status)" = "$1" ] || exit 1; done' _ "$uid1" "$v1"
cg=$(ls -d /sys/fs/cgroup/memory/cocoon/j1 /sys/fs/cgroup/cocoon/j1 2>/dev/null | head -1)
mem=$(cat "$cg/memory.limit_in_bytes" "$cg/memory.max" 2>/dev/null | head -1)
pids=$(cat /sys/fs/cgroup/pids/cocoon/j1/pids.max /sys/fs/cgroup/cocoon/j1/pids.max 2>/dev/null | head -1)
# The default VM (512 MiB) plus the default VMM overhead (320 MiB); 1024 tasks.
check "j1: the host cgroup bounds the VM's memory (guest + overhead) and tasks" \
    [ "$mem" = $(( (512 + 320) * 1024 * 1024 )) -a "$pids" = 1024 ]

cocoon run -d -b "$B" j2 < /dev/null > /dev/null 2>&1
q2=$(jail_pids j2 qemu-system-x86)
uid2=$(status_field "$q2" Uid | cut -d' ' -f1)
check "j2: a second sandbox's QEMU gets another uid ($uid2)" [ -n "$uid2" -a "$uid2" != "$uid1" -a "$uid2" != 0 ]

cocoon delete -f j1 > /dev/null 2>&1
check "j1: its uid is free after delete" uid_free "$uid1"

kill -9 "$(supervisor_of j2)"
check "j2: after its supervisor is SIGKILLed, its QEMU goes" wait_for 10 sh -c '! kill -0 "$1" 2>/dev/null' _ "$q2"
check "j2: and its uid is free" wait_for 5 uid_free "$uid2"
cocoon delete -f j2 > /dev/null 2>&1
check "j1, j2: nothing left on the host" nothing_left

# The console: a guest writing 3 MiB to its serial port leaves at most two 1 MiB files.
mkbundle --config-only "$B" sh -c 'head -c 3145728 /dev/zero | tr "\0" x > /dev/ttyS0; echo flooded; sleep 100000'
edit_config "$B" 'c["linux"]["devices"] = [{"path": "/dev/ttyS0", "type": "c", "major": 4, "minor": 64, "fileMode": 0o620}]
c["linux"]["resources"]["devices"] = [{"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"}]'
cocoon run -d -b "$B" flood < /dev/null > "$TEST_ROOT/flood.out" 2>&1
wait_for 120 sh -c 'cat "$1"/flood/console.log* 2>/dev/null | head -c 2097152 | grep -q "xxxxxxxx"; [ "$(cat "$1"/flood/console.log* | wc -c)" -ge 2097152 ]' _ "$STATE"
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
check "flood: console.log stays within 1 MiB ($(size "$STATE/flood/console.log") bytes)" \
    [ "$(size "$STATE/flood/console.log")" -le 1048576 ]
check "flood: the previous MiB is kept as console.log.1, no more" \
    sh -c '[ "$(stat -c %s "$1.1")" -le 1048576 ] && [ "$(stat -c %s "$1.1")" -gt 0 ] && ! ls "$1".2 2>/dev/null' _ "$STATE/flood/console.log"
cocoon delete -f flood > /dev/null 2>&1
check "flood: nothing left on the host" nothing_left

# jail = off: works, warns, and QEMU is root again (so the checks above do test the jail).
printf '[hypervisor]\njail = off\n' > "$TEST_ROOT/off.conf"
mkbundle --config-only "$B" sleep 100000
COCOON_CONFIG="$TEST_ROOT/off.conf" "$COCOON" --root "$STATE" run -d -b "$B" off < /dev/null > /dev/null 2> "$TEST_ROOT/off.err"
check "jail = off: the container runs" sh -c '"$COCOON" --root "$1" state off | grep -q running' _ "$STATE"
check "jail = off: it warns" grep -q "^cocoon: warning: jail = off: QEMU and virtiofsd run as root" "$TEST_ROOT/off.err"
qoff=$(pids_named qemu-system-x86)
check "jail = off: QEMU runs as root" [ -n "$qoff" -a "$(status_field "${qoff:-0}" Uid 2>/dev/null | cut -d' ' -f1)" = 0 ]
COCOON_CONFIG="$TEST_ROOT/off.conf" "$COCOON" --root "$STATE" delete -f off > /dev/null 2>&1
check "jail = off: nothing left on the host" nothing_left

# boot_fails ID SETTINGS...: runs container ID with these [hypervisor]
# settings, expecting its boot to fail; sets $out and $status.
boot_fails() {
    local id=$1; shift
    printf '[hypervisor]\n' > "$TEST_ROOT/$id.conf"
    printf '%s\n' "$@" >> "$TEST_ROOT/$id.conf"
    out=$(COCOON_CONFIG="$TEST_ROOT/$id.conf" "$COCOON" --root "$STATE" run -b "$B" "$id" 2>&1); status=$?
    echo "$out" | head -2 | diag
}

# (A container that exits at once, should a boot below unexpectedly succeed.)
mkbundle --config-only "$B" true

# The console's tail: a guest that dies at boot is explained by its panic
# first, then its console's last lines, which include the panic line.
boot_fails noinit "kernel_args = rdinit=/no-such-init" "boot_timeout = 60"
check "a guest that panics at boot: the error leads with the kernel's panic line" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | head -1 | grep -q "the guest kernel panicked with \"Kernel panic - not syncing: "' _ "$out" "$status"
check "... says that the VMM then exited by itself (status 0: the guest's reboot, with -no-reboot)" \
    sh -c 'echo "$1" | grep -q "; the hypervisor exited with status 0"' _ "$out"
check "... and ends with its console's last lines, for reference" \
    sh -c 'echo "$1" | grep -q "the guest console.s last lines, for reference:"' _ "$out"
check "noinit: nothing left on the host" nothing_left

# A guest slower than boot_timeout: the error says how long we waited and
# how to change it, and quotes the console's harmless lines only for reference.
# boot_delay= slows every kernel message before init (CONFIG_BOOT_PRINTK_DELAY,
# in Debian's cloud kernel; cocoon's own leaves it out and boots in time).
boot_fails slow "kernel = $CLOUD_KERNEL" "initrd = $CLOUD_INITRD" "kernel_args = loglevel=7 boot_delay=50" "boot_timeout = 3"
check "a boot slower than boot_timeout: the error names the timeout and the setting" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | head -1 | grep -q "the guest agent did not answer within 3 s (boot_timeout in cocoon.conf.s \[hypervisor\] section; raise it to wait longer)"' _ "$out" "$status"
check "... and claims no panic" sh -c '! echo "$1" | grep -q panicked' _ "$out"
check "slow: nothing left on the host" nothing_left

# A guest that panics and hangs (panic=0) until the timeout: the panic leads.
boot_fails hang "kernel_args = rdinit=/no-such-init panic=0" "boot_timeout = 20"
check "a guest that panicked and hangs: the panic leads, then the timeout" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | head -1 | grep -q "the guest kernel panicked with \"Kernel panic - not syncing: [^]]*\": the guest agent did not answer within 20 s"' _ "$out" "$status"
check "hang: nothing left on the host" nothing_left

# Bad settings: clear errors, nothing created.
printf '[hypervisor]\njail_uids = 0-100\n' > "$TEST_ROOT/bad.conf"
check "jail_uids holding root is refused, naming the setting" \
    expect_fail "jail_uids = 0-100: invalid value" env COCOON_CONFIG="$TEST_ROOT/bad.conf" "$COCOON" --root "$STATE" run -b "$B" bad
check "bad settings: nothing left on the host" nothing_left

done_testing
