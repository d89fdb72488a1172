/* Role 3, `podd-init container`: the monitor. It joins the pod's namespaces,
 * forks the container's PID 1 (pid1.c) into a new PID namespace, then logs the
 * command's output, relays signals to PID 1 and records the start and the exit. */
#include "podd-init.h"

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

/* A failure before PID 1 could be started: record it like any start error. */
#define monitor_start_error(run, ...) do { \
		snprintf((run)->start_error, sizeof (run)->start_error, __VA_ARGS__); \
		say("%s", (run)->start_error); \
		record_exit(run, EXIT_SETUP, 0); \
		exit(EXIT_SETUP); \
	} while (0)

/* --bind SRC:DST[:ro], --idmap-bind (the same, idmapped to --userns),
 * --image-volume LINKS:DST (idmapped too) and --tmpfs DST[:OPTIONS]; ':'
 * cannot appear in the paths. */
static void parse_mount(struct rootfs_opts *r, bool tmpfs, bool idmap, bool image_layers, char *arg)
{
	if (r->nmounts == MAX_MOUNTS)
		usage_error("more than %d mounts", MAX_MOUNTS);
	struct mount_spec *m = &r->mounts[r->nmounts++];
	m->tmpfs = tmpfs;
	m->idmap = idmap || image_layers;
	m->image_layers = image_layers;
	m->readonly = image_layers;
	char *save, *first = strtok_r(arg, ":", &save), *second = strtok_r(NULL, ":", &save);
	char *rest = strtok_r(NULL, "", &save);
	const char *target = tmpfs ? first : second;
	if (!first || !target || target[0] != '/')
		usage_error("%s %s: want %s", tmpfs ? "--tmpfs" : "--bind", arg, tmpfs ? "DST[:OPTIONS]" : "SRC:DST[:ro|rw[:SUBPATH]]");
	m->target = target;
	if (tmpfs) {
		m->options = second ? second : "mode=755";
	} else {
		m->source = first;
		/* SRC:DST[:ro|rw[:SUBPATH]] */
		char *mode = rest ? strtok_r(rest, ":", &save) : NULL;
		char *sub = mode ? strtok_r(NULL, "", &save) : NULL;
		m->readonly = m->readonly || (mode && strcmp(mode, "ro") == 0);
		if (mode && !m->readonly && strcmp(mode, "rw") != 0)
			usage_error("--bind %s: unknown option %s", arg, mode);
		if (sub && (sub[0] == '/' || sub[0] == '\0'))
			usage_error("--bind %s: the subpath must be relative", arg);
		m->subpath = sub;
	}
}

