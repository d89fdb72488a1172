/* `podd-init prober`: the daemon's probes, many at once, in one
 * long-lived process. A probe from Node costs the daemon a spawn (exec) or a
 * socket with its JavaScript around it (TCP, HTTP); here it costs a fork or a
 * socket in a loop that does nothing else, and the daemon only writes a
 * request and reads an answer.
 *
 * Requests on stdin, answers on stdout, each a line and then LEN bytes:
 *   request  "ID KIND TIMEOUT_MS LEN\n" PAYLOAD
 *     exec   PAYLOAD: the arguments of `podd-init exec`, each ended by NUL;
 *            the answer's bytes are the first OUTPUT_MAX of its stdout and
 *            stderr, together.
 *     tcp    PAYLOAD: "ADDRESS\0PORT\0" (a numeric IPv4 or IPv6 address);
 *            success once the connection is made, which is then closed.
 *     http   PAYLOAD: "ADDRESS\0PORT\0" and the request's bytes; the answer's
 *            bytes are the response, its headers whole (at most HEAD_MAX) and
 *            at most BODY_MAX of its body: the daemon parses them.
 *   answer   "ID RESULT LEN\n" BYTES
 *     RESULT "exit:N" (exec), "ok" (tcp, http), "timeout", or "error:ERRNO"
 *            (ECONNREFUSED, ...), or "error:EINVAL" for a request that
 *            makes no sense (BYTES then say why).
 * At its time limit an exec is killed (its command dies with it: podd-init
 * exec's child has the parent-death signal) and a socket is closed. The
 * prober ends when stdin does, and with the daemon (parent-death signal): its
 * execs end with it. */
#include "podd-init.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#define MAX_OPS 1024
#define OUTPUT_MAX (10 * 1024)          /* the kubelet's maxReadLength */
#define HEAD_MAX (16 * 1024)
#define BODY_MAX (10 * 1024)
#define REQUEST_MAX (256 * 1024)
#define HEADER_MAX 128

enum kind { EXEC, TCP, HTTP };

struct op {
	bool used;
	unsigned gen;           /* told apart from an earlier op of the same slot in epoll's events */
	enum kind kind;
	char id[32];
	int fd;                 /* the socket, or the read end of an exec's output */
	pid_t pid;              /* an exec's process, 0 once reaped */
	int status;
	long long deadline;     /* ms, CLOCK_MONOTONIC */
	char *buf;              /* what was read (exec, http), or the request to send (http, before it is sent) */
	size_t len, cap;
	char *request;          /* http: the bytes still to send */
	size_t request_len, sent;
	bool connected;
};

static struct op ops[MAX_OPS];
static int epfd;
/* The requests as they come in on stdin. */
static char input[REQUEST_MAX + HEADER_MAX];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers are written whole and in blocking mode: the daemon reads them at once. */
static void answer(const char *id, const char *result, const char *bytes, size_t len)
{
	char head[96];
	int n = snprintf(head, sizeof head, "%s %s %zu\n", id, result, len);
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)bytes, len } };
	size_t total = (size_t)n + len;
	while (total > 0) {
		ssize_t w = NO_EINTR(writev(STDOUT_FILENO, iov, 2));
		if (w < 0)
			exit(0);   /* the daemon is gone: nobody to answer */
		total -= (size_t)w;
		for (int i = 0; i < 2; i++) {
			size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			w -= (ssize_t)take;
		}
	}
}

/* The names the daemon turns into Go's words (musl has no strerrorname_np). */
static const char *errno_name(int err)
{
	switch (err) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EPIPE: return "EPIPE";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	default: return NULL;
	}
}

static void answer_errno(const char *id, int err)
{
	char result[48];
	const char *name = errno_name(err);
	if (name)
		snprintf(result, sizeof result, "error:%s", name);
	else
		snprintf(result, sizeof result, "error:%d", err);
	const char *text = strerror(err);
	answer(id, result, text, strlen(text));
}

/* epoll's cookie for an op: its slot and generation. */
static uint64_t cookie(const struct op *o)
{
	return (uint64_t)(o - ops) | ((uint64_t)o->gen << 32);
}

