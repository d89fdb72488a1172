/* Role 5, `podd-init unpack DIR`: one image layer, a tar stream on stdin, written under DIR.
 *
 * The stream comes from a registry, so it is hostile: every name is made
 * canonical and checked, every parent directory is resolved with openat2()
 * beneath DIR with no symlink followed, and every leaf is created relative to
 * that parent's descriptor, never through a path. Whatever the archive says,
 * nothing is written outside DIR. It is here, not in the daemon, because
 * Node's fs resolves whole paths and has no openat2, and so that the work of
 * a pull runs outside the daemon's event loop. */
#include "podd-init.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/xattr.h>

#define EXIT_SYSTEM 1
#define EXIT_REFUSED 2

#define BLOCK 512
/* A pull is bound by this loop: large reads from the pipe, large writes to the files. */
#define READ_BUF (128 * 1024)
/* pax extended headers and GNU long names: real ones are a few hundred bytes. */
#define META_MAX (1 << 20)
/* Directory mtimes are set at the end (creating a child changes its parent's), so their
 * names are kept until then: the one thing that grows with the archive, hence bounded. */
#define DIR_TIMES_MAX (1 << 20)
#define DIR_NAMES_MAX (64u << 20)
/* The kernel's XATTR_NAME_MAX and XATTR_SIZE_MAX. */
#define XATTR_NAME_LEN_MAX 255
#define XATTR_VALUE_MAX 65536
/* Names in messages are cut to this, so a diagnostic stays one readable line. */
#define SHOWN_NAME_MAX 200

/* The ustar header block; GNU headers keep atime and ctime where ustar has prefix. */
struct tar_header {
	char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8], typeflag, linkname[100];
	char magic[6], version[2], uname[32], gname[32], devmajor[8], devminor[8], prefix[155], pad[12];
};
_Static_assert(sizeof(struct tar_header) == BLOCK, "a tar header is one block");

/* One file-system entry of the archive, with its pax and GNU overrides applied. */
struct entry {
	char type;
	char path[PATH_MAX];   /* canonical, relative to DIR; "" is DIR itself */
	char link[PATH_MAX];   /* a hard link's canonical target, or a symlink's target verbatim */
	mode_t mode;           /* permission bits with setuid, setgid and sticky */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	unsigned long long size;   /* bytes of content that follow the header */
	unsigned devmajor, devminor;
	const char *pax;           /* the entry's pax records (for its xattrs), or NULL */
	size_t pax_len;
};

static const char *dir_arg;   /* DIR as given, for messages */
static int root_fd;           /* DIR, O_PATH: everything is resolved beneath it */
static unsigned long long entries_done, bytes_written;

/* The entry being read, as the archive names it: every refusal names it. */
static char cur_name[PATH_MAX];

/* ---- diagnostics ---- */

