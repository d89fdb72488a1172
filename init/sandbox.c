/* Role 2, `podd-init sandbox`: create the pod's namespaces and pin them with bind mounts. */
#include "podd-init.h"

struct ns_pin {
	const char *kind;   /* name under /proc/self/ns */
	int flag;
	const char *path;   /* where to pin it; NULL: not wanted */
	bool created;       /* we created the file */
	bool mounted;
};

static pid_t pod_init = -1;

static void on_sigchld(int sig)
{
	(void)sig;
}

static void sandbox_undo(struct ns_pin *pins, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (pins[i].mounted && umount2(pins[i].path, MNT_DETACH) < 0)
			say("undo: umount %s: %s", pins[i].path, strerror(errno));
		if (pins[i].created && unlink(pins[i].path) < 0)
			say("undo: unlink %s: %s", pins[i].path, strerror(errno));
	}
}

#define sandbox_fail(pins, n, ...) do { say(__VA_ARGS__); sandbox_undo(pins, n); if (pod_init > 0) kill(pod_init, SIGKILL); return 1; } while (0)

/* PID 1 of a pod-wide PID namespace (shareProcessNamespace): it reaps what
 * reparents to it and does nothing else. It has an empty read-only root of
 * its own, no capabilities and is not dumpable, so that /proc/1 in a
 * container leads nowhere, not to the host's files. Signals from inside the
 * namespace cannot reach it (the kernel drops those a PID 1 has no handler
 * for, and its only handler is SIGCHLD's); the supervisor ends it with
 * SIGKILL, which ends the namespace and everything left in it. */
/* A child's setup failed (the pod init's, the user namespace's): the reason goes to the
 * sandbox on its pipe instead of "R". */
#define pod_init_fail(ready, ...) do { \
		char m_[MSG_MAX]; \
		int n_ = snprintf(m_, sizeof m_, "E" __VA_ARGS__); \
		if (NO_EINTR(write(ready, m_, n_ > 0 && (size_t)n_ < sizeof m_ ? (size_t)n_ : sizeof m_ - 1)) < 0) { \
			/* the sandbox is gone: nobody is left to tell */ \
		} \
		_exit(EXIT_SETUP); \
	} while (0)

static void pod_init_main(const char *const *cgroups, size_t ncgroups, int ready, pid_t owner, const struct ns_pin *pins, size_t npins)
{
	/* First, as a container's PID 1 does: the pod's cgroup kill then ends us too. */
	const char *unjoined = join_cgroups(cgroups, ncgroups);
	if (unjoined)
		pod_init_fail(ready, "join cgroup %s: %s", unjoined, strerror(errno));
	/* hostUsers: false: the pod's other namespaces are the owner's, made in its user
	 * namespace; we join them from the host's side, as the containers do. */
	for (size_t i = 0; owner > 0 && i < npins; i++) {
		if (!pins[i].path || pins[i].flag == CLONE_NEWPID || pins[i].flag == CLONE_NEWUSER)
			continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)owner, pins[i].kind);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, pins[i].flag) < 0)
			pod_init_fail(ready, "join the pod's %s namespace %s: %s", pins[i].kind, path, strerror(errno));
		close(fd);
	}
	setsid();
	if ((ready > 3 && close_fd_range(3, (unsigned)ready - 1, 0) < 0) || close_fd_range((unsigned)ready + 1, ~0U, 0) < 0)
		close_fds_by_loop(ready);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555") < 0 || chdir("/tmp") < 0 ||
	    syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0 ||
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		pod_init_fail(ready, "make the pod init's empty root: %s", strerror(errno));
	hide_command_line();
	char err[MSG_MAX];
	if (drop_all_capabilities(err, sizeof err))
		pod_init_fail(ready, "%s", err);
	/* The sandbox waits for this byte: without it the namespace has no init. */
	if (NO_EINTR(write(ready, "R", 1)) != 1)
		_exit(EXIT_SETUP);
	close(ready);
	sigset_t chld, none;
	sigemptyset(&none);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigaction(SIGCHLD, &(struct sigaction){ .sa_handler = on_sigchld }, NULL);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sigsuspend(&none);   /* returns after the SIGCHLD handler ran */
	}
}

/* Writes the pod init's pid and start time (field 22 of /proc/PID/stat) into
 * the record file, atomically: the supervisor ends exactly that process. */
