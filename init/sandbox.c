/* Role 2, `podd-init sandbox`: create the pod's namespaces and pin them with bind mounts. */
#include "podd-init.h"

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

int sandbox_main(int argc, char **argv)
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
