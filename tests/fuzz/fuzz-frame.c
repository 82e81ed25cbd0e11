/*
 * libFuzzer harness: bytes as they would arrive from a hostile guest. They go
 * through the frame decoder in chunks the input itself chooses, and every
 * whole frame's payload is unpacked as the message its type says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct frame_decoder d;
        frame_decoder_init(&d);
        size_t off = 0;
        while (off < size) {
                size_t chunk = 1 + data[off] % 64; /* the first byte of each step picks the read size */
                if (chunk > size - off)
                        chunk = size - off;
                size_t avail;
                uint8_t *space = frame_decoder_space(&d, chunk, &avail);
                if (!space)
                        break;
                memcpy(space, data + off, chunk);
                frame_decoder_commit(&d, chunk);
                off += chunk;

                struct frame_header h;
                const uint8_t *payload;
                cocoon_error *err = NULL;
                int r;
                while ((r = frame_decoder_next(&d, &h, &payload, &err)) > 0) {
                        if (h.type == FRAME_REQUEST) {
                                Request *req = NULL;
                                if (msg_unpack_request(payload, h.length, &req, &err) == 0)
                                        cocoon__request__free_unpacked(req, NULL);
                        } else if (h.type == FRAME_RESPONSE) {
                                Response *resp = NULL;
                                if (msg_unpack_response(payload, h.length, &resp, &err) == 0)
                                        cocoon__response__free_unpacked(resp, NULL);
                        } else if (h.type == FRAME_EVENT) {
                                Event *ev = NULL;
                                if (msg_unpack_event(payload, h.length, &ev, &err) == 0)
                                        cocoon__event__free_unpacked(ev, NULL);
                        }
                        error_free(err);
                        err = NULL;
                }
                error_free(err);
                if (r < 0)
                        break; /* a malformed header ends the connection */
        }
        frame_decoder_free(&d);
        return 0;
}
