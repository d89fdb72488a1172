// podd describe pod: kubectl's describe page for a Pod (describe.go describePod), written with
// tabs and aligned by the same tabwriter rules, and the pod's events from the events API.
import { formatQuantity, mustParseQuantity, podFieldValue, quantityMilliValue, quantityValue, resourceFieldValue, type Container, type Pod, type Probe, type Volume } from "../../pod-specs/index.ts";
import { PoddError } from "../base/errors.ts";
import { ApiError, type ApiEvent, type ApiPod } from "../api/client.ts";
import { byNamespaceAndName } from "../base/paths.ts";
import { humanDuration } from "../base/time.ts";
import type { ContainerState, ContainerStatus } from "../status/types.ts";
import { describeNode, describeObject, fetchObjects, isNodeResource, objectResource, type ObjectResource } from "./lib/objects.ts";
import { clientFor, isPodResource, namespaceFlags, namespaceOf, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { DESCRIBE, tabwrite } from "./lib/table.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";
import { age } from "./lib/pod-columns.ts";

const L1 = "  ";
const L2 = "    ";
const L3 = "      ";

const pad2 = (n: number): string => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Go's time.RFC1123Z in local time: "Sun, 22 Nov 2026 05:19:55 +0000". */
export function rfc1123z(timestamp: string | undefined): string {
  if (!timestamp) return "Mon, 01 Jan 0001 00:00:00 +0000";
  const d = new Date(timestamp);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const zone = `${sign}${pad2(Math.trunc(Math.abs(off) / 60))}${pad2(Math.abs(off) % 60)}`;
  return `${DAYS[d.getDay()]}, ${pad2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${zone}`;
}

function since(t: string | undefined, now: number): string {
  if (!t) return "<unknown>";
  return humanDuration(now - Date.parse(t));
}

function labelLines(title: string, labels: Readonly<Record<string, string>> | undefined, sep: "=" | ": "): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return `${title}:\t<none>\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:` : ""}\t${k}${sep}${labels![k]}\n`).join("");
}

function describeState(name: string, state: ContainerState): string {
  let s = "";
  if (state.running) {
    s += `${L2}${name}:\tRunning\n${L3}Started:\t${rfc1123z(state.running.startedAt)}\n`;
  } else if (state.waiting) {
    s += `${L2}${name}:\tWaiting\n`;
    if (state.waiting.reason) s += `${L3}Reason:\t${state.waiting.reason}\n`;
  } else if (state.terminated) {
    const t = state.terminated;
    s += `${L2}${name}:\tTerminated\n`;
    if (t.reason) s += `${L3}Reason:\t${t.reason}\n`;
    if (t.message) s += `${L3}Message:\t${t.message}\n`;
    s += `${L3}Exit Code:\t${t.exitCode}\n`;
    if (t.signal) s += `${L3}Signal:\t${t.signal}\n`;
    s += `${L3}Started:\t${rfc1123z(t.startedAt)}\n${L3}Finished:\t${rfc1123z(t.finishedAt)}\n`;
  } else {
    s += `${L2}${name}:\tWaiting\n`;
  }
  return s;
}

function envLines(pod: ApiPod, c: Container): string {
  const env = c.env ?? [];
  let s = `${L2}Environment:${env.length === 0 ? "\t<none>" : ""}\n`;
  for (const e of env) {
    if (!e.valueFrom) {
      (e.value ?? "").split("\n").forEach((line, i) => (s += i === 0 ? `${L3}${e.name}:\t${line}\n` : `${L3}\t${line}\n`));
      continue;
    }
    const f = e.valueFrom;
    if (f.fieldRef) {
      const v = podFieldValue(pod as unknown as Pod, f.fieldRef.fieldPath, (path) =>
        path === "status.podIP" ? pod.status.podIP : path === "status.hostIP" ? pod.status.hostIP : path === "spec.nodeName" ? pod.spec.nodeName : undefined,
      );
      s += `${L3}${e.name}:\t${v ?? ""} (${f.fieldRef.apiVersion ?? "v1"}:${f.fieldRef.fieldPath})\n`;
    } else if (f.resourceFieldRef) {
      let v: string | undefined;
      try {
        v = resourceFieldValue(pod as unknown as Pod, c, f.resourceFieldRef);
      } catch {
        v = undefined; // describe shows an empty value for a reference it cannot resolve, as kubectl does
      }
      const resource = f.resourceFieldRef.resource;
      if ((v === undefined || v === "0") && (resource === "limits.cpu" || resource === "limits.memory")) v = "node allocatable";
      s += `${L3}${e.name}:\t${v ?? ""} (${resource})\n`;
    } else if (f.secretKeyRef) {
      s += `${L3}${e.name}:\t<set to the key '${f.secretKeyRef.key}' in secret '${f.secretKeyRef.name ?? ""}'>\tOptional: ${f.secretKeyRef.optional === true}\n`;
    } else if (f.configMapKeyRef) {
      s += `${L3}${e.name}:\t<set to the key '${f.configMapKeyRef.key}' of config map '${f.configMapKeyRef.name ?? ""}'>\tOptional: ${f.configMapKeyRef.optional === true}\n`;
    }
  }
  return s;
}

function describeContainers(label: string, pod: ApiPod, containers: readonly Container[], statuses: readonly ContainerStatus[]): string {
  let s = `${label}:\n`;
  for (const c of containers) {
    const st = statuses.find((x) => x.name === c.name);
    s += `${L1}${c.name}:\n`;
    if (st) s += `${L2}Container ID:\t${st.containerID ?? ""}\n`;
    s += `${L2}Image:\t${c.image}\n`;
    if (st) s += `${L2}Image ID:\t${st.imageID}\n`;
    const ports = (c.ports ?? []).map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`).join(", ");
    const hostPorts = (c.ports ?? []).map((p) => `${p.hostPort ?? 0}/${p.protocol ?? "TCP"}`).join(", ");
    s += ports.includes(",") ? `${L2}Ports:\t${ports}\n` : `${L2}Port:\t${ports || "<none>"}\n`;
    s += hostPorts.includes(",") ? `${L2}Host Ports:\t${hostPorts}\n` : `${L2}Host Port:\t${hostPorts || "<none>"}\n`;
    if (c.restartPolicy) s += `${L2}Restart Policy:\t${c.restartPolicy}\n`;
    for (const [title, list] of [["Command", c.command], ["Args", c.args]] as const) {
      if (!list || list.length === 0) continue;
      s += `${L2}${title}:\n`;
      for (const arg of list) for (const line of arg.split("\n")) s += `${L3}${line}\n`;
    }
    if (st) {
      s += describeState("State", st.state);
      if (st.lastState.terminated) s += describeState("Last State", st.lastState);
      s += `${L2}Ready:\t${st.ready ? "True" : "False"}\n${L2}Restart Count:\t${st.restartCount}\n`;
    }
    for (const [title, list] of [["Limits", c.resources?.limits], ["Requests", c.resources?.requests]] as const) {
      const keys = Object.keys(list ?? {}).sort();
      if (keys.length === 0) continue;
      s += `${L2}${title}:\n`;
      for (const k of keys) s += `${L3}${k}:\t${list![k]}\n`;
    }
    for (const [title, probe] of [["Liveness", c.livenessProbe], ["Readiness", c.readinessProbe], ["Startup", c.startupProbe]] as const) {
      if (probe) s += `${L2}${title}:\t${probeLine(probe)}\n`;
    }
    s += envLines(pod, c);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => (a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0));
    s += `${L2}Mounts:${mounts.length === 0 ? "\t<none>" : ""}\n`;
    for (const m of mounts) {
      const flags = [m.readOnly ? "ro" : "rw", ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      s += `${L3}${m.mountPath} from ${m.name} (${flags.join(",")})\n`;
    }
  }
  return s;
}

