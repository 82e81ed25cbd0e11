#!/usr/bin/env bash
# A hostile guest reaches nothing on the host it should not (docs/security.md).
# A container with every capability, no seccomp, every device and a
# read-only root, with a read-write and a read-only volume, runs
# tests/security/attack.c, which mounts the virtio-fs tag itself and attacks
# the share; each attack is one TAP line that passes only if the host side is
# unchanged where it must be. Then the same from a member of a pod, against
# the other members too. Run on its own: meson test -C build security-share.
. "$(dirname "$0")/../integration/lib.sh"
: "${ATTACK:?set ATTACK to the attack program}"

T=$TEST_ROOT
CAPS=$(python3 -c 'print([
 "CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETGID",
 "CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST","CAP_NET_ADMIN",
 "CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE",
 "CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME",
 "CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP",
 "CAP_MAC_OVERRIDE","CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ",
 "CAP_PERFMON","CAP_BPF","CAP_CHECKPOINT_RESTORE"])')

# The volumes: rw, and ro with a mount below it (an rbind must be read-only all the way down).
mkdir -p "$T/rw" "$T/ro/sub"
mount -t tmpfs -o size=1m cocoon-test-sub "$T/ro/sub"
test_teardown() { umount -l "$T/ro/sub" 2>/dev/null; }
touch "$T/rw/RW_VOLUME" "$T/ro/RO_VOLUME"
echo original > "$T/ro/marker"
install -m 04755 /dev/null "$T/rw/host-suid"
echo "host target" > "$T/target"

# hostile BUNDLE READONLY ARGS...: every capability, no seccomp, all devices, both volumes.
hostile() {
    local b=$1 ro=$2; shift 2
    mkbundle "$b" "$@"
    cp "$ATTACK" "$b/rootfs/bin/attack"
    mknod "$b/rootfs/hostnull" c 1 3
    echo original > "$b/rootfs/etc/marker"
    edit_config "$b" "
caps = $CAPS
c['process']['capabilities'] = {k: caps for k in ('bounding', 'effective', 'inheritable', 'permitted', 'ambient')}
c['process']['noNewPrivileges'] = False
c['linux'].pop('seccomp', None)
c['linux']['resources']['devices'] = [{'allow': True, 'access': 'rwm'}]
c['linux']['maskedPaths'] = []
c['linux']['readonlyPaths'] = []
c['root']['readonly'] = $ro
c['mounts'] += [{'destination': '/vol/rw', 'type': 'bind', 'source': '$T/rw', 'options': ['rbind', 'rw']},
                {'destination': '/vol/ro', 'type': 'bind', 'source': '$T/ro', 'options': ['rbind', 'ro']}]"
}

