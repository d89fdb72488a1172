// cgroup v1: one hierarchy per controller (or per co-mounted group such as cpu,cpuacct). The
// pod tree is created in each hierarchy of a controller we use, and PID 1 joins the
// container's directory in each of them.
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";
import type { CgroupLimits, CgroupStats } from "./index.ts";
import { DEFAULT_DEVICE_RULES, allowsAll, checkDeviceRules, formatV1Rule } from "./devices.ts";
import type { DeviceAccess } from "./devices.ts";
import { pollUntil } from "./io.ts";
import { parseCgroupStat, parsePids, parseProcCgroup } from "./parse.ts";
import { CgroupTree } from "./tree.ts";
import type { DriverDeps } from "./tree.ts";
import type { CgroupWriter } from "./io.ts";

/**
 * The controllers a container joins. devices holds its device allow-list. Not cpuset (podd
 * sets no cpusets, and a new cpuset cgroup starts with empty cpuset.cpus/mems that would have
 * to be filled before anyone can join), not blkio/net_* (no limits of ours), not name=systemd
 * (systemd's bookkeeping).
 */
export const V1_JOINED = ["memory", "cpu", "cpuacct", "pids", "freezer", "devices"] as const;
type Joined = (typeof V1_JOINED)[number];

export class CgroupV1 extends CgroupTree {
  readonly version = 1 as const;
  private readonly mounts: Record<string, string>;
  /** Our own cgroup.procs, open for prepareJoin, and the write in flight. */
  private ownProcs: { path: string; writer: CgroupWriter } | undefined;
  private joining: Promise<void> | undefined;

  constructor(mounts: Record<string, string>, deps: DriverDeps) {
    super(deps);
    this.mounts = mounts;
  }

  /** Distinct mount points of the joined controllers: co-mounted cpu,cpuacct count once. */
  protected hierarchies(): string[] {
    const roots: string[] = [];
    for (const c of V1_JOINED) {
      const m = this.mounts[c];
      if (m !== undefined && !roots.includes(m)) roots.push(m);
    }
    return roots;
  }

  private mount(controller: Joined, needFor: string): string {
    const m = this.mounts[controller];
    if (m === undefined) {
      throw new PoddError(`cgroup v1 controller ${controller} is not mounted; it is needed for ${needFor}`, { code: "NotFound" });
    }
    return m;
  }

  async ensureParent(): Promise<void> {
    for (const root of this.hierarchies()) {
      let dir = root;
      for (const seg of this.parentSegments) {
        dir = join(dir, seg);
        await this.mkdir(root, dir);
      }
    }
  }

