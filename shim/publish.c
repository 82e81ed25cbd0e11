/*
 * Events to containerd, in the order they happened. First choice: the
 * Events service on containerd's own ttrpc socket (containerd passes its
 * address in $TTRPC_ADDRESS), Forward with the event in an envelope, one
 * request at a time on one connection. If that is not there or fails,
 * `<publish-binary> --address A publish --topic T --namespace NS` with the
 * event as a packed Any on stdin, one publisher at a time. An event that
 * fails both ways is lost (containerd logs it), never retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "shim.h"
#include "ttrpc.h"

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

static int read_exact(int fd, uint8_t *p, size_t len)
{
        while (len > 0) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (poll(&pfd, 1, 5000) <= 0)
                        return -ETIMEDOUT;
                ssize_t n = read(fd, p, len);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                if (n > 0) {
                        p += n;
                        len -= n;
                }
        }
        return 0;
}

static int connect_events(struct shim *s)
{
        const char *addr = getenv("TTRPC_ADDRESS");
        if (!addr || !*addr)
                return -ENOENT;
        if (strncmp(addr, "unix://", 7) == 0)
                addr += 7;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(addr) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, addr);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        s->events_fd = fd;
        s->events_stream = 1;
        return 0;
}

/* Events.Forward on containerd's ttrpc socket, waiting for its answer (containerd only queues the event). */
static int forward(struct shim *s, const char *topic, Cocoon__Shim__Any *any)
{
        if (s->events_fd < 0) {
                int r = connect_events(s);
                if (r < 0)
                        return r;
        }
        Cocoon__Shim__Timestamp ts = timestamp_now();
        Cocoon__Shim__EventEnvelope env = COCOON__SHIM__EVENT_ENVELOPE__INIT;
        env.timestamp = &ts;
        env.namespace_ = (char *) s->args.ns;
        env.topic = (char *) topic;
        env.event = any;
        Cocoon__Shim__ForwardRequest fw = COCOON__SHIM__FORWARD_REQUEST__INIT;
        fw.envelope = &env;
        size_t plen = cocoon__shim__forward_request__get_packed_size(&fw);
        _cleanup_free_ uint8_t *payload = malloc(plen ? plen : 1);
        if (!payload)
                return -ENOMEM;
        cocoon__shim__forward_request__pack(&fw, payload);
        Cocoon__Shim__TtrpcRequest req = COCOON__SHIM__TTRPC_REQUEST__INIT;
        req.service = (char *) "containerd.services.events.ttrpc.v1.Events";
        req.method = (char *) "Forward";
        req.payload.data = payload;
        req.payload.len = plen;
        size_t len = cocoon__shim__ttrpc_request__get_packed_size(&req);
        _cleanup_free_ uint8_t *frame = malloc(TTRPC_HEADER_SIZE + len);
        if (!frame)
                return -ENOMEM;
        struct ttrpc_header h = {.length = len, .stream = s->events_stream, .type = TTRPC_TYPE_REQUEST};
        s->events_stream += 2; /* a client's streams are odd */
        ttrpc_header_encode(&h, frame);
        cocoon__shim__ttrpc_request__pack(&req, frame + TTRPC_HEADER_SIZE);
        if (send(s->events_fd, frame, TTRPC_HEADER_SIZE + len, MSG_NOSIGNAL) != (ssize_t) (TTRPC_HEADER_SIZE + len))
                return -EIO;
        uint8_t hdr[TTRPC_HEADER_SIZE];
        int r = read_exact(s->events_fd, hdr, sizeof(hdr));
        if (r < 0)
                return r;
        uint32_t rlen = (uint32_t) hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
        if (hdr[8] != TTRPC_TYPE_RESPONSE || rlen > 65536)
                return -EPROTO;
        _cleanup_free_ uint8_t *body = malloc(rlen ? rlen : 1);
        if (!body)
                return -ENOMEM;
        if ((r = read_exact(s->events_fd, body, rlen)) < 0)
                return r;
        Cocoon__Shim__TtrpcResponse *resp = cocoon__shim__ttrpc_response__unpack(NULL, rlen, body);
        if (!resp)
                return -EPROTO;
        r = resp->status && resp->status->code != 0 ? -EIO : 0;
        if (r < 0)
                log_warn("publishing %s: containerd answered %d: %s", topic, resp->status->code,
                         resp->status->message);
        cocoon__shim__ttrpc_response__free_unpacked(resp, NULL);
        return r;
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
        /* Straight to containerd while that works and nothing waits for the publish binary. */
        if (!s->events_direct_failed && !s->events && !s->publisher) {
                int r = forward(s, topic, &any);
                if (r == 0) {
                        free(e);
                        return;
                }
                log_warn("publishing %s on containerd's ttrpc socket: %s; using %s from now on", topic,
                          strerror(-r), s->args.publish_binary);
                s->events_direct_failed = true;
                if (s->events_fd >= 0)
                        close(s->events_fd);
                s->events_fd = -1;
        }
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