/* s (len bytes) for a one-line message: control bytes, '"' and '\' escaped, cut after SHOWN_NAME_MAX. */
static const char *shown(const char *s, size_t len, char out[4 * SHOWN_NAME_MAX + 8])
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < SHOWN_NAME_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)sprintf(out + o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (len > SHOWN_NAME_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static void refuse(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* The input is refused (hostile or malformed): one line naming the entry, exit 2. */
static void refuse(const char *fmt, ...)
{
	char reason[MSG_MAX / 2], name[4 * SHOWN_NAME_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (cur_name[0])
		say("refused \"%s\": %s", shown(cur_name, strlen(cur_name), name), reason);
	else
		say("refused: %s", reason);
	exit(EXIT_REFUSED);
}

static void sys_fail(const char *op, const char *path) __attribute__((noreturn));
/* A system call failed on something that is not the archive's fault: exit 1. */
static void sys_fail(const char *op, const char *path)
{
	int err = errno;
	char name[4 * SHOWN_NAME_MAX + 8];
	say("%s %s%s%s: %s", op, dir_arg, *path ? "/" : "", shown(path, strlen(path), name), strerror(err));
	exit(EXIT_SYSTEM);
}

/* ---- the input ---- */

static struct {
	unsigned char buf[READ_BUF];
	size_t pos, len;
	unsigned long long offset;   /* bytes of the archive consumed */
	bool eof;
} in;

/* Bytes buffered and not yet consumed, reading more when there are none; 0 at end of input. */
static size_t input_fill(void)
{
	if (in.pos < in.len || in.eof)
		return in.len - in.pos;
	ssize_t n = NO_EINTR(read(STDIN_FILENO, in.buf, sizeof in.buf));
	if (n < 0)
		die(EXIT_SYSTEM, "read stdin: %s", strerror(errno));
	in.pos = 0;
	in.len = (size_t)n;
	in.eof = n == 0;
	return (size_t)n;
}

static void input_consume(size_t n)
{
	in.pos += n;
	in.offset += n;
}

/* Copies up to n bytes into dst; fewer only at end of input. */
static size_t input_read(void *dst, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t avail = input_fill();
		if (avail == 0)
			break;
		size_t take = avail < n - done ? avail : n - done;
		memcpy((char *)dst + done, in.buf + in.pos, take);
		input_consume(take);
		done += take;
	}
	return done;
}

static void input_skip(unsigned long long n)
{
	while (n > 0) {
		size_t avail = input_fill();
		if (avail == 0)
			refuse("truncated archive");
		size_t take = avail < n ? avail : (size_t)n;
		input_consume(take);
		n -= take;
	}
}

/* Content is padded to a whole block. */
static void input_skip_padding(unsigned long long size)
{
	input_skip((BLOCK - size % BLOCK) % BLOCK);
}

/* ---- header fields ---- */

/* A numeric field: octal digits (spaces and NULs around them), or GNU base-256
 * (first byte 0x80 for a positive number, 0xff for a negative one, then
 * big-endian two's complement). False when malformed or beyond 64 bits. */
static bool parse_numeric(const char *field, size_t len, long long *out)
{
	const unsigned char *f = (const unsigned char *)field;
	if (f[0] & 0x80) {
		unsigned char inv = (f[0] & 0x40) ? 0xff : 0;
		unsigned long long x = 0;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = f[i] ^ inv;
			if (i == 0)
				c &= 0x7f;
			if (x >> 56)
				return false;
			x = x << 8 | c;
		}
		if (x >> 63)
			return false;
		*out = inv ? ~(long long)x : (long long)x;
		return true;
	}
	size_t i = 0;
	while (i < len && (f[i] == ' ' || f[i] == '\0'))
		i++;
	unsigned long long x = 0;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (x >> 60)
			return false;
		x = x << 3 | (unsigned)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false;
	*out = (long long)x;
	return true;
}

static unsigned long long field_in_range(const char *what, const char *field, size_t len, unsigned long long max)
{
	long long v;
	if (!parse_numeric(field, len, &v))
		refuse("invalid %s field", what);
	if (v < 0 || (unsigned long long)v > max)
		refuse("%s %lld out of range", what, v);
	return (unsigned long long)v;
}

/* The checksum is the sum of the header's bytes with its own field read as spaces;
 * some old writers summed signed chars, which readers accept too. */
static void verify_checksum(const unsigned char *h, unsigned long long at)
{
	long long stored;
	const struct tar_header *t = (const struct tar_header *)h;
	if (!parse_numeric(t->chksum, sizeof t->chksum, &stored))
		refuse("bad header checksum at byte %llu", at);
	long long usum = 0, ssum = 0;
	for (size_t i = 0; i < BLOCK; i++) {
		bool in_field = i >= offsetof(struct tar_header, chksum) && i < offsetof(struct tar_header, chksum) + 8;
		usum += in_field ? ' ' : h[i];
		ssum += in_field ? ' ' : (signed char)h[i];
	}
	if (stored != usum && stored != ssum)
		refuse("bad header checksum at byte %llu", at);
}

static bool is_zero_block(const unsigned char *h)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (h[i])
			return false;
	return true;
}

/* ---- pax extended headers ---- */

/* What the pending 'x', 'L' and 'K' headers say about the next entry. */
static struct pending {
	bool pax, long_name, long_link;
	size_t pax_len;
	const char *path, *linkpath;   /* into pax_buf; NULL: not given */
	size_t path_len, linkpath_len;
	bool has_size, has_uid, has_gid, has_mtime;
	unsigned long long size, uid, gid;
	struct timespec mtime;
} meta;
static char pax_buf[META_MAX];
static char long_name[PATH_MAX], long_link[PATH_MAX];   /* GNU 'L' and 'K' */

/* The next "LEN KEY=VALUE\n" record of a pax header (LEN counts the whole
 * record, in decimal); false after the last one. */
static bool pax_next(const char **p, const char *end, const char **key, size_t *klen, const char **val, size_t *vlen)
{
	if (*p >= end)
		return false;
	const char *q = *p;
	size_t n = 0;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		n = n * 10 + (size_t)(*q - '0');
		if (n > (size_t)(end - *p))
			refuse("malformed pax record");
	}
	if (q == *p || q >= end || *q != ' ' || n < (size_t)(q - *p) + 3)
		refuse("malformed pax record");
	const char *rec_end = *p + n;
	if (rec_end[-1] != '\n')
		refuse("malformed pax record");
	const char *k = q + 1;
	const char *eq = memchr(k, '=', (size_t)(rec_end - 1 - k));
	if (!eq)
		refuse("malformed pax record");
	*key = k;
	*klen = (size_t)(eq - k);
	*val = eq + 1;
	*vlen = (size_t)(rec_end - 1 - *val);
	*p = rec_end;
	return true;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static bool key_has_prefix(const char *key, size_t klen, const char *prefix)
{
	return klen >= strlen(prefix) && memcmp(key, prefix, strlen(prefix)) == 0;
}

#define XATTR_KEY "SCHILY.xattr."

static unsigned long long pax_decimal(const char *what, const char *v, size_t len, unsigned long long max)
{
	unsigned long long x = 0;
	if (len == 0)
		refuse("invalid pax %s", what);
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (max - (unsigned)(v[i] - '0')) / 10)
			refuse("invalid pax %s", what);
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	return x;
}

