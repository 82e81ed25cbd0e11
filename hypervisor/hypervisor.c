/* The backends' table, and the VM's calls dispatched through it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"

static const struct hypervisor_ops *const backends[] = {
        &qemu_ops,
#ifdef HAVE_LIBVIRT
        &libvirt_ops,
#endif
};

const struct hypervisor_ops *hypervisor_find(const char *name)
{
        if (!name)
                return backends[0];
        for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
                if (strcmp(name, backends[i]->name) == 0)
                        return backends[i];
        return NULL;
}

const char *hypervisor_backend_names(void)
{
#ifdef HAVE_LIBVIRT
        return "qemu libvirt";
#else
        return "qemu";
#endif
}

bool hypervisor_known_backend(const char *name)
{
        return strcmp(name, "qemu") == 0 || strcmp(name, "libvirt") == 0;
}

int vm_take_agent_fd(struct vm *vm)
{
        return vm->ops->take_agent_fd(vm);
}

int vm_wait_fd(struct vm *vm)
{
        return vm->ops->wait_fd(vm);
}

bool vm_accelerated(struct vm *vm)
{
        return vm->ops->accelerated(vm);
}

int vm_stop(struct vm *vm, cocoon_error **err)
{
        return vm->ops->stop(vm, err);
}

int vm_status(struct vm *vm, char **ret_status)
{
        return vm->ops->status(vm, ret_status);
}

void vm_report(struct vm *vm, struct vm_report *ret)
{
        *ret = (struct vm_report) {.vmm_exit = -1};
        vm->ops->report(vm, ret);
}

void vm_report_done(struct vm_report *r)
{
        free(r->vmm_tail);
        free(r->console_tail);
        free(r->panic);
        *r = (struct vm_report) {.vmm_exit = -1};
}

void vm_free(struct vm *vm)
{
        if (vm)
                vm->ops->free(vm);
}
