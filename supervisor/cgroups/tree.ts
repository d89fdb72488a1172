// What the v1 and v2 drivers share: the <parent>/<pod-uid>/<container> tree laid out in one or
// more hierarchies, listing, killing what is left, waiting for a cgroup to empty, removal.
// The drivers add what differs: creating and limiting cgroups, freezing, stats.
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";
import { pollUntil } from "./io.ts";
import type { CgroupIo, Signaller, Timeouts } from "./io.ts";
import type { CgroupLimits, CgroupStats } from "./index.ts";
import type { DeviceAccess } from "./devices.ts";
import { parsePids } from "./parse.ts";
import type { Sys } from "../sys/index.ts";

export interface DriverDeps {
  parent: string;
  io: CgroupIo;
  signal: Signaller;
  timeouts: Timeouts;
  /** Where self/cgroup is read (/proc). */
  procRoot: string;
  sys: Sys;
}

// Names become directories next to the kernel's control files, which are all
// "<controller>.<file>" ("memory.max", "cgroup.procs"): a pod or container called
// "memory.max" would make mkdir fail with EEXIST and read as "already created".
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const CONTROL_PREFIXES = new Set([
  "cgroup", "cpu", "cpuacct", "cpuset", "memory", "io", "blkio", "pids", "freezer", "devices",
  "hugetlb", "rdma", "misc", "net_cls", "net_prio", "perf_event", "notify_on_release",
  "release_agent", "tasks",
]);

export function checkSegment(kind: string, value: string): string {
  const prefix = value.split(".")[0] ?? "";
  if (!SEGMENT.test(value) || (value.includes(".") && CONTROL_PREFIXES.has(prefix)) || value === "tasks") {
    throw new PoddError(`invalid cgroup ${kind} ${JSON.stringify(value)}: use letters, digits, '-', '_' and '.', not a control file name`, {
      code: "Invalid",
    });
  }
  return value;
}

export function parseParent(parent: string): string[] {
  const segments = parent.split("/").filter((s) => s !== "");
  if (segments.length === 0) throw new PoddError(`invalid cgroup parent ${JSON.stringify(parent)}: empty`, { code: "Invalid" });
  return segments.map((s) => checkSegment("parent", s));
}

export abstract class CgroupTree {
  readonly parent: string;
  protected readonly parentSegments: string[];
  protected readonly io: CgroupIo;
  protected readonly signal: Signaller;
  protected readonly timeouts: Timeouts;
  protected readonly procRoot: string;
  protected readonly sys: Sys;

  constructor(deps: DriverDeps) {
    this.parentSegments = parseParent(deps.parent);
    this.parent = this.parentSegments.join("/");
    this.io = deps.io;
    this.signal = deps.signal;
    this.timeouts = deps.timeouts;
    this.procRoot = deps.procRoot;
    this.sys = deps.sys;
  }

  abstract readonly version: 1 | 2;
  /** Roots of the hierarchies the tree lives in: one per distinct v1 mount we join, or the v2 root. */
  protected abstract hierarchies(): string[];
  abstract ensureParent(): Promise<void>;
  abstract createPod(podUid: string, limits?: CgroupLimits): Promise<void>;
  abstract createContainer(podUid: string, name: string, limits?: CgroupLimits, devices?: DeviceAccess): Promise<boolean>;
  abstract kill(podUid: string, name?: string): Promise<void>;
  abstract stats(podUid: string, name: string): Promise<CgroupStats>;
  abstract prepareJoin(): Promise<void>;

  protected parentDir(root: string): string {
    return join(root, ...this.parentSegments);
  }

  parentLockDir(): string {
    return this.parentDir(this.hierarchies()[0]!);
  }

  protected podDir(root: string, podUid: string): string {
    return join(this.parentDir(root), checkSegment("pod uid", podUid));
  }

  protected containerDir(root: string, podUid: string, name: string): string {
    return join(this.podDir(root, podUid), checkSegment("container name", name));
  }

  /** The pod's or the container's directory in every hierarchy. */
  protected targetDirs(podUid: string, name?: string): string[] {
    return this.hierarchies().map((r) => (name === undefined ? this.podDir(r, podUid) : this.containerDir(r, podUid, name)));
  }

