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
 *       Creates the pod's namespaces (only the kinds given a PATH), sets the
 *       hostname, brings `lo` up, bind-mounts /proc/self/ns/<kind> onto PATH
 *       (creating it 0444 if missing) and exits 0. The namespaces then live as
 *       long as those bind mounts. On failure it undoes what it did and prints
 *       one line naming the step, the path and the errno.
 *       Expectation on the caller: the pin files live in a directory that is a
 *       private (or unbindable) bind mount of itself, so the pins do not
 *       propagate into peer mount namespaces and unmounting them really frees
 *       the namespaces. podd-init does not arrange that.
 *
 *   podd-init container [OPTIONS] -- CMD [ARG...]
 *       The monitor (this process, in its own session, outside the container's
 *       cgroup) and, forked from it, the container's PID 1. OPTIONS:
 *         --net|--ipc|--uts PATH   join these namespaces (pin files)
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
 *           [--readonly-rootfs]      (readOnlyRootFilesystem)
 *         --hide PATH              host-rootfs: detach PATH's mounts and
 *                                  cover it with an empty read-only tmpfs
 *         --shm DIR                bind DIR on /dev/shm (the pod's)
 *         --bind SRC:DST[:ro]      bind mounts and tmpfs mounts, in order
 *         --tmpfs DST[:OPTIONS]
 *       With --rootfs the container gets its own /proc (masked as runtimes
 *       do by default), a minimal /dev, /sys read-only, and no host mount
 *       survives in its mount namespace (the other pods' pins included).
 *         --cwd DIR --uid N --gid N --groups G1,G2 [--no-new-privs]
 *       The command's environment is podd-init's own environment.
 *       --no-new-privs sets no_new_privs just before execve
 *       (allowPrivilegeEscalation: false).
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
 *                  [--cgroup-root DIR] [--keep-env] [--tty] -- CMD [ARG...]
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
 * Exit status, in every role that runs a command: the command's exit code, or
 * 128+N when a signal N killed it; 127 when the command was not found, 126
 * when it could not be executed, 128 when the container could not be set up
 * (a cgroup, a mount: the Kubernetes StartError code), 125 when `exec` itself
 * failed before starting the command, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_MOUNTS 64
#define MAX_HIDE 8
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define EXIT_SETUP 128   /* the container could not be set up: Kubernetes' StartError code */
#define EXIT_EXEC_FAILED 125
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 127
#define EXIT_CANNOT_EXEC 126

#define MAX_CGROUPS 16
#define MAX_GROUPS 64
#define MSG_MAX 1024
/* The CRI log format splits lines longer than this into partial records; 16 KiB is what containerd uses. */
#define LOG_LINE_MAX (16 * 1024)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Retry a call interrupted by a signal. We install no handlers, but a stop and
 * continue (SIGSTOP/SIGCONT, ptrace) still makes some blocking calls return EINTR. */
#define NO_EINTR(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })

/* Built with musl where available (a static binary a tenth the size of a
 * static glibc one, and a smaller resident set in every container), else with
 * glibc. Neither has to wrap these: the raw system calls work with both. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
static int close_fd_range(unsigned first, unsigned last, unsigned flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* "TERM" for SIGTERM: the kernel's names, for messages. */
static const char *signal_abbrev(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "HUP", [SIGINT] = "INT", [SIGQUIT] = "QUIT", [SIGILL] = "ILL", [SIGTRAP] = "TRAP",
		[SIGABRT] = "ABRT", [SIGBUS] = "BUS", [SIGFPE] = "FPE", [SIGKILL] = "KILL", [SIGUSR1] = "USR1",
		[SIGSEGV] = "SEGV", [SIGUSR2] = "USR2", [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM", [SIGTERM] = "TERM",
		[SIGSTKFLT] = "STKFLT", [SIGCHLD] = "CHLD", [SIGCONT] = "CONT", [SIGSTOP] = "STOP", [SIGTSTP] = "TSTP",
		[SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU", [SIGURG] = "URG", [SIGXCPU] = "XCPU", [SIGXFSZ] = "XFSZ",
		[SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH", [SIGIO] = "IO", [SIGPWR] = "PWR",
		[SIGSYS] = "SYS",
	};
	return sig > 0 && (size_t)sig < sizeof names / sizeof *names ? names[sig] : NULL;
}

/* Prefix of every diagnostic: "podd-init", "podd-init sandbox", ... */
static const char *whoami = "podd-init";

/* Print one diagnostic line with a single write(2), so that lines from
 * several processes sharing a stderr never interleave mid-line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[MSG_MAX + 128];
	int n = snprintf(line, sizeof line, "%s: ", whoami);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report to; the exit code still tells. */
	}
}

#define die(code, ...) do { say(__VA_ARGS__); exit(code); } while (0)

#define usage_error(...) do { say(__VA_ARGS__); say("see the comment at the top of init/podd-init.c for usage"); exit(EXIT_USAGE); } while (0)

static unsigned long parse_number(const char *what, const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || *s == '-')
		usage_error("%s: not a number in range: \"%s\"", what, s);
	return v;
}

/* RFC 3339 with nanoseconds in UTC, e.g. 2026-11-22T04:45:19.123456789Z (35 bytes). */
static void format_time(const struct timespec *ts, char out[40])
{
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%09ldZ", ts->tv_nsec);
}

static void now_rfc3339(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	format_time(&ts, out);
}

/* Close every descriptor >= 3 we inherited. close_range exists since Linux 5.9;
 * the fallback loop keeps older kernels working. */
static void close_inherited_fds(void)
{
	if (close_fd_range(3, ~0U, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
		close((int)fd);
}


/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

/* Synchronous faults are raised by the kernel on the faulting thread itself and
 * are forced through even when blocked; one that reaches our signalfd was sent
 * with kill(2) by someone, and passing a fake SIGSEGV on would only confuse. */
static bool is_fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

/* Signals whose default action ends the process. A stopped process keeps such
 * a signal pending until it is continued, so after forwarding one we send
 * SIGCONT too: a command stopped with SIGSTOP must still die on SIGTERM. */
static bool default_terminates(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return false;
	default:
		return true;
	}
}

/* The mask and the SIGPIPE disposition we were started with; the command gets
 * them back just before exec so it starts as the spawner meant it to. */
static sigset_t original_mask;
static struct sigaction original_sigpipe;

/* Block every signal and return a signalfd for them. Called before the first
 * fork, so no signal can slip in between a child starting and us listening:
 * signals that arrive early wait in the queue. */
static int block_all_signals(void)
{
	sigset_t all;
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		die(EXIT_SETUP, "sigprocmask: %s", strerror(errno));
	int fd = signalfd(-1, &all, SFD_CLOEXEC);
	if (fd < 0)
		die(EXIT_SETUP, "signalfd: %s", strerror(errno));
	return fd;
}

/* Role 3 starts the command like a fresh container: every signal at its
 * default action and none blocked, whatever the spawner left ignored (a shell
 * starts background jobs with SIGINT and SIGQUIT ignored, and an ignored
 * disposition survives execve). Roles 1 and 4 pass on what they were given. */
static void restore_signals(bool reset_all)
{
	if (reset_all) {
		sigset_t none;
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);   /* fails harmlessly for SIGKILL, SIGSTOP and glibc's internal ones */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		return;
	}
	sigaction(SIGPIPE, &original_sigpipe, NULL);
	sigprocmask(SIG_SETMASK, &original_mask, NULL);
}

/* Forward a signal to the command. The command leads its own process group
 * (role 1 puts it in one, role 3 gives it its own session), and we signal the
 * whole group, like `tini -g`: that is what a terminal does with ^C and
 * window-size changes, and it reaches the real workload when the command is a
 * shell that would otherwise hold a SIGTERM until its foreground child ends.
 * If the command has left its group, the group may be empty: signal it alone.
 * A pid <= 1 is never signalled: kill(0) and kill(-1) would hit ourselves and
 * every process we can see. */
static void forward_signal(pid_t cmd, int sig)
{
	if (cmd <= 1)
		return;
	if (kill(-cmd, sig) < 0 && errno == ESRCH)
		kill(cmd, sig);
	if (default_terminates(sig)) {
		if (kill(-cmd, SIGCONT) < 0 && errno == ESRCH)
			kill(cmd, SIGCONT);
	}
}

/* Reap every child that has exited. One SIGCHLD can stand for many exits (the
 * kernel queues at most one standard signal of each kind), so loop until
 * waitpid has nothing more, and notice the command's own exit in passing.
 * Returns true once the command has been reaped. */
static bool reap_children(pid_t cmd, int *cmd_status)
{
	bool cmd_done = false;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			if (pid == cmd) {
				*cmd_status = status;
				cmd_done = true;
			}
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		return cmd_done;   /* 0: children remain but none has exited; ECHILD: none left */
	}
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_SETUP;
}

/* The PID-1 loop (roles 1 and 3): wait on the signalfd with no timeout, so an
 * idle container costs no wake-ups; reap on SIGCHLD, forward everything else.
 * When the command has exited, end what is left and return its wait status. */
static int supervise(int sigfd, pid_t cmd)
{
	int cmd_status = 0;
	bool cmd_done = false;
	while (!cmd_done) {
		struct signalfd_siginfo si;
		ssize_t n = NO_EINTR(read(sigfd, &si, sizeof si));
		if (n != (ssize_t)sizeof si)
			die(EXIT_SETUP, "read signalfd: %s", n < 0 ? strerror(errno) : "short read");
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD)
			cmd_done = reap_children(cmd, &cmd_status);
		else if (!is_fault_signal(sig))
			forward_signal(cmd, sig);
	}

	/* Only the PID 1 of a PID namespace may kill(-1): there it means "everyone
	 * in my namespace but me". As a subreaper in someone else's namespace it
	 * would mean every process we are allowed to signal, so there we leave the
	 * remaining descendants alone; they reparent to the next subreaper or init. */
	if (getpid() == 1) {
		kill(-1, SIGKILL);
		while (NO_EINTR(waitpid(-1, NULL, 0)) > 0)
			;
	}
	return cmd_status;
}

