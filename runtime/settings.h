/*
 * The runtime's own settings: /etc/cocoon/cocoon.conf (INI; $COCOON_CONFIG
 * names another file), with defaults for everything. See docs/configuration.md.
 */
#pragma once

#include "error.h"
#include "hypervisor.h"

struct cocoon_config {
        char *hypervisor; /* "qemu" */
        const struct hypervisor_ops *hv_ops;
        struct hypervisor_settings *hv_settings; /* the backend's own keys */
        char *kernel;
        char *initrd;
        char *kernel_args; /* appended to the guest kernel command line, may be NULL */
        unsigned vcpus;
        unsigned memory_mib;
        enum vm_accel accel;
        unsigned boot_timeout_s; /* 0: the default for the accelerator in use */
        unsigned vmm_overhead_mib; /* the host cgroup's memory limit is the guest's plus this */
        unsigned vmm_pids_max;     /* the host cgroup's pids.max */
        struct share_policy share; /* [share] */
};

int config_load(struct cocoon_config *cfg, cocoon_error **err);
void config_free(struct cocoon_config *cfg);