# verdict NAME EXPECT CHECK...: the attack's guest-side outcome must be EXPECT
# (blocked, allowed or any) and CHECK must hold on the host.
verdict() {
    local name=$1 expect=$2; shift 2
    local line; line=$(grep "^RESULT $name " "$OUT" | head -1)
    local got; got=$(echo "$line" | cut -d' ' -f3)
    local detail; detail=$(echo "$line" | cut -d' ' -f4-)
    if [ -n "$line" ] && { [ "$expect" = any ] || [ "$got" = "$expect" ]; } && "$@"; then
        ok "$WHO: $name: $got ($detail), host unchanged"
    else
        not_ok "$WHO: $name: $got ($detail), expected $expect and the host check: $*"
        [ -n "$line" ] || echo "no result; the container printed:" | cat - "$OUT" | diag
    fi
}
absent() { local f; for f in "$@"; do [ ! -e "$f" ] && [ ! -L "$f" ] || { echo "$f exists" | diag; return 1; }; done; }
no_priv_bits() { # no setuid/setgid bit, no file capability
    local f; for f in "$@"; do
        [ -e "$f" ] || continue
        [ $(( 0$(stat -c %a "$f") & 06000 )) -eq 0 ] || { echo "$f: mode $(stat -c %a "$f")" | diag; return 1; }
        [ -z "$(getfattr -h -n security.capability "$f" 2>/dev/null)" ] || { echo "$f has a file capability" | diag; return 1; }
    done
}
top_holds_only() { # the share's top as virtiofsd sees it: one directory per container, nothing else
    local top=/proc/$VFSD/root want id
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [ "$(ls -A "$top" | sort | tr '\n' ' ')" = "$want" ] || { ls -la "$top" | diag; return 1; }
    for id in "$@"; do
        case "$(ls -A "$top/$id" | tr '\n' ' ')" in
            "rootfs "|"mounts rootfs ") ;;
            *) ls -la "$top/$id" | diag; return 1 ;;
        esac
    done
}
top_is_small_tmpfs() {
    [ "$(stat -f -c %T "/proc/$VFSD/root")" = tmpfs ] &&
        [ $(( $(stat -f -c '%b * %S' "/proc/$VFSD/root") )) -le $((1 << 20)) ]
}
state_dir_clean() { # the host's state directory: no guest file, the share's mount point empty
    local id; for id in "$@"; do
        [ -z "$(ls -A "$STATE/$id/shared" 2>/dev/null)" ] || { ls -la "$STATE/$id/shared" | diag; return 1; }
    done
    [ -z "$(find "$STATE" -name 'pwned*' -o -name big -o -name planted)" ]
}
# mounts_hardened ID RO_ROOT RO_INDEX: every mount virtiofsd serves under ID is nodev and nosuid;
# the rootfs (when RO_ROOT) and the ro volume at mounts/RO_INDEX, with the mount below it, are read-only.
mounts_hardened() {
    python3 - "/proc/$VFSD/mountinfo" "$@" <<'PY' | diag
import sys
path, cid, ro_root, ro_index = sys.argv[1], sys.argv[2], sys.argv[3] == "True", sys.argv[4]
under = lambda mp, p: mp == p or mp.startswith(p + "/")
ro_trees = ["/%s/mounts/%s" % (cid, ro_index)] + (["/%s/rootfs" % cid] if ro_root else [])
bad, seen = [], 0
for line in open(path):
    f = line.split()
    mp, opts = f[4], f[5].split(",")
    if not mp.startswith("/%s/" % cid):
        continue
    seen += 1
    if "nodev" not in opts or "nosuid" not in opts:
        bad.append("%s lacks nodev,nosuid: %s" % (mp, f[5]))
    if any(under(mp, t) for t in ro_trees) and "ro" not in opts:
        bad.append("%s is not read-only: %s" % (mp, f[5]))
if seen < 3:
    bad.append("only %d mounts under /%s" % (seen, cid))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
    [ "${PIPESTATUS[0]}" -eq 0 ]
}
virtiofsd_caps_dropped() { # CAP_FSETID (4), CAP_MKNOD (27), CAP_SETFCAP (31): in no thread's bounding, permitted or effective set
    local t v
    for t in /proc/$VFSD/task/*; do
        for v in $(awk '/^Cap(Bnd|Prm|Eff)/ {print $2}' "$t/status"); do
            [ $(( 0x$v & ((1 << 4) | (1 << 27) | (1 << 31)) )) -eq 0 ] ||
                { echo "thread ${t##*/}: $(grep ^Cap "$t/status" | tr '\n' ' ')" | diag; return 1; }
        done
    done
}
ro_index() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["mounts"]; print(len(m) - 1)' "$1/config.json"; }

