// hostUsers: false. Each such pod gets 65536 ids of its own on the host, as the kubelet gives
// them: container id k is host id base + k, so that root in the container is an unprivileged
// id on the host and two pods never share one. The blocks start at 2^30, far above the ids of
// a machine's users and of the usual /etc/subuid ranges; a pod's block is recorded in its
// state dir (<state>/pods/<pod>/userns), kept across daemon restarts and reboots (its files on
// disk carry those ids) and freed with the pod's state. Blocks are unique on the host, not only
// per state root: every podd on the machine claims its blocks in one registry (UsernsRegistry),
// and no block overlaps a range /etc/subuid or /etc/subgid gives to a user.
import { closeSync, constants as fsConstants, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Layout, PodRef } from "../base/paths.ts";
import { writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import { LOCK_EX, LOCK_NB, type Sys } from "../sys/index.ts";

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

/** How long a claim waits for another podd's hold of the registry's lock before it fails. */
const LOCK_WAIT_MS = 2_000;

/**
 * The claims of every podd on the host, whatever its roots: <dir>/<first id> holds the path of
 * the record of the pod that owns the block. A claim whose record is gone, or names another
 * block (its pod removed, its state root deleted), is stale and may be taken. Claims, and the
 * record a new claim comes with, are made under an flock of <dir>/.lock. The directory must be
 * root's alone: whoever could write in it could make two pods share ids.
 */
export class UsernsRegistry {
  constructor(
    readonly dir: string,
    private readonly sys: Sys,
  ) {}

  /**
   * Claims the block for the record at owner, and while the claim is held writes that record
   * (when write is given), so that no other podd can find the claim stale in between. False
   * when another pod's record holds the block.
   */
  claim(base: number, owner: string, write?: () => void): boolean {
    return this.locked(() => {
      const holder = this.holderOf(base);
      if (holder !== undefined && holder !== owner && holds(holder, base)) return false;
      writeFileAtomic(join(this.dir, String(base)), `${owner}\n`, 0o600);
      if (write) {
        try {
          write();
        } catch (err) {
          rmSync(join(this.dir, String(base)), { force: true });
          throw err;
        }
      }
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
    const st = lstatSync(this.dir);
    const euid = process.geteuid?.() ?? 0;
    if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o022) !== 0) {
      throw new PoddError(`${this.dir}: the user namespace registry must be a directory of uid ${euid}'s that no one else can write in`, { code: "Invalid", path: this.dir });
    }
    const path = join(this.dir, ".lock");
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw PoddError.wrap(`open ${path}`, err);
    }
    try {
      // Never blocking the daemon for long: another podd holds the lock for a few file writes.
      const deadline = Date.now() + LOCK_WAIT_MS;
      while (!this.sys.flock(fd, LOCK_EX | LOCK_NB, path)) {
        if (Date.now() >= deadline) throw new PoddError(`${path}: held by another process for more than ${LOCK_WAIT_MS} ms`, { code: "Conflict", path });
        Atomics.wait(PAUSE, 0, 0, 5);
      }
      return body();
    } finally {
      closeSync(fd); // which releases the lock
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Whether the record at path (still) holds the block: it exists and names it. */
function holds(path: string, base: number): boolean {
  try {
    return readBase(path) === base;
  } catch {
    return true; // unreadable: not known to be gone, so not taken
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
    // Recorded before this host's registry knew of it (or by a podd whose registry was
    // elsewhere): its ids are not given to it again while another pod holds them.
    if (!registry.claim(own, record)) {
      throw new PoddError(`the user namespace ids ${own} to ${own + USERNS_SIZE - 1} of pod ${pod.namespace}/${pod.name} are claimed by another pod in ${registry.dir}: delete this pod and create it again for ids of its own`, { code: "Conflict" });
    }
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
    const claimed = registry.claim(base, record, () => {
      mkdirSync(layout.podStateDir(pod), { recursive: true, mode: 0o700 });
      writeFileAtomic(record, `${base}\n`, 0o600);
    });
    if (claimed) return base;
  }
  throw new PoddError(`no user namespace range left: the ${USERNS_BLOCKS} blocks are held by pods with hostUsers: false (of this podd or others on the host) or given to users in /etc/subuid and /etc/subgid`, { code: "Internal" });
}

/** Gives up the pod's block in the host's registry, before its state (and record) goes. */
export function releaseUsernsBase(layout: Layout, pod: PodRef, registry: UsernsRegistry): void {
  const record = recordOf(layout, pod);
  const base = readBase(record);
  if (base !== undefined) registry.release(base, record);
}
