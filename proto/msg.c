#include "msg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "cleanup.h"

int msg_unpack_request(const uint8_t *p, size_t len, Request **ret, cocoon_error **err)
{
        Request *r = cocoon__request__unpack(NULL, len, p);
        if (!r)
                return error_set(err, EPROTO, "malformed request");
        if (r->body_case == COCOON__REQUEST__BODY__NOT_SET) {
                cocoon__request__free_unpacked(r, NULL);
                return error_set(err, EPROTO, "request without a known body");
        }
        *ret = r;
        return 0;
}

int msg_unpack_response(const uint8_t *p, size_t len, Response **ret, cocoon_error **err)
{
        Response *r = cocoon__response__unpack(NULL, len, p);
        if (!r)
                return error_set(err, EPROTO, "malformed response");
        if (r->errnum < 0 || r->errnum > 4095) {
                cocoon__response__free_unpacked(r, NULL);
                return error_set(err, EPROTO, "response with an invalid errno");
        }
        *ret = r;
        return 0;
}

int msg_unpack_event(const uint8_t *p, size_t len, Event **ret, cocoon_error **err)
{
        Event *e = cocoon__event__unpack(NULL, len, p);
        if (!e)
                return error_set(err, EPROTO, "malformed event");
        if (e->body_case == COCOON__EVENT__BODY__NOT_SET) {
                cocoon__event__free_unpacked(e, NULL);
                return error_set(err, EPROTO, "event without a known body");
        }
        *ret = e;
        return 0;
}

int msg_queue_result(struct conn *c, uint64_t id, int r, const cocoon_error *err)
{
        Response resp = COCOON__RESPONSE__INIT;
        resp.id = id;
        if (r < 0) {
                resp.errnum = -r;
                resp.error = (char *) (err && err->msg ? err->msg : strerror(-r));
        }
        return conn_queue_msg(c, FRAME_RESPONSE, &resp.base);
}

int msg_queue_exited(struct conn *c, const char *container_id, const char *exec_id, int exit_code, int signal,
                     const char *reason)
{
        Cocoon__ProcessExited ex = COCOON__PROCESS_EXITED__INIT;
        ex.container_id = (char *) container_id;
        ex.exec_id = (char *) exec_id;
        ex.exit_code = exit_code;
        ex.signal = signal;
        ex.reason = (char *) (reason ? reason : "");
        Event ev = COCOON__EVENT__INIT;
        ev.body_case = COCOON__EVENT__BODY_EXITED;
        ev.exited = &ex;
        return conn_queue_msg(c, FRAME_EVENT, &ev.base);
}

int msg_queue_oom(struct conn *c, const char *container_id)
{
        Cocoon__OomEvent oom = COCOON__OOM_EVENT__INIT;
        oom.container_id = (char *) container_id;
        Event ev = COCOON__EVENT__INIT;
        ev.body_case = COCOON__EVENT__BODY_OOM;
        ev.oom = &oom;
        return conn_queue_msg(c, FRAME_EVENT, &ev.base);
}

int msg_call(struct conn *c, Request *req, const int *fds, size_t n_fds, Response **ret,
             void (*on_event)(Event *ev, void *userdata), void *userdata, cocoon_error **err)
{
        int r = conn_send_msg_fds(c, FRAME_REQUEST, &req->base, fds, n_fds, err);
        if (r < 0)
                return r;

        for (;;) {
                struct frame_header h;
                const uint8_t *payload;
                r = conn_read_frame(c, &h, &payload, err);
                if (r < 0)
                        return r;
                if (h.type == FRAME_EVENT) {
                        _cleanup_event_ Event *ev = NULL;
                        r = msg_unpack_event(payload, h.length, &ev, err);
                        if (r < 0)
                                return r;
                        if (on_event)
                                on_event(ev, userdata);
                        continue;
                }
                if (h.type != FRAME_RESPONSE)
                        continue; /* data frames are not for this caller */

                _cleanup_response_ Response *resp = NULL;
                r = msg_unpack_response(payload, h.length, &resp, err);
                if (r < 0)
                        return r;
                if (resp->id != req->id)
                        return error_set(err, EPROTO, "response to request %llu while waiting for %llu",
                                         (unsigned long long) resp->id, (unsigned long long) req->id);
                if (resp->errnum)
                        return error_set(err, resp->errnum, "%s", resp->error && *resp->error ? resp->error : strerror(resp->errnum));
                if (ret)
                        *ret = TAKE_PTR(resp);
                return 0;
        }
}

bool msg_id_valid(const char *id)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || n > 1024)
                return false;
        if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
                return false;
        /* The character set runc accepts, so ids move between runtimes. */
        for (const char *p = id; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_+-.", *p))
                        return false;
        return true;
}
