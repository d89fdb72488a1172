// Cgroups for pods: one interface, a v1 driver (one hierarchy per controller, this machine's
// hybrid boot) and a v2 driver (the unified tree current distributions boot), chosen at start
// from /proc/self/mountinfo. The tree is <parent>/<pod-uid>/<container> in every hierarchy;
// the pod cgroup holds no processes of its own, only its containers.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { PoddError } from "../base/errors.ts";
import { CgroupIo, defaultTimeouts, nodeCgroupFs, processSignaller } from "./io.ts";
import type { CgroupFs, Signaller, Timeouts } from "./io.ts";
import { parseMountInfo } from "./parse.ts";
import type { MountInfo } from "./parse.ts";
import { CgroupV1 } from "./v1.ts";
import { CgroupV2 } from "./v2.ts";
import type { DeviceAccess } from "./devices.ts";
import type { Sys } from "../sys/index.ts";
import { LinuxSys } from "../sys/linux.ts";

export type { CgroupFs, Signaller, Timeouts } from "./io.ts";
export { nodeCgroupFs, processSignaller } from "./io.ts";
export { parseCgroupStat, parseMountInfo, parseProcCgroup } from "./parse.ts";
export type { MountInfo, ProcCgroup } from "./parse.ts";
export { DEFAULT_DEVICE_RULES } from "./devices.ts";
export type { DeviceAccess, DeviceRule } from "./devices.ts";

/**
 * Limits as the kernel takes them, already converted from the manifest by pod-specs.
 * A field left out is not written: a new cgroup starts unlimited. v1 reads cpuShares, v2
 * reads cpuWeight; the caller passes both and each driver takes its own.
 */
export interface CgroupLimits {
  /** Bytes. Swap is always off: v1 sets memory.memsw.limit_in_bytes to the same value. */
  memoryMax?: number;
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  /** v1 cpu.shares (2..262144). */
  cpuShares?: number;
  /** v2 cpu.weight (1..10000). */
  cpuWeight?: number;
  pidsMax?: number;
}

export interface CgroupStats {
  /** CPU time of every task in the cgroup, nanoseconds. */
  cpuUsageNs: number;
  memoryUsageBytes: number;
  /** Usage minus inactive file pages, as the kubelet/cadvisor computes the working set. */
  memoryWorkingSetBytes: number;
  /** Processes of this cgroup the OOM killer has killed. */
  oomKills: number;
  /** Tasks counted by the pids controller (pids.current). */
  pids: number;
}

export interface CgroupManager {
  readonly version: 1 | 2;
  /** The parent cgroup path, relative to each hierarchy's root ("podd"). */
  readonly parent: string;
  /** Creates the parent; on v2 also enables cpu, memory and pids in subtree_control down to it. */
  ensureParent(): Promise<void>;
  createPod(podUid: string, limits?: CgroupLimits): Promise<void>;
  /**
   * Makes the container's cgroup with its limits and its device allow-list, all in place before
   * PID 1 joins (on v2 PID 1 is born in it, so there is no later moment). devices: the only
   * devices its processes may open or mknod (default DEFAULT_DEVICE_RULES), or "all" for a
   * privileged container. v1 writes devices.deny/devices.allow; v2 attaches an eBPF program
   * (loaded once per manager) and detaches any other device program a reused cgroup still has.
   * true when this call made the cgroup in every hierarchy, so that nothing can be in it yet.
   */
  createContainer(podUid: string, name: string, limits?: CgroupLimits, devices?: DeviceAccess): Promise<boolean>;
  /** The directories PID 1 must join (podd-init --cgroup): one per v1 hierarchy, one on v2. */
  containerDirs(podUid: string, name: string): string[];
  /** Ends every process in the container's cgroup, or in all the pod's containers, and waits
   * until the cgroups are empty. A cgroup that does not exist is already empty. */
  kill(podUid: string, name?: string): Promise<void>;
  /** Removes the container's cgroup, or the pod's with all its containers; kills what is left
   * if rmdir reports EBUSY. A cgroup that does not exist is already removed. */
  remove(podUid: string, name?: string): Promise<void>;
  stats(podUid: string, name: string): Promise<CgroupStats>;
  /** Pod uids that have a cgroup under the parent in any hierarchy. */
  listPods(): Promise<string[]>;
  /** Processes in the container's cgroup (from cgroup.procs). */
  pids(podUid: string, name: string): Promise<number[]>;
  /** Removes every pod and then the parent itself (its last path component). */
  removeParent(): Promise<void>;
  /** The parent's directory in the first hierarchy, the same one for every podd on this host: what a supervisor locks for its life. */
  parentLockDir(): string;
  /**
   * Called when a container's PID 1 will join its cgroups shortly: starts, off the caller's
   * path, whatever wait the kernel puts before a join, so that it overlaps the work between
   * (v1). Never fails; a no-op on v2, where PID 1 is born in its cgroup.
   */
  prepareJoin(): Promise<void>;
}

