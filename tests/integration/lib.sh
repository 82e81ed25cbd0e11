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
    # Whatever a failed test left running must not outlive the run.
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
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }

cocoon() { "$COCOON" --root "$STATE" "$@"; }

# Every process whose working directory is inside this run's state root:
# the supervisor, QEMU and virtiofsd all live in a sandbox's state dir.
pids_in_root() {
    local d
    for d in /proc/[0-9]*; do
        case $(readlink "$d/cwd" 2>/dev/null) in
            "$STATE"/*) echo "${d#/proc/}" ;;
        esac
    done
}

# What a user checks after a run: no VM, no virtiofsd, no supervisor, no
# mount and no state left for this root.
nothing_left() {
    local what=""
    local pids; pids=$(pids_in_root)
    [ -z "$pids" ] || what="$what processes: $(for p in $pids; do tr '\0' ' ' < /proc/$p/cmdline | cut -c1-80; echo; done)"
    grep -q " $STATE" /proc/self/mountinfo && what="$what mounts: $(grep " $STATE" /proc/self/mountinfo)"
    [ -z "$(ls -A "$STATE")" ] || what="$what state: $(ls -A "$STATE")"
    if [ -n "$what" ]; then
        echo "left behind:$what" | diag
        return 1
    fi
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
