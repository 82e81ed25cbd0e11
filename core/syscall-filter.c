#include "syscall-filter.h"

#include <ctype.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "json.h"

static const struct {
        const char *name;
        enum spec_seccomp_action action;
} actions[] = {
        {"SCMP_ACT_KILL", SPEC_SCMP_KILL_THREAD},   {"SCMP_ACT_KILL_THREAD", SPEC_SCMP_KILL_THREAD},
        {"SCMP_ACT_KILL_PROCESS", SPEC_SCMP_KILL_PROCESS}, {"SCMP_ACT_TRAP", SPEC_SCMP_TRAP},
        {"SCMP_ACT_ERRNO", SPEC_SCMP_ERRNO},        {"SCMP_ACT_TRACE", SPEC_SCMP_TRACE},
        {"SCMP_ACT_ALLOW", SPEC_SCMP_ALLOW},        {"SCMP_ACT_LOG", SPEC_SCMP_LOG},
};

static const struct {
        const char *name;
        int op;
} operators[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

/* The filter flags of the runtime-spec, the libseccomp attribute each is, and the kernel's flag. */
static const struct {
        const char *name;
        int attr; /* 0: this libseccomp cannot set it */
        unsigned kernel_flag;
} filter_flags[] = {
        {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC, SECCOMP_FILTER_FLAG_TSYNC},
        {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG, SECCOMP_FILTER_FLAG_LOG},
        {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB, SECCOMP_FILTER_FLAG_SPEC_ALLOW},
        {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 0, 0},
};

static int parse_action(yajl_val obj, const char *path, const char *key, enum spec_seccomp_action *ret,
                        cocoon_error **err)
{
        _cleanup_free_ char *name = NULL;
        int r = json_get_string(obj, path, key, true, &name, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
                if (strcmp(name, actions[i].name) == 0) {
                        *ret = actions[i].action;
                        return 0;
                }
        if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
                return json_field_error(err, path, key,
                                        "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which cocoon does not support");
        return json_field_error(err, path, key, "unknown action \"%s\"", name);
}

static int parse_errno(yajl_val obj, const char *path, const char *key, bool *has, unsigned *ret, cocoon_error **err)
{
        yajl_val v = json_get(obj, key);
        if (!v)
                return 0;
        unsigned long long n;
        int r = json_parse_uint(v, 4095, path, key, &n, err);
        if (r < 0)
                return r;
        *has = true;
        *ret = (unsigned) n;
        return 0;
}

static int parse_arg(yajl_val v, const char *path, struct spec_seccomp_arg *a, cocoon_error **err)
{
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        unsigned long long n = 0;
        yajl_val x = json_get(v, "index");
        if (!x)
                return json_field_error(err, path, "index", "required field is missing");
        int r = json_parse_uint(x, 5, path, "index", &n, err);
        if (r < 0)
                return r;
        a->index = (unsigned) n;
        x = json_get(v, "value");
        if (!x)
                return json_field_error(err, path, "value", "required field is missing");
        r = json_parse_uint(x, UINT64_MAX, path, "value", &n, err);
        if (r < 0)
                return r;
        a->value = n;
        x = json_get(v, "valueTwo");
        if (x) {
                r = json_parse_uint(x, UINT64_MAX, path, "valueTwo", &n, err);
                if (r < 0)
                        return r;
                a->value_two = n;
        }
        _cleanup_free_ char *op = NULL;
        r = json_get_string(v, path, "op", true, &op, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(operators); i++)
                if (strcmp(op, operators[i].name) == 0) {
                        a->op = operators[i].op;
                        return 0;
                }
        return json_field_error(err, path, "op", "unknown operator \"%s\"", op);
}

static int parse_syscall(yajl_val v, const char *path, struct spec_seccomp_syscall *sc, cocoon_error **err)
{
        if (!YAJL_IS_OBJECT(v))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_name(v));
        int r = json_get_strv(v, path, "names", true, &sc->names, &sc->n_names, err);
        if (r < 0)
                return r;
        r = parse_action(v, path, "action", &sc->action, err);
        if (r < 0)
                return r;
        r = parse_errno(v, path, "errnoRet", &sc->has_errno_ret, &sc->errno_ret, err);
        if (r < 0)
                return r;
        if (sc->has_errno_ret && sc->action != SPEC_SCMP_ERRNO && sc->action != SPEC_SCMP_TRACE)
                return json_field_error(err, path, "errnoRet", "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
        yajl_val args = json_get(v, "args");
        if (!args)
                return 0;
        if (!YAJL_IS_ARRAY(args))
                return json_field_error(err, path, "args", "expected an array, got %s", json_type_name(args));
        if (args->u.array.len == 0)
                return 0;
        sc->args = calloc(args->u.array.len, sizeof(*sc->args));
        if (!sc->args)
                return error_set(err, ENOMEM, "out of memory");
        sc->n_args = args->u.array.len;
        for (size_t i = 0; i < sc->n_args; i++) {
                char p[96];
                snprintf(p, sizeof(p), "%s.args[%zu]", path, i);
                r = parse_arg(args->u.array.values[i], p, &sc->args[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_into(yajl_val v, const char *path, struct spec_seccomp *s, cocoon_error **err)
{
        int r = parse_action(v, path, "defaultAction", &s->default_action, err);
        if (r < 0)
                return r;
        r = parse_errno(v, path, "defaultErrnoRet", &s->has_default_errno_ret, &s->default_errno_ret, err);
        if (r < 0)
                return r;
        if (s->has_default_errno_ret && s->default_action != SPEC_SCMP_ERRNO && s->default_action != SPEC_SCMP_TRACE)
                return json_field_error(err, path, "defaultErrnoRet",
                                        "only a defaultAction of SCMP_ACT_ERRNO or SCMP_ACT_TRACE takes an errno");
        if (json_get(v, "listenerPath"))
                return json_field_error(err, path, "listenerPath", "seccomp agents are not supported");
        r = json_get_strv(v, path, "architectures", false, &s->architectures, &s->n_architectures, err);
        if (r < 0)
                return r;
        r = json_get_strv(v, path, "flags", false, &s->flags, &s->n_flags, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_flags; i++) {
                size_t f = 0;
                while (f < ARRAY_SIZE(filter_flags) && strcmp(s->flags[i], filter_flags[f].name) != 0)
                        f++;
                if (f == ARRAY_SIZE(filter_flags))
                        return error_set(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", path, i, s->flags[i]);
        }
        yajl_val list = json_get(v, "syscalls");
        if (!list)
                return 0;
        if (!YAJL_IS_ARRAY(list))
                return json_field_error(err, path, "syscalls", "expected an array, got %s", json_type_name(list));
        if (list->u.array.len == 0)
                return 0;
        s->syscalls = calloc(list->u.array.len, sizeof(*s->syscalls));
        if (!s->syscalls)
                return error_set(err, ENOMEM, "out of memory");
        s->n_syscalls = list->u.array.len;
        for (size_t i = 0; i < s->n_syscalls; i++) {
                char p[64];
                snprintf(p, sizeof(p), "%s.syscalls[%zu]", path, i);
                r = parse_syscall(list->u.array.values[i], p, &s->syscalls[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

void syscall_filter_free(struct spec_seccomp *s)
{
        if (!s)
                return;
        strv_free(s->architectures);
        strv_free(s->flags);
        for (size_t i = 0; i < s->n_syscalls; i++) {
                strv_free(s->syscalls[i].names);
                free(s->syscalls[i].args);
        }
        free(s->syscalls);
        free(s);
}

int syscall_filter_parse(yajl_val obj, const char *path, struct spec_seccomp **ret, cocoon_error **err)
{
        struct spec_seccomp *s = calloc(1, sizeof(*s));
        if (!s)
                return error_set(err, ENOMEM, "out of memory");
        int r = parse_into(obj, path, s, err);
        if (r < 0) {
                syscall_filter_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- loading ---- */

static uint32_t scmp_action(enum spec_seccomp_action a, bool has_errno, unsigned errno_ret)
{
        unsigned e = has_errno ? errno_ret : EPERM;
        switch (a) {
        case SPEC_SCMP_KILL_THREAD:
                return SCMP_ACT_KILL_THREAD;
        case SPEC_SCMP_KILL_PROCESS:
                return SCMP_ACT_KILL_PROCESS;
        case SPEC_SCMP_TRAP:
                return SCMP_ACT_TRAP;
        case SPEC_SCMP_ERRNO:
                return SCMP_ACT_ERRNO(e);
        case SPEC_SCMP_TRACE:
                return SCMP_ACT_TRACE(e);
        case SPEC_SCMP_LOG:
                return SCMP_ACT_LOG;
        case SPEC_SCMP_ALLOW:
                break;
        }
        return SCMP_ACT_ALLOW;
}

static inline void scmp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/*
 * One syscall's rule. libseccomp ANDs the comparisons of one rule but cannot
 * compare one argument twice in it, so, as runc does, several comparisons on
 * the same argument become one rule each (they then OR).
 */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const struct spec_seccomp_syscall *sc)
{
        struct scmp_arg_cmp cmps[6];
        unsigned seen = 0;
        bool repeated = false;
        for (size_t i = 0; i < sc->n_args; i++) {
                if (seen & (1u << sc->args[i].index))
                        repeated = true;
                seen |= 1u << sc->args[i].index;
        }
        if (sc->n_args == 0 || !repeated) {
                for (size_t i = 0; i < sc->n_args; i++)
                        cmps[i] = (struct scmp_arg_cmp) {sc->args[i].index, sc->args[i].op, sc->args[i].value,
                                                         sc->args[i].value_two};
                return seccomp_rule_add_array(ctx, action, nr, sc->n_args, cmps);
        }
        for (size_t i = 0; i < sc->n_args; i++) {
                cmps[0] = (struct scmp_arg_cmp) {sc->args[i].index, sc->args[i].op, sc->args[i].value,
                                                 sc->args[i].value_two};
                int r = seccomp_rule_add_array(ctx, action, nr, 1, cmps);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "SCMP_ARCH_X86_64" is libseccomp's "x86_64"; 0 when unknown. */
static uint32_t resolve_arch(const char *name)
{
        char lower[32];
        size_t n = strlen(name);
        if (strncmp(name, "SCMP_ARCH_", 10) != 0 || n - 10 >= sizeof(lower))
                return 0;
        for (size_t j = 10; j <= n; j++)
                lower[j - 10] = (char) tolower((unsigned char) name[j]);
        return seccomp_arch_resolve_name(lower);
}

/* The highest number any of the profile's names has on arch, -1 for none. */
static int highest_named(const struct spec_seccomp *s, uint32_t arch)
{
        int max = -1;
        for (size_t i = 0; i < s->n_syscalls; i++)
                for (size_t j = 0; j < s->syscalls[i].n_names; j++) {
                        int nr = seccomp_syscall_resolve_name_arch(arch, s->syscalls[i].names[j]);
                        if (nr > max)
                                max = nr;
                }
        return max;
}

#define X32_SYSCALL_BIT 0x40000000u

/*
 * runc's answer to syscalls newer than a profile: a profile knows nothing of
 * a syscall added to the kernel after it was written, and its default
 * action (EPERM, say) would tell libc that the syscall exists and refused;
 * ENOSYS makes libc fall back to the older syscall. So, for each architecture
 * of the filter, a syscall numbered above the highest one the profile names
 * gets ENOSYS, ahead of the profile's own program. Not needed when the
 * default allows (or is ENOSYS already). x32 syscalls (AUDIT_ARCH_X86_64
 * with the x32 bit) are left to the profile.
 */
static int enosys_stub(const struct spec_seccomp *s, const uint32_t *archs, size_t n_archs, uint32_t def,
                       struct sock_filter *out, size_t *ret_n)
{
        size_t n = 0;
        if (def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG || def == SCMP_ACT_ERRNO(ENOSYS)) {
                *ret_n = 0;
                return 0;
        }
        out[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        for (size_t i = 0; i < n_archs; i++) {
                int max = archs[i] == SCMP_ARCH_X32 ? -1 : highest_named(s, archs[i]);
                if (max < 0)
                        continue;
                bool x86_64 = archs[i] == SCMP_ARCH_X86_64;
                /* Not this arch: on to the next check (this block is 3 or 4 instructions). */
                out[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, archs[i], 0, x86_64 ? 3 : 2);
                out[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
                if (x86_64)
                        out[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0xff, 0);
                out[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t) max, 0xfe, 0xff);
                /* Reloading the arch for the next block. */
                out[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        }
        /* No arch matched: on to the profile's program. */
        out[n++] = (struct sock_filter) BPF_STMT(BPF_JMP | BPF_JA, 1);
        /* Fix the placeholder targets: 0xfe the ENOSYS return, 0xff the profile's program after it. */
        size_t enosys = n, main_prog = n + 1;
        for (size_t i = 0; i < n; i++) {
                if (BPF_CLASS(out[i].code) != BPF_JMP || BPF_OP(out[i].code) == BPF_JA)
                        continue;
                if (out[i].jt == 0xfe || out[i].jt == 0xff)
                        out[i].jt = (uint8_t) ((out[i].jt == 0xfe ? enosys : main_prog) - i - 1);
                if (out[i].jf == 0xfe || out[i].jf == 0xff)
                        out[i].jf = (uint8_t) ((out[i].jf == 0xfe ? enosys : main_prog) - i - 1);
        }
        out[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        *ret_n = n;
        return 0;
}

/* libseccomp's program for ctx, as BPF instructions (malloc'd). */
static int export_program(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n)
{
        _cleanup_close_ int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        size_t n = (size_t) st.st_size / sizeof(struct sock_filter);
        if (n == 0 || n > BPF_MAXINSNS)
                return -E2BIG;
        struct sock_filter *prog = calloc(n, sizeof(*prog));
        if (!prog)
                return -ENOMEM;
        if (pread(fd, prog, n * sizeof(*prog), 0) != (ssize_t) (n * sizeof(*prog))) {
                free(prog);
                return -EIO;
        }
        *ret = prog;
        *ret_n = n;
        return 0;
}

int syscall_filter_load(const struct spec_seccomp *s, cocoon_error **err)
{
        uint32_t def = scmp_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret);
        _cleanup_(scmp_releasep) scmp_filter_ctx ctx = seccomp_init(def);
        if (!ctx)
                return error_set(err, EINVAL, "linux.seccomp: libseccomp cannot create a filter");

        uint32_t archs[32] = {seccomp_arch_native()};
        size_t n_archs = 1;
        for (size_t i = 0; i < s->n_architectures; i++) {
                const char *name = s->architectures[i];
                uint32_t arch = resolve_arch(name);
                if (arch == 0)
                        return error_set(err, EINVAL, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
                                         name);
                int r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST)
                        return error_sys(err, -r, "linux.seccomp.architectures[%zu]: adding %s", i, name);
                if (r == 0 && n_archs < ARRAY_SIZE(archs))
                        archs[n_archs++] = arch;
        }
        unsigned kernel_flags = 0;
        for (size_t i = 0; i < s->n_flags; i++)
                for (size_t f = 0; f < ARRAY_SIZE(filter_flags); f++) {
                        if (strcmp(s->flags[i], filter_flags[f].name) != 0)
                                continue;
                        if (filter_flags[f].attr == 0)
                                return error_set(err, ENOTSUP, "linux.seccomp.flags[%zu]: libseccomp %u.%u cannot set %s", i,
                                                 seccomp_version()->major, seccomp_version()->minor, s->flags[i]);
                        kernel_flags |= filter_flags[f].kernel_flag;
                }

        for (size_t i = 0; i < s->n_syscalls; i++) {
                const struct spec_seccomp_syscall *sc = &s->syscalls[i];
                uint32_t action = scmp_action(sc->action, sc->has_errno_ret, sc->errno_ret);
                /* libseccomp refuses a rule that repeats the default action; it would change nothing. */
                if (action == def)
                        continue;
                for (size_t j = 0; j < sc->n_names; j++) {
                        int nr = seccomp_syscall_resolve_name(sc->names[j]);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* unknown here: runc skips it too */
                        int r = add_rule(ctx, action, nr, sc);
                        if (r < 0)
                                return error_sys(err, -r, "linux.seccomp.syscalls[%zu]: adding a rule for %s", i,
                                                 sc->names[j]);
                }
        }

        /*
         * Loaded here rather than by seccomp_load(), with the ENOSYS stub in
         * front, and without no_new_privs: libseccomp would set it
         * (SCMP_FLTATR_CTL_NNP), but process.noNewPrivileges decides that.
         * Without it the kernel wants CAP_SYS_ADMIN, which is why the
         * caller loads the filter before it drops its capabilities then.
         */
        _cleanup_free_ struct sock_filter *main_prog = NULL;
        size_t n_main = 0;
        int r = export_program(ctx, &main_prog, &n_main);
        if (r < 0)
                return error_sys(err, -r, "linux.seccomp: building the filter");
        struct sock_filter stub[1 + 5 * ARRAY_SIZE(archs) + 2];
        size_t n_stub = 0;
        (void) enosys_stub(s, archs, n_archs, def, stub, &n_stub);
        if (n_stub + n_main > BPF_MAXINSNS)
                return error_set(err, E2BIG, "linux.seccomp: the filter has more than %d instructions", BPF_MAXINSNS);
        _cleanup_free_ struct sock_filter *prog = calloc(n_stub + n_main, sizeof(*prog));
        if (!prog)
                return error_set(err, ENOMEM, "out of memory");
        memcpy(prog, stub, n_stub * sizeof(*prog));
        memcpy(prog + n_stub, main_prog, n_main * sizeof(*prog));
        struct sock_fprog fprog = {.len = (unsigned short) (n_stub + n_main), .filter = prog};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, kernel_flags, &fprog) < 0)
                return error_sys(err, errno, "linux.seccomp: loading the filter");
        return 0;
}

/* For `features`: a NULL-terminated list of the names in a table. */
#define NAMES_OF(table)                                                          \
        ({                                                                       \
                static const char *names_[ARRAY_SIZE(table) + 1];               \
                for (size_t i_ = 0; i_ < ARRAY_SIZE(table); i_++)                \
                        names_[i_] = table[i_].name;                             \
                (const char *const *) names_;                                    \
        })

void syscall_filter_known(struct syscall_filter_names *ret)
{
        static const char *const candidate_archs[] = {
                "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",  "SCMP_ARCH_X32",     "SCMP_ARCH_ARM",
                "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",    "SCMP_ARCH_MIPS64",  "SCMP_ARCH_MIPS64N32",
                "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
                "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",    "SCMP_ARCH_S390X",
                "SCMP_ARCH_RISCV64",
        };
        static const char *archs[ARRAY_SIZE(candidate_archs) + 1];
        static const char *supported[ARRAY_SIZE(filter_flags) + 1];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(candidate_archs); i++)
                if (resolve_arch(candidate_archs[i]) != 0)
                        archs[n++] = candidate_archs[i];
        archs[n] = NULL;
        n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(filter_flags); i++)
                if (filter_flags[i].attr != 0)
                        supported[n++] = filter_flags[i].name;
        supported[n] = NULL;
        *ret = (struct syscall_filter_names) {
                .actions = NAMES_OF(actions),
                .operators = NAMES_OF(operators),
                .archs = archs,
                .known_flags = NAMES_OF(filter_flags),
                .supported_flags = supported,
        };
}