/* "SECONDS[.FRACTION]", possibly negative; digits beyond nanoseconds are dropped. */
static struct timespec pax_time(const char *v, size_t len)
{
	bool neg = len > 0 && v[0] == '-';
	size_t i = neg ? 1 : 0, dot = i;
	while (dot < len && v[dot] != '.')
		dot++;
	long long sec = (long long)pax_decimal("mtime", v + i, dot - i, (unsigned long long)LLONG_MAX);
	long nsec = 0;
	if (dot < len) {
		int digits = 0;
		for (size_t j = dot + 1; j < len; j++) {
			if (v[j] < '0' || v[j] > '9')
				refuse("invalid pax mtime");
			if (digits++ < 9)
				nsec = nsec * 10 + (v[j] - '0');
		}
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	if (neg && nsec) {
		sec = -sec - 1;
		nsec = 1000000000L - nsec;
	} else if (neg) {
		sec = -sec;
	}
	return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = nsec };
}

/* Reads a pax 'x' header of size bytes and keeps what applies to the next entry. */
static void read_pax(unsigned long long size)
{
	if (meta.pax)
		refuse("two pax extended headers for one entry");
	if (size > META_MAX)
		refuse("pax extended header of %llu bytes is larger than 1 MiB", size);
	if (input_read(pax_buf, (size_t)size) != size)
		refuse("truncated archive");
	input_skip_padding(size);
	meta.pax = true;
	meta.pax_len = (size_t)size;
	const char *p = pax_buf, *end = pax_buf + size, *key, *val;
	size_t klen, vlen;
	while (pax_next(&p, end, &key, &klen, &val, &vlen)) {
		/* An empty value deletes the keyword: the header's own field applies. */
		bool given = vlen > 0;
		if (key_is(key, klen, "path")) {
			meta.path = given ? val : NULL;
			meta.path_len = vlen;
		} else if (key_is(key, klen, "linkpath")) {
			meta.linkpath = given ? val : NULL;
			meta.linkpath_len = vlen;
		} else if (key_is(key, klen, "size")) {
			if ((meta.has_size = given))
				meta.size = pax_decimal("size", val, vlen, (unsigned long long)LLONG_MAX);
		} else if (key_is(key, klen, "uid")) {
			if ((meta.has_uid = given))
				meta.uid = pax_decimal("uid", val, vlen, 0xfffffffeULL);
		} else if (key_is(key, klen, "gid")) {
			if ((meta.has_gid = given))
				meta.gid = pax_decimal("gid", val, vlen, 0xfffffffeULL);
		} else if (key_is(key, klen, "mtime")) {
			if ((meta.has_mtime = given))
				meta.mtime = pax_time(val, vlen);
		} else if (key_has_prefix(key, klen, "GNU.sparse.")) {
			refuse("sparse files are not supported");
		} else if (key_has_prefix(key, klen, XATTR_KEY)) {
			size_t nlen = klen - strlen(XATTR_KEY);
			if (nlen == 0 || nlen > XATTR_NAME_LEN_MAX || memchr(key + strlen(XATTR_KEY), '\0', nlen))
				refuse("invalid xattr name");
			if (vlen > XATTR_VALUE_MAX)
				refuse("xattr value of %zu bytes is larger than 64 KiB", vlen);
		}
		/* Other keywords (atime, ctime, uname, gname, comment, charset...) do not
		 * change the layer: owners are numbers, and atime is set to mtime. */
	}
}

/* Reads a GNU 'L' or 'K' header: the next entry's name or link target, NUL-terminated. */
static void read_long_name(unsigned long long size, bool *given, char out[PATH_MAX])
{
	if (*given)
		refuse("two GNU long-name headers of one kind for one entry");
	if (size > META_MAX)
		refuse("GNU long-name header of %llu bytes is larger than 1 MiB", size);
	size_t keep = size < PATH_MAX ? (size_t)size : PATH_MAX;
	if (input_read(out, keep) != keep)
		refuse("truncated archive");
	input_skip(size - keep);
	input_skip_padding(size);
	if (strnlen(out, keep) >= PATH_MAX)
		refuse("a GNU long name longer than PATH_MAX");
	out[strnlen(out, keep)] = '\0';
	*given = true;
}

/* ---- names ---- */

/* Writes raw's canonical form to out: no empty or "." components, no trailing
 * "/". "" stands for DIR itself. Absolute names and ".." components are
 * refused. link: raw is a hard link's target, and refusals say so. */
static void canonical(bool link, const char *raw, char out[PATH_MAX])
{
	char q[4 * SHOWN_NAME_MAX + 8];
	const char *target = link ? shown(raw, strlen(raw), q) : NULL;
	if (raw[0] == '/') {
		if (link)
			refuse("hard link target \"%s\" is absolute", target);
		refuse("an absolute name");
	}
	size_t o = 0;
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (link)
				refuse("hard link target \"%s\" has a \"..\" component", target);
			refuse("a \"..\" component");
		}
		if (len > NAME_MAX)
			refuse("%s component longer than %d bytes", link ? "a hard link target with a" : "a", NAME_MAX);
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o + (o > 0) + len >= PATH_MAX)
				refuse("%s longer than PATH_MAX", link ? "a hard link target" : "a name");
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = *end ? end + 1 : end;
	}
	out[o] = '\0';
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* How an entry's name turns into overlayfs form (the OCI image spec's whiteouts). */
enum name_kind {
	PLAIN,
	WHITEOUT,    /* .wh.NAME: NAME is deleted from the layers below */
	OPAQUE,      /* .wh..wh..opq: the parent hides the layers below */
	AUFS_META,   /* other .wh..wh.* names: aufs's own bookkeeping, meaningless here */
};

