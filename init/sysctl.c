/* Role 6, `podd-init sysctl`: set a pod's sysctls inside its network and IPC namespaces, once
 * its network is set up. The CNI plugins made eth0 and may have set sysctls of their own; the
 * pod's come last and win, as runc applies a sandbox's sysctls after the CNI ADD. */
#include "podd-init.h"

#define MAX_SYSCTLS 128

/* A sysctl name as the API server accepts it: segments of [a-z0-9], with '-' and '_'
 * inside, joined by '.' or '/'. Nothing else may reach a path under /proc/sys. */
static bool valid_sysctl_name(const char *name, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool edge = i == 0 || i == len - 1 || name[i - 1] == '.' || name[i - 1] == '/' || name[i + 1] == '.' || name[i + 1] == '/';
		if (c == '.' || c == '/') {
			if (i == 0 || i == len - 1 || name[i - 1] == '.' || name[i - 1] == '/')
				return false;
		} else if (!alnum && (edge || (c != '-' && c != '_'))) {
			return false;
		}
	}
	return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The namespace a dotted sysctl name is set in: CLONE_NEWNET, CLONE_NEWIPC, or 0 when it is
 * not known to be namespaced (it would be the whole machine's). The kubelet's table. */
static int sysctl_namespace(const char *dotted)
{
	/* The kubelet's rule (and admission's): kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* are
	 * of the IPC namespace, net.* of the network namespace. */
	if (has_prefix(dotted, "net."))
		return CLONE_NEWNET;
	if (has_prefix(dotted, "fs.mqueue.") || has_prefix(dotted, "kernel.shm") || has_prefix(dotted, "kernel.msg") || strcmp(dotted, "kernel.sem") == 0)
		return CLONE_NEWIPC;
	return 0;
}

/* "NAME=VALUE" given as --sysctl; NAME in either form sysctl.d(5) allows. */
struct sysctl_setting {
	const char *arg;
	char dotted[254];    /* NAME with '.' separators ('/' inside a segment, as in eno2/100) */
	char path[272];      /* /proc/sys/NAME with '/' separators */
	const char *value;
};

static bool parse_sysctl(const char *arg, struct sysctl_setting *s)
{
	const char *eq = strchr(arg, '=');
	if (!eq || !valid_sysctl_name(arg, (size_t)(eq - arg)))
		return false;
	size_t len = (size_t)(eq - arg);
	s->arg = arg;
	s->value = eq + 1;
	/* The first separator says which form: with '/' first, '.' and '/' swap. */
	size_t first = strcspn(arg, "./");
	bool slashed = first < len && arg[first] == '/';
	for (size_t i = 0; i < len; i++) {
		char c = arg[i];
		if (slashed && (c == '.' || c == '/'))
			c = c == '.' ? '/' : '.';
		s->dotted[i] = c;
	}
	s->dotted[len] = '\0';
	char *p = s->path + snprintf(s->path, sizeof s->path, "/proc/sys/");
	for (size_t i = 0; i <= len; i++)
		p[i] = s->dotted[i] == '.' ? '/' : s->dotted[i] == '/' ? '.' : s->dotted[i];
	return true;
}

/* Writes the value into the sysctl's file. /proc/sys/net/... is the writer's network
 * namespace's, kernel.shm*... and fs/mqueue/... its IPC namespace's: ours, unshared.
 * *step says which call failed. */
static int write_sysctl(const struct sysctl_setting *s, const char **step)
{
	*step = "open";
	int fd = open(s->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	*step = "write";
	size_t len = strlen(s->value);
	ssize_t n = NO_EINTR(write(fd, s->value, len));
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Joins the namespace pinned at path: /proc/sys/net/... and the IPC sysctls are then its. */
static void join_pin(const char *path, int nstype)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("open %s: %s", path, strerror(errno));
		exit(1);
	}
	if (setns(fd, nstype) < 0) {
		say("setns %s: %s", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

int sysctl_main(int argc, char **argv)
{
	whoami = "podd-init sysctl";
	const char *net = NULL, *ipc = NULL;
	static struct sysctl_setting sysctls[MAX_SYSCTLS];
	size_t nsysctls = 0;
	static const struct option options[] = {
		{ "net", required_argument, NULL, 'n' },
		{ "ipc", required_argument, NULL, 'i' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'n': net = optarg; break;
		case 'i': ipc = optarg; break;
		default: usage_error("unknown option");
		}
	}
	for (int i = optind; i < argc; i++) {
		if (nsysctls == MAX_SYSCTLS)
			usage_error("more than %d sysctls", MAX_SYSCTLS);
		if (!parse_sysctl(argv[i], &sysctls[nsysctls]))
			usage_error("\"%s\": expected NAME=VALUE with a sysctl name such as net.ipv4.ip_local_port_range", argv[i]);
		nsysctls++;
	}
	if (nsysctls == 0)
		usage_error("nothing to do: give NAME=VALUE");
	/* A sysctl of a namespace not joined would be the host's. */
	for (size_t i = 0; i < nsysctls; i++) {
		int ns = sysctl_namespace(sysctls[i].dotted);
		if (ns == 0)
			usage_error("%s: not a namespaced sysctl", sysctls[i].dotted);
		if ((ns == CLONE_NEWNET && !net) || (ns == CLONE_NEWIPC && !ipc))
			usage_error("%s needs %s", sysctls[i].dotted, ns == CLONE_NEWNET ? "--net" : "--ipc");
	}
	if (net)
		join_pin(net, CLONE_NEWNET);
	if (ipc)
		join_pin(ipc, CLONE_NEWIPC);
	for (size_t i = 0; i < nsysctls; i++) {
		const char *step;
		if (write_sysctl(&sysctls[i], &step) < 0) {
			say("sysctl %s: %s %s: %s", sysctls[i].arg, step, sysctls[i].path, strerror(errno));
			return 1;
		}
	}
	return 0;
}
