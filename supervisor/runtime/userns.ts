// hostUsers: false. Each such pod gets 65536 ids of its own on the host, as the kubelet gives
// them: container id k is host id base + k, so that root in the container is an unprivileged
// id on the host and two pods never share one. The blocks start at 2^30, far above the ids of
// a machine's users and of the usual /etc/subuid ranges; a pod's block is recorded in its
// state dir (<state>/pods/<pod>/userns), kept across daemon restarts and reboots (its files on
// disk carry those ids) and freed with the pod's state.
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Layout, PodRef } from "../base/paths.ts";
import { writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";

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

/** The pod's first host id: its recorded block, or the lowest one no other pod holds. */
export function usernsBase(layout: Layout, pod: PodRef): number {
  const own = readBase(recordOf(layout, pod));
  if (own !== undefined) return own;
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
  for (let i = 0; i < USERNS_BLOCKS; i++) {
    const base = USERNS_FIRST + i * USERNS_SIZE;
    if (used.has(base)) continue;
    mkdirSync(layout.podStateDir(pod), { recursive: true, mode: 0o700 });
    writeFileAtomic(recordOf(layout, pod), `${base}\n`, 0o600);
    return base;
  }
  throw new PoddError(`no user namespace range left: ${USERNS_BLOCKS} pods with hostUsers: false already`, { code: "Internal" });
}