/** A probe as kubectl describe prints it: the handler, then its timing. */
export function probeLine(p: Probe): string {
  let what = "unknown";
  if (p.httpGet) what = `http-get ${(p.httpGet.scheme ?? "HTTP").toLowerCase()}://${p.httpGet.host ?? ""}:${p.httpGet.port}${p.httpGet.path ?? ""}`;
  else if (p.tcpSocket) what = `tcp-socket ${p.tcpSocket.host ?? ""}:${p.tcpSocket.port}`;
  else if (p.grpc) what = `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ""}`;
  else if (p.exec) what = `exec [${(p.exec.command ?? []).join(" ")}]`;
  return `${what} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
}

function describeVolume(v: Volume): string {
  let s = `${L1}${v.name}:\n`;
  if (v.hostPath) {
    s += `${L2}Type:\tHostPath (bare host directory volume)\n${L2}Path:\t${v.hostPath.path}\n${L2}HostPathType:\t${v.hostPath.type || "<none>"}\n`;
  } else if (v.emptyDir) {
    s += `${L2}Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n${L2}Medium:\t${v.emptyDir.medium ?? ""}\n${L2}SizeLimit:\t${v.emptyDir.sizeLimit ?? "<unset>"}\n`;
  } else if (v.configMap) {
    s += `${L2}Type:\tConfigMap (a volume populated by a ConfigMap)\n${L2}Name:\t${v.configMap.name ?? ""}\n${L2}Optional:\t${v.configMap.optional === true}\n`;
  } else if (v.secret) {
    s += `${L2}Type:\tSecret (a volume populated by a Secret)\n${L2}SecretName:\t${v.secret.secretName ?? ""}\n${L2}Optional:\t${v.secret.optional === true}\n`;
  } else if (v.persistentVolumeClaim) {
    s += `${L2}Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n${L2}ClaimName:\t${v.persistentVolumeClaim.claimName ?? ""}\n${L2}ReadOnly:\t${v.persistentVolumeClaim.readOnly === true}\n`;
  } else if (v.downwardAPI) {
    s += `${L2}Type:\tDownwardAPI (a volume populated by information about the pod)\n${L2}Items:\n${(v.downwardAPI.items ?? []).map((i) => `${L2}  ${i.fieldRef?.fieldPath ?? i.resourceFieldRef?.resource ?? ""} -> ${i.path}\n`).join("")}`;
  } else if (v.projected) {
    s += `${L2}Type:\tProjected (a volume that contains injected data from multiple sources)\n`;
    for (const src of v.projected.sources ?? []) {
      if (src.configMap) s += `${L2}ConfigMapName:\t${src.configMap.name ?? ""}\n${L2}Optional:\t${src.configMap.optional === true}\n`;
      if (src.secret) s += `${L2}SecretName:\t${src.secret.name ?? ""}\n${L2}Optional:\t${src.secret.optional === true}\n`;
      if (src.downwardAPI) s += `${L2}DownwardAPI:\ttrue\n`;
    }
  }
  return s;
}

/** kubectl's Events table (DescribeEvents): oldest first, "Age" with "(xN over …)" for repeats. */
export function describeEvents(events: readonly ApiEvent[], now: number): string {
  if (events.length === 0) return "Events:\t<none>\n";
  const sorted = [...events].sort((a, b) => Date.parse(eventTime(a)) - Date.parse(eventTime(b)));
  let s = `Events:\n${L1}Type\tReason\tAge\tFrom\tMessage\n${L1}----\t------\t----\t----\t-------\n`;
  for (const e of sorted) {
    const first = since(e.firstTimestamp ?? e.eventTime, now);
    const interval = (e.count ?? 1) > 1 ? `${since(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
    s += `${L1}${e.type}\t${e.reason}\t${interval}\t${e.source?.component ?? ""}\t${e.message.trim()}\n`;
  }
  return s;
}

export function eventTime(e: ApiEvent): string {
  return e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? "";
}

/** The whole page for one pod. */
export function describePod(pod: ApiPod, events: readonly ApiEvent[], now: number): string {
  const m = pod.metadata;
  const st = pod.status;
  let s = `Name:\t${m.name}\nNamespace:\t${m.namespace}\n`;
  if (pod.spec.serviceAccountName) s += `Service Account:\t${pod.spec.serviceAccountName}\n`;
  s += pod.spec.nodeName ? `Node:\t${pod.spec.nodeName}/${st.hostIP ?? ""}\n` : "Node:\t<none>\n";
  if (st.startTime) s += `Start Time:\t${rfc1123z(st.startTime)}\n`;
  s += labelLines("Labels", m.labels, "=");
  s += labelLines("Annotations", m.annotations, ": ");
  if (m.deletionTimestamp && st.phase !== "Failed" && st.phase !== "Succeeded") {
    s += `Status:\tTerminating (lasts ${humanDuration(now - Date.parse(m.deletionTimestamp))})\n`;
    if (m.deletionGracePeriodSeconds !== undefined) s += `Termination Grace Period:\t${m.deletionGracePeriodSeconds}s\n`;
  } else {
    s += `Status:\t${st.phase}\n`;
  }
  if (st.reason) s += `Reason:\t${st.reason}\n`;
  if (st.message) s += `Message:\t${st.message}\n`;
  s += `IP:\t${st.podIP ?? ""}\n`;
  const ips = st.podIPs ?? [];
  s += ips.length === 0 ? "IPs:\t<none>\n" : `IPs:\n${ips.map((ip) => `${L1}IP:\t${ip.ip}\n`).join("")}`;
  if ((pod.spec.initContainers ?? []).length > 0) s += describeContainers("Init Containers", pod, pod.spec.initContainers ?? [], st.initContainerStatuses ?? []);
  s += describeContainers("Containers", pod, pod.spec.containers, st.containerStatuses);
  if (st.conditions.length > 0) {
    s += `Conditions:\n${L1}Type\tStatus\n`;
    for (const c of st.conditions) s += `${L1}${c.type} \t${c.status} \n`;
  }
  const volumes = pod.spec.volumes ?? [];
  s += volumes.length === 0 ? "Volumes:\t<none>\n" : `Volumes:\n${volumes.map(describeVolume).join("")}`;
  s += `QoS Class:\t${st.qosClass}\nNode-Selectors:\t<none>\nTolerations:\t<none>\n`;
  s += describeEvents(events, now);
  return tabwrite(s, DESCRIBE);
}

export async function describeMain(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...socketFlag, ...namespaceFlags });
  const [resource, ...rest] = positionals;
  if (resource !== undefined && isNodeResource(resource)) return describeNodes(rest, values, io);
  const objects = resource === undefined ? undefined : objectResource(resource);
  if (objects) return describeObjects(objects, rest, values, io);
  let names: string[];
  if (resource !== undefined && isPodResource(resource)) names = podNames(rest, "describe");
  else if (resource?.includes("/")) names = podNames(positionals, "describe");
  else throw new PoddError("you must name a pod: podd describe pod NAME…", { code: "Invalid" });
  const namespace = namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const pods: ApiPod[] = [];
    let failed = false;
    if (names.length === 0) {
      pods.push(...(await client.listPods(namespace)).items.sort(byNamespaceAndName));
      if (pods.length === 0) io.stderr.write(`No resources found in ${namespace} namespace.\n`);
    }
    for (const name of names) {
      try {
        pods.push(await client.getPod(namespace, name));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    if (pods.length === 0) return failed ? 1 : 0;
    const events = (await client.listEvents(namespace)).items;
    const pages = pods.map((p) =>
      describePod(
        p,
        events.filter((e) => e.involvedObject.kind === "Pod" && e.involvedObject.name === p.metadata.name && (e.involvedObject.uid === undefined || e.involvedObject.uid === p.metadata.uid)),
        io.now(),
      ),
    );
    // kubectl separates the pages of several objects with an empty line.
    io.stdout.write(pages.join("\n\n"));
    return failed ? 1 : 0;
  });
}