/* ------------------------------------------------------------------------ */
/* Starting the command                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Error channel between the command (and, in role 3, PID 1) and whoever waits
 * for the start: an AF_UNIX SOCK_SEQPACKET socketpair with CLOEXEC. Messages:
 *   "S"          sent just before execve. The kernel attaches the sender's
 *                credentials, with the pid translated into the receiver's PID
 *                namespace: that is how the monitor learns the command's host
 *                pid without scanning /proc.
 *   "E<text>"    setup or exec failed; <text> is the reason, Kubernetes-phrased.
 * End of file with no "E" means execve succeeded (CLOEXEC closed the last
 * writer). Sequenced packets keep each message whole.
 */
static void channel_send(int chan, const char *msg)
{
	if (chan >= 0 && NO_EINTR(send(chan, msg, strlen(msg), MSG_NOSIGNAL)) < 0) {
		/* The reader is gone (the monitor died); the exit code still tells. */
	}
}

/* Without a channel (role 4) the reason goes straight to our stderr. */
#define channel_fail(chan, ...) do { \
		char m_[MSG_MAX + 2]; \
		m_[0] = 'E'; \
		snprintf(m_ + 1, sizeof m_ - 1, __VA_ARGS__); \
		if ((chan) >= 0) \
			channel_send(chan, m_); \
		else \
			say("%s", m_ + 1); \
	} while (0)

/* Reads one message. Returns its length (0 at end of file, -1 on error); for
 * "S", *pid receives the sender's pid as seen from our PID namespace. */
static ssize_t channel_recv(int chan, char *buf, size_t cap, pid_t *pid)
{
	union {
		char space[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, cap - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space };
	ssize_t n = NO_EINTR(recvmsg(chan, &msg, MSG_CMSG_CLOEXEC));
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof cred);
			*pid = cred.pid;
		}
	}
	return n;
}

static void make_channel(int chan[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0)
		die(EXIT_SETUP, "socketpair: %s", strerror(errno));
	int on = 1;
	if (setsockopt(chan[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
		die(EXIT_SETUP, "setsockopt SO_PASSCRED: %s", strerror(errno));
}

/* How the command is started. */
struct command {
	char **argv;
	int chan;             /* write end of the error channel */
	int out_fd, err_fd;   /* the monitor's log pipes, or -1 to keep ours */
	bool keep_stdin;      /* else stdin is /dev/null */
	bool tty;             /* tty_fd, a pty slave, becomes stdio and the controlling terminal */
	int tty_fd;
	enum { KEEP_GROUP, OWN_GROUP, OWN_SESSION } grouping;
	const char *cwd;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	size_t ngroups;
	bool no_new_privs;    /* allowPrivilegeEscalation: false */
};

/* Kubernetes' wording for a failed exec, and the shell's exit code for it. */
static int describe_exec_error(int err, const char *file, char *out, size_t cap)
{
	if (err == ENOENT && !strchr(file, '/')) {
		snprintf(out, cap, "exec: \"%s\": executable file not found in $PATH", file);
		return EXIT_NOT_FOUND;
	}
	if (err == ENOENT) {
		snprintf(out, cap, "exec: \"%s\": stat %s: no such file or directory", file, file);
		return EXIT_NOT_FOUND;
	}
	char reason[128];
	snprintf(reason, sizeof reason, "%s", err == EACCES || err == ENOEXEC ? "permission denied" : strerror(err));
	for (char *p = reason; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(out, cap, "exec: \"%s\": %s", file, reason);
	return EXIT_CANNOT_EXEC;
}

/* Runs in the forked child; never returns. Every failure goes through the
 * channel and ends the child with the code its kind of failure calls for. */
static void exec_command(const struct command *c) __attribute__((noreturn));
static void exec_command(const struct command *c)
{
	if (c->grouping == OWN_SESSION) {
		if (setsid() < 0) {
			channel_fail(c->chan, "setsid: %s", strerror(errno));
			_exit(EXIT_SETUP);
		}
		/* A session leader without a controlling terminal acquires the
		 * first one it is given with TIOCSCTTY; shells need one for job
		 * control (tcsetpgrp). */
		if (c->tty && (ioctl(c->tty_fd, TIOCSCTTY, 0) < 0 || dup2(c->tty_fd, STDIN_FILENO) < 0 ||
			       dup2(c->tty_fd, STDOUT_FILENO) < 0 || dup2(c->tty_fd, STDERR_FILENO) < 0)) {
			channel_fail(c->chan, "attach the terminal: %s", strerror(errno));
			_exit(EXIT_SETUP);
		}
	} else if (c->grouping == OWN_GROUP) {
		/* Our own process group, so that forwarding to the group reaches
		 * nothing else; and the terminal's foreground, so the command can read
		 * it. tcsetpgrp from a background group is allowed here because
		 * SIGTTOU is still blocked; it fails harmlessly without a terminal. */
		setpgid(0, 0);
		if (isatty(STDIN_FILENO))
			tcsetpgrp(STDIN_FILENO, getpid());
	}

	if (c->out_fd >= 0 && (dup2(c->out_fd, STDOUT_FILENO) < 0 || dup2(c->err_fd, STDERR_FILENO) < 0)) {
		channel_fail(c->chan, "dup2 log pipe: %s", strerror(errno));
		_exit(EXIT_SETUP);
	}
	if (!c->keep_stdin) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0) {
			channel_fail(c->chan, "open /dev/null: %s", strerror(errno));
			_exit(EXIT_SETUP);
		}
	}
	/* Mark, rather than close, descriptors >= 3: the channel must stay usable
	 * until execve, which then closes them all. */
	if (close_fd_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
			if (fd != c->chan)
				close((int)fd);
	}

	if (c->cwd && chdir(c->cwd) < 0) {
		channel_fail(c->chan, "chdir %s: %s", c->cwd, strerror(errno));
		_exit(EXIT_SETUP);
	}
	/* Supplementary groups and gid first: once the uid is dropped we may no longer change them. */
	if (c->set_ids) {
		if (setgroups(c->ngroups, c->groups) < 0) {
			channel_fail(c->chan, "setgroups: %s", strerror(errno));
			_exit(EXIT_SETUP);
		}
		if (setgid(c->gid) < 0) {
			channel_fail(c->chan, "setgid %u: %s", (unsigned)c->gid, strerror(errno));
			_exit(EXIT_SETUP);
		}
		if (setuid(c->uid) < 0) {
			channel_fail(c->chan, "setuid %u: %s", (unsigned)c->uid, strerror(errno));
			_exit(EXIT_SETUP);
		}
	}

	/* After the ids are set (a setuid to root would need the bit clear) and before execve,
	 * which it governs: setuid files and file capabilities then grant nothing. */
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		channel_fail(c->chan, "set no_new_privs: %s", strerror(errno));
		_exit(EXIT_SETUP);
	}
	restore_signals(c->grouping == OWN_SESSION);
	channel_send(c->chan, "S");
	execvp(c->argv[0], c->argv);

	char msg[MSG_MAX];
	int code = describe_exec_error(errno, c->argv[0], msg, sizeof msg);
	channel_fail(c->chan, "%s", msg);
	_exit(code);
}

static pid_t spawn_command(const struct command *c)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		exec_command(c);
	return pid;
}

/* ------------------------------------------------------------------------ */
/* Role 1: a plain init                                                     */
/* ------------------------------------------------------------------------ */

static int plain_main(char **cmd)
{
	close_inherited_fds();

	/* Not PID 1 (say, under a service manager): orphans of the command would
	 * go to the real init and we could not reap them. A subreaper gets them. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die(EXIT_SETUP, "prctl PR_SET_CHILD_SUBREAPER: %s", strerror(errno));

	int sigfd = block_all_signals();
	int chan[2];
	make_channel(chan);

	struct command c = { .argv = cmd, .chan = chan[1], .out_fd = -1, .err_fd = -1, .keep_stdin = true, .grouping = OWN_GROUP };
	pid_t pid = spawn_command(&c);
	if (pid < 0)
		die(EXIT_SETUP, "fork: %s", strerror(errno));
	close(chan[1]);

	/* Wait until the command has been exec'd or has failed to be; signals
	 * arriving meanwhile stay queued for the loop below. */
	char msg[MSG_MAX];
	pid_t ignored;
	ssize_t n;
	while ((n = channel_recv(chan[0], msg, sizeof msg, &ignored)) > 0)
		if (msg[0] == 'E')
			say("%s", msg + 1);
	close(chan[0]);

	return exit_code_of(supervise(sigfd, pid));
}

/* ------------------------------------------------------------------------ */
/* Role 2: sandbox                                                          */
/* ------------------------------------------------------------------------ */

struct ns_pin {
	const char *kind;   /* name under /proc/self/ns */
	int flag;
	const char *path;   /* where to pin it; NULL: not wanted */
	bool created;       /* we created the file */
	bool mounted;
};

static void sandbox_undo(struct ns_pin *pins, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (pins[i].mounted && umount2(pins[i].path, MNT_DETACH) < 0)
			say("undo: umount %s: %s", pins[i].path, strerror(errno));
		if (pins[i].created && unlink(pins[i].path) < 0)
			say("undo: unlink %s: %s", pins[i].path, strerror(errno));
	}
}

#define sandbox_fail(pins, n, ...) do { say(__VA_ARGS__); sandbox_undo(pins, n); return 1; } while (0)

/* Sets IFF_UP on lo of the current network namespace, as `ip link set lo up` would. */
static int bring_up_loopback(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(sock);
	errno = saved;
	return rc;
}

