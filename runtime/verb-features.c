/*
 * cocoon features: the runtime-spec "features" document, saying what cocoon
 * really applies; and the verbs a VM runtime cannot offer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "cleanup.h"
#include "hypervisor.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "mount.h"
#include "runtime.h"
#include "syscall-filter.h"

static void cap_free_namep(char **p)
{
        if (*p)
                cap_free(*p);
}

static int features_main(struct runtime *rt, int argc, char **argv)
{
        (void) rt;
        if (argc > 1) {
                printf("usage: %s\n", verb_features.usage);
                return argv[1][0] == '-' && argv[1][1] == 'h' ? 0 : 2;
        }
        static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts", NULL};
        struct syscall_filter_names seccomp;
        syscall_filter_known(&seccomp);
        struct json_writer w;
        if (json_writer_init(&w, true) < 0)
                return verb_fail(&verb_features, -ENOMEM, NULL);
        json_open_map(&w, NULL);
        json_key_str(&w, "ociVersionMin", "1.0.0");
        json_key_str(&w, "ociVersionMax", COCOON_OCI_VERSION);
        json_key_strv(&w, "hooks", (char **) spec_hook_kind_names);
        json_key_strv(&w, "mountOptions", (char **) mount_option_names());
        json_open_map(&w, "linux");
        json_key_strv(&w, "namespaces", (char **) namespaces);
        /* The capabilities this libcap knows; the guest kernel (6.1) has them all. */
        json_open_array(&w, "capabilities");
        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
                _cleanup_(cap_free_namep) char *name = cap_to_name(c);
                for (char *p = name; p && *p; p++)
                        *p = toupper((unsigned char) *p);
                if (name && strncmp(name, "CAP_", 4) == 0)
                        json_str(&w, name);
        }
        json_close_array(&w);
        json_open_map(&w, "cgroup");
        json_key_bool(&w, "v1", false);
        json_key_bool(&w, "v2", true); /* in the guest, whatever the host has */
        json_key_bool(&w, "systemd", false);
        json_key_bool(&w, "systemdUser", false);
        json_close_map(&w);
        json_open_map(&w, "seccomp");
        json_key_bool(&w, "enabled", true);
        json_key_strv(&w, "actions", (char **) seccomp.actions);
        json_key_strv(&w, "operators", (char **) seccomp.operators);
        json_key_strv(&w, "archs", (char **) seccomp.archs);
        json_key_strv(&w, "knownFlags", (char **) seccomp.known_flags);
        json_key_strv(&w, "supportedFlags", (char **) seccomp.supported_flags);
        json_close_map(&w);
        json_open_map(&w, "apparmor");
        json_key_bool(&w, "enabled", false);
        json_close_map(&w);
        json_open_map(&w, "selinux");
        json_key_bool(&w, "enabled", false);
        json_close_map(&w);
        json_open_map(&w, "intelRdt");
        json_key_bool(&w, "enabled", false);
        json_close_map(&w);
        json_close_map(&w);
        json_open_map(&w, "annotations");
        json_key_str(&w, "io.github.cocoon.version", COCOON_VERSION);
        json_key_str(&w, "io.github.cocoon.isolation", "vm");
        /* The hypervisor backends this build has, space-separated: [hypervisor] backend in cocoon.conf picks one. */
        json_key_str(&w, "io.github.cocoon.backends", hypervisor_backend_names());
        json_close_map(&w);
        json_close_map(&w);
        _cleanup_free_ char *text = NULL;
        if (json_writer_finish(&w, &text, NULL) < 0)
                return verb_fail(&verb_features, -ENOMEM, NULL);
        printf("%s\n", text);
        return 0;
}

/* checkpoint and restore: their usage on -h, as every verb has; otherwise a clear refusal. */
static int unsupported(const struct verb *v, int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: %s\n", v->usage);
                        return 0;
                }
        log_error("%s: not supported: the container's processes live in a virtual machine, which cocoon "
                  "cannot checkpoint or restore",
                  v->name);
        return 1;
}

static int checkpoint_main(struct runtime *rt, int argc, char **argv)
{
        (void) rt;
        return unsupported(&verb_checkpoint, argc, argv);
}

static int restore_main(struct runtime *rt, int argc, char **argv)
{
        (void) rt;
        return unsupported(&verb_restore, argc, argv);
}

const struct verb verb_features = {
        .name = "features",
        .run = features_main,
        .usage = "cocoon features\n  Prints the runtime-spec features document: what cocoon applies.",
};

const struct verb verb_checkpoint = {
        .name = "checkpoint",
        .run = checkpoint_main,
        .usage = "cocoon checkpoint ID\n  Not supported (the container runs in a VM).",
};

const struct verb verb_restore = {
        .name = "restore",
        .run = restore_main,
        .usage = "cocoon restore ID\n  Not supported (the container runs in a VM).",
};
