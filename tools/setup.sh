#!/usr/bin/env bash
# Installs what cocoon needs on Debian 12 (as root), then configures and builds
# it, guest image included, into ./build. Safe to run again: it only does what
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    # build
    gcc meson ninja-build pkg-config git
    protobuf-c-compiler libprotobuf-c-dev libseccomp-dev libyajl-dev libcap-dev libinih-dev
    # guest image and test bundles; cocoon's guest kernel is compiled from
    # Debian's linux-source package (guest-image/build-kernel.sh)
    kmod cpio busybox-static binutils
    make bc bison flex libelf-dev libssl-dev xz-utils patch
    # the VM
    qemu-system-x86 qemu-system-common
    # the optional libvirt backend (docs/libvirt.md): built when libvirt-dev is
    # there; its tests start the daemon from libvirt-daemon-system
    libvirt-dev libvirt-daemon-system
    # tests (libFuzzer comes with clang's runtime) and benchmark
    python3 runc clang libclang-rt-14-dev bsdutils iproute2
    # tests/clients: the engines that drive cocoon (script(1) from bsdutils gives them a terminal);
    # netavark by name, since without recommends podman would get the CNI plugins instead
    podman containerd python3-yaml netavark aardvark-dns iptables
    # the pause process of podman's pods
    catatonit
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -f build/build.ninja ]]; then
    meson setup build
fi
ninja -C build
