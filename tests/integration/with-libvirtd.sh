#!/usr/bin/env bash
# with-libvirtd.sh CMD...: runs CMD (a TAP test) with libvirt's system daemon
# reachable at qemu:///system, the URI cocoon's libvirt backend uses by
# default. A daemon already running is used as it is; otherwise this starts
# virtlogd and libvirtd from Debian's packages (there is no systemd here to
# socket-activate them) and stops them again afterwards. A daemon that cannot
# be started fails the test with the reason: the backend is built, so it must
# be tested.
set -u
URI=qemu:///system
images=
say() { echo "with-libvirtd: $*" >&2; }
bail() { echo "Bail out! $*"; cleanup_images; exit 1; }
up() { virsh -c "$URI" version > /dev/null 2>&1; }

started=()
stop_started() {
    local pidfile pid
    for pidfile in "${started[@]}"; do
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
}

# libvirt's QEMU opens the guest kernel and initrd as its own user: a build
# tree it cannot read (a clone under /root, say) gets copies in a directory
# it can, with a cocoon.conf naming them.
cleanup_images() { [ -z "$images" ] || rm -rf "$images"; }
qemu_reads() { setpriv --reuid="$(id -u libvirt-qemu)" --regid="$(id -g libvirt-qemu)" --clear-groups test -r "$1"; }
if [ -n "${COCOON_CONFIG:-}" ]; then
    kernel=$(sed -n 's/^kernel *= *//p' "$COCOON_CONFIG")
    initrd=$(sed -n 's/^initrd *= *//p' "$COCOON_CONFIG")
    if ! qemu_reads "$kernel" || ! qemu_reads "$initrd"; then
        images=$(mktemp -d /var/tmp/cocoon-libvirt-images.XXXXXX)
        chmod 0755 "$images"
        cp "$kernel" "$images/vmlinux" && cp "$initrd" "$images/initrd.img" && chmod 0644 "$images"/* ||
            { cleanup_images; bail "copying the guest images to $images failed"; }
        sed -e "s|^kernel *=.*|kernel = $images/vmlinux|" -e "s|^initrd *=.*|initrd = $images/initrd.img|" \
            "$COCOON_CONFIG" > "$images/cocoon.conf"
        export COCOON_CONFIG=$images/cocoon.conf
        say "libvirt's QEMU user cannot read $kernel or $initrd: using copies in $images"
    fi
fi

if ! up; then
    command -v virsh > /dev/null || bail "virsh not found (apt-get install libvirt-clients)"
    command -v libvirtd > /dev/null || bail "libvirtd not found (apt-get install libvirt-daemon-system)"
    log=$(mktemp /tmp/with-libvirtd.XXXXXX)
    if ! pgrep -x virtlogd > /dev/null; then
        virtlogd -d -p /run/virtlogd.pid 2>> "$log" || bail "virtlogd did not start: $(cat "$log")"
        started+=(/run/virtlogd.pid)
    fi
    libvirtd -d -p /run/libvirtd.pid 2>> "$log" || { stop_started; bail "libvirtd did not start: $(cat "$log")"; }
    started+=(/run/libvirtd.pid)
    for _ in $(seq 300); do up && break; sleep 0.1; done
    if ! up; then
        err=$(virsh -c "$URI" version 2>&1)
        stop_started
        bail "libvirtd was started but $URI does not answer: $err $(cat "$log")"
    fi
    rm -f "$log"
    say "started libvirtd for this test"
fi
"$@"
status=$?
stop_started
cleanup_images
exit $status
