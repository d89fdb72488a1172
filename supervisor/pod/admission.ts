// Admission against the node, as the kubelet does it before a pod may start (lifecycle
// predicate.go, with the scheduler's noderesources fit): the pod's effective requests must fit
// in the node's allocatable (capacity minus --system-reserved and --kube-reserved) less what
// the pods already admitted request. A pod that does not fit is rejected: Failed, with reason
// OutOf<resource>, and nothing of it is created. Its sysctls must be ones the node allows
// (the kubelet's sysctl allowlist), or it is rejected the same way with SysctlForbidden.
// Pure: the caller hands in every number.
import { mustParseQuantity, parseQuantity, quantityMilliValue, quantityValue } from "../../pod-specs/quantity.ts";
import { needsAppArmor } from "../../pod-specs/security.ts";
import type { Container, Pod, PodSpec, ResourceList } from "../../pod-specs/types.ts";
import { PoddError } from "../base/errors.ts";
import {
  isValidSysctlPattern,
  normalizeSysctlName,
  safeSysctls,
  SYSCTL_MAX_LENGTH,
  SYSCTL_PATTERN_FMT,
  sysctlNamespace,
  type SysctlNamespace,
} from "../../pod-specs/sysctls.ts";

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

/** The kubelet's default --max-pods: the pods a node takes, and its capacity of "pods". */
export const MAX_PODS = 110;

/**
 * The kubelet's verdict (noderesources fitsRequest, first insufficient resource wins: the number
 * of pods, then cpu, then memory): past --max-pods no pod fits; otherwise a pod that requests
 * nothing fits, and each requested resource must fit in what the admitted pods leave of the
 * allocatable. The message is the kubelet's InsufficientResourceError, word for word;
 * "capacity" is the allocatable amount.
 */
