/* The backends' table, and the VM's calls dispatched through it. */
#include <errno.h>
#include <stdio.h>
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

int vm_base_init(struct vm *vm, const struct hypervisor_ops *ops, const struct vm_config *cfg, cocoon_error **err)
{
        *vm = (struct vm) {.ops = ops, .agent_fd = -1, .wait_fd = -1, .vmm_exit = -1};
        if (cfg->n_nics > VM_MAX_NICS)
                return error_set(err, E2BIG, "%zu network interfaces, at most %d", cfg->n_nics, VM_MAX_NICS);
        const char *no_kvm = cfg->accel == VM_ACCEL_AUTO ? kvm_unusable_why() : NULL;
        vm->kvm = cfg->accel == VM_ACCEL_KVM || (cfg->accel == VM_ACCEL_AUTO && !no_kvm);
        if (!vm->kvm && cfg->warn) {
                char msg[256];
                snprintf(msg, sizeof(msg), "KVM is not usable here (%s): the VM runs under TCG emulation, much slower",
                         no_kvm ? no_kvm : "accel = tcg");
                cfg->warn(msg);
        }
        return 0;
}

void vm_base_release(struct vm *vm)
{
        cleanup_closep(&vm->agent_fd);
        cleanup_closep(&vm->wait_fd);
        vm->agent_fd = vm->wait_fd = -1;
        console_free(vm->console);
        vm->console = NULL;
}

int vm_take_agent_fd(struct vm *vm)
{
        return vm->agent_fd >= 0 ? TAKE_FD(vm->agent_fd) : -EBADF;
}

int vm_wait_fd(struct vm *vm)
{
        return vm->wait_fd;
}

bool vm_accelerated(struct vm *vm)
{
        return vm->kvm;
}

int vm_stop(struct vm *vm, cocoon_error **err)
{
        return vm->ops->stop(vm, err);
}

int vm_status(struct vm *vm, char **ret_status)
{
        return vm->ops->status(vm, ret_status);
}

int vm_booted(struct vm *vm)
{
        return vm->ops->booted ? vm->ops->booted(vm) : 0;
}

void vm_report(struct vm *vm, struct vm_report *ret)
{
        *ret = (struct vm_report) {.vmm_exit = vm->vmm_exit};
        console_report(vm->console, ret);
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
