/* The container's filesystem (--rootfs), built by its PID 1 in its own mount
 * namespace: the root, /proc and /sys, /dev, the volumes, then pivot_root. */
#include "podd-init.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

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


/* Makes the mount at path, and every mount below it, read-only in one call
 * (mount_setattr, Linux 5.12); a per-mount remount would race with nothing
 * here but would need the mount list, which this call walks for us. */
static int make_readonly_recursive(const char *path)
{
	struct podd_mount_attr attr = { .attr_set = PODD_MOUNT_ATTR_RDONLY };
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

/* hostUsers: false. The layer at path, as the pod's user namespace should see
 * it: a clone of its mount, idmapped to that namespace (file owner k on disk
 * shows as k inside), put over it (through the layers_dir symlink to it) in
 * this private mount namespace. The disk
 * keeps its owners; nothing is chowned. */
static const char *idmap_in_place(const char *path, int userns_fd, char *err, size_t errlen)
{
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, PODD_OPEN_TREE_CLONE | O_CLOEXEC);
	if (tree < 0)
		return failf(err, errlen, "open_tree %s: %s", path, strerror(errno));
	struct podd_mount_attr attr = { .attr_set = PODD_MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)userns_fd };
	const char *e = NULL;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		e = failf(err, errlen, "idmap %s to the pod's user namespace: %s%s", path, strerror(errno),
			  errno == EINVAL ? " (its filesystem cannot be idmapped on this kernel: hostUsers: false needs podd's state root on ext4, xfs or btrfs, or on tmpfs from Linux 6.3)" : "");
	else if (syscall(SYS_move_mount, tree, "", AT_FDCWD, path, PODD_MOVE_MOUNT_F_EMPTY_PATH | PODD_MOVE_MOUNT_T_SYMLINKS) < 0)
		e = failf(err, errlen, "move_mount onto %s: %s", path, strerror(errno));
	close(tree);
	return e;
}

/* overlayfs stacks at most this many lower layers (OVL_MAX_STACK). */
#define MAX_LAYERS 500

/* Mounts an overlay (options data, n lowers) on target (named `shown` in
 * messages), its lower layers named relative to links_dir, from which mount()
 * resolves them (see mount_layers). */
static const char *mount_overlay_from(const char *links_dir, const char *target, const char *shown, unsigned long flags, const char *data, int n, char *err, size_t errlen)
{
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return failf(err, errlen, "open the working directory: %s", strerror(errno));
	const char *e = NULL;
	if (chdir(links_dir) < 0)
		e = failf(err, errlen, "chdir %s: %s", links_dir, strerror(errno));
	else if (mount("overlay", target, "overlay", flags, data) < 0)
		e = failf(err, errlen, "mount overlay of %d layers (%s) on %s: %s", n, links_dir, shown, strerror(errno));
	if (fchdir(cwd) < 0 && !e)
		e = failf(err, errlen, "return to the working directory: %s", strerror(errno));
	close(cwd);
	return e;
}

/* An image of many layers: the lowers are the entries 0, 1, ... of layers_dir
 * (symlinks to the layer directories, top first), named relative to it. The
 * kernel reads mount options from one page, which some fifty absolute layer
 * paths would fill; short relative names, resolved from our working
 * directory while mount() runs, fit hundreds. */
static const char *mount_layers(const struct rootfs_opts *r, char *err, size_t errlen)
{
	char data[4096];
	size_t len = (size_t)snprintf(data, sizeof data, "lowerdir=");
	int n = 0;
	for (; n < MAX_LAYERS; n++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof path, "%s/%d", r->layers_dir, n);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			break;
		len += (size_t)snprintf(data + len, sizeof data - len, "%s%d", n ? ":" : "", n);
		if (r->userns_fd >= 0) {
			const char *e = idmap_in_place(path, r->userns_fd, err, errlen);
			if (e)
				return e;
		}
	}
	if (n == 0)
		return failf(err, errlen, "no layer 0 in %s", r->layers_dir);
	if (n == MAX_LAYERS)
		return failf(err, errlen, "more than %d layers in %s", MAX_LAYERS - 1, r->layers_dir);
	if (len + (size_t)snprintf(data + len, sizeof data - len, ",upperdir=%s,workdir=%s", r->upper, r->work) >= sizeof data)
		return failf(err, errlen, "overlay options too long (%d layers)", n);
	return mount_overlay_from(r->layers_dir, r->dir, r->dir, 0, data, n, err, errlen);
}

