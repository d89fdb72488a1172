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
}
