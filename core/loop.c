#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct loop {
        int epfd;
        struct watch *watches; /* all live and dead watches; dead ones are freed between turns */
        int n_always_ready;
};

int loop_new(struct loop **ret)
{
        struct loop *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int e = errno;
                free(l);
                return -e;
        }
        *ret = l;
        return 0;
}

void loop_free(struct loop *l)
{
        if (!l)
                return;
        for (struct watch *w = l->watches, *next; w; w = next) {
                next = w->next;
                free(w);
        }
        close(l->epfd);
        free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, watch_fn fn, void *data, struct watch **ret)
{
        struct watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (struct watch) {.fd = fd, .events = events, .fn = fn, .data = data, .loop = l};
        struct epoll_event ev = {.events = events, .data.ptr = w};
        /* Added even with no events, to learn whether epoll takes this fd at all. */
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                if (errno != EPERM) {
                        int e = errno;
                        free(w);
                        return -e;
                }
                w->always_ready = true;
                l->n_always_ready++;
        } else if (!events) {
                (void) epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        }
        w->next = l->watches;
        l->watches = w;
        if (ret)
                *ret = w;
        return 0;
}

int loop_set_events(struct watch *w, uint32_t events)
{
        if (w->events == events)
                return 0;
        uint32_t old = w->events;
        w->events = events;
        if (w->always_ready)
                return 0;
        /*
         * epoll reports hang-ups even for a fd that asks for nothing, so a
         * watch that wants no events leaves the epoll set altogether;
         * otherwise a pipe whose writer is gone would wake us forever while
         * we wait for flow-control credit.
         */
        struct epoll_event ev = {.events = events, .data.ptr = w};
        int op = !old ? EPOLL_CTL_ADD : !events ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
        return epoll_ctl(w->loop->epfd, op, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_remove(struct watch *w)
{
        if (!w || w->dead)
                return;
        w->dead = true;
        if (w->always_ready)
                w->loop->n_always_ready--;
        else if (w->events)
                (void) epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static void reap_dead(struct loop *l)
{
        for (struct watch **p = &l->watches; *p;) {
                struct watch *w = *p;
                if (w->dead) {
                        *p = w->next;
                        free(w);
                } else {
                        p = &w->next;
                }
        }
}

static bool any_ready_wanted(struct loop *l)
{
        for (struct watch *w = l->watches; w; w = w->next)
                if (w->always_ready && !w->dead && w->events)
                        return true;
        return false;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
        struct epoll_event evs[32];
        if (l->n_always_ready && any_ready_wanted(l))
                timeout_ms = 0;
        int n = epoll_wait(l->epfd, evs, 32, timeout_ms);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        int r = 0;
        for (int i = 0; i < n && r >= 0; i++) {
                struct watch *w = evs[i].data.ptr;
                if (!w->dead)
                        r = w->fn(w, evs[i].events);
        }
        for (struct watch *w = l->watches; w && r >= 0; w = w->next)
                if (w->always_ready && !w->dead && w->events)
                        r = w->fn(w, w->events & (EPOLLIN | EPOLLOUT));
        reap_dead(l);
        return r;
}
