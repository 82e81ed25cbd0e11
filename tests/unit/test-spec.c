/*
 * core/spec.c: config.json in, struct oci_spec out, and a message that names
 * the field when the file is wrong.
 *
 * JSON in this file is written with ' for " so that it stays readable;
 * dq() turns it back into JSON.
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "tap.h"

#define BASE "'ociVersion': '1.1.0', 'root': {'path': 'rootfs'}"
#define PROCESS(extra) "'process': {'args': ['sh'], 'cwd': '/'" extra "}"
#define MINIMAL "{" BASE ", " PROCESS("") "}"

static const char full_config[] = "{\n"
                                  "  'ociVersion': '1.1.0',\n"
                                  "  'process': {\n"
                                  "    'terminal': true,\n"
                                  "    'user': {'uid': 1000, 'gid': 100, 'umask': 18,\n"
                                  "             'additionalGids': [5, 4294967294]},\n"
                                  "    'args': ['/bin/sh', '-c', 'echo hi'],\n"
                                  "    'env': ['PATH=/usr/bin:/bin', 'EMPTY=', 'EQ=a=b'],\n"
                                  "    'cwd': '/work',\n"
                                  "    'noNewPrivileges': true,\n"
                                  "    'capabilities': {'bounding': ['CAP_KILL']},\n"
                                  "    'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 1024, 'soft': 1024}]\n"
                                  "  },\n"
                                  "  'root': {'path': '/var/lib/bundle/rootfs', 'readonly': true},\n"
                                  "  'hostname': 'box',\n"
                                  "  'mounts': [\n"
                                  "    {'destination': '/proc', 'type': 'proc', 'source': 'proc'},\n"
                                  "    {'destination': '/data', 'type': 'bind', 'source': '/srv/data',\n"
                                  "     'options': ['rbind', 'ro']},\n"
                                  "    {'destination': '/tmp', 'options': []}\n"
                                  "  ],\n"
                                  "  'linux': {\n"
                                  "    'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/run/netns/x'},\n"
                                  "                   {'type': 'mount'}, {'type': 'user'}],\n"
                                  "    'maskedPaths': ['/proc/kcore', '/sys/firmware'],\n"
                                  "    'readonlyPaths': ['/proc/sys'],\n"
                                  "    'cgroupsPath': '/cocoon/abc',\n"
                                  "    'resources': {'memory': {'limit': 1048576}},\n"
                                  "    'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW'}\n"
                                  "  },\n"
                                  "  'annotations': {'org.example.a': 'one', 'org.example.b': ''},\n"
                                  "  'hooks': {},\n"
                                  "  'x-unknown': [1, {'nested': null}]\n"
                                  "}\n";

/* Inputs that must fail, and the part of the message that says why. */
static const struct {
        const char *name;
        const char *json;
        const char *message;
} bad_inputs[] = {
        { "invalid JSON", "{'ociVersion': }", "invalid JSON: parse error" },
        { "empty input", "", "invalid JSON: empty input" },
        { "blank input", " \n\t ", "invalid JSON: empty input" },
        { "top level array", "[1, 2]", "expected a JSON object at the top level, got an array" },
        { "top level string", "'x'", "expected a JSON object at the top level, got a string" },
        { "trailing garbage", MINIMAL " x", "invalid JSON: parse error: trailing garbage" },
        { "comment", "{/* no */" BASE "}", "invalid JSON: lexical error" },
        { "position of the error", "{\n  'ociVersion': '1.1.0',\n  'root': {'path' 'x'}\n}", "(line 3, column" },
        { "missing ociVersion", "{'root': {'path': 'rootfs'}}", "ociVersion: required field is missing" },
        { "ociVersion number", "{'ociVersion': 1, 'root': {'path': 'r'}}",
          "ociVersion: expected a string, got a number" },
        { "empty ociVersion", "{'ociVersion': '', 'root': {'path': 'r'}}", "ociVersion: must not be empty" },
        { "missing root", "{'ociVersion': '1.1.0'}", "root: required field is missing" },
        { "root not object", "{'ociVersion': '1.1.0', 'root': 'rootfs'}", "root: expected an object, got a string" },
        { "missing root.path", "{'ociVersion': '1.1.0', 'root': {'readonly': true}}",
          "root.path: required field is missing" },
        { "root.readonly string", "{'ociVersion': '1.1.0', 'root': {'path': 'r', 'readonly': 'yes'}}",
          "root.readonly: expected a boolean, got a string" },
        { "process not object", "{" BASE ", 'process': []}", "process: expected an object, got an array" },
        { "args missing", "{" BASE ", 'process': {'cwd': '/'}}",
          "process.args: expected a non-empty array of strings" },
        { "args empty", "{" BASE ", 'process': {'args': [], 'cwd': '/'}}",
          "process.args: expected a non-empty array of strings" },
        { "args a string", "{" BASE ", 'process': {'args': 'sh', 'cwd': '/'}}",
          "process.args: expected a non-empty array of strings" },
        { "args not strings", "{" BASE ", 'process': {'args': ['sh', 1], 'cwd': '/'}}",
          "process.args[1]: expected a string, got a number" },
        { "cwd missing", "{" BASE ", 'process': {'args': ['sh']}}", "process.cwd: required field is missing" },
        { "cwd relative", "{" BASE ", 'process': {'args': ['sh'], 'cwd': 'tmp'}}",
          "process.cwd: must be an absolute path" },
        { "terminal string", "{" BASE ", " PROCESS(", 'terminal': 'yes'") "}",
          "process.terminal: expected a boolean, got a string" },
        { "env not array", "{" BASE ", " PROCESS(", 'env': 'A=1'") "}",
          "process.env: expected an array of strings, got a string" },
        { "env without =", "{" BASE ", " PROCESS(", 'env': ['A=1', 'FOO']") "}",
          "process.env[1]: expected \"KEY=value\", got \"FOO\"" },
        { "env empty name", "{" BASE ", " PROCESS(", 'env': ['=x']") "}", "process.env[0]: variable name is empty" },
        { "user not object", "{" BASE ", " PROCESS(", 'user': 0") "}",
          "process.user: expected an object, got a number" },
        { "uid negative", "{" BASE ", " PROCESS(", 'user': {'uid': -1, 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294, got -1" },
        { "uid fraction", "{" BASE ", " PROCESS(", 'user': {'uid': 1.5, 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294, got 1.5" },
        { "uid exponent", "{" BASE ", " PROCESS(", 'user': {'uid': 1e3, 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294, got 1e3" },
        { "uid too large", "{" BASE ", " PROCESS(", 'user': {'uid': 4294967295, 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294, got 4294967295" },
        { "uid huge", "{" BASE ", " PROCESS(", 'user': {'uid': 123456789012345678901234567890, 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294" },
        { "uid string", "{" BASE ", " PROCESS(", 'user': {'uid': '0', 'gid': 0}") "}",
          "process.user.uid: expected an integer between 0 and 4294967294, got a string" },
        { "additionalGids bad", "{" BASE ", " PROCESS(", 'user': {'uid': 0, 'gid': 0, 'additionalGids': [1, -2]}") "}",
          "process.user.additionalGids[1]: expected an integer between 0 and 4294967294, got -2" },
        { "umask too large", "{" BASE ", " PROCESS(", 'user': {'uid': 0, 'gid': 0, 'umask': 512}") "}",
          "process.user.umask: expected an integer between 0 and 511, got 512" },
        { "mounts object", "{" BASE ", 'mounts': {}}", "mounts: expected an array, got an object" },
        { "mount not object", "{" BASE ", 'mounts': [{'destination': '/a'}, 'b']}",
          "mounts[1]: expected an object, got a string" },
        { "mount destination missing", "{" BASE ", 'mounts': [{'type': 'tmpfs'}]}",
          "mounts[0].destination: required field is missing" },
        { "mount destination relative",
          "{" BASE ", 'mounts': [{'destination': '/a'}, {'destination': '/b'}, {'destination': 'c'}]}",
          "mounts[2].destination: must be an absolute path" },
        { "mount type number", "{" BASE ", 'mounts': [{'destination': '/a', 'type': 5}]}",
          "mounts[0].type: expected a string, got a number" },
        { "mount options not strings", "{" BASE ", 'mounts': [{'destination': '/a', 'options': ['ro', true]}]}",
          "mounts[0].options[1]: expected a string, got a boolean" },
        { "linux not object", "{" BASE ", 'linux': []}", "linux: expected an object, got an array" },
        { "namespaces object", "{" BASE ", 'linux': {'namespaces': {}}}",
          "linux.namespaces: expected an array, got an object" },
        { "namespace type missing", "{" BASE ", 'linux': {'namespaces': [{'path': '/x'}]}}",
          "linux.namespaces[0].type: required field is missing" },
        { "namespace unknown", "{" BASE ", 'linux': {'namespaces': [{'type': 'pid'}, {'type': 'foo'}]}}",
          "linux.namespaces[1].type: unknown namespace type \"foo\"" },
        { "namespace duplicate",
          "{" BASE ", 'linux': {'namespaces': [{'type': 'pid'}, {'type': 'uts'}, {'type': 'pid'}]}}",
          "linux.namespaces[2].type: duplicate namespace type \"pid\"" },
        { "namespace path relative", "{" BASE ", 'linux': {'namespaces': [{'type': 'network', 'path': 'netns'}]}}",
          "linux.namespaces[0].path: must be an absolute path" },
        { "maskedPaths not strings", "{" BASE ", 'linux': {'maskedPaths': [1]}}",
          "linux.maskedPaths[0]: expected a string, got a number" },
        { "readonlyPaths not array", "{" BASE ", 'linux': {'readonlyPaths': '/proc'}}",
          "linux.readonlyPaths: expected an array of strings, got a string" },
        { "cgroupsPath number", "{" BASE ", 'linux': {'cgroupsPath': 1}}",
          "linux.cgroupsPath: expected a string, got a number" },
        { "hostname number", "{" BASE ", 'hostname': 1}", "hostname: expected a string, got a number" },
        { "annotations array", "{" BASE ", 'annotations': []}", "annotations: expected an object, got an array" },
        { "annotation value number", "{" BASE ", 'annotations': {'a': 'x', 'org.example': 1}}",
          "annotations[\"org.example\"]: expected a string, got a number" },
        { "username number", "{" BASE ", " PROCESS(", 'user': {'username': 5}") "}",
          "process.user.username: expected a string, got a number" },
        { "uid missing without username", "{" BASE ", " PROCESS(", 'user': {'gid': 0}") "}",
          "process.user.uid: required field is missing" },
        { "capabilities array", "{" BASE ", " PROCESS(", 'capabilities': []") "}",
          "process.capabilities: expected an object, got an array" },
        { "capability set string", "{" BASE ", " PROCESS(", 'capabilities': {'bounding': 'CAP_KILL'}") "}",
          "process.capabilities.bounding: expected an array of strings, got a string" },
        { "capability not a string", "{" BASE ", " PROCESS(", 'capabilities': {'ambient': ['CAP_KILL', 7]}") "}",
          "process.capabilities.ambient[1]: expected a string, got a number" },
        { "rlimits object", "{" BASE ", " PROCESS(", 'rlimits': {}") "}",
          "process.rlimits: expected an array, got an object" },
        { "rlimit unknown type", "{" BASE ", " PROCESS(", 'rlimits': [{'type': 'RLIMIT_FOO', 'soft': 1, 'hard': 1}]") "}",
          "process.rlimits[0].type: unknown resource limit \"RLIMIT_FOO\"" },
        { "rlimit hard missing", "{" BASE ", " PROCESS(", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1}]") "}",
          "process.rlimits[0].hard: required field is missing" },
        { "rlimit negative", "{" BASE ", " PROCESS(", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': -1, 'hard': 1}]") "}",
          "process.rlimits[0].soft: expected an integer between 0 and 18446744073709551615, got -1" },
        { "rlimit soft above hard",
          "{" BASE ", " PROCESS(", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 10, 'hard': 5}]") "}",
          "process.rlimits[0].soft: 10 is above the hard limit 5" },
        { "rlimit duplicate",
          "{" BASE ", " PROCESS(", 'rlimits': [{'type': 'RLIMIT_CORE', 'soft': 0, 'hard': 0}, "
          "{'type': 'RLIMIT_CORE', 'soft': 1, 'hard': 1}]") "}",
          "process.rlimits[1].type: duplicate resource limit \"RLIMIT_CORE\"" },
        { "oomScoreAdj too low", "{" BASE ", " PROCESS(", 'oomScoreAdj': -1001") "}",
          "process.oomScoreAdj: expected an integer between -1000 and 1000, got -1001" },
        { "oomScoreAdj string", "{" BASE ", " PROCESS(", 'oomScoreAdj': '5'") "}",
          "process.oomScoreAdj: expected an integer between -1000 and 1000, got a string" },
        { "oomScoreAdj fraction", "{" BASE ", " PROCESS(", 'oomScoreAdj': 1.5") "}",
          "process.oomScoreAdj: expected an integer between -1000 and 1000, got 1.5" },
        { "ioPriority class unknown", "{" BASE ", " PROCESS(", 'ioPriority': {'class': 'IOPRIO_CLASS_FAST'}") "}",
          "process.ioPriority.class: unknown class \"IOPRIO_CLASS_FAST\"" },
        { "ioPriority priority too large",
          "{" BASE ", " PROCESS(", 'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 8}") "}",
          "process.ioPriority.priority: expected an integer between 0 and 7, got 8" },
        { "consoleSize width missing", "{" BASE ", " PROCESS(", 'consoleSize': {'height': 24}") "}",
          "process.consoleSize.width: required field is missing" },
        { "consoleSize too large", "{" BASE ", " PROCESS(", 'consoleSize': {'height': 24, 'width': 70000}") "}",
          "process.consoleSize.width: expected an integer between 0 and 65535, got 70000" },
        { "seccomp defaultErrnoRet with allow",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'defaultErrnoRet': 1}}}",
          "linux.seccomp.defaultErrnoRet: only a defaultAction of SCMP_ACT_ERRNO or SCMP_ACT_TRACE takes an errno" },
        { "timeOffsets without a time namespace", "{" BASE ", 'linux': {'timeOffsets': {'monotonic': {'secs': 10}}}}",
          "linux.timeOffsets: needs a new time namespace" },
        { "timeOffsets unknown clock", "{" BASE ", 'linux': {'namespaces': [{'type': 'time'}], 'timeOffsets': {'realtime': {'secs': 1}}}}",
          "linux.timeOffsets.realtime: unknown clock (expected monotonic or boottime)" },
        { "timeOffsets nanosecs too large", "{" BASE ", 'linux': {'namespaces': [{'type': 'time'}], 'timeOffsets': {'boottime': {'nanosecs': 1000000000}}}}",
          "linux.timeOffsets.boottime.nanosecs: expected an integer between 0 and 999999999" },
        { "personality domain unknown", "{" BASE ", 'linux': {'personality': {'domain': 'BSD'}}}",
          "linux.personality.domain: expected \"LINUX\" or \"LINUX32\", got \"BSD\"" },
        { "personality flags", "{" BASE ", 'linux': {'personality': {'domain': 'LINUX', 'flags': ['x']}}}",
          "linux.personality.flags: personality flags are not supported" },
        { "domainname number", "{" BASE ", 'domainname': 1}", "domainname: expected a string, got a number" },
        { "devices object", "{" BASE ", 'linux': {'devices': {}}}", "linux.devices: expected an array, got an object" },
        { "device path relative", "{" BASE ", 'linux': {'devices': [{'path': 'dev/x', 'type': 'c', 'major': 1, 'minor': 3}]}}",
          "linux.devices[0].path: must be an absolute path" },
        { "device type unknown", "{" BASE ", 'linux': {'devices': [{'path': '/dev/x', 'type': 'z', 'major': 1, 'minor': 3}]}}",
          "linux.devices[0].type: expected \"c\", \"b\", \"u\" or \"p\", got \"z\"" },
        { "device major missing", "{" BASE ", 'linux': {'devices': [{'path': '/dev/x', 'type': 'b', 'minor': 3}]}}",
          "linux.devices[0].major: required for a block device" },
        { "device fileMode too large",
          "{" BASE ", 'linux': {'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1, 'minor': 3, 'fileMode': 65536}]}}",
          "linux.devices[0].fileMode: expected an integer between 0 and 4095, got 65536" },
        { "device uid negative",
          "{" BASE ", 'linux': {'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1, 'minor': 3, 'uid': -1}]}}",
          "linux.devices[0].uid: expected an integer between 0 and 4294967294, got -1" },
        { "sysctl array", "{" BASE ", 'linux': {'sysctl': []}}", "linux.sysctl: expected an object, got an array" },
        { "sysctl value number", "{" BASE ", 'linux': {'sysctl': {'net.ipv4.ip_forward': 1}}}",
          "linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string, got a number" },
        { "sysctl kernel.hostname", "{" BASE ", 'linux': {'sysctl': {'kernel.hostname': 'x'}}}",
          "linux.sysctl[\"kernel.hostname\"]: not allowed, it conflicts with the \"hostname\" field" },
        { "sysctl kernel/domainname", "{" BASE ", 'linux': {'sysctl': {'kernel/domainname': 'x'}}}",
          "linux.sysctl[\"kernel/domainname\"]: not allowed, it conflicts with the \"domainname\" field" },
        { "sysctl escaping /proc/sys", "{" BASE ", 'linux': {'sysctl': {'../../etc/passwd': 'x'}}}",
          "linux.sysctl[\"../../etc/passwd\"]: not a sysctl name" },
        { "uidMappings size zero",
          "{" BASE ", 'linux': {'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 0}]}}",
          "linux.uidMappings[0].size: must be greater than zero" },
        { "gidMappings hostID missing", "{" BASE ", 'linux': {'gidMappings': [{'containerID': 0, 'size': 1}]}}",
          "linux.gidMappings[0].hostID: required field is missing" },
        { "uidMappings too large",
          "{" BASE ", 'linux': {'uidMappings': [{'containerID': 4294967296, 'hostID': 0, 'size': 1}]}}",
          "linux.uidMappings[0].containerID: expected an integer between 0 and 4294967295" },
        { "rootfsPropagation unknown", "{" BASE ", 'linux': {'rootfsPropagation': 'sideways'}}",
          "linux.rootfsPropagation: unknown propagation \"sideways\"" },
        { "seccomp array", "{" BASE ", 'linux': {'seccomp': []}}", "linux.seccomp: expected an object, got an array" },
        { "seccomp defaultAction missing", "{" BASE ", 'linux': {'seccomp': {}}}",
          "linux.seccomp.defaultAction: required field is missing" },
        { "seccomp action unknown", "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_MAYBE'}}}",
          "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_MAYBE\"" },
        { "seccomp notify refused",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', "
          "'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_NOTIFY'}]}}}",
          "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath)" },
        { "seccomp listenerPath refused",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': '/run/agent.sock'}}}",
          "linux.seccomp.listenerPath: seccomp agents are not supported" },
        { "seccomp flag unknown", "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['X']}}}",
          "linux.seccomp.flags[0]: unknown flag \"X\"" },
        { "seccomp defaultErrnoRet too large",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 5000}}}",
          "linux.seccomp.defaultErrnoRet: expected an integer between 0 and 4095, got 5000" },
        { "seccomp names empty",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': [], "
          "'action': 'SCMP_ACT_ERRNO'}]}}}",
          "linux.seccomp.syscalls[0].names: expected a non-empty array of strings" },
        { "seccomp errnoRet with allow",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'syscalls': [{'names': ['read'], "
          "'action': 'SCMP_ACT_ALLOW', 'errnoRet': 1}]}}}",
          "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno" },
        { "seccomp arg index too large",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['kill'], "
          "'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}]}}}",
          "linux.seccomp.syscalls[0].args[0].index: expected an integer between 0 and 5, got 6" },
        { "seccomp arg op unknown",
          "{" BASE ", 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['kill'], "
          "'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 1, 'value': 1, 'op': 'SCMP_CMP_ABOUT'}]}]}}}",
          "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\"" },
        { "hooks array", "{" BASE ", 'hooks': []}", "hooks: expected an object, got an array" },
        { "hook kind not array", "{" BASE ", 'hooks': {'poststop': {'path': '/bin/true'}}}",
          "hooks.poststop: expected an array, got an object" },
        { "hook path missing", "{" BASE ", 'hooks': {'prestart': [{'args': ['x']}]}}",
          "hooks.prestart[0].path: required field is missing" },
        { "hook path relative", "{" BASE ", 'hooks': {'createRuntime': [{'path': 'bin/true'}]}}",
          "hooks.createRuntime[0].path: must be an absolute path" },
        { "hook timeout zero", "{" BASE ", 'hooks': {'startContainer': [{'path': '/bin/true', 'timeout': 0}]}}",
          "hooks.startContainer[0].timeout: must be greater than zero" },
        { "hook env not strings", "{" BASE ", 'hooks': {'poststart': [{'path': '/bin/true', 'env': [1]}]}}",
          "hooks.poststart[0].env[0]: expected a string, got a number" },
        { "NUL in a string", "{" BASE ", " PROCESS(", 'env': ['A=1\\u0000B=2']") "}",
          "invalid JSON: string contains a NUL character" },
        { "invalid UTF-8", "{" BASE ", 'hostname': '\xff'}",
          "invalid JSON: lexical error: invalid bytes in UTF8 string" },
};

/* A malloc'd copy of s with every ' turned into ". */
static char *dq(const char *s)
{
        char *d = strdup(s);
        if (!d)
                abort();
        for (char *p = d; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return d;
}

/* Parses text that must fail; *msg gets the message (or NULL). */
static int parse_bad(const char *text, size_t len, char **msg)
{
        struct oci_spec *spec = (struct oci_spec *) 0x1; /* must stay untouched */
        _cleanup_error_ cocoon_error *err = NULL;

        int r = spec_parse(text, len, &spec, &err);
        if (spec != (struct oci_spec *) 0x1)
                r = 0;
        *msg = err && err->msg ? strdup(err->msg) : NULL;
        return r;
}

static void test_bad_inputs(void)
{
        for (size_t i = 0; i < ARRAY_SIZE(bad_inputs); i++) {
                _cleanup_free_ char *json = dq(bad_inputs[i].json);
                _cleanup_free_ char *msg = NULL;
                int r = parse_bad(json, strlen(json), &msg);
                TAP_OK(r == -EINVAL, "%s: -EINVAL, result untouched", bad_inputs[i].name);
                TAP_CONTAINS(msg, bad_inputs[i].message, "%s: message says why", bad_inputs[i].name);
        }
}

static void test_truncated(void)
{
        _cleanup_free_ char *json = dq(full_config);
        _cleanup_free_ char *msg = NULL;

        int r = parse_bad(json, strlen(json) / 2, &msg);
        TAP_OK(r == -EINVAL, "truncated JSON: -EINVAL");
        TAP_CONTAINS(msg, "invalid JSON: parse error: premature EOF", "truncated JSON: premature EOF");

        /* The length is what counts, not a terminating NUL: a NUL byte
         * inside the given length is not JSON. */
        _cleanup_free_ char *minimal = dq(MINIMAL);
        size_t len = strlen(minimal) + 1;
        _cleanup_free_ char *msg2 = NULL;
        r = parse_bad(minimal, len, &msg2);
        TAP_OK(r == -EINVAL, "NUL byte within the length: -EINVAL");
        TAP_CONTAINS(msg2, "invalid JSON", "NUL byte within the length: invalid JSON");

        _cleanup_free_ char *msg3 = NULL;
        r = parse_bad(NULL, 0, &msg3);
        TAP_OK(r == -EINVAL, "NULL text: -EINVAL");
}

static void test_deep_nesting(void)
{
        /* yajl_tree frees recursively; a deep document must be refused
         * before it is built. */
        size_t depth = 100000;
        char *json = malloc(2 * depth + 6);
        if (!json)
                abort();
        char *p = json;
        *p++ = '{';
        memcpy(p, "\"x\":", 4);
        p += 4;
        memset(p, '[', depth);
        p += depth;
        memset(p, ']', depth);
        p += depth;
        *p++ = '}';

        _cleanup_free_ char *msg = NULL;
        int r = parse_bad(json, (size_t) (p - json), &msg);
        free(json);
        TAP_OK(r == -EINVAL, "deep nesting: -EINVAL");
        TAP_CONTAINS(msg, "invalid JSON: nested too deeply", "deep nesting: says so");
}

static void test_full(void)
{
        _cleanup_free_ char *json = dq(full_config);
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;

        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "full config parses");
        if (!spec) {
                printf("# %s\n", err && err->msg ? err->msg : "(no message)");
                return;
        }

        TAP_STR_EQ(spec->oci_version, "1.1.0", "ociVersion");
        TAP_OK(spec->has_process, "has_process");
        TAP_OK(spec->process.terminal, "process.terminal");
        TAP_OK(spec->process.user.uid == 1000 && spec->process.user.gid == 100, "process.user uid and gid");
        TAP_OK(spec->process.user.has_umask && spec->process.user.umask == 022, "process.user.umask");
        TAP_OK(spec->process.user.n_additional_gids == 2 && spec->process.user.additional_gids[0] == 5 &&
                       spec->process.user.additional_gids[1] == 4294967294u,
               "process.user.additionalGids");
        TAP_OK(spec->process.n_args == 3 && spec->process.args[3] == NULL, "process.args: 3, NULL-terminated");
        TAP_STR_EQ(spec->process.args[0], "/bin/sh", "process.args[0]");
        TAP_STR_EQ(spec->process.args[2], "echo hi", "process.args[2]");
        TAP_OK(spec->process.n_env == 3 && spec->process.env[3] == NULL, "process.env: 3, NULL-terminated");
        TAP_STR_EQ(spec->process.env[1], "EMPTY=", "process.env[1]");
        TAP_STR_EQ(spec->process.env[2], "EQ=a=b", "process.env[2]");
        TAP_STR_EQ(spec->process.cwd, "/work", "process.cwd");
        TAP_OK(spec->process.no_new_privileges, "process.noNewPrivileges");
        TAP_STR_EQ(spec->root_path, "/var/lib/bundle/rootfs", "root.path");
        TAP_OK(spec->root_readonly, "root.readonly");
        TAP_STR_EQ(spec->hostname, "box", "hostname");

        TAP_OK(spec->n_mounts == 3, "three mounts");
        if (spec->n_mounts == 3) {
                struct spec_mount *m = spec->mounts;
                TAP_OK(strcmp(m[0].destination, "/proc") == 0 && strcmp(m[0].type, "proc") == 0 &&
                               strcmp(m[0].source, "proc") == 0 && m[0].n_options == 0 && m[0].options &&
                               !m[0].options[0],
                       "mounts[0]: /proc, no options, empty list");
                TAP_OK(strcmp(m[1].destination, "/data") == 0 && strcmp(m[1].type, "bind") == 0 &&
                               strcmp(m[1].source, "/srv/data") == 0 && m[1].n_options == 2 &&
                               strcmp(m[1].options[0], "rbind") == 0 && strcmp(m[1].options[1], "ro") == 0 &&
                               !m[1].options[2],
                       "mounts[1]: bind mount with options");
                TAP_OK(strcmp(m[2].destination, "/tmp") == 0 && !m[2].type && !m[2].source && m[2].n_options == 0,
                       "mounts[2]: no type, no source");
        }

        TAP_OK(spec->n_namespaces == 4, "four namespaces");
        TAP_OK(spec_has_namespace(spec, "pid") && spec_has_namespace(spec, "mount") && spec_has_namespace(spec, "user"),
               "new pid, mount and user namespaces");
        TAP_OK(!spec_has_namespace(spec, "network"), "network namespace is joined, not new");
        TAP_OK(!spec_has_namespace(spec, "ipc") && !spec_has_namespace(spec, "uts"), "no ipc or uts namespace");
        TAP_OK(spec->n_namespaces == 4 && spec->namespaces[1].path &&
                       strcmp(spec->namespaces[1].path, "/run/netns/x") == 0 && !spec->namespaces[0].path,
               "namespace paths");

        TAP_OK(spec->n_masked_paths == 2 && strcmp(spec->masked_paths[1], "/sys/firmware") == 0 &&
                       !spec->masked_paths[2],
               "linux.maskedPaths");
        TAP_OK(spec->n_readonly_paths == 1 && strcmp(spec->readonly_paths[0], "/proc/sys") == 0, "linux.readonlyPaths");
        TAP_STR_EQ(spec->cgroups_path, "/cocoon/abc", "linux.cgroupsPath");

        TAP_OK(spec->n_annotations == 2, "two annotations");
        TAP_STR_EQ(spec_annotation(spec, "org.example.a"), "one", "annotation a");
        TAP_STR_EQ(spec_annotation(spec, "org.example.b"), "", "annotation b, empty");
        TAP_OK(spec_annotation(spec, "org.example.c") == NULL, "absent annotation is NULL");
}

static const char linux_config[] = "{" BASE ", 'domainname': 'example.org',\n"
        "  'process': {'args': ['sh'], 'cwd': '/', 'oomScoreAdj': -500,\n"
        "    'ioPriority': {'class': 'IOPRIO_CLASS_IDLE', 'priority': 3}, 'consoleSize': {'height': 40, 'width': 132},\n"
        "    'user': {'username': 'tester', 'additionalGids': [7]},\n"
        "    'capabilities': {'bounding': ['CAP_KILL', 'CAP_CHOWN', 'CAP_NO_SUCH', '12'], 'effective': ['CAP_KILL'],\n"
        "                     'permitted': ['cap_kill'], 'inheritable': [], 'ambient': ['CAP_NET_BIND_SERVICE']},\n"
        "    'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 512, 'hard': 1024},\n"
        "                {'type': 'RLIMIT_CORE', 'soft': 0, 'hard': 18446744073709551615}]},\n"
        "  'linux': {\n"
        "    'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229, 'fileMode': 438, 'uid': 0, 'gid': 5},\n"
        "                {'path': '/dev/fifo', 'type': 'p'}],\n"
        "    'sysctl': {'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1000'},\n"
        "    'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],\n"
        "    'gidMappings': [{'containerID': 0, 'hostID': 200000, 'size': 1}, {'containerID': 1, 'hostID': 1, 'size': 2}],\n"
        "    'rootfsPropagation': 'rshared', 'personality': {'domain': 'LINUX32', 'flags': []},\n"
        "    'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 38,\n"
        "      'architectures': ['SCMP_ARCH_X86_64'], 'flags': ['SECCOMP_FILTER_FLAG_LOG'],\n"
        "      'syscalls': [{'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},\n"
        "                   {'names': ['kill'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 1,\n"
        "                    'args': [{'index': 1, 'value': 9, 'valueTwo': 0, 'op': 'SCMP_CMP_EQ'},\n"
        "                             {'index': 0, 'value': 255, 'valueTwo': 1, 'op': 'SCMP_CMP_MASKED_EQ'}]},\n"
        "                   {'names': ['ptrace'], 'action': 'SCMP_ACT_KILL_PROCESS'},\n"
        "                   {'names': ['uname'], 'action': 'SCMP_ACT_TRACE', 'errnoRet': 2},\n"
        "                   {'names': ['getpid'], 'action': 'SCMP_ACT_LOG'},\n"
        "                   {'names': ['reboot'], 'action': 'SCMP_ACT_KILL'}]}},\n"
        "  'hooks': {'prestart': [{'path': '/bin/a'}],\n"
        "            'startContainer': [{'path': '/bin/b', 'args': ['b', '-x'], 'env': ['K=V'], 'timeout': 5}],\n"
        "            'poststop': [{'path': '/bin/c'}, {'path': '/bin/d'}]}\n"
        "}";

static void test_linux_fields(void)
{
        _cleanup_free_ char *json = dq(linux_config);
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;

        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "config with the linux fields parses");
        if (!spec) {
                printf("# %s\n", err && err->msg ? err->msg : "(no message)");
                return;
        }
        const struct spec_process *p = &spec->process;
        TAP_STR_EQ(p->user.username, "tester", "process.user.username");
        TAP_OK(p->user.uid == 0 && p->user.gid == 0 && p->user.n_additional_gids == 1,
               "with a username, uid and gid may be absent");
        TAP_OK(p->has_oom_score_adj && p->oom_score_adj == -500, "process.oomScoreAdj -500");
        TAP_OK(p->has_console_size && p->console_height == 40 && p->console_width == 132, "process.consoleSize 40x132");
        TAP_OK(p->has_io_priority && p->io_priority_class == 3 && p->io_priority == 3, "process.ioPriority idle, 3");
        TAP_OK(spec->has_personality && spec->personality == PER_LINUX32, "linux.personality LINUX32");
        TAP_OK(p->capabilities != NULL, "process.capabilities present");
        if (p->capabilities) {
                /* CAP_KILL 5, CAP_CHOWN 0, CAP_NET_BIND_SERVICE 10; unknown names and numbers ignored */
                TAP_OK(p->capabilities->bounding == ((1u << 5) | 1u), "bounding: KILL and CHOWN, unknowns ignored");
                TAP_OK(p->capabilities->effective == (1u << 5), "effective: KILL");
                TAP_OK(p->capabilities->permitted == (1u << 5), "permitted: lower case name accepted");
                TAP_OK(p->capabilities->inheritable == 0, "inheritable: empty");
                TAP_OK(p->capabilities->ambient == (1u << 10), "ambient: NET_BIND_SERVICE");
                TAP_OK(p->n_warnings == 2 && !p->warnings[2], "two warnings for the two ignored names");
                TAP_STR_EQ(p->n_warnings ? p->warnings[0] : NULL,
                           "process.capabilities.bounding: ignoring unknown capability CAP_NO_SUCH",
                           "the warning names the field and the capability");
        }
        TAP_OK(p->n_rlimits == 2 && p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 512 &&
                       p->rlimits[0].hard == 1024,
               "process.rlimits[0]: NOFILE 512/1024");
        TAP_OK(p->n_rlimits == 2 && p->rlimits[1].resource == RLIMIT_CORE && p->rlimits[1].hard == UINT64_MAX,
               "process.rlimits[1]: CORE hard unlimited");

        TAP_STR_EQ(spec->domainname, "example.org", "domainname");
        TAP_OK(spec->n_devices == 2, "two devices");
        if (spec->n_devices == 2) {
                const struct spec_device *d = spec->devices;
                TAP_OK(strcmp(d[0].path, "/dev/fuse") == 0 && d[0].type == 'c' && d[0].major == 10 && d[0].minor == 229 &&
                               d[0].has_file_mode && d[0].file_mode == 0666 && d[0].has_uid && d[0].uid == 0 &&
                               d[0].has_gid && d[0].gid == 5,
                       "devices[0]: /dev/fuse c 10:229 0666 0:5");
                TAP_OK(d[1].type == 'p' && !d[1].has_file_mode && !d[1].has_uid && !d[1].has_gid,
                       "devices[1]: a fifo needs no numbers");
        }
        TAP_OK(spec->n_sysctl == 2, "two sysctls");
        bool fwd = false;
        for (size_t i = 0; i < spec->n_sysctl; i++)
                if (strcmp(spec->sysctl[i].key, "net.ipv4.ip_forward") == 0 && strcmp(spec->sysctl[i].value, "1") == 0)
                        fwd = true;
        TAP_OK(fwd, "linux.sysctl net.ipv4.ip_forward=1");
        TAP_OK(spec->n_uid_mappings == 1 && spec->uid_mappings[0].host_id == 100000 && spec->uid_mappings[0].size == 65536,
               "linux.uidMappings");
        TAP_OK(spec->n_gid_mappings == 2 && spec->gid_mappings[1].container_id == 1 && spec->gid_mappings[1].size == 2,
               "linux.gidMappings");
        TAP_OK(spec->rootfs_propagation == (MS_SHARED | MS_REC), "linux.rootfsPropagation rshared");

        const struct spec_seccomp *sc = spec->seccomp;
        TAP_OK(sc != NULL, "linux.seccomp present");
        if (sc) {
                TAP_OK(sc->default_action == SPEC_SCMP_ERRNO && sc->has_default_errno_ret && sc->default_errno_ret == 38,
                       "seccomp default action ERRNO(38)");
                TAP_OK(sc->n_architectures == 1 && strcmp(sc->architectures[0], "SCMP_ARCH_X86_64") == 0,
                       "seccomp architectures");
                TAP_OK(sc->n_flags == 1 && strcmp(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG") == 0, "seccomp flags");
                TAP_OK(sc->n_syscalls == 6, "six syscall rules");
                if (sc->n_syscalls == 6) {
                        TAP_OK(sc->syscalls[0].n_names == 2 && sc->syscalls[0].action == SPEC_SCMP_ALLOW,
                               "syscalls[0]: read, write allowed");
                        const struct spec_seccomp_syscall *k = &sc->syscalls[1];
                        TAP_OK(k->action == SPEC_SCMP_ERRNO && k->has_errno_ret && k->errno_ret == 1 && k->n_args == 2,
                               "syscalls[1]: kill ERRNO(1) with two args");
                        TAP_OK(k->n_args == 2 && k->args[0].index == 1 && k->args[0].value == 9 &&
                                       k->args[1].value == 255 && k->args[1].value_two == 1,
                               "syscalls[1]: argument values");
                        TAP_OK(sc->syscalls[2].action == SPEC_SCMP_KILL_PROCESS, "SCMP_ACT_KILL_PROCESS");
                        TAP_OK(sc->syscalls[3].action == SPEC_SCMP_TRACE && sc->syscalls[3].errno_ret == 2,
                               "SCMP_ACT_TRACE with errnoRet");
                        TAP_OK(sc->syscalls[4].action == SPEC_SCMP_LOG, "SCMP_ACT_LOG");
                        TAP_OK(sc->syscalls[5].action == SPEC_SCMP_KILL_THREAD, "SCMP_ACT_KILL is KILL_THREAD");
                }
        }

        TAP_OK(spec->hooks[SPEC_HOOK_PRESTART].n == 1 && spec->hooks[SPEC_HOOK_POSTSTOP].n == 2 &&
                       spec->hooks[SPEC_HOOK_POSTSTART].n == 0,
               "hooks: one prestart, two poststop, no poststart");
        const struct spec_hook *h = spec->hooks[SPEC_HOOK_START_CONTAINER].list;
        TAP_OK(spec->hooks[SPEC_HOOK_START_CONTAINER].n == 1 && strcmp(h->path, "/bin/b") == 0 && h->n_args == 2 &&
                       strcmp(h->args[1], "-x") == 0 && h->n_env == 1 && h->has_timeout && h->timeout == 5,
               "hooks.startContainer[0]: path, args, env, timeout");
        TAP_OK(!spec->no_pivot && !spec->id && !spec->bundle, "no_pivot, id and bundle are not read from JSON");
}

static void test_minimal(void)
{
        _cleanup_free_ char *json = dq("{" BASE ", 'hostname': null, 'mounts': null, 'linux': {'cgroupsPath': ''}}");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;

        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "minimal config without process parses");
        if (!spec)
                return;
        TAP_OK(!spec->has_process && spec->process.args && !spec->process.args[0] && spec->process.env &&
                       !spec->process.env[0],
               "no process: has_process false, empty lists");
        TAP_OK(!spec->hostname && spec->n_mounts == 0 && !spec->cgroups_path, "null and \"\" mean not set");
        TAP_OK(spec->masked_paths && !spec->masked_paths[0] && spec->readonly_paths && !spec->readonly_paths[0],
               "absent path lists are empty, not NULL");
        TAP_OK(spec->process.user.uid == 0 && spec->process.user.gid == 0 && !spec->process.user.has_umask,
               "no user: uid and gid 0");
        TAP_OK(!spec->process.capabilities && spec->process.n_rlimits == 0 && !spec->process.has_oom_score_adj &&
                       !spec->seccomp && spec->n_devices == 0 && spec->n_sysctl == 0 && !spec->domainname &&
                       spec->rootfs_propagation == 0 && spec->n_uid_mappings == 0 && spec->hooks[SPEC_HOOK_PRESTART].n == 0,
               "absent security and linux fields: nothing set, capabilities left alone");
}

static void test_time_offsets(void)
{
        _cleanup_free_ char *json = dq("{" BASE ", 'linux': {'namespaces': [{'type': 'time'}], 'timeOffsets': "
                                       "{'monotonic': {'secs': -7881, 'nanosecs': 2718281}, 'boottime': {'secs': 1337}}}}");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec && spec->has_time_offsets && spec->time_offsets[0].secs == -7881 &&
                       spec->time_offsets[0].nanosecs == 2718281 && spec->time_offsets[1].secs == 1337 &&
                       spec->time_offsets[1].nanosecs == 0,
               "linux.timeOffsets with a new time namespace: both clocks, a negative offset");
}