# attack_checks WHO ID BUNDLE RO_ROOT: the verdict on each attack of the container ID.
attack_checks() {
    WHO=$1; local id=$2 b=$3 ro_root=$4
    verdict mount-the-virtiofs-tag allowed true
    verdict write-at-the-share-top blocked state_dir_clean "$id"
    verdict mkdir-at-the-share-top blocked absent "/proc/$VFSD/root/pwned-dir"
    verdict symlink-at-the-share-top blocked absent "/proc/$VFSD/root/pwned-link"
    verdict write-64MiB-at-the-share-top blocked top_is_small_tmpfs
    verdict write-in-own-share-directory blocked absent "/proc/$VFSD/root/$id/pwned"
    verdict rename-own-rootfs-away blocked absent "/proc/$VFSD/root/moved"
    verdict find-state.json-ctl.sock-in-the-share blocked true
    verdict open-..-state.json-from-the-share blocked true
    verdict open-..-ctl.sock-from-the-share blocked true
    verdict write-ro-rootfs-via-the-share blocked absent "$b/rootfs/pwned"
    verdict overwrite-ro-rootfs-file-via-the-share blocked grep -qx original "$b/rootfs/etc/marker"
    verdict write-ro-rootfs-after-remounting-/-rw blocked absent "$b/rootfs/pwned-remount"
    verdict mknod-char-1:1-in-the-ro-rootfs blocked absent "$b/rootfs/cdev"
    verdict write-ro-volume-via-the-share blocked absent "$T/ro/pwned"
    verdict write-ro-volume-submount-via-the-share blocked absent "$T/ro/sub/pwned"
    verdict write-ro-volume-after-remounting-it-rw blocked absent "$T/ro/pwned-remount"
    rw_place_checks the-rw-volume "$T/rw"
    verdict open-device-node-of-the-image any mounts_hardened "$id" "$ro_root" "$(ro_index "$b")"
    verdict plant-symlink-in-the-rw-volume allowed true
    verdict plant-symlink-in-own-share-directory blocked absent "/proc/$VFSD/root/$id/mounts/planted"
}
# rw_place_checks LABEL DIR: device nodes and privilege in a place the guest may write.
rw_place_checks() {
    verdict "mknod-char-1:1-in-$1" blocked absent "$2/cdev"
    verdict "mknod-block-8:0-in-$1" blocked absent "$2/bdev"
    verdict "chmod-u+s-in-$1" blocked no_priv_bits "$2/suid"
    verdict "chmod-g+s-in-$1" blocked no_priv_bits "$2/sgid"
    verdict "create-mode-4755-in-$1" any no_priv_bits "$2/created-suid"
    verdict "setcap-security.capability-in-$1" blocked no_priv_bits "$2/suid"
    verdict "write-host-setuid-file-in-$1" allowed no_priv_bits "$2/host-suid"
}
after_delete() { # WHO: what must survive the deletion, and nothing left
    check "$1: deleted; the host file the planted symlinks name survives" grep -qx "host target" "$T/target"
    check "$1: the volumes' contents survive" [ -e "$T/rw/RW_VOLUME" -a -L "$T/rw/planted" -a -e "$T/ro/marker" ]
    check "$1: nothing left on the host" nothing_left
}

# ---- a lone hostile container ----
hostile "$T/b" True sh -c "attack cocoon lone /vol/rw /vol/ro $T/target; exec sleep 1000"
OUT=$T/lone.out
cocoon create -b "$T/b" lone > "$OUT" 2>&1 && cocoon start lone
wait_for 120 grep -q '^DONE' "$OUT"
VFSD=$(pids_named virtiofsd)
check "lone: the attacks ran to the end" grep -q '^DONE' "$OUT"
check "lone: virtiofsd runs without CAP_MKNOD, CAP_SETFCAP, CAP_FSETID" virtiofsd_caps_dropped
check "lone: the share's top holds the container's directory and nothing else" top_holds_only lone
attack_checks lone lone "$T/b" True
cocoon delete --force lone
after_delete lone

