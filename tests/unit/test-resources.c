/*
 * core/resources.c: linux.resources in, the cgroup v2 writes runc would make
 * out, and messages that name the field when the input is wrong; and the
 * device rules' BPF program, run here by a small interpreter of the
 * instructions it uses.
 *
 * JSON is written with ' for " and turned back by dq(), as in test-spec.c.
 */
#include "resources.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>

#include "cgroup.h"
#include "cleanup.h"
#include "spec.h"
#include "tap.h"

static char *dq(const char *s)
{
        char *d = strdup(s);
        for (char *p = d; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return d;
}

/* Parses, converts and joins the writes as "file=value<field>;..." ; or "error: message". */
static char *writes_of(const char *json)
{
        _cleanup_free_ char *text = dq(json);
        _cleanup_resources_ struct resources *r = NULL;
        cocoon_error *err = NULL;
        char *out = NULL;
        struct cgroup_write *w = NULL;
        size_t n = 0;
        if (resources_parse(text, strlen(text), &r, &err) < 0 || resources_v2_writes(r, "", &w, &n, &err) < 0) {
                if (asprintf(&out, "error: %s", err ? err->msg : "(no message)") < 0)
                        out = NULL;
                error_free(err);
                return out;
        }
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(w[i].file) + strlen(w[i].value) + strlen(w[i].field) + 4;
        out = calloc(1, len);
        for (size_t i = 0; i < n; i++)
                sprintf(out + strlen(out), "%s%s=%s<%s>", i ? ";" : "", w[i].file, w[i].value, w[i].field);
        cgroup_writes_free(w, n);
        return out;
}

static void check_writes(const char *json, const char *expected, const char *what)
{
        _cleanup_free_ char *got = writes_of(json);
        TAP_STR_EQ(got, expected, "%s", what);
}

static void test_conversions(void)
{
        static const struct {
                uint64_t shares, weight;
        } w[] = {{0, 0}, {1, 1}, {2, 1}, {1024, 100}, {262144, 10000}, {1000000, 10000}, {512, 59}, {2048, 174}};
        for (size_t i = 0; i < ARRAY_SIZE(w); i++) {
                uint64_t got = resources_shares_to_weight(w[i].shares);
                TAP_OK(got == w[i].weight, "cpu shares %llu -> weight %llu (got %llu)", (unsigned long long) w[i].shares,
                       (unsigned long long) w[i].weight, (unsigned long long) got);
        }
        TAP_OK(resources_blkio_to_io_weight(10) == 1, "blkio weight 10 -> io.weight 1");
        TAP_OK(resources_blkio_to_io_weight(1000) == 10000, "blkio weight 1000 -> io.weight 10000");
        TAP_OK(resources_blkio_to_io_weight(500) == 4950, "blkio weight 500 -> io.weight 4950");

        int64_t s = 7;
        TAP_OK(resources_swap_v2(300, 100, &s) == 0 && s == 200, "memory+swap 300, limit 100 -> swap.max 200");
        TAP_OK(resources_swap_v2(100, 100, &s) == 0 && s == 0, "memory+swap equal to the limit -> no swap");
        TAP_OK(resources_swap_v2(-1, 100, &s) == 0 && s == -1, "memory+swap -1 -> max");
        TAP_OK(resources_swap_v2(0, -1, &s) == 0 && s == -1, "unlimited memory, swap unset -> swap max");
        TAP_OK(resources_swap_v2(50, 100, &s) == -ERANGE, "memory+swap below the limit is refused");
        TAP_OK(resources_swap_v2(50, 0, &s) == -ENOEXEC, "swap without a memory limit is refused");
}

static void test_writes(void)
{
        check_writes("{}", "", "empty resources: no writes");
        check_writes("{'memory': {'limit': 67108864, 'reservation': 1048576, 'swap': 134217728}}",
                     "memory.swap.max=67108864<memory.swap>;memory.max=67108864<memory.limit>;"
                     "memory.low=1048576<memory.reservation>",
                     "memory limit, reservation and memory+swap");
        check_writes("{'memory': {'limit': -1}}", "memory.swap.max=max<memory.limit>;memory.max=max<memory.limit>",
                     "unlimited memory also lifts swap");
        check_writes("{'memory': {'limit': 1000, 'swap': -1, 'kernel': 5, 'swappiness': 10, 'disableOOMKiller': true}}",
                     "memory.swap.max=max<memory.swap>;memory.max=1000<memory.limit>",
                     "swap -1 is max; v1-only memory fields are ignored");
        check_writes("{'cpu': {'shares': 1024, 'quota': 50000, 'period': 100000, 'cpus': '0-1', 'mems': '0'}}",
                     "cpu.weight=100<cpu.shares>;cpu.max=50000 100000<cpu.quota>;cpuset.cpus=0-1<cpu.cpus>;"
                     "cpuset.mems=0<cpu.mems>",
                     "cpu shares, quota/period, cpuset");
        check_writes("{'cpu': {'quota': -1}}", "cpu.max=max<cpu.quota>", "quota -1 is max");
        check_writes("{'cpu': {'quota': 20000}}", "cpu.max=20000<cpu.quota>", "quota alone keeps the period");
        check_writes("{'cpu': {'period': 50000}}", "cpu.max=max 50000<cpu.period>", "period alone: max PERIOD here; cgroup_apply() keeps a quota already set");
        check_writes("{'cpu': {'burst': 1000, 'idle': 1}}", "cpu.idle=1<cpu.idle>;cpu.max.burst=1000<cpu.burst>",
                     "cpu burst and idle");
        check_writes("{'pids': {'limit': 32}}", "pids.max=32<pids.limit>", "pids limit");
        check_writes("{'pids': {'limit': -1}}", "pids.max=max<pids.limit>", "pids limit -1 is max");
        check_writes("{'pids': {'limit': 0}}", "pids.max=max<pids.limit>", "pids limit 0 is max");
        check_writes("{'blockIO': {'weight': 500, 'weightDevice': [{'major': 8, 'minor': 0, 'weight': 10}],"
                     " 'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
                     " 'throttleWriteIOPSDevice': [{'major': 8, 'minor': 16, 'rate': 0}]}}",
                     "io.weight=default 4950<blockIO.weight>;io.weight=8:0 1<blockIO.weightDevice>;"
                     "io.max=8:0 rbps=1048576<blockIO.throttleReadBpsDevice>;"
                     "io.max=8:16 wiops=max<blockIO.throttleWriteIOPSDevice>",
                     "block io weight and throttles");
        check_writes("{'hugepageLimits': [{'pageSize': '2MB', 'limit': 4194304}]}",
                     "hugetlb.2MB.max=4194304<hugepageLimits>", "hugepage limit");
        check_writes("{'pids': {'limit': 5}, 'unified': {'pids.max': '7', 'memory.high': '1000000'}}",
                     "pids.max=5<pids.limit>;pids.max=7<unified.pids.max>;memory.high=1000000<unified.memory.high>",
                     "unified values come last and win");
        check_writes("{'network': {'classID': 5}, 'rdma': {}}", "", "v1-only network and rdma are ignored");
}

static void test_errors(void)
{
        static const struct {
                const char *json, *message;
        } bad[] = {
                {"{'memory': {'limit': 'big'}}", "memory.limit: expected an integer"},
                {"{'memory': {'limit': -2}}", "memory.limit: expected an integer between -1 and"},
                {"{'memory': {'limit': 1.5}}", "memory.limit: expected an integer between -1 and 9223372036854775807, got 1.5"},
                {"{'memory': {'swap': 100}}", "memory.swap: a swap limit needs memory.limit"},
                {"{'memory': {'limit': 200, 'swap': 100}}", "memory.swap: memory+swap (100) is below memory.limit (200)"},
                {"{'memory': []}", "memory: expected an object, got an array"},
                {"{'cpu': {'shares': -5}}", "cpu.shares: expected an integer between 0 and"},
                {"{'cpu': {'cpus': 'all'}}", "cpu.cpus: expected a list such as"},
                {"{'cpu': {'mems': 3}}", "cpu.mems: expected a string, got a number"},
                {"{'pids': {}}", "pids.limit: required field is missing"},
                {"{'blockIO': {'weight': 5}}", "blockIO.weight: expected an integer between 10 and 1000"},
                {"{'blockIO': {'throttleReadBpsDevice': [{'major': 8, 'rate': 1}]}}",
                 "blockIO.throttleReadBpsDevice[0].minor: required field is missing"},
                {"{'blockIO': {'throttleWriteBpsDevice': [{'major': 8, 'minor': 0}]}}",
                 "blockIO.throttleWriteBpsDevice[0].rate: required field is missing"},
                {"{'blockIO': {'weightDevice': {}}}", "blockIO.weightDevice: expected an array, got an object"},
                {"{'hugepageLimits': [{'pageSize': '2MB/../x', 'limit': 1}]}",
                 "hugepageLimits[0].pageSize: expected a size such as \"2MB\""},
                {"{'hugepageLimits': [{'limit': 1}]}", "hugepageLimits[0].pageSize: required field is missing"},
                {"{'hugepageLimits': [{'pageSize': '1GB'}]}", "hugepageLimits[0].limit: required field is missing"},
                {"{'hugepageLimits': [7]}", "hugepageLimits[0]: expected an object, got a number"},
                {"{'unified': {'../../cgroup.procs': '1'}}", "unified.../../cgroup.procs: not a cgroup v2 file"},
                {"{'unified': {'cgroup.procs': '1'}}", "unified.cgroup.procs: not a cgroup v2 file"},
                {"{'unified': {'memory.high': 5}}", "unified.memory.high: expected a string, got a number"},
                {"{'devices': [{'access': 'rwm'}]}", "devices[0].allow: required field is missing"},
                {"{'devices': [{'allow': true, 'type': 'x'}]}", "devices[0].type: expected \"a\", \"c\", \"b\" or \"u\""},
                {"{'devices': [{'allow': true, 'access': 'rwx'}]}", "devices[0].access: expected letters of \"rwm\""},
                {"{'devices': [{'allow': true, 'major': -2}]}", "devices[0].major: expected an integer between -1"},
                {"{'devices': 'all'}", "devices: expected an array, got a string"},
                {"[1]", "expected a JSON object at the top level"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *got = writes_of(bad[i].json);
                _cleanup_free_ char *expected = NULL;
                if (asprintf(&expected, "error: %s", bad[i].message) < 0)
                        expected = NULL;
                TAP_OK(got && expected && strncmp(got, expected, strlen(expected)) == 0, "refused: %s", bad[i].json);
                if (!(got && expected && strncmp(got, expected, strlen(expected)) == 0))
                        printf("#   got: %s\n#   expected: %s...\n", got ? got : "(null)", expected);
        }
}

/* In config.json the field names carry the "linux.resources." prefix. */
static void test_spec(void)
{
        _cleanup_free_ char *good = dq("{'ociVersion': '1.1.0', 'root': {'path': 'rootfs'}, 'process': {'args': ['sh'],"
                                       " 'cwd': '/'}, 'linux': {'resources': {'memory': {'limit': 4096},"
                                       " 'devices': [{'allow': false, 'access': 'rwm'}]}}}");
        struct oci_spec *spec = NULL;
        cocoon_error *err = NULL;
        int r = spec_parse(good, strlen(good), &spec, &err);
        TAP_OK(r == 0 && spec->resources && spec->resources->memory.has_limit && spec->resources->memory.limit == 4096 &&
                       spec->resources->n_devices == 1 && !spec->resources->devices[0].allow,
               "config.json: linux.resources parsed");
        spec_free(spec);
        error_free(err);

        _cleanup_free_ char *none = dq("{'ociVersion': '1.1.0', 'root': {'path': 'rootfs'}, 'process': {'args': ['sh'],"
                                       " 'cwd': '/'}}");
        spec = NULL;
        err = NULL;
        r = spec_parse(none, strlen(none), &spec, &err);
        TAP_OK(r == 0 && spec->resources == NULL, "config.json without linux.resources: none");
        spec_free(spec);
        error_free(err);

        _cleanup_free_ char *bad = dq("{'ociVersion': '1.1.0', 'root': {'path': 'rootfs'}, 'process': {'args': ['sh'],"
                                      " 'cwd': '/'}, 'linux': {'resources': {'pids': {'limit': 'x'}}}}");
        spec = NULL;
        err = NULL;
        r = spec_parse(bad, strlen(bad), &spec, &err);
        TAP_OK(r == -EINVAL && err && strstr(err->msg, "linux.resources.pids.limit: expected an integer"),
               "config.json: errors name linux.resources.pids.limit (%s)", err ? err->msg : "no error");
        spec_free(spec);
        error_free(err);
}

/* ---- the device program ---- */

/* Runs the instructions the generator uses; -1 on anything else or a bad jump. */
static int run_program(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t access, uint32_t major,
                       uint32_t minor)
{
        uint64_t reg[11] = {0};
        uint32_t ctx[3] = {access << 16 | type, major, minor};
        for (size_t pc = 0; pc < n; pc++) {
                const struct bpf_insn *i = &p[pc];
                uint64_t imm = (uint64_t) (int64_t) i->imm;
                switch (i->code) {
                case BPF_LDX | BPF_MEM | BPF_W:
                        if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
                                return -1;
                        reg[i->dst_reg] = ctx[i->off / 4];
                        break;
                case BPF_ALU64 | BPF_AND | BPF_K: reg[i->dst_reg] &= imm; break;
                case BPF_ALU64 | BPF_RSH | BPF_K: reg[i->dst_reg] >>= imm; break;
                case BPF_ALU64 | BPF_MOV | BPF_K: reg[i->dst_reg] = imm; break;
                case BPF_ALU64 | BPF_MOV | BPF_X: reg[i->dst_reg] = reg[i->src_reg]; break;
                case BPF_JMP | BPF_JNE | BPF_K:
                        if (reg[i->dst_reg] != imm)
                                pc += i->off;
                        break;
                case BPF_JMP | BPF_EXIT: return (int) reg[0];
                default: return -1;
                }
        }
        return -1; /* fell off the end */
}

static int verdict(const char *rules_json, char type, uint32_t access, uint32_t major, uint32_t minor)
{
        _cleanup_free_ char *text = dq(rules_json);
        _cleanup_resources_ struct resources *r = NULL;
        if (resources_parse(text, strlen(text), &r, NULL) < 0)
                return -2;
        _cleanup_free_ struct resources_device_rule *rules = NULL;
        size_t n;
        if (resources_device_rules(r, &rules, &n) < 0)
                return -2;
        _cleanup_free_ struct bpf_insn *p = NULL;
        size_t n_insns;
        if (cgroup_devices_program(rules, n, &p, &n_insns) < 0)
                return -2;
        return run_program(p, n_insns, type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, access, major, minor);
}

static void test_devices(void)
{
        const char *deny_all = "{'devices': [{'allow': false, 'access': 'rwm'}]}";
        const uint32_t rw = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
        TAP_OK(verdict(deny_all, 'c', rw, 1, 3) == 1, "deny all: /dev/null (1:3) still allowed");
        TAP_OK(verdict(deny_all, 'c', rw, 136, 4) == 1, "deny all: /dev/pts/4 still allowed");
        TAP_OK(verdict(deny_all, 'c', BPF_DEVCG_ACC_READ, 10, 200) == 0, "deny all: /dev/net/tun denied");
        TAP_OK(verdict(deny_all, 'b', BPF_DEVCG_ACC_READ, 8, 0) == 0, "deny all: block 8:0 read denied");
        TAP_OK(verdict(deny_all, 'b', BPF_DEVCG_ACC_MKNOD, 8, 0) == 1, "deny all: mknod of any node allowed");
        TAP_OK(verdict("{}", 'b', rw, 8, 0) == 1, "no rules: everything allowed");
        const char *some = "{'devices': [{'allow': false, 'access': 'rwm'},"
                           " {'allow': true, 'type': 'b', 'major': 8, 'access': 'r'},"
                           " {'allow': false, 'type': 'b', 'major': 8, 'minor': 1}]}";
        TAP_OK(verdict(some, 'b', BPF_DEVCG_ACC_READ, 8, 0) == 1, "allow b 8:* r: read of 8:0 allowed");
        TAP_OK(verdict(some, 'b', rw, 8, 0) == 0, "allow b 8:* r: write of 8:0 denied");
        TAP_OK(verdict(some, 'b', BPF_DEVCG_ACC_READ, 8, 1) == 0, "a later deny of 8:1 wins over the earlier allow");
        TAP_OK(verdict(some, 'c', BPF_DEVCG_ACC_READ, 8, 0) == 0, "type matters: char 8:0 denied");
        /* As runc: no rule of its own for a linux.devices entry, so deny-all holds for it (kmsg, 1:11). */
        TAP_OK(verdict(deny_all, 'c', BPF_DEVCG_ACC_WRITE, 1, 11) == 0, "deny all: a device outside runc's standard set is denied");
        const char *allow_all_last = "{'devices': [{'allow': false, 'access': 'rwm'}, {'allow': true, 'access': 'rwm'}]}";
        TAP_OK(verdict(allow_all_last, 'c', rw, 10, 200) == 1, "a final allow-all allows everything");
}

static void test_paths(void)
{
        static const struct {
                const char *spec, *id, *expected;
        } ok[] = {
                {NULL, "abc", "cocoon/abc"},
                {"", "abc", "cocoon/abc"},
                {"/pod/ctr", "x", "pod/ctr"},
                {"pod//ctr/", "x", "pod/ctr"},
                {"system.slice:docker:abc", "x", "system.slice/docker-abc.scope"},
                {"kubepods-besteffort-pod12.slice:cri-containerd:c1", "x",
                 "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-c1.scope"},
                {":crio:c2", "x", "system.slice/crio-c2.scope"},
                {"-.slice:p:n", "x", "p-n.scope"},
                {"machine.slice::sub.slice", "x", "machine.slice/sub.slice"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *got = NULL;
                cocoon_error *err = NULL;
                (void) cgroup_path_for(ok[i].spec, "cocoon", ok[i].id, &got, &err);
                TAP_STR_EQ(got, ok[i].expected, "cgroupsPath %s", ok[i].spec ? ok[i].spec : "(unset)");
                error_free(err);
        }
        static const char *const bad[] = {"/a/../b", "/", "a:b", "bad:p:n", "a--b.slice:p:n", "x.slice:p:..", "s.slice:p:n:m"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *got = NULL;
                cocoon_error *err = NULL;
                int r = cgroup_path_for(bad[i], "cocoon", "x", &got, &err);
                TAP_OK(r == -EINVAL && err && strstr(err->msg, "linux.cgroupsPath"), "cgroupsPath %s refused (%s)", bad[i],
                       err ? err->msg : "accepted");
                error_free(err);
        }
}

int main(void)
{
        test_conversions();
        test_writes();
        test_errors();
        test_spec();
        test_devices();
        test_paths();
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
