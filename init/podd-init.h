/*
 * podd-init's shared declarations. One static binary, one file per role:
 *   main.c      the role dispatch (and the usage of every role)
 *   plain.c     role 1, a plain init
 *   sandbox.c   role 2, the pod's namespaces
 *   monitor.c   role 3, the monitor of a container
 *   pid1.c      the PID-1 loop (roles 1 and 3) and role 3's PID 1
 *   rootfs.c    the container's filesystem, built by its PID 1
 *   log.c       the monitor's CRI log writer
 *   exec.c      role 4, a command in a running container (and its --tty relay)
 *   unpack.c    role 5, one image layer from a tar stream, written beneath a directory
 *   prober.c    the daemon's probes (exec, TCP, HTTP), many at once in one process
 *   command.c   starting the command, and the error channel that reports it
 *   privileges.c  the command's capabilities and seccomp filter
 *   common.c    diagnostics, numbers, times, descriptors and signals
 */
#ifndef PODD_INIT_H
#define PODD_INIT_H

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Idmapped mounts (open_tree, mount_setattr, move_mount: Linux 5.12), declared
 * here because musl ships neither the calls nor <linux/mount.h>. The numbers
 * are the same on x86-64 and arm64. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define PODD_OPEN_TREE_CLONE 1
#define PODD_AT_RECURSIVE 0x8000
#define PODD_MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#define PODD_MOUNT_ATTR_RDONLY 0x00000001
#define PODD_MOUNT_ATTR_NOSUID 0x00000002
#define PODD_MOUNT_ATTR_NODEV 0x00000004
#define PODD_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define PODD_MOVE_MOUNT_T_SYMLINKS 0x00000010
#define PODD_MOUNT_ATTR_IDMAP 0x00100000
struct podd_mount_attr {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* struct open_how and the RESOLVE_* flags of <linux/openat2.h> (Linux 5.6), for
 * the same reason. openat2 has the same number on every architecture. */
struct podd_open_how {
	unsigned long long flags;
	unsigned long long mode;
	unsigned long long resolve;
};
#define PODD_RESOLVE_NO_XDEV 0x01
#define PODD_RESOLVE_NO_MAGICLINKS 0x02
#define PODD_RESOLVE_NO_SYMLINKS 0x04
#define PODD_RESOLVE_BENEATH 0x08
#define PODD_RESOLVE_IN_ROOT 0x10
#define PODD_SYS_openat2 437

#define MAX_MOUNTS 64
#define MAX_HIDE 8
#define EXIT_SETUP 128   /* the container could not be set up: Kubernetes' StartError code */
#define EXIT_EXEC_FAILED 125
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 127
#define EXIT_CANNOT_EXEC 126

#define MAX_CGROUPS 16
#define MAX_GROUPS 64
#define MSG_MAX 1024
/* The CRI log format splits lines longer than this into partial records; 16 KiB is what containerd uses. */
#define LOG_LINE_MAX (16 * 1024)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Retry a call interrupted by a signal. We install no handlers, but a stop and
 * continue (SIGSTOP/SIGCONT, ptrace) still makes some blocking calls return EINTR. */
#define NO_EINTR(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })

/* common.c */
extern const char *whoami;   /* prefix of every diagnostic: "podd-init", "podd-init sandbox", ... */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define die(code, ...) do { say(__VA_ARGS__); exit(code); } while (0)

#define usage_error(...) do { say(__VA_ARGS__); say("see the comment at the top of init/main.c for usage"); exit(EXIT_USAGE); } while (0)

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
int close_fd_range(unsigned first, unsigned last, unsigned flags);
void close_fds_by_loop(int keep);
void close_inherited_fds(void);
const char *signal_abbrev(int sig);
unsigned long parse_number(const char *what, const char *s, unsigned long max);
long parse_signed(const char *what, const char *s, long min, long max);
void now_rfc3339(char out[40]);
extern sigset_t original_mask;
extern struct sigaction original_sigpipe;
int block_all_signals(void);
void read_signal(int sigfd, struct signalfd_siginfo *si, int exit_code);
bool is_fault_signal(int sig);
int exit_code_of(int status);
int write_atomic(int dirfd, const char *name, const char *text);
unsigned long long proc_start_time(pid_t pid);
const char *join_cgroups(const char *const *dirs, size_t n);

/* command.c */

/* One instruction of a classic BPF program, struct sock_filter of
 * <linux/filter.h>: declared here because podd-init builds against libcs
 * (musl) that do not ship the kernel's headers. */
struct bpf_insn_classic {
	unsigned short code;
	unsigned char jt, jf;
	unsigned int k;
};

/* How the command is started. */
struct command {
	char **argv;
	int chan;             /* write end of the error channel */
	int out_fd, err_fd;   /* the monitor's log pipes, or -1 to keep ours */
	bool keep_stdin;      /* else stdin is /dev/null */
	bool tty;             /* tty_fd, a pty slave, becomes stdio and the controlling terminal */
	int tty_fd;
	enum { KEEP_GROUP, OWN_GROUP, OWN_SESSION } grouping;
	const char *cwd;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	size_t ngroups;
	bool no_new_privs;    /* allowPrivilegeEscalation: false */
	bool limit_caps;      /* --caps given: the command holds at most caps */
	unsigned long long caps;
	struct bpf_insn_classic *seccomp;   /* --seccomp: the filter, installed last; NULL: none */
	unsigned short seccomp_len;
	bool set_oom_score_adj;   /* --oom-score-adj given: the command's, inherited by what it forks */
	int oom_score_adj;
	const char *userns;       /* --userns PIN (hostUsers: false): the command joins it */
	unsigned long userns_base;   /* --userns-base N: the host id its id 0 is (podd maps 65536 ids from there) */
	bool join_userns;         /* userns_fd is open (open_userns) */
	int userns_fd;
	const char *apparmor;     /* --apparmor PROFILE: the command runs confined to it; NULL: as we run */
};

void channel_send(int chan, const char *msg);

/* Without a channel (role 4) the reason goes straight to our stderr. */
#define channel_fail(chan, ...) do { \
		char m_[MSG_MAX + 2]; \
		m_[0] = 'E'; \
		snprintf(m_ + 1, sizeof m_ - 1, __VA_ARGS__); \
		if ((chan) >= 0) \
			channel_send(chan, m_); \
		else \
			say("%s", m_ + 1); \
	} while (0)
