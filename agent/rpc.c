/* Request dispatch: the one place where the agent turns errors into responses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "agent.h"
#include "cleanup.h"
#include "config.h"

static int handle_version(struct agent *a, const Request *req)
{
        struct utsname u;
        (void) uname(&u);
        Cocoon__VersionResponse v = COCOON__VERSION_RESPONSE__INIT;
        v.protocol = FRAME_PROTOCOL_VERSION;
        v.agent_version = (char *) COCOON_VERSION;
        v.kernel_release = u.release;
        Response resp = COCOON__RESPONSE__INIT;
        resp.id = req->id;
        resp.body_case = COCOON__RESPONSE__BODY_VERSION;
        resp.version = &v;
        return conn_queue_msg(&a->conn, FRAME_RESPONSE, &resp.base);
}

int rpc_dispatch(struct agent *a, const uint8_t *payload, size_t len)
{
        _cleanup_error_ cocoon_error *err = NULL;
        _cleanup_request_ Request *req = NULL;
        int r = msg_unpack_request(payload, len, &req, &err);
        if (r < 0) {
                /* Answer so the host is not left waiting, then go on: the host may retry. */
                fprintf(stderr, "cocoon-agent: %s\n", err->msg);
                return msg_queue_result(&a->conn, 0, r, err);
        }

        switch (req->body_case) {
        case COCOON__REQUEST__BODY_VERSION:
                if (req->version->protocol != FRAME_PROTOCOL_VERSION) {
                        r = error_set(&err, EPROTONOSUPPORT, "host speaks protocol %u, the agent speaks %u",
                                      req->version->protocol, FRAME_PROTOCOL_VERSION);
                        break;
                }
                return handle_version(a, req);
        case COCOON__REQUEST__BODY_CREATE_CONTAINER:
                r = containers_create(a, req->create_container, &err);
                break;
        case COCOON__REQUEST__BODY_START_CONTAINER:
                r = containers_start(a, req->start_container->container_id, &err);
                break;
        case COCOON__REQUEST__BODY_SIGNAL_PROCESS:
                r = containers_signal(a, req->signal_process, &err);
                break;
        case COCOON__REQUEST__BODY_RESIZE:
                r = containers_resize(a, req->resize, &err);
                break;
        case COCOON__REQUEST__BODY_EXEC_PROCESS:
                r = containers_exec(a, req, &err);
                break;
        case COCOON__REQUEST__BODY_PAUSE_CONTAINER:
                r = containers_pause(a, req->pause_container, &err);
                break;
        case COCOON__REQUEST__BODY_LIST_PROCESSES:
                r = containers_list_processes(a, req, &err);
                break;
        case COCOON__REQUEST__BODY_STATS_CONTAINER:
                r = containers_stats(a, req, &err);
                break;
        case COCOON__REQUEST__BODY_UPDATE_CONTAINER:
                r = containers_update(a, req->update_container, &err);
                break;
        case COCOON__REQUEST__BODY_CONFIGURE_NETWORK:
                r = network_configure(req->configure_network, &err);
                break;
        case COCOON__REQUEST__BODY_REMOVE_CONTAINER:
                r = containers_remove(a, req->remove_container->container_id, &err);
                break;
        default:
                r = error_set(&err, EOPNOTSUPP, "the agent does not handle this request");
                break;
        }
        if (r > 0)
                return 0; /* answered with a body already */
        if (r < 0)
                fprintf(stderr, "cocoon-agent: request %llu: %s\n", (unsigned long long) req->id,
                        err ? err->msg : strerror(-r));
        return msg_queue_result(&a->conn, req->id, r, err);
}

int rpc_on_stdio_frame(struct agent *a, const struct frame_header *h, const uint8_t *payload)
{
        struct guest_process *p = containers_find_stream(a, h->stream);
        if (!p)
                return 0; /* a process already gone: late frames are harmless */

        switch (h->type) {
        case FRAME_DATA:
                if (h->flags != PROC_STDIN)
                        return -EPROTO;
                return pump_push(&p->pumps[PROC_STDIN], &a->conn, payload, h->length);
        case FRAME_EOF:
                if (h->flags == PROC_STDIN)
                        pump_push_eof(&p->pumps[PROC_STDIN]);
                else if (pump_reader_gone(&p->pumps[h->flags], &a->conn) < 0)
                        return -ENOMEM;
                containers_report_exits(a);
                return 0;
        case FRAME_CREDIT:
                if (h->flags == PROC_STDIN)
                        return -EPROTO;
                pump_grant(&p->pumps[h->flags],
                           (uint32_t) payload[0] << 24 | payload[1] << 16 | payload[2] << 8 | payload[3]);
                return 0;
        default:
                return -EPROTO;
        }
}
