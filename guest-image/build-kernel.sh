#!/bin/bash
# build-kernel.sh OUTPUT [DEPFILE]
#
# Builds cocoon's guest kernel and writes it to OUTPUT (a PVH vmlinux) and
# OUTPUT.info (what it was built from). DEPFILE, for the build system, names
# every input read: the pin, each fragment and patch, and their directories,
# so that a fragment added or removed rebuilds too.
#
# The source is the Debian package pinned in guest-image/kernel/source,
# fetched with apt-get download; the configuration is `make allnoconfig` with
# every guest-image/kernel/*.config fragment forced on (KCONFIG_ALLCONFIG),
# and the build fails if kconfig dropped any option a fragment asks for. No
# loadable modules. The few changes to the source itself are
# guest-image/kernel/patches/*.patch, applied in name order (each says why at
# its top).
#
# Cached under $COCOON_CACHE_DIR (default /var/cache/cocoon), keyed by the
# package version, the fragments, the patches, this script and the compiler,
# so a second setup or a fresh build dir copies the kernel instead of
# building it:
#   linux-source-*.deb        the downloaded source package
#   kernel-src/VERSION/       its unpacked tree, with the patches applied
#   kernel-build/VERSION/     the object tree (make O=), kept so that a change
#                             to a fragment rebuilds only what it touches
#   kernel/KEY/               finished kernels: vmlinux, config, info
# The build is reproducible: fixed build timestamp, user, host and version,
# fixed paths (the cache dir), no debug info.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

