/* The container's log, written by the monitor: CRI records, long lines split, rotation. */
#include "podd-init.h"

void open_log(struct log_file *lf)
{
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	lf->size = lf->fd >= 0 && fstat(lf->fd, &st) == 0 ? st.st_size : 0;
}

/* PATH -> PATH.1 -> ... -> PATH.<max_files-1>; the oldest is overwritten. With
 * one file allowed, PATH is emptied instead. */
static void rotate_log(struct log_file *lf)
{
	if (lf->max_files <= 1) {
		if (ftruncate(lf->fd, 0) == 0)
			lf->size = 0;
		return;
	}
	char from[PATH_MAX], to[PATH_MAX];
	for (unsigned long i = lf->max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof from, "%s", lf->path);
		else
			snprintf(from, sizeof from, "%s.%lu", lf->path, i - 1);
		snprintf(to, sizeof to, "%s.%lu", lf->path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			say("rotate %s: %s", from, strerror(errno));
	}
	close(lf->fd);
	open_log(lf);
	if (lf->fd < 0)
		say("open %s: %s", lf->path, strerror(errno));
}

/* One CRI record: "<RFC3339Nano> <stream> <P|F> <message>\n", in one write so
 * that a reader never sees half a record. */
static void write_record(struct log_file *lf, const char *stream, char tag, const char *msg, size_t len)
{
	char head[64], ts[40];
	now_rfc3339(ts);
	int hl = snprintf(head, sizeof head, "%s %s %c ", ts, stream, tag);
	size_t total = (size_t)hl + len + 1;
	if (lf->max_size && lf->size > 0 && (unsigned long long)lf->size + total > lf->max_size)
		rotate_log(lf);
	struct iovec iov[3] = { { head, (size_t)hl }, { (char *)msg, len }, { "\n", 1 } };
	ssize_t n = lf->fd < 0 ? -1 : NO_EINTR(writev(lf->fd, iov, 3));
	if (n < 0) {
		/* The command must never block on a full disk: drop the record, say so once. */
		if (!lf->write_failed)
			say("write %s: %s; dropping log records", lf->path, strerror(errno));
		lf->write_failed = true;
		return;
	}
	lf->size += n;
}

/* Turn buffered output into records: a full line is an F record; a line longer
 * than LOG_LINE_MAX is cut into P records, the rest of it ends in an F record.
 * At end of file, an unterminated last line is a full record too. */
static void emit_records(struct log_file *lf, struct log_stream *s, bool at_eof)
{
	size_t off = 0;
	while (off < s->len) {
		size_t avail = s->len - off;
		size_t scan = avail < LOG_LINE_MAX + 1 ? avail : LOG_LINE_MAX + 1;
		char *nl = memchr(s->buf + off, '\n', scan);
		if (nl) {
			size_t l = (size_t)(nl - (s->buf + off));
			write_record(lf, s->name, 'F', s->buf + off, l);
			off += l + 1;
		} else if (avail > LOG_LINE_MAX) {
			write_record(lf, s->name, 'P', s->buf + off, LOG_LINE_MAX);
			off += LOG_LINE_MAX;
		} else if (at_eof) {
			write_record(lf, s->name, 'F', s->buf + off, avail);
			off += avail;
		} else {
			break;
		}
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

void drain_stream(struct log_file *lf, struct log_stream *s)
{
	ssize_t n = NO_EINTR(read(s->fd, s->buf + s->len, sizeof s->buf - s->len));
	if (n > 0) {
		s->len += (size_t)n;
		emit_records(lf, s, false);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	emit_records(lf, s, true);
	close(s->fd);
	s->fd = -1;
}
