/* libFuzzer harness: config.json text, as a bundle might carry it. */
#include <stdint.h>
#include <stdlib.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct oci_spec *spec = NULL;
        cocoon_error *err = NULL;
        if (spec_parse((const char *) data, size, &spec, &err) == 0)
                spec_free(spec);
        error_free(err);
        return 0;
}