/* The host's root for an `image: host` container, as bubblewrap builds one: a
 * small tmpfs with each top-level entry of the host's / in it (directories and
 * files bound, recursively, symlinks made again), so that a volume can be
 * mounted on a path the host lacks (/data, /config) while the host's own
 * files stay as they are. /proc, /sys and /dev are left empty: the
 * container gets its own. */
static const char *bind_host_entries(const char *dir, char *err, size_t errlen)
{
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k") < 0)
		return failf(err, errlen, "mount the root tmpfs on %s: %s", dir, strerror(errno));
	DIR *d = opendir("/");
	if (!d)
		return failf(err, errlen, "read /: %s", strerror(errno));
	const char *e = NULL;
	for (struct dirent *de; !e && (de = readdir(d));) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		char from[PATH_MAX], to[PATH_MAX], target[PATH_MAX];
		struct stat st;
		if (snprintf(from, sizeof from, "/%s", n) >= (int)sizeof from || snprintf(to, sizeof to, "%s/%s", dir, n) >= (int)sizeof to)
			continue;   /* a top-level name that long is nothing a program looks for */
		if (lstat(from, &st) < 0)
			continue;   /* gone meanwhile */
		bool own = !strcmp(n, "proc") || !strcmp(n, "sys") || !strcmp(n, "dev");
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlink(from, target, sizeof target - 1);
			if (len < 0)
				continue;
			target[len] = '\0';
			if (symlink(target, to) < 0)
				e = failf(err, errlen, "symlink %s in the root: %s", to, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(to, st.st_mode & 07777) < 0)
				e = failf(err, errlen, "mkdir %s: %s", to, strerror(errno));
			else if (!own && mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
				e = failf(err, errlen, "bind %s on %s: %s", from, to, strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			int fd = open(to, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
			if (fd < 0)
				e = failf(err, errlen, "create %s: %s", to, strerror(errno));
			else {
				close(fd);
				if (mount(from, to, NULL, MS_BIND, NULL) < 0)
					e = failf(err, errlen, "bind %s on %s: %s", from, to, strerror(errno));
			}
		}
	}
	closedir(d);
	return e;
}

/* The new root: an overlay of the image with the container's own writable
 * layer, or the host's root, read-only, with podd's roots hidden. */
static const char *mount_root(const struct rootfs_opts *r, char *err, size_t errlen)
{
	if (!r->host) {
		if (r->layers_dir)
			return mount_layers(r, err, errlen);
		if (r->userns_fd >= 0)
			return failf(err, errlen, "a user namespace needs --image-layers");
		char data[3 * PATH_MAX + 64];
		if (snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", r->lower, r->upper, r->work) >= (int)sizeof data)
			return failf(err, errlen, "overlay options too long");
		if (mount("overlay", r->dir, "overlay", 0, data) < 0)
			return failf(err, errlen, "mount overlay on %s (lower %s): %s", r->dir, r->lower, strerror(errno));
		return NULL;
	}
	const char *e = bind_host_entries(r->dir, err, errlen);
	if (e)
		return e;
	const char *subs[3 + MAX_HIDE] = { "/proc", "/sys", "/dev" };
	size_t n = 3;
	for (size_t i = 0; i < r->nhide; i++)
		subs[n++] = r->hide[i];
	char at[PATH_MAX];
	if (detach_under(r->dir, subs, n, at, sizeof at) < 0)
		return failf(err, errlen, "detach the host's mount %s (under /proc, /sys, /dev or podd's roots): %s", at, strerror(errno));
	/* Everything read-only but the tmpfs itself, for now: the mount points of the
	 * volumes may still be made in it; enter_root makes it read-only too. */
	if (make_readonly_recursive(r->dir) < 0 || mount(NULL, r->dir, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL) < 0)
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

/* A privileged container sees every device the host has: each device node
 * under the host's /dev (but its own pts, shm and mqueue, and what it has
 * already) is made again in ours, with the same type, numbers, mode and
 * owner, as the CRI runtimes do. Symlinks and other files are left out, as
 * they are there; depth is bounded so that a loop of bind mounts cannot
 * recurse forever. */
static const char *copy_host_devices(const char *host, const char *ours, int depth, char *err, size_t errlen)
{
	DIR *d = opendir(host);
	if (!d)
		return failf(err, errlen, "read %s: %s", host, strerror(errno));
	const char *e = NULL;
	for (struct dirent *de; !e && (de = readdir(d));) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || (depth == 0 && (!strcmp(n, "pts") || !strcmp(n, "shm") || !strcmp(n, "mqueue"))))
			continue;
		char from[PATH_MAX], to[PATH_MAX];
		struct stat st;
		if (snprintf(from, sizeof from, "%s/%s", host, n) >= (int)sizeof from || snprintf(to, sizeof to, "%s/%s", ours, n) >= (int)sizeof to ||
		    lstat(from, &st) < 0)
			continue;   /* gone meanwhile, or a name too long to be a device anyone uses */
		if (S_ISDIR(st.st_mode) && depth < 4) {
			if (mkdir(to, st.st_mode & 07777) < 0 && errno != EEXIST)
				e = failf(err, errlen, "mkdir %s: %s", to, strerror(errno));
			else
				e = copy_host_devices(from, to, depth + 1, err, errlen);
		} else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && lstat(to, &(struct stat){ 0 }) < 0) {
			if (mknod(to, st.st_mode, st.st_rdev) < 0 || chown(to, st.st_uid, st.st_gid) < 0 || chmod(to, st.st_mode & 07777) < 0)
				e = failf(err, errlen, "mknod %s: %s", to, strerror(errno));
		}
	}
	closedir(d);
	return e;
}

