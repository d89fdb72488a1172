/* What the command may do: its capability sets and its seccomp filter, set by
 * the forked child just before execve (command.c), and the few capabilities a
 * container's PID 1 keeps once the command runs. */
#include "podd-init.h"

/* From <linux/capability.h>, <linux/seccomp.h> and <linux/filter.h>, which
 * not every libc podd-init builds with provides. */
#define CAPABILITY_VERSION_3 0x20080522
#define CAP_KILL 5
#define CAP_LAST_KNOWN 40
#define SECCOMP_MODE_FILTER 2
#define BPF_MAXINSNS 4096
struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };
struct sock_fprog_classic { unsigned short len; struct bpf_insn_classic *filter; };

/* The highest capability this kernel knows; bits above it cannot be dropped
 * (PR_CAPBSET_DROP says EINVAL) and are not there to drop. */
static int last_cap(void)
{
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char buf[16];
	ssize_t n = fd < 0 ? -1 : NO_EINTR(read(fd, buf, sizeof buf - 1));
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return CAP_LAST_KNOWN;
	buf[n] = '\0';
	return atoi(buf);
}

static int set_caps(unsigned long long effective, unsigned long long permitted, unsigned long long inheritable)
{
	struct cap_header h = { .version = CAPABILITY_VERSION_3 };
	struct cap_data d[2] = {
		{ (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
		{ (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
	};
	return (int)syscall(SYS_capset, &h, d);
}

/* Drops every capability not in keep from the bounding set; NULL, or the reason in err. */
static const char *limit_bounding_set(unsigned long long keep, char *err, size_t len)
{
	int last = last_cap();
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
			snprintf(err, len, "drop capability %d from the bounding set: %s", cap, strerror(errno));
			return err;
		}
	}
	return NULL;
}

/* Limits what the command can ever hold to caps: the bounding set loses the
 * rest, the ambient and inheritable sets are emptied (nothing passes through
 * execve by inheritance, as the CRI runtimes have done since CVE-2022-24769).
 * Permitted and effective stay until execve, which the remaining steps need
 * (setuid, seccomp without no_new_privs); execve then gives root exactly the
 * bounding set and any other uid nothing, unless a file capability (bounded
 * by the same set) grants it. */
const char *limit_capabilities(unsigned long long caps, char *err, size_t len)
{
	if (limit_bounding_set(caps, err, len))
		return err;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(err, len, "clear the ambient capabilities: %s", strerror(errno));
		return err;
	}
	struct cap_header h = { .version = CAPABILITY_VERSION_3 };
	struct cap_data d[2];
	if (syscall(SYS_capget, &h, d) < 0 ||
	    set_caps(d[0].effective | (unsigned long long)d[1].effective << 32, d[0].permitted | (unsigned long long)d[1].permitted << 32, 0) < 0) {
		snprintf(err, len, "clear the inheritable capabilities: %s", strerror(errno));
		return err;
	}
	return NULL;
}

/* PID 1 signals the command and, at the end, everything left in its PID
 * namespace, whatever their uids: that needs CAP_KILL and nothing else. And
 * it is not dumpable: a container process of the same uid could otherwise
 * ptrace it (its capabilities are a subset of root's) and forge what it
 * tells the monitor; only CAP_SYS_PTRACE, which the container lacks unless
 * the manifest adds it, passes that check, and then finds no more in PID 1
 * than it has itself. */
const char *pid1_keep_only_kill(char *err, size_t len)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return snprintf(err, len, "make PID 1 not dumpable: %s", strerror(errno)), err;
	unsigned long long kill_only = 1ULL << CAP_KILL;
	if (limit_bounding_set(kill_only, err, len))
		return err;
	if (set_caps(kill_only, kill_only, 0) < 0)
		return snprintf(err, len, "keep only CAP_KILL in PID 1: %s", strerror(errno)), err;
	return NULL;
}

/* --seccomp FILE: a classic BPF program (struct sock_filter entries, as the
 * supervisor compiled them from the profile), read when the options are
 * parsed, that is before any namespace or root change hides the file. */
void load_seccomp(struct command *c, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(EXIT_SETUP, "open seccomp filter %s: %s", path, strerror(errno));
	size_t max = BPF_MAXINSNS * sizeof(struct bpf_insn_classic);
	if (st.st_size <= 0 || (size_t)st.st_size > max || st.st_size % sizeof(struct bpf_insn_classic) != 0)
		die(EXIT_SETUP, "seccomp filter %s: %lld bytes, want a multiple of %zu up to %zu", path, (long long)st.st_size, sizeof(struct bpf_insn_classic), max);
	struct bpf_insn_classic *prog = malloc((size_t)st.st_size);
	if (!prog)
		die(EXIT_SETUP, "seccomp filter %s: out of memory", path);
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = NO_EINTR(read(fd, (char *)prog + done, (size_t)st.st_size - done));
		if (n <= 0)
			die(EXIT_SETUP, "read seccomp filter %s: %s", path, n < 0 ? strerror(errno) : "short file");
		done += (size_t)n;
	}
	close(fd);
	c->seccomp = prog;
	c->seccomp_len = (unsigned short)(st.st_size / sizeof(struct bpf_insn_classic));
}

const char *install_seccomp(const struct command *c, char *err, size_t len)
{
	struct sock_fprog_classic prog = { .len = c->seccomp_len, .filter = c->seccomp };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		snprintf(err, len, "install the seccomp filter: %s", strerror(errno));
		return err;
	}
	return NULL;
}

/* Nothing at all, now and after any execve: for a process that only waits. */
const char *drop_all_capabilities(char *err, size_t len)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return snprintf(err, len, "make it not dumpable: %s", strerror(errno)), err;
	if (limit_bounding_set(0, err, len))
		return err;
	if (set_caps(0, 0, 0) < 0)
		return snprintf(err, len, "drop every capability: %s", strerror(errno)), err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return snprintf(err, len, "set no_new_privs: %s", strerror(errno)), err;
	return NULL;
}

/* --apparmor PROFILE: the profile the command is confined to from its execve on, as
 * aa_change_onexec(3) asks for it: through the LSM's own attribute file (Linux 5.8), else the
 * shared one. A profile the kernel has not loaded fails the write with ENOENT. */
void set_apparmor_exec(int chan, const char *profile)
{
	static const char *const paths[] = { "/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec" };
	char req[4200];
	int n = snprintf(req, sizeof req, "exec %s", profile);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && i == 0)
			continue;
		if (fd < 0)
			setup_fail(chan, "set the AppArmor profile %s: open %s: %s", profile, paths[i], strerror(errno));
		ssize_t w = NO_EINTR(write(fd, req, (size_t)n));
		int e = errno;
		close(fd);
		if (w != n)
			setup_fail(chan, "set the AppArmor profile %s: write %s: %s", profile, paths[i], w < 0 ? strerror(e) : "short write");
		return;
	}
}
