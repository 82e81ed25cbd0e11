#!/bin/bash
# mkinitrd.sh --init FILE --output FILE [--kernel-tree DIR] [options]
#
# Packs the guest initramfs: FILE as /init and, for a kernel with loadable
# modules (--kernel-tree), the modules the agent needs (with everything they
# depend on) under /lib/modules/<kver>/. Nothing else: the agent makes the
# directories it mounts on, and the kernel's built-in initramfs provides
# /dev/console for init's stdio.
#
# Booting it. Fastest QEMU 7.2 command line under TCG (no KVM) found for
# Debian's cloud kernel 6.1 on microvm, measured on a 2-core host:
#
#   qemu-system-x86_64 \
#     -M microvm,memory-backend=mem -smp 1 \
#     -object memory-backend-memfd,id=mem,size=256M,share=on \
#     -nodefaults -no-user-config -no-reboot -display none \
#     -global virtio-mmio.force-legacy=false \
#     -chardev file,id=console,path=console.log -serial chardev:console \
#     -kernel vmlinux -initrd initrd.img \
#     -append "console=ttyS0 panic=-1 cryptomgr.notests tsc_early_khz=<host TSC kHz>"
#
# Floor boot (an /init that powers off at once, tools/floor-init.c), wall
# time from exec to QEMU exit, median of 9 interleaved runs:
#   vmlinuz (bzImage), no extra options      2244 ms, and 1 of 9 hung
#   vmlinuz + tsc_early_khz                  2232 ms
#   vmlinuz + tsc_early_khz + notests        1966 ms
#   vmlinux (PVH) + tsc_early_khz            1883 ms
#   vmlinux (PVH) + tsc_early_khz + notests  1575 ms   <- the line above
# Why each part:
# - tsc_early_khz: required, not a tuning. microvm's ACPI is hardware-reduced,
#   so the kernel sets up no PIT tick and no legacy PIC; it can learn the TSC
#   rate only from a quick PIT calibration in early boot, which emulation
#   jitter breaks in 20-40% of TCG boots. Without the rate it spins forever in
#   calibrate_delay() (seen: 11 hangs in 30 boots). Under TCG the guest TSC is
#   the host's, so pass the host TSC rate (tools/tsc-khz.c measures it). Not
#   needed with KVM (kvm-clock).
# - vmlinux: the PVH ELF inside vmlinuz (extract-vmlinux.sh) skips real-mode
#   setup and in-guest decompression, ~0.35 s of emulated work; the bzImage
#   works too. The guest kernel then runs without KASLR.
# - cryptomgr.notests: the crypto self-tests take ~0.3 s under TCG.
# - -M microvm WITHOUT acpi=off: this kernel has CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES
#   unset, so it finds virtio-mmio devices only through ACPI (the default).
#   With acpi=off QEMU appends virtio_mmio.device=... which this kernel
#   ignores: no virtio devices at all, and power-off only halts the CPU.
# - memory-backend-memfd,share=on is what vhost-user-fs (virtiofsd) needs; -m
#   is taken from the backend. 128M, 256M and 512M boot equally fast.
# - -smp 2 costs ~0.6 s more under TCG (secondary CPU bring-up).
# - No measurable effect: quiet, mitigations=off, rcupdate.rcu_expedited=1,
#   -cpu max, pit=off/pic=off; a static glibc /init vs a 9 KB one.
# Power-off: reboot(RB_POWER_OFF) goes through ACPI S5 and QEMU exits.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found (apt-get install $2)"; }

# What the agent needs from the kernel: the virtio-mmio transport (QEMU's
# microvm) and virtio-pci (the pc machine of the libvirt backend), the
# virtio-serial fallback transport, vsock, virtio-fs for the shared rootfs
# directory, overlay for container rootfs layering, virtio_net for the NICs
# that stand in for a container's interfaces, virtio_balloon to report freed
# pages to the host. Dependencies are added
# from modules.dep; names that are built into the kernel are skipped.
default_modules="virtio_ring virtio virtio_mmio virtio_pci virtio_console fuse virtiofs
vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport overlay
failover net_failover virtio_net virtio_balloon"

# Uncompressed by default: measured with the Debian cloud kernel under TCG,
# a 2.1 MB image (static test /init + these modules) unpacks in ~36 ms,
# gzip -9 (0.7 MB) in ~68 ms, and /init starts ~25 ms sooner. The kernel's
# inflate is emulated code while QEMU copies the larger file into guest RAM at
# host speed. gzip is there for when image size matters more than that.
compress=none

