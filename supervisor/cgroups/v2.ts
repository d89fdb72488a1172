// cgroup v2: one unified tree. Controllers reach a cgroup only when every ancestor lists them
// in cgroup.subtree_control, and a cgroup with controllers enabled for its children may hold
// no processes itself (the no-internal-process rule; the root is exempt). So processes live
// only in container cgroups, which enable nothing.
import { join } from "node:path";
import type { CgroupLimits, CgroupStats } from "./index.ts";
import { pollUntil } from "./io.ts";
import { parseCgroupStat, parseControllerList } from "./parse.ts";
import { CgroupTree } from "./tree.ts";
import type { DriverDeps } from "./tree.ts";
import { DEFAULT_DEVICE_RULES, allowsAll, checkDeviceRules, formatV1Rule } from "./devices.ts";
import type { DeviceAccess, DeviceRule } from "./devices.ts";
import { deviceProgram, encodeProgram } from "./device-bpf.ts";
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  BPF_OBJ_GET_INFO_BY_FD,
  BPF_PROG_ATTACH,
  BPF_PROG_DETACH,
  BPF_PROG_GET_FD_BY_ID,
  BPF_PROG_LOAD,
  BPF_PROG_QUERY,
  BPF_PROG_TYPE_CGROUP_DEVICE,
} from "../sys/index.ts";

/** Controllers enabled down to containers, when the kernel offers them. Freezing and
 * cgroup.kill are core files and need no controller; cpu.stat usage_usec is always there. */
export const V2_CONTROLLERS = ["cpu", "memory", "pids"] as const;

/** The kernel's default CFS period, used when a quota comes without one. */
const DEFAULT_PERIOD_US = 100_000;

/** A loaded device program: its fd (kept for the manager's life) and the kernel's id for it. */
interface DeviceProgram {
  fd: number;
  id: number;
}

export class CgroupV2 extends CgroupTree {
  readonly version = 2 as const;
  private readonly root: string;
  /** By rule list. Every container gets the same rules, so in practice this holds one program. */
  private readonly devicePrograms = new Map<string, DeviceProgram>();

  constructor(root: string, deps: DriverDeps) {
    super(deps);
    this.root = root;
  }

  protected hierarchies(): string[] {
    return [this.root];
  }

  /** Enables what the root offers of cpu/memory/pids at every level from the root down to the
   * parent, so pod cgroups get the interface files. */
  async ensureParent(): Promise<void> {
    let dir = this.root;
    for (const seg of this.parentSegments) {
      await this.enableSubtree(dir);
      dir = join(dir, seg);
      await this.io.mkdirIdempotent(dir);
    }
    await this.enableSubtree(dir);
  }

  private async enableSubtree(dir: string): Promise<void> {
    const available = parseControllerList(await this.io.read(join(dir, "cgroup.controllers")));
    const enabled = parseControllerList(await this.io.read(join(dir, "cgroup.subtree_control")));
    const missing = V2_CONTROLLERS.filter((c) => available.includes(c) && !enabled.includes(c));
    if (missing.length === 0) return;
    await this.io.write(
      join(dir, "cgroup.subtree_control"),
      missing.map((c) => `+${c}`).join(" "),
      // EBUSY here is the no-internal-process rule: the cgroup holds processes.
      "controllers can be enabled only for a cgroup without processes of its own; choose a cgroup parent whose ancestors hold none",
    );
  }

  async createPod(podUid: string, limits: CgroupLimits = {}): Promise<void> {
    const dir = this.podDir(this.root, podUid);
    await this.io.mkdirIdempotent(dir);
    await this.enableSubtree(dir);
    await this.writeLimits(dir, limits);
  }

  async createContainer(podUid: string, name: string, limits: CgroupLimits = {}, devices: DeviceAccess = DEFAULT_DEVICE_RULES): Promise<boolean> {
    if (devices !== "all") checkDeviceRules(devices);
    const dir = this.containerDir(this.root, podUid, name);
    const made = await this.io.mkdirIdempotent(dir);
    this.attachDevices(dir, devices);
    await this.writeLimits(dir, limits);
    return made;
  }

  /**
   * Leaves exactly our device program on the cgroup (none for "all"). The kernel runs every
   * program attached with BPF_F_ALLOW_MULTI on the cgroup and its ancestors, and allows only
   * what all of them allow, so a program of a previous daemon on a cgroup that a crashed start
   * left behind (other rules, or a privileged container now) is detached, and ours is not
   * attached twice (EINVAL). A new cgroup has none: then this is one query and one attach.
   * The fd of the directory is needed only for the calls; the cgroup keeps the attachment.
   */
  private attachDevices(dir: string, devices: DeviceAccess): void {
    const wanted = devices === "all" || allowsAll(devices) ? undefined : this.deviceProgram(devices);
    const what = `cgroup ${dir}`;
    this.io.withDirectory(dir, (targetFd) => {
      const attached = this.sys.bpf({ cmd: BPF_PROG_QUERY, targetFd, attachType: BPF_CGROUP_DEVICE, what });
      for (const id of attached) {
        if (id === wanted?.id) continue;
        const progFd = this.sys.bpf({ cmd: BPF_PROG_GET_FD_BY_ID, id, what: `device program ${id} on ${what}` });
        if (progFd === null) continue; // detached and freed meanwhile
        try {
          this.sys.bpf({ cmd: BPF_PROG_DETACH, targetFd, progFd, attachType: BPF_CGROUP_DEVICE, what });
        } finally {
          this.sys.close(progFd);
        }
      }
      if (wanted !== undefined && !attached.includes(wanted.id)) {
        this.sys.bpf({ cmd: BPF_PROG_ATTACH, targetFd, progFd: wanted.fd, attachType: BPF_CGROUP_DEVICE, flags: BPF_F_ALLOW_MULTI, what });
      }
    });
  }

