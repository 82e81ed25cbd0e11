/*
 * cocoon events: the container's statistics (runc's "stats" JSON, from its
 * cgroup in the guest) every --interval, and "oom" events as the guest's OOM
 * killer strikes; with --stats, one statistics line and done.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "runtime.h"

/* Go durations as runc takes them: "5s", "100ms", "1m30s", "2h". */
static int parse_duration(const char *s, long long *ret_ms)
{
        long long total = 0;
        if (!*s)
                return -EINVAL;
        while (*s) {
                char *end;
                double n = strtod(s, &end);
                if (end == s || n < 0)
                        return -EINVAL;
                double unit;
                if (strncmp(end, "ms", 2) == 0)
                        unit = 1, end += 2;
                else if (*end == 's')
                        unit = 1000, end++;
                else if (*end == 'm')
                        unit = 60000, end++;
                else if (*end == 'h')
                        unit = 3600000, end++;
                else
                        return -EINVAL;
                total += (long long) (n * unit);
                s = end;
        }
        if (total <= 0)
                return -EINVAL;
        *ret_ms = total;
        return 0;
}

/* runc reports "no limit" as the largest uint64. */
static unsigned long long limit(uint64_t v) { return v ? v : UINT64_MAX; }

static void put_stats(struct json_writer *w, const char *id, const Cocoon__StatsContainerResponse *s)
{
        json_open_map(w, NULL);
        json_key_str(w, "type", "stats");
        json_key_str(w, "id", id);
        json_open_map(w, "data");
        json_open_map(w, "cpu");
        json_open_map(w, "usage");
        json_key_uint(w, "total", s->cpu_usage_ns);
        json_key_uint(w, "kernel", s->cpu_system_ns);
        json_key_uint(w, "user", s->cpu_user_ns);
        json_close_map(w);
        json_open_map(w, "throttling");
        json_key_uint(w, "periods", s->cpu_periods);
        json_key_uint(w, "throttledPeriods", s->cpu_throttled_periods);
        json_key_uint(w, "throttledTime", s->cpu_throttled_ns);
        json_close_map(w);
        json_close_map(w);
        json_open_map(w, "memory");
        uint64_t cache = 0;
        for (size_t i = 0; i < s->n_memory_stat; i++)
                if (strcmp(s->memory_stat[i]->name, "file") == 0)
                        cache = s->memory_stat[i]->value;
        json_key_uint(w, "cache", cache);
        json_open_map(w, "usage");
        json_key_uint(w, "usage", s->memory_usage);
        json_key_uint(w, "limit", limit(s->memory_limit));
        json_key_uint(w, "max", s->memory_max_usage);
        json_key_uint(w, "failcnt", s->memory_oom_kills);
        json_close_map(w);
        json_open_map(w, "swap");
        json_key_uint(w, "usage", s->memory_swap_usage);
        json_key_uint(w, "limit", limit(s->memory_swap_limit));
        json_close_map(w);
        json_open_map(w, "raw");
        for (size_t i = 0; i < s->n_memory_stat; i++)
                json_key_uint(w, s->memory_stat[i]->name, s->memory_stat[i]->value);
        json_close_map(w);
        json_close_map(w);
        json_open_map(w, "pids");
        json_key_uint(w, "current", s->pids_current);
        json_key_uint(w, "limit", s->pids_limit);
        json_close_map(w);
        json_close_map(w);
        json_close_map(w);
}

static void print_event(const char *id, const char *type, const Cocoon__StatsContainerResponse *s)
{
        struct json_writer w;
        _cleanup_free_ char *text = NULL;
        if (json_writer_init(&w, false) < 0)
                return;
        if (s) {
                put_stats(&w, id, s);
        } else {
                json_open_map(&w, NULL);
                json_key_str(&w, "type", type);
                json_key_str(&w, "id", id);
                json_close_map(&w);
        }
        if (json_writer_finish(&w, &text, NULL) == 0) {
                printf("%s\n", text);
                fflush(stdout);
        }
}

struct oom_seen {
        const char *id;
};

