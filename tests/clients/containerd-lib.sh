# What the containerd tests share: a containerd of their own (root, state
# and socket in this run's temporary directory), ctr against it in the
# namespace $NS, and its teardown. The test defines shims(), the shim
# processes of this containerd, which the teardown kills if any is left.
CT="$TEST_ROOT/containerd"
SOCK="$CT/containerd.sock"
IMG=localhost/busybox:latest
mkdir -p "$CT"

# containerd_start < TOML: the daemon's own paths first (top-level keys),
# then the TOML on stdin, its socket last; the daemon runs with the
# caller's environment.
containerd_start() {
    {
        printf 'root = "%s"\nstate = "%s"\n' "$CT/root" "$CT/state"
        cat
        printf '[plugins."io.containerd.internal.v1.opt"]\n  path = "%s"\n' "$CT/opt"
        printf '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s"\n' "$SOCK" "$SOCK.ttrpc"
    } > "$CT/config.toml"
    containerd --config "$CT/config.toml" > "$CT/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
}
c() { ctr -a "$SOCK" -n "$NS" "$@"; }
up() { c version > /dev/null 2>&1; }
status_is() { [ "$(c task ls | awk -v id="$1" '$1 == id { print $3 }')" = "$2" ]; }

containerd_teardown() {
    local id
    for id in $(c task ls -q 2> /dev/null); do
        c task kill -s SIGKILL "$id" > /dev/null 2>&1
        c task rm -f "$id" > /dev/null 2>&1
    done
    for id in $(c container ls -q 2> /dev/null); do c container rm "$id" > /dev/null 2>&1; done
    c image rm "$IMG" > /dev/null 2>&1
    kill "$CONTAINERD_PID" 2> /dev/null && wait "$CONTAINERD_PID"
    for id in $(shims); do kill -9 "$id" 2> /dev/null; done
    # The namespace's parent cgroups are the test's (ctr's spec puts a task's in /NAMESPACE/ID).
    for id in /sys/fs/cgroup/"$NS" /sys/fs/cgroup/*/"$NS"; do [ -d "$id" ] && rmdir "$id"; done
}

# run_rm_case ID: `ctr run --rm` ($R names the runtime) of a shell that
# writes to stdout and stderr and exits 5; then nothing of ID is left (the
# test's clean()).
run_rm_case() {
    local id=$1 out status
    out=$(c run --rm "${R[@]}" "$IMG" "$id" sh -c 'echo out; echo err >&2; exit 5' < /dev/null 2>&1)
    status=$?
    check "run --rm: the exit status is the workload's (5)" [ "$status" = 5 ]
    check "run --rm: stdout reaches ctr" has "$out" '^out$'
    check "run --rm: stderr reaches ctr" has "$out" '^err$'
    check "run --rm (exit 5): nothing left" clean "$id"
}
