// The CLI's side of namespaces, config maps, secrets and claims: the names kubectl knows them
// by (cm, pvc, ns…), their `get` columns and their `describe` text. A secret's values are never
// printed by describe: only their sizes, as kubectl shows them.
import { OBJECT_KINDS, type ConfigKind } from "../../../pod-specs/index.ts";
import { ApiError, type ApiObject, type PoddClient } from "../../api/client.ts";
import type { Io } from "./client-verb.ts";
import { age } from "./pod-columns.ts";
import { DESCRIBE, table } from "./table.ts";

export interface ObjectResource {
  kind: ConfigKind;
  resource: string;
}

/** The object kind a word of `get`/`describe`/`delete` names: configmaps, configmap, cm, … */
export function objectResource(word: string): ObjectResource | undefined {
  for (const [kind, k] of Object.entries(OBJECT_KINDS) as [ConfigKind, (typeof OBJECT_KINDS)[ConfigKind]][]) {
    if (word === k.resource || k.short.includes(word)) return { kind, resource: k.resource };
  }
  return undefined;
}

/**
 * The objects named (each that is missing told on stderr, as kubectl does, and the rest still
 * shown), or the whole list when no name is given; failed says whether one was missing.
 */
export async function fetchObjects(
  client: PoddClient,
  io: Io,
  resource: string,
  namespace: string | undefined,
  names: readonly string[],
  labelSelector?: string,
): Promise<{ items: ApiObject[]; failed: boolean }> {
  if (names.length === 0) return { items: (await client.listObjects(resource, namespace, labelSelector)).items, failed: false };
  const items: ApiObject[] = [];
  let failed = false;
  for (const name of names) {
    try {
      items.push(await client.getObject(resource, namespace, name));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      io.stderr.write(err.kubectlMessage() + "\n");
      failed = true;
    }
  }
  return { items, failed };
}