/* /dev: a tmpfs with the few devices a container needs, its own devpts, the
 * pod's /dev/shm and a /dev/mqueue of the pod's IPC namespace. /dev is the
 * container root's and new ptys are group tty, in the pod's user namespace
 * too: these mounts are made from the host's, where such ids are the host's
 * ones for them (owner_base). The devices stay the host root's, as bound
 * ones are under other runtimes. */
static const char *mount_dev(const struct rootfs_opts *r, char *err, size_t errlen)
{
	char path[PATH_MAX], data[96];
#define DEVPATH(name) (snprintf(path, sizeof path, "%s/dev%s", r->dir, name), path)
	snprintf(data, sizeof data, "mode=755,size=65536k,uid=%lu,gid=%lu", r->owner_base, r->owner_base);
	if (mkdir_p(DEVPATH(""), 0755) < 0 || mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, data) < 0)
		return failf(err, errlen, "mount /dev: %s", strerror(errno));
	for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
		char name[64];
		snprintf(name, sizeof name, "/%s", devices[i].name);
		if (mknod(DEVPATH(name), S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0 || chmod(path, 0666) < 0)
			return failf(err, errlen, "mknod /dev%s: %s", name, strerror(errno));
	}
	snprintf(data, sizeof data, "newinstance,ptmxmode=0666,mode=0620,gid=%lu", r->owner_base + TTY_GID);
	if (mkdir(DEVPATH("/pts"), 0755) < 0 || mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, data) < 0)
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
	if (r->privileged)
		return copy_host_devices("/dev", DEVPATH(""), 0, err, errlen);
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
	unsigned long ro = r->privileged ? 0 : MS_RDONLY;
	if (mkdir_p(path, 0555) < 0 ||
	    (mount("sysfs", path, "sysfs", ro | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	     (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) < 0 || (ro && make_readonly_recursive(path) < 0))))
		return failf(err, errlen, "mount /sys: %s", strerror(errno));
	if (r->privileged)
		return NULL;   /* as the kubelet has it: nothing masked, nothing read-only */
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
/* openat2 of path beneath dirfd as an O_PATH descriptor, resolved as resolve says. */
static int open_path(int dirfd, const char *path, unsigned long long flags, unsigned long long resolve)
{
	struct podd_open_how how = { .flags = flags | O_PATH | O_CLOEXEC, .resolve = resolve | PODD_RESOLVE_NO_MAGICLINKS };
	return (int)NO_EINTR(syscall(PODD_SYS_openat2, dirfd, path, &how, sizeof how));
}

