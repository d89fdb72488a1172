// The QoS class of a pod as Kubernetes computes it (qos.GetPodQOS), from the quantities of
// pod-specs, exactly.
import { compareQuantities, mustParseQuantity, quantityValue, type Quantity } from "../../pod-specs/quantity.ts";
import type { ContainerLike, PodStatusSource } from "./pod-status.ts";
import type { PodQOSClass } from "./types.ts";

/**
 * The QoS class as Kubernetes computes it (qos.GetPodQOS) from cpu and memory of all containers,
 * init containers included; other resources do not count. Requests a manifest leaves out default
 * to its limits, as the API server's defaulting does. Guaranteed: every container limits both cpu
 * and memory and the summed requests equal the summed limits; BestEffort: no request or limit
 * above zero anywhere; otherwise Burstable.
 */
export function qosClass(pod: PodStatusSource): PodQOSClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (into: Map<string, Quantity>, name: string, v: Quantity): void => {
    const sum = into.get(name);
    into.set(name, sum ? { num: sum.num * v.den + v.num * sum.den, den: sum.den * v.den, format: sum.format } : v);
  };
  const positive = (v: string | number | undefined): Quantity | undefined => {
    if (v === undefined) return undefined;
    const quantity = mustParseQuantity(String(v));
    return quantity.num > 0n ? quantity : undefined;
  };
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    const lim = c.resources?.limits ?? {};
    const req = { ...lim, ...(c.resources?.requests ?? {}) };
    for (const name of ["cpu", "memory"]) {
      const r = positive(req[name]);
      if (r) add(requests, name, r);
    }
    const found = new Set<string>();
    for (const name of ["cpu", "memory"]) {
      const l = positive(lim[name]);
      if (l) {
        found.add(name);
        add(limits, name, l);
      }
    }
    if (!found.has("cpu") || !found.has("memory")) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return "BestEffort";
  if (guaranteed) {
    for (const [name, r] of requests) {
      const l = limits.get(name);
      if (!l || compareQuantities(l, r) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? "Guaranteed" : "Burstable";
}

/** The kubelet's own score: the supervisor is the last process the kernel kills (--oom-score-adj). */
export const DAEMON_OOM_SCORE_ADJ = -999;
const GUARANTEED_OOM_SCORE_ADJ = -997;
const BEST_EFFORT_OOM_SCORE_ADJ = 1000;

/**
 * The oom_score_adj of a container's processes, as the kubelet's qos policy sets it: -997 for a
 * node-critical pod (priorityClassName system-node-critical) and for Guaranteed pods, 1000 for
 * BestEffort ones, and for Burstable ones 1000 less the container's memory request in thousandths
 * of the machine's memory, kept within 3..999 (above every Guaranteed container and below every
 * BestEffort one). A sidecar (an init container that restarts) is never scored above the app
 * container with the smallest request, so that it outlives what it serves.
 */
export function containerOOMScoreAdj(pod: PodStatusSource & { spec: { priorityClassName?: string } }, container: ContainerLike, memoryCapacity: bigint): number {
  if (pod.spec.priorityClassName === "system-node-critical") return GUARANTEED_OOM_SCORE_ADJ;
  const qos = qosClass(pod);
  if (qos === "Guaranteed") return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === "BestEffort") return BEST_EFFORT_OOM_SCORE_ADJ;
  const byRequest = (c: ContainerLike): number => {
    const text = c.resources?.requests?.memory ?? c.resources?.limits?.memory;
    const request = text === undefined ? 0n : quantityValue(mustParseQuantity(String(text)));
    return Number(1000n - (1000n * request) / (memoryCapacity > 0n ? memoryCapacity : 1n));
  };
  let adj = byRequest(container);
  const sidecar = pod.spec.initContainers?.some((c) => c.name === container.name && c.restartPolicy === "Always") ?? false;
  if (sidecar) adj = Math.min(adj, Math.max(...pod.spec.containers.map(byRequest)));
  if (adj < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  return adj === BEST_EFFORT_OOM_SCORE_ADJ ? adj - 1 : adj;
}
