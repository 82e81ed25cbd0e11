/* runtime/sizing.c: the VM grows with the container's limits, as docs/configuration.md says. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "tap.h"

static void check(const char *json, unsigned vcpus, unsigned mib)
{
        struct resources *r = NULL;
        if (json && resources_parse(json, strlen(json), &r, NULL) < 0) {
                TAP_OK(0, "parsing %s", json);
                return;
        }
        unsigned v = 0, m = 0;
        sandbox_vm_size(1, 512, r, &v, &m);
        TAP_OK(v == vcpus && m == mib, "%s -> %u vCPUs, %u MiB (got %u, %u)", json ? json : "no resources", vcpus, mib,
               v, m);
        resources_free(r);
}

int main(void)
{
        check(NULL, 1, 512);
        check("{}", 1, 512);
        check("{\"memory\": {\"limit\": 67108864}}", 1, 576);
        check("{\"memory\": {\"limit\": 67108865}}", 1, 577);
        check("{\"memory\": {\"limit\": -1}}", 1, 512);
        check("{\"cpu\": {\"quota\": 50000, \"period\": 100000}}", 2, 512);
        check("{\"cpu\": {\"quota\": 250000, \"period\": 100000}}", 4, 512);
        check("{\"cpu\": {\"quota\": 150000}}", 3, 512);
        check("{\"cpu\": {\"quota\": -1, \"period\": 100000}}", 1, 512);
        check("{\"cpu\": {\"cpus\": \"0-1\"}}", 3, 512);
        check("{\"cpu\": {\"cpus\": \"3\"}}", 5, 512);
        check("{\"cpu\": {\"cpus\": \"0,2-5\", \"quota\": 100000}}", 7, 512);
        check("{\"cpu\": {\"quota\": 9223372036854775807, \"period\": 1}}", 256, 512);
        check("{\"memory\": {\"limit\": 9223372036854775807}}", 1, 1u << 20);
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
