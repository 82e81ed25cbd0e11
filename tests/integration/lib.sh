# TAP helpers for the integration tests. The binary under test comes from
# $COCOON (bubblewrap's pattern), so the same checks can run against any build.
set -u

: "${COCOON:?set COCOON to the cocoon binary}"
: "${MKBUNDLE:?set MKBUNDLE to tools/mkbundle.sh}"

tap_n=0
tap_failed=0
TEST_ROOT=$(mktemp -d /tmp/cocoon-test.XXXXXX)
STATE="$TEST_ROOT/state"
mkdir -p "$STATE"

cleanup() {
    # A test's own teardown first (tests/clients stop their engines there),
    # then whatever a failed test left running must not outlive the run.
    if declare -F test_teardown > /dev/null; then test_teardown; fi
    for p in $(pids_in_root); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TEST_ROOT"
}
trap cleanup EXIT

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
diag() { sed 's/^/#   /'; }
check() { # check "description" command...
    local desc=$1; shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
expect_fail() { # expect_fail PATTERN CMD...: non-zero exit and PATTERN in the output
    local pat=$1; shift
    local out; out=$("$@" 2>&1)
    local status=$?
    if [ $status -ne 0 ] && echo "$out" | grep -qi -- "$pat"; then return 0; fi
    echo "exit $status, output: $out" | diag
    return 1
}
# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }

cocoon() { "$COCOON" --root "$STATE" "$@"; }

# Every process of the sandboxes in DIR (default: this run's state root):
# those whose working directory is DIR or inside it (the supervisor), and
# QEMU and virtiofsd, which the jail gives a cwd in their own root: they
# carry COCOON_SANDBOX=<their sandbox's state directory> in their environment.
pids_in_root() {
    local root=${1:-$STATE} d comm
    for d in /proc/[0-9]*; do
        case $(readlink "$d/cwd" 2>/dev/null) in
            "$root"|"$root"/*) echo "${d#/proc/}"; continue ;;
        esac
        read -r comm 2>/dev/null < "$d/comm" || continue
        case $comm in qemu-system-*|virtiofsd) ;; *) continue ;; esac
        case $(tr '\0' '\n' 2>/dev/null < "$d/environ" | sed -n 's/^COCOON_SANDBOX=//p') in
            "$root"|"$root"/*) echo "${d#/proc/}" ;;
        esac
    done
}

# pids_named PATTERN [DIR]: those of pids_in_root DIR whose command name
# (/proc/PID/comm) matches the shell pattern, such as qemu-system-* or virtiofsd.
pids_named() {
    local p
    for p in $(pids_in_root "${2:-$STATE}"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == $1 ]] && echo "$p"
    done
    return 0
}

# What a user checks after a run: no VM, no virtiofsd, no supervisor, no
# mount and no state left in DIR (default: this run's state root; a caller
# such as podman that uses the runtime's default root names its container's
# directory there).
nothing_left() {
    local root=${1:-$STATE} what=""
    local pids; pids=$(pids_in_root "$root")
    [ -z "$pids" ] || what="$what processes: $(for p in $pids; do tr '\0' ' ' < /proc/$p/cmdline | cut -c1-80; echo; done)"
    grep -q " $root" /proc/self/mountinfo && what="$what mounts: $(grep " $root" /proc/self/mountinfo)"
    [ -z "$(ls -A "$root" 2>/dev/null)" ] || what="$what state: $(ls -A "$root")"
    if [ -n "$what" ]; then
        echo "left behind:$what" | diag
        return 1
    fi
}

# boot_files_rss PID KERNEL INITRD: "MAPPINGS RESIDENT-KiB" of the VMM's
# mappings of those two files, told by inode (in a jail they have other
# paths). Once the guest is up the supervisor has them paged out
# (hypervisor/boot-files.c).
boot_files_rss() {
    awk -v k="$(stat -Lc %i "$2")" -v i="$(stat -Lc %i "$3")" '
        /^[0-9a-f]+-/ { m = ($5 == k || $5 == i); n += m } m && /^Rss:/ { s += $2 } END { print n + 0, s + 0 }' \
        "/proc/$1/smaps" 2>/dev/null || echo "0 0"
}

# edit_config BUNDLE EXPR: runs the python statements EXPR over c, the bundle's config.json.
edit_config() {
    python3 - "$1/config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))
PY
}

# mkbundle DIR ARGS...: a busybox bundle running ARGS.
mkbundle() { "$MKBUNDLE" "$@" > /dev/null; }

# no_host_cgroup ID...: cocoon's default host cgroups (cocoon/ID, in the v2
# tree or any v1 hierarchy) of these containers are gone.
no_host_cgroup() {
    local id left=""
    for id in "$@"; do
        left="$left$(ls -d /sys/fs/cgroup/cocoon/"$id" /sys/fs/cgroup/*/cocoon/"$id" 2>/dev/null)"
    done
    [ -z "$left" ] || { echo "host cgroups left: $left" | diag; return 1; }
}
