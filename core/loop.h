/*
 * The one event loop shape of cocoon's daemons (agent, supervisor, stub):
 * epoll with a callback per watched fd. A fd that epoll refuses (regular
 * files, /dev/null) is "always ready" and its callback runs every turn while
 * it asks for events, which is how the kernel would report it anyway.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct watch;

/* Returns 0 to go on, negative to stop the loop with that error. */
typedef int (*watch_fn)(struct watch *w, uint32_t events);

struct watch {
        int fd;
        uint32_t events; /* EPOLLIN / EPOLLOUT currently wanted */
        watch_fn fn;
        void *data;
        /* private */
        struct loop *loop;
        bool always_ready, dead;
        struct watch *next;
};

int loop_new(struct loop **ret);
void loop_free(struct loop *l);
/* Starts watching fd; the watch is owned by the loop until loop_remove(). */
int loop_add(struct loop *l, int fd, uint32_t events, watch_fn fn, void *data, struct watch **ret);
int loop_set_events(struct watch *w, uint32_t events);
/* Stops watching (does not close the fd); safe from inside callbacks. */
void loop_remove(struct watch *w);
/* Runs one turn: waits up to timeout_ms (-1: forever) and dispatches. */
int loop_run_once(struct loop *l, int timeout_ms);
