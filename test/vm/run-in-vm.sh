#!/usr/bin/env bash
# Run one command as root inside a throwaway cgroup-v2-only VM whose root is the
# host's root filesystem (read-only over 9p, writable through a tmpfs overlay).
# See test/vm/README.md.
#
#   test/vm/run-in-vm.sh [--timeout SECS] [--mem MB] [--cpus N] [-e NAME[=VALUE]]...
#                        [--timing] [--verbose] -- CMD [ARG...]
#
# The command runs in the caller's working directory. Its stdout and stderr
# arrive on ours, and we exit with its exit status. 124: --timeout passed (the VM
# was killed). 125: the VM could not run the command (the reason is on stderr).
set -euo pipefail
shopt -s nullglob

me=podd-vm
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
install_hint="apt-get install qemu-system-x86 linux-image-amd64"

die() {
	echo "$me: $*" >&2
	exit 125
}
usage() {
	echo "usage: $0 [--timeout SECS] [--mem MB] [--cpus N] [-e NAME[=VALUE]]... [--timing] [--verbose] -- CMD [ARG...]" >&2
	exit 125
}

timeout_s=0 mem=${PODD_VM_MEM:-4096} cpus=${PODD_VM_CPUS:-$(nproc)} timing=0 verbose=${PODD_VM_VERBOSE:-0}
extra_env=()
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--cpus) [ $# -ge 2 ] || usage; cpus=$2; shift 2 ;;
	-e) [ $# -ge 2 ] || usage; extra_env+=("$2"); shift 2 ;;
	--timing) timing=1; shift ;;
	--verbose) verbose=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout takes whole seconds, not '$timeout_s'"
[[ $mem =~ ^[0-9]+$ && $cpus =~ ^[0-9]+$ ]] || die "--mem and --cpus take numbers"

t_start=$(date +%s.%N)

# ---- what we need from the host --------------------------------------------
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || die "qemu-system-x86_64 not found; install it: $install_hint"
command -v modprobe >/dev/null || PATH=$PATH:/usr/sbin:/sbin
command -v modprobe >/dev/null || die "modprobe not found; install it: apt-get install kmod"
busybox=${PODD_VM_BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] && ! { command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; } ||
	die "$busybox is not a static busybox; install it: apt-get install busybox-static"
command -v cpio >/dev/null || die "cpio not found; install it: apt-get install cpio"

