// hostUsers: false. Each such pod gets 65536 ids of its own on the host, as the kubelet gives
// them: container id k is host id base + k, so that root in the container is an unprivileged
// id on the host and two pods never share one. The blocks start at 2^30, far above the ids of
// a machine's users and of the usual /etc/subuid ranges; a pod's block is recorded in its
// state dir (<state>/pods/<pod>/userns), kept across daemon restarts and reboots (its files on
// disk carry those ids) and freed with the pod's state. Blocks are unique on the host, not only
// per state root: every podd on the machine claims its blocks in one registry (UsernsRegistry),
// and no block overlaps a range /etc/subuid or /etc/subgid gives to a user.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Layout, PodRef } from "../base/paths.ts";
import { writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import { LOCK_EX, type Sys } from "../sys/index.ts";

export const USERNS_SIZE = 65536;
export const USERNS_FIRST = 2 ** 30;
/** blocks up to 2^31: ids above that are not safe everywhere (signed uid_t in some tools) */
const USERNS_BLOCKS = (2 ** 31 - USERNS_FIRST) / USERNS_SIZE;

/**
 * Why a pod's id cannot be given, or undefined when it can: in a pod with ids of its own
 * (hostUsers: false), an id past its block would be one of another pod's ids on the host.
 */
export function outsideBlock(ownIds: boolean, id: number, what: string): string | undefined {
  if (!ownIds || id < USERNS_SIZE) return undefined;
  return `${what} ${id} is outside the pod's user namespace (hostUsers: false maps ids 0 to ${USERNS_SIZE - 1})`;
}

function recordOf(layout: Layout, pod: PodRef): string {
  return join(layout.podStateDir(pod), "userns");
}

function readBase(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw PoddError.wrap(`read ${path}`, err);
  }
  const base = Number(text.trim());
  return Number.isInteger(base) && base >= USERNS_FIRST && (base - USERNS_FIRST) % USERNS_SIZE === 0 ? base : undefined;
}

/** The pod's recorded first host id; undefined when it has none (it runs in the host's user namespace). */
export function recordedUsernsBase(layout: Layout, pod: PodRef): number | undefined {
  return readBase(recordOf(layout, pod));
}

/**
 * The claims of every podd on the host, whatever its roots: <dir>/<first id> holds the path of
 * the record of the pod that owns the block. A claim whose record is gone (its pod removed, its
 * state root deleted) is stale and may be taken; claims are made and checked under an flock of
 * <dir>/.lock, held for a few file operations.
 */
export class UsernsRegistry {
  constructor(
    readonly dir: string,
    private readonly sys: Sys,
  ) {}

  /** Claims the block for the record at owner; false when another pod's record holds it. */
  claim(base: number, owner: string): boolean {
    return this.locked(() => {
      const holder = this.holderOf(base);
      if (holder !== undefined && holder !== owner && existsSync(holder)) return false;
      writeFileAtomic(join(this.dir, String(base)), `${owner}\n`, 0o600);
      return true;
    });
  }

  /** Gives the block up, if the record at owner holds it. */
  release(base: number, owner: string): void {
    this.locked(() => {
      if (this.holderOf(base) === owner) rmSync(join(this.dir, String(base)), { force: true });
    });
  }

  private holderOf(base: number): string | undefined {
    try {
      return readFileSync(join(this.dir, String(base)), "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw PoddError.wrap(`read the claim of user namespace ids ${base} in ${this.dir}`, err);
    }
  }

  private locked<T>(body: () => T): T {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, ".lock");
    const fd = openSync(path, "a", 0o600);
    try {
      this.sys.flock(fd, LOCK_EX, path);
      return body();
    } finally {
      closeSync(fd); // which releases the lock
    }
  }
}

/** The [first, end) id ranges an /etc/subuid or /etc/subgid text gives to users ("name:first:count"). */
export function subordinateRanges(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const line of text.split("\n")) {
    const [, first, count] = line.trim().split(":");
    const a = Number(first);
    const n = Number(count);
    if (first !== undefined && count !== undefined && Number.isInteger(a) && Number.isInteger(n) && a >= 0 && n > 0) out.push([a, a + n]);
  }
  return out;
}

function readSubordinate(etc: string): [number, number][] {
  return ["subuid", "subgid"].flatMap((f) => {
    try {
      return subordinateRanges(readFileSync(join(etc, f), "utf8"));
    } catch {
      return []; // no such file: no ranges given
    }
  });
}

/**
 * The pod's first host id: its recorded block (claimed again, as after a reboot), or the lowest
 * block that no pod of this state root holds, no other podd has claimed, and no user has in
 * /etc/subuid or /etc/subgid.
 */
export function usernsBase(layout: Layout, pod: PodRef, registry: UsernsRegistry, etc = "/etc"): number {
  const record = recordOf(layout, pod);
  const own = readBase(record);
  if (own !== undefined) {
    registry.claim(own, record);
    return own;
  }
  const pods = join(layout.podStateDir(pod), "..");
  const used = new Set<number>();
  let names: string[] = [];
  try {
    names = readdirSync(pods);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw PoddError.wrap(`read ${pods}`, err);
  }
  for (const n of names) {
    const b = readBase(join(pods, n, "userns"));
    if (b !== undefined) used.add(b);
  }
  const given = readSubordinate(etc);
  for (let i = 0; i < USERNS_BLOCKS; i++) {
    const base = USERNS_FIRST + i * USERNS_SIZE;
    if (used.has(base) || given.some(([a, b]) => base < b && a < base + USERNS_SIZE)) continue;
    if (!registry.claim(base, record)) continue;
    try {
      mkdirSync(layout.podStateDir(pod), { recursive: true, mode: 0o700 });
      writeFileAtomic(record, `${base}\n`, 0o600);
    } catch (err) {
      registry.release(base, record);
      throw err;
    }
    return base;
  }
  throw new PoddError(`no user namespace range left: ${USERNS_BLOCKS} pods with hostUsers: false already`, { code: "Internal" });
}

/** Gives up the pod's block in the host's registry, before its state (and record) goes. */
export function releaseUsernsBase(layout: Layout, pod: PodRef, registry: UsernsRegistry): void {
  const record = recordOf(layout, pod);
  const base = readBase(record);
  if (base !== undefined) registry.release(base, record);
}