static void release(struct op *o)
{
	if (o->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, o->fd, NULL);
		close(o->fd);
	}
	free(o->buf);
	free(o->request);
	unsigned gen = o->gen;
	memset(o, 0, sizeof *o);
	o->gen = gen;
	o->fd = -1;
}

/* An exec is answered once its process has ended and its output is read to
 * the end (or the prober stops waiting for the end: see reap). */
static void finish_exec(struct op *o)
{
	char result[32];
	snprintf(result, sizeof result, "exit:%d", exit_code_of(o->status));
	answer(o->id, result, o->buf ? o->buf : "", o->len);
	release(o);
}

static bool want(struct op *o, size_t extra)
{
	if (o->len + extra <= o->cap)
		return true;
	size_t cap = o->cap ? o->cap * 2 : 4096;
	while (cap < o->len + extra)
		cap *= 2;
	char *b = realloc(o->buf, cap);
	if (!b)
		return false;
	o->buf = b;
	o->cap = cap;
	return true;
}

/* Reads what an exec printed; keeps the first OUTPUT_MAX bytes and drops the
 * rest, so that a chatty check never blocks on a full pipe. */
static void read_output(struct op *o)
{
	char scratch[4096];
	for (;;) {
		ssize_t n = read(o->fd, scratch, sizeof scratch);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {   /* end of file, or an error that ends it */
			epoll_ctl(epfd, EPOLL_CTL_DEL, o->fd, NULL);
			close(o->fd);
			o->fd = -1;
			if (o->pid == 0)
				finish_exec(o);
			return;
		}
		size_t keep = o->len < OUTPUT_MAX ? OUTPUT_MAX - o->len : 0;
		if (keep > (size_t)n)
			keep = (size_t)n;
		if (keep && want(o, keep)) {
			memcpy(o->buf + o->len, scratch, keep);
			o->len += keep;
		}
	}
}

/* In a forked exec child: nothing of the other checks (their requests, their
 * answers so far) is carried into a container; argv (in the payload) stays. */
static void forget_other_checks(const char *payload, size_t len)
{
	for (size_t i = 0; i < MAX_OPS; i++) {
		if (ops[i].buf)
			memset(ops[i].buf, 0, ops[i].cap);
		if (ops[i].request)
			memset(ops[i].request, 0, ops[i].request_len);
	}
	memset(input, 0, (size_t)(payload - input));
	memset((char *)payload + len, 0, sizeof input - (size_t)(payload + len - input));
}

static void start_exec(struct op *o, char *payload, size_t len)
{
	/* The arguments of `podd-init exec`, behind its role name, each ended by NUL. */
	if (len == 0 || payload[len - 1] != '\0') {
		static const char why[] = "exec arguments must each end with NUL";
		answer(o->id, "error:EINVAL", why, sizeof why - 1);
		release(o);
		return;
	}
	size_t argc = 1;
	for (size_t i = 0; i < len; i++)
		argc += payload[i] == '\0';
	char **argv = calloc(argc + 1, sizeof *argv);
	int out[2];
	if (!argv || pipe2(out, O_CLOEXEC) < 0) {
		free(argv);
		answer_errno(o->id, errno);
		release(o);
		return;
	}
	argv[0] = "exec";
	for (size_t i = 0, a = 1; i < len; a++) {
		argv[a] = payload + i;
		i += strlen(payload + i) + 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* As if the daemon had spawned `podd-init exec`: default signals,
		 * stdin from /dev/null, stdout and stderr into the pipe. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		/* Its own process group, which the command stays in: the kill at the
		 * time limit reaches a command that changed its uid too (setuid
		 * clears the parent-death signal). */
		setpgid(0, 0);
		forget_other_checks(payload, len);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 || dup2(out[1], STDERR_FILENO) < 0)
			_exit(EXIT_EXEC_FAILED);
		if (close_fd_range(3, ~0U, 0) < 0)
			close_fds_by_loop(-1);
		optind = 0;   /* getopt starts afresh in exec_main */
		exit(exec_main((int)argc, argv));
	}
	int err = errno;
	close(out[1]);
	free(argv);
	if (pid < 0) {
		close(out[0]);
		answer_errno(o->id, err);
		release(o);
		return;
	}
	o->pid = pid;
	o->fd = out[0];
	fcntl(o->fd, F_SETFL, O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = cookie(o) };
	epoll_ctl(epfd, EPOLL_CTL_ADD, o->fd, &ev);
}

