#!/usr/bin/env bash
# The verbs that need no VM: --version, spec, usage errors.
. "$(dirname "$0")/lib.sh"

out=$(cocoon --version)
check "--version names the version, the commit and the spec version" \
    sh -c 'echo "$1" | grep -q "^cocoon version [0-9]" && echo "$1" | grep -q "^commit: ." && echo "$1" | grep -q "^spec: 1\."' _ "$out"

mkdir -p "$TEST_ROOT/spec" && cd "$TEST_ROOT/spec"
cocoon spec; status=$?
check "spec writes config.json" [ "$status" -eq 0 -a -s config.json ]
check "the default config.json is valid JSON" python3 -c 'import json,sys; c=json.load(open("config.json")); sys.exit(c["process"]["args"] != ["sh"])'
out=$(cocoon spec 2>&1); status=$?
check "spec refuses to overwrite config.json" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q exists' _ "$out" "$status"
cd / 

out=$(cocoon features); status=$?
check "features prints the runtime-spec features document" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ociVersionMax"] == "1.1.0" and "startContainer" in d["hooks"] and "rbind" in d["mountOptions"]
l = d["linux"]
assert "user" in l["namespaces"] and "CAP_SYS_ADMIN" in l["capabilities"] and l["cgroup"]["v2"]
assert l["seccomp"]["enabled"] and "SCMP_ACT_ERRNO" in l["seccomp"]["actions"] and "SCMP_ARCH_X86_64" in l["seccomp"]["archs"]' "$out"
out=$(cocoon checkpoint c 2>&1); status=$?
check "checkpoint says it is not supported" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "not supported"' _ "$out" "$status"
out=$(cocoon create --help); status=$?
check "every verb has --help" sh -c '[ "$2" -eq 0 ] && echo "$1" | grep -q "pid-file"' _ "$out" "$status"

out=$(cocoon no-such-verb 2>&1); status=$?
check "an unknown command is an error that says so" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "unknown command"' _ "$out" "$status"
out=$(cocoon run 2>&1); status=$?
check "run without an id is a usage error" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "usage"' _ "$out" "$status"
# Errors go to --log in runc's JSON format, which containerd's shim parses.
out=$(cocoon --log "$TEST_ROOT/log.json" --log-format json run --bundle "$TEST_ROOT/nowhere" logged 2>&1); status=$?
check "an error exits non-zero and is printed on stderr" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q nowhere' _ "$out" "$status"
check "--log-format json writes a line with level, msg and time" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
e = json.loads(lines[-1])
sys.exit(not (e["level"] == "error" and "nowhere" in e["msg"] and e["time"].endswith("Z")))' "$TEST_ROOT/log.json"
out=$(cocoon --log-format yaml spec 2>&1); status=$?
check "an unknown --log-format is refused" sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "log-format"' _ "$out" "$status"

# The config file: a wrong key names the file, the section and the key.
printf '[hypervisor]\nmemory_mib = lots\n' > "$TEST_ROOT/bad.conf"
out=$(COCOON_CONFIG="$TEST_ROOT/bad.conf" cocoon run -b "$TEST_ROOT" cfg 2>&1); status=$?
check "an invalid setting in the config file is named" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "bad.conf: \[hypervisor\] memory_mib = lots"' _ "$out" "$status"
printf '[hypervisor]\nkernel = %s/no-kernel\n' "$TEST_ROOT" > "$TEST_ROOT/nokernel.conf"
mkbundle "$TEST_ROOT/bundle" true
out=$(COCOON_CONFIG="$TEST_ROOT/nokernel.conf" cocoon run -b "$TEST_ROOT/bundle" nokernel 2>&1); status=$?
check "a missing guest kernel is a clear error" \
    sh -c '[ "$2" -ne 0 ] && echo "$1" | grep -q "guest kernel .*no-kernel"' _ "$out" "$status"

check "nothing left on the host" nothing_left

done_testing
