/*
 * libFuzzer harness: bytes on the shim's ttrpc socket. They go through the
 * frame decoder in chunks the input itself chooses; every whole frame is
 * unpacked as a ttrpc request, and its payload as the Task request its
 * method names. Nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shim.pb-c.h"
#include "ttrpc.h"

static const struct {
        const char *method;
        const ProtobufCMessageDescriptor *desc;
} methods[] = {
        {"Create", &cocoon__shim__create_task_request__descriptor},
        {"Start", &cocoon__shim__start_request__descriptor},
        {"State", &cocoon__shim__state_request__descriptor},
        {"Wait", &cocoon__shim__wait_request__descriptor},
        {"Kill", &cocoon__shim__kill_request__descriptor},
        {"Exec", &cocoon__shim__exec_process_request__descriptor},
        {"Delete", &cocoon__shim__delete_request__descriptor},
        {"Pids", &cocoon__shim__pids_request__descriptor},
        {"Update", &cocoon__shim__update_task_request__descriptor},
        {"ResizePty", &cocoon__shim__resize_pty_request__descriptor},
        {"CloseIO", &cocoon__shim__close_iorequest__descriptor},
        {"Shutdown", &cocoon__shim__shutdown_request__descriptor},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t buf[TTRPC_HEADER_SIZE + 65536 + 64];
        size_t len = 0, off = 0;
        while (off < size) {
                size_t chunk = 1 + data[off] % 64;
                if (chunk > size - off)
                        chunk = size - off;
                if (chunk > sizeof(buf) - len)
                        break;
                memcpy(buf + len, data + off, chunk);
                len += chunk;
                off += chunk;
                struct ttrpc_header h;
                cocoon_error *err = NULL;
                int r;
                while ((r = ttrpc_frame_decode(buf, len, &h, &err)) == 1) {
                        Cocoon__Shim__TtrpcRequest *req =
                                cocoon__shim__ttrpc_request__unpack(NULL, h.length, buf + TTRPC_HEADER_SIZE);
                        for (size_t i = 0; req && i < sizeof(methods) / sizeof(methods[0]); i++) {
                                if (strcmp(req->method, methods[i].method) != 0)
                                        continue;
                                ProtobufCMessage *m = protobuf_c_message_unpack(methods[i].desc, NULL,
                                                                                req->payload.len, req->payload.data);
                                if (m)
                                        protobuf_c_message_free_unpacked(m, NULL);
                        }
                        if (req)
                                cocoon__shim__ttrpc_request__free_unpacked(req, NULL);
                        size_t n = TTRPC_HEADER_SIZE + (size_t) h.length;
                        memmove(buf, buf + n, len - n);
                        len -= n;
                }
                error_free(err);
                if (r < 0)
                        return 0; /* the shim closes such a connection */
        }
        return 0;
}