static void on_event(Event *ev, void *ud)
{
        struct oom_seen *o = ud;
        if (ev->body_case == COCOON__EVENT__BODY_OOM && strcmp(ev->oom->container_id, o->id) == 0)
                print_event(o->id, "oom", NULL);
}

static int events_loop(const char *dir, const char *id, bool once, long long interval_ms, cocoon_error **err)
{
        int fd = supervisor_connect(dir, err);
        if (fd < 0)
                return fd;
        struct conn c;
        conn_init(&c, fd, false);
        struct oom_seen seen = {.id = id};
        uint64_t next_id = 0;
        int r;
        for (;;) {
                Cocoon__StatsContainerRequest sc = COCOON__STATS_CONTAINER_REQUEST__INIT;
                sc.container_id = (char *) id;
                Request req = COCOON__REQUEST__INIT;
                req.id = ++next_id;
                req.body_case = COCOON__REQUEST__BODY_STATS_CONTAINER;
                req.stats_container = &sc;
                _cleanup_response_ Response *resp = NULL;
                r = msg_call(&c, &req, NULL, 0, &resp, on_event, &seen, err);
                if (r < 0)
                        break;
                if (resp->body_case == COCOON__RESPONSE__BODY_STATS_CONTAINER)
                        print_event(id, "stats", resp->stats_container);
                if (once)
                        break;
                /* Until the next tick, report OOM events as they come. */
                struct timespec start, now;
                clock_gettime(CLOCK_MONOTONIC, &start);
                for (;;) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long long left = interval_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                                                        (now.tv_nsec - start.tv_nsec) / 1000000);
                        if (left <= 0)
                                break;
                        struct pollfd p = {.fd = c.fd, .events = POLLIN};
                        if (poll(&p, 1, (int) (left > INT32_MAX ? INT32_MAX : left)) <= 0)
                                continue;
                        ssize_t n = conn_fill(&c, err);
                        if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
                                r = 0; /* the sandbox went away: the container stopped */
                                goto out;
                        }
                        struct frame_header h;
                        const uint8_t *payload;
                        while (conn_next(&c, &h, &payload, NULL) > 0) {
                                _cleanup_event_ Event *ev = NULL;
                                if (h.type == FRAME_EVENT && msg_unpack_event(payload, h.length, &ev, NULL) == 0)
                                        on_event(ev, &seen);
                        }
                }
        }
out:
        conn_destroy(&c);
        return r;
}

static int events_main(struct runtime *rt, int argc, char **argv)
{
        static const struct option opts[] = {
                {"stats", no_argument, NULL, 's'},
                {"interval", required_argument, NULL, 'i'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool once = false;
        long long interval_ms = 5000;
        int c;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                if (c == 's')
                        once = true;
                else if (c == 'i') {
                        if (parse_duration(optarg, &interval_ms) < 0) {
                                log_error("events: --interval %s: expected a duration such as 5s or 500ms", optarg);
                                return 2;
                        }
                } else if (c == 'h') {
                        printf("usage: %s\n", verb_events.usage);
                        return 0;
                } else
                        return 2;
        }
        if (optind != argc - 1) {
                log_error("events: expected exactly one container id\nusage: %s", verb_events.usage);
                return 2;
        }
        const char *id = argv[optind];
        _cleanup_error_ cocoon_error *err = NULL;
        struct container ct;
        int r = container_open(rt->root, id, &ct, &err);
        if (r < 0)
                return verb_fail(&verb_events, r, err);
        static const char *const live[] = {"created", "running", "paused", NULL};
        r = container_require_status(&ct, live, "container not running", &err);
        /* Unlocked: events runs for as long as the container does. */
        container_unlock(&ct);
        if (r == 0)
                r = events_loop(ct.sv_dir, id, once, interval_ms, &err);
        container_close(&ct);
        return r < 0 ? verb_fail(&verb_events, r, err) : 0;
}

const struct verb verb_events = {
        .name = "events",
        .run = events_main,
        .usage = "cocoon events [--stats] [--interval D] ID\n"
                 "  Prints the container's cgroup statistics (from the guest) as JSON every D (default 5s),\n"
                 "  and OOM events; --stats prints them once.",
};