static void test_uid_without_gid(void)
{
        _cleanup_free_ char *json = dq("{" BASE ", " PROCESS(", 'user': {'uid': 33}") "}");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec && spec->process.user.uid == 33 && spec->process.user.gid == 0,
               "process.user with uid and no gid: gid 0, as runc and crun read it");
}

/* What cocoon accepts but cannot apply in its guest is named in a warning, not dropped in silence. */
static void test_label_warnings(void)
{
        _cleanup_free_ char *json = dq("{" BASE ", " PROCESS(", 'apparmorProfile': 'docker-default', 'selinuxLabel': 's0'")
                                       ", 'linux': {'mountLabel': 'system_u:object_r:container_file_t:s0'}}");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "apparmorProfile, selinuxLabel and mountLabel parse");
        if (!spec)
                return;
        const struct spec_process *p = &spec->process;
        TAP_STR_EQ(p->apparmor_profile, "docker-default", "process.apparmorProfile kept, to apply where the kernel has it");
        TAP_OK(p->n_warnings == 3, "three warnings");
        TAP_OK(p->n_warnings == 3 && strstr(p->warnings[0], "process.apparmorProfile \"docker-default\": applied only") &&
                       strstr(p->warnings[1], "process.selinuxLabel \"s0\": ignored") &&
                       strstr(p->warnings[2], "linux.mountLabel \"system_u:object_r:container_file_t:s0\": ignored"),
               "each warning names its field and what happens");
        _cleanup_free_ char *unconfined = dq("{" BASE ", " PROCESS(", 'apparmorProfile': 'unconfined'") "}");
        _cleanup_spec_ struct oci_spec *spec2 = NULL;
        TAP_OK(spec_parse(unconfined, strlen(unconfined), &spec2, NULL) == 0 && spec2->process.n_warnings == 0,
               "apparmorProfile unconfined: no warning");
}

