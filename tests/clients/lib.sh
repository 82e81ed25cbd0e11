# What the client tests (podman, containerd) share on top of the integration
# helpers: the image they import, a terminal for the engine's CLI, and the
# host cgroup check.
. "$(dirname "$0")/../integration/lib.sh"

: "${MKIMAGE:?set MKIMAGE to tools/mkimage.sh}"

# need PROGRAM...: the suite cannot run without them (tools/setup.sh installs them).
need() {
    local p
    for p in "$@"; do
        command -v "$p" > /dev/null && continue
        echo "Bail out! $p is not installed (tools/setup.sh installs it)"
        exit 1
    done
}
need script

# The busybox image as an OCI archive, made without any engine.
IMAGE_TAR="$TEST_ROOT/busybox-oci.tar"
mkbundle "$TEST_ROOT/busybox"
"$MKIMAGE" --name localhost/busybox:latest "$TEST_ROOT/busybox/rootfs" "$IMAGE_TAR" sh

# on_pty OUT READY INPUT COMMAND: runs the shell command COMMAND on a
# pseudo-terminal (script(1)) with its output in OUT; types INPUT (printf's
# escapes: \r is the Enter key) once OUT shows READY. Returns COMMAND's exit
# status. Its input stays open until it ends, as a user's terminal would, or
# for at most two minutes (then script(1) ends it).
on_pty() {
    local out=$1 ready=$2 input=$3 cmd=$4
    rm -f "$out.done"
    : > "$out"
    {
        wait_for 120 grep -q -- "$ready" "$out" && printf '%b' "$input"
        wait_for 120 test -e "$out.done"
    } | {
        script -qefc "$cmd" /dev/null > "$out" 2>&1
        local status=$?
        touch "$out.done"
        exit $status
    }
}

# terminal_case WHAT COMMAND: the shell command line COMMAND, which ends
# where a container's command goes, runs a shell on a terminal; its stdin is
# a pty, typed input reaches it, and its exit status (6) comes back.
terminal_case() {
    local what=$1 out_file="$TEST_ROOT/${1//[^a-z]/}.out" status out
    on_pty "$out_file" ready 'typed line\r' "$2 sh -c 'tty; echo ready; read x; echo got:\$x; exit 6'"
    status=$?
    out=$(tr -d '\r' < "$out_file")
    check "$what: the exit status is the workload's (6)" [ "$status" = 6 ]
    check "$what: stdin is a terminal in the container" has "$out" '^/dev/pts/[0-9]+$'
    check "$what: typed input reaches it" has "$out" '^got:typed line$'
}

# host_cgroup_gone PATH: no hierarchy has the cgroup PATH (a container's
# cgroupsPath) any more.
host_cgroup_gone() {
    local left
    left=$(ls -d "/sys/fs/cgroup/${1#/}" /sys/fs/cgroup/*/"${1#/}" 2> /dev/null)
    [ -z "$left" ] && return 0
    echo "host cgroups left: $left" | diag
    return 1
}

# has TEXT PATTERN: the text has a line matching the extended regex (and
# says what it got when it does not).
has() {
    printf '%s\n' "$1" | grep -Eq -- "$2" && return 0
    printf 'wanted /%s/ in:\n%s\n' "$2" "$1" | diag
    return 1
}