static bool parse_address(const char *addr, const char *port, struct sockaddr_storage *ss, socklen_t *sl)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p == 0 || p > 65535)
		return false;
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)p);
		*sl = sizeof *v4;
		return true;
	}
	if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)p);
		*sl = sizeof *v6;
		return true;
	}
	return false;
}

static void start_socket(struct op *o, char *payload, size_t len)
{
	const char *addr = payload;
	size_t a = strnlen(payload, len);
	const char *port = a < len ? payload + a + 1 : "";
	size_t p = a < len ? strnlen(port, len - a - 1) : 0;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (a + 1 + p >= len || !parse_address(addr, port, &ss, &sl)) {
		static const char why[] = "want ADDRESS\\0PORT\\0 with a numeric address and a port 1-65535";
		answer(o->id, "error:EINVAL", why, sizeof why - 1);
		release(o);
		return;
	}
	if (o->kind == HTTP) {
		size_t off = a + 1 + p + 1;
		o->request_len = len - off;
		if (o->request_len == 0) {
			static const char why[] = "an http probe without its request";
			answer(o->id, "error:EINVAL", why, sizeof why - 1);
			release(o);
			return;
		}
		o->request = malloc(o->request_len);
		if (!o->request) {
			answer_errno(o->id, ENOMEM);
			release(o);
			return;
		}
		memcpy(o->request, payload + off, o->request_len);
	}
	o->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->fd < 0) {
		answer_errno(o->id, errno);
		release(o);
		return;
	}
	if (connect(o->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		answer_errno(o->id, errno);
		release(o);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = cookie(o) };
	epoll_ctl(epfd, EPOLL_CTL_ADD, o->fd, &ev);
}

/* The end of the header block that starts at from (just past its empty
 * line, which may be CRLF or a bare LF, as Go's reader takes both); 0 when
 * it has not all come yet. */
static size_t head_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The status code of the response whose status line starts at from; 0 if it is none. */
static int status_at(const char *buf, size_t len, size_t from)
{
	if (len - from < 12 || memcmp(buf + from, "HTTP/", 5) != 0)
		return 0;
	const char *sp = memchr(buf + from, ' ', len - from < 16 ? len - from : 16);
	if (!sp || !isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) || !isdigit((unsigned char)sp[3]))
		return 0;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

/* Whether the response in buf is complete enough to judge: past any interim
 * 1xx responses (101 excepted), as Go's client skips them, the final one's
 * headers, and its body up to its Content-Length, the end of its chunks or
 * BODY_MAX. A response without either is read to the end of the connection
 * (the request said Connection: close). */
static bool response_complete(const struct op *o)
{
	size_t from = 0, end;
	for (;;) {
		end = head_end(o->buf, o->len, from);
		if (!end)
			return o->len - from >= HEAD_MAX;
		int status = status_at(o->buf, o->len, from);
		if (status < 100 || status >= 200 || status == 101)
			break;
		from = end;
	}
	size_t body = o->len - end;
	if (body >= BODY_MAX)
		return true;
	for (size_t line = from; line < end;) {
		const char *nl = memchr(o->buf + line, '\n', end - line);
		size_t n = (size_t)(nl - (o->buf + line));
		const char *l = o->buf + line;
		if (n > 15 && strncasecmp(l, "content-length:", 15) == 0)
			return body >= strtoull(l + 15, NULL, 10);
		if (n > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0 && memmem(l, n, "chunked", 7))
			return body >= 5 && (memcmp(o->buf + o->len - 5, "0\r\n\r\n", 5) == 0 || memcmp(o->buf + o->len - 3, "0\n\n", 3) == 0);
		line += n + 1;
	}
	return false;
}