static enum name_kind classify(const char *path)
{
	const char *leaf = strrchr(path, '/');
	leaf = leaf ? leaf + 1 : path;
	for (const char *p = path; p < leaf; p = strchr(p, '/') + 1) {
		if (has_prefix(p, ".wh..wh."))
			return AUFS_META;   /* e.g. aufs's hard-link directory .wh..wh.plnk/ */
		if (has_prefix(p, ".wh."))
			refuse("a parent has a whiteout name");
	}
	if (strcmp(leaf, ".wh..wh..opq") == 0)
		return OPAQUE;
	if (has_prefix(leaf, ".wh..wh."))
		return AUFS_META;
	if (has_prefix(leaf, ".wh.")) {
		const char *name = leaf + 4;
		if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			refuse("a whiteout of no name");
		return WHITEOUT;
	}
	return PLAIN;
}

static bool names_whiteout(const char *path)
{
	for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (has_prefix(p, ".wh."))
			return true;
	return false;
}

/* ---- resolving beneath DIR ---- */

/* openat2 relative to dirfd, which every path here is beneath: no "..", no
 * symlink, no magic link (/proc/self/fd/N), no crossing into another mount. */
static int open_beneath(int dirfd, const char *path, int flags)
{
	struct podd_open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = PODD_RESOLVE_BENEATH | PODD_RESOLVE_NO_SYMLINKS | PODD_RESOLVE_NO_MAGICLINKS | PODD_RESOLVE_NO_XDEV,
	};
	long fd;
	/* EAGAIN: the kernel saw a concurrent rename or mount while resolving and
	 * would rather retry than risk a wrong answer. */
	int tries = 0;
	do
		fd = syscall(PODD_SYS_openat2, dirfd, path, &how, sizeof how);
	while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 16)));
	if (fd < 0 && errno == ENOSYS)
		die(EXIT_SYSTEM, "openat2: %s (podd-init unpack needs Linux 5.6 or later)", strerror(errno));
	return (int)fd;
}

/* Opens DIR/parent (O_PATH), creating missing directories (0755, 0:0) when
 * create is set. role names the parent in refusals ("a parent"). */
static int open_parent(const char *parent, bool create, const char *role)
{
	if (!*parent)
		return root_fd;
	/* The whole path in one call first; the walk below only runs when a
	 * directory is missing or something is wrong, and says what. */
	int fd = open_beneath(root_fd, parent, O_PATH | O_DIRECTORY | O_NOFOLLOW);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
		sys_fail("openat2", parent);

	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", parent);
	int dfd = root_fd;
	for (char *comp = buf;;) {
		char *slash = strchr(comp, '/');
		if (slash)
			*slash = '\0';
		int next = open_beneath(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(dfd, comp, 0755) < 0)
				sys_fail("mkdir", buf);
			/* A setgid parent would hand its group down. */
			if (fchownat(dfd, comp, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
				sys_fail("chown", buf);
			next = open_beneath(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW);
		}
		if (next < 0) {
			struct stat st;
			if (errno == ENOENT)
				refuse("%s does not exist", role);
			/* ELOOP: a symlink in the way; ENOTDIR: a symlink last, or not a directory. */
			if (errno == ENOTDIR || errno == ELOOP) {
				if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
					refuse("%s is a symlink", role);
				refuse("%s is not a directory", role);
			}
			sys_fail("openat2", buf);
		}
		if (dfd != root_fd)
			close(dfd);
		dfd = next;
		if (!slash)
			return dfd;
		*slash = '/';
		comp = slash + 1;
	}
}

static void close_parent(int fd)
{
	if (fd != root_fd)
		close(fd);
}

/* Splits a canonical non-empty path into its parent (into buf) and its leaf. */
static const char *split(const char *path, char parent[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		parent[0] = '\0';
		return path;
	}
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	return slash + 1;
}

/* ---- replacing what is there ---- */

/* Removes the directory name in dirfd and everything under it, through
 * descriptors only: a symlink inside is unlinked, never followed. */
static void remove_tree(int dirfd, const char *name, const char *path)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		sys_fail("open", path);
	DIR *d = fdopendir(fd);
	if (!d)
		sys_fail("opendir", path);
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				sys_fail("readdir", path);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				sys_fail("stat", path);
			is_dir = S_ISDIR(st.st_mode);
		}
		if (is_dir)
			remove_tree(fd, de->d_name, path);
		else if (unlinkat(fd, de->d_name, 0) < 0)
			sys_fail("remove a file under", path);
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		sys_fail("rmdir", path);
}

/* A tar may name a path twice; the later entry wins and replaces the earlier one. */
static void remove_existing(int pfd, const char *leaf, const char *path)
{
	struct stat st;
	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return;
		sys_fail("stat", path);
	}
	if (S_ISDIR(st.st_mode))
		remove_tree(pfd, leaf, path);
	else if (unlinkat(pfd, leaf, 0) < 0)
		sys_fail("unlink", path);
}

/* ---- metadata ---- */

