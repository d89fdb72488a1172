/* What every role uses: one-line diagnostics, numbers from the command line,
 * RFC 3339 times, closing inherited descriptors, signals into a signalfd, exit codes. */
#include "podd-init.h"

/* Built with musl where available (a static binary a tenth the size of a
 * static glibc one, and a smaller resident set in every container), else with
 * glibc. Neither has to wrap these: the raw system calls work with both. */
int close_fd_range(unsigned first, unsigned last, unsigned flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* "TERM" for SIGTERM: the kernel's names, for messages. */
const char *signal_abbrev(int sig)
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
const char *whoami = "podd-init";

/* Print one diagnostic line with a single write(2), so that lines from
 * several processes sharing a stderr never interleave mid-line. */
void say(const char *fmt, ...)
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

unsigned long parse_number(const char *what, const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || *s == '-')
		usage_error("%s: not a number in range: \"%s\"", what, s);
	return v;
}

long parse_signed(const char *what, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("%s: not a number from %ld to %ld: \"%s\"", what, min, max, s);
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

void now_rfc3339(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	format_time(&ts, out);
}

/* close_range(3, ~0U) exists since Linux 5.9; this loop keeps older kernels
 * working. Closes every descriptor >= 3 but keep (-1: none). */
void close_fds_by_loop(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
		if (fd != keep)
			close((int)fd);
}

/* Close every descriptor >= 3 we inherited. */
void close_inherited_fds(void)
{
	if (close_fd_range(3, ~0U, 0) < 0)
		close_fds_by_loop(-1);
}

/* The next signal from a signalfd; a failed read ends us with exit_code. */
void read_signal(int sigfd, struct signalfd_siginfo *si, int exit_code)
{
	ssize_t n = NO_EINTR(read(sigfd, si, sizeof *si));
	if (n != (ssize_t)sizeof *si)
		die(exit_code, "read signalfd: %s", n < 0 ? strerror(errno) : "short read");
}

/* Synchronous faults are raised by the kernel on the faulting thread itself and
 * are forced through even when blocked; one that reaches our signalfd was sent
 * with kill(2) by someone, and passing a fake SIGSEGV on would only confuse. */
bool is_fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

/* The mask and the SIGPIPE disposition we were started with; the command gets
 * them back just before exec so it starts as the spawner meant it to. */
sigset_t original_mask;
struct sigaction original_sigpipe;

/* Block every signal and return a signalfd for them. Called before the first
 * fork, so no signal can slip in between a child starting and us listening:
 * signals that arrive early wait in the queue. */
int block_all_signals(void)
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

int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_SETUP;
}

/* Write dir/name atomically: a reader sees the old file or the whole new one,
 * and after a crash never a torn one (temp file, fsync, rename, fsync dir). */
int write_atomic(int dirfd, const char *name, const char *text)
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
unsigned long long proc_start_time(pid_t pid)
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

/* Moves the caller into each cgroup directory; NULL on success, else the one it could not join. */
const char *join_cgroups(const char *const *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/cgroup.procs", dirs[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || NO_EINTR(write(fd, "0", 1)) != 1) {
			int saved = errno;
			if (fd >= 0)
				close(fd);
			errno = saved;
			return dirs[i];
		}
		close(fd);
	}
	return NULL;
}