static void parse_container_args(int argc, char **argv, struct container_opts *o)
{
	enum { OPT_NET = 1, OPT_IPC, OPT_UTS, OPT_CGROUP, OPT_STATE, OPT_LOG, OPT_LOG_SIZE, OPT_LOG_FILES, OPT_STDIN,
	       OPT_NOTIFY, OPT_ROOTFS, OPT_HOST_ROOTFS, OPT_IMAGE, OPT_LAYERS, OPT_UPPER, OPT_WORK, OPT_RO_ROOTFS, OPT_HIDE,
	       OPT_SHM, OPT_BIND, OPT_IDMAP_BIND, OPT_IMAGE_VOLUME, OPT_TMPFS, OPT_PRIVILEGED, OPT_PID, OPT_HOST_PID };
	static const struct option options[] = {
		{ "net", required_argument, NULL, OPT_NET },
		{ "ipc", required_argument, NULL, OPT_IPC },
		{ "uts", required_argument, NULL, OPT_UTS },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "host-pid", no_argument, NULL, OPT_HOST_PID },
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
		{ "image-layers", required_argument, NULL, OPT_LAYERS },
		{ "upper", required_argument, NULL, OPT_UPPER },
		{ "work", required_argument, NULL, OPT_WORK },
		{ "readonly-rootfs", no_argument, NULL, OPT_RO_ROOTFS },
		{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
		{ "hide", required_argument, NULL, OPT_HIDE },
		{ "shm", required_argument, NULL, OPT_SHM },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "idmap-bind", required_argument, NULL, OPT_IDMAP_BIND },
		{ "image-volume", required_argument, NULL, OPT_IMAGE_VOLUME },
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
		case OPT_PID: o->pid_ns = optarg; break;
		case OPT_HOST_PID: o->host_pid = true; break;
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
		case OPT_LAYERS: r->layers_dir = optarg; break;
		case OPT_UPPER: r->upper = optarg; break;
		case OPT_WORK: r->work = optarg; break;
		case OPT_RO_ROOTFS: r->readonly = true; break;
		case OPT_PRIVILEGED: r->privileged = true; break;
		case OPT_SHM: r->shm = optarg; break;
		case OPT_HIDE:
			if (r->nhide == MAX_HIDE)
				usage_error("more than %d --hide", MAX_HIDE);
			r->hide[r->nhide++] = optarg;
			break;
		case OPT_BIND: case OPT_IDMAP_BIND: case OPT_IMAGE_VOLUME: case OPT_TMPFS:
			parse_mount(r, opt == OPT_TMPFS, opt == OPT_IDMAP_BIND, opt == OPT_IMAGE_VOLUME, optarg);
			break;
		default: usage_error("unknown option");
		}
	}
	finish_ids(&o->cmd, uid_set, gid_set);
	if (optind >= argc)
		usage_error("no command given (container [OPTIONS] -- CMD [ARG...])");
	if (o->pid_ns && o->host_pid)
		usage_error("--pid and --host-pid exclude each other");
	if (o->log_max_files < 1)
		usage_error("--log-max-files must be at least 1");
	if (r->lower && r->layers_dir)
		usage_error("--image-rootfs and --image-layers exclude each other");
	if (r->dir && !r->host && ((!r->lower && !r->layers_dir) || !r->upper || !r->work))
		usage_error("--rootfs needs --host-rootfs, or --image-rootfs or --image-layers, --upper and --work");
	if (!r->dir && (r->host || r->lower || r->layers_dir || r->nmounts || r->nhide || r->shm || r->privileged))
		usage_error("filesystem options need --rootfs DIR");
	for (size_t i = 0; i < r->nmounts; i++)
		if (r->mounts[i].idmap && !o->cmd.userns)
			usage_error("--idmap-bind and --image-volume need --userns");
	o->cmd.argv = argv + optind;
}

/* What the monitor holds while PID 1 runs. */
struct monitor {
	struct run run;
	int sigfd;
	int chan;                    /* read end of the error channel; -1 once at end of file */
	int status_fd;               /* read end of the pipe on which PID 1 names the command's signal */
	int notify_fd;               /* -1 once start.json's text went out */
	bool started;                /* the command was exec'd */
	struct log_file log;
	struct log_stream *out, *err;
};

/* Outlive the caller: our own session keeps a Ctrl-C or a hangup aimed at
 * the daemon's terminal away from us, and a write to a stdout whose reader
 * died must fail with EPIPE, not kill us. setsid fails only when we already
 * lead a process group (started as a shell job); then we stay in the
 * caller's session, which a shell user asked for. */
static void detach_from_caller(const struct container_opts *o)
{
	setsid();
	sigaction(SIGPIPE, &(struct sigaction){ .sa_handler = SIG_IGN }, &original_sigpipe);
	if (o->notify_fd >= 0) {
		/* Keep the notice pipe, and keep it out of every exec: only the
		 * monitor may hold it, or its end of file would come late. */
		if (o->notify_fd < 3 || fcntl(o->notify_fd, F_SETFD, FD_CLOEXEC) < 0)
			die(EXIT_SETUP, "--notify-fd %d: %s", o->notify_fd, o->notify_fd < 3 ? "must be 3 or more" : strerror(errno));
		if (o->notify_fd > 3)
			close_fd_range(3, (unsigned)o->notify_fd - 1, 0);
		close_fd_range((unsigned)o->notify_fd + 1, ~0U, 0);
	} else {
		close_inherited_fds();
	}
}

/* The log file, and a pipe for each of the command's stdout and stderr. */
static void open_log_pipes(struct container_opts *o, struct monitor *m)
{
	open_log(&m->log);
	if (m->log.fd < 0)
		monitor_start_error(&m->run, "open log %s: %s", o->log_path, strerror(errno));
	int p1[2], p2[2];
	if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0)
		monitor_start_error(&m->run, "pipe: %s", strerror(errno));
	m->out->fd = p1[0], o->cmd.out_fd = p1[1];
	m->err->fd = p2[0], o->cmd.err_fd = p2[1];
}

