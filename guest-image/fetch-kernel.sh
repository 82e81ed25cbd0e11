#!/bin/bash
# fetch-kernel.sh OUTDIR
#
# Provides the guest kernel: Debian's cloud kernel package, fetched with apt
# (the only network this project's machines reach), kept in a cache so that
# rebuilds and fresh build dirs do not download it again, unpacked into
# OUTDIR/tree with a modules.dep, plus OUTDIR/vmlinuz and
# OUTDIR/kernel-release (the kernel version, for mkinitrd.sh).
#
# Environment:
#   COCOON_CACHE_DIR       where downloaded .debs are kept (default /var/cache/cocoon,
#                          or ~/.cache/cocoon when that is not writable)
#   COCOON_KERNEL_PACKAGE  metapackage or versioned image package to use
#                          (default linux-image-cloud-amd64)
#
# Running it again with nothing changed only refreshes OUTDIR/vmlinuz's mtime,
# which keeps ninja from considering the target stale.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

[[ $# -eq 1 && -n $1 && $1 != -* ]] || { echo "usage: $prog OUTDIR" >&2; exit 2; }

outdir=$1
meta=${COCOON_KERNEL_PACKAGE:-linux-image-cloud-amd64}

for tool in apt-cache apt-get dpkg dpkg-deb depmod flock; do
    command -v "$tool" >/dev/null || die "$tool not found (it comes with apt, dpkg, kmod and util-linux)"
done

tmpdirs=()
cleanup() { (( ${#tmpdirs[@]} == 0 )) || rm -rf -- "${tmpdirs[@]}"; }
trap cleanup EXIT

. "$(dirname -- "$0")/cache-dir.sh"
mkdir -p -- "$outdir" || die "cannot create output dir $outdir"
outdir=$(cd -- "$outdir" && pwd)

# Two builds sharing the cache (or the same build dir) must not download or
# unpack over each other.
exec 9>>"$cache/.lock"
flock 9

# Echoes "PACKAGE VERSION" of the versioned kernel image the metapackage
# currently pulls in, from the local apt lists only.
resolve() {
    local pkg ver
    if [[ $meta =~ ^linux-image-[0-9] ]]; then
        pkg=$meta
    else
        # The metapackage's only hard dependency of this shape is the image;
        # Recommends (firmware, initramfs-tools) do not matter for a guest.
        pkg=$(apt-cache depends --no-recommends --no-suggests --no-conflicts \
                  --no-breaks --no-replaces --no-enhances "$meta" 2>/dev/null |
              sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[0-9][^ <>]*\)$/\1/p' | head -n1)
    fi
    [[ -n $pkg ]] || return 1
    ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [[ -n $ver && $ver != "(none)" ]] || return 1
    echo "$pkg $ver"
}

# apt-get download names files PACKAGE_VERSION_ARCH.deb with ':' as %3a;
# kernel images are never Architecture: all, so the host's arch is theirs.
arch=$(dpkg --print-architecture)
deb_name() {
    echo "${1}_${2//:/%3a}_${arch}.deb"
}

# Downloads PACKAGE=VERSION into the cache and sets deb to its path.
download() {
    local pkg=$1 ver=$2 dl name
    dl=$(mktemp -d "$cache/.download.XXXXXX")
    tmpdirs+=("$dl")
    # apt fetches as the unprivileged _apt user when run as root; letting it
    # write here keeps the download sandboxed and apt quiet about it.
    if (( EUID == 0 )) && id _apt >/dev/null 2>&1; then
        chown _apt "$dl" 2>/dev/null || true
    fi
    (cd "$dl" && apt-get download -q "$pkg=$ver") >&2 || return 1
    name=$(cd "$dl" && ls -- *.deb 2>/dev/null | head -n1)
    [[ -n $name ]] || return 1
    dpkg-deb --info "$dl/$name" >/dev/null || die "downloaded $name is not a valid .deb"
    mv -f -- "$dl/$name" "$cache/$name"
    rm -rf -- "$dl"
    deb=$cache/$name
}

updated=0
apt_update() {
    (( updated == 0 )) || return 1
    updated=1
    note "refreshing apt lists (apt-get update)"
    apt-get update -q >&2 || { note "apt-get update failed; is Debian's archive reachable?"; return 1; }
}

deb=
if ! res=$(resolve); then
    # No lists at all (a fresh machine or container) look like this.
    apt_update || true
    res=$(resolve) || res=
fi
if [[ -n $res ]]; then
    read -r pkg ver <<<"$res"
    name=$(deb_name "$pkg" "$ver")
    if [[ -f $cache/$name ]] && dpkg-deb --info "$cache/$name" >/dev/null 2>&1; then
        deb=$cache/$name
    else
        note "downloading $pkg $ver"
        if ! download "$pkg" "$ver"; then
            # Stale lists point at a version the archive no longer has.
            apt_update || die "apt-get download $pkg=$ver failed (and apt-get update too)"
            res=$(resolve) || die "cannot resolve $meta to a kernel image package after apt-get update"
            read -r pkg ver <<<"$res"
            name=$(deb_name "$pkg" "$ver")
            if [[ -f $cache/$name ]]; then
                deb=$cache/$name
            else
                download "$pkg" "$ver" || die "apt-get download $pkg=$ver failed"
            fi
        fi
    fi
else
    # apt knows nothing (offline and no lists): fall back to a cached image of
    # the same flavour, the newest by version.
    flavour=${meta#linux-image-}
    flavour=${flavour#[0-9]*-*-}
    deb=$(ls -- "$cache"/linux-image-[0-9]*-"$flavour"_*.deb 2>/dev/null | sort -V | tail -n1) || true
    [[ -n $deb ]] || die "cannot resolve $meta to a kernel image package (apt-cache depends $meta found none) and no cached .deb in $cache"
    note "apt cannot resolve $meta; using cached ${deb##*/}"
fi

stamp=$outdir/.kernel-deb
want="${deb##*/} $(stat -c '%s %Y' -- "$deb")"
if [[ -f $stamp && $(<"$stamp") == "$want" && -f $outdir/vmlinuz && -d $outdir/tree &&
      -s $outdir/kernel-release ]]; then
    touch -- "$outdir/vmlinuz"
    exit 0
fi

rm -f -- "$stamp"
new=$(mktemp -d "$outdir/.tree.XXXXXX")
tmpdirs+=("$new")
dpkg-deb -x "$deb" "$new" || die "cannot unpack $deb"

moddir=
for d in lib/modules usr/lib/modules; do
    [[ -d $new/$d ]] && { moddir=$d; break; }
done
[[ -n $moddir ]] || die "${deb##*/} has no lib/modules directory"
mapfile -t kvers < <(ls -- "$new/$moddir")
(( ${#kvers[@]} == 1 )) || die "${deb##*/} has ${#kvers[@]} kernel versions in $moddir, expected one"
kver=${kvers[0]}
[[ -f $new/boot/vmlinuz-$kver ]] || die "${deb##*/} has no boot/vmlinuz-$kver"

# depmod -b only searches <base>/lib/modules; keep a usr-merged package working.
if [[ $moddir == usr/lib/modules && ! -e $new/lib/modules ]]; then
    mkdir -p "$new/lib" && ln -s ../usr/lib/modules "$new/lib/modules"
fi
# Debian's package leaves modules.dep to the postinst, which we do not run.
depmod -b "$new" "$kver" || die "depmod -b failed on ${deb##*/}"

rm -rf -- "$outdir/tree"
mv -- "$new" "$outdir/tree"
cp -- "$outdir/tree/boot/vmlinuz-$kver" "$outdir/.vmlinuz.tmp"
mv -f -- "$outdir/.vmlinuz.tmp" "$outdir/vmlinuz"
echo "$kver" >"$outdir/kernel-release"
echo "$want" >"$stamp"
note "kernel $kver from ${deb##*/}"
