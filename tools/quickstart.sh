#!/usr/bin/env bash
# README command 1: set up, build, make a busybox bundle and run it in a
# microVM. The container prints the kernel release it sees: the guest's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

bundle=build/quickstart-bundle
bash tools/mkbundle.sh "$bundle" sh -c 'echo "hello from a cocoon microVM, kernel $(uname -r) (host: '"$(uname -r)"')"' > /dev/null
# A fresh id each time, so that running this twice in a row works.
exec build/runtime/cocoon run --bundle "$bundle" "quickstart-$$"
