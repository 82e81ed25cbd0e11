/*
 * cocoon update: new cgroup limits for a running container, applied in the
 * guest. Takes a runtime-spec linux.resources object (--resources FILE, or -
 * for stdin) or runc's short flags, which build one.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "runtime.h"

enum { MEMORY, RESERVATION, SWAP, SHARES, QUOTA, PERIOD, CPUS, MEMS, PIDS, BLKIO, N_FLAGS };

/* "512", "64k", "100m", "1g" (binary units, as docker's RAMInBytes); -1 for unlimited. */
static int parse_size(const char *s, long long *ret)
{
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (end == s || errno)
                return -EINVAL;
        int shift = 0;
        switch (tolower((unsigned char) *end)) {
        case 'k':
                shift = 10;
                break;
        case 'm':
                shift = 20;
                break;
        case 'g':
                shift = 30;
                break;
        case '\0':
                break;
        default:
                return -EINVAL;
        }
        if (*end && end[1] && !(tolower((unsigned char) end[1]) == 'b' && !end[2]))
                return -EINVAL;
        if (n < -1 || (n > 0 && (n >> (62 - shift)) != 0))
                return -EINVAL;
        *ret = n << shift;
        return 0;
}

static int parse_number(const char *s, long long *ret)
{
        char *end;
        errno = 0;
        *ret = strtoll(s, &end, 10);
        return end == s || *end || errno ? -EINVAL : 0;
}

static int resources_from_flags(char *const flags[N_FLAGS], char **ret, cocoon_error **err)
{
        static const char *const names[N_FLAGS] = {"memory", "memory-reservation", "memory-swap", "cpu-shares",
                                                   "cpu-quota", "cpu-period", "cpuset-cpus", "cpuset-mems",
                                                   "pids-limit", "blkio-weight"};
        long long v[N_FLAGS] = {0};
        for (int i = 0; i < N_FLAGS; i++) {
                if (!flags[i] || i == CPUS || i == MEMS)
                        continue;
                /* Sizes take k/m/g; every limit but shares, period and weight may be -1 (unlimited). */
                bool size = i <= SWAP, unlimited_ok = size || i == QUOTA || i == PIDS;
                int r = size ? parse_size(flags[i], &v[i]) : parse_number(flags[i], &v[i]);
                if (r < 0 || v[i] < -1 || (v[i] == -1 && !unlimited_ok))
                        return error_set(err, EINVAL, "--%s %s: expected a %s", names[i], flags[i],
                                         unlimited_ok ? "number (-1: unlimited)" : "non-negative number");
        }
        struct json_writer w;
        if (json_writer_init(&w, false) < 0)
                return -ENOMEM;
        json_open_map(&w, NULL);
        if (flags[MEMORY] || flags[RESERVATION] || flags[SWAP]) {
                json_open_map(&w, "memory");
                if (flags[MEMORY])
                        json_key_int(&w, "limit", v[MEMORY]);
                if (flags[RESERVATION])
                        json_key_int(&w, "reservation", v[RESERVATION]);
                if (flags[SWAP])
                        json_key_int(&w, "swap", v[SWAP]);
                json_close_map(&w);
        }
        if (flags[SHARES] || flags[QUOTA] || flags[PERIOD] || flags[CPUS] || flags[MEMS]) {
                json_open_map(&w, "cpu");
                if (flags[SHARES])
                        json_key_uint(&w, "shares", v[SHARES]);
                if (flags[QUOTA])
                        json_key_int(&w, "quota", v[QUOTA]);
                if (flags[PERIOD])
                        json_key_uint(&w, "period", v[PERIOD]);
                if (flags[CPUS])
                        json_key_str(&w, "cpus", flags[CPUS]);
                if (flags[MEMS])
                        json_key_str(&w, "mems", flags[MEMS]);
                json_close_map(&w);
        }
        if (flags[PIDS]) {
                json_open_map(&w, "pids");
                json_key_int(&w, "limit", v[PIDS]);
                json_close_map(&w);
        }
        if (flags[BLKIO]) {
                json_open_map(&w, "blockIO");
                json_key_uint(&w, "weight", v[BLKIO]);
                json_close_map(&w);
        }
        json_close_map(&w);
        return json_writer_finish(&w, ret, NULL);
}