/* Opens path (relative, or absolute meaning "from root") beneath root, making
 * what is missing: directories, and a last component that is a directory when
 * dir, else an empty file. Every component is resolved by the kernel beneath
 * root (resolve: RESOLVE_IN_ROOT, symlinks taken as the container would see
 * them, or RESOLVE_BENEATH, a symlink that leaves is refused): a symlink that a
 * container planted in its image, its writable layer or a volume can never
 * lead a mount, or a mount point podd makes, outside what it belongs to. The
 * work is done on descriptors, so a sibling container that swaps a directory
 * for a symlink meanwhile changes nothing. Returns an O_PATH fd or -1. */
static int open_beneath(int root, const char *path, bool dir, unsigned long long resolve)
{
	char p[PATH_MAX];
	while (*path == '/')
		path++;
	if (snprintf(p, sizeof p, "%s", *path ? path : ".") >= (int)sizeof p)
		return errno = ENAMETOOLONG, -1;
	int fd = open_path(root, p, dir ? O_DIRECTORY : 0, resolve);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	/* Make it, one component at a time, each parent opened beneath root. */
	for (char *s = p;; s++) {
		bool last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		char saved = *s;
		*s = '\0';
		int at = open_path(root, p, last && !dir ? 0 : O_DIRECTORY, resolve);
		if (at < 0 && errno == ENOENT) {
			char *slash = strrchr(p, '/');
			const char *name = slash ? slash + 1 : p;
			int parent = slash ? (*slash = '\0', open_path(root, p, O_DIRECTORY, resolve)) : open_path(root, ".", O_DIRECTORY, resolve);
			if (slash)
				*slash = '/';
			if (parent < 0)
				return -1;
			int made;
			if (last && !dir) {
				made = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (made >= 0)
					close(made);
			} else {
				made = mkdirat(parent, name, 0755);
			}
			int saved_errno = errno;
			close(parent);
			if (made < 0 && saved_errno != EEXIST)
				return errno = saved_errno, -1;
			at = open_path(root, p, last && !dir ? 0 : O_DIRECTORY, resolve);
		}
		if (last)
			return at;
		if (at < 0)
			return -1;
		close(at);
		*s = saved;
	}
}

/* A bind mount of a volume (or a file of the pod) into the new root: the
 * source (with a subPath, beneath the volume), its clone made read-only when
 * asked, moved onto the mount point, all by descriptor (open_tree,
 * mount_setattr, move_mount; Linux 5.12). */
