/*
 * How big the VM is: the configured base (vcpus, memory_mib in cocoon.conf)
 * for the guest kernel and the agent, plus what the container's
 * linux.resources allow it to use, so that a limit is what binds the
 * container rather than the size of its VM. docs/configuration.md states
 * the rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* The settings' own bounds for vcpus and memory_mib. */
#define MAX_VCPUS 256u
#define MAX_MEMORY_MIB (1u << 20)

/*
 * The CPUs a cpuset list needs in the guest: one more than its highest
 * number, because the guest numbers its vCPUs from 0 and "2-3" needs CPUs 2
 * and 3 to exist. 0 for an empty or unreadable list.
 */
static unsigned cpuset_span(const char *list)
{
        unsigned long highest = 0;
        bool any = false;
        for (const char *p = list; p && *p;) {
                if (*p < '0' || *p > '9') {
                        p++;
                        continue;
                }
                char *end;
                unsigned long n = strtoul(p, &end, 10);
                if (n >= MAX_VCPUS)
                        return MAX_VCPUS;
                if (!any || n > highest)
                        highest = n;
                any = true;
                p = end;
        }
        return any ? (unsigned) highest + 1 : 0;
}

/* Whole CPUs the CFS quota allows, rounded up; the kernel's default period when none is given. */
static unsigned quota_cpus(const struct resources *r)
{
        if (!r->cpu.has_quota || r->cpu.quota <= 0)
                return 0;
        uint64_t period = r->cpu.has_period && r->cpu.period ? r->cpu.period : 100000;
        uint64_t cpus = ((uint64_t) r->cpu.quota + period - 1) / period;
        return cpus > MAX_VCPUS ? MAX_VCPUS : (unsigned) cpus;
}

void sandbox_vm_size(unsigned base_vcpus, unsigned base_memory_mib, const struct resources *r, unsigned *ret_vcpus,
                     unsigned *ret_memory_mib)
{
        uint64_t vcpus = base_vcpus, mib = base_memory_mib;
        if (r) {
                unsigned q = quota_cpus(r), s = cpuset_span(r->cpu.cpus);
                vcpus += q > s ? q : s;
                if (r->memory.has_limit && r->memory.limit > 0)
                        mib += ((uint64_t) r->memory.limit + (1u << 20) - 1) >> 20;
        }
        *ret_vcpus = vcpus > MAX_VCPUS ? MAX_VCPUS : (unsigned) vcpus;
        *ret_memory_mib = mib > MAX_MEMORY_MIB ? MAX_MEMORY_MIB : (unsigned) mib;
}