static int update_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"resources", required_argument, NULL, 'r'},
                {"memory", required_argument, NULL, 'm'},
                {"memory-reservation", required_argument, NULL, 'R'},
                {"memory-swap", required_argument, NULL, 'S'},
                {"cpu-shares", required_argument, NULL, 's'},
                {"cpu-quota", required_argument, NULL, 'q'},
                {"cpu-period", required_argument, NULL, 'p'},
                {"cpuset-cpus", required_argument, NULL, 'c'},
                {"cpuset-mems", required_argument, NULL, 'M'},
                {"pids-limit", required_argument, NULL, 'P'},
                {"blkio-weight", required_argument, NULL, 'b'},
                {"kernel-memory", required_argument, NULL, 'k'},
                {"kernel-memory-tcp", required_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        static const char map[N_FLAGS] = {'m', 'R', 'S', 's', 'q', 'p', 'c', 'M', 'P', 'b'};
        char *flags[N_FLAGS] = {0};
        const char *resources = NULL;
        bool any = false;
        int c;
        while ((c = getopt_long(argc, argv, "+r:h", opts, NULL)) != -1) {
                if (c == 'r') {
                        resources = optarg;
                        continue;
                }
                if (c == 'h') {
                        printf("usage: %s\n", verb_update.usage);
                        return 0;
                }
                if (c == 'k') {
                        log_warn("update: kernel memory limits do not exist in cgroup v2, ignoring");
                        continue;
                }
                const char *at = memchr(map, c, N_FLAGS);
                if (!at)
                        return 2;
                flags[at - map] = optarg;
                any = true;
        }
        if (optind != argc - 1) {
                log_error("update: expected exactly one container id\nusage: %s", verb_update.usage);
                return 2;
        }
        const char *id = argv[optind];
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_free_ char *json = NULL;
        int r = 0;
        if (resources && any) {
                r = error_set(&err, EINVAL, "--resources and the other limit flags cannot be combined");
        } else if (resources) {
                size_t len;
                r = read_file(strcmp(resources, "-") == 0 ? "/dev/stdin" : resources, 1 << 20, &json, &len);
                if (r < 0)
                        r = error_sys(&err, -r, "--resources %s", resources);
                _cleanup_json_ yajl_val v = NULL;
                if (r == 0 && (r = json_parse_object(json, len, &v, &err)) < 0)
                        r = error_wrap(&err, r, "--resources %s", resources);
        } else if (any) {
                r = resources_from_flags(flags, &json, &err);
        } else {
                r = error_set(&err, EINVAL, "nothing to update: give --resources or a limit flag");
        }
        if (r < 0)
                return verb_fail(&verb_update, r, err);

        struct container ct;
        r = container_open(rt->root, id, &ct, &err);
        if (r < 0)
                return verb_fail(&verb_update, r, err);
        static const char *const live[] = {"created", "running", "paused", NULL};
        r = container_require_status(&ct, live, "container not running", &err);
        if (r == 0)
                r = sandbox_update(ct.sv_dir, id, json, &err);
        container_close(&ct);
        return r < 0 ? verb_fail(&verb_update, r, err) : 0;
}

const struct verb verb_update = {
        .name = "update",
        .run = update_main,
        .usage = "cocoon update [--resources|-r FILE|-] [--memory N] [--memory-reservation N] [--memory-swap N]\n"
                 "              [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L] [--cpuset-mems L]\n"
                 "              [--pids-limit N] [--blkio-weight N] ID\n"
                 "  Changes the container's cgroup limits in the guest.",
};