static void test_duplicate_keys(void)
{
        _cleanup_free_ char *json =
                dq("{'ociVersion': '1.0.0', " BASE ", 'annotations': {'k': 'first', 'j': 'x', 'k': 'last'}}");
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;

        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "duplicate keys parse");
        if (!spec)
                return;
        TAP_STR_EQ(spec->oci_version, "1.1.0", "last duplicate wins, as in Go");
        TAP_OK(spec->n_annotations == 2, "duplicate annotation kept once");
        TAP_STR_EQ(spec_annotation(spec, "k"), "last", "last duplicate annotation wins");
}

static void test_default(void)
{
        _cleanup_free_ char *json = spec_default_json();
        _cleanup_spec_ struct oci_spec *spec = NULL;
        _cleanup_error_ cocoon_error *err = NULL;

        TAP_OK(json != NULL, "spec_default_json returns text");
        if (!json)
                return;
        TAP_CONTAINS(json, "\n\t\"ociVersion\": \"1.1.0\"", "default is indented with tabs, like runc's");

        int r = spec_parse(json, strlen(json), &spec, &err);
        TAP_OK(r == 0 && spec, "default spec parses back");
        if (!spec) {
                printf("# %s\n", err && err->msg ? err->msg : "(no message)");
                return;
        }
        TAP_OK(spec->has_process && spec->process.terminal && spec->process.n_args == 1 &&
                       strcmp(spec->process.args[0], "sh") == 0,
               "default: terminal, sh");
        TAP_OK(spec->process.n_env == 2 && strcmp(spec->process.env[1], "TERM=xterm") == 0 &&
                       strncmp(spec->process.env[0], "PATH=", 5) == 0,
               "default: PATH and TERM");
        TAP_OK(strcmp(spec->process.cwd, "/") == 0 && spec->process.no_new_privileges && spec->process.user.uid == 0,
               "default: cwd /, noNewPrivileges, root");
        TAP_OK(strcmp(spec->root_path, "rootfs") == 0 && spec->root_readonly, "default: rootfs, read-only");
        TAP_STR_EQ(spec->hostname, "cocoon", "default: hostname");
        TAP_OK(spec->n_mounts == 7, "default: seven mounts");
        if (spec->n_mounts == 7) {
                TAP_OK(strcmp(spec->mounts[2].destination, "/dev/pts") == 0 && spec->mounts[2].n_options == 6 &&
                               strcmp(spec->mounts[2].options[5], "gid=5") == 0,
                       "default: /dev/pts options");
                TAP_OK(strcmp(spec->mounts[6].destination, "/sys/fs/cgroup") == 0 &&
                               strcmp(spec->mounts[6].options[4], "ro") == 0,
                       "default: /sys/fs/cgroup read-only");
        }
        /* runc 1.1's default: no cgroup namespace, so a caller may add one without making a duplicate. */
        TAP_OK(spec->n_namespaces == 5 && spec_has_namespace(spec, "pid") && spec_has_namespace(spec, "network") &&
                       spec_has_namespace(spec, "ipc") && spec_has_namespace(spec, "uts") &&
                       spec_has_namespace(spec, "mount") && !spec_has_namespace(spec, "cgroup") &&
                       !spec_has_namespace(spec, "user"),
               "default: pid network ipc uts mount, as runc 1.1 (no cgroup)");
        TAP_OK(spec->n_masked_paths == 11 && spec->n_readonly_paths == 5, "default: runc's masked and read-only paths");
}