const ACCESS_MODE_SHORT: Record<string, string> = { ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP" };

function dataCount(o: ApiObject): number {
  return Object.keys((o.data as object | undefined) ?? {}).length + Object.keys((o.binaryData as object | undefined) ?? {}).length;
}

type Claim = ApiObject & { spec: { accessModes?: string[]; storageClassName?: string; volumeName?: string; resources?: { requests?: { storage?: string } } }; status?: { phase?: string; capacity?: { storage?: string }; accessModes?: string[] } };

export function objectHeader(kind: ConfigKind, allNamespaces: boolean): string[] {
  const h =
    kind === "Namespace"
      ? ["NAME", "STATUS", "AGE"]
      : kind === "ConfigMap"
        ? ["NAME", "DATA", "AGE"]
        : kind === "Secret"
          ? ["NAME", "TYPE", "DATA", "AGE"]
          : ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"];
  return allNamespaces && kind !== "Namespace" ? ["NAMESPACE", ...h] : h;
}

export function objectRow(o: ApiObject, allNamespaces: boolean, now: number): string[] {
  const a = age(o.metadata.creationTimestamp, now);
  let row: string[];
  switch (o.kind) {
    case "Namespace":
      row = [o.metadata.name, (o.status as { phase?: string } | undefined)?.phase ?? "Active", a];
      break;
    case "ConfigMap":
      row = [o.metadata.name, String(dataCount(o)), a];
      break;
    case "Secret":
      row = [o.metadata.name, String(o.type ?? "Opaque"), String(dataCount(o)), a];
      break;
    default: {
      const c = o as Claim;
      const bound = c.status?.phase === "Bound";
      const phase = o.metadata.deletionTimestamp ? "Terminating" : (c.status?.phase ?? "Pending");
      const modes = bound ? (c.status?.accessModes ?? []).map((m) => ACCESS_MODE_SHORT[m] ?? m).join(",") : "";
      row = [o.metadata.name, phase, bound ? (c.spec.volumeName ?? "") : "", bound ? (c.status?.capacity?.storage ?? "") : "", modes, c.spec.storageClassName ?? "", "<unset>", a];
    }
  }
  return allNamespaces && o.kind !== "Namespace" ? [o.metadata.namespace ?? "", ...row] : row;
}

function mapLines(title: string, m: Record<string, string> | undefined): string[] {
  const keys = Object.keys(m ?? {}).sort();
  if (keys.length === 0) return [`${title}:  <none>`];
  return keys.map((k, i) => `${i === 0 ? `${title}:` : " ".repeat(title.length + 1)}  ${k}=${m![k]}`);
}

/** kubectl describe's text for the object. */
export function describeObject(o: ApiObject, now: number): string {
  const m = o.metadata;
  const lines = [`Name:         ${m.name}`];
  if (o.kind !== "Namespace") lines.push(`Namespace:    ${m.namespace ?? ""}`);
  lines.push(...mapLines("Labels      ", m.labels), ...mapLines("Annotations ", m.annotations));
  if (m.deletionTimestamp) lines.push(`Terminating:  since ${m.deletionTimestamp}`);
  switch (o.kind) {
    case "Namespace":
      lines.push(`Status:       ${(o.status as { phase?: string } | undefined)?.phase ?? "Active"}`, "", "No resource quota.", "", "No LimitRange resource.");
      break;
    case "ConfigMap": {
      lines.push("", "Data", "====");
      const data = (o.data as Record<string, string> | undefined) ?? {};
      for (const k of Object.keys(data).sort()) lines.push(`${k}:`, "----", data[k]!, "");
      lines.push("", "BinaryData", "====");
      const bin = (o.binaryData as Record<string, string> | undefined) ?? {};
      for (const k of Object.keys(bin).sort()) lines.push(`${k}: ${Buffer.from(bin[k]!, "base64").length} bytes`);
      lines.push("", "Events:  <none>");
      break;
    }
    case "Secret": {
      lines.push("", `Type:  ${String(o.type ?? "Opaque")}`, "", "Data", "====");
      const data = (o.data as Record<string, string> | undefined) ?? {};
      // Sizes only: describe is read over shoulders and pasted into tickets.
      for (const k of Object.keys(data).sort()) lines.push(`${k}:  ${Buffer.from(data[k]!, "base64").length} bytes`);
      break;
    }
    default: {
      const c = o as Claim;
      lines.push(
        `StorageClass:  ${c.spec.storageClassName ?? ""}`,
        `Status:        ${m.deletionTimestamp ? "Terminating" : (c.status?.phase ?? "Pending")}`,
        `Volume:        ${c.spec.volumeName ?? ""}`,
        `Finalizers:    [${(m.finalizers ?? []).join(" ")}]`,
        `Capacity:      ${c.status?.capacity?.storage ?? ""}`,
        `Access Modes:  ${(c.status?.accessModes ?? c.spec.accessModes ?? []).map((x) => ACCESS_MODE_SHORT[x] ?? x).join(",")}`,
        `VolumeMode:    Filesystem`,
        `Requested:     ${c.spec.resources?.requests?.storage ?? ""}`,
        `Age:           ${age(m.creationTimestamp, now)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

// ---- the node ----------------------------------------------------------------------------------

export function isNodeResource(word: string): boolean {
  return word === "nodes" || word === "node" || word === "no";
}

interface ApiNode {
  metadata: { name: string; creationTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { taints?: { key: string; value?: string; effect: string }[] };
  status: {
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
    conditions: { type: string; status: string; reason?: string; message?: string; lastHeartbeatTime?: string; lastTransitionTime?: string }[];
    addresses: { type: string; address: string }[];
    nodeInfo: Record<string, string>;
  };
}

function roles(n: ApiNode): string {
  const r = Object.keys(n.metadata.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .sort();
  return r.length ? r.join(",") : "<none>";
}

export function nodeHeader(wide: boolean): string[] {
  const h = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
  return wide ? [...h, "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] : h;
}

export function nodeRow(o: unknown, wide: boolean, now: number): string[] {
  const n = o as ApiNode;
  const ready = n.status.conditions.find((c) => c.type === "Ready")?.status === "True" ? "Ready" : "NotReady";
  const row = [n.metadata.name, ready, roles(n), age(n.metadata.creationTimestamp, now), n.status.nodeInfo.kubeletVersion ?? ""];
  if (!wide) return row;
  const addr = (t: string) => n.status.addresses.find((a) => a.type === t)?.address ?? "<none>";
  return [...row, addr("InternalIP"), addr("ExternalIP"), n.status.nodeInfo.osImage ?? "", n.status.nodeInfo.kernelVersion ?? "", n.status.nodeInfo.containerRuntimeVersion ?? ""];
}

/** kubectl describe node's text, with the pods the node runs and what they request. */
export function describeNode(o: unknown, pods: readonly { namespace: string; name: string; cpu: string; memory: string; age: string }[]): string {
  const n = o as ApiNode;
  const lines = [`Name:               ${n.metadata.name}`, `Roles:              ${roles(n)}`, ...mapLines("Labels            ", n.metadata.labels), ...mapLines("Annotations       ", n.metadata.annotations)];
  lines.push(`CreationTimestamp:  ${n.metadata.creationTimestamp ?? ""}`);
  const taints = (n.spec.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`);
  lines.push(`Taints:             ${taints.length ? taints[0] : "<none>"}`, ...taints.slice(1).map((t) => `                    ${t}`));
  lines.push("Conditions:", table([["  Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"], ...n.status.conditions.map((c) => [`  ${c.type}`, c.status, c.lastHeartbeatTime ?? "", c.lastTransitionTime ?? "", c.reason ?? "", c.message ?? ""])], DESCRIBE).trimEnd());
  lines.push("Addresses:", ...n.status.addresses.map((a) => `  ${a.type}:  ${a.address}`));
  const resources = (title: string, r: Record<string, string>) => [`${title}:`, ...Object.keys(r).sort().map((k) => `  ${k}:${" ".repeat(Math.max(1, 19 - k.length))}${r[k]}`)];
  lines.push(...resources("Capacity", n.status.capacity), ...resources("Allocatable", n.status.allocatable));
  const info = n.status.nodeInfo;
  lines.push(
    "System Info:",
    `  Machine ID:                 ${info.machineID ?? ""}`,
    `  Kernel Version:             ${info.kernelVersion ?? ""}`,
    `  OS Image:                   ${info.osImage ?? ""}`,
    `  Operating System:           ${info.operatingSystem ?? ""}`,
    `  Architecture:               ${info.architecture ?? ""}`,
    `  Container Runtime Version:  ${info.containerRuntimeVersion ?? ""}`,
    `  Kubelet Version:            ${info.kubeletVersion ?? ""}`,
  );
  lines.push(`Non-terminated Pods:          (${pods.length} in total)`);
  if (pods.length) lines.push(table([["  Namespace", "Name", "CPU Requests", "Memory Requests", "Age"], ...pods.map((p) => [`  ${p.namespace}`, p.name, p.cpu, p.memory, p.age])], DESCRIBE).trimEnd());
  return lines.join("\n") + "\n";
}