/* Join the pod's namespaces. All are opened first so that a bad path
 * fails before we have changed anything. */
static void join_pod_namespaces(const struct container_opts *o, struct run *run)
{
	static const char *const ns_names[3] = { "net", "ipc", "uts" };
	int ns_fds[3];
	for (int i = 0; i < 3; i++) {
		ns_fds[i] = o->ns_paths[i] ? open(o->ns_paths[i], O_RDONLY | O_CLOEXEC) : -1;
		if (o->ns_paths[i] && ns_fds[i] < 0)
			monitor_start_error(run, "open %s namespace %s: %s", ns_names[i], o->ns_paths[i], strerror(errno));
	}
	for (int i = 0; i < 3; i++) {
		if (ns_fds[i] >= 0 && setns(ns_fds[i], 0) < 0)
			monitor_start_error(run, "join %s namespace %s: %s", ns_names[i], o->ns_paths[i], strerror(errno));
		if (ns_fds[i] >= 0)
			close(ns_fds[i]);
	}
}

/* Forks PID 1 into a new PID namespace (we stay in ours), with the write ends
 * of the channel and the status pipe; the monitor keeps the read ends. PID 1
 * holds nothing of the monitor's own (state dir, log, notice pipe). */
static void start_pid1(struct container_opts *o, struct monitor *m)
{
	if (o->pid_ns) {
		/* The pod's: our next child is born there, beside the other containers. */
		int fd = open(o->pid_ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWPID) < 0)
			monitor_start_error(&m->run, "join PID namespace %s: %s", o->pid_ns, strerror(errno));
		close(fd);
	} else if (!o->host_pid && unshare(CLONE_NEWPID) < 0) {
		monitor_start_error(&m->run, "unshare PID namespace: %s", strerror(errno));
	}

	int chan[2], status_pipe[2];
	make_channel(chan);
	if (pipe2(status_pipe, O_CLOEXEC) < 0)
		monitor_start_error(&m->run, "pipe: %s", strerror(errno));
	m->sigfd = block_all_signals();

	m->run.pid1 = fork_into_cgroup(o);
	if (m->run.pid1 < 0)
		monitor_start_error(&m->run, "fork: %s", strerror(errno));
	if (m->run.pid1 == 0) {
		close(chan[0]);
		close(status_pipe[0]);
		if (m->out->fd >= 0) {
			close(m->out->fd);
			close(m->err->fd);
		}
		if (m->run.state_dir >= 0)
			close(m->run.state_dir);
		if (m->log.fd >= 0)
			close(m->log.fd);
		if (m->notify_fd >= 0)
			close(m->notify_fd);
		container_pid1(o, m->sigfd, chan[1], status_pipe[1]);
	}
	close(chan[1]);
	close(status_pipe[1]);
	if (m->out->fd >= 0) {
		close(o->cmd.out_fd);
		close(o->cmd.err_fd);
	}
	m->chan = chan[0];
	m->status_fd = status_pipe[0];
}

/* A signal for the monitor: on SIGCHLD, see whether PID 1 has exited (true,
 * with its wait status); anything else goes on to PID 1. */
static bool handle_signal(struct monitor *m, int *pid1_status)
{
	struct signalfd_siginfo si;
	if (NO_EINTR(read(m->sigfd, &si, sizeof si)) != (ssize_t)sizeof si)
		return false;
	int sig = (int)si.ssi_signo;
	if (sig == SIGCHLD)
		/* Our only child is PID 1: wait for it by pid, never -1. */
		return NO_EINTR(waitpid(m->run.pid1, pid1_status, WNOHANG)) == m->run.pid1;
	if (!is_fault_signal(sig) && m->run.pid1 > 1)
		kill(m->run.pid1, sig);
	return false;
}

/* A message on the error channel: the command's pid ("S"), the reason it did
 * not start ("E"), or end of file, when the start is recorded. */