usage() {
    cat >&2 <<EOF
usage: $prog --init FILE --output FILE [--kernel-tree DIR] [--kernel-release VER]
              [--modules "NAME..."] [--compress none|gzip]
  --init FILE            static executable that becomes /init
  --output FILE          initramfs to write (cpio newc)
  --kernel-tree DIR      unpacked kernel package with lib/modules/<kver>/modules.dep
                         (as made by fetch-kernel.sh); without it no modules are added
  --kernel-release VER   kernel version under DIR/lib/modules (default: the only one)
  --modules "NAME..."    modules to include (default: ${default_modules//$'\n'/ })
  --compress none|gzip   default $compress
Environment: SOURCE_DATE_EPOCH sets the mtime of every entry (default 0).
EOF
    exit 2
}

init='' output='' tree='' kver='' modules=$default_modules
while (( $# )); do
    case $1 in
        --init) init=${2-}; shift 2 || usage ;;
        --output) output=${2-}; shift 2 || usage ;;
        --kernel-tree) tree=${2-}; shift 2 || usage ;;
        --kernel-release) kver=${2-}; shift 2 || usage ;;
        --modules) modules=${2-}; shift 2 || usage ;;
        --compress) compress=${2-}; shift 2 || usage ;;
        -h|--help) usage ;;
        *) echo "$prog: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n $init && -n $output ]] || usage
[[ -f $init && -x $init ]] || die "init program '$init' is not an executable file"
case $compress in none|gzip) ;; *) die "--compress must be none or gzip, not '$compress'" ;; esac
need cpio cpio
epoch=${SOURCE_DATE_EPOCH:-0}
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds, not '$epoch'"

tmp=
cleanup() { [[ -z $tmp ]] || rm -rf -- "$tmp"; }
trap cleanup EXIT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cocoon-initrd.XXXXXX")
stage=$tmp/root
mkdir -m 0755 "$stage"
# umask must not leak into the image; every mode below is explicit.
umask 022

install -m 0755 -- "$init" "$stage/init"

