#!/bin/bash
# mkbundle.sh [--config-only] DIR [ARGS...]
#
# Makes an OCI bundle at DIR for tests and demos: DIR/rootfs is busybox
# (static, so it needs no libraries in the rootfs) with a symlink per applet,
# DIR/config.json runs ARGS (default: sh) as root with the mounts and
# namespaces of runc's default spec. Running it again refreshes the bundle.
#
#   --config-only   rewrite DIR/config.json only; DIR/rootfs is left alone
#
# Environment: BUSYBOX overrides the busybox binary (default /bin/busybox,
# from Debian's busybox-static).
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
    echo "usage: $prog [--config-only] DIR [ARGS...]   (ARGS default: sh)" >&2
    exit 2
}

config_only=0
while (( $# )); do
    case $1 in
        --config-only) config_only=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "$prog: unknown option '$1'" >&2; usage ;;
        *) break ;;
    esac
done
(( $# >= 1 )) && [[ -n $1 ]] || usage
dir=$1
shift
(( $# )) || set -- sh

. "$(dirname "$0")/json-str.sh"

busybox=${BUSYBOX:-/bin/busybox}
check_busybox() {
    [[ -x $busybox ]] || die "$busybox not found (apt-get install busybox-static)"
    # A dynamically linked busybox would need its libc inside the rootfs.
    if LC_ALL=C readelf -l -- "$busybox" 2>/dev/null | grep -q 'INTERP'; then
        die "$busybox is dynamically linked; install busybox-static or set BUSYBOX"
    fi
}

make_rootfs() {
    local rootfs=$dir/rootfs applet
    mkdir -p -- "$rootfs"
    mkdir -p -- "$rootfs"/{bin,etc,root,proc,sys,dev}
    mkdir -p -- "$rootfs/tmp"
    chmod 1777 -- "$rootfs/tmp"
    chmod 0700 -- "$rootfs/root"
    # Replace rather than overwrite in place: the old binary may be running
    # in a container that uses this bundle.
    install -m 0755 -- "$busybox" "$rootfs/bin/.busybox.new"
    mv -f -- "$rootfs/bin/.busybox.new" "$rootfs/bin/busybox"
    while read -r applet; do
        [[ -n $applet && $applet != */* && $applet != busybox ]] || continue
        # Re-runs skip the ~270 ln forks; only this script makes these links.
        [[ -L $rootfs/bin/$applet ]] || ln -sfn busybox "$rootfs/bin/$applet"
    done < <("$rootfs/bin/busybox" --list) || die "'busybox --list' failed"
    cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    echo cocoon >"$rootfs/etc/hostname"
}

write_config() {
    local args tmp
    args=$(json_list "$@")
    tmp=$(mktemp "$dir/.config.json.XXXXXX")
    # The mounts, capabilities, masked and read-only paths follow `runc spec`
    # so that results can be compared with runc and crun. The rootfs is
    # writable (runc's is read-only) because tests write into it.
    cat >"$tmp" <<EOF
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			$args
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": false
	},
	"hostname": "cocoon",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
EOF
    chmod 0644 "$tmp"
    mv -f -- "$tmp" "$dir/config.json"
}

(( config_only )) || check_busybox
mkdir -p -- "$dir" || die "cannot create bundle dir $dir"
trap 'rm -f -- "$dir"/.config.json.?????? "$dir"/rootfs/bin/.busybox.new' EXIT
if (( config_only == 0 )); then
    make_rootfs
fi
write_config "$@"
