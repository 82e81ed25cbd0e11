#!/usr/bin/env python3
"""configure.py BUNDLE KIND: turns a tools/mkbundle.sh bundle into one that
exercises many config.json fields at once, for probe.sh to report on.

KIND security: user by name, capabilities, rlimits, oomScoreAdj,
           noNewPrivileges, seccomp, read-only root, devices, sysctl,
           hostname, domainname.
KIND userns: a new user namespace with uid/gid mappings.
KIND limits: a negative oomScoreAdj and a NOFILE limit above this host's
           hard limit: what a VM allows and this host refuses.
KIND join: joins the network namespace at $JOIN_NETNS by path.
KIND notify: a seccomp profile with SCMP_ACT_NOTIFY, which cocoon refuses.
KIND compat: what callers rely on runc for: rootfsPropagation rshared, a
           seccomp profile without noNewPrivileges whose allowlist ends at
           pidfd_open (434), a working directory that only root can reach
           and that does not exist yet, a read-only /dev, a mount through
           an absolute symlink, an rro bind mount ($B/vol), a linux.devices
           path with a trailing slash, lo in a new network namespace, a
           host hook without env.

Host-side hooks (prestart, createRuntime, poststart, poststop) append the
state they read to $HOOK_LOG when it is set; the startContainer hook writes
it to /tmp/start-state inside the container.
"""
import json
import os
import shutil
import sys

bundle, kind = sys.argv[1], sys.argv[2]
rootfs = os.path.join(bundle, "rootfs")
here = os.path.dirname(os.path.abspath(__file__))
shutil.copy(os.path.join(here, "probe.sh"), os.path.join(rootfs, "probe.sh"))
os.chmod(os.path.join(rootfs, "probe.sh"), 0o755)
with open(os.path.join(rootfs, "etc/passwd"), "w") as f:
    f.write("root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:Tester:/home/tester:/bin/sh\n")
with open(os.path.join(rootfs, "etc/group"), "w") as f:
    f.write("root:x:0:\ntester:x:1000:\nextra:x:2000:someone,tester\n")

path = os.path.join(bundle, "config.json")
c = json.load(open(path))
p = c["process"]
p["args"] = ["/bin/sh", "/probe.sh"]
p["terminal"] = False
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]})

if kind == "security":
    p["user"] = {"uid": 1000, "gid": 1000, "username": "tester", "additionalGids": [3000]}
    some = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NO_SUCH_THING"]
    p["capabilities"] = {"bounding": some + ["CAP_CHOWN"], "effective": some, "permitted": some,
                         "inheritable": some, "ambient": some}
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    p["oomScoreAdj"] = 100
    p["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    p["noNewPrivileges"] = True
    c["root"]["readonly"] = True
    c["hostname"] = "probe-host"
    c["domainname"] = "example.org"
    lx0 = c["linux"]
    lx0["personality"] = {"domain": "LINUX32"}
    lx = c["linux"]
    lx["devices"] = [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
                      "uid": 1000, "gid": 1000},
                     {"path": "/dev/myfifo", "type": "p", "fileMode": 0o600}]
    lx["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1000"}
    lx["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"},
        ],
    }
    c["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start-state"]}]}
    log = os.environ.get("HOOK_LOG")
    if log:
        for k in ("prestart", "createRuntime", "poststart", "poststop"):
            c["hooks"][k] = [{"path": "/bin/sh", "args": ["sh", "-c", 'echo "%s $(cat)" >> %s' % (k, log)],
                              "timeout": 10}]
elif kind == "compat":
    lx = c["linux"]
    lx["rootfsPropagation"] = "rshared"
    p["noNewPrivileges"] = False
    # Every x86_64 syscall up to pidfd_open (434) but kcmp; the default is EPERM.
    names = []
    for line in open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"):
        f = line.split()
        if len(f) == 3 and f[0] == "#define" and f[1].startswith("__NR_") and int(f[2]) <= 434 and f[1] != "__NR_kcmp":
            names.append(f[1][5:])
    lx["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO",
                     "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                     "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    shutil.copy(os.environ["SYSCALL_ERRNO"], os.path.join(rootfs, "syscall-errno"))
    # Owned by someone else, 0700: only a process with CAP_DAC_OVERRIDE gets in.
    os.makedirs(os.path.join(rootfs, "private"), exist_ok=True)
    os.chown(os.path.join(rootfs, "private"), 4242, 4242)
    os.chmod(os.path.join(rootfs, "private"), 0o700)
    p["cwd"] = "/private/made/here"
    os.symlink("/data", os.path.join(rootfs, "etc/datalink"))
    # tmpcopyup (podman passes it): the tmpfs starts with what its mount point held.
    os.makedirs(os.path.join(rootfs, "srv/copy/sub"), exist_ok=True)
    with open(os.path.join(rootfs, "srv/copy/file"), "w") as f:
        f.write("held")
    os.chmod(os.path.join(rootfs, "srv/copy/file"), 0o640)
    os.symlink("../file", os.path.join(rootfs, "srv/copy/sub/link"))
    # Masked directories, one listed twice.
    for d in ("srv/m1", "srv/m2"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    lx["maskedPaths"] = lx.get("maskedPaths", []) + ["/srv/m1", "/srv/m2", "/srv/m1"]
    # A tmpfs without mode= on a directory the rootfs has keeps that directory's mode.
    os.makedirs(os.path.join(rootfs, "srv/keep"), exist_ok=True)
    os.chmod(os.path.join(rootfs, "srv/keep"), 0o2710)
    os.makedirs(os.path.join(bundle, "vol/sub"), exist_ok=True)
    for m in c["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    c["mounts"] += [{"destination": "/etc/datalink", "type": "tmpfs", "source": "tmpfs"},
                    {"destination": "/srv/keep", "type": "tmpfs", "source": "tmpfs", "options": ["nodev"]},
                    {"destination": "/srv/copy", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "nosuid"]},
                    {"destination": "/vol", "type": "bind", "source": os.path.join(os.path.abspath(bundle), "vol"),
                     "options": ["rbind", "rro"]}]
    lx["devices"] = [{"path": "/dev/mynull/", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}]
    p["env"].append("START_MARK=from-the-process")
    c["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", 'echo "$START_MARK" > /tmp/start-env']}]}
    log = os.environ.get("HOOK_ENV_LOG")
    if log:
        c["hooks"]["prestart"] = [{"path": "/bin/sh", "args": ["sh", "-c", 'echo "mark=$COCOON_HOOK_MARK" > %s' % log]}]
elif kind == "limits":
    p["oomScoreAdj"] = -500
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
elif kind == "notify":
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
elif kind == "join":
    ns = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    c["linux"]["namespaces"] = ns + [{"type": "network", "path": os.environ["JOIN_NETNS"]}]
elif kind == "userns":
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # cgroup v1 cannot be mounted from a user namespace; sysfs and the rest can.
    c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    # A mount point the runtime makes, in a rootfs owned by the mapped root (as podman chowns it).
    c["mounts"].append({"destination": "/made/by/runtime", "type": "tmpfs", "source": "tmpfs"})
    for d, _, files in os.walk(rootfs):
        for x in [d] + [os.path.join(d, f) for f in files]:
            os.lchown(x, 100000, 100000)
else:
    sys.exit("unknown kind " + kind)
json.dump(c, open(path, "w"), indent=1)