static void socket_ready(struct op *o, uint32_t events)
{
	if (!o->connected) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT))
			err = ECONNRESET;
		if (err) {
			answer_errno(o->id, err);
			release(o);
			return;
		}
		o->connected = true;
		if (o->kind == TCP) {
			answer(o->id, "ok", "", 0);
			release(o);
			return;
		}
	}
	while (o->sent < o->request_len) {
		ssize_t n = send(o->fd, o->request + o->sent, o->request_len - o->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			answer_errno(o->id, errno);
			release(o);
			return;
		}
		o->sent += (size_t)n;
		if (o->sent == o->request_len) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = cookie(o) };
			epoll_ctl(epfd, EPOLL_CTL_MOD, o->fd, &ev);
		}
	}
	for (;;) {
		if (!want(o, 4096)) {
			answer_errno(o->id, ENOMEM);
			release(o);
			return;
		}
		ssize_t n = recv(o->fd, o->buf + o->len, 4096, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0 && o->len == 0) {
			answer_errno(o->id, errno);
			release(o);
			return;
		}
		if (n > 0)
			o->len += (size_t)n;
		if (n <= 0 || response_complete(o)) {
			/* What came before a reset or the end is the response; the daemon
			 * finds a truncated one as such. */
			answer(o->id, "ok", o->buf, o->len);
			release(o);
			return;
		}
	}
}

static struct op *free_op(void)
{
	for (size_t i = 0; i < MAX_OPS; i++)
		if (!ops[i].used)
			return &ops[i];
	return NULL;
}

/* One request, its header line parsed. */
static void start(const char *id, const char *kind, unsigned long long timeout, char *payload, size_t len)
{
	struct op *o = free_op();
	if (!o) {
		static const char why[] = "too many probes at once";
		answer(id, "error:EAGAIN", why, sizeof why - 1);
		return;
	}
	unsigned gen = o->gen + 1;
	memset(o, 0, sizeof *o);
	o->gen = gen;
	o->used = true;
	o->fd = -1;
	snprintf(o->id, sizeof o->id, "%s", id);
	o->deadline = now_ms() + (long long)(timeout > 86400000ULL ? 86400000ULL : timeout);
	if (strcmp(kind, "exec") == 0) {
		o->kind = EXEC;
		start_exec(o, payload, len);
	} else if (strcmp(kind, "tcp") == 0 || strcmp(kind, "http") == 0) {
		o->kind = kind[0] == 't' ? TCP : HTTP;
		start_socket(o, payload, len);
	} else {
		static const char why[] = "KIND is exec, tcp or http";
		answer(id, "error:EINVAL", why, sizeof why - 1);
		release(o);
	}
}

/* "ID KIND TIMEOUT_MS LEN": four fields, numbers in decimal. */
static bool parse_header(char *line, char id[32], char kind[8], unsigned long long *timeout, size_t *len)
{
	char *save, *f[5];
	int n = 0;
	for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n != 4 || strlen(f[0]) >= 32 || strlen(f[1]) >= 8)
		return false;
	char *end;
	errno = 0;
	*timeout = strtoull(f[2], &end, 10);
	if (errno || *end || f[2][0] == '-')
		return false;
	unsigned long long l = strtoull(f[3], &end, 10);
	if (errno || *end || f[3][0] == '-')
		return false;
	snprintf(id, 32, "%s", f[0]);
	snprintf(kind, 8, "%s", f[1]);
	*len = (size_t)l;
	return true;
}

/* Starts every whole request in buf (have bytes), drops what a refused one's
 * payload still owes (*skip); returns the bytes left, moved to the front. */
static size_t take_requests(char *buf, size_t have, size_t *skip)
{
	size_t at = 0;
	for (;;) {
		if (*skip) {
			size_t drop = *skip < have - at ? *skip : have - at;
			at += drop;
			*skip -= drop;
			if (*skip)
				break;
		}
		char *nl = memchr(buf + at, '\n', have - at);
		if (!nl) {
			if (have - at >= HEADER_MAX)
				die(EXIT_EXEC_FAILED, "a request line of more than %d bytes", HEADER_MAX);
			break;
		}
		*nl = '\0';
		size_t head = (size_t)(nl - (buf + at)) + 1;
		char id[32], kind[8];
		unsigned long long timeout;
		size_t len;
		if (!parse_header(buf + at, id, kind, &timeout, &len))
			die(EXIT_EXEC_FAILED, "a request line that is not \"ID KIND TIMEOUT_MS LEN\"");
		if (len > REQUEST_MAX) {
			static const char why[] = "the request is larger than the prober takes";
			answer(id, "error:EINVAL", why, sizeof why - 1);
			at += head;
			*skip = len;
			continue;
		}
		if (have - at < head + len) {
			*nl = '\n';
			break;
		}
		start(id, kind, timeout, buf + at + head, len);
		at += head + len;
	}
	memmove(buf, buf + at, have - at);
	return have - at;
}

