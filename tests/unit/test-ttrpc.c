/* ttrpc framing as containerd speaks it to the shim: headers, partial input, limits, responses. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.pb-c.h"
#include "tap.h"
#include "ttrpc.h"

/* A request frame as containerd's client writes it. */
static size_t request_frame(uint8_t *buf, uint32_t stream, const char *method, const char *payload)
{
        Cocoon__Shim__TtrpcRequest req = COCOON__SHIM__TTRPC_REQUEST__INIT;
        req.service = (char *) "containerd.task.v2.Task";
        req.method = (char *) method;
        req.payload.data = (uint8_t *) payload;
        req.payload.len = strlen(payload);
        size_t len = cocoon__shim__ttrpc_request__pack(&req, buf + TTRPC_HEADER_SIZE);
        struct ttrpc_header h = {.length = len, .stream = stream, .type = TTRPC_TYPE_REQUEST};
        ttrpc_header_encode(&h, buf);
        return TTRPC_HEADER_SIZE + len;
}

static void test_header(void)
{
        uint8_t b[TTRPC_HEADER_SIZE];
        struct ttrpc_header h = {.length = 0x01020304, .stream = 0x0a0b0c0d, .type = 1, .flags = 0};
        ttrpc_header_encode(&h, b);
        static const uint8_t want[] = {1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 1, 0};
        TAP_OK(memcmp(b, want, sizeof(want)) == 0, "header: length and stream big-endian, then type and flags");

        cocoon_error *err = NULL;
        struct ttrpc_header out;
        uint8_t big[TTRPC_HEADER_SIZE];
        h = (struct ttrpc_header) {.length = TTRPC_MAX_MESSAGE + 1, .stream = 1, .type = 1};
        ttrpc_header_encode(&h, big);
        TAP_OK(ttrpc_frame_decode(big, sizeof(big), &out, &err) == -EPROTO && err,
               "a frame over 4 MiB is refused from its header alone");
        error_free(err);
        err = NULL;
        h = (struct ttrpc_header) {.length = 0, .stream = 1, .type = TTRPC_TYPE_RESPONSE};
        ttrpc_header_encode(&h, big);
        TAP_OK(ttrpc_frame_decode(big, sizeof(big), &out, &err) == -EPROTO, "a response frame from containerd is refused");
        error_free(err);
        err = NULL;
        h = (struct ttrpc_header) {.length = 0, .stream = 3, .type = TTRPC_TYPE_REQUEST};
        ttrpc_header_encode(&h, big);
        TAP_OK(ttrpc_frame_decode(big, sizeof(big), &out, &err) == 1 && out.stream == 3 && out.length == 0,
               "an empty request is a whole frame");
}

