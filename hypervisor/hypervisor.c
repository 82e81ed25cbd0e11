/* The backends' table, and the VM's calls dispatched through it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

const struct hypervisor_ops *hypervisor_find(const char *name)
{
        if (!name || strcmp(name, "qemu") == 0)
                return &qemu_ops;
        return NULL;
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