# ---- a pod: the attacker is a member; the sandbox has a read-only root, another member a writable one ----
rm -f "$T/rw/planted" "$T/rw"/{suid,sgid,created-suid,cdev,bdev}
install -m 04755 /dev/null "$T/rw/host-suid"
mkbundle "$T/pod" sh -c 'exec sleep 1000'
edit_config "$T/pod" "c['root']['readonly'] = True
c['annotations'] = {'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod'}
c['mounts'] += [{'destination': '/vol/ro', 'type': 'bind', 'source': '$T/ro', 'options': ['rbind', 'ro']}]"
echo original > "$T/pod/rootfs/etc/marker"
MEMBER="c['annotations'] = {'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod'}
c.pop('hostname', None)"
mkbundle "$T/rwm" sh -c 'exec sleep 1000'
edit_config "$T/rwm" "$MEMBER
c['root']['readonly'] = False"
install -m 04755 /dev/null "$T/rwm/rootfs/host-suid"
hostile "$T/m" True sh -c "attack cocoon m /vol/rw /vol/ro $T/target pod rwm; exec sleep 1000"
edit_config "$T/m" "$MEMBER"
OUT=$T/m.out
cocoon create -b "$T/pod" pod > "$T/pod.out" 2>&1 && cocoon start pod &&
    cocoon create -b "$T/rwm" rwm > "$T/rwm.out" 2>&1 && cocoon start rwm &&
    cocoon create -b "$T/m" m > "$OUT" 2>&1 && cocoon start m
wait_for 120 grep -q '^DONE' "$OUT"
VFSD=$(pids_named virtiofsd)
check "pod member: the attacks ran to the end" grep -q '^DONE' "$OUT"
check "pod: virtiofsd runs without CAP_MKNOD, CAP_SETFCAP, CAP_FSETID" virtiofsd_caps_dropped
check "pod: the share's top holds the three containers' directories and nothing else" top_holds_only pod rwm m
attack_checks "pod member" m "$T/m" True
verdict write-other-member-ro-rootfs blocked absent "$T/pod/rootfs/pwned-by-member"
verdict write-other-member-share-directory blocked absent "/proc/$VFSD/root/pod/pwned-by-member"
rw_place_checks other-member-rw-rootfs "$T/rwm/rootfs"
check "pod: the sandbox's rootfs and ro volume are read-only on the host side" mounts_hardened pod True "$(ro_index "$T/pod")"
cocoon delete --force m
check "pod: the deleted member's directory leaves the share's top; the others stay" top_holds_only pod rwm
cocoon delete --force rwm
cocoon delete --force pod
after_delete pod

# ---- the operator's opt-ins ([share] in cocoon.conf), each alone: the other stays refused ----
hostile "$T/opt" True sh -c 'mknod /vol/rw/opt-cdev c 1 3 && echo mknod-ok
    touch /vol/rw/opt-suid && chmod 4755 /vol/rw/opt-suid && echo chmod-ok'
printf '[share]\nallow_devices = true\n' > "$T/devices.conf"
out=$(COCOON_CONFIG=$T/devices.conf cocoon run -b "$T/opt" opt 2>&1 | tr '\n' ' ')
check "allow_devices = true: mknod c 1:3 in the rw volume works, chmod u+s still fails (guest: $out)" \
    [ -c "$T/rw/opt-cdev" -a ! -u "$T/rw/opt-suid" ]
rm -f "$T/rw/opt-cdev" "$T/rw/opt-suid"
printf '[share]\nallow_privileged_files = true\n' > "$T/files.conf"
out=$(COCOON_CONFIG=$T/files.conf cocoon run -b "$T/opt" opt 2>&1 | tr '\n' ' ')
check "allow_privileged_files = true: chmod u+s in the rw volume works, mknod still fails (guest: $out)" \
    [ -u "$T/rw/opt-suid" -a ! -e "$T/rw/opt-cdev" ]
printf '[share]\nallow_devices = maybe\n' > "$T/bad.conf"
check "allow_devices = maybe: an error naming the setting" \
    expect_fail "\\[share\\] allow_devices = maybe: unknown setting or invalid value" \
    env COCOON_CONFIG="$T/bad.conf" "$COCOON" --root "$STATE" run -b "$T/opt" opt2
check "the opt-ins: nothing left on the host" nothing_left

done_testing