static int write_pod_init_record(const char *path, pid_t pid)
{
	char dir[PATH_MAX], text[64];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return errno = EINVAL, -1;
	*slash = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	unsigned long long start = proc_start_time(pid);
	if (start == 0)
		return errno = ESRCH, -1;   /* gone, or /proc unreadable: a record without it could never end it */
	snprintf(text, sizeof text, "%d %llu\n", (int)pid, start);
	int rc = write_atomic(dfd, slash + 1, text);
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

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

/* The user namespace's child reports on its pipe as the pod init does: "U" (in
 * its user namespace), "R" (its namespaces made), or "E<why>" (pod_init_fail). */
/* hostUsers: false. The pod's other namespaces must belong to its user
 * namespace (so that root in a container holds capabilities in them and
 * nowhere else), so a child makes them all: its user namespace first, which
 * the sandbox, still root of the host, gives its id maps; then the others
 * from inside it. The sandbox then pins the child's namespaces, which it can
 * (its mount namespace is the host's), and lets the child go. */
static pid_t make_userns_child(int flags, const char *hostname, bool lo, int *to, int *from)
{
	int down[2], up[2];
	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		return -1;
	pid_t child = fork();
	if (child != 0) {
		close(down[0]);
		close(up[1]);
		*to = down[1];
		*from = up[0];
		return child;
	}
	close(down[1]);
	close(up[0]);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	char b;
	if (unshare(CLONE_NEWUSER) < 0)
		pod_init_fail(up[1], "unshare the user namespace: %s", strerror(errno));
	if (NO_EINTR(write(up[1], "U", 1)) != 1 || NO_EINTR(read(down[0], &b, 1)) != 1)
		_exit(EXIT_SETUP);
	if (unshare(flags) < 0)
		pod_init_fail(up[1], "unshare: %s", strerror(errno));
	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		pod_init_fail(up[1], "sethostname %s: %s", hostname, strerror(errno));
	if (lo && bring_up_loopback() < 0)
		pod_init_fail(up[1], "bring up lo: %s", strerror(errno));
	if (NO_EINTR(write(up[1], "R", 1)) != 1)
		_exit(EXIT_SETUP);
	NO_EINTR(read(down[0], &b, 1));   /* until the sandbox has pinned us */
	_exit(0);
}

/* Reads the child's next report; NULL when it is the one wanted, else why not. */
static const char *child_report(int from, char want, char *msg, size_t cap)
{
	ssize_t n = NO_EINTR(read(from, msg, cap - 1));
	msg[n > 0 ? n : 0] = '\0';
	if (n == 1 && msg[0] == want)
		return NULL;
	return n > 1 && msg[0] == 'E' ? msg + 1 : "it ended before it was ready";
}

/* "0 BASE 65536": the pod's 65536 ids, root first, at BASE on the host. */
static int write_id_maps(pid_t child, unsigned long base)
{
	char line[64], path[64];
	int len = snprintf(line, sizeof line, "0 %lu 65536\n", base);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", (int)child, i == 0 ? "uid_map" : "gid_map");
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || NO_EINTR(write(fd, line, (size_t)len)) != len) {
			int saved = errno;
			if (fd >= 0)
				close(fd);
			errno = saved;
			return -1;
		}
		close(fd);
	}
	return 0;
}