/* Which xattrs an image may set: user.* (the image's own data) and, on regular
 * files, security.capability (file capabilities: ping needs cap_net_raw). Not
 * trusted.*: it holds trusted.overlay.* (opaque, redirect, origin, metacopy),
 * which overlayfs reads from its layers to decide what is hidden and where a
 * file's data lives; only this unpacker's whiteout conversion may set those.
 * Not the other security.* (SELinux, SMACK, IMA/EVM labels): they are the
 * host's policy, not the image's. Not system.* (ACLs): not part of the layers
 * podd runs. Symlinks, devices and FIFOs get none: the kernel allows user.*
 * only on regular files and directories. */
static bool xattr_allowed(const char *name, size_t len, bool regular)
{
	if (len > 5 && memcmp(name, "user.", 5) == 0)
		return true;
	return regular && len == strlen("security.capability") && memcmp(name, "security.capability", len) == 0;
}

static void apply_xattrs(int fd, const struct entry *e, bool regular)
{
	if (!e->pax)
		return;
	const char *p = e->pax, *end = e->pax + e->pax_len, *key, *val;
	size_t klen, vlen;
	while (pax_next(&p, end, &key, &klen, &val, &vlen)) {
		if (!key_has_prefix(key, klen, XATTR_KEY))
			continue;
		const char *n = key + strlen(XATTR_KEY);
		size_t nlen = klen - strlen(XATTR_KEY);
		if (!xattr_allowed(n, nlen, regular))
			continue;
		char name[XATTR_NAME_LEN_MAX + 1];
		memcpy(name, n, nlen);   /* read_pax checked its length */
		name[nlen] = '\0';
		if (fsetxattr(fd, name, val, vlen, 0) < 0) {
			char q[4 * SHOWN_NAME_MAX + 8], op[4 * SHOWN_NAME_MAX + 32];
			shown(name, nlen, q);
			/* The kernel checks a security.capability value's layout. */
			if (errno == EINVAL || errno == ERANGE || errno == E2BIG)
				refuse("invalid xattr %s", q);
			snprintf(op, sizeof op, "setxattr %s on", q);
			sys_fail(op, e->path);
		}
	}
}

/* Owner before mode (chown clears setuid and setgid), xattrs after the owner
 * (chown clears security.capability). */
static void set_owner_mode_xattrs(int fd, const struct entry *e, bool regular)
{
	if (fchown(fd, e->uid, e->gid) < 0)
		sys_fail("chown", e->path);
	if (fchmod(fd, e->mode) < 0)
		sys_fail("chmod", e->path);
	apply_xattrs(fd, e, regular);
}

static void set_times_at(int pfd, const char *leaf, const struct entry *e)
{
	const struct timespec ts[2] = { e->mtime, e->mtime };
	if (utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
		sys_fail("utimes", e->path);
}

/* ---- directory times, set last ---- */

static struct dir_time {
	struct timespec mtime;
	uint32_t name;   /* offset into dir_names */
} *dir_times;
static size_t ndir_times, dir_times_cap;
static char *dir_names;
static size_t dir_names_len, dir_names_cap;

static void *grow(void *p, size_t *cap, size_t need, size_t unit, size_t max)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	void *q = realloc(p, n * unit);
	if (!q)
		die(EXIT_SYSTEM, "keep directory times: %s", strerror(errno));
	*cap = n;
	return q;
}

static void remember_dir_time(const struct entry *e)
{
	size_t len = strlen(e->path) + 1;
	if (ndir_times >= DIR_TIMES_MAX)
		refuse("more than %d directories", DIR_TIMES_MAX);
	if (dir_names_len + len > DIR_NAMES_MAX)
		refuse("directory names of more than %u MiB in all", DIR_NAMES_MAX >> 20);
	dir_times = grow(dir_times, &dir_times_cap, ndir_times + 1, sizeof *dir_times, DIR_TIMES_MAX);
	dir_names = grow(dir_names, &dir_names_cap, dir_names_len + len, 1, DIR_NAMES_MAX);
	memcpy(dir_names + dir_names_len, e->path, len);
	dir_times[ndir_times++] = (struct dir_time){ .mtime = e->mtime, .name = (uint32_t)dir_names_len };
	dir_names_len += len;
}

/* In archive order, so a directory named twice ends with the later time. */
static void set_dir_times(void)
{
	for (size_t i = 0; i < ndir_times; i++) {
		const char *path = dir_names + dir_times[i].name;
		int fd = *path ? open_beneath(root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
		               : openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			/* A later entry replaced it with something else (or removed its parent),
			 * and that entry's own time is the one that stands. */
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			sys_fail("open", path);
		}
		const struct timespec ts[2] = { dir_times[i].mtime, dir_times[i].mtime };
		if (futimens(fd, ts) < 0)
			sys_fail("utimes", path);
		close(fd);
	}
	free(dir_times);
	free(dir_names);
}

/* ---- making each kind of entry ---- */

static void write_all(int fd, const unsigned char *buf, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = NO_EINTR(write(fd, buf, len));
		if (n < 0)
			sys_fail("write", path);
		buf += n;
		len -= (size_t)n;
	}
}

