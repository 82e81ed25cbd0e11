#!/bin/bash
# mkimage.sh [--name REF] [--arch ARCH] ROOTFS OUTPUT [CMD...]
#
# Packs a root filesystem (such as the rootfs/ that mkbundle.sh makes) into an
# OCI image archive at OUTPUT: a tar holding oci-layout, index.json (the image
# named REF by the org.opencontainers.image.ref.name annotation), and under
# blobs/sha256/ the manifest, the config (default Cmd: CMD, or sh) and one
# uncompressed layer. Only tar and sha256sum are needed, no registry and no
# container engine, and the same rootfs gives the same digests.
#
#   podman load -i OUTPUT                                   # REF
#   ctr image import --base-name REPO OUTPUT                 # REF, REPO being REF without the tag
#   skopeo copy oci-archive:OUTPUT ...                       # anything that reads OCI archives
#
#   --name REF    image name (default localhost/busybox:latest)
#   --arch ARCH   GOARCH of the image (default: this machine's)
#
# Environment: SOURCE_DATE_EPOCH sets the file times and the creation date
# (default 0).
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
    echo "usage: $prog [--name REF] [--arch ARCH] ROOTFS OUTPUT [CMD...]   (CMD default: sh)" >&2
    exit 2
}
. "$(dirname "$0")/json-str.sh"

name=localhost/busybox:latest
case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    i?86) arch=386 ;;
    *) arch=$(uname -m) ;;
esac
while (( $# )); do
    case $1 in
        --name) (( $# >= 2 )) || usage; name=$2; shift 2 ;;
        --arch) (( $# >= 2 )) || usage; arch=$2; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "$prog: unknown option '$1'" >&2; usage ;;
        *) break ;;
    esac
done
(( $# >= 2 )) || usage
rootfs=$1 output=$2
shift 2
(( $# )) || set -- sh
[[ -d $rootfs ]] || die "$rootfs is not a directory"
[[ ${name##*/} == *[:@]* ]] || name=$name:latest

epoch=${SOURCE_DATE_EPOCH:-0}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
blobs=$work/image/blobs/sha256
mkdir -p -- "$blobs"

digest_of() { sha256sum -- "$1" | cut -d' ' -f1; }
size_of() { stat -c %s -- "$1"; }
# add_blob FILE: moves FILE into blobs/ under its digest, prints the digest.
add_blob() {
    local d; d=$(digest_of "$1")
    mv -f -- "$1" "$blobs/$d"
    echo "$d"
}

# The layer: owners and times fixed so that the digest depends on the content only.
tar -C "$rootfs" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf "$work/layer" . || die "cannot pack $rootfs"
layer_size=$(size_of "$work/layer")
layer=$(add_blob "$work/layer")

cat >"$work/config" <<EOF
{"created":"$created","architecture":"$arch","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":[$(json_list "$@")],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},"history":[{"created":"$created","created_by":"tools/mkimage.sh"}]}
EOF
config_size=$(size_of "$work/config")
config=$(add_blob "$work/config")

cat >"$work/manifest" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer","size":$layer_size}]}
EOF
manifest_size=$(size_of "$work/manifest")
manifest=$(add_blob "$work/manifest")

cat >"$work/image/index.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest","size":$manifest_size,"platform":{"architecture":"$arch","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":$(json_str "$name"),"io.containerd.image.name":$(json_str "$name")}}]}
EOF
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/image/oci-layout"

tar -C "$work/image" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf "$work/out" oci-layout index.json blobs
mv -f -- "$work/out" "$output"