if [[ -n $tree ]]; then
    command -v depmod >/dev/null && command -v modprobe >/dev/null ||
        die "depmod/modprobe not found (apt-get install kmod)"
    [[ -d $tree/lib/modules ]] || die "kernel tree '$tree' has no lib/modules directory"
    tree=$(cd -- "$tree" && pwd)
    if [[ -z $kver ]]; then
        mapfile -t kvers < <(ls -- "$tree/lib/modules")
        (( ${#kvers[@]} == 1 )) ||
            die "kernel tree '$tree' has ${#kvers[@]} versions in lib/modules; pass --kernel-release"
        kver=${kvers[0]}
    fi
    src=$tree/lib/modules/$kver
    [[ -f $src/modules.dep ]] || die "$src/modules.dep is missing (run depmod -b '$tree' $kver)"
    dst=$stage/lib/modules/$kver

    # An empty config dir keeps the host's /etc/modprobe.d (blacklists,
    # install commands) out of the resolution.
    mkdir "$tmp/modprobe.d"
    declare -A want=()
    builtin=()
    for m in $modules; do
        out=$(modprobe -C "$tmp/modprobe.d" -d "$tree" -S "$kver" --show-depends "$m" 2>&1) ||
            die "module '$m' is neither built into kernel $kver nor in its modules.dep: $out"
        while read -r kind arg _; do
            case $kind in
                insmod) want[${arg#"$src"/}]=1 ;;
                builtin) builtin+=("$arg") ;;
                *) die "unexpected modprobe --show-depends output for '$m': $kind $arg" ;;
            esac
        done <<<"$out"
    done
    for rel in "${!want[@]}"; do
        [[ $rel != /* && -f $src/$rel ]] || die "modprobe resolved '$rel' outside $src"
        mkdir -p -- "$dst/$(dirname -- "$rel")"
        # finit_module in the guest gets the file as is: no decompressor there.
        case $rel in
            *.ko) cp -- "$src/$rel" "$dst/$rel" ;;
            *.ko.xz) need xz xz-utils; xz -dc -- "$src/$rel" >"$dst/${rel%.xz}" ;;
            *.ko.zst) need zstd zstd; zstd -q -dc -- "$src/$rel" >"$dst/${rel%.zst}" ;;
            *.ko.gz) gzip -dc -- "$src/$rel" >"$dst/${rel%.gz}" ;;
            *) die "don't know how to unpack module file '$rel'" ;;
        esac
    done
    if (( ${#want[@]} )); then
        # modules.order fixes depmod's output order (readdir order otherwise);
        # modules.builtin lets a modprobe in the guest know what needs no file.
        for f in modules.builtin modules.builtin.modinfo; do
            if [[ -f $src/$f ]]; then cp -- "$src/$f" "$dst/$f"; fi
        done
        (cd "$dst" && find . -name '*.ko' -printf '%P\n' | LC_ALL=C sort) >"$tmp/have"
        # Modules the kernel's list lacks go last, sorted.
        { [[ ! -f $src/modules.order ]] || sed -E 's/\.ko\.(xz|zst|gz)$/.ko/' "$src/modules.order"
          cat "$tmp/have"; } |
            awk 'NR==FNR { have[$0]=1; next } have[$0] && !seen[$0]++' "$tmp/have" - >"$dst/modules.order"
        depmod -b "$stage" "$kver" || die "depmod failed on the staged module set"
        # The subset must keep each module's dependencies exactly as in the
        # full tree: a provider left out would silently drop from the line
        # and the module would fail to load in the guest. (Debian ships a stub
        # System.map, so depmod -e cannot check symbols against the kernel.)
        pairs='{ print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print $1, d[i] }'
        awk -F': *' "$pairs" "$dst/modules.dep" | LC_ALL=C sort >"$tmp/staged.pairs"
        sed -E 's/\.ko\.(xz|zst|gz)(:| |$)/.ko\2/g' "$src/modules.dep" | awk -F': *' "$pairs" |
            awk 'NR==FNR { have[$0] = 1; next } $1 in have' "$tmp/have" - |
            LC_ALL=C sort >"$tmp/full.pairs"
        diff "$tmp/full.pairs" "$tmp/staged.pairs" >"$tmp/diff" ||
            die "staged modules.dep differs from the kernel's (< kernel, > staged): $(cat "$tmp/diff")"
        # Reorder so that every module comes after all of its dependencies:
        # depmod writes modules.dep in modules.order's order, so loading the
        # lines top to bottom is then a valid load order too (a recursive
        # loader that follows each line's dependencies works either way).
        awk -F': *' '
            function visit(m,   n, d, i) {
                if (m in seen) return
                seen[m] = 1
                n = split(deps[m], d, " ")
                for (i = 1; i <= n; i++) visit(d[i])
                print m
            }
            { name[NR] = $1; deps[$1] = $2 }
            END { for (i = 1; i <= NR; i++) visit(name[i]) }' "$dst/modules.dep" >"$tmp/order"
        mv -- "$tmp/order" "$dst/modules.order"
        depmod -b "$stage" "$kver" || die "depmod failed on the staged module set"
        # Every dependency named in modules.dep must be in the image, on an
        # earlier line.
        awk -F': *' '
            { n = split($2, d, " ")
              for (i = 1; i <= n; i++) if (!(d[i] in keys)) { print $1 " needs " d[i]; bad = 1 }
              keys[$1] = 1 }
            END { exit bad }' "$dst/modules.dep" >"$tmp/missing" ||
            die "modules.dep does not list dependencies first: $(tr '\n' ';' <"$tmp/missing")"
        while IFS=: read -r rel _; do
            [[ -f $dst/$rel ]] || die "modules.dep names $rel, which is not in the image"
        done <"$dst/modules.dep"
        find "$dst" -type f -exec chmod 0644 {} +
        find "$stage/lib" -type d -exec chmod 0755 {} +
    fi
    if (( ${#builtin[@]} )); then
        echo "$prog: built into $kver: $(printf '%s\n' "${builtin[@]}" | sort -u | tr '\n' ' ')" >&2
    fi
fi

# Reproducible archive: fixed mtimes, owner root, sorted names, inode and
# device numbers from cpio --reproducible, no name/time in the gzip header.
find "$stage" -exec touch -h -d "@$epoch" {} +
mkdir -p -- "$(dirname -- "$output")"
(
    cd "$stage"
    find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --reproducible --quiet
) >"$tmp/initrd.cpio" || die "cpio failed"
case $compress in
    none) mv -- "$tmp/initrd.cpio" "$tmp/out" ;;
    gzip) gzip -n -9 -c "$tmp/initrd.cpio" >"$tmp/out" ;;
esac
chmod 0644 "$tmp/out"
# Same-directory rename: a reader never sees a half-written image.
cp -- "$tmp/out" "$output.tmp.$$" && mv -f -- "$output.tmp.$$" "$output" ||
    { rm -f -- "$output.tmp.$$"; die "cannot write $output"; }