  /** Loads the program for these rules on first use; the verifier runs once per daemon. */
  private deviceProgram(rules: readonly DeviceRule[]): DeviceProgram {
    const key = rules.map(formatV1Rule).join("\n");
    let prog = this.devicePrograms.get(key);
    if (prog !== undefined) return prog;
    const insns = encodeProgram(deviceProgram(rules));
    const what = `device allow-list (${rules.length} rules)`;
    const fd = this.sys.bpf({ cmd: BPF_PROG_LOAD, progType: BPF_PROG_TYPE_CGROUP_DEVICE, insns, license: "Apache-2.0", what });
    try {
      prog = { fd, id: this.sys.bpf({ cmd: BPF_OBJ_GET_INFO_BY_FD, fd, what }).id };
    } catch (err) {
      this.sys.close(fd);
      throw err;
    }
    this.devicePrograms.set(key, prog);
    return prog;
  }

  private async writeLimits(dir: string, l: CgroupLimits): Promise<void> {
    const hint = (c: string) => `is the ${c} controller enabled in the parent's cgroup.subtree_control?`;
    if (l.memoryMax !== undefined) await this.io.write(join(dir, "memory.max"), l.memoryMax, hint("memory"));
    // No swap, limit or not: the kubelet's default (NoSwap) on v2. The file exists only when
    // the kernel accounts swap.
    if (await this.io.exists(join(dir, "memory.swap.max"))) await this.io.write(join(dir, "memory.swap.max"), 0);
    if (l.cpuQuotaUs !== undefined || l.cpuPeriodUs !== undefined) {
      const value = `${l.cpuQuotaUs ?? "max"} ${l.cpuPeriodUs ?? DEFAULT_PERIOD_US}`;
      await this.io.write(join(dir, "cpu.max"), value, hint("cpu"));
    }
    if (l.cpuWeight !== undefined) await this.io.write(join(dir, "cpu.weight"), l.cpuWeight, hint("cpu"));
    if (l.pidsMax !== undefined) await this.io.write(join(dir, "pids.max"), l.pidsMax, hint("pids"));
  }

  /**
   * cgroup.kill (Linux 5.14+) SIGKILLs the whole subtree in one step, forks included. Older
   * kernels: freeze with cgroup.freeze, SIGKILL every listed pid, thaw. Then wait until empty.
   */
  async kill(podUid: string, name?: string): Promise<void> {
    const dir = name === undefined ? this.podDir(this.root, podUid) : this.containerDir(this.root, podUid, name);
    if (!(await this.io.exists(dir))) return;
    if (await this.io.exists(join(dir, "cgroup.kill"))) {
      // ENOENT: removed between the check and the write, so nothing is left to kill.
      await this.io.writeIfPresent(join(dir, "cgroup.kill"), 1);
    } else {
      let frozen = false;
      try {
        frozen = await this.freeze(dir);
        await this.killAll([dir]);
      } finally {
        if (frozen) await this.io.writeIfPresent(join(dir, "cgroup.freeze"), 0);
      }
    }
    await this.waitEmpty([dir]);
  }

  /** true once cgroup.events reports "frozen 1"; on a deadline the freeze is undone and the
   * caller kills without it (waitEmpty keeps killing what is listed). */
  private async freeze(dir: string): Promise<boolean> {
    if ((await this.io.writeIfPresent(join(dir, "cgroup.freeze"), 1)) === "absent") return false;
    const ok = await pollUntil(async () => {
      const events = await this.io.readOptional(join(dir, "cgroup.events"));
      if (events === undefined) return false; // removed meanwhile
      return parseCgroupStat(events).get("frozen") === 1 ? true : undefined;
    }, this.timeouts.freezeMs);
    if (ok === true) return true;
    if (ok === undefined) await this.io.writeIfPresent(join(dir, "cgroup.freeze"), 0);
    return false;
  }

  /** Nothing to prepare: podd-init clones PID 1 straight into its cgroup (CLONE_INTO_CGROUP). */
  async prepareJoin(): Promise<void> {}

  /**
   * oomKills comes from memory.events, which counts the kills of this cgroup and its
   * descendants. A container cgroup has no descendants, so it equals memory.events.local, and
   * the kernel charges an OOM kill to the victim's own cgroup whichever limit was hit (the
   * container's or the pod's), so a container's count is the kills of its processes.
   * memory.events is on every v2 kernel; memory.events.local only since 5.2.
   */
  async stats(podUid: string, name: string): Promise<CgroupStats> {
    const dir = this.containerDir(this.root, podUid, name);
    // One round trip to libuv's threads for all five files.
    const [cpuText, current, memText, eventsText, pids] = await Promise.all(
      ["cpu.stat", "memory.current", "memory.stat", "memory.events", "pids.current"].map((f) => this.io.read(join(dir, f))),
    );
    const usage = Number(current!.trim());
    return {
      cpuUsageNs: (parseCgroupStat(cpuText!).get("usage_usec") ?? 0) * 1000,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - (parseCgroupStat(memText!).get("inactive_file") ?? 0)),
      oomKills: parseCgroupStat(eventsText!).get("oom_kill") ?? 0,
      pids: Number(pids!.trim()),
    };
  }
}
