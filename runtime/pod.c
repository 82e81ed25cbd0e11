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

/* The Kubernetes setting that leaves a pod's containers without a namespace of that type. */
static const struct {
        const char *type, *setting;
} pod_host_namespaces[] = {
        {"network", "hostNetwork"},
        {"uts", "hostNetwork"},
        {"pid", "hostPID"},
        {"ipc", "hostIPC"},
};

/*
 * A host namespace cannot be given to a container in a VM: the VM is the
 * boundary, and quietly giving a guest namespace instead would run a pod
 * that asked for the host's network, processes or IPC without them. So
 * every namespace path that is the host's own (ours), unless it stands for
 * the pod sandbox's (containerd names those by the sandbox's stub, a host
 * process), is refused, whatever its type; and a CRI pod's container
 * (sandbox or member) without a network, uts, pid or ipc namespace is how
 * hostNetwork, hostPID and hostIPC reach a runtime, refused too. A lone
 * container without one shares the guest's, as the spec's "the runtime's
 * namespace" reads in a VM (docs/runtime-spec.md).
 */
static int refuse_host_namespace(const struct oci_spec *spec, size_t i, cocoon_error **err)
{
        const struct spec_namespace *ns = &spec->namespaces[i];
        const char *file = namespace_proc_name(ns->type);
        char host[64];
        snprintf(host, sizeof(host), "/proc/self/ns/%s", file ? file : "");
        if (file && same_file(ns->path, host))
                return error_set(err, EINVAL,
                                 "linux.namespaces[%zu]: %s is the host's own %s namespace; a VM cannot share it "
                                 "(leave the path out, or name another namespace)",
                                 i, ns->path, ns->type);
        return 0;
}

static int refuse_host_namespaces(const struct oci_spec *spec, cocoon_error **err)
{
        bool pod = false;
        for (size_t i = 0; i < ARRAY_SIZE(pod_annotations); i++)
                pod = pod || annotation(spec, pod_annotations[i].type_key);
        for (size_t i = 0; pod && i < ARRAY_SIZE(pod_host_namespaces); i++)
                if (!spec_namespace(spec, pod_host_namespaces[i].type))
                        return error_set(err, EOPNOTSUPP,
                                         "linux.namespaces: this pod's container has no %s namespace of its own: it "
                                         "asks for the host's (%s), which cocoon cannot give to a container in a VM "
                                         "(run such pods with runc)",
                                         pod_host_namespaces[i].type, pod_host_namespaces[i].setting);
        return 0;
}

int pod_namespace_sources(const struct oci_spec *spec, const struct pod_sandbox *sb, struct namespace_sources *ret,
                          cocoon_error **err)
{
        *ret = (struct namespace_sources) {0};
        int r = refuse_host_namespaces(spec, err);
        if (r < 0)
                return r;
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
                } else if ((r = refuse_host_namespace(spec, i, err)) < 0) {
                        namespace_sources_free(ret);
                        return r;
                } else if (strcmp(ns->type, "network") == 0) {
                        /* Another network namespace: its interfaces become the VM's NICs. */
                        src->kind = COCOON__NAMESPACE_SOURCE__KIND__GUEST;
                } else {
                        /* Pinned or another process's, not the host's own: private to the container in the VM. */
                        log_debug("linux.namespaces[%zu]: %s %s is outside the VM: the container gets a new one",
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
