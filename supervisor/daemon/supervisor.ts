// The set of pods one podd process runs: a worker per pod over one runtime. `podd run` uses it
// in the foreground; the daemon will put the API and durable state in front of it.
import { podKeyOf } from "../base/paths.ts";
import { randomUUID } from "node:crypto";
import type { Pod } from "../../pod-specs/types.ts";
import { admitAppArmor, admitHostPorts, admitPod, admitSysctls, hostPortsOf, NO_REQUESTS, podRequests, type Admission } from "../pod/admission.ts";
import { openCgroups, type CgroupManager } from "../cgroups/index.ts";
import { PoddError } from "../base/errors.ts";
import { EventBus } from "./events.ts";
import { systemClock, type Clock } from "../base/time.ts";
import { PodWorker, type PodObject } from "../pod/worker.ts";
import { backOffConfig, type BackOffConfig } from "../pod/restart-policy.ts";
import { Runtime, type BoundPod, type RuntimeOptions } from "../runtime/runtime.ts";
import type { Sys } from "../sys/index.ts";
import type { PodRuntime } from "../pod/pod-runtime.ts";
import { rfc3339 } from "../base/time.ts";
import { LinuxSys } from "../sys/linux.ts";
import { lockCgroupParent, lockRoots } from "./lock.ts";
import { removeUndesired, type OrphanLog } from "./orphans.ts";
import { DesiredStore } from "./store.ts";
import { nodeLabels } from "./node.ts";
import { admitScheduling, type SchedulingNode } from "../pod/scheduling.ts";
import type { Taint } from "../../pod-specs/scheduling.ts";

export interface SupervisorOptions extends RuntimeOptions {
  cgroupParent: string;
  backOff: BackOffConfig;
  clock?: Clock;
  sys?: Sys;
  /** --node-labels: the node's labels beyond those the kubelet sets */
  nodeLabels?: Record<string, string>;
  /** --register-with-taints */
  nodeTaints?: Taint[];
}


/** Namespace defaulted, uid and creation time assigned: the identity a pod keeps from now on. */
export function bindPod(pod: Pod, now: number): BoundPod {
  const copy = structuredClone(pod) as BoundPod;
  copy.metadata.namespace ??= "default";
  if (!copy.metadata.uid) copy.metadata.uid = randomUUID();
  if (!copy.metadata.creationTimestamp) copy.metadata.creationTimestamp = rfc3339(now);
  delete (copy as { status?: unknown }).status;
  return copy;
}

export class Supervisor<R extends PodRuntime = Runtime> {
  readonly events = new EventBus();
  private readonly workers = new Map<string, PodWorker>();
  readonly clock: Clock;

  /** the node as scheduling fields see it */
  readonly node: SchedulingNode;
  /** a namespace's labels, for namespaceSelector; the daemon's store has them (podd run: the name label only) */
  namespaceLabels: (ns: string) => Readonly<Record<string, string>> | undefined = (ns) => ({ "kubernetes.io/metadata.name": ns });

  private constructor(
    readonly runtime: R,
    private readonly backOff: BackOffConfig,
    clock: Clock,
    labels: Record<string, string> = {},
    taints: Taint[] = [],
  ) {
    this.clock = clock;
    this.node = { name: runtime.node.name, labels: nodeLabels(runtime.node.name, labels), taints };
  }

  /**
   * The real supervisor on its roots, locked. With sweep (podd run, which keeps no desired state
   * of its own), what no desired pod of these roots owns is removed before it returns (the
   * daemon does the same in its restore, with the pods it has read).
   */
  static async open(opts: SupervisorOptions, sweep?: OrphanLog): Promise<Supervisor> {
    const sys = opts.sys ?? new LinuxSys();
    // Before anything is read or touched: a second supervisor on these roots would run a
    // second copy of every container and remove what the first one made.
    const roots = lockRoots(sys, opts.roots);
    let cgroups: CgroupManager;
    try {
      cgroups = await openCgroups({ parent: opts.cgroupParent, sys, ...(opts.procRoot !== undefined ? { procRoot: opts.procRoot } : {}) });
      await cgroups.ensureParent();
      lockCgroupParent(sys, cgroups.parentLockDir(), cgroups.parent);
    } catch (err) {
      roots.release();
      throw err;
    }
    const sup: Supervisor = new Supervisor<Runtime>(
      new Runtime(sys, cgroups, opts, (pod, type, reason, message) => {
        sup.events.emit("event", {
          time: sup.clock.now(),
          type,
          reason,
          message,
          namespace: pod.namespace,
          pod: pod.name,
          podUid: pod.uid,
        });
      }),
      opts.backOff,
      opts.clock ?? systemClock,
      opts.nodeLabels,
      opts.nodeTaints,
    );
    sup.runtime.images.recover();
    sup.runtime.network.open();
    if (sweep) {
      const desired = new DesiredStore(opts.roots.state).list((path, err) => sweep.warn(`${err.message}; the file is left as it is`));
      await removeUndesired(sup.runtime, new Set(desired.map((p) => p.metadata.uid)), sweep);
    }
    return sup;
  }

