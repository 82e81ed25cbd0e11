/*
 * Events to containerd: `<publish-binary> --address A publish --topic T
 * --namespace NS` with the event as a packed Any on stdin. One publisher
 * runs at a time, so containerd sees the events in the order they happened;
 * one that fails is logged by containerd, never retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "shim.h"

/* Events are small (an Any of a few ids); they fit a pipe's buffer, written before the publisher runs. */
#define EVENT_MAX 65536

static void event_free(struct shim_event *e)
{
        free(e->topic);
        free(e->data);
        free(e);
}

static void run_next(struct shim *s)
{
        while (!s->publisher && s->events) {
                struct shim_event *e = s->events;
                s->events = e->next;
                if (!s->events)
                        s->events_tail = &s->events;
                int p[2] = {-1, -1};
                if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], e->data, e->len) != (ssize_t) e->len) {
                        log_warn("publishing %s: %s", e->topic, strerror(errno));
                } else {
                        close(p[1]);
                        p[1] = -1;
                        pid_t pid = fork();
                        if (pid == 0) {
                                (void) dup2(p[0], 0);
                                execl(s->args.publish_binary, s->args.publish_binary, "--address", s->args.address,
                                      "publish", "--topic", e->topic, "--namespace", s->args.ns, (char *) NULL);
                                _exit(127);
                        }
                        if (pid < 0)
                                log_warn("publishing %s: fork: %s", e->topic, strerror(errno));
                        else
                                s->publisher = pid;
                }
                if (p[0] >= 0)
                        close(p[0]);
                if (p[1] >= 0)
                        close(p[1]);
                event_free(e);
        }
}

void shim_publish(struct shim *s, const char *topic, const char *name, const ProtobufCMessage *event)
{
        if (!s->args.publish_binary || !*s->args.publish_binary)
                return;
        size_t vlen = protobuf_c_message_get_packed_size(event);
        _cleanup_free_ uint8_t *value = malloc(vlen ? vlen : 1);
        char type_url[128];
        snprintf(type_url, sizeof(type_url), "containerd.events.%s", name);
        struct shim_event *e = calloc(1, sizeof(*e));
        if (!value || !e) {
                free(e);
                return;
        }
        protobuf_c_message_pack(event, value);
        Cocoon__Shim__Any any = COCOON__SHIM__ANY__INIT;
        any.type_url = type_url;
        any.value.data = value;
        any.value.len = vlen;
        e->len = cocoon__shim__any__get_packed_size(&any);
        e->topic = strdup(topic);
        e->data = e->len <= EVENT_MAX ? malloc(e->len) : NULL;
        if (!e->topic || !e->data) {
                log_warn("publishing %s: %s", topic, e->topic && e->len > EVENT_MAX ? "event too large" : "out of memory");
                event_free(e);
                return;
        }
        cocoon__shim__any__pack(&any, e->data);
        if (!s->events_tail)
                s->events_tail = &s->events;
        *s->events_tail = e;
        s->events_tail = &e->next;
        run_next(s);
}

bool shim_publisher_exited(struct shim *s, pid_t pid)
{
        if (!pid || pid != s->publisher)
                return false;
        s->publisher = 0;
        run_next(s);
        return true;
}

void shim_publish_flush(struct shim *s)
{
        while (s->publisher) {
                pid_t pid = s->publisher;
                if (waitpid(pid, NULL, 0) < 0 && errno != EINTR) {
                        s->publisher = 0;
                        break;
                }
                (void) shim_publisher_exited(s, pid);
        }
        while (s->events) {
                struct shim_event *e = s->events;
                s->events = e->next;
                event_free(e);
        }
}
