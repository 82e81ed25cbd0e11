#!/bin/sh
# Runs inside the container: prints one "key=value" line per thing a user
# would look at. tests/conformance/test-conformance.sh compares them.
status() { sed -n "s/^$1:[[:space:]]*//p" /proc/self/status; }
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "groups=$(id -G)"
echo "home=$HOME"
echo "capeff=$(status CapEff)"
echo "capprm=$(status CapPrm)"
echo "capinh=$(status CapInh)"
echo "capbnd=$(status CapBnd)"
echo "capamb=$(status CapAmb)"
echo "nnp=$(status NoNewPrivs)"
echo "seccomp=$(status Seccomp)"
echo "nofile=$(ulimit -n)"
echo "nofile_hard=$(ulimit -Hn)"
echo "core=$(ulimit -c)"
echo "oom_score_adj=$(cat /proc/self/oom_score_adj)"
echo "hostname=$(hostname)"
echo "machine=$(uname -m)"
echo "ionice=$(ionice 2>&1)"
echo "domainname=$(cat /proc/sys/kernel/domainname)"
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
echo "shmmni=$(cat /proc/sys/kernel/shmmni)"
mkdir /tmp/probe-dir 2>/dev/null; echo "mkdir_rc=$?"
kill -0 $$ 2>/dev/null; echo "kill0_rc=$?"
trap '' USR1; kill -USR1 $$ 2>/dev/null; echo "killusr1_rc=$?"
touch /rootfs-write 2>/dev/null; echo "root_write_rc=$?"
echo hi > /tmp/x 2>/dev/null; echo "tmp_write_rc=$?"
echo "mydev=$(ls -ln /dev/mydev 2>&1 | awk '{print $1, $3, $4, $5 $6}')"
echo "myfifo=$(ls -ln /dev/myfifo 2>&1 | awk '{print $1}')"
echo "ptmx=$(ls -l /dev/ptmx | awk '{print $1, $NF}')"
echo "fd_link=$(readlink /dev/fd)"
echo "mqueue=$(grep ' /dev/mqueue ' /proc/self/mountinfo | grep -c ' - mqueue ')"
echo "shm=$(grep ' /dev/shm ' /proc/self/mountinfo | grep -c ' - tmpfs ')"
echo "uid_map=$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //' | tr '\n' ';')"
start_state=$(cat /tmp/start-state 2>/dev/null)
echo "start_hook_status=$(echo "$start_state" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p')"
echo "start_hook_id=$(echo "$start_state" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')"
echo "net_ns=$(readlink /proc/self/ns/net)"
echo "start_hook_env=$(cat /tmp/start-env 2>/dev/null)"
echo "root_shared=$(grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo | grep -c ' shared:')"
echo "cwd=$(pwd)"
touch /dev/probe-file 2>/dev/null; echo "dev_write_rc=$?"
echo x > /dev/null 2>/dev/null; echo "devnull_rc=$?"
echo "data_mount=$(grep ' /data ' /proc/self/mountinfo | grep -c ' - tmpfs ')"
echo "keep_mode=$(stat -c %a /srv/keep 2>/dev/null)"
[ -d /srv/copy ] && echo "copyup=$(grep -c ' /srv/copy .* - tmpfs ' /proc/self/mountinfo) $(cat /srv/copy/sub/link) $(stat -c %a /srv/copy/file)"
if [ -d /srv/m1 ]; then
    echo "masked_one_tmpfs=$([ "$(stat -c %d /srv/m1)" = "$(stat -c %d /srv/m2)" ] && echo 1 || echo 0)"
    echo "masked_twice_mounts=$(grep -c ' /srv/m1 ' /proc/self/mountinfo)"
    touch /srv/m2/x 2>/dev/null; echo "masked_write_rc=$?"
fi
touch /vol/probe-file 2>/dev/null; echo "vol_write_rc=$?"
touch /vol/sub/probe-file 2>/dev/null; echo "vol_sub_write_rc=$?"
echo "mynull=$(ls -ln /dev/mynull 2>&1 | awk '{print $1, $5 $6}')"
echo "lo_flags=$(cat /sys/class/net/lo/flags 2>&1)"
# The listener's stdin is a fifo this shell holds open: at EOF on its stdin
# busybox nc closes the connection, and a client that sent its line later than
# that (a busy host) lost it. Under load the listener may take a while to
# start: retry, then wait for what it got.
mkfifo /tmp/nc-in && exec 9<>/tmp/nc-in
nc -l -p 7777 < /tmp/nc-in > /tmp/nc-got 2>/dev/null & ncpid=$!
i=0; until echo hello | nc -w 1 127.0.0.1 7777 2>/dev/null || [ $i -ge 50 ]; do i=$((i+1)); sleep 0.2; done
i=0; until [ -s /tmp/nc-got ] || [ $i -ge 50 ]; do i=$((i+1)); sleep 0.2; done
kill $ncpid 2>/dev/null; wait $ncpid 2>/dev/null; exec 9>&-
echo "localhost_server=$(cat /tmp/nc-got 2>/dev/null)"
if [ -x /syscall-errno ]; then /syscall-errno kcmp:312 process_mrelease:448; echo "syscall_errno_rc=$?"; fi
echo "nested_proc=$(unshare -U -m -p -f sh -c 'mount -t proc -o nosuid,nodev,noexec proc /proc 2>/dev/null && echo mounted || echo refused' 2>&1)"
echo "made_mount=$(grep -c ' /made/by/runtime ' /proc/self/mountinfo)"
echo "probe=done"