/* ---- spec_load ---- */

static char tmpdir[4096];

/* A malloc'd string, or abort: tests have no use for a failed allocation. */
static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *format, ...)
{
        va_list ap;
        va_start(ap, format);
        int n = vsnprintf(NULL, 0, format, ap);
        va_end(ap);
        char *s = n < 0 ? NULL : malloc((size_t) n + 1);
        if (!s)
                abort();
        va_start(ap, format);
        (void) vsnprintf(s, (size_t) n + 1, format, ap);
        va_end(ap);
        return s;
}

static char *tmp_path(const char *name) { return fmt("%s/%s", tmpdir, name); }

static void write_file(const char *path, const char *text, size_t len)
{
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        if (!f || fwrite(text, 1, len, f) != len)
                abort();
}

static void test_load(void)
{
        _cleanup_spec_ struct oci_spec *spec = NULL;

        /* A good file. */
        _cleanup_free_ char *good = tmp_path("config.json");
        _cleanup_free_ char *json = dq(full_config);
        write_file(good, json, strlen(json));
        _cleanup_error_ cocoon_error *err1 = NULL;
        int r = spec_load(good, &spec, &err1);
        TAP_OK(r == 0 && spec && spec->n_mounts == 3, "spec_load reads a config.json");

        /* No file. */
        _cleanup_free_ char *missing = tmp_path("missing.json");
        _cleanup_free_ char *want = fmt("%s: No such file or directory", missing);
        _cleanup_error_ cocoon_error *err2 = NULL;
        struct oci_spec *none = NULL;
        r = spec_load(missing, &none, &err2);
        TAP_OK(r == -ENOENT && !none, "missing file: -ENOENT");
        TAP_STR_EQ(err2 ? err2->msg : NULL, want, "missing file: message");

        /* A directory. */
        _cleanup_error_ cocoon_error *err3 = NULL;
        r = spec_load(tmpdir, &none, &err3);
        TAP_OK(r == -EISDIR && !none, "directory: -EISDIR");

        /* A bad file: the path comes first. */
        _cleanup_free_ char *bad = tmp_path("bad.json");
        _cleanup_free_ char *bad_json = dq("{" BASE ", 'process': {'args': [], 'cwd': '/'}}");
        write_file(bad, bad_json, strlen(bad_json));
        _cleanup_free_ char *want_bad = fmt("%s: process.args: expected a non-empty array of strings", bad);
        _cleanup_error_ cocoon_error *err4 = NULL;
        r = spec_load(bad, &none, &err4);
        TAP_OK(r == -EINVAL && !none, "bad file: -EINVAL");
        TAP_STR_EQ(err4 ? err4->msg : NULL, want_bad, "bad file: path, field, reason");

        /* Exactly 4 MiB is still read. */
        size_t cap = 4u << 20;
        _cleanup_free_ char *big = malloc(cap + 1);
        _cleanup_free_ char *minimal = dq(MINIMAL);
        if (!big)
                abort();
        memset(big, ' ', cap + 1);
        memcpy(big, minimal, strlen(minimal));
        _cleanup_free_ char *at_cap = tmp_path("4mib.json");
        write_file(at_cap, big, cap);
        _cleanup_spec_ struct oci_spec *spec_cap = NULL;
        _cleanup_error_ cocoon_error *err5 = NULL;
        r = spec_load(at_cap, &spec_cap, &err5);
        TAP_OK(r == 0 && spec_cap, "a file of exactly 4 MiB is read");

        /* One byte more is refused. */
        _cleanup_free_ char *over = tmp_path("too-big.json");
        write_file(over, big, cap + 1);
        _cleanup_error_ cocoon_error *err6 = NULL;
        r = spec_load(over, &none, &err6);
        TAP_OK(r == -EFBIG && !none, "4 MiB + 1 byte: -EFBIG");
        TAP_CONTAINS(err6 ? err6->msg : NULL, "too-big.json: file is larger than 4 MiB", "4 MiB + 1 byte: message");

        (void) unlink(good);
        (void) unlink(bad);
        (void) unlink(at_cap);
        (void) unlink(over);
}