static void test_stream(void)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                TAP_OK(0, "socketpair");
                return;
        }
        (void) fcntl(sv[1], F_SETFL, O_NONBLOCK);
        struct ttrpc_conn c;
        ttrpc_conn_init(&c, sv[1]);
        uint8_t buf[512];
        size_t n1 = request_frame(buf, 1, "State", "abc");
        size_t n2 = request_frame(buf + n1, 3, "Wait", "");
        cocoon_error *err = NULL;
        struct ttrpc_header h;
        const uint8_t *payload;

        /* One byte short of the first frame: nothing yet. */
        TAP_OK(write(sv[0], buf, n1 - 1) == (ssize_t) (n1 - 1), "write a partial frame");
        TAP_OK(ttrpc_conn_fill(&c) == (ssize_t) (n1 - 1), "fill reads what is there");
        TAP_OK(ttrpc_conn_next(&c, &h, &payload, &err) == 0, "no frame before its last byte");
        TAP_OK(ttrpc_conn_fill(&c) == -EAGAIN, "nothing more to read: EAGAIN");

        /* The rest of it and the whole second frame in one read. */
        TAP_OK(write(sv[0], buf + n1 - 1, n2 + 1) == (ssize_t) (n2 + 1), "write the rest and a second frame");
        TAP_OK(ttrpc_conn_fill(&c) == (ssize_t) (n2 + 1), "fill");
        int r = ttrpc_conn_next(&c, &h, &payload, &err);
        Cocoon__Shim__TtrpcRequest *req = r == 1 ? cocoon__shim__ttrpc_request__unpack(NULL, h.length, payload) : NULL;
        TAP_OK(req && h.stream == 1 && strcmp(req->method, "State") == 0 && req->payload.len == 3 &&
                       memcmp(req->payload.data, "abc", 3) == 0,
               "the first request: stream 1, method and payload");
        if (req)
                cocoon__shim__ttrpc_request__free_unpacked(req, NULL);
        ttrpc_conn_consume(&c, &h);
        r = ttrpc_conn_next(&c, &h, &payload, &err);
        req = r == 1 ? cocoon__shim__ttrpc_request__unpack(NULL, h.length, payload) : NULL;
        TAP_OK(req && h.stream == 3 && strcmp(req->method, "Wait") == 0, "the second request: stream 3");
        if (req)
                cocoon__shim__ttrpc_request__free_unpacked(req, NULL);
        ttrpc_conn_consume(&c, &h);
        TAP_OK(ttrpc_conn_next(&c, &h, &payload, &err) == 0 && c.in_len == 0, "nothing left over");

        /* A response as the client reads it: same stream, status, payload. */
        TAP_OK(ttrpc_send_response(sv[1], 3, 0, NULL, (const uint8_t *) "xy", 2) == 0, "send an OK response");
        TAP_OK(ttrpc_send_response(sv[1], 5, 5, "task x not found", NULL, 0) == 0, "send an error response");
        uint8_t in[256];
        ssize_t got = read(sv[0], in, sizeof(in));
        size_t off = 0;
        for (int i = 0; i < 2; i++) {
                if (got < (ssize_t) (off + TTRPC_HEADER_SIZE)) {
                        TAP_OK(0, "response %d arrived", i);
                        continue;
                }
                uint32_t len = (uint32_t) in[off] << 24 | in[off + 1] << 16 | in[off + 2] << 8 | in[off + 3];
                uint32_t stream = (uint32_t) in[off + 4] << 24 | in[off + 5] << 16 | in[off + 6] << 8 | in[off + 7];
                Cocoon__Shim__TtrpcResponse *resp =
                        cocoon__shim__ttrpc_response__unpack(NULL, len, in + off + TTRPC_HEADER_SIZE);
                if (i == 0)
                        TAP_OK(resp && in[off + 8] == TTRPC_TYPE_RESPONSE && stream == 3 && resp->status &&
                                       resp->status->code == 0 && resp->payload.len == 2 &&
                                       memcmp(resp->payload.data, "xy", 2) == 0,
                               "OK response: type 2, stream 3, code 0, the payload");
                else
                        TAP_OK(resp && stream == 5 && resp->status && resp->status->code == 5 &&
                                       strcmp(resp->status->message, "task x not found") == 0 && resp->payload.len == 0,
                               "error response: stream 5, code NotFound, the message, no payload");
                if (resp)
                        cocoon__shim__ttrpc_response__free_unpacked(resp, NULL);
                off += TTRPC_HEADER_SIZE + len;
        }

        /* A frame of another type on the stream: a protocol error, not a crash. */
        struct ttrpc_header bad = {.length = 1, .stream = 7, .type = 9};
        ttrpc_header_encode(&bad, buf);
        buf[TTRPC_HEADER_SIZE] = 0;
        TAP_OK(write(sv[0], buf, TTRPC_HEADER_SIZE + 1) == TTRPC_HEADER_SIZE + 1, "write a frame of type 9");
        (void) ttrpc_conn_fill(&c);
        TAP_OK(ttrpc_conn_next(&c, &h, &payload, &err) == -EPROTO && err && strstr(err->msg, "type 9"),
               "type 9 is a protocol error naming the type");
        error_free(err);

        close(sv[0]);
        ttrpc_conn_destroy(&c);
}

int main(void)
{
        test_header();
        test_stream();
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