static void make_file(int pfd, const char *leaf, const struct entry *e)
{
	/* O_EXCL: a name that exists (a symlink above all) is removed and made anew, never written through. */
	int flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(pfd, leaf, flags, 0600);
	if (fd < 0 && errno == EEXIST) {
		remove_existing(pfd, leaf, e->path);
		fd = openat(pfd, leaf, flags, 0600);
	}
	if (fd < 0)
		sys_fail("create", e->path);
	for (unsigned long long left = e->size; left > 0;) {
		size_t avail = input_fill();
		if (avail == 0)
			refuse("truncated archive");
		size_t n = avail < left ? avail : (size_t)left;
		write_all(fd, in.buf + in.pos, n, e->path);
		input_consume(n);
		left -= n;
	}
	bytes_written += e->size;
	set_owner_mode_xattrs(fd, e, true);
	const struct timespec ts[2] = { e->mtime, e->mtime };
	if (futimens(fd, ts) < 0)
		sys_fail("utimes", e->path);
	if (close(fd) < 0)
		sys_fail("close", e->path);
}

static void make_dir(int pfd, const char *leaf, const struct entry *e)
{
	if (mkdirat(pfd, leaf, 0700) < 0) {
		struct stat st;
		if (errno != EEXIST)
			sys_fail("mkdir", e->path);
		if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
			sys_fail("stat", e->path);
		/* A directory named again keeps its children and takes the new metadata. */
		if (!S_ISDIR(st.st_mode)) {
			remove_existing(pfd, leaf, e->path);
			if (mkdirat(pfd, leaf, 0700) < 0)
				sys_fail("mkdir", e->path);
		}
	}
	int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		sys_fail("open", e->path);
	set_owner_mode_xattrs(fd, e, false);
	close(fd);
	remember_dir_time(e);
}

