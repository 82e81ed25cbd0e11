#!/usr/bin/env bash
# Builds one libFuzzer harness with clang (ASan + UBSan) and runs it for a
# bounded time: a crash, a leak or a sanitizer report fails the test.
# Usage: run-fuzz.sh NAME SECONDS SOURCE_ROOT BUILD_ROOT
set -euo pipefail
name=$1 seconds=$2 src=$3 build=$4
command -v clang > /dev/null || { echo "run-fuzz: clang is missing (tools/setup.sh installs it)" >&2; exit 1; }

case $name in
    frame) sources=("$src/proto/frame.c" "$src/proto/msg.c" "$src/proto/conn.c" "$build/proto/agent.pb-c.c")
           libs=(-lprotobuf-c) ;;
    spec) sources=("$src/core/spec.c" "$src/core/json.c" "$src/core/fsutil.c" "$src/core/resources.c"
                   "$src/core/caps.c" "$src/core/rlimits.c" "$src/core/syscall-filter.c" "$src/core/hooks.c"
                   "$src/core/mount.c")
          libs=(-lyajl -lm -lseccomp -lcap) ;;
    ttrpc) sources=("$src/shim/ttrpc.c" "$build/shim/shim.pb-c.c")
           libs=(-lprotobuf-c) ;;
    *) echo "run-fuzz: unknown harness $name" >&2; exit 2 ;;
esac

out="$build/tests/fuzz"
mkdir -p "$out/corpus-$name"
clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/core" -I"$src/proto" -I"$build/proto" -I"$src/shim" -I"$build/shim" -I"$build" \
    "$src/tests/fuzz/fuzz-$name.c" "$src/core/error.c" "${sources[@]}" "${libs[@]}" -o "$out/fuzz-$name"
# The corpus in the build dir grows from run to run; seeds keep the first run meaningful.
if [[ -d "$src/tests/fuzz/seeds-$name" ]]; then
    cp -n "$src/tests/fuzz/seeds-$name"/* "$out/corpus-$name/" 2>/dev/null || true
fi
exec "$out/fuzz-$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 "$out/corpus-$name"
