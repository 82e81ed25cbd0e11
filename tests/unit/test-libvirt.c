/*
 * The libvirt backend without libvirtd: its settings and the domain it asks
 * for (direct kernel boot, shared memfd RAM, the three sockets, QEMU pinned
 * to libvirt's user without relabelling, the sandbox's tag), with text that
 * needs XML escaping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"
#include "tap.h"

static void settings(void)
{
        struct hypervisor_settings *s = NULL;
        TAP_OK(libvirt_ops.settings_new(&s) == 0, "libvirt settings: defaults");
        TAP_OK(libvirt_ops.settings_set(s, "uri", "qemu+ssh://h/system") == 0, "uri is a setting");
        TAP_OK(libvirt_ops.settings_set(s, "uri", "") == -EINVAL, "an empty uri is refused");
        TAP_OK(libvirt_ops.settings_set(s, "machine", "q35") == 0, "machine = q35 is a setting");
        TAP_OK(libvirt_ops.settings_set(s, "machine", "microvm") == -EINVAL, "machine = microvm is refused (libvirt 9.0 has none)");
        TAP_OK(libvirt_ops.settings_set(s, "log_dir", "relative") == -EINVAL, "a relative log_dir is refused");
        TAP_OK(libvirt_ops.settings_set(s, "jail", "off") == 0 && libvirt_ops.settings_set(s, "jail", "x") == -EINVAL,
               "jail is the shared setting, checked alike");
        TAP_OK(libvirt_ops.settings_set(s, "nosuch", "1") == -ENOENT, "an unknown key is not the backend's");
        libvirt_ops.settings_free(s);
}

static void domain(void)
{
        struct hypervisor_settings *s = NULL;
        if (libvirt_ops.settings_new(&s) < 0 || libvirt_ops.settings_set(s, "tcg_buffer_mib", "32") < 0) {
                TAP_OK(0, "settings for the domain");
                return;
        }
        struct vm_config cfg = {
                .settings = s,
                .kernel = "/img/a&b/vmlinux",
                .initrd = "/img/<initrd>",
                .vcpus = 2,
                .memory_mib = 640,
                .kernel_args = "x='1'",
        };
        struct libvirt_domain_plan p = {
                .name = "cocoon-0123456789abcdef",
                .run_dir = "/run/cocoon/c1",
                .sock_dir = "/run/cocoon-libvirt/cocoon-0123456789abcdef",
                .tag_value = "/run/cocoon/c1",
                .qemu_uid = 64055,
                .qemu_gid = 108,
                .tsc_khz = 1234,
        };
        _cleanup_free_ char *xml = libvirt_domain_xml(&cfg, &p);
        TAP_OK(xml != NULL, "the domain XML is made");
        if (!xml) {
                libvirt_ops.settings_free(s);
                return;
        }
        static const struct {
                const char *text, *what;
        } want[] = {
                {"<domain type='qemu'", "without KVM the domain type is qemu (TCG)"},
                {"<name>cocoon-0123456789abcdef</name>", "its name"},
                {"<description>/run/cocoon/c1</description>", "the state directory as its description"},
                {"<memory unit='MiB'>640</memory>", "the sized memory"},
                {"<vcpu>2</vcpu>", "the sized vCPUs"},
                {"<source type='memfd'/><access mode='shared'/>", "shared memfd RAM for virtio-fs"},
                {"machine='pc'", "the pc machine by default"},
                {"<kernel>/img/a&amp;b/vmlinux</kernel>", "the kernel path, escaped"},
                {"<initrd>/img/&lt;initrd&gt;</initrd>", "the initrd path, escaped"},
                {"cocoon.transport=serial tsc_early_khz=1234 x=&apos;1&apos;</cmdline>",
                 "the agent on virtio-serial, the TSC rate and the extra arguments, escaped"},
                {"<tb-cache unit='MiB'>32</tb-cache>", "the TCG buffer from tcg_buffer_mib"},
                {"<on_reboot>destroy</on_reboot>", "a guest reboot ends the domain"},
                {"<source mode='connect' path='/run/cocoon-libvirt/cocoon-0123456789abcdef/console.sock'/>",
                 "the console on a socket QEMU connects to"},
                {"/agent.sock'/><target type='virtio' name='cocoon.agent'/>", "the agent's virtio-serial channel"},
                {"<driver type='virtiofs' queue='1024'/><source socket='/run/cocoon-libvirt/cocoon-0123456789abcdef/"
                 "virtiofs.sock'/><target dir='cocoon'/>",
                 "virtio-fs from cocoon's virtiofsd"},
                {"<seclabel type='static' model='dac' relabel='no'><label>+64055:+108</label></seclabel>",
                 "QEMU pinned to libvirt's user, nothing relabelled"},
                {"<qemu:env name='COCOON_SANDBOX' value='/run/cocoon/c1'/>", "the sandbox's tag in QEMU's environment"},
                {"<controller type='usb' model='none'/>", "no USB"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                TAP_OK(strstr(xml, want[i].text), "domain XML: %s", want[i].what);
        TAP_OK(!strstr(xml, "<interface"), "domain XML: no NIC without one");

        struct vm_nic nics[2] = {{.tap_fd = -1, .tap_name = "cocoont3", .mac = {0x02, 0x42, 0x0a, 0xff, 0x00, 0x01}},
                                 {.tap_fd = -1, .tap_name = "a'b", .mac = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x02}}};
        cfg.nics = nics;
        cfg.n_nics = 2;
        _cleanup_free_ char *net = libvirt_domain_xml(&cfg, &p);
        TAP_OK(net && strstr(net, "<interface type='ethernet'><mac address='02:42:0a:ff:00:01'/><target dev='cocoont3' "
                                  "managed='no'/><model type='virtio'/><rom enabled='no'/></interface>"),
               "domain XML: a NIC on the supervisor's tap, unmanaged, with the interface's MAC, virtio, no ROM");
        TAP_OK(net && strstr(net, "<mac address='de:ad:be:ef:00:02'/><target dev='a&apos;b' managed='no'/>"),
               "domain XML: a second NIC, its tap's name escaped");
        cfg.nics = NULL;
        cfg.n_nics = 0;

        p.kvm = true;
        _cleanup_free_ char *kvm = libvirt_domain_xml(&cfg, &p);
        TAP_OK(kvm && strstr(kvm, "<domain type='kvm'") && strstr(kvm, "host-passthrough") && !strstr(kvm, "tb-cache"),
               "with KVM: type kvm, the host's CPU, no TCG buffer");
        libvirt_ops.settings_free(s);
}

int main(void)
{
        settings();
        domain();
        return tap_done();
}