export function admitPod(request: Requests, used: Requests, allocatable: Requests, podsUsed = 0): Admission {
  const checks = [
    { name: "pods", requested: 1n, used: BigInt(podsUsed), capacity: BigInt(MAX_PODS) },
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

// ---- sysctls ---------------------------------------------------------------------------------

/**
 * The sysctls this node lets pods set (the kubelet's patternAllowlist): the safe set and the
 * patterns of --allowed-unsafe-sysctls, each with the namespace it is set in. A pod that shares
 * the host's network or IPC namespace may not set that namespace's sysctls: they would be the
 * host's.
 */
export interface SysctlAllowlist {
  /** exact names, dotted */
  readonly sysctls: ReadonlyMap<string, SysctlNamespace>;
  /** what a pattern's "*" follows: "kernel.msg" for kernel.msg* */
  readonly prefixes: ReadonlyMap<string, SysctlNamespace>;
}

/**
 * The allowlist of the safe sysctls of this kernel and the given patterns ("kernel.msg*",
 * "net.core.somaxconn"). A pattern that is not valid, or not known to be namespaced, is refused
 * as the kubelet refuses it at start: such a sysctl would change the whole machine.
 */
export function sysctlAllowlist(kernelRelease: string, unsafePatterns: readonly string[] = []): SysctlAllowlist {
  const sysctls = new Map<string, SysctlNamespace>();
  const prefixes = new Map<string, SysctlNamespace>();
  for (const pattern of [...safeSysctls(kernelRelease), ...unsafePatterns]) {
    if (!isValidSysctlPattern(pattern)) {
      throw new PoddError(`sysctl ${JSON.stringify(pattern)} must have at most ${SYSCTL_MAX_LENGTH} characters and match regex ${SYSCTL_PATTERN_FMT}`, { code: "Invalid" });
    }
    const normal = normalizeSysctlName(pattern);
    const star = normal.indexOf("*");
    const nameOrPrefix = star < 0 ? normal : normal.slice(0, star);
    const ns = sysctlNamespace(nameOrPrefix);
    if (ns === undefined) throw new PoddError(`the sysctls ${JSON.stringify(nameOrPrefix)} are not known to be namespaced`, { code: "Invalid" });
    (star < 0 ? sysctls : prefixes).set(nameOrPrefix, ns);
  }
  return { sysctls, prefixes };
}

/**
 * --allowed-unsafe-sysctls as the kubelet takes it: a comma-separated list of sysctls and
 * patterns ending in "*", each of which must be namespaced.
 */
export function parseAllowedUnsafeSysctls(text: string): string[] {
  const patterns = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
  try {
    sysctlAllowlist("", patterns);
  } catch (err) {
    throw new PoddError(`invalid --allowed-unsafe-sysctls ${JSON.stringify(text)}: ${(err as Error).message}; podd lets pods set namespaced sysctls only (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)`, { code: "Invalid" });
  }
  return patterns;
}

function sysctlVerdict(name: string, allow: SysctlAllowlist, hostNetwork: boolean, hostIPC: boolean): string | undefined {
  const sysctl = normalizeSysctlName(name);
  let ns = allow.sysctls.get(sysctl);
  if (ns === undefined) ns = [...allow.prefixes].find(([p]) => sysctl.startsWith(p))?.[1];
  if (ns === undefined) return `${JSON.stringify(sysctl)} not allowlisted`;
  if ((ns === "IPC" && hostIPC) || (ns === "Net" && hostNetwork)) return `${JSON.stringify(sysctl)} not allowed with host ${ns} enabled`;
  return undefined;
}

/**
 * The kubelet's sysctl admission: every sysctl of the pod must be allowlisted, and not of a
 * namespace the pod shares with the host; the first that is not rejects the pod (SysctlForbidden,
 * with the kubelet's message).
 */
export function admitSysctls(spec: Pick<PodSpec, "securityContext" | "hostNetwork" | "hostIPC">, allow: SysctlAllowlist): Admission {
  for (const s of spec.securityContext?.sysctls ?? []) {
    const why = sysctlVerdict(s.name, allow, spec.hostNetwork === true, spec.hostIPC === true);
    if (why !== undefined) return { admit: false, reason: "SysctlForbidden", message: `forbidden sysctl: ${why}` };
  }
  return { admit: true };
}

/**
 * A pod that names an AppArmor profile on a host that cannot apply one: refused, as the
 * kubelet refuses it, rather than run without the confinement it asked for.
 */
export function admitAppArmor(pod: Pick<Pod, "metadata" | "spec">, unavailable: string | undefined): Admission {
  if (unavailable === undefined || !needsAppArmor(pod)) return { admit: true };
  return { admit: false, reason: "AppArmor", message: `Cannot enforce AppArmor: ${unavailable}` };
}

// ---- host ports ------------------------------------------------------------------------------

export interface HostPort {
  hostPort: number;
  containerPort: number;
  protocol: "TCP" | "UDP" | "SCTP";
  /** unset: every address of the host */
  hostIP?: string;
}

/**
 * The ports the pod holds on the host: those of its app containers and sidecars that ask for
 * a hostPort (a containerPort alone publishes nothing, as in Kubernetes). With hostNetwork the
 * containers listen on the host themselves, and the API server has made each containerPort a
 * hostPort: they count as held (the scheduler counts them), though nothing is mapped for them.
 */
export function hostPortsOf(spec: Pick<PodSpec, "containers" | "initContainers" | "hostNetwork">): HostPort[] {
  const out: HostPort[] = [];
  const running = [...(spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always"), ...spec.containers];
  for (const c of running) {
    for (const p of c.ports ?? []) {
      if (spec.hostNetwork === true && p.containerPort !== undefined) {
        out.push({ hostPort: p.hostPort ?? p.containerPort, containerPort: p.containerPort, protocol: (p.protocol ?? "TCP") as HostPort["protocol"], ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
        continue;
      }
      if (!p.hostPort || p.containerPort === undefined) continue;
      out.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: (p.protocol ?? "TCP") as HostPort["protocol"], ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
    }
  }
  return out;
}

const isWildcard = (ip: string | undefined) => ip === undefined || ip === "" || ip === "0.0.0.0" || ip === "::";

/** Two asks collide as the scheduler's NodePorts filter sees it: same protocol and port, and the same address or either one every address. */
function collide(a: HostPort, b: HostPort): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (isWildcard(a.hostIP) || isWildcard(b.hostIP) || a.hostIP === b.hostIP);
}

/**
 * The scheduler's NodePorts filter, which the kubelet's admission runs too: a pod whose host
 * ports another admitted pod holds is rejected (reason NodePorts), and the message names the
 * port and the holder, so that two pods never silently share one.
 */
export function admitHostPorts(wanted: readonly HostPort[], held: readonly { pod: string; ports: readonly HostPort[] }[]): Admission {
  for (const w of wanted) {
    for (const h of held) {
      const clash = h.ports.find((p) => collide(w, p));
      if (!clash) continue;
      const addr = (p: HostPort) => `${isWildcard(p.hostIP) ? "" : `${p.hostIP}:`}${p.hostPort}/${p.protocol}`;
      return {
        admit: false,
        reason: "NodePorts",
        message: `Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports: hostPort ${addr(w)} is held by pod ${h.pod} (${addr(clash)})`,
      };
    }
  }
  return { admit: true };
}
