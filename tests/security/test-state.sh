#!/usr/bin/env bash
# A local user gains nothing through cocoon's state files: --root, a
# container's directory and its state.json must be owned by the caller and
# writable by nobody else, or every verb refuses with a message naming the
# path, runs no hook and kills nothing. The forged state names a poststop
# hook and a "supervisor" that is really a bystander process: with trusted
# ownership (the control case) `delete --force` does run the hook and kill
# the bystander, so the refusals below are what stops it. No VM is booted.
. "$(dirname "$0")/../integration/lib.sh"

# forge ROOT ID: a container directory whose state.json names a bundle with a
# poststop hook (it touches $TEST_ROOT/hook-ran) and a bystander as supervisor.
forge() {
    local root=$1 id=$2
    mkdir -p "$root/$id" "$TEST_ROOT/evil/rootfs"
    chmod 0700 "$root/$id"
    cat > "$TEST_ROOT/evil/config.json" <<JSON
{"ociVersion": "1.1.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"},
 "hooks": {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "touch $TEST_ROOT/hook-ran"]}]}}
JSON
    sleep 1000 &
    victim=$!
    local start; start=$(awk '{print $22}' "/proc/$victim/stat")
    cat > "$root/$id/state.json" <<JSON
{"id": "$id", "bundle": "$TEST_ROOT/evil", "rootfs": "$TEST_ROOT/evil/rootfs", "created": "2026-01-01T00:00:00.000000000Z",
 "pid": 0, "supervisorPid": $victim, "supervisorStart": $start, "terminal": false, "cgroupPath": ""}
JSON
    chmod 0600 "$root/$id/state.json"
    # The hooks come from the config.json create kept beside the state.
    install -m 0600 "$TEST_ROOT/evil/config.json" "$root/$id/config.json"
    rm -f "$TEST_ROOT/hook-ran"
}
unharmed() { # the bystander lives and no hook ran
    local alive=1
    kill -0 "$victim" 2>/dev/null || alive=0
    { kill -9 "$victim"; wait "$victim"; } 2>/dev/null
    [ $alive = 1 ] && [ ! -e "$TEST_ROOT/hook-ran" ]
}

# Control: trusted ownership, so the forged state is obeyed.
R="$TEST_ROOT/ok"; mkdir -m 0700 "$R"; forge "$R" c
"$COCOON" --root "$R" delete --force c > /dev/null 2>&1
sleep 0.2
if kill -0 "$victim" 2>/dev/null; then k=alive; else k=killed; fi
check "control: with trusted ownership, delete --force obeys the state (bystander $k, hook ran: $([ -e "$TEST_ROOT/hook-ran" ] && echo yes || echo no))" \
    [ $k = killed -a -e "$TEST_ROOT/hook-ran" ]
{ kill -9 "$victim"; wait "$victim"; } 2>/dev/null

# refused CASE PATTERN ROOT: delete --force and kill refuse with PATTERN; nothing run or killed.
refused() {
    local desc=$1 pat=$2 root=$3
    check "$desc: delete --force refuses (naming the path and what is wrong)" \
        expect_fail "$pat" "$COCOON" --root "$root" delete --force c
    check "$desc: kill refuses" expect_fail "$pat" "$COCOON" --root "$root" kill c KILL
    check "$desc: state refuses" expect_fail "$pat" "$COCOON" --root "$root" state c
    check "$desc: no hook ran, the bystander lives" unharmed
}

R="$TEST_ROOT/ww"; mkdir "$R"; forge "$R" c; chmod 0777 "$R"
refused "world-writable --root" "$R is writable by its group and others (mode 0777)" "$R"
check "world-writable --root: list refuses too" expect_fail "writable by its group and others" "$COCOON" --root "$R" list
check "world-writable --root: create refuses, and makes nothing" \
    expect_fail "$R is writable" "$COCOON" --root "$R" create -b "$TEST_ROOT/evil" new
check "world-writable --root: create made no directory" [ ! -e "$R/new" ]

# untrusted NAME DESC CHANGE PATH PATTERN: a root whose PATH (relative to it) got CHANGE (a command
# taking the path) refuses with PATTERN ($R stands for the root).
untrusted() {
    local name=$1 desc=$2 change=$3 path=$4 pat=$5
    R="$TEST_ROOT/$name"; mkdir -m 0700 "$R"; forge "$R" c
    $change "$R${path:+/$path}"
    refused "$desc" "${pat//\$R/$R}" "$R"
}
untrusted foreign "--root owned by another user" "chown 65534" "" "\$R is owned by uid 65534, not by uid $(id -u)"
untrusted gw "group-writable --root" "chmod 0770" "" "\$R is writable by its group (mode 0770)"
untrusted dir-foreign "container directory owned by another user" "chown 65534" c "\$R/c is owned by uid 65534"
untrusted dir-gw "group-writable container directory" "chmod 0770" c "\$R/c is writable by its group (mode 0770)"
untrusted state-foreign "state.json owned by another user" "chown 65534" c/state.json "\$R/c/state.json is owned by uid 65534"
untrusted state-gw "group-writable state.json" "chmod 0620" c/state.json "\$R/c/state.json is writable by its group (mode 0620)"
replace_by_symlink() { mv "$1" "$TEST_ROOT/real.json" && ln -s "$TEST_ROOT/real.json" "$1"; }
untrusted state-link "state.json as a symlink" replace_by_symlink c/state.json "\$R/c/state.json: Too many levels of symbolic links"

# The config.json kept at create is trusted as state.json is: its hooks never run from a forged one.
R="$TEST_ROOT/config-foreign"; mkdir -m 0700 "$R"; forge "$R" c; chown 65534 "$R/c/config.json"
out=$("$COCOON" --root "$R" delete --force c 2>&1)
check "config.json owned by another user: delete --force runs none of its hooks and says why" \
    sh -c 'echo "$1" | grep -q -- "$2 is owned by uid 65534"' _ "$out" "$R/c/config.json"
check "config.json owned by another user: no hook ran" [ ! -e "$TEST_ROOT/hook-ran" ]
{ kill -9 "$victim"; wait "$victim"; } 2>/dev/null

# Issue 15: a --root that is not a directory is an error for every verb that uses it.
touch "$TEST_ROOT/file"
for verb in list "state c" "delete c" "delete --force c" "kill c" "ps c" "events --stats c" "pause c" \
    "resume c" "update --memory 64m c" "exec c true" "start c" "create -b $TEST_ROOT/evil c"; do
    # shellcheck disable=SC2086
    check "--root a regular file: $verb fails naming it" \
        expect_fail "$TEST_ROOT/file is not a directory" "$COCOON" --root "$TEST_ROOT/file" $verb
done
check "a missing --root: list prints an empty table" \
    sh -c '[ "$("$0" --root "$1/none" list -q)" = "" ]' "$COCOON" "$TEST_ROOT"
check "a missing --root: state says the container does not exist" \
    expect_fail "container c does not exist" "$COCOON" --root "$TEST_ROOT/none" state c

done_testing
