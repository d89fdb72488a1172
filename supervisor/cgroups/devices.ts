// The devices a container may open or create: one list of rules as data, written to the kernel
// by the v1 driver as devices.allow lines and by the v2 driver as an eBPF program
// (device-bpf.ts). Everything not allowed is denied, so the list names what a container needs
// and nothing more: no block devices at all, and no `c *:* m` (a container that may mknod any
// character device can make /dev/mem or a disk's character twin and open it elsewhere).
import { PoddError } from "../base/errors.ts";

/**
 * One rule in the kernel's terms: "c 1:3 rwm". type "a" is every device and exists only as
 * `a *:* rwm`, the one form cgroup v1 can express.
 */
export interface DeviceRule {
  type: "c" | "b" | "a";
  major: number | "*";
  minor: number | "*";
  /** r (open for reading), w (open for writing), m (mknod): a non-empty set, in any order. */
  access: string;
}

/** What a container gets: only the listed devices, or every device (a privileged container). */
export type DeviceAccess = readonly DeviceRule[] | "all";

const rwm = (type: "c", major: number, minor: number | "*"): DeviceRule => ({ type, major, minor, access: "rwm" });

/**
 * The devices podd-init makes in a container's /dev (null, zero, full, random, urandom, tty),
 * /dev/console, and the pseudo-terminals of its own devpts: ptmx and the slaves, which all have
 * major 136 (the minor is the pts number). The set CRI runtimes grant by default.
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = Object.freeze([
  rwm("c", 1, 3), // null
  rwm("c", 1, 5), // zero
  rwm("c", 1, 7), // full
  rwm("c", 1, 8), // random
  rwm("c", 1, 9), // urandom
  rwm("c", 5, 0), // tty
  rwm("c", 5, 1), // console
  rwm("c", 5, 2), // ptmx
  rwm("c", 136, "*"), // pts/*
]);

/** The kernel's limits on a dev_t: a 12-bit major and a 20-bit minor. */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

/** Checks a list before anything is written; a bad rule is a programming error, named in full. */
export function checkDeviceRules(rules: readonly DeviceRule[]): void {
  for (const r of rules) {
    const bad = (why: string) => new PoddError(`invalid device rule ${JSON.stringify(r)}: ${why}`, { code: "Invalid" });
    if (r.type !== "c" && r.type !== "b" && r.type !== "a") throw bad("type must be c, b or a");
    if (r.type === "a" && (r.major !== "*" || r.minor !== "*" || sortedAccess(r.access) !== "rwm")) {
      throw bad("type a (every device) is only a *:* rwm");
    }
    for (const [what, n, max] of [["major", r.major, MAX_MAJOR], ["minor", r.minor, MAX_MINOR]] as const) {
      if (n !== "*" && !(Number.isInteger(n) && n >= 0 && n <= max)) throw bad(`${what} must be * or an integer 0..${max}`);
    }
    if (!/^[rwm]{1,3}$/.test(r.access) || new Set(r.access).size !== r.access.length) throw bad("access must be a set of r, w and m");
  }
}

function sortedAccess(access: string): string {
  return ["r", "w", "m"].filter((c) => access.includes(c)).join("");
}

/** The rule as devices.allow takes it: "c 1:3 rwm", "c 136:* rwm", "a". */
export function formatV1Rule(r: DeviceRule): string {
  if (r.type === "a") return "a";
  return `${r.type} ${r.major}:${r.minor} ${sortedAccess(r.access)}`;
}

/** true when the list lets everything through (it holds `a *:* rwm`). */
export function allowsAll(rules: readonly DeviceRule[]): boolean {
  return rules.some((r) => r.type === "a");
}