/* Reaps every ended exec; one whose output is still open is answered at
 * once with what it printed so far: what it left running (a background
 * child holding the pipe) is not waited for. */
static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = NO_EINTR(waitpid(-1, &status, WNOHANG));
		if (pid <= 0)
			return;
		for (size_t i = 0; i < MAX_OPS; i++) {
			struct op *o = &ops[i];
			if (!o->used || o->kind != EXEC || o->pid != pid)
				continue;
			o->pid = 0;
			o->status = status;
			if (o->fd >= 0)
				read_output(o);   /* what is in the pipe, and the end if it came (which answers) */
			if (o->used)
				finish_exec(o);
		}
	}
}

static void expire(long long now)
{
	for (size_t i = 0; i < MAX_OPS; i++) {
		struct op *o = &ops[i];
		if (!o->used || o->deadline > now)
			continue;
		if (o->kind == EXEC && o->pid > 0)
			kill(-o->pid, SIGKILL);   /* its group: it and its command; reaped later */
		answer(o->id, "timeout", "", 0);
		release(o);
	}
}

static int next_timeout(void)
{
	long long soonest = -1, now = now_ms();
	for (size_t i = 0; i < MAX_OPS; i++)
		if (ops[i].used && (soonest < 0 || ops[i].deadline < soonest))
			soonest = ops[i].deadline;
	if (soonest < 0)
		return -1;
	return soonest <= now ? 0 : (int)(soonest - now > INT_MAX ? INT_MAX : soonest - now);
}

int prober_main(int argc, char **argv)
{
	(void)argv;
	whoami = "podd-init prober";
	if (argc != 1)
		usage_error("prober takes no arguments");
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* It holds every pod's requests and answers; an exec child, which takes a
	 * container's identity before its execve, must not be readable through
	 * /proc/PID/mem by that container's root. execve makes the command
	 * dumpable again as usual. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (size_t i = 0; i < MAX_OPS; i++)
		ops[i].fd = -1;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sigfd < 0 || epfd < 0)
		die(EXIT_EXEC_FAILED, "signalfd or epoll: %s", strerror(errno));
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) & ~O_NONBLOCK);
	enum { INPUT = MAX_OPS, SIGNALS };
	struct epoll_event in = { .events = EPOLLIN, .data.u64 = INPUT }, sig = { .events = EPOLLIN, .data.u64 = SIGNALS };
	epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &in);
	epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &sig);

	size_t have = 0;
	size_t skip = 0;   /* bytes of a refused payload still to drop */
	bool input_open = true;
	while (input_open) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, ARRAY_LEN(evs), next_timeout());
		if (n < 0 && errno != EINTR)
			die(EXIT_EXEC_FAILED, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t c = evs[i].data.u64;
			if (c == SIGNALS) {
				struct signalfd_siginfo si;
				while (read(sigfd, &si, sizeof si) == sizeof si) {
				}
				reap();
			} else if (c == INPUT) {
				ssize_t r = NO_EINTR(read(STDIN_FILENO, input + have, sizeof input - have));
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					input_open = false;
					break;
				}
				if (r > 0)
					have += (size_t)r;
				have = take_requests(input, have, &skip);
			} else {
				struct op *o = &ops[c & 0xffffffffu];
				if (!o->used || o->gen != (unsigned)(c >> 32))
					continue;   /* an event of an op answered earlier in this round */
				if (o->kind == EXEC)
					read_output(o);
				else
					socket_ready(o, evs[i].events);
			}
		}
		expire(now_ms());
	}
	for (size_t i = 0; i < MAX_OPS; i++)
		if (ops[i].used && ops[i].kind == EXEC && ops[i].pid > 0)
			kill(-ops[i].pid, SIGKILL);
	return 0;
}
