/*
 * The runtime's own settings: /etc/cocoon/cocoon.conf (INI; $COCOON_CONFIG
 * names another file), with defaults for everything. See docs/configuration.md.
 */
#pragma once

#include "error.h"
#include "hypervisor.h"

struct cocoon_config {
        char *hypervisor; /* "qemu" */
        char *qemu;
        char *virtiofsd;
        char *kernel;
        char *initrd;
        char *kernel_args; /* appended to the guest kernel command line, may be NULL */
        unsigned vcpus;
        unsigned memory_mib;
        enum vm_accel accel;
        unsigned boot_timeout_s;
        struct share_policy share; /* [share] */
};

int config_load(struct cocoon_config *cfg, cocoon_error **err);
void config_free(struct cocoon_config *cfg);