/* A setup step of the command (or of PID 1) failed: report it, end the child. */
#define setup_fail(chan, ...) do { channel_fail(chan, __VA_ARGS__); _exit(EXIT_SETUP); } while (0)
ssize_t channel_recv(int chan, char *buf, size_t cap, pid_t *pid);
void make_channel(int chan[2]);
void exec_command(const struct command *c) __attribute__((noreturn));
pid_t spawn_command(const struct command *c);

/* Options that say how the command runs, shared by container and exec. */
enum { OPT_CWD = 1000, OPT_UID, OPT_GID, OPT_GROUPS, OPT_NO_NEW_PRIVS, OPT_CAPS, OPT_SECCOMP, OPT_OOM_SCORE_ADJ, OPT_USERNS, OPT_USERNS_BASE, OPT_APPARMOR };
#define COMMAND_OPTIONS \
	{ "cwd", required_argument, NULL, OPT_CWD }, \
	{ "uid", required_argument, NULL, OPT_UID }, \
	{ "gid", required_argument, NULL, OPT_GID }, \
	{ "groups", required_argument, NULL, OPT_GROUPS }, \
	{ "no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS }, \
	{ "caps", required_argument, NULL, OPT_CAPS }, \
	{ "seccomp", required_argument, NULL, OPT_SECCOMP }, \
	{ "oom-score-adj", required_argument, NULL, OPT_OOM_SCORE_ADJ }, \
	{ "userns", required_argument, NULL, OPT_USERNS }, \
	{ "userns-base", required_argument, NULL, OPT_USERNS_BASE }, \
	{ "apparmor", required_argument, NULL, OPT_APPARMOR }
bool parse_command_option(struct command *c, int opt, bool *uid_set, bool *gid_set);
void finish_ids(struct command *c, bool uid_set, bool gid_set);
void open_userns(struct command *c, int exit_code);
/* The host's id for the command's id in its user namespace (itself without --userns). */
unsigned long host_id(const struct command *c, unsigned long id);
/* The group devpts gives new ptys, as runtimes mount it: tty. */
#define TTY_GID 5

/* privileges.c */
const char *limit_capabilities(unsigned long long caps, char *err, size_t len);
const char *pid1_keep_only_kill(char *err, size_t len);
const char *drop_all_capabilities(char *err, size_t len);
void load_seccomp(struct command *c, const char *path);
const char *install_seccomp(const struct command *c, char *err, size_t len);
void set_apparmor_exec(int chan, const char *profile);

/* The container role's options (monitor.c parses them; pid1.c and rootfs.c use them). */
/* A bind mount or a tmpfs, in the order they were given: a volume inside
 * another volume's mount must come after it. */
struct mount_spec {
	bool tmpfs;
	bool readonly;
	bool idmap;           /* bind: idmapped to the pod's user namespace (a file of id k on disk is k inside) */
	bool image_layers;    /* source: links 0..N-1 (top first) to an image's layers, stacked read-only, each idmapped */
	const char *source;   /* bind: host path */
	const char *target;   /* in the container; points into argv, like every option */
	const char *subpath;  /* bind: a path inside source (a volume's subPath), resolved beneath it; NULL: none */
	const char *options;  /* tmpfs: "size=…,mode=…" */
};

struct rootfs_opts {
	const char *dir;            /* the empty directory the new root is mounted on */
	bool host;                  /* the host's / (read-only) instead of an image */
	const char *lower, *upper, *work;   /* image: overlay layers */
	const char *layers_dir;             /* image: lowers as entries 0..N-1 of this dir, top first */
	bool readonly;              /* readOnlyRootFilesystem */
	bool privileged;            /* every host device, /sys writable, /proc unmasked */
	int userns_fd;              /* hostUsers: false: the image's layers are idmapped to it; -1: not */
	unsigned long owner_base;   /* the host id of root in the container: 0, or the user namespace's base */
	const char *hide[MAX_HIDE]; /* host paths to hide from a host-root container */
	size_t nhide;
	const char *shm;            /* the pod's /dev/shm, or NULL for a private one */
	struct mount_spec mounts[MAX_MOUNTS];
	size_t nmounts;
};

struct container_opts {
	const char *ns_paths[3];   /* net, ipc, uts */
	const char *pid_ns;        /* the pod's PID namespace (shareProcessNamespace), or NULL */
	bool host_pid;             /* hostPID: no PID namespace of its own */
	const char *cgroups[MAX_CGROUPS];
	size_t ncgroups;
	const char *state_dir;
	const char *log_path;
	unsigned long long log_max_size;   /* 0: never rotate */
	unsigned long log_max_files;
	int notify_fd;                 /* -1, or where the monitor writes start.json once */
	bool cgroup_joined;            /* PID 1 was born in its cgroup (clone3) */
	struct rootfs_opts rootfs;     /* rootfs.dir NULL: keep the host's filesystem */
	struct command cmd;
};

/* pid1.c */
int supervise(int sigfd, pid_t cmd);
/* Our argv, as the kernel laid it out: /proc/PID/cmdline reads this memory. */
struct arg_area { char *start, *end; };
extern struct arg_area arg_area;
void container_pid1(struct container_opts *o, int sigfd, int chan, int status_fd) __attribute__((noreturn));
void hide_command_line(void);

/* rootfs.c */
const char *setup_rootfs(const struct rootfs_opts *r, char *err, size_t errlen);

/* log.c */
/* One output stream of the command, read by the monitor. */
struct log_stream {
	const char *name;   /* "stdout" or "stderr" */
	int fd;             /* read end of the pipe; -1 once at end of file */
	size_t len;
	char buf[4 * LOG_LINE_MAX];
};

struct log_file {
	const char *path;
	int fd;
	off_t size;
	unsigned long long max_size;
	unsigned long max_files;
	bool write_failed;
};
void open_log(struct log_file *lf);
void drain_stream(struct log_file *lf, struct log_stream *s);

/* The roles. */
int plain_main(char **cmd);
int sandbox_main(int argc, char **argv);
int container_main(int argc, char **argv);
int exec_main(int argc, char **argv);
int unpack_main(int argc, char **argv);
int sysctl_main(int argc, char **argv);
int prober_main(int argc, char **argv);

#endif
