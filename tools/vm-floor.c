/*
 * The benchmark's floor: boots a kernel and initrd with exactly the QEMU
 * command line cocoon uses (the same hypervisor code), and returns when QEMU
 * exits. With an initrd whose init powers off at once, its wall time is what
 * any VM-per-container runtime pays here before the first instruction of its
 * agent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "cleanup.h"
#include "hypervisor.h"

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: %s KERNEL INITRD WORKDIR\n", argv[0]);
                return 2;
        }
        /* vm_stop's QMP "quit" may find QEMU already gone. */
        signal(SIGPIPE, SIG_IGN);
        if (chdir(argv[3]) < 0) {
                fprintf(stderr, "vm-floor: %s: %s\n", argv[3], strerror(errno));
                return 1;
        }
        struct vm_config cfg = {
                .kernel = argv[1],
                .initrd = argv[2],
                .vcpus = 1,
                .memory_mib = 512,
                .accel = VM_ACCEL_AUTO,
                .run_dir = ".",
                .shared_dir = argv[3],
                .no_agent = true,
        };
        (void) signal(SIGPIPE, SIG_IGN);
        struct vm *vm = NULL;
        _cleanup_error_ cocoon_error *err = NULL;
        const struct hypervisor_ops *ops = hypervisor_find(NULL);
        int r = ops->check_host(&cfg, &err);
        if (r == 0)
                r = ops->start(&cfg, &vm, &err);
        if (r < 0) {
                fprintf(stderr, "vm-floor: %s\n", err ? err->msg : strerror(-r));
                return 1;
        }
        struct pollfd end = {.fd = vm_wait_fd(vm), .events = POLLIN};
        while (poll(&end, 1, -1) < 0 && errno == EINTR)
                ;
        (void) vm_stop(vm, NULL);
        vm_free(vm);
        return 0;
}
