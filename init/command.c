/* Starting the command, in every role: the error channel that reports how the
 * start went, the forked child's steps up to execve, and the options that say
 * how the command runs. */
#include "podd-init.h"

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
void channel_send(int chan, const char *msg)
{
	if (chan >= 0 && NO_EINTR(send(chan, msg, strlen(msg), MSG_NOSIGNAL)) < 0) {
		/* The reader is gone (the monitor died); the exit code still tells. */
	}
}
/* Reads one message. Returns its length (0 at end of file, -1 on error); for
 * "S", *pid receives the sender's pid as seen from our PID namespace. */
ssize_t channel_recv(int chan, char *buf, size_t cap, pid_t *pid)
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

void make_channel(int chan[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0)
		die(EXIT_SETUP, "socketpair: %s", strerror(errno));
	int on = 1;
	if (setsockopt(chan[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
		die(EXIT_SETUP, "setsockopt SO_PASSCRED: %s", strerror(errno));
}

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

/* The kernel's bias for choosing this process when memory runs out, -1000 (never) to 1000 (first). */
static void write_oom_score_adj(int chan, int value)
{
	static const char path[] = "/proc/self/oom_score_adj";
	char text[16];
	int len = snprintf(text, sizeof text, "%d", value);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || NO_EINTR(write(fd, text, (size_t)len)) != len)
		setup_fail(chan, "write %s: %s", path, strerror(errno));
	close(fd);
}

/* Runs in the forked child; never returns. Every failure goes through the
 * channel and ends the child with the code its kind of failure calls for. */
void exec_command(const struct command *c)
{
	if (c->grouping == OWN_SESSION) {
		if (setsid() < 0)
			setup_fail(c->chan, "setsid: %s", strerror(errno));
		/* A session leader without a controlling terminal acquires the
		 * first one it is given with TIOCSCTTY; shells need one for job
		 * control (tcsetpgrp). */
		if (c->tty && (ioctl(c->tty_fd, TIOCSCTTY, 0) < 0 || dup2(c->tty_fd, STDIN_FILENO) < 0 ||
			       dup2(c->tty_fd, STDOUT_FILENO) < 0 || dup2(c->tty_fd, STDERR_FILENO) < 0))
			setup_fail(c->chan, "attach the terminal: %s", strerror(errno));
	} else if (c->grouping == OWN_GROUP) {
		/* Our own process group, so that forwarding to the group reaches
		 * nothing else; and the terminal's foreground, so the command can read
		 * it. tcsetpgrp from a background group is allowed here because
		 * SIGTTOU is still blocked; it fails harmlessly without a terminal. */
		setpgid(0, 0);
		if (isatty(STDIN_FILENO))
			tcsetpgrp(STDIN_FILENO, getpid());
	}

	if (c->out_fd >= 0 && (dup2(c->out_fd, STDOUT_FILENO) < 0 || dup2(c->err_fd, STDERR_FILENO) < 0))
		setup_fail(c->chan, "dup2 log pipe: %s", strerror(errno));
	if (!c->keep_stdin) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0)
			setup_fail(c->chan, "open /dev/null: %s", strerror(errno));
	}
	/* Mark, rather than close, descriptors >= 3: the channel must stay usable
	 * until execve, which then closes them all. */
	if (close_fd_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		close_fds_by_loop(c->chan);

	if (c->cwd && chdir(c->cwd) < 0)
		setup_fail(c->chan, "chdir %s: %s", c->cwd, strerror(errno));
	/* While CAP_SYS_RESOURCE is still held: lowering the score below zero takes it. */
	if (c->set_oom_score_adj)
		write_oom_score_adj(c->chan, c->oom_score_adj);
	/* Named from the host's side, before the user namespace; it takes hold at execve. */
	if (c->apparmor)
		set_apparmor_exec(c->chan, c->apparmor);
	/* hostUsers: false. After the score (lowering it takes CAP_SYS_RESOURCE of the host), before
	 * everything that the pod's user namespace governs: capabilities, filter, ids. The ids are
	 * then always set (set_ids): until then our uid is the host's root, which it does not map. */
	if (c->join_userns && setns(c->userns_fd, CLONE_NEWUSER) < 0)
		setup_fail(c->chan, "join the pod's user namespace: %s", strerror(errno));
	char err[MSG_MAX];
	if (c->limit_caps && limit_capabilities(c->caps, err, sizeof err))
		setup_fail(c->chan, "%s", err);
	/* Installing a filter takes no_new_privs or CAP_SYS_ADMIN. A process that
	 * becomes another uid without no_new_privs loses the capability with the
	 * setuid, so it installs the filter before (which must then allow the id
	 * calls, as every default profile does); otherwise the filter comes last,
	 * so that it governs nothing of ours but execve. */
	bool seccomp_early = c->seccomp && !c->no_new_privs && c->set_ids && c->uid != 0;
	if (seccomp_early && install_seccomp(c, err, sizeof err))
		setup_fail(c->chan, "%s", err);
	/* Supplementary groups and gid first: once the uid is dropped we may no longer change them. */
	if (c->set_ids) {
		if (setgroups(c->ngroups, c->groups) < 0)
			setup_fail(c->chan, "setgroups: %s", strerror(errno));
		if (setgid(c->gid) < 0)
			setup_fail(c->chan, "setgid %u: %s", (unsigned)c->gid, strerror(errno));
		if (setuid(c->uid) < 0)
			setup_fail(c->chan, "setuid %u: %s", (unsigned)c->uid, strerror(errno));
		/* A filter installed before these calls may answer them with a made-up
		 * success (SCMP_ACT_ERRNO with errno 0): the command must never run as
		 * someone other than it was told, root least of all. */
		uid_t r, e, sv;
		gid_t gr, ge, gs;
		if (getresuid(&r, &e, &sv) < 0 || getresgid(&gr, &ge, &gs) < 0 || r != c->uid || e != c->uid || sv != c->uid ||
		    gr != c->gid || ge != c->gid || gs != c->gid)
			setup_fail(c->chan, "the user is not %u:%u after setuid (refused by the seccomp profile?)", (unsigned)c->uid, (unsigned)c->gid);
	}

	/* After the ids are set (a setuid to root would need the bit clear) and before execve,
	 * which it governs: setuid files and file capabilities then grant nothing. */
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		setup_fail(c->chan, "set no_new_privs: %s", strerror(errno));
	restore_signals(c->grouping == OWN_SESSION);
	channel_send(c->chan, "S");
	/* After "S": a filter that forbids sendmsg must not cost the monitor the
	 * command's pid. An "E" after it still makes the run a StartError. */
	if (c->seccomp && !seccomp_early && install_seccomp(c, err, sizeof err))
		setup_fail(c->chan, "%s", err);
	execvp(c->argv[0], c->argv);

	char msg[MSG_MAX];
	int code = describe_exec_error(errno, c->argv[0], msg, sizeof msg);
	channel_fail(c->chan, "%s", msg);
	_exit(code);
}

pid_t spawn_command(const struct command *c)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		exec_command(c);
	return pid;
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

/* --caps HEX: a capability mask, bit N for capability N, as /proc/PID/status shows them. */
static unsigned long long strtoull_hex(const char *what, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || end == s || *end || s[0] == '-')
		usage_error("%s %s: want a hexadecimal capability mask", what, s);
	return v;
}