static void make_symlink(int pfd, const char *leaf, const struct entry *e)
{
	if (!e->link[0])
		refuse("a symlink with an empty target");
	if (symlinkat(e->link, pfd, leaf) < 0) {
		if (errno != EEXIST)
			sys_fail("symlink", e->path);
		remove_existing(pfd, leaf, e->path);
		if (symlinkat(e->link, pfd, leaf) < 0)
			sys_fail("symlink", e->path);
	}
	if (fchownat(pfd, leaf, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		sys_fail("chown", e->path);
	set_times_at(pfd, leaf, e);
}

/* Character and block devices and FIFOs. */
static void make_node(int pfd, const char *leaf, const struct entry *e)
{
	mode_t type = e->type == '3' ? S_IFCHR : e->type == '4' ? S_IFBLK : S_IFIFO;
	dev_t dev = type == S_IFIFO ? 0 : makedev(e->devmajor, e->devminor);
	if (mknodat(pfd, leaf, type | (e->mode & 0777), dev) < 0) {
		if (errno != EEXIST)
			sys_fail("mknod", e->path);
		remove_existing(pfd, leaf, e->path);
		if (mknodat(pfd, leaf, type | (e->mode & 0777), dev) < 0)
			sys_fail("mknod", e->path);
	}
	if (fchownat(pfd, leaf, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		sys_fail("chown", e->path);
	/* fchmodat follows a symlink, but leaf is the node made just above, in a
	 * directory no one else writes while a layer is unpacked. */
	if (fchmodat(pfd, leaf, e->mode, 0) < 0)
		sys_fail("chmod", e->path);
	set_times_at(pfd, leaf, e);
}

/* The target must already be in this layer, resolved as strictly as any parent.
 * A hard link shares its target's inode, so its own header's metadata is not applied. */
static void make_hard_link(int pfd, const char *leaf, const struct entry *e)
{
	char shown_link[4 * SHOWN_NAME_MAX + 8], tparent[PATH_MAX];
	const char *target = shown(e->link, strlen(e->link), shown_link);
	if (!e->link[0])
		refuse("a hard link to the root of the layer");
	if (strcmp(e->link, e->path) == 0)
		refuse("a hard link to itself");
	const char *tleaf = split(e->link, tparent);
	int tpfd = open_parent(tparent, false, "the hard link target's parent");
	struct stat st;
	if (fstatat(tpfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			refuse("hard link target \"%s\" does not exist", target);
		sys_fail("stat", e->link);
	}
	if (S_ISDIR(st.st_mode))
		refuse("hard link target \"%s\" is a directory", target);
	/* No AT_SYMLINK_FOLLOW: a target that is a symlink is linked itself. */
	if (linkat(tpfd, tleaf, pfd, leaf, 0) < 0) {
		if (errno != EEXIST)
			sys_fail("link", e->path);
		remove_existing(pfd, leaf, e->path);
		if (linkat(tpfd, tleaf, pfd, leaf, 0) < 0) {
			/* The name it replaced was a directory holding the target. */
			if (errno == ENOENT)
				refuse("hard link target \"%s\" does not exist", target);
			sys_fail("link", e->path);
		}
	}
	close_parent(tpfd);
}

/* .wh.NAME: NAME becomes what overlayfs reads as a whiteout, a 0:0 character device. */
static void make_whiteout(int pfd, const char *leaf, const struct entry *e)
{
	const char *name = leaf + strlen(".wh.");
	remove_existing(pfd, name, e->path);
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
		sys_fail("mknod", e->path);
	if (fchownat(pfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		sys_fail("chown", e->path);
}

/* .wh..wh..opq: the parent directory hides everything below it in lower layers. */
static void make_opaque(int pfd, const struct entry *e)
{
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		sys_fail("open", e->path);
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		sys_fail("setxattr trusted.overlay.opaque on the parent of", e->path);
	close(fd);
}

/* The entry "." (or "./"): DIR itself. */
static void apply_root(const struct entry *e)
{
	if (e->type != '5')
		refuse("the root of the layer can only be a directory");
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		sys_fail("open", "");
	set_owner_mode_xattrs(fd, e, false);
	close(fd);
	remember_dir_time(e);
}

static void apply_entry(const struct entry *e, enum name_kind kind)
{
	if (!e->path[0]) {
		apply_root(e);
		entries_done++;
		return;
	}
	if (kind == AUFS_META)
		return;
	if (e->type == '1' && (kind != PLAIN || names_whiteout(e->link)))
		refuse("a hard link to or from a whiteout name");
	char parent[PATH_MAX];
	const char *leaf = split(e->path, parent);
	int pfd = open_parent(parent, true, "a parent");
	if (kind == OPAQUE)
		make_opaque(pfd, e);
	else if (kind == WHITEOUT)
		make_whiteout(pfd, leaf, e);
	else if (e->type == '0' || e->type == '\0' || e->type == '7')
		make_file(pfd, leaf, e);
	else if (e->type == '5')
		make_dir(pfd, leaf, e);
	else if (e->type == '2')
		make_symlink(pfd, leaf, e);
	else if (e->type == '1')
		make_hard_link(pfd, leaf, e);
	else
		make_node(pfd, leaf, e);
	close_parent(pfd);
	entries_done++;
}

/* ---- the archive ---- */

/* A type flag for a message: 'V', or its byte in hex when it is not printable. */
static const char *type_shown(char type)
{
	static char out[8];
	unsigned char c = (unsigned char)type;
	snprintf(out, sizeof out, c >= 0x21 && c < 0x7f && c != '\'' ? "'%c'" : "0x%02x", c);
	return out;
}

static void set_cur_name(const char *s, size_t len)
{
	size_t n = len < sizeof cur_name - 1 ? len : sizeof cur_name - 1;
	memcpy(cur_name, s, n);
	cur_name[n] = '\0';
}

/* The header's own name: ustar splits long ones into prefix "/" name. */
static void header_name(const struct tar_header *t, bool ustar, char out[PATH_MAX])
{
	size_t nlen = strnlen(t->name, sizeof t->name);
	size_t plen = ustar ? strnlen(t->prefix, sizeof t->prefix) : 0;
	size_t o = 0;
	if (plen) {
		memcpy(out, t->prefix, plen);
		out[plen] = '/';
		o = plen + 1;
	}
	memcpy(out + o, t->name, nlen);
	out[o + nlen] = '\0';
}

/* Links, devices, directories and FIFOs have no content whatever their size
 * field says, as the common readers take them. */
static bool header_only(char type)
{
	return type >= '1' && type <= '6';
}

/* Turns a header and the pending pax/GNU headers into the entry, applies it,
 * and consumes its content. */
static void read_entry(const struct tar_header *t, bool ustar, bool gnu, unsigned long long header_size)
{
	static struct entry e;
	static char raw[PATH_MAX], rawlink[PATH_MAX];
	e.type = t->typeflag;

	if (meta.path) {
		set_cur_name(meta.path, meta.path_len);
		if (memchr(meta.path, '\0', meta.path_len))
			refuse("pax path has a NUL byte");
		if (meta.path_len >= PATH_MAX)
			refuse("a name longer than PATH_MAX");
		memcpy(raw, meta.path, meta.path_len);
		raw[meta.path_len] = '\0';
	} else if (meta.long_name) {
		memcpy(raw, long_name, strlen(long_name) + 1);
	} else {
		header_name(t, ustar, raw);
	}
	set_cur_name(raw, strlen(raw));
	if (!raw[0])
		refuse("an entry without a name");

	if (e.type == 'S')
		refuse("sparse files are not supported");
	if (!strchr("01234567", e.type))   /* strchr finds '\0' too: a v7 regular file */
		refuse("unsupported entry type %s", type_shown(e.type));
	/* v7 archives mark directories by a trailing slash only. */
	if (e.type == '\0' && raw[strlen(raw) - 1] == '/')
		e.type = '5';
	canonical(false, raw, e.path);

	if (meta.linkpath) {
		if (memchr(meta.linkpath, '\0', meta.linkpath_len))
			refuse("pax linkpath has a NUL byte");
		if (meta.linkpath_len >= PATH_MAX)
			refuse("a link target longer than PATH_MAX");
		memcpy(rawlink, meta.linkpath, meta.linkpath_len);
		rawlink[meta.linkpath_len] = '\0';
	} else if (meta.long_link) {
		memcpy(rawlink, long_link, strlen(long_link) + 1);
	} else {
		size_t l = strnlen(t->linkname, sizeof t->linkname);
		memcpy(rawlink, t->linkname, l);
		rawlink[l] = '\0';
	}
	if (e.type == '1')
		canonical(true, rawlink, e.link);
	else
		memcpy(e.link, rawlink, strlen(rawlink) + 1);   /* a symlink's target: any text, never followed here */

	e.mode = (mode_t)(field_in_range("mode", t->mode, sizeof t->mode, (unsigned long long)LLONG_MAX) & 07777);
	e.uid = (uid_t)(meta.has_uid ? meta.uid : field_in_range("uid", t->uid, sizeof t->uid, 0xfffffffeULL));
	e.gid = (gid_t)(meta.has_gid ? meta.gid : field_in_range("gid", t->gid, sizeof t->gid, 0xfffffffeULL));
	if (meta.has_mtime) {
		e.mtime = meta.mtime;
	} else {
		long long mtime;
		if (!parse_numeric(t->mtime, sizeof t->mtime, &mtime))
			refuse("invalid mtime field");
		e.mtime = (struct timespec){ .tv_sec = (time_t)mtime, .tv_nsec = 0 };
	}
	e.devmajor = e.devminor = 0;
	if ((e.type == '3' || e.type == '4') && (ustar || gnu)) {
		/* What the kernel's dev_t holds: 12 bits of major, 20 of minor. */
		e.devmajor = (unsigned)field_in_range("devmajor", t->devmajor, sizeof t->devmajor, 0xfff);
		e.devminor = (unsigned)field_in_range("devminor", t->devminor, sizeof t->devminor, 0xfffff);
	}
	e.pax = meta.pax ? pax_buf : NULL;
	e.pax_len = meta.pax ? meta.pax_len : 0;
	e.size = header_only(e.type) ? 0 : meta.has_size ? meta.size : header_size;

	enum name_kind kind = e.path[0] ? classify(e.path) : PLAIN;
	apply_entry(&e, kind);
	/* make_file consumed a file's content; a whiteout's or aufs's is dropped. */
	bool consumed = kind == PLAIN && e.path[0] && (e.type == '0' || e.type == '\0' || e.type == '7');
	if (!consumed)
		input_skip(e.size);
	input_skip_padding(e.size);
	meta = (struct pending){ 0 };
}

/* The end of the archive: two zero blocks. Also taken as the end, as the
 * common readers do: end of input where a header would start, or after a
 * single zero block. */
static void read_archive(void)
{
	union {
		struct tar_header t;
		unsigned char b[BLOCK];
	} h;
	for (;;) {
		unsigned long long at = in.offset;
		size_t got = input_read(h.b, BLOCK);
		cur_name[0] = '\0';
		if (got == 0 && !meta.pax && !meta.long_name && !meta.long_link)
			return;
		if (got < BLOCK)
			refuse("truncated archive");
		if (is_zero_block(h.b)) {
			if (meta.pax || meta.long_name || meta.long_link)
				refuse("end of archive after a pax or GNU long-name header, before its entry");
			got = input_read(h.b, BLOCK);
			if (got > 0 && got < BLOCK)
				refuse("truncated archive");
			if (got == BLOCK && !is_zero_block(h.b))
				refuse("a zero block inside the archive at byte %llu", at);
			return;
		}
		verify_checksum(h.b, at);
		bool ustar = memcmp(h.t.magic, "ustar\0", 6) == 0;
		bool gnu = memcmp(h.t.magic, "ustar ", 6) == 0 && memcmp(h.t.version, " \0", 2) == 0;
		header_name(&h.t, ustar, cur_name);
		unsigned long long size = field_in_range("size", h.t.size, sizeof h.t.size, (unsigned long long)LLONG_MAX);
		switch (h.t.typeflag) {
		case 'x':
			read_pax(size);
			break;
		case 'g':
			/* Global pax headers set defaults podd has no use for (comments, charsets). */
			if (size > META_MAX)
				refuse("pax global header of %llu bytes is larger than 1 MiB", size);
			input_skip(size);
			input_skip_padding(size);
			break;
		case 'L':
			read_long_name(size, &meta.long_name, long_name);
			break;
		case 'K':
			read_long_name(size, &meta.long_link, long_link);
			break;
		default:
			read_entry(&h.t, ustar, gnu, size);
		}
	}
}

/* The caller hashes everything it writes to us: reading to the end keeps its
 * pipe open until it is done. */
static void drain_input(void)
{
	while (input_fill() > 0)
		input_consume(in.len - in.pos);
}

/* remove_tree holds a descriptor per level of the tree it removes, and a name
 * of PATH_MAX bytes nests PATH_MAX / 2 directories deep: the soft limit is
 * raised for that, the hard one too where we may (CAP_SYS_RESOURCE). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = PATH_MAX / 2 + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	struct rlimit raised = { .rlim_cur = want, .rlim_max = rl.rlim_max < want ? want : rl.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		/* Below a hard limit of about PATH_MAX / 2 only replacing a tree that
		 * deep can run out, and that fails with EMFILE, named. */
	}
}

int unpack_main(int argc, char **argv)
{
	whoami = "podd-init unpack";
	if (argc != 2 || argv[1][0] == '\0')
		usage_error("expected one argument: podd-init unpack DIR < LAYER.tar");
	dir_arg = argv[1];
	/* Modes come from the archive, whole: no umask may take bits away. */
	umask(0);
	raise_fd_limit();
	root_fd = open(dir_arg, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die(EXIT_SYSTEM, "open %s: %s", dir_arg, strerror(errno));

	read_archive();
	cur_name[0] = '\0';
	set_dir_times();
	drain_input();

	char out[96];
	int n = snprintf(out, sizeof out, "{\"entries\":%llu,\"bytes\":%llu}\n", entries_done, bytes_written);
	if (NO_EINTR(write(STDOUT_FILENO, out, (size_t)n)) != n)
		die(EXIT_SYSTEM, "write stdout: %s", strerror(errno));
	return 0;
}