static const char *bind_volume(const struct rootfs_opts *r, const struct mount_spec *m, char *err, size_t errlen)
{
	int src = -1, root = -1, target = -1, tree = -1;
	const char *e = NULL;
	struct stat st;
	if (m->subpath) {
		int vol = open(m->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (vol < 0)
			return failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
		/* As the kubelet: a subPath that does not exist is made, as a directory. */
		src = open_beneath(vol, m->subpath, false, PODD_RESOLVE_BENEATH);
		if (src < 0 && errno == ENOENT)
			src = open_beneath(vol, m->subpath, true, PODD_RESOLVE_BENEATH);
		int saved = errno;
		close(vol);
		if (src < 0)
			return failf(err, errlen, "subPath %s of %s for %s: %s", m->subpath, m->source, m->target,
				     saved == EXDEV ? "it leads outside the volume" : strerror(saved));
	} else {
		src = open(m->source, O_PATH | O_CLOEXEC);
		if (src < 0)
			return failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
	}
	if (fstat(src, &st) < 0) {
		e = failf(err, errlen, "stat %s: %s", m->source, strerror(errno));
		goto out;
	}
	root = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		e = failf(err, errlen, "open %s: %s", r->dir, strerror(errno));
		goto out;
	}
	target = open_beneath(root, m->target, S_ISDIR(st.st_mode), PODD_RESOLVE_IN_ROOT);
	if (target < 0) {
		if (errno == EROFS)
			e = failf(err, errlen, "mount %s: %s does not exist in the read-only root filesystem; mount it on a path that exists", m->source, m->target);
		else
			e = failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
		goto out;
	}
	tree = (int)syscall(SYS_open_tree, src, "", PODD_OPEN_TREE_CLONE | PODD_AT_RECURSIVE | AT_EMPTY_PATH | O_CLOEXEC);
	if (tree < 0) {
		e = failf(err, errlen, "mount %s on %s: open_tree: %s", m->source, m->target, strerror(errno));
		goto out;
	}
	struct podd_mount_attr ro = { .attr_set = PODD_MOUNT_ATTR_RDONLY };
	struct podd_mount_attr idmap = { .attr_set = PODD_MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)r->userns_fd };
	if (m->readonly && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | PODD_AT_RECURSIVE, &ro, sizeof ro) < 0)
		e = failf(err, errlen, "make %s read-only: %s", m->target, strerror(errno));
	/* The volume's own mount: whatever else is mounted beneath it is not podd's to map. */
	else if (m->idmap && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &idmap, sizeof idmap) < 0)
		e = failf(err, errlen, "idmap %s (mounted on %s) to the pod's user namespace: %s%s", m->source, m->target, strerror(errno),
			  errno == EINVAL ? " (its filesystem cannot be idmapped on this kernel: ext4, xfs and btrfs can, tmpfs from Linux 6.3)" : "");
	else if (syscall(SYS_move_mount, tree, "", target, "", PODD_MOVE_MOUNT_F_EMPTY_PATH | PODD_MOVE_MOUNT_T_EMPTY_PATH) < 0)
		e = failf(err, errlen, "mount %s on %s: %s", m->source, m->target, strerror(errno));
out:
	for (int *fd = (int[]){ src, root, target, tree }, i = 0; i < 4; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return e;
}

/* Whether the links in dir name the layer `target`. */
static bool links_to(const char *dir, const char *target)
{
	for (int n = 0; dir && n < MAX_LAYERS; n++) {
		char link[PATH_MAX], to[PATH_MAX];
		snprintf(link, sizeof link, "%s/%d", dir, n);
		ssize_t len = readlink(link, to, sizeof to - 1);
		if (len < 0)
			return false;
		to[len] = '\0';
		if (strcmp(to, target) == 0)
			return true;
	}
	return false;
}

/* Whether the layer `target` is idmapped in place already, as one of the
 * root's or of an image volume mounted before mounts[upto] (a mount cannot
 * be idmapped twice). */
static bool idmapped_already(const struct rootfs_opts *r, size_t upto, const char *target)
{
	if (links_to(r->layers_dir, target))
		return true;
	for (size_t i = 0; i < upto; i++)
		if (r->mounts[i].image_layers && links_to(r->mounts[i].source, target))
			return true;
	return false;
}

