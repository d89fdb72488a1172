/*
 * podd-init: the single-threaded, statically linked helper behind every podd
 * container. Node cannot setns() into a mount namespace or unshare a PID
 * namespace (it is multi-threaded before our first line runs), so everything
 * that must happen in one thread happens here. argv[1] picks the role:
 *
 *   podd-init [--] CMD [ARG...]
 *       A plain init, usable on its own like tini (`docker run --init`).
 *       Runs CMD, forwards signals to it, reaps every child, exits with CMD's
 *       status. When it is not PID 1 it becomes a child subreaper so orphans
 *       still reach it. Use `--` to run a command named like a role.
 *
 *   podd-init sandbox --hostname NAME [--net PATH] [--ipc PATH] [--uts PATH]
 *                     [--pid PATH --pid-record FILE [--pid-cgroup DIR]...]
 *                     [--userns PATH --userns-base N]
 *       Creates the pod's namespaces (only the kinds given a PATH), sets the
 *       hostname, brings `lo` up, bind-mounts /proc/self/ns/<kind> onto PATH (creating it 0444
 *       if missing) and exits 0. The namespaces then live as long as those
 *       bind mounts. --pid also makes a PID namespace for the whole pod, whose
 *       PID 1 is a podd-init that only reaps (in the pod's other namespaces,
 *       with an empty root and no capabilities); it stays after we exit, in
 *       the --pid-cgroup DIRs, its pid and start time in FILE ("PID
 *       STARTTIME"), and lives until it is sent SIGKILL (or its cgroup is
 *       killed), which ends the namespace. --userns (hostUsers: false)
 *       makes a user namespace first, mapping ids 0-65535 to N..N+65535 of
 *       the host, and the net, IPC and UTS namespaces inside it (a child
 *       makes them; their pins are its /proc/PID/ns files), and pins it at
 *       PATH too; the PID namespace is still made from the host's side, its
 *       podd-init joining the others. On failure it undoes what it did
 *       and prints one line naming the step, the path and the errno.
 *       Expectation on the caller: the pin files live in a directory that is a
 *       *shared* bind mount of itself (supervisor/sandbox.ts makes it so, on
 *       purpose). A mount namespace created later (a host service's) then
 *       holds its copies of the pins as peers or slaves, so unmounting a pin
 *       unmounts every copy and really frees the namespace; in a private
 *       directory each such copy would keep it alive. A container's PID 1
 *       makes its copies private, so with --rootfs it drops them itself: with
 *       the old root after pivot_root, and under --hide for the host's root
 *       (without --rootfs it keeps them while it runs). podd-init does not
 *       arrange the shared directory.
 *
 *   podd-init sysctl [--net PATH] [--ipc PATH] NAME=VALUE ...
 *       Joins the network and IPC namespaces pinned at the PATHs and sets each
 *       sysctl in them (writes VALUE to /proc/sys/NAME, NAME dotted as
 *       net.ipv4.ip_local_port_range or slashed as net/ipv4/ip_local_port_range;
 *       only net.* with --net and the IPC namespace's kernel.shm*, kernel.msg*,
 *       kernel.sem, fs.mqueue.* with --ipc). Run after the pod's network is set
 *       up, so that the pod's sysctls win over what the CNI plugins set. Stops
 *       at the first that fails, printing one line naming the sysctl, the step,
 *       the path and the errno.
 *
 *   podd-init container [OPTIONS] -- CMD [ARG...]
 *       The monitor (this process, in its own session, outside the container's
 *       cgroup) and, forked from it, the container's PID 1. OPTIONS:
 *         --net|--ipc|--uts PATH   join these namespaces (pin files)
 *         --pid PATH | --host-pid  PID 1 is born in the pod's PID namespace
 *                                  or the host's, instead of a new one, and
 *                                  reaps its command's orphans as a subreaper
 *         --cgroup DIR             PID 1 joins DIR (repeatable: one per v1
 *                                  controller, or one v2 directory)
 *         --state-dir DIR          write DIR/start.json and DIR/exit.json
 *         --log PATH               CRI-format log of stdout and stderr
 *         --log-max-size BYTES     rotate PATH when it would grow past BYTES
 *         --log-max-files N        keep N files: PATH, PATH.1 ... PATH.<N-1>
 *         --stdin                  CMD keeps fd 0 (default: /dev/null)
 *         --notify-fd N            write start.json's text on fd N once CMD
 *                                  was exec'd, then close it (EOF alone:
 *                                  it never started)
 *         --rootfs DIR             build the container's root on DIR and
 *                                  pivot_root into it, with either
 *           --host-rootfs            the host's / bound read-only, or
 *           --image-rootfs DIR --upper DIR --work DIR
 *                                    an overlay of the image and a layer
 *           --image-layers DIR ...   the same, of an image of layers:
 *                                    DIR/0, DIR/1, ... (top first, often
 *                                    symlinks to the layer directories)
 *           [--readonly-rootfs]      (readOnlyRootFilesystem)
 *         --privileged             /proc unmasked, /sys writable, every
 *                                  device node of the host's /dev in ours
 *         --hide PATH              host-rootfs: detach PATH's mounts and
 *                                  cover it with an empty read-only tmpfs
 *         --shm DIR                bind DIR on /dev/shm (the pod's)
 *         --bind SRC:DST[:ro]      bind mounts and tmpfs mounts, in order
 *         --idmap-bind SRC:DST[:ro]  (a bind idmapped to --userns)
 *         --image-volume LINKS:DST   (an image's layers, links 0..N-1 top
 *                                  first, stacked read-only on DST, each
 *                                  idmapped to --userns)
 *         --tmpfs DST[:OPTIONS]
 *       With --rootfs the container gets its own /proc (masked as runtimes
 *       do by default), a minimal /dev, /sys read-only, and no host mount
 *       survives in its mount namespace (the other pods' pins included).
 *         --cwd DIR --uid N --gid N --groups G1,G2 [--no-new-privs]
 *       The command's environment is podd-init's own environment.
 *         [--caps HEX] [--seccomp FILE] [--apparmor PROFILE] [--oom-score-adj N] [--userns PATH --userns-base N]
 *       --userns PATH (a sandbox's user namespace pin): the command joins it
 *       just after its score is set, and takes its uid and gid in it (root,
 *       unless --uid/--gid say otherwise); with --image-layers each layer is
 *       idmapped to it in PID 1's mount namespace, so its files keep their
 *       owners as the namespace sees them. --userns-base: the host id of its
 *       id 0 (the sandbox's), which owns /dev; ptys are its group tty.
 *       --oom-score-adj sets the command's /proc/self/oom_score_adj (-1000
 *       to 1000), which what it forks inherits, before anything is dropped.
 *       --no-new-privs sets no_new_privs just before execve
 *       (allowPrivilegeEscalation: false). --caps limits the command to the
 *       capabilities in the mask (bit N: capability N, as CapBnd in
 *       /proc/PID/status): they become its bounding set, its ambient and
 *       inheritable sets are empty, so root gets them through execve and
 *       another uid none (but what a file capability grants within them).
 *       --seccomp installs FILE, a classic BPF program (struct sock_filter
 *       entries), as the command's filter: the last step before execve, or
 *       just before the uid changes when that would lose CAP_SYS_ADMIN
 *       without no_new_privs. --apparmor confines the command to PROFILE,
 *       loaded in the kernel, from its execve on. Once the command runs, PID 1 keeps only
 *       CAP_KILL.
 *       Files the monitor writes (each atomically: temp file, fsync, rename,
 *       fsync of the directory):
 *         start.json  once the command has been exec'd:
 *           {"monitorPid":N,"pid1":N,"pid":N,"pid1StartTime":N,"startedAt":"T"}
 *           pids as the host sees them; pid1StartTime is field 22 of
 *           /proc/<pid1>/stat; T is RFC 3339 with nanoseconds, UTC.
 *         exit.json   when PID 1 has ended and the log is drained:
 *           {"exitCode":N,"signal":N,"startedAt":"T","finishedAt":"T",
 *            "reason":"Completed"|"Error"|"StartError","message":"..."}
 *           signal: what killed the command (or PID 1 itself), else 0.
 *           StartError: the command never ran; message says why, as
 *           Kubernetes words it, and startedAt is when the monitor started.
 *         the log    "<T> stdout|stderr P|F <text>" per line; lines over
 *           16 KiB become P records ended by an F record. Rotated files:
 *           PATH.1 is the newest old one, PATH.<N-1> the oldest.
 *       The monitor exits with PID 1's status. It stays in the host's mount
 *       and PID namespaces; PID 1 makes the new mount namespace itself.
 *
 *   podd-init exec --pid PID [--cwd DIR] [--uid N --gid N --groups G,..] [--no-new-privs]
 *                  [--caps HEX] [--seccomp FILE] [--apparmor PROFILE] [--oom-score-adj N] [--userns PATH --userns-base N] [--cgroup-root DIR] [--keep-env] [--tty] -- CMD [ARG...]
 *       Runs CMD inside the running container whose PID 1 has host pid PID:
 *       its namespaces (all but the user namespace), its cgroups and its
 *       environment (--keep-env: the caller's). HOME, when that environment
 *       has none, is the home of CMD's uid in the container's /etc/passwd,
 *       else "/". Exits with CMD's status.
 *       Without --tty, CMD keeps the caller's stdio and process group.
 *         --tty    CMD gets a pty of the container's own devpts as stdin,
 *                  stdout, stderr and controlling terminal, in a new session
 *                  (so `tty` names it and a shell has job control), and
 *                  TERM=the caller's TERM (xterm if unset). podd-init relays
 *                  its stdin to the pty and the pty to its stdout, with its
 *                  own terminal (if stdin is one) raw meanwhile and restored
 *                  at exit, and copies that terminal's window size to the
 *                  pty at the start and on SIGWINCH.
 *
 *   podd-init unpack DIR
 *       Reads one image layer, an uncompressed tar stream, on stdin and writes
 *       its entries under DIR, which must exist. Run as root, so owners
 *       (numeric uid/gid; uname/gname are ignored), modes with setuid, setgid
 *       and sticky, device nodes and mtimes (atime := mtime) are as the archive
 *       says. Formats: ustar, POSIX pax ('x': path, linkpath, size, uid, gid,
 *       mtime with a fraction, SCHILY.xattr.NAME; 'g' is ignored), GNU ('L',
 *       'K', base-256 numbers), v7. Types: regular ('0', '\0', '7'), hard link,
 *       symlink, character and block device, directory, FIFO; anything else
 *       (GNU sparse 'S' included) is refused. Links, devices, directories and
 *       FIFOs carry no content whatever their size field says.
 *       Names: "./" prefixes, "." and empty components and a trailing "/" are
 *       dropped; "." is DIR itself (its owner, mode and mtime are applied to
 *       DIR); absolute names and ".." components are refused, in hard link
 *       targets too. Symlink targets are stored verbatim and never followed.
 *       Nothing is written outside DIR: every parent is resolved beneath DIR
 *       with openat2 and no symlink followed (an entry under a symlink is
 *       refused), missing parents are made 0755 0:0, and a name that already
 *       exists is replaced (a directory named again keeps its children and
 *       takes the new metadata). A hard link's target must already be in DIR
 *       and keeps its own metadata. Directory mtimes are set at the end.
 *       xattrs: only user.* (files, directories) and security.capability
 *       (files); the rest, trusted.overlay.* above all, is skipped.
 *       Whiteouts become overlayfs's form: .wh.NAME a 0:0 character device
 *       NAME (replacing a NAME this layer made), .wh..wh..opq the xattr
 *       trusted.overlay.opaque=y on its directory; other .wh..wh.* names (aufs
 *       metadata) are skipped; hard links to or from whiteout names are refused.
 *       The end of the archive is two zero blocks (or one, or end of input
 *       where a header would start); after it, stdin is read to its end, so
 *       the caller can hash all it writes. Bounds: a pax or GNU long-name
 *       header of more than 1 MiB, a name of PATH_MAX bytes or more, more than
 *       1048576 directory entries (or 64 MiB of their names) are refused.
 *       Exit 0: one line on stdout, {"entries":N,"bytes":N}: the entries
 *       applied (whiteouts included, pax/GNU headers and skipped aufs names
 *       not) and the bytes of regular-file content written. Exit 2: the input
 *       is refused, one line on stderr,
 *         podd-init unpack: refused "<entry name>": <reason>
 *         podd-init unpack: refused: <reason>     (truncated archive, bad header checksum...)
 *       with the name as the archive gives it, control bytes escaped (2 is
 *       also a usage error, with its own two lines). Exit 1:
 *       a system error, one line naming the operation, the path and the errno
 *       text. On failure podd-init stops reading at once (the caller's writes
 *       then fail with EPIPE) and DIR may hold part of the layer: the caller
 *       removes DIR.
 *
 *   podd-init prober
 *       The daemon's probes, many at once in one process, so that a check
 *       costs the daemon a message instead of a spawn or a socket of its own.
 *       Requests on stdin and answers on stdout are a line and then its bytes:
 *         "ID KIND TIMEOUT_MS LEN\n" PAYLOAD      ->      "ID RESULT LEN\n" BYTES
 *       KIND exec: PAYLOAD is the arguments of `podd-init exec`, each ended
 *       by NUL, run as a forked exec role; BYTES, the first 10 KiB of its
 *       stdout and stderr; RESULT exit:N. tcp: "ADDRESS\0PORT\0", a numeric
 *       address; RESULT ok once connected. http: "ADDRESS\0PORT\0" and the
 *       request to send; BYTES, the response's headers and up to 10 KiB of
 *       its body; RESULT ok. Any kind may answer timeout (at TIMEOUT_MS an
 *       exec is killed, its command with it, and a socket closed) or
 *       error:ENAME (BYTES: the errno's text). Answers come in the order the
 *       checks end. The prober exits at the end of stdin, and with its
 *       parent (the parent-death signal), its execs with it.
 *
 * Exit status, in every role that runs a command: the command's exit code, or
 * 128+N when a signal N killed it; 127 when the command was not found, 126
 * when it could not be executed, 128 when the container could not be set up
 * (a cgroup, a mount: the Kubernetes StartError code), 125 when `exec` itself
 * failed before starting the command, 2 for a usage error.
 */