/** v1 controller names the kernel knows (include/linux/cgroup_subsys.h), to tell a controller
 * apart from other super options such as "rw", "noprefix" or "release_agent=..." */
const V1_CONTROLLERS = new Set([
  "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "perf_event",
  "net_prio", "hugetlb", "pids", "rdma", "misc", "debug",
]);

export type CgroupLayout =
  | { version: 2; root: string }
  /** controller name → the mount point of its hierarchy; co-mounted controllers share one. */
  | { version: 1; mounts: Record<string, string> };

/**
 * Decides the cgroup version from parsed mountinfo. v2 when cgroupRoot itself is a cgroup2
 * mount (unified boot); v1 when controllers are mounted as v1 hierarchies (legacy or hybrid
 * boot, where cgroupRoot is a tmpfs and a controller-less cgroup2 may sit in "unified").
 */
export function detectCgroupLayout(mounts: MountInfo[], cgroupRoot: string): CgroupLayout {
  const root = resolve(cgroupRoot);
  // A later mount on the same point hides the earlier ones, so the last match wins.
  const unified = mounts.filter((m) => m.fsType === "cgroup2" && resolve(m.mountPoint) === root).pop();
  if (unified !== undefined) return { version: 2, root };

  const found: Record<string, string> = {};
  const underRoot = (p: string) => resolve(p).startsWith(root + "/");
  for (const m of mounts) {
    if (m.fsType !== "cgroup") continue;
    for (const opt of m.superOptions) {
      if (!V1_CONTROLLERS.has(opt)) continue;
      const seen = found[opt];
      // A controller can be visible at several places (bind mounts); prefer the one under the
      // cgroup root, then the first.
      if (seen === undefined || (!underRoot(seen) && underRoot(m.mountPoint))) found[opt] = m.mountPoint;
    }
  }
  if (Object.keys(found).length > 0) return { version: 1, mounts: found };

  const kinds = mounts.filter((m) => m.fsType.startsWith("cgroup")).map((m) => `${m.fsType} on ${m.mountPoint}`);
  throw new PoddError(
    `no cgroup hierarchy found: ${root} is not cgroup2 and no cgroup v1 controller is mounted` +
      (kinds.length > 0 ? ` (found ${kinds.join(", ")})` : ""),
    { code: "NotFound", path: root },
  );
}

export interface CgroupOptions {
  /** Default /proc; mountinfo is read from <procRoot>/self/mountinfo. */
  procRoot?: string;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Parent cgroup relative to each hierarchy root; default "podd". May be nested ("a/b"). */
  parent?: string;
  fs?: CgroupFs;
  /** For bpf(2) on v2 (the device allow-list); default the real one. */
  sys?: Sys;
  signal?: Signaller;
  timeouts?: Partial<Timeouts>;
}

/** Builds the driver for a known layout (tests hand in a fake one). */
export function createCgroupManager(layout: CgroupLayout, options: CgroupOptions = {}): CgroupManager {
  const deps = {
    parent: options.parent ?? "podd",
    io: new CgroupIo(options.fs ?? nodeCgroupFs),
    signal: options.signal ?? processSignaller,
    timeouts: { ...defaultTimeouts, ...options.timeouts },
    procRoot: options.procRoot ?? "/proc",
    sys: options.sys ?? new LinuxSys(),
  };
  return layout.version === 2 ? new CgroupV2(layout.root, deps) : new CgroupV1(layout.mounts, deps);
}

/** Detects the host's cgroup version from <procRoot>/self/mountinfo and returns its driver. */
export async function openCgroups(options: CgroupOptions = {}): Promise<CgroupManager> {
  const path = `${options.procRoot ?? "/proc"}/self/mountinfo`;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw PoddError.wrap(`read ${path}`, err);
  }
  const layout = detectCgroupLayout(parseMountInfo(text), options.cgroupRoot ?? "/sys/fs/cgroup");
  return createCgroupManager(layout, options);
}
