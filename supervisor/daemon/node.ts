// podd's machine as a Kubernetes Node: what `kubectl get nodes` shows of a kubelet's node, and
// what scheduling fields are evaluated against (its name, labels and taints). The labels the
// kubelet sets itself come first, then those of --node-labels; --register-with-taints gives the
// taints. Conditions are the kubelet's, from its default hard eviction thresholds
// (memory.available<100Mi, nodefs.available<10%); PID pressure has no default threshold.
import { readFileSync, statfsSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { isLabelValue, isQualifiedName } from "../../pod-specs/names.ts";
import { formatQuantity, mustParseQuantity } from "../../pod-specs/quantity.ts";
import { TAINT_EFFECTS, type Taint, type TaintEffect } from "../../pod-specs/scheduling.ts";
import { PoddError } from "../base/errors.ts";
import { rfc3339 } from "../base/time.ts";
import type { NodeInfo } from "../runtime/runtime.ts";
import { MAX_PODS } from "../pod/admission.ts";

const MEMORY_AVAILABLE_MIN = 100n * 1024n * 1024n;
const NODEFS_AVAILABLE_MIN_PERCENT = 10;

/** Go's name of this machine's architecture, as kubernetes.io/arch has it. */
export function goArch(arch: string = process.arch): string {
  return ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" } as Record<string, string>)[arch] ?? arch;
}

/** The labels the kubelet puts on its node, with the user's after them. */
export function nodeLabels(name: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    "beta.kubernetes.io/arch": goArch(),
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": goArch(),
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
    ...extra,
  };
}

/** --node-labels k=v,k2=v2, checked as label keys and values are. */
export function parseNodeLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new PoddError(`invalid --node-labels "${text}": "${item}" is not KEY=VALUE`, { code: "Invalid" });
    const [k, v] = [item.slice(0, eq), item.slice(eq + 1)];
    const errs = [...isQualifiedName(k).map((e) => `key "${k}": ${e}`), ...isLabelValue(v).map((e) => `value "${v}": ${e}`)];
    if (errs.length) throw new PoddError(`invalid --node-labels "${text}": ${errs.join("; ")}`, { code: "Invalid" });
    out[k] = v;
  }
  return out;
}

/** --register-with-taints key=value:Effect,key:Effect, as the kubelet reads it. */
export function parseTaints(text: string): Taint[] {
  const out: Taint[] = [];
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const colon = item.lastIndexOf(":");
    const bad = (why: string) => new PoddError(`invalid --register-with-taints "${text}": "${item}": ${why}`, { code: "Invalid" });
    if (colon < 0) throw bad("a taint is KEY[=VALUE]:EFFECT");
    const effect = item.slice(colon + 1) as TaintEffect;
    if (!TAINT_EFFECTS.includes(effect)) throw bad(`effect must be one of ${TAINT_EFFECTS.join(", ")}`);
    const kv = item.slice(0, colon);
    const eq = kv.indexOf("=");
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? undefined : kv.slice(eq + 1);
    const errs = [...isQualifiedName(key), ...(value !== undefined ? isLabelValue(value) : [])];
    if (errs.length) throw bad(errs.join("; "));
    if (out.some((t) => t.key === key && t.effect === effect)) throw bad("a taint with this key and effect is given twice");
    out.push({ key, ...(value !== undefined && value !== "" ? { value } : {}), effect });
  }
  return out;
}

export interface NodeFacts {
  info: NodeInfo;
  uid: string;
  createdMs: number;
  labels: Record<string, string>;
  taints: readonly Taint[];
  version: string;
  /** where the state root is: the filesystem nodefs is */
  stateRoot: string;
  procRoot?: string;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return ""; // a /proc or /etc file missing: the field is left empty
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readText("/etc/os-release"));
  return m?.[1] ?? "Linux";
}

function memAvailable(procRoot: string): bigint | undefined {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readText(join(procRoot, "meminfo")));
  return m ? BigInt(m[1]!) * 1024n : undefined;
}

function condition(type: string, pressure: boolean, now: string, reasons: [string, string, string, string]): Record<string, string> {
  const [okReason, okMessage, badReason, badMessage] = reasons;
  return { type, status: pressure ? "True" : "False", lastHeartbeatTime: now, lastTransitionTime: now, reason: pressure ? badReason : okReason, message: pressure ? badMessage : okMessage };
}

/** The core/v1 Node for `get nodes` and `describe node`. */
export function nodeObject(f: NodeFacts, nowMs: number): { metadata: { name: string; [k: string]: unknown }; [k: string]: unknown } {
  const now = rfc3339(nowMs);
  const procRoot = f.procRoot ?? "/proc";
  const fs = statfsSync(f.stateRoot, { bigint: true });
  const fsBytes = fs.blocks * fs.bsize;
  const fsAvailPercent = fs.blocks === 0n ? 100 : Number((fs.bavail * 100n) / fs.blocks);
  const mem = memAvailable(procRoot);
  const res = (milliCpu: bigint, memoryBytes: bigint) => ({
    cpu: formatQuantity(mustParseQuantity(`${milliCpu}m`)),
    memory: `${memoryBytes / 1024n}Ki`,
    pods: String(MAX_PODS),
    "ephemeral-storage": `${fsBytes / 1024n}Ki`,
  });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: f.info.name, uid: f.uid, creationTimestamp: rfc3339(f.createdMs), labels: f.labels, annotations: { "node.alpha.kubernetes.io/ttl": "0" } },
    spec: f.taints.length ? { taints: f.taints } : {},
    status: {
      capacity: res(f.info.capacity.milliCpu, f.info.capacity.memoryBytes),
      allocatable: res(f.info.allocatable.milliCpu, f.info.allocatable.memoryBytes),
      conditions: [
        condition("MemoryPressure", mem !== undefined && mem < MEMORY_AVAILABLE_MIN, now, ["KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"]),
        condition("DiskPressure", fsAvailPercent < NODEFS_AVAILABLE_MIN_PERCENT, now, ["KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"]),
        condition("PIDPressure", false, now, ["KubeletHasSufficientPID", "kubelet has sufficient PID available", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"]),
        { type: "Ready", status: "True", lastHeartbeatTime: now, lastTransitionTime: rfc3339(f.createdMs), reason: "KubeletReady", message: "podd is posting ready status" },
      ],
      addresses: [
        ...(f.info.hostIP ? [{ type: "InternalIP", address: f.info.hostIP }] : []),
        { type: "Hostname", address: f.info.name },
      ],
      nodeInfo: {
        machineID: readText("/etc/machine-id").trim(),
        kernelVersion: release(),
        osImage: osImage(),
        containerRuntimeVersion: `podd://${f.version}`,
        kubeletVersion: `v${f.version}`,
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: goArch(),
      },
    },
  };
}
