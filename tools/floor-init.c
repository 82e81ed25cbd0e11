/*
 * floor-init: /init for the boot-time floor benchmark. It does nothing but
 * end the VM, so boot wall time minus this is what the real agent costs.
 *
 * RB_POWER_OFF, because on microvm with ACPI (the default, and the only way
 * Debian's cloud kernel finds virtio-mmio devices) the kernel powers off
 * through ACPI S5 and QEMU exits at once. Measured under TCG, it is as fast
 * as RB_AUTOBOOT with -no-reboot and, unlike a reboot, it also ends a VM
 * started without -no-reboot. Without ACPI (acpi=off) power-off only halts
 * the CPU, so fall back to a reboot, which -no-reboot turns into an exit;
 * if both fail, returning from PID 1 panics, and panic=-1 reboots.
 */
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	reboot(RB_POWER_OFF);
	reboot(RB_AUTOBOOT);
	return 1;
}