  /** mkdir in one hierarchy; if cpuset is co-mounted there (never on a usual boot), a new
   * cgroup needs cpuset.cpus/mems copied from its parent before a task may join it. true when
   * made now. */
  private async mkdir(root: string, dir: string): Promise<boolean> {
    const made = await this.io.mkdirIdempotent(dir);
    if (this.mounts["cpuset"] !== root) return made;
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if ((await this.io.read(join(dir, file))).trim() !== "") continue;
      await this.io.write(join(dir, file), (await this.io.read(join(dir, "..", file))).trim());
    }
    return made;
  }

  async createPod(podUid: string, limits: CgroupLimits = {}): Promise<void> {
    for (const root of this.hierarchies()) await this.mkdir(root, this.podDir(root, podUid));
    await this.writeLimits((c, need) => this.podDir(this.mount(c, need), podUid), limits);
  }

  async createContainer(podUid: string, name: string, limits: CgroupLimits = {}, devices: DeviceAccess = DEFAULT_DEVICE_RULES): Promise<boolean> {
    if (devices !== "all") checkDeviceRules(devices);
    // The hierarchies are independent: one round of mkdirs instead of one after another.
    const made = await Promise.all(this.hierarchies().map((root) => this.mkdir(root, this.containerDir(root, podUid, name))));
    this.writeDevices(podUid, name, devices);
    await this.writeLimits((c, need) => this.containerDir(this.mount(c, need), podUid, name), limits);
    return made.every(Boolean);
  }

  /**
   * A new devices cgroup copies its parent's list, and podd's parent and pod cgroups keep the
   * one they were born with (on a usual host, everything). A restricted container's list is
   * set from scratch: "a" to devices.deny clears it and denies everything, then each rule is
   * allowed, one per write as the kernel parses them. "a" to devices.allow grants everything
   * the parent has, so a privileged container that reuses a cgroup left by a crashed start gets
   * it too. All of it happens before PID 1 joins, so no process ever sees a wider list.
   */
  private writeDevices(podUid: string, name: string, devices: DeviceAccess): void {
    const unrestricted = devices === "all" || allowsAll(devices);
    // Without a devices hierarchy nothing restricts devices: fine only when nothing should.
    if (unrestricted && this.mounts["devices"] === undefined) return;
    const dir = this.containerDir(this.mount("devices", "the device allow-list"), podUid, name);
    const parentHint = "the devices list of a cgroup cannot be wider than its parent's; does the cgroup parent allow these devices?";
    if (unrestricted) return this.io.writeEntriesSync(join(dir, "devices.allow"), ["a"], parentHint);
    this.io.writeEntriesSync(join(dir, "devices.deny"), ["a"]);
    if (devices.length > 0) this.io.writeEntriesSync(join(dir, "devices.allow"), devices.map(formatV1Rule), parentHint);
  }

  private async writeLimits(dirOf: (c: Joined, need: string) => string, l: CgroupLimits): Promise<void> {
    if (l.memoryMax !== undefined) await this.writeMemory(dirOf("memory", "memoryMax"), l.memoryMax);
    if (l.cpuPeriodUs !== undefined || l.cpuQuotaUs !== undefined) {
      const dir = dirOf("cpu", "cpuQuotaUs/cpuPeriodUs");
      // Period first: a quota is checked against the period in force (quota >= 1ms) and,
      // hierarchically, against the parent's quota/period ratio. -1 is "no quota" on v1.
      if (l.cpuPeriodUs !== undefined) await this.io.write(join(dir, "cpu.cfs_period_us"), l.cpuPeriodUs);
      await this.io.write(join(dir, "cpu.cfs_quota_us"), l.cpuQuotaUs ?? -1, "a container's quota may not exceed its pod's");
    }
    if (l.cpuShares !== undefined) await this.io.write(join(dirOf("cpu", "cpuShares"), "cpu.shares"), l.cpuShares);
    if (l.pidsMax !== undefined) await this.io.write(join(dirOf("pids", "pidsMax"), "pids.max"), l.pidsMax);
  }

  /**
   * No swap: memory.memsw.limit_in_bytes (memory+swap) equal to the memory limit, what the
   * kubelet asks runc for on v1 when swap is off. memory.swappiness=0 would not do: it only
   * makes reclaim prefer file pages, it does not forbid swapping anonymous memory.
   * The kernel requires limit_in_bytes <= memsw.limit_in_bytes at every moment, so raising a
   * limit writes memsw first and lowering it writes memory first. memsw exists only when the
   * kernel accounts swap (swapaccount=1); without it there is nothing more to limit.
   */
  private async writeMemory(dir: string, bytes: number): Promise<void> {
    const memory = join(dir, "memory.limit_in_bytes");
    const memsw = join(dir, "memory.memsw.limit_in_bytes");
    if (!(await this.io.exists(memsw))) return this.io.write(memory, bytes);
    const current = Number((await this.io.read(memory)).trim());
    if (bytes > current) {
      await this.io.write(memsw, bytes);
      await this.io.write(memory, bytes);
    } else {
      await this.io.write(memory, bytes);
      await this.io.write(memsw, bytes);
    }
  }

  /**
   * A v1 join (a write to cgroup.procs) takes cgroup_threadgroup_rwsem for writing, and the
   * first writer after a quiet spell waits out an RCU grace period (rcu_sync_enter): 10-20 ms
   * on this kind of machine, more than the rest of a container start. Writers that come within
   * a grace period of the last one do not wait. So the daemon joins its own cgroup again, a
   * migration that moves nothing, on a libuv thread while it prepares the container; PID 1's
   * join then finds the lock ready. The write must leave at once (a read first would wait for
   * the event loop, which is busy preparing), so the file stays open; it is used only while
   * /proc/self/cgroup still names the cgroup whose cgroup.procs listed us when it was opened.
   * Between that check and the write on the libuv thread lie microseconds: only something that
   * moves the daemon in exactly that window (systemd moves a service's processes only when
   * asked) would see the move undone. The daemon's own cgroup is the one place outside the
   * cgroup parent that podd writes to, and it writes nothing that changes it.
   */
  prepareJoin(): Promise<void> {
    // One write at a time: a second one would wait for the same grace period, and each takes
    // the lock that every fork and exit on the host reads.
    if (this.joining) return this.joining;
    try {
      const root = this.hierarchies()[0];
      if (root === undefined) return Promise.resolve();
      const fs = this.io.fs;
      const line = parseProcCgroup(fs.readFileSync(join(this.procRoot, "self", "cgroup"))).find((l) => l.controllers.some((c) => this.mounts[c] === root));
      if (line === undefined) return Promise.resolve();
      const procs = join(root, line.path, "cgroup.procs");
      if (this.ownProcs?.path !== procs) {
        // No write is pending (joining is unset), so the fd cannot be reused under one.
        this.ownProcs?.writer.close();
        this.ownProcs = undefined;
        if (!parsePids(fs.readFileSync(procs)).includes(process.pid)) return Promise.resolve();
        this.ownProcs = { path: procs, writer: fs.openWriter(procs) };
      }
      // Only a head start: the join itself reports what is wrong, so a failure here is dropped.
      this.joining = this.ownProcs.writer
        .write(String(process.pid))
        .catch(() => undefined)
        .finally(() => (this.joining = undefined));
      return this.joining;
    } catch {
      // As above: a missing /proc/self/cgroup or an unreadable list only costs the head start.
      return Promise.resolve();
    }
  }

  /**
   * Freeze, SIGKILL every task, thaw. The freeze stops a fork from racing the kill loop; the
   * SIGKILLs stay pending on frozen tasks and take effect at the thaw, and a task with a fatal
   * signal pending cannot fork. Without a freezer hierarchy, or when freezing does not settle
   * (a task stuck in the kernel), the kill still happens and waitEmpty keeps killing whatever
   * is listed until the cgroups are empty.
   */
  async kill(podUid: string, name?: string): Promise<void> {
    const dirs = this.targetDirs(podUid, name);
    // Nothing to kill (the usual case: a new container's cgroup, a pod already stopped): a
    // freeze and thaw would cost a round of polls for nothing. A frozen child with tasks in it
    // is not empty, so the crash case below still gets its thaw.
    if ((await this.procsOf(dirs)).length === 0) return;
    const freezerRoot = this.mounts["freezer"];
    const freezer = freezerRoot === undefined ? undefined : name === undefined ? this.podDir(freezerRoot, podUid) : this.containerDir(freezerRoot, podUid, name);
    let frozen = false;
    try {
      if (freezer !== undefined) frozen = await this.freeze(freezer);
      await this.killAll(dirs);
    } finally {
      // Thaw even when killing failed, so nothing is left frozen; ENOENT means the cgroup is gone.
      if (freezer !== undefined && frozen) await this.io.writeIfPresent(join(freezer, "freezer.state"), "THAWED");
      // A container cgroup frozen by a kill that a daemon crash cut short stays FROZEN when its
      // parent thaws (v1 keeps a child's own freeze), and its tasks never take the SIGKILL.
      if (freezer !== undefined) {
        for (const child of await this.io.subdirs(freezer)) {
          const state = join(freezer, child, "freezer.state");
          const s = (await this.io.readOptional(state))?.trim();
          if (s !== undefined && s !== "THAWED") await this.io.writeIfPresent(state, "THAWED");
        }
      }
    }
    await this.waitEmpty(dirs);
  }

  /** true once freezer.state reads FROZEN; false when the cgroup is gone or the deadline passed
   * (then it is thawed again, and the caller kills without the freeze). */
  private async freeze(dir: string): Promise<boolean> {
    const state = join(dir, "freezer.state");
    if ((await this.io.writeIfPresent(state, "FROZEN")) === "absent") return false;
    const ok = await pollUntil(async () => {
      const s = (await this.io.readOptional(state))?.trim();
      if (s === undefined) return false; // removed meanwhile: nothing left to freeze
      if (s === "FROZEN") return true;
      // Still FREEZING: ask again, which re-sends the freeze to tasks that joined or woke up
      // since the first request (runc does the same).
      await this.io.writeIfPresent(state, "FROZEN");
      return undefined;
    }, this.timeouts.freezeMs);
    if (ok === true) return true;
    if (ok === undefined) await this.io.writeIfPresent(state, "THAWED");
    return false;
  }

  async stats(podUid: string, name: string): Promise<CgroupStats> {
    const cpuacct = this.containerDir(this.mount("cpuacct", "stats"), podUid, name);
    const memory = this.containerDir(this.mount("memory", "stats"), podUid, name);
    const pids = this.containerDir(this.mount("pids", "stats"), podUid, name);
    // One round trip to libuv's threads for all five files.
    const [usageText, memText, oomText, cpuText, pidsText] = await Promise.all([
      this.io.read(join(memory, "memory.usage_in_bytes")),
      this.io.read(join(memory, "memory.stat")),
      this.io.read(join(memory, "memory.oom_control")),
      this.io.read(join(cpuacct, "cpuacct.usage")),
      this.io.read(join(pids, "pids.current")),
    ]);
    const usage = Number(usageText.trim());
    const memStat = parseCgroupStat(memText);
    const oom = parseCgroupStat(oomText);
    // total_inactive_file includes descendants (use_hierarchy); a container has none, and the
    // kubelet/cadvisor use the total_ value on v1.
    const inactive = memStat.get("total_inactive_file") ?? memStat.get("inactive_file") ?? 0;
    return {
      cpuUsageNs: Number(cpuText.trim()),
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
      // oom_kill is in memory.oom_control since Linux 4.13; older kernels report none.
      oomKills: oom.get("oom_kill") ?? 0,
      pids: Number(pidsText.trim()),
    };
  }
}
