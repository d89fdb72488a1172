// The seam between the cgroup drivers and the kernel: file access to cgroupfs, signals, and
// polling with a deadline. Drivers receive a CgroupFs and a Signaller, so unit tests can run
// them against a fake tree in a temp dir (whose mkdir/rmdir behave like cgroupfs) and record
// signals instead of sending them.
import { closeSync, constants, openSync, readFileSync, write, writeSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { PoddError, hasErrno } from "../base/errors.ts";

export interface CgroupFs {
  readFile(path: string): Promise<string>;
  /** Writes one value with a single write(2) to a file that must already exist: cgroupfs
   * creates its control files itself, so a missing file means a missing controller. */
  writeFile(path: string, data: string): Promise<void>;
  /** Non-recursive; fails with EEXIST when the directory exists. */
  mkdir(path: string): Promise<void>;
  /** On cgroupfs rmdir removes a cgroup with its control files; EBUSY while it has tasks or children. */
  rmdir(path: string): Promise<void>;
  /** Names of the subdirectories (child cgroups) of path. */
  subdirs(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Reads on the calling thread: for the small files a decision cannot wait a round trip for. */
  readFileSync(path: string): string;
  /** Opens an existing file for repeated writes; each write is one write(2) at offset 0, handed
   * to libuv's threads at once. */
  openWriter(path: string): CgroupWriter;
  /**
   * Writes each entry with its own write(2), in order, through one open file, on the calling
   * thread: for control files that take one entry per write (devices.allow). The kernel needs
   * microseconds for each; a round trip through libuv's threads costs a hundred or more, which
   * for the ten entries of a device list would be a millisecond of every container start.
   */
  writeEntriesSync(path: string, entries: readonly string[]): void;
  /** An O_RDONLY|O_DIRECTORY fd of a cgroup, what bpf(BPF_PROG_ATTACH) takes as its target. */
  openDirectory(path: string): number;
  closeFd(fd: number): void;
}

export interface CgroupWriter {
  write(data: string): Promise<void>;
  close(): void;
}

export const nodeCgroupFs: CgroupFs = {
  readFile: (path) => fsp.readFile(path, "utf8"),
  async writeFile(path, data) {
    // O_TRUNC without O_CREAT: cgroupfs ignores the truncation, and in a fake tree it keeps
    // the file holding only the last value written, as the kernel would report it.
    const fh = await fsp.open(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await fh.write(data);
    } finally {
      await fh.close();
    }
  },
  mkdir: (path) => fsp.mkdir(path),
  rmdir: (path) => fsp.rmdir(path),
  async subdirs(path) {
    const entries = await fsp.readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  },
  async exists(path) {
    try {
      await fsp.access(path);
      return true;
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return false;
      throw err;
    }
  },
  readFileSync: (path) => readFileSync(path, "utf8"),
  openWriter(path) {
    const fd = openSync(path, constants.O_WRONLY);
    return {
      write: (data) => new Promise((resolve, reject) => write(fd, data, 0, "utf8", (err) => (err ? reject(err) : resolve()))),
      close: () => closeSync(fd),
    };
  },
  writeEntriesSync(path, entries) {
    const fd = openSync(path, constants.O_WRONLY);
    try {
      for (const e of entries) writeSync(fd, e, 0, "utf8");
    } finally {
      closeSync(fd);
    }
  },
  // libuv adds O_CLOEXEC, so the fd does not leak into podd-init.
  openDirectory: (path) => openSync(path, constants.O_RDONLY | constants.O_DIRECTORY),
  closeFd: (fd) => closeSync(fd),
};

/** Sends a signal to a pid. "gone" when the process no longer exists (ESRCH), which is
 * expected for a process that exited between reading cgroup.procs and signalling it. */
export type Signaller = (pid: number, signal: NodeJS.Signals) => "sent" | "gone";

export const processSignaller: Signaller = (pid, signal) => {
  try {
    process.kill(pid, signal);
    return "sent";
  } catch (err) {
    if (hasErrno(err, "ESRCH")) return "gone";
    throw PoddError.wrap(`kill ${pid} ${signal}`, err);
  }
};

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? "EIO";
}

/** The driver-facing wrapper: every failure becomes a PoddError naming the syscall and path. */
export class CgroupIo {
  readonly fs: CgroupFs;
  constructor(fs: CgroupFs) {
    this.fs = fs;
  }

  async read(path: string): Promise<string> {
    try {
      return await this.fs.readFile(path);
    } catch (err) {
      throw this.fail("read", path, err);
    }
  }

  /** undefined when the file (or its cgroup) does not exist. */
  async readOptional(path: string): Promise<string | undefined> {
    try {
      return await this.fs.readFile(path);
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return undefined;
      throw this.fail("read", path, err);
    }
  }

  async write(path: string, value: string | number, hint?: string): Promise<void> {
    try {
      await this.fs.writeFile(path, String(value));
    } catch (err) {
      throw this.fail("write", path, err, hint);
    }
  }

  /** writeEntriesSync with errors as PoddErrors naming the path. */
  writeEntriesSync(path: string, entries: readonly string[], hint?: string): void {
    try {
      this.fs.writeEntriesSync(path, entries);
    } catch (err) {
      throw this.fail("write", path, err, hint);
    }
  }

  /** "absent" when the file does not exist, so callers can treat a removed cgroup as done. */
  async writeIfPresent(path: string, value: string | number): Promise<"written" | "absent"> {
    try {
      await this.fs.writeFile(path, String(value));
      return "written";
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return "absent";
      throw this.fail("write", path, err);
    }
  }

  /** mkdir that accepts an existing directory, so a restarted daemon can redo its work. */
  /** true when made now, false when it existed. */
  async mkdirIdempotent(path: string): Promise<boolean> {
    try {
      await this.fs.mkdir(path);
      return true;
    } catch (err) {
      if (hasErrno(err, "EEXIST")) return false;
      throw this.fail("mkdir", path, err);
    }
  }

  /** "removed", "absent" (ENOENT: already gone) or "busy" (EBUSY: tasks or children left). */
  async rmdir(path: string): Promise<"removed" | "absent" | "busy"> {
    try {
      await this.fs.rmdir(path);
      return "removed";
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return "absent";
      if (hasErrno(err, "EBUSY")) return "busy";
      throw this.fail("rmdir", path, err);
    }
  }

  /** Child cgroup names; [] when path does not exist. */
  async subdirs(path: string): Promise<string[]> {
    try {
      return await this.fs.subdirs(path);
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return [];
      throw this.fail("readdir", path, err);
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      return await this.fs.exists(path);
    } catch (err) {
      throw this.fail("stat", path, err);
    }
  }

  /** Runs fn with an fd of the directory, closed afterwards whatever fn does. */
  withDirectory<T>(path: string, fn: (fd: number) => T): T {
    let fd: number;
    try {
      fd = this.fs.openDirectory(path);
    } catch (err) {
      throw this.fail("open", path, err);
    }
    try {
      return fn(fd);
    } finally {
      this.fs.closeFd(fd);
    }
  }

  private fail(syscall: string, path: string, err: unknown, hint?: string): PoddError {
    const errno = errnoOf(err);
    const message = `${syscall} ${path}: ${errno}${hint === undefined ? "" : ` (${hint})`}`;
    return new PoddError(message, { code: "Syscall", errno, syscall, path, cause: err });
  }
}

/**
 * Calls check until it returns a value other than undefined, or the deadline passes (then
 * returns undefined). The waits between calls are not synchronisation: the condition is
 * re-read each time and the deadline only bounds how long a stuck kernel state is tolerated.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let interval = 1;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await delay(Math.min(interval, Math.max(1, deadline - Date.now())));
    interval = Math.min(interval * 2, 50);
  }
}

export interface Timeouts {
  /** How long a freeze (v1 freezer.state, v2 cgroup.freeze) may take before giving up on it. */
  freezeMs: number;
  /** How long killed processes may take to leave the cgroup. */
  emptyMs: number;
  /** How long remove() keeps retrying an EBUSY rmdir (killing again in between). */
  removeMs: number;
}

export const defaultTimeouts: Timeouts = { freezeMs: 5_000, emptyMs: 10_000, removeMs: 15_000 };