# The Debian kernel (not the one the host runs): the newest /boot/vmlinuz-<v>
# that has its modules in /lib/modules/<v>, or PODD_VM_KERNEL=<v>.
kver=${PODD_VM_KERNEL:-}
if [ -z "$kver" ]; then
	for k in $(printf '%s\n' /boot/vmlinuz-* | sort -V -r); do
		v=${k#/boot/vmlinuz-}
		if [ -f "/lib/modules/$v/modules.dep" ]; then kver=$v; break; fi
	done
fi
[ -n "$kver" ] && [ -f "/boot/vmlinuz-$kver" ] && [ -f "/lib/modules/$kver/modules.dep" ] ||
	die "no Debian kernel with modules in /boot and /lib/modules; install it: $install_hint"
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || die "cannot read $kernel (run as root)"

# ---- the initramfs, cached per kernel and per content ------------------------
# Modules in load order, dependencies first, each once. "builtin" lines name
# modules compiled into the kernel, which need nothing.
modules=()
for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do
	deps=$(modprobe -S "$kver" --show-depends "$m" 2>&1) || die "module $m for $kver: $deps"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		for seen in "${modules[@]}"; do [ "$seen" = "$path" ] && continue 2; done
		modules+=("$path")
	done <<<"$deps"
done

key=$( {
	echo "$kver"
	printf '%s\n' "${modules[@]}"
	sha256sum "$here/guest-init.sh" "$busybox" "${modules[@]}"
} | sha256sum | cut -c1-16)
cache=${PODD_VM_CACHE:-${XDG_CACHE_HOME:-/var/cache}/podd-vm}

run=$(mktemp -d "${TMPDIR:-/tmp}/podd-vm.XXXXXX")
qpid=
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
	jobs -p | xargs -r kill 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf -- "$run"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

build_initrd() { # build_initrd DEST: write the archive next to DEST, then rename it into place
	local tree=$run/initramfs tmp
	mkdir -p "$tree"/{bin,dev,proc,sys,modules}
	cp "$busybox" "$tree/bin/busybox"
	cp "$here/guest-init.sh" "$tree/init"
	chmod 0755 "$tree/init" "$tree/bin/busybox"
	local path name
	for path in "${modules[@]}"; do
		name=$(basename "$path")
		case "$path" in
		*.ko.xz) name=${name%.xz}; xz -dc "$path" >"$tree/modules/$name" ;;
		*.ko.zst) name=${name%.zst}; zstd -qdc "$path" >"$tree/modules/$name" ;;
		*.ko.gz) name=${name%.gz}; gzip -dc "$path" >"$tree/modules/$name" ;;
		*) cp "$path" "$tree/modules/$name" ;;
		esac || die "cannot unpack $path"
		echo "$name" >>"$tree/modules/order"
	done
	tmp=$(mktemp "$1.XXXXXX")
	(cd "$tree" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$tmp" ||
		{ rm -f "$tmp"; die "cannot build the initramfs"; }
	mv -f "$tmp" "$1" # atomic: a concurrent run sees the old archive or the new one
	rm -rf "$tree"
}
# The kernel's uncompressed ELF image. qemu boots it directly through its PVH
# entry point, skipping the firmware and the in-guest decompression of the
# bzImage, which together take seconds under TCG. Falls back to the bzImage.
extract_vmlinux() { # extract_vmlinux DEST
	local magic tool off tmp
	tmp=$(mktemp "$1.XXXXXX")
	for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${magic%%:*}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "${magic#*:}" "$kernel" | cut -d: -f1 | head -n 5); do
			case "$tool" in
			xz) tail -c +$((off + 1)) "$kernel" | xz -dc --single-stream >"$tmp" 2>/dev/null ;;
			zstd) tail -c +$((off + 1)) "$kernel" | zstd -qdc >"$tmp" 2>/dev/null ;;
			gzip) tail -c +$((off + 1)) "$kernel" | gzip -dc >"$tmp" 2>/dev/null ;;
			esac
			if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv -f "$tmp" "$1"
				return 0
			fi
		done
	done
	rm -f "$tmp"
	return 1
}

if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$run # not cached, but works
fi
initrd=$cache/initramfs-$kver-$key.cpio
[ -s "$initrd" ] || build_initrd "$initrd"
vmlinux=$cache/vmlinux-$kver-$(stat -c %s-%Y "$kernel")
boot_kernel=$kernel
if [ -s "$vmlinux" ] || extract_vmlinux "$vmlinux"; then boot_kernel=$vmlinux; fi
# Drop what older versions of this script or older kernels left in the cache.
if [ "$cache" != "$run" ]; then
	find "$cache" -maxdepth 1 -type f \( -name 'initramfs-*' -o -name 'vmlinux-*' \) \
		! -name "${initrd##*/}" ! -name "${vmlinux##*/}" -mmin +60 -delete 2>/dev/null || true
fi

# ---- the command ---------------------------------------------------------------
q() { # POSIX-shell single quoting
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}
cwd=$(pwd -P)
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if node=$(command -v node); then # the host's node first, wherever it lives
	case ":$path:" in *":$(dirname "$node"):"*) ;; *) path=$(dirname "$node"):$path ;; esac