[[ ($# -eq 1 || $# -eq 2) && -n $1 && $1 != -* ]] || { echo "usage: $prog OUTPUT [DEPFILE]" >&2; exit 2; }
out=$1 depfile=${2:-}
here=$(cd -- "$(dirname -- "$0")" && pwd)
conf_dir=$here/kernel

for tool in apt-get apt-cache dpkg-deb flock make gcc bc bison flex xz sha256sum patch; do
    command -v "$tool" >/dev/null ||
        die "$tool not found (tools/setup.sh installs the kernel's build dependencies)"
done
[[ -f /usr/include/libelf.h ]] || die "libelf.h not found (apt-get install libelf-dev)"

pkg=$(sed -n 's/^package=//p' "$conf_dir/source")
ver=$(sed -n 's/^version=//p' "$conf_dir/source")
[[ $pkg =~ ^linux-source-[0-9.]+$ && $ver =~ ^[0-9A-Za-z.+~:-]+$ ]] ||
    die "$conf_dir/source must name package=linux-source-X.Y and version=DEBIAN-VERSION"
mapfile -t fragments < <(cd "$conf_dir" && ls -- *.config | LC_ALL=C sort)
(( ${#fragments[@]} )) || die "no *.config fragments in $conf_dir"
mapfile -t patches < <(cd "$conf_dir" && ls -- patches/*.patch 2>/dev/null | LC_ALL=C sort)
# What the unpacked tree must have had applied; it is unpacked afresh when that changes.
patch_sum=$( { for p in "${patches[@]}"; do echo "== $p"; cat -- "$conf_dir/$p"; done; } | sha256sum | cut -c1-16)

. "$(dirname -- "$0")/cache-dir.sh"

# Everything that decides the result. The script's own text is in it, so a
# change to how the kernel is built is a new key too.
key=$( { echo "$pkg $ver"; gcc --version | head -n1; ld --version | head -n1
         for f in "${fragments[@]}"; do echo "== $f"; cat -- "$conf_dir/$f"; done
         echo "patches $patch_sum"; cat -- "$0"; } | sha256sum | cut -c1-16)
done_dir=$cache/kernel/$key

publish() {
    mkdir -p -- "$(dirname -- "$out")"
    if [[ -n $depfile ]]; then
        local f deps=("$0" "$here/cache-dir.sh" "$conf_dir" "$conf_dir/patches" "$conf_dir/source")
        for f in "${fragments[@]}" "${patches[@]}"; do deps+=("$conf_dir/$f"); done
        { printf '%s:' "${out// /\\ }"; printf ' %s' "${deps[@]// /\\ }"; echo; } >"$depfile"
    fi
    cp -- "$done_dir/vmlinux" "$out.tmp.$$" && mv -f -- "$out.tmp.$$" "$out"
    cp -- "$done_dir/info" "$out.info.tmp.$$" && mv -f -- "$out.info.tmp.$$" "$out.info"
}
if [[ -f $done_dir/vmlinux && -f $done_dir/info ]]; then
    publish
    exit 0
fi

exec 9>>"$cache/.kernel-build.lock"
flock 9
# Another build may have finished it while we waited.
if [[ -f $done_dir/vmlinux && -f $done_dir/info ]]; then
    publish
    exit 0
fi

tmpdirs=()
cleanup() { (( ${#tmpdirs[@]} == 0 )) || rm -rf -- "${tmpdirs[@]}"; }
trap cleanup EXIT

deb=$cache/${pkg}_${ver//:/%3a}_all.deb
if ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
    note "downloading $pkg $ver (about 140 MB)"
    dl=$(mktemp -d "$cache/.download.XXXXXX")
    tmpdirs+=("$dl")
    if (( EUID == 0 )) && id _apt >/dev/null 2>&1; then chown _apt "$dl" 2>/dev/null || true; fi
    if ! (cd "$dl" && apt-get download -q "$pkg=$ver") >&2; then
        note "apt-get download $pkg=$ver failed; refreshing apt lists (apt-get update)"
        apt-get update -q >&2 || true
        if ! (cd "$dl" && apt-get download -q "$pkg=$ver") >&2; then
            have=$(apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | tr '\n' ' ')
            die "the pinned kernel source $pkg $ver is not in Debian's archive any more (apt has: ${have:-nothing}).
Update the pin: set version= in guest-image/kernel/source to one of those (apt-cache policy $pkg),
check the fragments still apply (this script fails on any option kconfig drops), rebuild, and
run the test suites; docs/guest.md says more."
        fi
    fi
    mv -f -- "$dl"/*.deb "$deb"
fi

src=$cache/kernel-src/$ver
# The stamp holds the patch set applied. A tree unpacked again keeps the
# tarball's file times, so the kept object tree rebuilds only what the
# patches touch.
if [[ ! -f $src/.cocoon-unpacked || $(cat -- "$src/.cocoon-unpacked") != "$patch_sum" ]]; then
    note "unpacking $pkg $ver"
    rm -rf -- "$src"
    mkdir -p -- "$src"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
        xz -dc | tar -x --strip-components=1 -C "$src" ||
        die "cannot unpack the kernel tree from $deb"
    [[ -f $src/Makefile ]] || die "$deb holds no kernel tree"
    for p in "${patches[@]}"; do
        note "applying $p"
        patch -d "$src" -p1 --batch --forward --quiet --no-backup-if-mismatch < "$conf_dir/$p" ||
            die "$p does not apply to $pkg $ver: update it with the pin (docs/guest.md)"
    done
    echo "$patch_sum" > "$src/.cocoon-unpacked"
fi

obj=$cache/kernel-build/$ver
mkdir -p -- "$obj"
for f in "${fragments[@]}"; do cat -- "$conf_dir/$f"; echo; done >"$obj/cocoon-fragments.config"

# The build date is the source's (its Makefile's mtime in the tarball), so the
# same pin always gives the same `uname -v`.
export KBUILD_BUILD_TIMESTAMP="$(LC_ALL=C date -u -r "$src/Makefile" '+%Y-%m-%d %H:%M UTC')"
export KBUILD_BUILD_USER=cocoon KBUILD_BUILD_HOST=cocoon KBUILD_BUILD_VERSION=1
mk() { nice -n 10 make --no-print-directory -C "$src" O="$obj" "$@"; }
mk -s KCONFIG_ALLCONFIG="$obj/cocoon-fragments.config" allnoconfig >&2 ||
    die "make allnoconfig failed"
# kconfig silently drops an option whose dependencies are not met: every line
# of every fragment must be in the result as written.
bad=()
while IFS= read -r line; do
    opt=${line%%=*} val=${line#*=}
    if [[ $val == n ]]; then
        grep -q "^$opt=" "$obj/.config" && bad+=("$line")
    else
        grep -qxF -- "$line" "$obj/.config" || bad+=("$line")
    fi
done < <(grep -h '^CONFIG_' "$obj/cocoon-fragments.config")
(( ${#bad[@]} == 0 )) ||
    die "kconfig did not take these fragment options (unmet dependencies?): ${bad[*]}"

jobs=$(nproc)
start=$SECONDS
note "building cocoon's guest kernel ($pkg $ver, ${#fragments[@]} fragments) with $jobs jobs:"
note "  about 14 minutes on 2 cores, once; later setups reuse $done_dir"
# Progress: a line per 200 files compiled, with the elapsed time; anything
# but kbuild's one-line summaries (warnings, errors) is shown as is.
set +e
mk -j"$jobs" vmlinux 2>&1 | {
    n=0
    while IFS= read -r line; do
        case $line in
            "  "[A-Z]*) (( ++n % 200 )) || note "$n files compiled, $(( SECONDS - start )) s" ;;
            *) printf '%s\n' "$line" >&2 ;;
        esac
    done
}
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 0 && -f $obj/vmlinux ]] || die "the kernel build failed (object tree: $obj)"

readelf -n -- "$obj/vmlinux" | grep -Eq '^ *Xen +0x[0-9a-f]+[[:space:]].*\(0x0*12\)' ||
    die "the built vmlinux has no PVH entry note (CONFIG_PVH)"

new=$(mktemp -d "$cache/kernel/.new.XXXXXX" 2>/dev/null || { mkdir -p "$cache/kernel" && mktemp -d "$cache/kernel/.new.XXXXXX"; })
tmpdirs+=("$new")
strip --strip-debug -o "$new/vmlinux" "$obj/vmlinux"
cp -- "$obj/.config" "$new/config"
{
    echo "source=$pkg $ver"
    echo "release=$(cat "$obj/include/config/kernel.release")"
    echo "fragments=${fragments[*]}"
    echo "patches=${patches[*]##*/}"
    echo "key=$key"
    echo "compiler=$(gcc --version | head -n1)"
    echo "vmlinux_sha256=$(sha256sum "$new/vmlinux" | cut -d' ' -f1)"
} >"$new/info"
chmod 0644 "$new"/*
rm -rf -- "$done_dir"
mv -- "$new" "$done_dir"
note "kernel $(cat "$obj/include/config/kernel.release") built in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
publish