#include "podd-init.h"

int main(int argc, char **argv)
{
	arg_area.start = argv[0];
	arg_area.end = argv[argc - 1] + strlen(argv[argc - 1]);
	sigprocmask(SIG_SETMASK, NULL, &original_mask);
	sigaction(SIGPIPE, NULL, &original_sigpipe);

	if (argc < 2)
		usage_error("no command given (podd-init [--] CMD [ARG...])");
	const char *role = argv[1];
	if (strcmp(role, "sandbox") == 0)
		return sandbox_main(argc - 1, argv + 1);
	if (strcmp(role, "container") == 0)
		return container_main(argc - 1, argv + 1);
	if (strcmp(role, "exec") == 0)
		return exec_main(argc - 1, argv + 1);
	if (strcmp(role, "sysctl") == 0)
		return sysctl_main(argc - 1, argv + 1);
	if (strcmp(role, "unpack") == 0)
		return unpack_main(argc - 1, argv + 1);
	if (strcmp(role, "prober") == 0)
		return prober_main(argc - 1, argv + 1);
	if (strcmp(role, "--") == 0) {
		if (argc < 3)
			usage_error("no command given after --");
		return plain_main(argv + 2);
	}
	if (role[0] == '-')
		usage_error("unknown option \"%s\" (roles: sandbox, sysctl, container, exec, unpack, prober; or [--] CMD)", role);
	return plain_main(argv + 1);
}
