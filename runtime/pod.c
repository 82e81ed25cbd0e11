/*
 * Pods: one VM for the containers of a Kubernetes pod. The CRI
 * implementations mark every container they create: the sandbox (pause)
 * container starts the VM, the others name it and join its VM.
 *
 * And namespaces: a spec may name a namespace by a host path (a pinned
 * namespace, /proc/PID/ns/TYPE of the sandbox's process), which means nothing
 * inside a guest. Each such path is mapped to where that namespace is in the
 * VM: the sandbox container's, the guest's own network namespace (where the
 * VM's NICs are), or a fresh one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "container.h"
#include "log.h"
#include "runtime.h"

/* The annotation naming the container's role, and the one naming its sandbox. */
static const struct {
        const char *type_key, *sandbox_key;
} pod_annotations[] = {
        {"io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},   /* containerd */
        {"io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"}, /* CRI-O */
};

static const char *annotation(const struct oci_spec *spec, const char *key)
{
        for (size_t i = 0; i < spec->n_annotations; i++)
                if (strcmp(spec->annotations[i].key, key) == 0)
                        return spec->annotations[i].value;
        return NULL;
}

int pod_sandbox_of(const struct oci_spec *spec, const char *id, const char **ret, cocoon_error **err)
{
        *ret = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(pod_annotations); i++) {
                const char *type = annotation(spec, pod_annotations[i].type_key);
                if (!type)
                        continue;
                if (strcmp(type, "sandbox") == 0)
                        return 0;
                if (strcmp(type, "container") != 0)
                        return error_set(err, EINVAL, "annotations: %s: unknown container type \"%s\"",
                                         pod_annotations[i].type_key, type);
                const char *sandbox = annotation(spec, pod_annotations[i].sandbox_key);
                if (!sandbox || !*sandbox)
                        return error_set(err, EINVAL, "annotations: %s is \"container\" but %s is missing",
                                         pod_annotations[i].type_key, pod_annotations[i].sandbox_key);
                if (strcmp(sandbox, id) != 0)
                        *ret = sandbox;
                return 0;
        }
        return 0;
}

static bool same_file(const char *a, const char *b)
{
        struct stat sa, sb;
        return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* True for /proc/PID/ns/FILE, FILE being the namespace's name under /proc. */
static bool is_proc_ns_of(const char *path, pid_t pid, const char *type)
{
        char expected[64];
        const char *file = namespace_proc_name(type);
        snprintf(expected, sizeof(expected), "/proc/%d/ns/%s", (int) pid, file ? file : "");
        return pid > 0 && file && strcmp(path, expected) == 0;
}

/* The sandbox's namespace of that type, as its own spec names it: from the sandbox, or pinned like it. */
static bool from_sandbox(const struct spec_namespace *ns, const struct pod_sandbox *sb)
{
        const struct spec_namespace *theirs = spec_namespace(sb->spec, ns->type);
        return is_proc_ns_of(ns->path, sb->stub_pid, ns->type) || (theirs && same_file(theirs->path, ns->path));
}

int pod_namespace_sources(const struct oci_spec *spec, const struct pod_sandbox *sb, struct namespace_sources *ret,
                          cocoon_error **err)
{
        *ret = (struct namespace_sources) {0};
        ret->items = calloc(spec->n_namespaces + 1, sizeof(*ret->items));
        ret->ptrs = calloc(spec->n_namespaces + 1, sizeof(*ret->ptrs));
        if (!ret->items || !ret->ptrs) {
                namespace_sources_free(ret);
                return -ENOMEM;
        }
        for (size_t i = 0; i < spec->n_namespaces; i++) {
                const struct spec_namespace *ns = &spec->namespaces[i];
                if (!ns->path)
                        continue;
                Cocoon__NamespaceSource *src = &ret->items[ret->n];
                cocoon__namespace_source__init(src);
                src->index = (uint32_t) i;
                src->container_id = (char *) "";
                if (sb && from_sandbox(ns, sb)) {
                        src->kind = COCOON__NAMESPACE_SOURCE__KIND__CONTAINER;
                        src->container_id = (char *) sb->id;
                } else if (strcmp(ns->type, "network") == 0) {
                        /* Its interfaces would be plugged into the VM: never the host's own. */
                        if (same_file(ns->path, "/proc/self/ns/net")) {
                                namespace_sources_free(ret);
                                return error_set(err, EINVAL,
                                                 "linux.namespaces[%zu]: %s is the host's own network namespace; "
                                                 "a VM cannot share it (leave the network namespace out, or give it a new one)",
                                                 i, ns->path);
                        }
                        src->kind = COCOON__NAMESPACE_SOURCE__KIND__GUEST;
                } else {
                        /* A host namespace cannot be entered from inside a VM; the VM is the boundary. */
                        log_debug("linux.namespaces[%zu]: %s %s is a host namespace: the container gets a new one",
                                  i, ns->type, ns->path);
                        src->kind = COCOON__NAMESPACE_SOURCE__KIND__FRESH;
                }
                ret->ptrs[ret->n++] = src;
        }
        return 0;
}

void namespace_sources_free(struct namespace_sources *s)
{
        free(s->items);
        free(s->ptrs);
        *s = (struct namespace_sources) {0};
}

/* A whole number in an annotation: what the kubelet's sums are. */
static int annotation_int(const struct oci_spec *spec, const char *key, int64_t *ret, bool *found, cocoon_error **err)
{
        const char *text = annotation(spec, key);
        *found = text != NULL;
        if (!text)
                return 0;
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end || v < 0)
                return error_set(err, EINVAL, "annotations: %s: \"%s\" is not a non-negative integer", key, text);
        *ret = v;
        return 0;
}

int pod_vm_resources(const struct oci_spec *spec, struct resources *pod, bool *found, cocoon_error **err)
{
        *pod = (struct resources) {0};
        bool q = false, p = false;
        int64_t period = 0;
        int r = annotation_int(spec, "io.kubernetes.cri.sandbox-memory", &pod->memory.limit, &pod->memory.has_limit, err);
        if (r == 0)
                r = annotation_int(spec, "io.kubernetes.cri.sandbox-cpu-quota", &pod->cpu.quota, &q, err);
        if (r == 0)
                r = annotation_int(spec, "io.kubernetes.cri.sandbox-cpu-period", &period, &p, err);
        pod->cpu.has_quota = q;
        pod->cpu.has_period = p;
        pod->cpu.period = (uint64_t) period;
        *found = pod->memory.has_limit || q;
        return r;
}
