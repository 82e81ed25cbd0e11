/*
 * Device rules on cgroup v2: there is no devices.allow file; the kernel asks
 * a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup about every
 * open and mknod of a device node. The program is a handful of compares, so
 * it is written here as raw instructions and loaded with bpf(2) directly.
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "cleanup.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn) {.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU_K(op, dst, imm) INSN(BPF_ALU64 | (op) | BPF_K, dst, 0, 0, imm)
#define MOV_X(dst, src) INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JNE_K(dst, imm, off) INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The registers the prologue fills from struct bpf_cgroup_dev_ctx. */
enum { R_TYPE = BPF_REG_2, R_ACCESS = BPF_REG_3, R_MAJOR = BPF_REG_4, R_MINOR = BPF_REG_5, R_TMP = BPF_REG_1 };

/* At most this many instructions per rule: type, access (3), major, minor, verdict (2). */
#define RULE_INSNS 8
#define PROLOGUE_INSNS 6

int cgroup_devices_program(const struct resources_device_rule *rules, size_t n, struct bpf_insn **ret,
                           size_t *ret_n)
{
        struct bpf_insn *p = calloc(PROLOGUE_INSNS + n * RULE_INSNS + 2, sizeof(*p));
        if (!p)
                return -ENOMEM;
        size_t k = 0;
        /* access_type is (access << 16) | type; major and minor follow it. */
        p[k++] = LDX_W(R_TYPE, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[k++] = ALU_K(BPF_AND, R_TYPE, 0xffff);
        p[k++] = LDX_W(R_ACCESS, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[k++] = ALU_K(BPF_RSH, R_ACCESS, 16);
        p[k++] = LDX_W(R_MAJOR, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
        p[k++] = LDX_W(R_MINOR, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));

        /* Last rule first: the first match returns, so the spec's last matching rule decides. */
        for (size_t i = n; i-- > 0;) {
                const struct resources_device_rule *r = &rules[i];
                struct bpf_insn block[RULE_INSNS];
                size_t b = 0;
                /* Every JNE here is fixed up below to jump past the block. */
                if (r->type != 'a')
                        block[b++] = JNE_K(R_TYPE, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
                if ((r->access & RESOURCES_DEV_ALL) != RESOURCES_DEV_ALL) {
                        /* Matches when every requested access is one the rule names. */
                        unsigned bpf_access = (r->access & RESOURCES_DEV_MKNOD ? BPF_DEVCG_ACC_MKNOD : 0) |
                                              (r->access & RESOURCES_DEV_READ ? BPF_DEVCG_ACC_READ : 0) |
                                              (r->access & RESOURCES_DEV_WRITE ? BPF_DEVCG_ACC_WRITE : 0);
                        block[b++] = MOV_X(R_TMP, R_ACCESS);
                        block[b++] = ALU_K(BPF_AND, R_TMP, (int32_t) (~bpf_access & 0xffff));
                        block[b++] = JNE_K(R_TMP, 0, 0);
                }
                if (r->major >= 0)
                        block[b++] = JNE_K(R_MAJOR, (int32_t) r->major, 0);
                if (r->minor >= 0)
                        block[b++] = JNE_K(R_MINOR, (int32_t) r->minor, 0);
                block[b++] = ALU_K(BPF_MOV, BPF_REG_0, r->allow ? 1 : 0);
                block[b++] = EXIT();
                for (size_t j = 0; j < b; j++) {
                        if (block[j].code == (BPF_JMP | BPF_JNE | BPF_K))
                                block[j].off = (int16_t) (b - j - 1);
                        p[k++] = block[j];
                }
                /* A rule that matches everything ends the program: the verifier refuses unreachable code. */
                if (b == 2)
                        goto done;
        }
        /* No rule matched: allowed, as a cgroup without device rules is. */
        p[k++] = ALU_K(BPF_MOV, BPF_REG_0, 1);
        p[k++] = EXIT();
done:
        *ret = p;
        *ret_n = k;
        return 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
        return (int) syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* The ids of the device programs attached to the cgroup itself. */
static int attached_programs(int cgroup_fd, uint32_t *ids, uint32_t *n)
{
        union bpf_attr attr = {0};
        attr.query.target_fd = cgroup_fd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uintptr_t) ids;
        attr.query.prog_cnt = *n;
        if (bpf(BPF_PROG_QUERY, &attr) < 0)
                return -errno;
        *n = attr.query.prog_cnt;
        return 0;
}

int cgroup_devices_apply(const char *dir, const struct resources_device_rule *rules, size_t n, cocoon_error **err)
{
        _cleanup_free_ struct bpf_insn *insns = NULL;
        size_t n_insns;
        if (cgroup_devices_program(rules, n, &insns, &n_insns) < 0)
                return -ENOMEM;

        /* Without a log first: with log_level 1 the kernel fails a valid
         * program with ENOSPC as soon as its trace outgrows the buffer. */
        union bpf_attr attr = {0};
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uintptr_t) insns;
        attr.insn_cnt = (uint32_t) n_insns;
        attr.license = (uintptr_t) "GPL";
        _cleanup_close_ int prog = bpf(BPF_PROG_LOAD, &attr);
        if (prog < 0) {
                int saved = errno;
                /* Load again for the verifier's reason, which ends its log. */
                static char log[65536];
                attr.log_buf = (uintptr_t) log;
                attr.log_size = sizeof(log);
                attr.log_level = 1;
                log[0] = '\0';
                _cleanup_close_ int again = bpf(BPF_PROG_LOAD, &attr);
                if (again >= 0)
                        log[0] = '\0';
                size_t len = strnlen(log, sizeof(log));
                return error_sys(err, saved, "loading the device program (%zu instructions)%s%s%s", n_insns,
                                 len ? ": " : "", len > 300 ? "..." : "", len > 300 ? log + len - 300 : log);
        }

        _cleanup_close_ int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg < 0)
                return error_sys(err, errno, "opening %s", dir);
        uint32_t old[64], n_old = ARRAY_SIZE(old);
        int r = attached_programs(cg, old, &n_old);
        if (r < 0)
                return error_sys(err, -r, "querying the device programs of %s", dir);

        /* New program first, then the old ones go: no moment without rules. */
        attr = (union bpf_attr) {0};
        attr.target_fd = cg;
        attr.attach_bpf_fd = prog;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (bpf(BPF_PROG_ATTACH, &attr) < 0)
                return error_sys(err, errno, "attaching the device program to %s", dir);
        for (uint32_t i = 0; i < n_old; i++) {
                attr = (union bpf_attr) {0};
                attr.prog_id = old[i];
                _cleanup_close_ int fd = bpf(BPF_PROG_GET_FD_BY_ID, &attr);
                if (fd < 0)
                        return error_sys(err, errno, "replacing the device program of %s", dir);
                attr = (union bpf_attr) {0};
                attr.target_fd = cg;
                attr.attach_bpf_fd = fd;
                attr.attach_type = BPF_CGROUP_DEVICE;
                if (bpf(BPF_PROG_DETACH, &attr) < 0)
                        return error_sys(err, errno, "detaching the old device program of %s", dir);
        }
        return 0;
}
