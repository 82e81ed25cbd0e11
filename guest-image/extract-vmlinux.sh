#!/bin/bash
# extract-vmlinux.sh VMLINUZ OUTPUT
#
# Writes the uncompressed ELF kernel inside a bzImage, after checking that it
# has a PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY), so QEMU can start it
# directly in 32-bit protected mode with -kernel. Under TCG this skips the
# real-mode setup, the BIOS EDD probe and the in-guest decompression, which
# are ~0.4 s of emulated work for Debian's cloud kernel (measured: floor boot
# 2.2 s with vmlinuz, 1.6 s with this vmlinux). It costs ~40 MB of disk, and
# the guest kernel runs without KASLR (only the decompressor randomises).
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || { echo "usage: $prog VMLINUZ OUTPUT" >&2; exit 2; }
in=$1 out=$2
[[ -f $in ]] || die "kernel image '$in' does not exist"
command -v readelf >/dev/null || die "readelf not found (apt-get install binutils)"

tmp=
cleanup() { [[ -z $tmp ]] || rm -f -- "$tmp"; }
trap cleanup EXIT
tmp=$(mktemp "$(dirname -- "$out")/.vmlinux.XXXXXX")

is_elf() { [[ $(head -c4 -- "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# Same approach as the kernel's scripts/extract-vmlinux: find each known
# compressor's magic in the bzImage and keep the first offset whose stream
# decompresses to an ELF file. Trailing bytes after the stream make some
# decompressors exit non-zero, so only the result is checked.
try() {
    local magic=$1 pos
    shift
    command -v "$1" >/dev/null || return 1
    for pos in $(LC_ALL=C grep -abo -F -- "$magic" "$in" 2>/dev/null | cut -d: -f1 | head -n 8); do
        tail -c +$((pos + 1)) -- "$in" | "$@" >"$tmp" 2>/dev/null || true
        if [[ -s $tmp ]] && is_elf "$tmp"; then
            return 0
        fi
    done
    return 1
}

if is_elf "$in"; then
    cp -- "$in" "$tmp"
elif try $'\x02\x21\x4c\x18' lz4 -dc ||
     try $'\x28\xb5\x2f\xfd' zstd -dcq ||
     try $'\xfd7zXZ' xz -dc ||
     try $'\x1f\x8b\x08' gzip -dc ||
     try 'BZh' bzip2 -dc ||
     try $'\x89\x4c\x5a' lzop -dc; then
    :
else
    die "no compressed ELF kernel found in '$in' (or its decompressor is not installed)"
fi

# Note type 18 is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry QEMU looks for.
readelf -n -- "$tmp" 2>/dev/null | grep -Eq '^ *Xen +0x[0-9a-f]+[[:space:]].*\(0x0*12\)' ||
    die "kernel in '$in' has no PVH entry note (needs CONFIG_PVH=y); boot the bzImage instead"

chmod 0644 "$tmp"
mv -f -- "$tmp" "$out"
tmp=