bool parse_command_option(struct command *c, int opt, bool *uid_set, bool *gid_set)
{
	switch (opt) {
	case OPT_CWD: c->cwd = optarg; return true;
	case OPT_UID: c->uid = (uid_t)parse_number("--uid", optarg, UINT_MAX - 1); *uid_set = true; return true;
	case OPT_GID: c->gid = (gid_t)parse_number("--gid", optarg, UINT_MAX - 1); *gid_set = true; return true;
	case OPT_GROUPS: parse_groups(c, optarg); c->set_ids = true; return true;
	case OPT_NO_NEW_PRIVS: c->no_new_privs = true; return true;
	case OPT_CAPS: c->caps = strtoull_hex("--caps", optarg); c->limit_caps = true; return true;
	case OPT_SECCOMP: load_seccomp(c, optarg); return true;
	case OPT_USERNS: c->userns = optarg; c->set_ids = true; return true;
	case OPT_APPARMOR:
		if (!*optarg || strlen(optarg) > 4095)
			usage_error("--apparmor: want a profile name of 1 to 4095 bytes");
		c->apparmor = optarg;
		return true;
	case OPT_USERNS_BASE: c->userns_base = parse_number("--userns-base", optarg, UINT_MAX - 65536); return true;
	case OPT_OOM_SCORE_ADJ:
		c->oom_score_adj = (int)parse_signed("--oom-score-adj", optarg, -1000, 1000);
		c->set_oom_score_adj = true;
		return true;
	default: return false;
	}
}

/* Opens the --userns pin while the host's paths are ours (after inherited
 * descriptors were closed); the command joins it (exec_command). */
void open_userns(struct command *c, int exit_code)
{
	if (!c->userns != !c->userns_base)
		usage_error("--userns and --userns-base go together");
	if (!c->userns)
		return;
	c->userns_fd = open(c->userns, O_RDONLY | O_CLOEXEC);
	if (c->userns_fd < 0)
		die(exit_code, "open user namespace %s: %s", c->userns, strerror(errno));
	c->join_userns = true;
}

unsigned long host_id(const struct command *c, unsigned long id)
{
	return c->userns ? c->userns_base + id : id;
}

/* --uid alone keeps gid 0, --gid alone keeps uid 0: spell out both for a non-root user. */
void finish_ids(struct command *c, bool uid_set, bool gid_set)
{
	if (uid_set || gid_set)
		c->set_ids = true;
}
