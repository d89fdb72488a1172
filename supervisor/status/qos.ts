// The QoS class of a pod as Kubernetes computes it (qos.GetPodQOS), from the quantities of
// pod-specs, exactly.
import { compareQuantities, mustParseQuantity, type Quantity } from "../../pod-specs/quantity.ts";
import type { PodStatusSource } from "./pod-status.ts";
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