/* A pipe has no size to check up front: the cap holds while reading. */
static void test_load_pipe(void)
{
        int fds[2];
        if (pipe(fds) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                (void) close(fds[0]);
                signal(SIGPIPE, SIG_IGN);
                static char chunk[65536];
                memset(chunk, ' ', sizeof(chunk));
                for (int i = 0; i < 80; i++) /* 5 MiB */
                        if (write(fds[1], chunk, sizeof(chunk)) < 0)
                                _exit(0);
                _exit(0);
        }
        (void) close(fds[1]);

        _cleanup_free_ char *path = fmt("/proc/self/fd/%d", fds[0]);
        struct oci_spec *none = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = spec_load(path, &none, &err);
        TAP_OK(r == -EFBIG && !none, "5 MiB through a pipe: -EFBIG");

        (void) close(fds[0]);
        (void) waitpid(pid, NULL, 0);
}

int main(void)
{
        test_full();
        test_minimal();
        test_uid_without_gid();
        test_time_offsets();
        test_linux_fields();
        test_duplicate_keys();
        test_label_warnings();
        test_default();
        test_bad_inputs();
        test_truncated();
        test_deep_nesting();

        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof(tmpdir), "%s/test-spec.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        test_load();
        test_load_pipe();
        (void) rmdir(tmpdir);

        return tap_done();
}
