// Admission against the node, as the kubelet does it before a pod may start (lifecycle
// predicate.go, with the scheduler's noderesources fit): the pod's effective requests must fit
// in the node's allocatable (capacity minus --system-reserved and --kube-reserved) less what
// the pods already admitted request. A pod that does not fit is rejected: Failed, with reason
// OutOf<resource>, and nothing of it is created. Pure: the caller hands in every number.
import { mustParseQuantity, parseQuantity, quantityMilliValue, quantityValue } from "../../pod-specs/quantity.ts";
import type { Container, PodSpec, ResourceList } from "../../pod-specs/types.ts";
import { PoddError } from "../base/errors.ts";

/** CPU in millicores, memory in bytes: the units the kubelet compares and prints. */
export interface Requests {
  milliCpu: bigint;
  memoryBytes: bigint;
}

export const NO_REQUESTS: Requests = { milliCpu: 0n, memoryBytes: 0n };

export type Admission = { admit: true } | { admit: false; reason: string; message: string };

function add(a: Requests, b: Requests): Requests {
  return { milliCpu: a.milliCpu + b.milliCpu, memoryBytes: a.memoryBytes + b.memoryBytes };
}

function max(a: Requests, b: Requests): Requests {
  return { milliCpu: a.milliCpu > b.milliCpu ? a.milliCpu : b.milliCpu, memoryBytes: a.memoryBytes > b.memoryBytes ? a.memoryBytes : b.memoryBytes };
}

function listRequests(list: ResourceList | undefined): Requests {
  return {
    milliCpu: list?.cpu !== undefined ? quantityMilliValue(mustParseQuantity(list.cpu)) : 0n,
    memoryBytes: list?.memory !== undefined ? quantityValue(mustParseQuantity(list.memory)) : 0n,
  };
}

/** A container's requests; the API has defaulted them to its limits where only those are set. */
function containerRequests(c: Container): Requests {
  return listRequests(c.resources?.requests);
}

/**
 * The pod's effective request, as the scheduler and the kubelet compute it (component-helpers
 * resource.PodRequests): app containers and sidecars (restartable init containers) run side by
 * side and add up; each plain init container runs alone beside the sidecars started before it;
 * the pod needs the larger of the two. Pod-level requests, where set, replace the sum.
 */
export function podRequests(spec: Pick<PodSpec, "containers" | "initContainers" | "resources">): Requests {
  let sum = NO_REQUESTS;
  for (const c of spec.containers) sum = add(sum, containerRequests(c));
  let sidecars = NO_REQUESTS;
  let inits = NO_REQUESTS;
  for (const c of spec.initContainers ?? []) {
    const own = containerRequests(c);
    if (c.restartPolicy === "Always") {
      sum = add(sum, own);
      sidecars = add(sidecars, own);
      inits = max(inits, sidecars);
    } else {
      inits = max(inits, add(own, sidecars));
    }
  }
  let total = max(sum, inits);
  const pod = spec.resources?.requests;
  if (pod?.cpu !== undefined) total = { ...total, milliCpu: listRequests(pod).milliCpu };
  if (pod?.memory !== undefined) total = { ...total, memoryBytes: listRequests(pod).memoryBytes };
  return total;
}

/**
 * The kubelet's verdict (noderesources fitsRequest, first insufficient resource wins, cpu before
 * memory): a pod that requests nothing always fits; otherwise each requested resource must fit
 * in what the admitted pods leave of the allocatable. The message is the kubelet's
 * InsufficientResourceError, word for word; "capacity" is the allocatable amount.
 */
export function admitPod(request: Requests, used: Requests, allocatable: Requests): Admission {
  const checks = [
    { name: "cpu", requested: request.milliCpu, used: used.milliCpu, capacity: allocatable.milliCpu },
    { name: "memory", requested: request.memoryBytes, used: used.memoryBytes, capacity: allocatable.memoryBytes },
  ];
  for (const r of checks) {
    if (r.requested > 0n && r.requested > r.capacity - r.used) {
      return {
        admit: false,
        reason: `OutOf${r.name}`,
        message: `Node didn't have enough resource: ${r.name}, requested: ${r.requested}, used: ${r.used}, capacity: ${r.capacity}`,
      };
    }
  }
  return { admit: true };
}

/** The status message of a rejected pod; the event carries the admission message alone. */
export function rejectedMessage(message: string): string {
  return `Pod was rejected: ${message}`;
}

/** Capacity minus every reservation, never below zero (the kubelet's GetNodeAllocatable). */
export function allocatableOf(capacity: Requests, reserved: readonly Requests[]): Requests {
  let left = capacity;
  for (const r of reserved) left = { milliCpu: left.milliCpu - r.milliCpu, memoryBytes: left.memoryBytes - r.memoryBytes };
  return { milliCpu: left.milliCpu < 0n ? 0n : left.milliCpu, memoryBytes: left.memoryBytes < 0n ? 0n : left.memoryBytes };
}

/**
 * A reservation flag's value as the kubelet writes it: "cpu=100m,memory=256Mi" (either may be
 * left out; "" reserves nothing). Other resources are refused: podd accounts cpu and memory.
 */
export function parseReservation(flag: string, text: string): Requests {
  let r = NO_REQUESTS;
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    const value = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (name !== "cpu" && name !== "memory") {
      throw new PoddError(`invalid --${flag} "${text}": unknown resource "${name}"; podd reserves cpu and memory, as in cpu=100m,memory=256Mi`, { code: "Invalid" });
    }
    const q = parseQuantity(value);
    if (!q.ok || q.quantity.num < 0n) throw new PoddError(`invalid --${flag} "${text}": ${name} "${value}" is not a non-negative quantity, such as 100m or 256Mi`, { code: "Invalid" });
    r = name === "cpu" ? { ...r, milliCpu: quantityMilliValue(q.quantity) } : { ...r, memoryBytes: quantityValue(q.quantity) };
  }
  return r;
}

/** MemTotal of /proc/meminfo, in bytes; undefined when the text has none. */
export function parseMemTotal(meminfo: string): bigint | undefined {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo);
  return m ? BigInt(m[1]!) * 1024n : undefined;
}