fi
{
	echo "cd $(q "$cwd") || exit 125"
	echo "export PATH=$(q "$path") HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 PODD_IN_VM=1"
	if [ -n "${CI+x}" ]; then echo "export CI=$(q "$CI")"; fi
	for e in "${extra_env[@]}"; do
		name=${e%%=*}
		[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad -e '$e'"
		if [ "$name" != "$e" ]; then
			echo "export $name=$(q "${e#*=}")"
		elif [ -n "${!name+x}" ]; then
			echo "export $name=$(q "${!name}")"
		fi
	done
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$run/cmd.sh"
printf '%s\n' "$cwd" >"$run/cwd"
: >"$run/stdout"
: >"$run/stderr"
: >"$run/status"
: >"$run/console"

# ---- the VM ----------------------------------------------------------------------
accel=${PODD_VM_ACCEL:-tcg}
case "$accel" in
kvm) cpu=host ;;
tcg) cpu=max ;;
*) die "PODD_VM_ACCEL must be tcg or kvm" ;;
esac
# quiet console on ttyS0 (a file, shown on failure or with --verbose); no network.
append="console=ttyS0 panic=-1 rdinit=/init"
if [ "$verbose" = 1 ]; then append+=" loglevel=7 printk.time=1"; else append+=" quiet loglevel=3"; fi
append+=" cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
append+=" mitigations=off tsc=reliable 8250.nr_uarts=1 podd_vm_run=$run"
# ioeventfd=off: a guest write() to a port reaches its file before write()
# returns, so nothing written before poweroff can be lost.
qemu_args=(
	-nodefaults -no-user-config -display none -no-reboot
	-machine q35 -accel "$accel" -cpu "$cpu" -m "$mem" -smp "$cpus"
	-kernel "$boot_kernel" -initrd "$initrd" -append "$append"
	-serial "file:$run/console"
	-nic none
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-device virtio-serial-pci,ioeventfd=off
	-chardev "file,id=out,path=$run/stdout" -device virtserialport,chardev=out,name=podd.stdout
	-chardev "file,id=err,path=$run/stderr" -device virtserialport,chardev=err,name=podd.stderr
	-chardev "file,id=st,path=$run/status" -device virtserialport,chardev=st,name=podd.status
)
t_qemu=$(date +%s.%N)
if [ "$timeout_s" -gt 0 ]; then
	timeout -k 5 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$run/qemu.log" 2>&1 &
else
	"$qemu" "${qemu_args[@]}" </dev/null >"$run/qemu.log" 2>&1 &
fi
qpid=$!
# Stream the files as they grow; tail reads to the end once qemu is gone.
tail -c +1 -s 0.1 --pid="$qpid" -f "$run/stdout" &
tail -c +1 -s 0.1 --pid="$qpid" -f "$run/stderr" >&2 &
if [ "$verbose" = 1 ]; then tail -c +1 -s 0.1 --pid="$qpid" -f "$run/console" >&2 & fi
qrc=0
wait "$qpid" || qrc=$?
qpid=
t_exit=$(date +%s.%N)
wait # for the tails
t_end=$(date +%s.%N)

status=$(grep '^exit ' "$run/status" | tail -n 1 || true)
if [ -n "$status" ]; then
	read -r _ rc t_cmd_end <<<"$status"
	if [ "$timing" = 1 ]; then
		t_cmd_start=$(sed -n 's/^start //p' "$run/status")
		# s and c are guest uptimes (the kernel's clock starts after the
		# firmware); "boot" is qemu's whole life minus the command: firmware,
		# kernel, init, and the poweroff.
		awk -v a="$t_start" -v q="$t_qemu" -v x="$t_exit" -v e="$t_end" -v s="$t_cmd_start" -v c="$t_cmd_end" 'BEGIN {
			printf "podd-vm: boot+poweroff %.1fs (kernel to command %.1fs), command %.1fs, whole run %.1fs\n",
				(x - q) - (c - s), s, c - s, e - a }' >&2
	fi
	exit "$rc"
fi
if [ "$qrc" = 124 ]; then
	echo "$me: timed out after ${timeout_s}s; VM killed" >&2
	exit 124
fi
{
	echo "$me: the VM stopped without running the command to its end (qemu exit $qrc)"
	if [ -s "$run/qemu.log" ]; then sed 's/^/  qemu: /' "$run/qemu.log"; fi
	tail -n 30 "$run/console" | sed 's/^/  console: /'
} >&2
exit 125
