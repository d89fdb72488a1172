// One writer per root: a supervisor (the daemon, or podd run) holds an exclusive flock on a
// podd.lock file in each of its roots for its whole life, as containerd locks its database.
// The kernel drops the lock when the process dies, however it dies, so a crashed daemon never
// leaves a stale lock; the pid written into the file only serves the refusal message.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";
import type { Roots } from "../base/paths.ts";
import { LOCK_EX, LOCK_NB, type Sys } from "../sys/index.ts";

export const LOCK_FILE = "podd.lock";

export interface RootLock {
  /** Closes the lock files, which releases the locks (a process exit does the same). */
  release(): void;
}

/** Locks every root, or throws Conflict naming the pid that holds one; nothing is left locked then. */
export function lockRoots(sys: Sys, roots: Roots): RootLock {
  const held: number[] = [];
  const release = () => {
    for (const fd of held.splice(0)) closeSync(fd);
  };
  try {
    // A root given twice (state and log in one directory) is locked once.
    for (const root of new Set([roots.state, roots.run, roots.log])) {
      mkdirSync(root, { recursive: true, mode: 0o700 });
      const path = join(root, LOCK_FILE);
      const fd = openSync(path, "a+", 0o600);
      if (!sys.flock(fd, LOCK_EX | LOCK_NB, path)) {
        closeSync(fd);
        const pid = holderOf(path);
        throw new PoddError(
          `${root} is in use by another podd${pid ? ` (pid ${pid})` : ""}: one daemon or podd run per set of roots; stop it, or give this one roots of its own (--root, --run-root, --log-root)`,
          { code: "Conflict", path },
        );
      }
      held.push(fd);
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`);
    }
  } catch (err) {
    release();
    throw err;
  }
  return { release };
}

/**
 * Locks the cgroup parent for as long as this process lives (an flock on its directory, which
 * cgroupfs allows), or throws Conflict. The roots' locks do not cover it: a second podd with
 * roots of its own under the same parent would take the first one's pod cgroups for orphans
 * and kill what runs in them.
 */
export function lockCgroupParent(sys: Sys, dir: string, parent: string): RootLock {
  const fd = openSync(dir, "r");
  if (!sys.flock(fd, LOCK_EX | LOCK_NB, dir)) {
    closeSync(fd);
    throw new PoddError(
      `cgroup parent ${parent} (${dir}) is in use by another podd: one daemon or podd run per cgroup parent; stop it, or give this one a parent of its own (--cgroup-parent)`,
      { code: "Conflict", path: dir },
    );
  }
  return { release: () => closeSync(fd) };
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // the holder has not written its pid yet: the message does without it
  }
}