/* hostUsers: false. An image volume: its layers idmapped in place (those the
 * root shares are already), then stacked read-only on the mount point, which
 * is resolved beneath the new root as a bind's is. An overlay cannot itself be
 * idmapped (Linux 6.1), its layers can. */
static const char *mount_image_volume(const struct rootfs_opts *r, size_t index, char *err, size_t errlen)
{
	const struct mount_spec *m = &r->mounts[index];
	char data[4096];
	size_t len = (size_t)snprintf(data, sizeof data, "lowerdir=");
	int n = 0;
	for (; n < MAX_LAYERS; n++) {
		char link[PATH_MAX], to[PATH_MAX];
		snprintf(link, sizeof link, "%s/%d", m->source, n);
		ssize_t tl = readlink(link, to, sizeof to - 1);
		if (tl < 0)
			break;
		to[tl] = '\0';
		len += (size_t)snprintf(data + len, sizeof data - len, "%s%d", n ? ":" : "", n);
		if (!idmapped_already(r, index, to)) {
			const char *e = idmap_in_place(link, r->userns_fd, err, errlen);
			if (e)
				return e;
		}
	}
	if (n == 0)
		return failf(err, errlen, "image volume on %s: no layer 0 in %s", m->target, m->source);
	if (len >= sizeof data)
		return failf(err, errlen, "image volume on %s: overlay options too long (%d layers)", m->target, n);
	int root = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return failf(err, errlen, "open %s: %s", r->dir, strerror(errno));
	int target = open_beneath(root, m->target, true, PODD_RESOLVE_IN_ROOT);
	close(root);
	if (target < 0)
		return failf(err, errlen, "image volume on %s: %s", m->target, errno == EROFS ? "it does not exist in the read-only root filesystem" : strerror(errno));
	const char *e = NULL;
	if (n == 1) {
		/* overlayfs stacks two lowers at least: one layer is a read-only clone of its (idmapped) mount. */
		char link[PATH_MAX];
		snprintf(link, sizeof link, "%s/0", m->source);
		int tree = (int)syscall(SYS_open_tree, AT_FDCWD, link, PODD_OPEN_TREE_CLONE | O_CLOEXEC);
		struct podd_mount_attr ro = { .attr_set = PODD_MOUNT_ATTR_RDONLY | PODD_MOUNT_ATTR_NOSUID | PODD_MOUNT_ATTR_NODEV };
		if (tree < 0 || syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0 ||
		    syscall(SYS_move_mount, tree, "", target, "", PODD_MOVE_MOUNT_F_EMPTY_PATH | PODD_MOVE_MOUNT_T_EMPTY_PATH) < 0)
			e = failf(err, errlen, "mount the image volume %s on %s: %s", link, m->target, strerror(errno));
		if (tree >= 0)
			close(tree);
		close(target);
		return e;
	}
	char at[64];
	snprintf(at, sizeof at, "/proc/self/fd/%d", target);
	e = mount_overlay_from(m->source, at, m->target, MS_RDONLY | MS_NOSUID | MS_NODEV, data, n, err, errlen);
	close(target);
	return e;
}

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
		const char *e = m->image_layers ? mount_image_volume(r, i, err, errlen) : bind_volume(r, m, err, errlen);
		if (e)
			return e;
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
	if ((r->host || r->readonly) && make_readonly("/") < 0)
		return failf(err, errlen, "make root read-only: %s", strerror(errno));
	return NULL;
}

/* The whole filesystem setup; NULL on success, else the reason. */
const char *setup_rootfs(const struct rootfs_opts *r, char *err, size_t errlen)
{
	const char *e;
	/* The root mount must be a mount point of its own for pivot_root. */
	if ((e = mount_root(r, err, errlen)) || (e = mount_proc_sys(r, err, errlen)) ||
	    (e = mount_dev(r, err, errlen)) || (e = mount_volumes(r, err, errlen)) ||
	    (e = enter_root(r, err, errlen)))
		return e;
	return NULL;
}