static void handle_channel(struct monitor *m)
{
	char msg[MSG_MAX];
	pid_t sender = 0;
	ssize_t n = channel_recv(m->chan, msg, sizeof msg, &sender);
	if (n > 0 && msg[0] == 'S')
		m->run.cmd_pid = sender;
	else if (n > 0 && msg[0] == 'E' && !m->run.start_error[0])
		snprintf(m->run.start_error, sizeof m->run.start_error, "%s", msg + 1);
	else if (n <= 0) {
		/* End of file: execve closed the last writer, or everyone died. */
		close(m->chan);
		m->chan = -1;
		if (!m->run.start_error[0] && m->run.cmd_pid > 0) {
			m->started = true;
			now_rfc3339(m->run.started_at);
			record_start(&m->run, m->notify_fd);
			m->notify_fd = -1;
		}
	}
}

/* The monitor loop: relay signals, log output, learn of the start, until
 * PID 1 has exited and every writer of our pipes is gone. Returns PID 1's
 * wait status. */
static int monitor_loop(struct monitor *m)
{
	int pid1_status = 0;
	bool pid1_done = false;
	while (!pid1_done || m->chan >= 0 || m->out->fd >= 0 || m->err->fd >= 0) {
		struct pollfd fds[4] = {
			{ .fd = pid1_done ? -1 : m->sigfd, .events = POLLIN },
			{ .fd = m->chan, .events = POLLIN },
			{ .fd = m->out->fd, .events = POLLIN },
			{ .fd = m->err->fd, .events = POLLIN },
		};
		if (NO_EINTR(poll(fds, 4, -1)) < 0)
			die(EXIT_SETUP, "poll: %s", strerror(errno));

		if ((fds[0].revents & POLLIN) && handle_signal(m, &pid1_status))
			pid1_done = true;
		if (fds[1].revents)
			handle_channel(m);
		if (m->out->fd >= 0 && fds[2].revents)
			drain_stream(&m->log, m->out);
		if (m->err->fd >= 0 && fds[3].revents)
			drain_stream(&m->log, m->err);
	}
	return pid1_status;
}

/* exit.json from PID 1's wait status and the signal it reported; returns the
 * monitor's exit code, which is PID 1's. */
static int record_end(struct monitor *m, int pid1_status)
{
	int exit_code = exit_code_of(pid1_status), sig = 0;
	if (WIFSIGNALED(pid1_status))
		sig = WTERMSIG(pid1_status);   /* PID 1 itself was killed (SIGKILL, OOM) */
	else if (NO_EINTR(read(m->status_fd, &sig, sizeof sig)) != (ssize_t)sizeof sig)
		sig = 0;
	if (m->run.start_error[0])
		say("%s", m->run.start_error);
	else if (!m->started)
		snprintf(m->run.start_error, sizeof m->run.start_error, "container ended before its command started");
	record_exit(&m->run, exit_code, sig);
	return exit_code;
}

int container_main(int argc, char **argv)
{
	whoami = "podd-init container";
	struct container_opts o = { 0 };
	parse_container_args(argc, argv, &o);
	detach_from_caller(&o);
	open_userns(&o.cmd, EXIT_SETUP);
	o.rootfs.userns_fd = o.cmd.join_userns ? o.cmd.userns_fd : -1;
	o.rootfs.owner_base = host_id(&o.cmd, 0);

	/* Static, not on the stack: an initialised local would touch all 128 kB of
	 * line buffers up front; in .bss a page costs memory only once a line
	 * that long has been seen. */
	static struct log_stream out, err;
	out.name = "stdout", out.fd = -1;
	err.name = "stderr", err.fd = -1;
	struct monitor m = {
		.run = { .state_dir = -1 },
		.chan = -1, .status_fd = -1, .notify_fd = o.notify_fd,
		.log = { .path = o.log_path, .fd = -1, .max_size = o.log_max_size, .max_files = o.log_max_files },
		.out = &out, .err = &err,
	};
	if (o.state_dir) {
		m.run.state_dir = open(o.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m.run.state_dir < 0)
			die(EXIT_SETUP, "open state dir %s: %s", o.state_dir, strerror(errno));
	}
	now_rfc3339(m.run.started_at);   /* replaced by the time of exec once it succeeds */
	if (o.log_path)
		open_log_pipes(&o, &m);

	join_pod_namespaces(&o, &m.run);
	start_pid1(&o, &m);
	return record_end(&m, monitor_loop(&m));
}
