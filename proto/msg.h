/* Packing and unpacking of the protocol messages; the only place that calls protobuf-c. */
#pragma once

#include "agent.pb-c.h"
#include "conn.h"
#include "error.h"

typedef Cocoon__Request Request;
typedef Cocoon__Response Response;
typedef Cocoon__Event Event;

/* Unpack and check that a body is set; -EPROTO with a message otherwise. */
int msg_unpack_request(const uint8_t *p, size_t len, Request **ret, cocoon_error **err);
int msg_unpack_response(const uint8_t *p, size_t len, Response **ret, cocoon_error **err);
int msg_unpack_event(const uint8_t *p, size_t len, Event **ret, cocoon_error **err);

static inline void msg_request_freep(Request **r)
{
        if (*r)
                cocoon__request__free_unpacked(*r, NULL);
}
static inline void msg_response_freep(Response **r)
{
        if (*r)
                cocoon__response__free_unpacked(*r, NULL);
}
static inline void msg_event_freep(Event **e)
{
        if (*e)
                cocoon__event__free_unpacked(*e, NULL);
}
#define _cleanup_request_ __attribute__((cleanup(msg_request_freep)))
#define _cleanup_response_ __attribute__((cleanup(msg_response_freep)))
#define _cleanup_event_ __attribute__((cleanup(msg_event_freep)))

/* Queues a response for request `id` carrying the result r (0 or -errno) and err's message. */
int msg_queue_result(struct conn *c, uint64_t id, int r, const cocoon_error *err);

/* Queues the event that tells a process's exit. */
int msg_queue_exited(struct conn *c, const char *container_id, const char *exec_id, int exit_code, int signal,
                     const char *reason);

/* Queues the event that tells the OOM killer killed a process of the container. */
int msg_queue_oom(struct conn *c, const char *container_id);

/*
 * Blocking call for clients: sends the request (with fds, if any), waits for
 * its response, and turns an error response into (-errnum, *err = message).
 * Events that arrive in between are handed to on_event (may be NULL).
 * On success *ret (if non-NULL) gets the response.
 */
int msg_call(struct conn *c, Request *req, const int *fds, size_t n_fds, Response **ret,
             void (*on_event)(Event *ev, void *userdata), void *userdata, cocoon_error **err);

/* Validates a container or exec id: 1..1024 of [A-Za-z0-9_+.-], not "." or "..". */
bool msg_id_valid(const char *id);
