/* Role 4, `podd-init exec`: a command in a running container. */
#include "podd-init.h"

/* Open what lies behind the container's /proc entries while the host's mounts
 * are ours, join its namespaces, fork into its PID namespace and cgroups, run
 * the command. Without --tty we wait on the signalfd and forward signals; with
 * --tty the pty is opened inside the container's mount namespace (its
 * /dev/ptmx), the command leads a session on the slave, and one poll loop
 * relays bytes between our stdio and the master beside the signalfd, so no
 * process on the host (the CLI included) is in the byte path but us. */

/* Namespaces in the order we enter them. The mount namespace comes last: it
 * changes our root, and the others are found through the host /proc. The PID
 * namespace only applies to children, hence fork_command. */
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
	/* We are still the host's root: the user namespace's ids are the host's ones for them. */
	if (c->set_ids && fchown(*slave, (uid_t)host_id(c, c->uid), (gid_t)-1) < 0)
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
			read_signal(sigfd, &si, EXIT_EXEC_FAILED);
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

struct exec_opts {
	struct command cmd;
	pid_t target;              /* the container's PID 1, as the host sees it */
	const char *cgroup_root;
	bool keep_env;
};

static void parse_exec_args(int argc, char **argv, struct exec_opts *e)
{
	enum { OPT_PID = 1, OPT_CGROUP_ROOT, OPT_KEEP_ENV, OPT_TTY };
	static const struct option options[] = {
		{ "pid", required_argument, NULL, OPT_PID },
		{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
		{ "keep-env", no_argument, NULL, OPT_KEEP_ENV },
		{ "tty", no_argument, NULL, OPT_TTY },
		COMMAND_OPTIONS,
		{ 0 },
	};
	struct command *c = &e->cmd;
	bool uid_set = false, gid_set = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (parse_command_option(c, opt, &uid_set, &gid_set))
			continue;
		switch (opt) {
		case OPT_PID: e->target = (pid_t)parse_number("--pid", optarg, INT_MAX); break;
		case OPT_CGROUP_ROOT: e->cgroup_root = optarg; break;
		case OPT_KEEP_ENV: e->keep_env = true; break;
		case OPT_TTY: c->tty = true; break;
		default: usage_error("unknown option");
		}
	}
	finish_ids(c, uid_set, gid_set);
	if (e->target <= 1)
		usage_error("--pid PID (the container's PID 1, as the host sees it) is required");
	if (optind >= argc)
		usage_error("no command given (exec --pid PID -- CMD [ARG...])");
	c->argv = argv + optind;
}

/* Opens /proc/PID/ns/<kind> for each kind of exec_ns_order, while the host's
 * /proc is still ours; -1 for the kinds we already share and those this
 * kernel lacks. */
static void open_namespaces_of(pid_t pid, int ns_fds[ARRAY_LEN(exec_ns_order)])
{
	for (size_t i = 0; i < ARRAY_LEN(exec_ns_order); i++) {
		char path[64], self[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, exec_ns_order[i]);
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
}

static void join_namespaces_of(pid_t pid, const int ns_fds[ARRAY_LEN(exec_ns_order)])
{
	for (size_t i = 0; i < ARRAY_LEN(exec_ns_order); i++) {
		if (ns_fds[i] < 0)
			continue;
		if (setns(ns_fds[i], 0) < 0)
			die(EXIT_EXEC_FAILED, "join %s namespace of pid %d: %s", exec_ns_order[i], (int)pid, strerror(errno));
		close(ns_fds[i]);
	}
}

/* Only the signals we forward are blocked; the terminal's own signals
 * (SIGINT from ^C, SIGWINCH) reach the command directly through the
 * foreground process group, which it shares with us. Returns a signalfd for
 * them and SIGCHLD. */
static int block_forwarded_signals(void)
{
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
	return sigfd;
}

/* Forks into the container's PID namespace; the child joins the container's
 * cgroups and runs the command.
 *
 * The command must die with us. A supervisor that gives up on an exec
 * (a hook past its time limit) SIGKILLs this process only, and the kernel
 * reparents our child to the init of *our* PID namespace (the host's),
 * where it would run on unsupervised, holding the pipes of our stdout and
 * stderr open so that nobody ever sees their end. The pipe closes the race
 * of dying between fork and prctl: the child cannot see our pid (we are
 * outside its PID namespace), but it sees the write end close. */
static pid_t fork_command(const struct command *c, pid_t target, const int *cgroup_fds, size_t ncgroups)
{
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
		exec_command(c);   /* no channel: the command shares our stderr and reports there */
	}
	close(alive[0]);   /* alive[1] stays open until we exit */
	for (size_t i = 0; i < ncgroups; i++)
		close(cgroup_fds[i]);
	return pid;
}

/* Without --tty: wait for the command, forwarding what was sent to us.
 * Returns its wait status. */
static int wait_forwarding(int sigfd, pid_t pid)
{
	for (;;) {
		struct signalfd_siginfo si;
		read_signal(sigfd, &si, EXIT_EXEC_FAILED);
		if (si.ssi_signo == SIGCHLD) {
			int status;
			if (NO_EINTR(waitpid(pid, &status, WNOHANG)) == pid)
				return status;
		} else if (si.ssi_code <= 0) {
			/* Sent by a process (kill, sigqueue); the kernel's own signals
			 * (si_code > 0, e.g. the terminal's) reached the command already. */
			kill(pid, (int)si.ssi_signo);
		}
	}
}

int exec_main(int argc, char **argv)
{
	whoami = "podd-init exec";
	/* Without --tty the command stays in the caller's process group: a
	 * terminal's job control then treats it as the foreground job it is. */
	struct exec_opts e = {
		.cmd = { .out_fd = -1, .err_fd = -1, .chan = -1, .keep_stdin = true, .grouping = KEEP_GROUP, .tty_fd = -1 },
		.cgroup_root = "/sys/fs/cgroup",
	};
	struct command *c = &e.cmd;
	parse_exec_args(argc, argv, &e);
	open_userns(c, EXIT_EXEC_FAILED);
	/* The CRI's TERM for a terminal of unknown kind. */
	const char *term = getenv("TERM") && *getenv("TERM") ? getenv("TERM") : "xterm";

	/* Everything under /proc/PID and the cgroup tree is opened while we still
	 * see the host's mounts. */
	int ns_fds[ARRAY_LEN(exec_ns_order)];
	open_namespaces_of(e.target, ns_fds);
	int cgroup_fds[MAX_CGROUPS];
	size_t ncgroups = open_cgroups_of(e.target, e.cgroup_root, cgroup_fds, MAX_CGROUPS);
	if (!e.keep_env)
		use_environment_of(e.target, c->tty ? term : NULL);
	else if (c->tty)
		setenv("TERM", term, 1);

	join_namespaces_of(e.target, ns_fds);
	default_home(c->set_ids ? c->uid : getuid());
	int master = -1;
	if (c->tty) {
		master = open_container_pty(c, &c->tty_fd);
		c->grouping = OWN_SESSION;   /* the pty's session, with the pty as its controlling terminal */
	}

	int sigfd = block_forwarded_signals();
	pid_t pid = fork_command(c, e.target, cgroup_fds, ncgroups);
	if (c->tty) {
		close(c->tty_fd);   /* the command holds the slave now: EIO on the master once it and its children are gone */
		signal(SIGPIPE, SIG_IGN);   /* a reader of our stdout that went away is an EPIPE, not our death with the terminal raw */
		make_caller_terminal_raw();
		return exit_code_of(relay_terminal(sigfd, master, pid));
	}
	return exit_code_of(wait_forwarding(sigfd, pid));
}