  /**
   * A supervisor over a runtime made elsewhere: a test's fake. open() makes the real one, with
   * its roots locked and what an earlier daemon left recovered.
   */
  static over<R extends PodRuntime>(runtime: R, opts: Pick<SupervisorOptions, "backOff" | "clock" | "nodeLabels" | "nodeTaints">): Supervisor<R> {
    return new Supervisor(runtime, opts.backOff, opts.clock ?? systemClock, opts.nodeLabels, opts.nodeTaints);
  }

  /** Admits the pod against the node and starts it, or records it rejected (Failed). */
  add(pod: Pod): PodWorker {
    const key = podKeyOf(pod);
    if (this.workers.has(key)) throw new PoddError(`pods "${pod.metadata.name}" already exists`, { code: "AlreadyExists" });
    const worker = new PodWorker(bindPod(pod, this.clock.now()), this.runtime, this.events, this.clock, this.backOff);
    const verdict = this.admit(worker.pod);
    this.workers.set(key, worker);
    if (verdict.admit) worker.start();
    else worker.reject(verdict.reason, verdict.message);
    return worker;
  }

  /**
   * The scheduler's filters for this node (nodeName, node affinity, taints, inter-pod affinity,
   * topology spread), then the kubelet's admission, in its order: the pod's sysctls against the
   * node's allowlist, its AppArmor profiles against the host's, its host ports against those of
   * the pods admitted and not ended, then its resources against what those pods request.
   */
  admit(pod: BoundPod): Admission {
    const others = [...this.workers.values()].filter((w) => w.active && w.pod.metadata.uid !== pod.metadata.uid);
    const scheduling = admitScheduling(
      { namespace: pod.metadata.namespace, labels: pod.metadata.labels ?? {}, spec: pod.spec },
      this.node,
      others.map((w) => ({ namespace: w.pod.metadata.namespace, name: w.pod.metadata.name, labels: w.pod.metadata.labels ?? {}, spec: w.pod.spec })),
      this.namespaceLabels,
    );
    if (!scheduling.admit) return scheduling;
    const sysctls = admitSysctls(pod.spec, this.runtime.sysctls);
    if (!sysctls.admit) return sysctls;
    const appArmor = admitAppArmor(pod, this.runtime.appArmorUnavailable);
    if (!appArmor.admit) return appArmor;
    const ports = admitHostPorts(
      hostPortsOf(pod.spec),
      others.map((w) => ({ pod: `${w.pod.metadata.namespace}/${w.pod.metadata.name}`, ports: hostPortsOf(w.pod.spec) })),
    );
    if (!ports.admit) return ports;
    let used = NO_REQUESTS;
    for (const w of others) {
      const r = podRequests(w.pod.spec);
      used = { milliCpu: used.milliCpu + r.milliCpu, memoryBytes: used.memoryBytes + r.memoryBytes };
    }
    return admitPod(podRequests(pod.spec), used, this.runtime.node.allocatable, others.length);
  }

  /**
   * Takes up a pod a previous podd ran (see PodWorker.restore); a fresh start, admitted as a new
   * pod is, if nothing ran. Restore running pods before new ones, so that they count.
   */
  restore(pod: BoundPod, lost: readonly string[] = []): PodWorker {
    const key = podKeyOf(pod);
    if (this.workers.has(key)) throw new PoddError(`pods "${pod.metadata.name}" already exists`, { code: "AlreadyExists" });
    const worker = new PodWorker(pod, this.runtime, this.events, this.clock, this.backOff);
    this.workers.set(key, worker);
    worker.restore(() => this.admit(pod), lost);
    return worker;
  }

  get(key: string): PodWorker | undefined {
    return this.workers.get(key);
  }

  list(): PodWorker[] {
    return [...this.workers.values()];
  }

  objects(): PodObject[] {
    const now = this.clock.now();
    return this.list().map((w) => w.toObject(now));
  }

  /** Deletes gracefully and, once every container has stopped, removes what the pod left. */
  async delete(key: string, gracePeriodSeconds?: number): Promise<void> {
    const w = this.workers.get(key);
    if (!w) throw new PoddError(`pods "${key.split("/")[1]}" not found`, { code: "NotFound" });
    w.delete(gracePeriodSeconds);
    await w.done;
    await this.runtime.removePod(w.pod);
    this.workers.delete(key);
  }
}

export { backOffConfig };

