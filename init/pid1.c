/* Being PID 1 (roles 1 and 3): forward signals, reap every child, end what is
 * left. And role 3's PID 1: it joins the container's cgroups, makes its mount
 * namespace and filesystem, then supervises the command. */
#include "podd-init.h"

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

/* The PID-1 loop (roles 1 and 3): wait on the signalfd with no timeout, so an
 * idle container costs no wake-ups; reap on SIGCHLD, forward everything else.
 * When the command has exited, end what is left and return its wait status. */
int supervise(int sigfd, pid_t cmd)
{
	int cmd_status = 0;
	bool cmd_done = false;
	while (!cmd_done) {
		struct signalfd_siginfo si;
		read_signal(sigfd, &si, EXIT_SETUP);
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

struct arg_area arg_area;

/* Not PID 1 (the pod's PID namespace, the host's): nothing ends what is left
 * when we exit, and it would hold the log pipes open, so the monitor would
 * wait for ever. We kill it ourselves: every process of our own cgroup but
 * us, read from the cgroup directory we opened before entering the new root,
 * until none is left. Orphans come to us as the subreaper and are reaped. */
static bool in_cgroup(int cgroup_dir, long wanted)
{
	int fd = openat(cgroup_dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "re");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	long pid;
	bool found = false;
	while (!found && fscanf(f, "%ld", &pid) == 1)
		found = pid == wanted;
	fclose(f);
	return found;
}

static void end_the_rest(int cgroup_dir)
{
	long wait_ns = 1000000;
	for (;;) {
		int fd = openat(cgroup_dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
		FILE *f = fd < 0 ? NULL : fdopen(fd, "re");
		if (!f) {
			if (fd >= 0)
				close(fd);
			return;
		}
		int others = 0;
		long pid;
		while (fscanf(f, "%ld", &pid) == 1) {
			if (pid <= 0 || pid == getpid())
				continue;   /* 0: a process of another PID namespace, not ours to see */
			others++;
			/* With hostPID a pid is the host's: a pidfd names the process
			 * itself, and it is signalled only if the cgroup still lists it
			 * after the pidfd was taken, so a reused pid is never hit. */
			int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
			if (pidfd < 0)
				continue;   /* gone already */
			if (in_cgroup(cgroup_dir, pid))
				syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			close(pidfd);
		}
		fclose(f);
		if (others == 0)
			return;
		while (NO_EINTR(waitpid(-1, NULL, WNOHANG)) > 0)
			;
		/* Killed but not yet gone (exiting, or a zombie of a parent that is
		 * dying too): look again, less often the longer it takes. */
		nanosleep(&(struct timespec){ .tv_nsec = wait_ns }, NULL);
		if (wait_ns < 100000000)
			wait_ns *= 2;
	}
}

/* PID 1's command line names host paths (pins, layers, podd's roots) and is
 * readable inside the container as /proc/1/cmdline. Once the command runs,
 * nothing needs the options any more (they were parsed, the command has its
 * own copy), so it is replaced by "podd-init". */
void hide_command_line(void)
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
void container_pid1(struct container_opts *o, int sigfd, int chan, int status_fd)
{
	/* Step 1: join the cgroups before anything else, so that every process of
	 * the container, from the first fork on, is accounted and limited there. */
	const char *unjoined = o->cgroup_joined ? NULL : join_cgroups(o->cgroups, o->ncgroups);
	if (unjoined)
		setup_fail(chan, "join cgroup %s: %s", unjoined, strerror(errno));

	int cgroup_dir = -1;
	if (getpid() != 1 && o->ncgroups > 0 && (cgroup_dir = open(o->cgroups[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		setup_fail(chan, "open cgroup %s: %s", o->cgroups[0], strerror(errno));

	/* A container must not outlive its monitor: nobody would log it, relay
	 * signals to it or record its exit. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* In the pod's PID namespace or the host's we are not PID 1: the orphans
	 * of our command would go to someone else's init, so we reap them as a
	 * subreaper, and the cgroup kill ends what is left when we are done. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		setup_fail(chan, "prctl PR_SET_CHILD_SUBREAPER: %s", strerror(errno));

	/* Step 2: a mount namespace of our own, with nothing propagating back to
	 * the host (systemd makes / shared): our /proc must not appear there. This
	 * is done here, not in the monitor, so the monitor keeps the host's view:
	 * the host /proc (it reads /proc/<pid1>/stat) and the paths of its log. */
	if (unshare(CLONE_NEWNS) < 0)
		setup_fail(chan, "unshare mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		setup_fail(chan, "make / private: %s", strerror(errno));

	/* Step 3: the container's filesystem, entered with pivot_root, with its
	 * own /proc; or, without --rootfs, the host's files and our own /proc. */
	if (o->rootfs.dir) {
		char err[MSG_MAX];
		if (setup_rootfs(&o->rootfs, err, sizeof err))
			setup_fail(chan, "%s", err);
	} else if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		setup_fail(chan, "mount /proc: %s", strerror(errno));
	}

	/* Step 4: the command. */
	o->cmd.chan = chan;
	o->cmd.grouping = OWN_SESSION;
	pid_t pid = spawn_command(&o->cmd);
	if (pid < 0)
		setup_fail(chan, "fork: %s", strerror(errno));
	/* Before the channel goes: a PID 1 that cannot shed its capabilities
	 * must not supervise the command, which is ended and reported. */
	char err[MSG_MAX];
	if (pid1_keep_only_kill(err, sizeof err)) {
		kill(pid, SIGKILL);
		channel_fail(chan, "%s", err);
	}
	/* Keep no copy of the channel or the pipes: the monitor must see end of
	 * file on them when the command (and its children) are done with them. */
	close(chan);
	if (o->cmd.out_fd >= 0) {
		close(o->cmd.out_fd);
		close(o->cmd.err_fd);
	}

	hide_command_line();
	int status = supervise(sigfd, pid);
	if (cgroup_dir >= 0)
		end_the_rest(cgroup_dir);
	/* Tell the monitor which signal killed the command: from our exit code
	 * alone, 143 could be exit(143) or SIGTERM. */
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (NO_EINTR(write(status_fd, &sig, sizeof sig)) < 0) {
		/* The monitor is gone; nobody is left to tell. */
	}
	_exit(exit_code_of(status));
}
