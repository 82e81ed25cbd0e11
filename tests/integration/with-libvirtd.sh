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
say() { echo "with-libvirtd: $*" >&2; }
bail() { echo "Bail out! $*"; exit 1; }
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

if ! up; then
    command -v virsh > /dev/null || bail "virsh not found (apt-get install libvirt-clients)"
    command -v libvirtd > /dev/null || bail "libvirtd not found (apt-get install libvirt-daemon-system)"
    log=$(mktemp /tmp/with-libvirtd.XXXXXX)
    if ! [ -S /run/libvirt/virtlogd-sock ]; then
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
exit $status