static int sandbox_main(int argc, char **argv)
{
	whoami = "podd-init sandbox";
	struct ns_pin pins[] = {
		{ .kind = "net", .flag = CLONE_NEWNET },
		{ .kind = "ipc", .flag = CLONE_NEWIPC },
		{ .kind = "uts", .flag = CLONE_NEWUTS },
	};
	const char *hostname = NULL;
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, 'h' },
		{ "net", required_argument, NULL, 'n' },
		{ "ipc", required_argument, NULL, 'i' },
		{ "uts", required_argument, NULL, 'u' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'h': hostname = optarg; break;
		case 'n': pins[0].path = optarg; break;
		case 'i': pins[1].path = optarg; break;
		case 'u': pins[2].path = optarg; break;
		default: usage_error("unknown option");
		}
	}
	if (optind != argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	/* Without a UTS namespace of our own, sethostname would rename the host. */
	if (hostname && !pins[2].path)
		usage_error("--hostname needs --uts");
	if (pins[2].path && !hostname)
		usage_error("--uts needs --hostname");

	int flags = 0;
	for (size_t i = 0; i < ARRAY_LEN(pins); i++)
		if (pins[i].path)
			flags |= pins[i].flag;
	if (!flags)
		usage_error("nothing to do: give at least one of --net, --ipc, --uts");

	if (unshare(flags) < 0)
		sandbox_fail(pins, 0, "unshare: %s", strerror(errno));
	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		sandbox_fail(pins, 0, "sethostname %s: %s", hostname, strerror(errno));
	if (pins[0].path && bring_up_loopback() < 0)
		sandbox_fail(pins, 0, "bring up lo: %s", strerror(errno));

	/* The namespaces die with this process unless something else holds them:
	 * a bind mount of the nsfs file does. */
	for (size_t i = 0; i < ARRAY_LEN(pins); i++) {
		struct ns_pin *p = &pins[i];
		if (!p->path)
			continue;
		int fd = open(p->path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
		if (fd >= 0) {
			p->created = true;
			close(fd);
		} else if (errno != EEXIST) {
			sandbox_fail(pins, i, "create %s: %s", p->path, strerror(errno));
		}
		char source[64];
		snprintf(source, sizeof source, "/proc/self/ns/%s", p->kind);
		if (mount(source, p->path, NULL, MS_BIND, NULL) < 0)
			sandbox_fail(pins, i + 1, "mount %s: %s", p->path, strerror(errno));
		p->mounted = true;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Role 3: container (monitor and PID 1)                                    */
/* ------------------------------------------------------------------------ */

/* A bind mount or a tmpfs, in the order they were given: a volume inside
 * another volume's mount must come after it. */
struct mount_spec {
	bool tmpfs;
	bool readonly;
	const char *source;   /* bind: host path */
	const char *target;   /* in the container; points into argv, like every option */
	const char *options;  /* tmpfs: "size=…,mode=…" */
};

struct rootfs_opts {
	const char *dir;            /* the empty directory the new root is mounted on */
	bool host;                  /* the host's / (read-only) instead of an image */
	const char *lower, *upper, *work;   /* image: overlay layers */
	bool readonly;              /* readOnlyRootFilesystem */
	const char *hide[MAX_HIDE]; /* host paths to hide from a host-root container */
	size_t nhide;
	const char *shm;            /* the pod's /dev/shm, or NULL for a private one */
	struct mount_spec mounts[MAX_MOUNTS];
	size_t nmounts;
};

struct container_opts {
	const char *ns_paths[3];   /* net, ipc, uts */
	const char *cgroups[MAX_CGROUPS];
	size_t ncgroups;
	const char *state_dir;
	const char *log_path;
	unsigned long long log_max_size;   /* 0: never rotate */
	unsigned long log_max_files;
	int notify_fd;                 /* -1, or where the monitor writes start.json once */
	bool cgroup_joined;            /* PID 1 was born in its cgroup (clone3) */
	struct rootfs_opts rootfs;     /* rootfs.dir NULL: keep the host's filesystem */
	struct command cmd;
};

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
struct clone3_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* fork(), but on cgroup v2 straight into the container's cgroup (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7). Writing a pid to cgroup.procs afterwards takes
 * the cgroup lock for writing and waits out an RCU grace period, about 15 ms
 * here, on every container start; being born there costs nothing. Falls back
 * to fork() where the kernel or the hierarchy does not allow it (v1), and PID 1
 * then joins its cgroups itself. A raw clone3 leaves libc's thread descriptor
 * with the parent's tid; PID 1 uses nothing that reads it (no raise, no
 * threads), and its own children come from libc's fork, which resets it. */
static pid_t fork_into_cgroup(struct container_opts *o)
{
	struct statfs fs;
	if (o->ncgroups == 1 && statfs(o->cgroups[0], &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
		int dir = open(o->cgroups[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir >= 0) {
			struct clone3_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (unsigned long long)dir };
			pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
			int saved = errno;
			if (pid == 0) {
				o->cgroup_joined = true;
				close(dir);
				return 0;
			}
			close(dir);
			if (pid > 0)
				return pid;
			errno = saved;   /* ENOSYS, E2BIG, EINVAL: an older kernel; fork and join */
		}
	}
	return fork();
}

/* One output stream of the command, read by the monitor. */
struct log_stream {
	const char *name;   /* "stdout" or "stderr" */
	int fd;             /* read end of the pipe; -1 once at end of file */
	size_t len;
	char buf[4 * LOG_LINE_MAX];
};

struct log_file {
	const char *path;
	int fd;
	off_t size;
	unsigned long long max_size;
	unsigned long max_files;
	bool write_failed;
};

static void open_log(struct log_file *lf)
{
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	lf->size = lf->fd >= 0 && fstat(lf->fd, &st) == 0 ? st.st_size : 0;
}

/* PATH -> PATH.1 -> ... -> PATH.<max_files-1>; the oldest is overwritten. With
 * one file allowed, PATH is emptied instead. */
static void rotate_log(struct log_file *lf)
{
	if (lf->max_files <= 1) {
		if (ftruncate(lf->fd, 0) == 0)
			lf->size = 0;
		return;
	}
	char from[PATH_MAX], to[PATH_MAX];
	for (unsigned long i = lf->max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof from, "%s", lf->path);
		else
			snprintf(from, sizeof from, "%s.%lu", lf->path, i - 1);
		snprintf(to, sizeof to, "%s.%lu", lf->path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			say("rotate %s: %s", from, strerror(errno));
	}
	close(lf->fd);
	open_log(lf);
	if (lf->fd < 0)
		say("open %s: %s", lf->path, strerror(errno));
}

/* One CRI record: "<RFC3339Nano> <stream> <P|F> <message>\n", in one write so
 * that a reader never sees half a record. */
static void write_record(struct log_file *lf, const char *stream, char tag, const char *msg, size_t len)
{
	char head[64], ts[40];
	now_rfc3339(ts);
	int hl = snprintf(head, sizeof head, "%s %s %c ", ts, stream, tag);
	size_t total = (size_t)hl + len + 1;
	if (lf->max_size && lf->size > 0 && (unsigned long long)lf->size + total > lf->max_size)
		rotate_log(lf);
	struct iovec iov[3] = { { head, (size_t)hl }, { (char *)msg, len }, { "\n", 1 } };
	ssize_t n = lf->fd < 0 ? -1 : NO_EINTR(writev(lf->fd, iov, 3));
	if (n < 0) {
		/* The command must never block on a full disk: drop the record, say so once. */
		if (!lf->write_failed)
			say("write %s: %s; dropping log records", lf->path, strerror(errno));
		lf->write_failed = true;
		return;
	}
	lf->size += n;
}

/* Turn buffered output into records: a full line is an F record; a line longer
 * than LOG_LINE_MAX is cut into P records, the rest of it ends in an F record.
 * At end of file, an unterminated last line is a full record too. */
static void emit_records(struct log_file *lf, struct log_stream *s, bool at_eof)
{
	size_t off = 0;
	while (off < s->len) {
		size_t avail = s->len - off;
		size_t scan = avail < LOG_LINE_MAX + 1 ? avail : LOG_LINE_MAX + 1;
		char *nl = memchr(s->buf + off, '\n', scan);
		if (nl) {
			size_t l = (size_t)(nl - (s->buf + off));
			write_record(lf, s->name, 'F', s->buf + off, l);
			off += l + 1;
		} else if (avail > LOG_LINE_MAX) {
			write_record(lf, s->name, 'P', s->buf + off, LOG_LINE_MAX);
			off += LOG_LINE_MAX;
		} else if (at_eof) {
			write_record(lf, s->name, 'F', s->buf + off, avail);
			off += avail;
		} else {
			break;
		}
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

static void drain_stream(struct log_file *lf, struct log_stream *s)
{
	ssize_t n = NO_EINTR(read(s->fd, s->buf + s->len, sizeof s->buf - s->len));
	if (n > 0) {
		s->len += (size_t)n;
		emit_records(lf, s, false);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	emit_records(lf, s, true);
	close(s->fd);
	s->fd = -1;
}

/* Append a JSON string literal for s. */
static size_t json_string(char *out, size_t cap, const char *s)
{
	size_t n = 0;
#define PUT(ch) do { if (n + 1 < cap) out[n] = (ch); n++; } while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p < 0x20) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			for (char *e = esc; *e; e++)
				PUT(*e);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
#undef PUT
	out[n < cap ? n : cap - 1] = '\0';
	return n;
}

/* Write dir/name atomically: a reader sees the old file or the whole new one,
 * and after a crash never a torn one (temp file, fsync, rename, fsync dir). */
static int write_atomic(int dirfd, const char *name, const char *text)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = NO_EINTR(write(fd, text + done, len - done));
		if (n < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return -1;
	return fsync(dirfd);
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. With the
 * pid it identifies a process even after the pid number is reused. */
static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = NO_EINTR(read(fd, buf, sizeof buf - 1));
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');   /* the command name may contain spaces and parentheses */
	if (!p)
		return 0;
	p++;
	for (int field = 2; field < 21 && p; field++)   /* p is before field 3 after ')' */
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* What the monitor knows about the run, for start.json and exit.json. */
struct run {
	int state_dir;            /* -1: no --state-dir */
	pid_t pid1, cmd_pid;
	char started_at[40];
	char start_error[MSG_MAX];
};

/* Writes start.json and, when the supervisor asked for it, the same text on
 * notify_fd, which is then closed: its end of file means "started" (or, with
 * no text, "never started"), so nobody has to poll for the file. */
static void record_start(const struct run *r, int notify_fd)
{
	char text[512];
	snprintf(text, sizeof text,
		"{\"monitorPid\":%d,\"pid1\":%d,\"pid\":%d,\"pid1StartTime\":%llu,\"startedAt\":\"%s\"}\n",
		(int)getpid(), (int)r->pid1, (int)r->cmd_pid, proc_start_time(r->pid1), r->started_at);
	if (r->state_dir >= 0 && write_atomic(r->state_dir, "start.json", text) < 0)
		say("write start.json: %s", strerror(errno));
	if (notify_fd >= 0) {
		if (NO_EINTR(write(notify_fd, text, strlen(text))) < 0) {
			/* The supervisor went away; start.json is what it will read. */
		}
		close(notify_fd);
	}
}

static void record_exit(const struct run *r, int exit_code, int signal)
{
	char finished[40], message[2 * MSG_MAX], text[3 * MSG_MAX];
	now_rfc3339(finished);
	const char *reason = r->start_error[0] ? "StartError" : exit_code == 0 ? "Completed" : "Error";
	if (r->start_error[0])
		json_string(message, sizeof message, r->start_error);
	else if (signal)
		snprintf(message, sizeof message, "\"killed by signal %d (SIG%s)\"", signal, signal_abbrev(signal) ? signal_abbrev(signal) : "?");
	else
		snprintf(message, sizeof message, "\"\"");
	snprintf(text, sizeof text,
		"{\"exitCode\":%d,\"signal\":%d,\"startedAt\":\"%s\",\"finishedAt\":\"%s\",\"reason\":\"%s\",\"message\":%s}\n",
		exit_code, signal, r->started_at, finished, reason, message);
	if (r->state_dir >= 0 && write_atomic(r->state_dir, "exit.json", text) < 0)
		say("write exit.json: %s", strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* The container's filesystem (PID 1, in its own mount namespace)           */
/* ------------------------------------------------------------------------ */

/* Formats the reason a setup step failed into err and returns err. (A
 * message cut at MSG_MAX still names the step, which is what matters.) */
static const char *failf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *failf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return err;
}

/* Files under /proc and /sys that leak host information or allow host
 * changes, masked as the common runtimes do by default. */
static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

struct device_node {
	const char *name;
	unsigned major, minor;
};
static const struct device_node devices[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

#define MOUNT_ATTR_RDONLY_FLAG 0x00000001
struct mount_attr_arg {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* Makes the mount at path, and every mount below it, read-only in one call
 * (mount_setattr, Linux 5.12); a per-mount remount would race with nothing
 * here but would need the mount list, which this call walks for us. */
static int make_readonly_recursive(const char *path)
{
	struct mount_attr_arg attr = { .attr_set = MOUNT_ATTR_RDONLY_FLAG };
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr);
}

static int make_readonly(const char *path)
{
	return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

/* mkdir -p: returns 0 when dir exists afterwards. */
static int mkdir_p(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
		return errno = ENAMETOOLONG, -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Creates what a bind of source can be mounted on: a directory for a
 * directory, an empty file for anything else (a file, a socket, a device). */
static int make_mount_point(const char *source, const char *target)
{
	struct stat st, existing;
	if (source && stat(source, &st) < 0)
		return -1;
	if (lstat(target, &existing) == 0)
		return 0;
	if (!source || S_ISDIR(st.st_mode))
		return mkdir_p(target, 0755);
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", target);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) < 0)
			return -1;
	}
	int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EISDIR ? 0 : -1;
	close(fd);
	return 0;
}

static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* path is root+sub or below it (sub may be NULL: root itself). */
static bool is_under(const char *path, const char *root, const char *sub)
{
	size_t len = strlen(root);
	if (strncmp(path, root, len) != 0)
		return false;
	path += len;
	if (sub) {
		size_t sl = strlen(sub);
		if (strncmp(path, sub, sl) != 0)
			return false;
		path += sl;
	}
	return *path == '\0' || *path == '/';
}

/* Detaches every mount at or below root+subs[i], for each of the n subs. The host's root,
 * bound into a container, brings all the host's mounts along; those under
 * /proc, /sys, /dev, the tmpfs targets and podd's own roots (the pins of every
 * pod among them) must not stay reachable, not even hidden under another
 * mount, or a pod's namespaces would live on in this container.
 *
 * One pass over mountinfo detaches what it meets, and a detach takes the
 * submounts along, so a host with many pods costs one or two passes, not one
 * per mount (a rescan per mount made a start take ~0.7 s beside 100 pods).
 * Lines whose parent went in this pass are skipped by mount id, so a path is
 * never looked up through a directory a detach uncovered; UMOUNT_NOFOLLOW
 * keeps a symlink there from leading elsewhere. A line can still name a mount
 * that another one shadows (a stack on one mount point: a detach by path takes
 * the top): EINVAL or ENOENT then, and the next pass sees it again. Passes
 * repeat until one finds nothing; one that finds mounts but detaches none
 * fails, naming the first mount it could not detach in failed_at. */
static int detach_under(const char *root, const char *const *subs, size_t n, char *failed_at, size_t failed_len)
{
	enum { MAX_GONE = 1024 };
	for (;;) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		if (!f)
			return snprintf(failed_at, failed_len, "/proc/self/mountinfo"), -1;
		char line[4 * PATH_MAX];
		int gone[MAX_GONE];
		size_t ngone = 0, found = 0, detached = 0;
		int failed = 0, first_errno = 0;
		failed_at[0] = '\0';
		while (fgets(line, sizeof line, f)) {
			char mp[PATH_MAX];
			int id, parent;
			/* fields: id parent major:minor root mount-point ... */
			if (sscanf(line, "%d %d %*s %*s %4095s", &id, &parent, mp) != 3)
				continue;
			unescape_octal(mp);
			bool match = false;
			for (size_t i = 0; i < n && !match; i++)
				match = is_under(mp, root, subs[i]);
			if (!match)
				continue;
			found++;
			bool parent_gone = false;
			for (size_t i = 0; i < ngone && !parent_gone; i++)
				parent_gone = gone[i] == parent;
			if (parent_gone || umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
				if (!parent_gone)
					detached++;
				if (ngone < MAX_GONE)
					gone[ngone++] = id;
			} else if (errno == EINVAL || errno == ENOENT) {
				if (!first_errno) {
					first_errno = errno;
					snprintf(failed_at, failed_len, "%s", mp);
				}
			} else {
				failed = errno;
				snprintf(failed_at, failed_len, "%s", mp);
				break;
			}
		}
		fclose(f);
		if (failed)
			return errno = failed, -1;
		if (found == 0)
			return 0;
		if (detached == 0)
			return errno = first_errno ? first_errno : EINVAL, -1;
	}
}

/* The new root: an overlay of the image with the container's own writable
 * layer, or the host's root, read-only, with podd's roots hidden. */
static const char *mount_root(const struct rootfs_opts *r, char *err, size_t errlen)
{
	if (!r->host) {
		char data[3 * PATH_MAX + 64];
		if (snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", r->lower, r->upper, r->work) >= (int)sizeof data)
			return failf(err, errlen, "overlay options too long");
		if (mount("overlay", r->dir, "overlay", 0, data) < 0)
			return failf(err, errlen, "mount overlay on %s (lower %s): %s", r->dir, r->lower, strerror(errno));
		return NULL;
	}
	if (mount("/", r->dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return failf(err, errlen, "bind host root on %s: %s", r->dir, strerror(errno));
	const char *subs[3 + MAX_HIDE] = { "/proc", "/sys", "/dev" };
	size_t n = 3;
	for (size_t i = 0; i < r->nhide; i++)
		subs[n++] = r->hide[i];
	char at[PATH_MAX];
	if (detach_under(r->dir, subs, n, at, sizeof at) < 0)
		return failf(err, errlen, "detach the host's mount %s (under /proc, /sys, /dev or podd's roots): %s", at, strerror(errno));
	if (make_readonly_recursive(r->dir) < 0)
		return failf(err, errlen, "make host root read-only at %s: %s", r->dir, strerror(errno));
	/* podd's roots: an empty read-only tmpfs on each, where the host has it. */
	for (size_t i = 0; i < r->nhide; i++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof path, "%s%s", r->dir, r->hide[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755") < 0)
			return failf(err, errlen, "hide %s: %s", r->hide[i], strerror(errno));
	}
	return NULL;
}

/* /dev: a tmpfs with the few devices a container needs, its own devpts, the
 * pod's /dev/shm and a /dev/mqueue of the pod's IPC namespace. */
static const char *mount_dev(const struct rootfs_opts *r, char *err, size_t errlen)
{
	char path[PATH_MAX];
#define DEVPATH(name) (snprintf(path, sizeof path, "%s/dev%s", r->dir, name), path)
	if (mkdir_p(DEVPATH(""), 0755) < 0 || mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0)
		return failf(err, errlen, "mount /dev: %s", strerror(errno));
	for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
		char name[64];
		snprintf(name, sizeof name, "/%s", devices[i].name);
		if (mknod(DEVPATH(name), S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0 || chmod(path, 0666) < 0)
			return failf(err, errlen, "mknod /dev%s: %s", name, strerror(errno));
	}
	if (mkdir(DEVPATH("/pts"), 0755) < 0 ||
	    mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
		return failf(err, errlen, "mount /dev/pts: %s", strerror(errno));
	static const char *const links[][2] = {
		{ "pts/ptmx", "/ptmx" }, { "/proc/self/fd", "/fd" }, { "/proc/self/fd/0", "/stdin" },
		{ "/proc/self/fd/1", "/stdout" }, { "/proc/self/fd/2", "/stderr" },
	};
	for (size_t i = 0; i < sizeof links / sizeof *links; i++)
		if (symlink(links[i][0], DEVPATH(links[i][1])) < 0)
			return failf(err, errlen, "symlink /dev%s: %s", links[i][1], strerror(errno));
	if (mkdir(DEVPATH("/shm"), 01777) < 0)
		return failf(err, errlen, "mkdir /dev/shm: %s", strerror(errno));
	if (r->shm ? mount(r->shm, path, NULL, MS_BIND, NULL) : mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"))
		return failf(err, errlen, "mount /dev/shm: %s", strerror(errno));
	if (mkdir(DEVPATH("/mqueue"), 0755) < 0 || mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return failf(err, errlen, "mount /dev/mqueue: %s", strerror(errno));
#undef DEVPATH
	return NULL;
}

/* /proc of our PID namespace with the usual masks, and /sys read-only. */
static const char *mount_proc_sys(const struct rootfs_opts *r, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/proc", r->dir);
	if (mkdir_p(path, 0555) < 0 || mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return failf(err, errlen, "mount /proc: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/sys", r->dir);
	/* A fresh sysfs shows the pod's network devices; with the host's network
	 * namespace the kernel may refuse a new one, and the host's, read-only, is
	 * what a hostNetwork pod gets anyway. */
	if (mkdir_p(path, 0555) < 0 ||
	    (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	     (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) < 0 || make_readonly_recursive(path) < 0)))
		return failf(err, errlen, "mount /sys: %s", strerror(errno));
	for (size_t i = 0; i < sizeof masked_paths / sizeof *masked_paths; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s%s", r->dir, masked_paths[i]);
		if (stat(path, &st) < 0)
			continue;   /* not on this kernel: nothing to mask */
		int rc = S_ISDIR(st.st_mode)
			? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
			: mount("/dev/null", path, NULL, MS_BIND, NULL);
		if (rc < 0)
			return failf(err, errlen, "mask %s: %s", masked_paths[i], strerror(errno));
	}
	for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s%s", r->dir, readonly_paths[i]);
		if (stat(path, &st) < 0)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 || make_readonly(path) < 0)
			return failf(err, errlen, "make %s read-only: %s", readonly_paths[i], strerror(errno));
	}
	return NULL;
}

/* Volumes, /etc files and tmpfs mounts, in the order given. */
static const char *mount_volumes(const struct rootfs_opts *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->nmounts; i++) {
		const struct mount_spec *m = &r->mounts[i];
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s%s", r->dir, m->target) >= (int)sizeof path)
			return failf(err, errlen, "mount %s: path too long", m->target);
		if (m->tmpfs) {
			char at[PATH_MAX];
			if (detach_under(r->dir, &m->target, 1, at, sizeof at) < 0)
				return failf(err, errlen, "mount tmpfs on %s: detach the host's mount %s: %s", m->target, at, strerror(errno));
			if (mkdir_p(path, 0755) < 0 ||
			    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, m->options) < 0)
				return failf(err, errlen, "mount tmpfs on %s: %s", m->target, strerror(errno));
			continue;
		}
		if (make_mount_point(m->source, path) < 0) {
			if (errno == EROFS)
				return failf(err, errlen, "mount %s: %s does not exist in the read-only root filesystem; mount it on a path that exists", m->source, m->target);
			return failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
		}
		if (mount(m->source, path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
		if (m->readonly && make_readonly_recursive(path) < 0)
			return failf(err, errlen, "make %s read-only: %s", m->target, strerror(errno));
	}
	return NULL;
}

/* Enters the new root. pivot_root(".", ".") stacks the old root on top of
 * the new one; detaching it drops every host mount from this namespace, the
 * other pods' namespace pins included. */
static const char *enter_root(const struct rootfs_opts *r, char *err, size_t errlen)
{
	if (chdir(r->dir) < 0)
		return failf(err, errlen, "chdir %s: %s", r->dir, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failf(err, errlen, "pivot_root %s: %s", r->dir, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return failf(err, errlen, "detach old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return failf(err, errlen, "chdir /: %s", strerror(errno));
	if (!r->host && r->readonly && make_readonly("/") < 0)
		return failf(err, errlen, "make root read-only: %s", strerror(errno));
	return NULL;
}

/* The whole filesystem setup; NULL on success, else the reason. */
static const char *setup_rootfs(const struct rootfs_opts *r, char *err, size_t errlen)
{
	const char *e;
	/* The root mount must be a mount point of its own for pivot_root. */
	if ((e = mount_root(r, err, errlen)) || (e = mount_proc_sys(r, err, errlen)) ||
	    (e = mount_dev(r, err, errlen)) || (e = mount_volumes(r, err, errlen)) ||
	    (e = enter_root(r, err, errlen)))
		return e;
	return NULL;
}

/* A failure before PID 1 could be started: record it like any start error. */
#define monitor_start_error(run, ...) do { \
		snprintf((run)->start_error, sizeof (run)->start_error, __VA_ARGS__); \
		say("%s", (run)->start_error); \
		record_exit(run, EXIT_SETUP, 0); \
		exit(EXIT_SETUP); \
	} while (0)

/* Our argv, as the kernel laid it out: /proc/PID/cmdline reads this memory. */
static struct { char *start, *end; } arg_area;

/* PID 1's command line names host paths (pins, layers, podd's roots) and is
 * readable inside the container as /proc/1/cmdline. Once the command runs,
 * nothing needs the options any more (they were parsed, the command has its
 * own copy), so it is replaced by "podd-init". */
static void hide_command_line(void)
{
	static const char name[] = "podd-init";
	size_t len = (size_t)(arg_area.end - arg_area.start);
	if (len < sizeof name)
		return;
	memset(arg_area.start, 0, len);
	memcpy(arg_area.start, name, sizeof name);
}

/* PID 1 of the container. Its setup is a list of steps; each failure travels
 * to the monitor through the channel and ends PID 1 with EXIT_SETUP. */
static void container_pid1(struct container_opts *o, int sigfd, int chan, int status_fd) __attribute__((noreturn));
static void container_pid1(struct container_opts *o, int sigfd, int chan, int status_fd)
{
#define setup_fail(...) do { channel_fail(chan, __VA_ARGS__); _exit(EXIT_SETUP); } while (0)

	/* Step 1: join the cgroups before anything else, so that every process of
	 * the container, from the first fork on, is accounted and limited there. */
	for (size_t i = 0; i < o->ncgroups && !o->cgroup_joined; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/cgroup.procs", o->cgroups[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || NO_EINTR(write(fd, "0", 1)) != 1)
			setup_fail("join cgroup %s: %s", o->cgroups[i], strerror(errno));
		close(fd);
	}

	/* A container must not outlive its monitor: nobody would log it, relay
	 * signals to it or record its exit. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	/* Step 2: a mount namespace of our own, with nothing propagating back to
	 * the host (systemd makes / shared): our /proc must not appear there. This
	 * is done here, not in the monitor, so the monitor keeps the host's view:
	 * the host /proc (it reads /proc/<pid1>/stat) and the paths of its log. */
	if (unshare(CLONE_NEWNS) < 0)
		setup_fail("unshare mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		setup_fail("make / private: %s", strerror(errno));

	/* Step 3: the container's filesystem, entered with pivot_root, with its
	 * own /proc; or, without --rootfs, the host's files and our own /proc. */
	if (o->rootfs.dir) {
		char err[MSG_MAX];
		if (setup_rootfs(&o->rootfs, err, sizeof err))
			setup_fail("%s", err);
	} else if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		setup_fail("mount /proc: %s", strerror(errno));
	}

	/* Step 4: the command. */
	o->cmd.chan = chan;
	o->cmd.grouping = OWN_SESSION;
	pid_t pid = spawn_command(&o->cmd);
	if (pid < 0)
		setup_fail("fork: %s", strerror(errno));
	/* Keep no copy of the channel or the pipes: the monitor must see end of
	 * file on them when the command (and its children) are done with them. */
	close(chan);
	if (o->cmd.out_fd >= 0) {
		close(o->cmd.out_fd);
		close(o->cmd.err_fd);
	}

	hide_command_line();
	int status = supervise(sigfd, pid);
	/* Tell the monitor which signal killed the command: from our exit code
	 * alone, 143 could be exit(143) or SIGTERM. */
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (NO_EINTR(write(status_fd, &sig, sizeof sig)) < 0) {
		/* The monitor is gone; nobody is left to tell. */
	}
	_exit(exit_code_of(status));
#undef setup_fail
}

/* --bind SRC:DST[:ro] and --tmpfs DST[:OPTIONS]; ':' cannot appear in the paths. */
static void parse_mount(struct rootfs_opts *r, bool tmpfs, char *arg)
{
	if (r->nmounts == MAX_MOUNTS)
		usage_error("more than %d mounts", MAX_MOUNTS);
	struct mount_spec *m = &r->mounts[r->nmounts++];
	m->tmpfs = tmpfs;
	char *save, *first = strtok_r(arg, ":", &save), *second = strtok_r(NULL, ":", &save);
	char *rest = strtok_r(NULL, "", &save);
	const char *target = tmpfs ? first : second;
	if (!first || !target || target[0] != '/')
		usage_error("%s %s: want %s", tmpfs ? "--tmpfs" : "--bind", arg, tmpfs ? "DST[:OPTIONS]" : "SRC:DST[:ro]");
	m->target = target;
	if (tmpfs) {
		m->options = second ? second : "mode=755";
	} else {
		m->source = first;
		m->readonly = rest && strcmp(rest, "ro") == 0;
		if (rest && !m->readonly)
			usage_error("--bind %s: unknown option %s", arg, rest);
	}
}

static void parse_groups(struct command *c, const char *list)
{
	char copy[1024];
	snprintf(copy, sizeof copy, "%s", list);
	c->ngroups = 0;
	for (char *save, *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		if (c->ngroups == MAX_GROUPS)
			usage_error("--groups: more than %d groups", MAX_GROUPS);
		c->groups[c->ngroups++] = (gid_t)parse_number("--groups", g, UINT_MAX - 1);
	}
}

/* Options that say how the command runs, shared by container and exec. */
enum { OPT_CWD = 1000, OPT_UID, OPT_GID, OPT_GROUPS, OPT_NO_NEW_PRIVS };
#define COMMAND_OPTIONS \
	{ "cwd", required_argument, NULL, OPT_CWD }, \
	{ "uid", required_argument, NULL, OPT_UID }, \
	{ "gid", required_argument, NULL, OPT_GID }, \
	{ "groups", required_argument, NULL, OPT_GROUPS }, \
	{ "no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS }

static bool parse_command_option(struct command *c, int opt, bool *uid_set, bool *gid_set)
{
	switch (opt) {
	case OPT_CWD: c->cwd = optarg; return true;
	case OPT_UID: c->uid = (uid_t)parse_number("--uid", optarg, UINT_MAX - 1); *uid_set = true; return true;
	case OPT_GID: c->gid = (gid_t)parse_number("--gid", optarg, UINT_MAX - 1); *gid_set = true; return true;
	case OPT_GROUPS: parse_groups(c, optarg); c->set_ids = true; return true;
	case OPT_NO_NEW_PRIVS: c->no_new_privs = true; return true;
	default: return false;
	}
}

/* --uid alone keeps gid 0, --gid alone keeps uid 0: spell out both for a non-root user. */
static void finish_ids(struct command *c, bool uid_set, bool gid_set)
{
	if (uid_set || gid_set)
		c->set_ids = true;
}

static void parse_container_args(int argc, char **argv, struct container_opts *o)
{
	enum { OPT_NET = 1, OPT_IPC, OPT_UTS, OPT_CGROUP, OPT_STATE, OPT_LOG, OPT_LOG_SIZE, OPT_LOG_FILES, OPT_STDIN,
	       OPT_NOTIFY, OPT_ROOTFS, OPT_HOST_ROOTFS, OPT_IMAGE, OPT_UPPER, OPT_WORK, OPT_RO_ROOTFS, OPT_HIDE,
	       OPT_SHM, OPT_BIND, OPT_TMPFS };
	static const struct option options[] = {
		{ "net", required_argument, NULL, OPT_NET },
		{ "ipc", required_argument, NULL, OPT_IPC },
		{ "uts", required_argument, NULL, OPT_UTS },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-max-size", required_argument, NULL, OPT_LOG_SIZE },
		{ "log-max-files", required_argument, NULL, OPT_LOG_FILES },
		{ "stdin", no_argument, NULL, OPT_STDIN },
		{ "notify-fd", required_argument, NULL, OPT_NOTIFY },
		{ "rootfs", required_argument, NULL, OPT_ROOTFS },
		{ "host-rootfs", no_argument, NULL, OPT_HOST_ROOTFS },
		{ "image-rootfs", required_argument, NULL, OPT_IMAGE },
		{ "upper", required_argument, NULL, OPT_UPPER },
		{ "work", required_argument, NULL, OPT_WORK },
		{ "readonly-rootfs", no_argument, NULL, OPT_RO_ROOTFS },
		{ "hide", required_argument, NULL, OPT_HIDE },
		{ "shm", required_argument, NULL, OPT_SHM },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "tmpfs", required_argument, NULL, OPT_TMPFS },
		COMMAND_OPTIONS,
		{ 0 },
	};
	bool uid_set = false, gid_set = false;
	int opt;
	struct rootfs_opts *r = &o->rootfs;
	o->cmd.out_fd = o->cmd.err_fd = -1;
	o->log_max_files = 1;
	o->notify_fd = -1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (parse_command_option(&o->cmd, opt, &uid_set, &gid_set))
			continue;
		switch (opt) {
		case OPT_NET: case OPT_IPC: case OPT_UTS: o->ns_paths[opt - OPT_NET] = optarg; break;
		case OPT_CGROUP:
			if (o->ncgroups == MAX_CGROUPS)
				usage_error("more than %d --cgroup", MAX_CGROUPS);
			o->cgroups[o->ncgroups++] = optarg;
			break;
		case OPT_STATE: o->state_dir = optarg; break;
		case OPT_LOG: o->log_path = optarg; break;
		case OPT_LOG_SIZE: o->log_max_size = parse_number("--log-max-size", optarg, ULONG_MAX); break;
		case OPT_LOG_FILES: o->log_max_files = parse_number("--log-max-files", optarg, 1000); break;
		case OPT_STDIN: o->cmd.keep_stdin = true; break;
		case OPT_NOTIFY: o->notify_fd = (int)parse_number("--notify-fd", optarg, INT_MAX); break;
		case OPT_ROOTFS: r->dir = optarg; break;
		case OPT_HOST_ROOTFS: r->host = true; break;
		case OPT_IMAGE: r->lower = optarg; break;
		case OPT_UPPER: r->upper = optarg; break;
		case OPT_WORK: r->work = optarg; break;
		case OPT_RO_ROOTFS: r->readonly = true; break;
		case OPT_SHM: r->shm = optarg; break;
		case OPT_HIDE:
			if (r->nhide == MAX_HIDE)
				usage_error("more than %d --hide", MAX_HIDE);
			r->hide[r->nhide++] = optarg;
			break;
		case OPT_BIND: case OPT_TMPFS: parse_mount(r, opt == OPT_TMPFS, optarg); break;
		default: usage_error("unknown option");
		}
	}
	finish_ids(&o->cmd, uid_set, gid_set);
	if (optind >= argc)
		usage_error("no command given (container [OPTIONS] -- CMD [ARG...])");
	if (o->log_max_files < 1)
		usage_error("--log-max-files must be at least 1");
	if (r->dir && !r->host && (!r->lower || !r->upper || !r->work))
		usage_error("--rootfs needs --host-rootfs, or --image-rootfs, --upper and --work");
	if (!r->dir && (r->host || r->lower || r->nmounts || r->nhide || r->shm))
		usage_error("filesystem options need --rootfs DIR");
	o->cmd.argv = argv + optind;
}

static int container_main(int argc, char **argv)
{
	whoami = "podd-init container";
	struct container_opts o = { 0 };
	struct run run = { .state_dir = -1 };
	parse_container_args(argc, argv, &o);

	/* Outlive the caller: our own session keeps a Ctrl-C or a hangup aimed at
	 * the daemon's terminal away from us, and a write to a stdout whose reader
	 * died must fail with EPIPE, not kill us. setsid fails only when we already
	 * lead a process group (started as a shell job); then we stay in the
	 * caller's session, which a shell user asked for. */
	setsid();
	sigaction(SIGPIPE, &(struct sigaction){ .sa_handler = SIG_IGN }, &original_sigpipe);
	if (o.notify_fd >= 0) {
		/* Keep the notice pipe, and keep it out of every exec: only the
		 * monitor may hold it, or its end of file would come late. */
		if (o.notify_fd < 3 || fcntl(o.notify_fd, F_SETFD, FD_CLOEXEC) < 0)
			die(EXIT_SETUP, "--notify-fd %d: %s", o.notify_fd, o.notify_fd < 3 ? "must be 3 or more" : strerror(errno));
		if (o.notify_fd > 3)
			close_fd_range(3, (unsigned)o.notify_fd - 1, 0);
		close_fd_range((unsigned)o.notify_fd + 1, ~0U, 0);
	} else {
		close_inherited_fds();
	}

	if (o.state_dir) {
		run.state_dir = open(o.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (run.state_dir < 0)
			die(EXIT_SETUP, "open state dir %s: %s", o.state_dir, strerror(errno));
	}
	now_rfc3339(run.started_at);   /* replaced by the time of exec once it succeeds */

	struct log_file log = { .path = o.log_path, .fd = -1, .max_size = o.log_max_size, .max_files = o.log_max_files };
	/* Static, not on the stack: an initialised local would touch all 128 kB of
	 * line buffers up front; in .bss a page costs memory only once a line
	 * that long has been seen. */
	static struct log_stream out, err;
	out.name = "stdout", out.fd = -1;
	err.name = "stderr", err.fd = -1;
	if (o.log_path) {
		open_log(&log);
		if (log.fd < 0)
			monitor_start_error(&run, "open log %s: %s", o.log_path, strerror(errno));
		int p1[2], p2[2];
		if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0)
			monitor_start_error(&run, "pipe: %s", strerror(errno));
		out.fd = p1[0], o.cmd.out_fd = p1[1];
		err.fd = p2[0], o.cmd.err_fd = p2[1];
	}

	/* Join the pod's namespaces. All are opened first so that a bad path
	 * fails before we have changed anything. */
	static const char *const ns_names[3] = { "net", "ipc", "uts" };
	int ns_fds[3];
	for (int i = 0; i < 3; i++) {
		ns_fds[i] = o.ns_paths[i] ? open(o.ns_paths[i], O_RDONLY | O_CLOEXEC) : -1;
		if (o.ns_paths[i] && ns_fds[i] < 0)
			monitor_start_error(&run, "open %s namespace %s: %s", ns_names[i], o.ns_paths[i], strerror(errno));
	}
	for (int i = 0; i < 3; i++) {
		if (ns_fds[i] >= 0 && setns(ns_fds[i], 0) < 0)
			monitor_start_error(&run, "join %s namespace %s: %s", ns_names[i], o.ns_paths[i], strerror(errno));
		if (ns_fds[i] >= 0)
			close(ns_fds[i]);
	}

	/* Our next child is PID 1 of a new PID namespace; we stay in ours. */
	if (unshare(CLONE_NEWPID) < 0)
		monitor_start_error(&run, "unshare PID namespace: %s", strerror(errno));

	int chan[2], status_pipe[2];
	make_channel(chan);
	if (pipe2(status_pipe, O_CLOEXEC) < 0)
		monitor_start_error(&run, "pipe: %s", strerror(errno));
	int sigfd = block_all_signals();

	run.pid1 = fork_into_cgroup(&o);
	if (run.pid1 < 0)
		monitor_start_error(&run, "fork: %s", strerror(errno));
	if (run.pid1 == 0) {
		close(chan[0]);
		close(status_pipe[0]);
		if (out.fd >= 0) {
			close(out.fd);
			close(err.fd);
		}
		if (run.state_dir >= 0)
			close(run.state_dir);
		if (log.fd >= 0)
			close(log.fd);
		if (o.notify_fd >= 0)
			close(o.notify_fd);
		container_pid1(&o, sigfd, chan[1], status_pipe[1]);
	}
	close(chan[1]);
	close(status_pipe[1]);
	if (out.fd >= 0) {
		close(o.cmd.out_fd);
		close(o.cmd.err_fd);
	}

	/* The monitor loop: relay signals, log output, learn of the start, until
	 * PID 1 has exited and every writer of our pipes is gone. */
	int pid1_status = 0;
	bool pid1_done = false, started = false;
	int chan_fd = chan[0];
	while (!pid1_done || chan_fd >= 0 || out.fd >= 0 || err.fd >= 0) {
		struct pollfd fds[4] = {
			{ .fd = pid1_done ? -1 : sigfd, .events = POLLIN },
			{ .fd = chan_fd, .events = POLLIN },
			{ .fd = out.fd, .events = POLLIN },
			{ .fd = err.fd, .events = POLLIN },
		};
		if (NO_EINTR(poll(fds, 4, -1)) < 0)
			die(EXIT_SETUP, "poll: %s", strerror(errno));

		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (NO_EINTR(read(sigfd, &si, sizeof si)) == (ssize_t)sizeof si) {
				int sig = (int)si.ssi_signo;
				if (sig == SIGCHLD) {
					/* Our only child is PID 1: wait for it by pid, never -1. */
					if (NO_EINTR(waitpid(run.pid1, &pid1_status, WNOHANG)) == run.pid1)
						pid1_done = true;
				} else if (!is_fault_signal(sig) && run.pid1 > 1) {
					kill(run.pid1, sig);
				}
			}
		}
		if (fds[1].revents) {
			char msg[MSG_MAX];
			pid_t sender = 0;
			ssize_t n = channel_recv(chan_fd, msg, sizeof msg, &sender);
			if (n > 0 && msg[0] == 'S')
				run.cmd_pid = sender;
			else if (n > 0 && msg[0] == 'E' && !run.start_error[0])
				snprintf(run.start_error, sizeof run.start_error, "%s", msg + 1);
			else if (n <= 0) {
				/* End of file: execve closed the last writer, or everyone died. */
				close(chan_fd);
				chan_fd = -1;
				if (!run.start_error[0] && run.cmd_pid > 0) {
					started = true;
					now_rfc3339(run.started_at);
					record_start(&run, o.notify_fd);
					o.notify_fd = -1;
				}
			}
		}
		if (out.fd >= 0 && fds[2].revents)
			drain_stream(&log, &out);
		if (err.fd >= 0 && fds[3].revents)
			drain_stream(&log, &err);
	}

	int exit_code = exit_code_of(pid1_status), sig = 0;
	if (WIFSIGNALED(pid1_status))
		sig = WTERMSIG(pid1_status);   /* PID 1 itself was killed (SIGKILL, OOM) */
	else if (NO_EINTR(read(status_pipe[0], &sig, sizeof sig)) != (ssize_t)sizeof sig)
		sig = 0;
	if (run.start_error[0])
		say("%s", run.start_error);
	else if (!started)
		snprintf(run.start_error, sizeof run.start_error, "container ended before its command started");
	record_exit(&run, exit_code, sig);
	return exit_code;
}

/* ------------------------------------------------------------------------ */
/* Role 4: exec                                                             */
/* ------------------------------------------------------------------------ */

/* Open what lies behind the container's /proc entries while the host's mounts
 * are ours, join its namespaces, fork into its PID namespace and cgroups, run
 * the command. Without --tty we wait on the signalfd and forward signals; with
 * --tty the pty is opened inside the container's mount namespace (its
 * /dev/ptmx), the command leads a session on the slave, and one poll loop
 * relays bytes between our stdio and the master beside the signalfd, so no
 * process on the host (the CLI included) is in the byte path but us. */

/* Namespaces in the order we enter them. The mount namespace comes last: it
 * changes our root, and the others are found through the host /proc. The PID
 * namespace only applies to children, hence the fork below. */
static const char *const exec_ns_order[] = { "cgroup", "ipc", "uts", "net", "time", "pid", "mnt" };

/* Open DIR/cgroup.procs for each line of /proc/PID/cgroup, so that the command
 * can join them after we have left the host's mount namespace. */
static size_t open_cgroups_of(pid_t pid, const char *root, int *fds, size_t max)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		die(EXIT_EXEC_FAILED, "open %s: %s", path, strerror(errno));
	/* On a hybrid host the v2 tree is mounted at <root>/unified; on a v2-only host at <root> itself. */
	snprintf(path, sizeof path, "%s/cgroup.controllers", root);
	bool unified_at_root = access(path, F_OK) == 0;

	size_t n = 0;
	char line[PATH_MAX];
	while (n < max && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *controllers = strchr(line, ':');
		char *cgroup = controllers ? strchr(controllers + 1, ':') : NULL;
		if (!cgroup)
			continue;
		*controllers++ = '\0';
		*cgroup++ = '\0';
		if (*controllers == '\0')
			snprintf(path, sizeof path, "%s%s%s/cgroup.procs", root, unified_at_root ? "" : "/unified", cgroup);
		else if (strncmp(controllers, "name=", 5) == 0)
			snprintf(path, sizeof path, "%s/%s%s/cgroup.procs", root, controllers + 5, cgroup);
		else
			snprintf(path, sizeof path, "%s/%s%s/cgroup.procs", root, controllers, cgroup);
		fds[n] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[n] < 0)
			die(EXIT_EXEC_FAILED, "open %s: %s", path, strerror(errno));
		n++;
	}
	fclose(f);
	return n;
}

/* The command of `kubectl exec` sees the container's environment, not the
 * caller's: PID 1 was started with it (the monitor passes its own on), so it
 * is read from /proc/PID/environ while the host's /proc is still ours. With a
 * terminal, TERM is the caller's (what it types on), as the CRI sets TERM for
 * a tty; without one there is no terminal to name, and TERM is whatever the
 * container itself has. */
static void use_environment_of(pid_t pid, const char *term)
{
	static char buf[256 * 1024];
	static char *env[2048];
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_EXEC_FAILED, "open %s: %s", path, strerror(errno));
	size_t len = 0;
	for (ssize_t n; len < sizeof buf - 1 && (n = NO_EINTR(read(fd, buf + len, sizeof buf - 1 - len))) != 0; len += (size_t)n)
		if (n < 0)
			die(EXIT_EXEC_FAILED, "read %s: %s", path, strerror(errno));
	close(fd);
	buf[len] = '\0';
	size_t n = 0;
	for (char *p = buf; p < buf + len && n < ARRAY_LEN(env) - 2; p += strlen(p) + 1)
		if (*p && !(term && strncmp(p, "TERM=", 5) == 0))
			env[n++] = p;
	static char term_var[256];
	if (term && snprintf(term_var, sizeof term_var, "TERM=%s", term) < (int)sizeof term_var)
		env[n++] = term_var;
	env[n] = NULL;
	environ = env;
}

/* HOME, when the environment has none, as runc sets it: the home directory of
 * UID in the container's /etc/passwd (so call this inside its mount
 * namespace), else "/". The file is the container's to shape: a FIFO there
 * must not hang us (O_NONBLOCK, regular files only), and an overlong line is
 * skipped whole. supervisor/passwd.ts parses the same way for the container's
 * own environment. */
static void default_home(uid_t uid)
{
	if (getenv("HOME"))
		return;
	static char home[PATH_MAX];
	snprintf(home, sizeof home, "/");
	int fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	FILE *f = fd < 0 ? NULL : fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
	if (!f && fd >= 0)
		close(fd);
	char line[4096];
	bool skipping = false;
	while (f && fgets(line, sizeof line, f)) {
		bool whole = strchr(line, '\n') || feof(f);
		if (skipping || !whole) {
			skipping = !whole;
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		char *field[7];
		size_t n = 0;
		for (char *p = line, *next; n < ARRAY_LEN(field) && p; p = next, n++) {
			next = strchr(p, ':');
			if (next)
				*next++ = '\0';
			field[n] = p;
		}
		if (n < 6 || !isdigit((unsigned char)field[2][0]))
			continue;
		char *end;
		errno = 0;
		unsigned long id = strtoul(field[2], &end, 10);
		if (*end || errno || id != uid)
			continue;
		if (field[5][0])
			snprintf(home, sizeof home, "%s", field[5]);
		break;
	}
	if (f)
		fclose(f);
	setenv("HOME", home, 1);
}

/* The caller's terminal while the command has one of its own: raw, so that
 * every key (^C, ^Z, ^D) reaches the command's terminal and means there what
 * it means on a local one, and as it was again when we exit, however we exit
 * (atexit covers die(); the signals that would kill us are blocked). */
static struct termios caller_termios;
static bool caller_termios_saved;

static void restore_caller_terminal(void)
{
	if (caller_termios_saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &caller_termios);
}

static void make_caller_terminal_raw(void)
{
	if (!caller_termios_saved) {
		if (tcgetattr(STDIN_FILENO, &caller_termios) < 0)
			return;   /* stdin is no terminal: nothing to switch */
		caller_termios_saved = true;
		atexit(restore_caller_terminal);
	}
	struct termios raw = caller_termios;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
		die(EXIT_EXEC_FAILED, "make the terminal raw: %s", strerror(errno));
}

/* The pty's size follows the caller's terminal; on a change the kernel sends
 * SIGWINCH to the pty's foreground process group. */
static void copy_window_size(int master)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* A pty from the container's own devpts instance (call this inside its mount
 * namespace), so that the command finds its terminal under the container's
 * /dev/pts, as `tty`, ttyname(3) and /dev/tty need. TIOCGPTPEER opens the
 * slave through the master rather than by a path the container could have
 * replaced. The slave belongs to the command's user, as a login terminal
 * does, so that it can open /dev/tty. Returns the master (non-blocking: it is
 * ours alone) and the slave in *slave. */
static int open_container_pty(const struct command *c, int *slave)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (master < 0)
		die(EXIT_EXEC_FAILED, "open the container's /dev/ptmx: %s", strerror(errno));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		die(EXIT_EXEC_FAILED, "unlock the container's /dev/ptmx: %s", strerror(errno));
	*slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		die(EXIT_EXEC_FAILED, "open the slave of the container's /dev/ptmx: %s", strerror(errno));
	if (c->set_ids && fchown(*slave, c->uid, (gid_t)-1) < 0)
		die(EXIT_EXEC_FAILED, "chown the container's pty to uid %u: %s", (unsigned)c->uid, strerror(errno));
	copy_window_size(master);
	return master;
}

/* Bytes on their way from one descriptor to the other. */
struct relay_buf {
	char data[16384];
	size_t off, len;
};

/* Writes what poll said there is room for; false when the reader is gone. */
static bool relay_write(int fd, struct relay_buf *b)
{
	ssize_t n = NO_EINTR(write(fd, b->data + b->off, b->len));
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n < 0)
		return false;
	b->off += (size_t)n;
	b->len -= (size_t)n;
	if (b->len == 0)
		b->off = 0;
	return true;
}

/* After the command has exited: what it wrote last may still be in the pty
 * (a read flushes the kernel's pending work first, so EAGAIN really means
 * empty). What its background jobs write later is not waited for: they get
 * SIGHUP when the master closes, as on any terminal whose session ended. The
 * bound keeps one that writes without pause from holding us here forever. */
static void drain_master(int master, struct relay_buf *out, bool out_open)
{
	for (int reads = 0; reads < 64; reads++) {
		while (out_open && out->len > 0) {
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			if (NO_EINTR(poll(&p, 1, -1)) < 0 || !relay_write(STDOUT_FILENO, out))
				out_open = false;
		}
		ssize_t n = NO_EINTR(read(master, out->data, sizeof out->data));
		if (n <= 0)
			return;
		out->off = 0;
		out->len = (size_t)n;
	}
}

/* With --tty: relay the caller's stdin to the pty and the pty to the caller's
 * stdout until the command exits, in one poll loop with the signalfd (no
 * timer, no busy loop: a side is polled only when there is room for what it
 * would give). At most one buffer per direction is in flight, so a command
 * that does not read its input still gets its output through. Returns the
 * command's wait status. */
static int relay_terminal(int sigfd, int master, pid_t pid)
{
	static struct relay_buf in, out;
	bool in_open = true, out_open = true, master_open = true;
	for (;;) {
		enum { SIG, IN, MASTER, OUT };
		struct pollfd p[4] = {
			[SIG] = { .fd = sigfd, .events = POLLIN },
			[IN] = { .fd = in_open && in.len == 0 ? STDIN_FILENO : -1, .events = POLLIN },
			[MASTER] = { .fd = -1, .events = (short)((out.len == 0 ? POLLIN : 0) | (in.len > 0 ? POLLOUT : 0)) },
			[OUT] = { .fd = out.len > 0 ? STDOUT_FILENO : -1, .events = POLLOUT },
		};
		/* No events, no descriptor: a hung-up master would report POLLHUP on every call. */
		if (master_open && p[MASTER].events)
			p[MASTER].fd = master;
		if (NO_EINTR(poll(p, ARRAY_LEN(p), -1)) < 0)
			die(EXIT_EXEC_FAILED, "poll: %s", strerror(errno));

		if (p[SIG].revents) {
			struct signalfd_siginfo si;
			if (NO_EINTR(read(sigfd, &si, sizeof si)) != (ssize_t)sizeof si)
				die(EXIT_EXEC_FAILED, "read signalfd: %s", strerror(errno));
			int sig = (int)si.ssi_signo, status;
			if (sig == SIGCHLD) {
				if (NO_EINTR(waitpid(pid, &status, WNOHANG)) == pid) {
					if (master_open)
						drain_master(master, &out, out_open);
					return status;
				}
			} else if (sig == SIGWINCH) {
				copy_window_size(master);
			} else {
				/* The command is not in our terminal's process group, so
				 * nothing reaches it by itself: forward whatever the sender. */
				if (sig == SIGCONT && caller_termios_saved) {
					make_caller_terminal_raw();   /* a shell may have reset it while we were stopped */
					copy_window_size(master);
				}
				kill(pid, sig);
			}
		}
		if (p[IN].revents) {
			ssize_t n = NO_EINTR(read(STDIN_FILENO, in.data, sizeof in.data));
			if (n > 0) {
				in.len = (size_t)n;
			} else {
				/* End of input (only a pipe has one; a terminal sends ^D as a
				 * byte): a reader in canonical mode sees it as EOF. */
				in_open = false;
				struct termios t;
				if (n == 0 && tcgetattr(master, &t) == 0 && (t.c_lflag & ICANON)) {
					in.data[0] = (char)t.c_cc[VEOF];
					in.len = 1;
				}
			}
		}
		if (p[MASTER].revents & POLLOUT) {
			if (!relay_write(master, &in))
				in.len = 0;   /* the terminal's input side is gone; so is what was typed */
		}
		/* No slave open any more: input has no reader, and polling for room for
		 * it would report the hangup on every call while stdout is full. */
		if (p[MASTER].revents & (POLLHUP | POLLERR))
			in.len = 0;
		if (out.len == 0 && (p[MASTER].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = NO_EINTR(read(master, out.data, sizeof out.data));
			if (n > 0 && out_open)
				out.len = (size_t)n;
			else if (n == 0 || (n < 0 && errno != EAGAIN))
				master_open = false;   /* EIO: no slave open any more; wait for the exit */
		}
		if (p[OUT].revents) {
			if (!relay_write(STDOUT_FILENO, &out)) {
				out_open = false;   /* our reader is gone: keep reading the pty so the command never blocks on it */
				out.len = 0;
			}
		}
	}
}

static int exec_main(int argc, char **argv)
{
	whoami = "podd-init exec";
	enum { OPT_PID = 1, OPT_CGROUP_ROOT, OPT_KEEP_ENV, OPT_TTY };
	static const struct option options[] = {
		{ "pid", required_argument, NULL, OPT_PID },
		{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
		{ "keep-env", no_argument, NULL, OPT_KEEP_ENV },
		{ "tty", no_argument, NULL, OPT_TTY },
		COMMAND_OPTIONS,
		{ 0 },
	};
	/* Without --tty the command stays in the caller's process group: a
	 * terminal's job control then treats it as the foreground job it is. */
	struct command c = { .out_fd = -1, .err_fd = -1, .chan = -1, .keep_stdin = true, .grouping = KEEP_GROUP, .tty_fd = -1 };
	const char *cgroup_root = "/sys/fs/cgroup";
	pid_t target = 0;
	bool uid_set = false, gid_set = false, keep_env = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (parse_command_option(&c, opt, &uid_set, &gid_set))
			continue;
		switch (opt) {
		case OPT_PID: target = (pid_t)parse_number("--pid", optarg, INT_MAX); break;
		case OPT_CGROUP_ROOT: cgroup_root = optarg; break;
		case OPT_KEEP_ENV: keep_env = true; break;
		case OPT_TTY: c.tty = true; break;
		default: usage_error("unknown option");
		}
	}
	finish_ids(&c, uid_set, gid_set);
	if (target <= 1)
		usage_error("--pid PID (the container's PID 1, as the host sees it) is required");
	if (optind >= argc)
		usage_error("no command given (exec --pid PID -- CMD [ARG...])");
	c.argv = argv + optind;
	/* The CRI's TERM for a terminal of unknown kind. */
	const char *term = getenv("TERM") && *getenv("TERM") ? getenv("TERM") : "xterm";

	/* Everything under /proc/PID and the cgroup tree is opened while we still
	 * see the host's mounts. Namespaces we already share are skipped. */
	int ns_fds[ARRAY_LEN(exec_ns_order)];
	for (size_t i = 0; i < ARRAY_LEN(exec_ns_order); i++) {
		char path[64], self[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, exec_ns_order[i]);
		snprintf(self, sizeof self, "/proc/self/ns/%s", exec_ns_order[i]);
		struct stat theirs, ours;
		ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (ns_fds[i] < 0 && errno == ENOENT && i != 0 && access(self, F_OK) < 0)
			continue;   /* this kernel lacks the kind (time namespaces are from 5.6) */
		if (ns_fds[i] < 0)
			die(EXIT_EXEC_FAILED, "open %s: %s", path, strerror(errno));
		if (fstat(ns_fds[i], &theirs) == 0 && stat(self, &ours) == 0 &&
		    theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
			close(ns_fds[i]);
			ns_fds[i] = -1;
		}
	}
	int cgroup_fds[MAX_CGROUPS];
	size_t ncgroups = open_cgroups_of(target, cgroup_root, cgroup_fds, MAX_CGROUPS);
	if (!keep_env)
		use_environment_of(target, c.tty ? term : NULL);
	else if (c.tty)
		setenv("TERM", term, 1);

	for (size_t i = 0; i < ARRAY_LEN(exec_ns_order); i++) {
		if (ns_fds[i] < 0)
			continue;
		if (setns(ns_fds[i], 0) < 0)
			die(EXIT_EXEC_FAILED, "join %s namespace of pid %d: %s", exec_ns_order[i], (int)target, strerror(errno));
		close(ns_fds[i]);
	}
	default_home(c.set_ids ? c.uid : getuid());
	int master = -1;
	if (c.tty) {
		master = open_container_pty(&c, &c.tty_fd);
		c.grouping = OWN_SESSION;   /* the pty's session, with the pty as its controlling terminal */
	}

	/* Only the signals we forward are blocked; the terminal's own signals
	 * (SIGINT from ^C, SIGWINCH) reach the command directly through the
	 * foreground process group, which it shares with us. */
	static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT };
	sigset_t set;
	sigprocmask(SIG_SETMASK, NULL, &original_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < ARRAY_LEN(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die(EXIT_EXEC_FAILED, "sigprocmask: %s", strerror(errno));
	sigaction(SIGPIPE, NULL, &original_sigpipe);
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0)
		die(EXIT_EXEC_FAILED, "signalfd: %s", strerror(errno));

	/* The command must die with us. A supervisor that gives up on an exec
	 * (a hook past its time limit) SIGKILLs this process only, and the kernel
	 * reparents our child to the init of *our* PID namespace (the host's),
	 * where it would run on unsupervised, holding the pipes of our stdout and
	 * stderr open so that nobody ever sees their end. The pipe closes the race
	 * of dying between fork and prctl: the child cannot see our pid (we are
	 * outside its PID namespace), but it sees the write end close. */
	int alive[2];
	if (pipe2(alive, O_CLOEXEC) < 0)
		die(EXIT_EXEC_FAILED, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die(EXIT_EXEC_FAILED, "fork into the PID namespace of pid %d: %s", (int)target, strerror(errno));
	if (pid == 0) {
		close(alive[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		struct pollfd parent = { .fd = alive[0], .events = POLLIN };
		if (NO_EINTR(poll(&parent, 1, 0)) != 0)
			_exit(EXIT_EXEC_FAILED);   /* the write end closed: we were orphaned already */
		for (size_t i = 0; i < ncgroups; i++) {
			if (NO_EINTR(write(cgroup_fds[i], "0", 1)) != 1)
				die(EXIT_EXEC_FAILED, "join cgroup of pid %d: %s", (int)target, strerror(errno));
		}
		exec_command(&c);   /* no channel: the command shares our stderr and reports there */
	}
	close(alive[0]);   /* alive[1] stays open until we exit */
	for (size_t i = 0; i < ncgroups; i++)
		close(cgroup_fds[i]);
	if (c.tty) {
		close(c.tty_fd);   /* the command holds the slave now: EIO on the master once it and its children are gone */
		signal(SIGPIPE, SIG_IGN);   /* a reader of our stdout that went away is an EPIPE, not our death with the terminal raw */
		make_caller_terminal_raw();
		return exit_code_of(relay_terminal(sigfd, master, pid));
	}

	for (;;) {
		struct signalfd_siginfo si;
		if (NO_EINTR(read(sigfd, &si, sizeof si)) != (ssize_t)sizeof si)
			die(EXIT_EXEC_FAILED, "read signalfd: %s", strerror(errno));
		if (si.ssi_signo == SIGCHLD) {
			int status;
			if (NO_EINTR(waitpid(pid, &status, WNOHANG)) == pid)
				return exit_code_of(status);
		} else if (si.ssi_code <= 0) {
			/* Sent by a process (kill, sigqueue); the kernel's own signals
			 * (si_code > 0, e.g. the terminal's) reached the command already. */
			kill(pid, (int)si.ssi_signo);
		}
	}
}

/* ------------------------------------------------------------------------ */

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
	if (strcmp(role, "--") == 0) {
		if (argc < 3)
			usage_error("no command given after --");
		return plain_main(argv + 2);
	}
	if (role[0] == '-')
		usage_error("unknown option \"%s\" (roles: sandbox, container, exec; or [--] CMD)", role);
	return plain_main(argv + 1);
}