/** The requests of a pod's app containers, as describe node sums them (cpu in millicores, memory in bytes). */
function podRequestsText(p: ApiPod): { cpu: string; memory: string } {
  let cpu = 0n;
  let memory = 0n;
  for (const c of p.spec.containers) {
    const r = c.resources?.requests;
    if (r?.cpu) cpu += quantityMilliValue(mustParseQuantity(r.cpu));
    if (r?.memory) memory += quantityValue(mustParseQuantity(r.memory));
  }
  return { cpu: `${cpu}m`, memory: memory === 0n ? "0" : formatQuantity(mustParseQuantity(String(memory))) };
}

async function describeNodes(names: string[], values: { socket?: string | undefined }, io: Io): Promise<number> {
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const nodes: unknown[] = names.length === 0 ? (await client.json<{ items: unknown[] }>("GET", "/api/v1/nodes")).items : [];
    let failed = false;
    for (const name of names) {
      try {
        nodes.push(await client.json("GET", `/api/v1/nodes/${encodeURIComponent(name)}`));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    if (nodes.length === 0) return failed ? 1 : 0;
    const pods = (await client.listPods(undefined)).items
      .filter((p) => p.status.phase !== "Succeeded" && p.status.phase !== "Failed")
      .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, ...podRequestsText(p), age: age(p.metadata.creationTimestamp, io.now()) }));
    io.stdout.write(nodes.map((n) => describeNode(n, pods)).join("\n\n"));
    return failed ? 1 : 0;
  });
}

async function describeObjects(r: ObjectResource, names: string[], values: { namespace?: string | undefined; socket?: string | undefined }, io: Io): Promise<number> {
  const namespace = r.kind === "Namespace" ? undefined : namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const { items, failed } = await fetchObjects(client, io, r.resource, namespace, names);
    io.stdout.write(items.map((o) => describeObject(o, io.now())).join("\n\n"));
    return failed ? 1 : 0;
  });
}

export const describe: Verb = {
  summary: "Show a pod, namespace, configmap, secret or claim in detail (kubectl describe)",
  usage: "pod|namespace|configmap|secret|pvc NAME… [-n NS] [--socket PATH]",
  run: (argv) => describeMain(argv, processIo()),
};
