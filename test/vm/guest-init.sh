#!/bin/busybox sh
# PID 1 of the podd test VM (see README.md). Runs under busybox, in two phases:
#
#   initramfs  (as /init) load the modules, mount the host root (9p, read-only)
#              under a tmpfs overlay at /newroot, mount the kernel filesystems
#              and cgroup2 in it, then switch_root into it as phase "run".
#   run        (as /run/podd-vm/init) enable the cgroup controllers, run the
#              command from /run/podd-vm/cmd.sh with its stdout/stderr on two
#              virtio ports, write its exit status to a third, power off.
#
# Anything that goes wrong is printed on the console (ttyS0, a log file on the
# host) and the VM powers off without an exit status, which run-in-vm.sh reports.
# The host passes its run dir as the kernel parameter podd_vm_run=<path>.

phase=${1:-initramfs}

fail() {
	echo "podd-vm init: $*" >&2
	/run/podd-vm/busybox poweroff -f 2>/dev/null || /bin/busybox poweroff -f
	exit 1
}

# A fresh tmpfs on a directory of the new root. If the caller's working
# directory lies under it (say the host ran us from /tmp/x), keep that
# directory visible by moving a bind mount of it on top of the tmpfs.
scratch() { # scratch DIR MODE
	keep=
	case "$cwd/" in "$1"/*)
		if [ -d "/newroot$cwd" ]; then
			mkdir -p /keep && mount --bind "/newroot$cwd" /keep && keep=1 || fail "bind $cwd"
		fi
	esac
	mkdir -p "/newroot$1" && mount -t tmpfs -o "mode=$2" tmpfs "/newroot$1" || fail "tmpfs on $1"
	if [ -n "$keep" ]; then
		mkdir -p "/newroot$cwd" && mount --move /keep "/newroot$cwd" || fail "keep $cwd"
	fi
}

if [ "$phase" = initramfs ]; then
	export PATH=/bin
	/bin/busybox --install -s /bin
	mount -t devtmpfs devtmpfs /dev
	exec </dev/null >/dev/console 2>&1
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys

	while read -r ko; do
		insmod "/modules/$ko" || fail "insmod $ko"
	done </modules/order

	mkdir -p /lower /rw /newroot
	# cache=loose: the host root is read-only for the VM's lifetime, so the
	# guest may cache metadata and pages; this is what makes Node start fast.
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower ||
		fail "cannot mount the host root over 9p"
	mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir /rw/upper /rw/work || fail "tmpfs for the overlay"
	mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
		fail "cannot mount the overlay root"

	run=${podd_vm_run:-}
	[ -n "$run" ] && [ -f "/lower$run/cmd.sh" ] || fail "no command: podd_vm_run='$run'"
	cwd=$(cat "/lower$run/cwd") || fail "no cwd"

	# The kernel filesystems, then real tmpfs (not overlay, so that podd can
	# put overlay upper dirs there) wherever podd and its tests write.
	for d in dev proc sys; do
		mount --move "/$d" "/newroot/$d" || fail "move /$d"
	done
	mkdir -p /newroot/dev/pts /newroot/dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /newroot/dev/pts
	mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
	mount -t cgroup2 -o nsdelegate cgroup2 /newroot/sys/fs/cgroup || fail "cannot mount cgroup2"
	# securityfs, as systemd mounts it: the kernel's AppArmor policy interface.
	mount -t securityfs securityfs /newroot/sys/kernel/security || fail "cannot mount securityfs"
	scratch /run 0755
	scratch /tmp 1777
	scratch /var/tmp 1777
	scratch /var/lib/podd 0755
	scratch /var/log/podd 0755

	mkdir -p /newroot/run/podd-vm
	cp /bin/busybox /init /newroot/run/podd-vm/ &&
		cp "/lower$run/cmd.sh" /newroot/run/podd-vm/cmd.sh || fail "copy to /run/podd-vm"

	# The virtio ports, found by the names run-in-vm.sh gave them.
	out= err= status=
	for p in /newroot/sys/class/virtio-ports/*; do
		case "$(cat "$p/name" 2>/dev/null)" in
		podd.stdout) out=/dev/${p##*/} ;;
		podd.stderr) err=/dev/${p##*/} ;;
		podd.status) status=/dev/${p##*/} ;;
		esac
	done
	[ -n "$out" ] && [ -n "$err" ] && [ -n "$status" ] || fail "virtio ports not found"

	exec switch_root /newroot /run/podd-vm/busybox sh /run/podd-vm/init run "$out" "$err" "$status"
	fail "switch_root failed"
fi

# Phase "run": PID 1 on the overlay root.
bb=/run/podd-vm/busybox
out=$2 err=$3 status=$4
cd /
exec </dev/null >/dev/console 2>&1

# Delegate every available controller below the root cgroup, as systemd does.
for c in $($bb cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || echo "podd-vm init: cannot enable $c"
done
$bb hostname podd-vm
$bb ip link set lo up 2>/dev/null

read -r up _ </proc/uptime
echo "start $up" >"$status"
# The host's /bin/sh, not busybox's: busybox sh would run its own applets
# (stat, mount, ...) in place of the host's commands.
$bb env -i /bin/sh /run/podd-vm/cmd.sh </dev/null >"$out" 2>"$err"
rc=$?
read -r up _ </proc/uptime
echo "exit $rc $up" >"$status"
$bb poweroff -f
