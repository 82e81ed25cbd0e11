#!/usr/bin/env bash
# README command 2 (and .ci/run): set up, build, and run the whole test suite,
# unit and integration (real VMs), then print one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || exit 1

meson test -C build --print-errorlogs "$@"
status=$?

# meson's log has one JSON line per test; count the TAP assertions in them.
python3 - build/meson-logs/testlog.json <<'PY'
import json, re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout") or ""
    oks = len(re.findall(r"^ok \d+", out, re.M))
    # TAP: a "not ok ... # TODO" is a known gap, not a failure; it counts as skipped.
    todo = len(re.findall(r"^not ok \d+[^\n]*# TODO", out, re.M))
    bad = len(re.findall(r"^not ok \d+", out, re.M)) - todo
    skipped += todo
    if t["result"] == "SKIP":
        skipped += 1
    elif oks + bad == 0:
        passed, failed = (passed + 1, failed) if t["result"] == "OK" else (passed, failed + 1)
    else:
        passed += oks
        failed += bad + (0 if t["result"] == "OK" or bad else 1)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
