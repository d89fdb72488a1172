// The one place that holds koffi bindings. Everything else receives a `Sys` as a constructor
// argument, so tests can hand in a recording fake (see fake.ts) that scripts failures.
//
// Only calls that Node lacks and that are safe on the event-loop thread live here: namespace
// and mount work that must happen in a single-threaded process belongs to podd-init (C).

export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;
export const MS_SHARED = 1 << 20;
export const MS_SLAVE = 1 << 19;
export const MS_UNBINDABLE = 1 << 17;
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;
export const LOCK_EX = 2;
export const LOCK_NB = 4;

/** bpf(2) commands podd uses (include/uapi/linux/bpf.h, enum bpf_cmd). */
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_PROG_QUERY = 16;
/** enum bpf_prog_type */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
/** enum bpf_attach_type */
export const BPF_CGROUP_DEVICE = 6;
/** Attach flags: programs of several owners on one cgroup, all of which must allow. */
export const BPF_F_ALLOW_MULTI = 2;

/** The commands' names, for messages. */
export const BPF_CMD_NAMES: Readonly<Record<number, string>> = {
  [BPF_PROG_LOAD]: "BPF_PROG_LOAD",
  [BPF_PROG_ATTACH]: "BPF_PROG_ATTACH",
  [BPF_PROG_DETACH]: "BPF_PROG_DETACH",
  [BPF_PROG_GET_FD_BY_ID]: "BPF_PROG_GET_FD_BY_ID",
  [BPF_OBJ_GET_INFO_BY_FD]: "BPF_OBJ_GET_INFO_BY_FD",
  [BPF_PROG_QUERY]: "BPF_PROG_QUERY",
};

/**
 * One bpf(2) call: the command and the fields of union bpf_attr it uses, pointers given as the
 * data they point to. `what` names the object for messages ("cgroup /sys/fs/cgroup/podd/x/c").
 */
export type BpfRequest =
  /** Loads a program; the result is its fd. */
  | { cmd: typeof BPF_PROG_LOAD; progType: number; insns: Uint8Array; license: string; what: string }
  /** Attaches progFd to the cgroup (or other target) behind targetFd. */
  | { cmd: typeof BPF_PROG_ATTACH; targetFd: number; progFd: number; attachType: number; flags: number; what: string }
  | { cmd: typeof BPF_PROG_DETACH; targetFd: number; progFd: number; attachType: number; what: string }
  /** The ids of the programs attached to the target itself (not inherited ones). */
  | { cmd: typeof BPF_PROG_QUERY; targetFd: number; attachType: number; what: string }
  /** An fd for the program with this id; null when it no longer exists (ENOENT). */
  | { cmd: typeof BPF_PROG_GET_FD_BY_ID; id: number; what: string }
  /** The program's id (struct bpf_prog_info). */
  | { cmd: typeof BPF_OBJ_GET_INFO_BY_FD; fd: number; what: string };

export type BpfResult<R extends BpfRequest> = R extends { cmd: typeof BPF_PROG_LOAD }
  ? number
  : R extends { cmd: typeof BPF_PROG_QUERY }
    ? number[]
    : R extends { cmd: typeof BPF_PROG_GET_FD_BY_ID }
      ? number | null
      : R extends { cmd: typeof BPF_OBJ_GET_INFO_BY_FD }
        ? { id: number; type: number }
        : void;

/** A process exit watch; stop() is idempotent. */
export interface ExitWatch {
  stop(): void;
}

export interface Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** A pidfd for pid, or null when the process is already gone (ESRCH): a value, not an error. */
  pidfdOpen(pid: number): number | null;
  /** false when the process already exited (ESRCH). */
  pidfdSendSignal(pidfd: number, signal: number): boolean;
  /**
   * Calls onExit once when the process behind pidfd exits, from the event loop, without polling.
   * The watch owns pidfd from then on and closes it.
   */
  watchExit(pidfd: number, onExit: () => void): ExitWatch;
  close(fd: number): void;
  /** flock(2); false when LOCK_NB was given and another open file holds the lock (EWOULDBLOCK). */
  flock(fd: number, operation: number, path: string): boolean;
  /**
   * bpf(2). Failures name the command, the object and the errno ("bpf BPF_PROG_ATTACH cgroup
   * /sys/fs/cgroup/podd/u/c: EPERM"); a refused BPF_PROG_LOAD adds the verifier's log.
   */
  bpf<R extends BpfRequest>(request: R): BpfResult<R>;
  /** lgetxattr(2), at most 4 KiB of value; null when the file has no such attribute (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | null;
}