int sandbox_main(int argc, char **argv)
{
	whoami = "podd-init sandbox";
	struct ns_pin pins[] = {
		{ .kind = "net", .flag = CLONE_NEWNET },
		{ .kind = "ipc", .flag = CLONE_NEWIPC },
		{ .kind = "uts", .flag = CLONE_NEWUTS },
		{ .kind = "pid", .flag = CLONE_NEWPID },
		{ .kind = "user", .flag = CLONE_NEWUSER },
	};
	unsigned long userns_base = 0;
	const char *hostname = NULL, *pid_record = NULL;
	const char *cgroups[MAX_CGROUPS];
	size_t ncgroups = 0;
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, 'h' },
		{ "net", required_argument, NULL, 'n' },
		{ "ipc", required_argument, NULL, 'i' },
		{ "uts", required_argument, NULL, 'u' },
		{ "pid", required_argument, NULL, 'p' },
		{ "pid-record", required_argument, NULL, 'r' },
		{ "pid-cgroup", required_argument, NULL, 'c' },
		{ "userns", required_argument, NULL, 'U' },
		{ "userns-base", required_argument, NULL, 'B' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'h': hostname = optarg; break;
		case 'n': pins[0].path = optarg; break;
		case 'i': pins[1].path = optarg; break;
		case 'u': pins[2].path = optarg; break;
		case 'p': pins[3].path = optarg; break;
		case 'r': pid_record = optarg; break;
		case 'U': pins[4].path = optarg; break;
		case 'B': userns_base = parse_number("--userns-base", optarg, UINT_MAX - 65536); break;
		case 'c':
			if (ncgroups == MAX_CGROUPS)
				usage_error("more than %d --pid-cgroup", MAX_CGROUPS);
			cgroups[ncgroups++] = optarg;
			break;
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
	for (size_t i = 0; i < 4; i++)
		if (pins[i].path)
			flags |= pins[i].flag;
	if (!flags)
		usage_error("nothing to do: give at least one of --net, --ipc, --uts, --pid");
	if (!pins[3].path != !pid_record)
		usage_error("--pid and --pid-record go together");
	if (!pins[4].path != !userns_base)
		usage_error("--userns and --userns-base go together");

	pid_t owner = 0;   /* the child whose namespaces are pinned (hostUsers: false) */
	int to_owner = -1;
	if (pins[4].path) {
		int from;
		char msg[MSG_MAX];
		const char *why;
		/* The PID namespace is ours to make below: its PID 1 is our child, not the owner's. */
		owner = make_userns_child(flags & ~CLONE_NEWPID, hostname, pins[0].path != NULL, &to_owner, &from);
		if (owner < 0)
			sandbox_fail(pins, 0, "fork the namespaces' maker: %s", strerror(errno));
		if ((why = child_report(from, 'U', msg, sizeof msg)))
			sandbox_fail(pins, 0, "make the user namespace: %s", why);
		if (write_id_maps(owner, userns_base) < 0)
			sandbox_fail(pins, 0, "write the id maps of pid %d: %s", (int)owner, strerror(errno));
		if (NO_EINTR(write(to_owner, "M", 1)) != 1 || (why = child_report(from, 'R', msg, sizeof msg)))
			sandbox_fail(pins, 0, "make the namespaces in the user namespace: %s", why ? why : strerror(errno));
		close(from);
	} else if (unshare(flags) < 0)
		sandbox_fail(pins, 0, "unshare: %s", strerror(errno));
	if (!owner && hostname && sethostname(hostname, strlen(hostname)) < 0)
		sandbox_fail(pins, 0, "sethostname %s: %s", hostname, strerror(errno));
	if (!owner && pins[0].path && bring_up_loopback() < 0)
		sandbox_fail(pins, 0, "bring up lo: %s", strerror(errno));
	/* unshare(CLONE_NEWPID) moved only our children: the first is the new
	 * namespace's PID 1, in the pod's other namespaces too. */
	if (pins[3].path) {
		if (owner && unshare(CLONE_NEWPID) < 0)
			sandbox_fail(pins, 0, "unshare the PID namespace: %s", strerror(errno));
		int ready[2];
		if (pipe2(ready, O_CLOEXEC) < 0)
			sandbox_fail(pins, 0, "pipe: %s", strerror(errno));
		pod_init = fork();
		if (pod_init < 0)
			sandbox_fail(pins, 0, "fork the pod's init: %s", strerror(errno));
		if (pod_init == 0) {
			close(ready[0]);
			pod_init_main(cgroups, ncgroups, ready[1], owner, pins, ARRAY_LEN(pins));
		}
		close(ready[1]);
		char msg[MSG_MAX];
		ssize_t n = NO_EINTR(read(ready[0], msg, sizeof msg - 1));
		close(ready[0]);
		msg[n > 0 ? n : 0] = '\0';
		if (n != 1 || msg[0] != 'R')
			sandbox_fail(pins, 0, "start the pod's init: %s", n > 1 && msg[0] == 'E' ? msg + 1 : "it ended before it was ready");
	}

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
		if (p->flag == CLONE_NEWPID)
			snprintf(source, sizeof source, "/proc/%d/ns/pid", (int)pod_init);
		else if (owner)
			snprintf(source, sizeof source, "/proc/%d/ns/%s", (int)owner, p->kind);
		else
			snprintf(source, sizeof source, "/proc/self/ns/%s", p->kind);
		if (mount(source, p->path, NULL, MS_BIND, NULL) < 0)
			sandbox_fail(pins, i + 1, "mount %s: %s", p->path, strerror(errno));
		p->mounted = true;
	}
	if (pid_record && write_pod_init_record(pid_record, pod_init) < 0)
		sandbox_fail(pins, ARRAY_LEN(pins), "write %s: %s", pid_record, strerror(errno));
	if (owner) {
		close(to_owner);   /* pinned: the child may go */
		NO_EINTR(waitpid(owner, NULL, 0));
	}
	return 0;
}