  containerDirs(podUid: string, name: string): string[] {
    return this.targetDirs(podUid, name);
  }

  async listPods(): Promise<string[]> {
    const uids = new Set<string>();
    for (const root of this.hierarchies()) {
      for (const uid of await this.io.subdirs(this.parentDir(root))) uids.add(uid);
    }
    return [...uids].sort();
  }

  async pids(podUid: string, name: string): Promise<number[]> {
    return this.procsOf(this.targetDirs(podUid, name));
  }

  /** Pids in the cgroups and all their descendants, across hierarchies, without duplicates.
   * A cgroup that does not exist contributes nothing. */
  protected async procsOf(dirs: string[]): Promise<number[]> {
    const pids = new Set<number>();
    // Each read is a round trip to libuv's threads: the hierarchies and siblings go together.
    const walk = async (dir: string): Promise<void> => {
      const [text, children] = await Promise.all([this.io.readOptional(join(dir, "cgroup.procs")), this.io.subdirs(dir)]);
      if (text === undefined) return;
      for (const pid of parsePids(text)) pids.add(pid);
      await Promise.all(children.map((child) => walk(join(dir, child))));
    };
    await Promise.all(dirs.map(walk));
    return [...pids].sort((a, b) => a - b);
  }

  /** SIGKILLs every process in dirs (recursively); ESRCH of one that already exited is fine. */
  protected async killAll(dirs: string[]): Promise<number[]> {
    const pids = await this.procsOf(dirs);
    for (const pid of pids) this.signal(pid, "SIGKILL");
    return pids;
  }

  /**
   * Polls until no process is left in dirs. Anything still listed is sent SIGKILL again: a
   * process that joined after the kill (a container start racing a stop) must not survive.
   * A pid read from cgroup.procs belongs to the cgroup at that moment; it could in theory exit
   * and be reused before the signal lands, the same window every runtime without pidfds for
   * cgroup members accepts.
   */
  protected async waitEmpty(dirs: string[]): Promise<void> {
    let left: number[] = [];
    const done = await pollUntil(async () => {
      left = await this.killAll(dirs);
      return left.length === 0 ? true : undefined;
    }, this.timeouts.emptyMs);
    if (done === undefined) {
      throw new PoddError(
        `kill ${dirs[0] ?? "?"}: ${left.length} processes still in the cgroup after ${this.timeouts.emptyMs}ms (pids ${left.join(" ")})`,
        { code: "Conflict", path: dirs[0] },
      );
    }
  }

  async remove(podUid: string, name?: string): Promise<void> {
    const dirs = this.targetDirs(podUid, name);
    let busy: string | undefined;
    const done = await pollUntil(async () => {
      busy = undefined;
      for (const b of await Promise.all(dirs.map((dir) => this.rmdirTree(dir)))) busy = b ?? busy;
      if (busy === undefined) return true;
      // EBUSY: processes are left (or a child we could not remove). Kill them; the next round
      // retries the rmdir.
      await this.kill(podUid, name);
      return undefined;
    }, this.timeouts.removeMs);
    if (done === undefined) {
      throw new PoddError(`rmdir ${busy}: EBUSY (still busy after ${this.timeouts.removeMs}ms)`, {
        code: "Syscall",
        errno: "EBUSY",
        syscall: "rmdir",
        path: busy,
      });
    }
  }

  /** Removes dir after its child cgroups, deepest first. Returns the first busy path, if any. */
  private async rmdirTree(dir: string): Promise<string | undefined> {
    let busy: string | undefined;
    for (const b of await Promise.all((await this.io.subdirs(dir)).map((child) => this.rmdirTree(join(dir, child))))) busy = b ?? busy;
    if (busy !== undefined) return busy;
    return (await this.io.rmdir(dir)) === "busy" ? dir : undefined;
  }

  async removeParent(): Promise<void> {
    for (const uid of await this.listPods()) await this.remove(uid);
    for (const root of this.hierarchies()) {
      const dir = this.parentDir(root);
      if ((await this.io.rmdir(dir)) === "busy") {
        throw new PoddError(`rmdir ${dir}: EBUSY (a cgroup not made by podd is inside the parent)`, {
          code: "Syscall",
          errno: "EBUSY",
          syscall: "rmdir",
          path: dir,
        });
      }
    }
  }
}
