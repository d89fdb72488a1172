// Semantic checks of a decoded, defaulted Pod, following the API server's validation
// (pkg/apis/core/validation) and its message wording ("Required value", "Unsupported value",
// "Duplicate value", "Invalid value: …"), plus the few stricter rules podd needs because it uses
// names in paths and hostnames. Types were already checked by the decoder; fields may be missing.

import type { Container, LifecycleHandler, Pod, Probe, ResourceList, ResourceRequirements, Volume } from "./types.ts";
import {
  isConfigMapKey,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isIP,
  isLabelValue,
  isPlainQualifiedName,
  isPortName,
  isQualifiedName,
  isValidPort,
} from "./names.ts";
import { compareQuantities, isNegative, mustParseQuantity, type Quantity } from "./quantity.ts";
import { childPath } from "./schema.ts";
import { APPARMOR_ANNOTATION_PREFIX, appArmorFromAnnotation, capabilityName } from "./security.ts";
import { validateScheduling } from "./scheduling.ts";
import { isValidSysctlName, SYSCTL_MAX_LENGTH, SYSCTL_NAME_REGEX, sysctlNamespace } from "./sysctls.ts";

export interface ValidationProblem {
  path: string;
  message: string;
  /** the path whose source position the problem points at; defaults to path */
  at?: string;
  /** point at the key rather than the value */
  atKey?: boolean;
  /** fields whose refusal this problem would only repeat (see RefusedFields in index.ts) */
  unlessRefused?: string[];
}

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
const EMPTY_DIR_MEDIA = ["", "Memory"];
const CONTAINER_RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const TERMINATION_MESSAGE_POLICIES = ["FallbackToLogsOnError", "File"];
const HTTP_SCHEMES = ["HTTP", "HTTPS"];
const FIELD_REF_PATHS = [
  "metadata.annotations",
  "metadata.labels",
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
];
const RESOURCE_FIELD_REFS = ["limits.cpu", "limits.memory", "requests.cpu", "requests.memory"];
// Valid in Kubernetes, refused as not supported yet (unsupported.ts): podd limits cpu and memory only.
export const OTHER_RESOURCE_FIELD_REF = /^(limits|requests)\.(ephemeral-storage$|hugepages-)/;
const CPU_DIVISORS = ["1m", "1"];
const MEMORY_DIVISORS = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
const SUPPORTED_RESOURCES = ["cpu", "memory"];
const MAX_INT32 = 2147483647;
// Kubernetes caps the total size of all annotations of an object.
const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

export const required = (detail?: string): string => `Required value${detail ? `: ${detail}` : ""}`;
export const invalid = (value: unknown, detail: string): string => `Invalid value: ${show(value)}: ${detail}`;
export const unsupported = (value: unknown, supported: readonly string[]): string =>
  `Unsupported value: ${show(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`;
export const duplicate = (value: unknown): string => `Duplicate value: ${show(value)}`;
export const forbidden = (detail: string): string => `Forbidden: ${detail}`;
export const notFound = (value: unknown): string => `Not found: ${show(value)}`;

interface Ctx {
  problems: ValidationProblem[];
  /** path of the pod object: "" for a Pod document, "items[3]" inside a List */
  base: string;
}

function p(ctx: Ctx, rel: string): string {
  if (ctx.base === "") return rel;
  return rel.startsWith("[") ? `${ctx.base}${rel}` : `${ctx.base}.${rel}`;
}

export function validatePod(pod: Pod, base = ""): ValidationProblem[] {
  const ctx: Ctx = { problems: [], base };
  const add = (path: string, message: string, extra: Partial<ValidationProblem> = {}): void => {
    ctx.problems.push({
      path: p(ctx, path),
      message,
      ...extra,
      ...(extra.at !== undefined ? { at: p(ctx, extra.at) } : {}),
      ...(extra.unlessRefused !== undefined ? { unlessRefused: extra.unlessRefused.map((u) => p(ctx, u)) } : {}),
    });
  };

  validateMetadata(pod, add);
  const spec = pod.spec;
  if (spec === undefined) {
    add("spec", required());
    return ctx.problems;
  }
  validateScheduling(spec, pod.metadata?.namespace ?? "default", add);

  // Pod-level settings.
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(spec.restartPolicy)) {
    add("spec.restartPolicy", unsupported(spec.restartPolicy, RESTART_POLICIES));
  }
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(spec.dnsPolicy)) {
    add("spec.dnsPolicy", unsupported(spec.dnsPolicy, DNS_POLICIES));
  }
  if (spec.dnsPolicy === "None" && spec.dnsConfig == null) {
    add("spec.dnsConfig", required("must provide `dnsConfig` when `dnsPolicy` is None"), { at: "spec.dnsPolicy" });
  }
  if (spec.dnsConfig) validateDnsConfig(spec.dnsConfig, spec.dnsPolicy === "None", add);
  const grace = spec.terminationGracePeriodSeconds;
  if (grace !== undefined && grace < 0) {
    add("spec.terminationGracePeriodSeconds", invalid(grace, "must be greater than or equal to 0"));
  }
  const deadline = spec.activeDeadlineSeconds;
  if (deadline !== undefined && (deadline < 1 || deadline > MAX_INT32)) {
    add("spec.activeDeadlineSeconds", invalid(deadline, `must be between 1 and ${MAX_INT32}, inclusive`));
  }
  for (const field of ["hostname", "subdomain"] as const) {
    const v = spec[field];
    if (v !== undefined) for (const e of isDns1123Label(v)) add(`spec.${field}`, invalid(v, e));
  }
  validateSecurityIds(spec.securityContext, "spec.securityContext", add);
  if (spec.shareProcessNamespace === true && spec.hostPID === true) {
    add("spec.shareProcessNamespace", invalid(true, "ShareProcessNamespace and HostPID cannot both be enabled"));
  }
  // The API server's validateHostUsers: a pod of its own ids shares no namespace with the host.
  if (spec.hostUsers === false) {
    for (const f of ["hostNetwork", "hostPID", "hostIPC"] as const) {
      if (spec[f] === true) add(`spec.${f}`, forbidden("when `pod.Spec.HostUsers` is false"));
    }
  }
  validatePodSecurityContext(spec, add);
  validateSeccompProfile(spec.securityContext?.seccompProfile, "spec.securityContext.seccompProfile", add);
  validateSeccompProfile(spec.securityContext?.appArmorProfile, "spec.securityContext.appArmorProfile", add, "AppArmor");
  validateAppArmorAnnotations(pod, add);
  (spec.hostAliases ?? []).forEach((h, i) => {
    const path = `spec.hostAliases[${i}]`;
    if (h.ip === undefined) add(`${path}.ip`, required());
    else if (!isIP(h.ip)) add(`${path}.ip`, invalid(h.ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
    (h.hostnames ?? []).forEach((name, j) => {
      for (const e of isDns1123Subdomain(name)) add(`${path}.hostnames[${j}]`, invalid(name, e));
    });
  });
  validateResources(spec.resources, "spec.resources", add);

  // Volumes.
  const volumeNames = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => validateVolume(v, `spec.volumes[${i}]`, volumeNames, add));
  const imageVolumes = new Set((spec.volumes ?? []).filter((v) => v.image).map((v) => v.name));

  // Containers.
  const containers = spec.containers ?? [];
  if (containers.length === 0) add("spec.containers", required());
  const containerNames = new Set<string>();
  const ports = new Map<string, string>();
  const hostPorts = new Set<string>();
  const all: Array<[Container, string, boolean]> = [
    ...(spec.initContainers ?? []).map((c, i): [Container, string, boolean] => [c, `spec.initContainers[${i}]`, true]),
    ...containers.map((c, i): [Container, string, boolean] => [c, `spec.containers[${i}]`, false]),
  ];
  for (const [c, path, init] of all) {
    validateContainer(c, path, init, { pod, volumeNames, imageVolumes, containerNames, ports, hostPorts }, add);
  }
  return ctx.problems;
}

export type Add = (path: string, message: string, extra?: Partial<ValidationProblem>) => void;

/** The API server's checks of spec.dnsConfig: the resolver's limits, addresses, domain names. */
function validateDnsConfig(c: NonNullable<Pod["spec"]["dnsConfig"]>, policyNone: boolean, add: Add): void {
  const servers = c.nameservers ?? [];
  if (policyNone && servers.length === 0) add("spec.dnsConfig.nameservers", required("must provide at least one DNS nameserver when `dnsPolicy` is None"));
  if (servers.length > 3) add("spec.dnsConfig.nameservers", invalid(servers.length, "must not have more than 3 nameservers"));
  servers.forEach((ns, i) => {
    if (!isIP(ns)) add(`spec.dnsConfig.nameservers[${i}]`, invalid(ns, "must be valid IP address"));
  });
  const searches = c.searches ?? [];
  if (searches.length > 32) add("spec.dnsConfig.searches", invalid(searches.length, "must not have more than 32 search paths"));
  if (searches.join(" ").length > 2048) add("spec.dnsConfig.searches", invalid(searches.join(" ").length, "must not have more than 2048 characters (including spaces) in the search list"));
  searches.forEach((s, i) => {
    // "." (the root) and a trailing dot are accepted, as the API server accepts them.
    if (s === ".") return;
    for (const e of isDns1123Subdomain(s.replace(/\.$/, ""))) add(`spec.dnsConfig.searches[${i}]`, invalid(s, e));
  });
  (c.options ?? []).forEach((o, i) => {
    if (!o.name) add(`spec.dnsConfig.options[${i}].name`, required());
  });
}

function validateMetadata(pod: Pod, add: Add): void {
  const m = pod.metadata;
  if (m === undefined) {
    add("metadata.name", required(), { at: "metadata" });
    return;
  }
  if (m.name === undefined || m.name === "") {
    // With generateName the refusal of generateName already says to set a name.
    add("metadata.name", required(), { unlessRefused: ["metadata.generateName"] });
  } else {
    for (const e of isDns1123Label(m.name)) {
      const why = e.startsWith("a lowercase")
        ? `${e}; podd uses the pod name in paths and host names, so it must be a label where Kubernetes would allow a subdomain`
        : e;
      add("metadata.name", invalid(m.name, why));
    }
  }
  if (m.namespace !== undefined) for (const e of isDns1123Label(m.namespace)) add("metadata.namespace", invalid(m.namespace, e));
  validateLabelsAndAnnotations(m, add);
}

/** The checks every object's labels and annotations get, whatever its kind. */
export function validateLabelsAndAnnotations(m: Pick<Pod["metadata"], "labels" | "annotations">, add: Add): void {
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    const at = childPath("metadata.labels", k);
    for (const e of isQualifiedName(k)) add("metadata.labels", invalid(k, e), { at, atKey: true });
    for (const e of isLabelValue(v)) add("metadata.labels", invalid(v, e), { at });
  }
  // A pod may have thousands of annotations: each costs one test of its key unless it is wrong.
  let total = 0;
  const annotations = m.annotations ?? {};
  for (const k of Object.keys(annotations)) {
    if (!isPlainQualifiedName(k)) {
      for (const e of isQualifiedName(k.toLowerCase())) add("metadata.annotations", invalid(k, e), { at: childPath("metadata.annotations", k), atKey: true });
    }
    total += k.length + annotations[k]!.length;
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) {
    add("metadata.annotations", `Too long: may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`);
  }
}

function validateSecurityIds(sc: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean } | undefined, path: string, add: Add): void {
  if (!sc) return;
  for (const f of ["runAsUser", "runAsGroup"] as const) {
    const v = sc[f];
    if (v !== undefined && (v < 0 || v > MAX_INT32)) add(`${path}.${f}`, invalid(v, `must be between 0 and ${MAX_INT32}, inclusive`));
  }
  // The kubelet refuses to start such a container; saying so now beats a crash loop later.
  if (sc.runAsNonRoot === true && sc.runAsUser === 0) {
    add(`${path}.runAsNonRoot`, invalid(true, "conflicts with runAsUser 0: the container would run as root"));
  }
}

const FS_GROUP_CHANGE_POLICIES = ["Always", "OnRootMismatch"];
const SUPPLEMENTAL_GROUPS_POLICIES = ["Merge", "Strict"];

// The group and sysctl fields of the pod's securityContext, as validatePodSpecSecurityContext
// checks them. A sysctl's value must be given too: the API server lets an empty one through and
// the runtime then writes nothing, which would look like the sysctl was set.
function validatePodSecurityContext(spec: Pod["spec"], add: Add): void {
  const sc = spec.securityContext;
  if (!sc) return;
  const path = "spec.securityContext";
  const gidError = (v: number) => (v < 0 || v > MAX_INT32 ? `must be between 0 and ${MAX_INT32}, inclusive` : undefined);
  if (sc.fsGroup !== undefined) {
    const e = gidError(sc.fsGroup);
    if (e) add(`${path}.fsGroup`, invalid(sc.fsGroup, e));
  }
  (sc.supplementalGroups ?? []).forEach((g, i) => {
    const e = gidError(g);
    if (e) add(`${path}.supplementalGroups[${i}]`, invalid(g, e));
  });
  const names = new Set<string>();
  (sc.sysctls ?? []).forEach((s, i) => {
    const np = `${path}.sysctls[${i}].name`;
    if (s.name === undefined || s.name === "") add(np, required());
    else if (!isValidSysctlName(s.name)) add(np, invalid(s.name, `must have at most ${SYSCTL_MAX_LENGTH} characters and match regex ${SYSCTL_NAME_REGEX}`));
    else if (names.has(s.name)) add(np, duplicate(s.name));
    if (s.name !== undefined && s.name !== "") {
      const ns = sysctlNamespace(s.name);
      if (spec.hostNetwork === true && ns === "Net") add(np, invalid(s.name, "may not be specified when 'hostNetwork' is true"));
      else if (spec.hostIPC === true && ns === "IPC") add(np, invalid(s.name, "may not be specified when 'hostIPC' is true"));
      names.add(s.name);
    }
    if (s.value === undefined || s.value === "") add(`${path}.sysctls[${i}].value`, required());
  });
  if (sc.fsGroupChangePolicy !== undefined && !FS_GROUP_CHANGE_POLICIES.includes(sc.fsGroupChangePolicy)) {
    add(`${path}.fsGroupChangePolicy`, unsupported(sc.fsGroupChangePolicy, FS_GROUP_CHANGE_POLICIES));
  }
  if (sc.supplementalGroupsPolicy !== undefined && !SUPPLEMENTAL_GROUPS_POLICIES.includes(sc.supplementalGroupsPolicy)) {
    add(`${path}.supplementalGroupsPolicy`, unsupported(sc.supplementalGroupsPolicy, SUPPLEMENTAL_GROUPS_POLICIES));
  }
}

function parsedList(list: ResourceList | undefined): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  for (const [k, v] of Object.entries(list ?? {})) out.set(k, mustParseQuantity(v));
  return out;
}

function validateResources(r: ResourceRequirements | undefined, path: string, add: Add): void {
  if (!r) return;
  const limits = parsedList(r.limits);
  const requests = parsedList(r.requests);
  for (const [kind, list] of [["limits", limits], ["requests", requests]] as const) {
    for (const [name, q] of list) {
      // A request copied from its limit by defaulting would repeat the limit's problem.
      if (kind === "requests" && r.requests?.[name] === r.limits?.[name]) continue;
      const at = childPath(`${path}.${kind}`, name);
      if (!SUPPORTED_RESOURCES.includes(name) && !/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(name) && !name.startsWith("hugepages-") && name !== "ephemeral-storage") {
        add(at, unsupported(name, SUPPORTED_RESOURCES), { atKey: true });
      }
      if (isNegative(q)) add(at, invalid((kind === "limits" ? r.limits : r.requests)?.[name], "must be greater than or equal to 0"));
    }
  }
  for (const [name, req] of requests) {
    const lim = limits.get(name);
    if (lim !== undefined && compareQuantities(req, lim) > 0) {
      add(childPath(`${path}.requests`, name), invalid(r.requests?.[name], `must be less than or equal to ${name} limit of ${r.limits?.[name]}`));
    }
  }
}

function validateVolume(v: Volume, path: string, names: Set<string>, add: Add): void {
  if (v.name === undefined || v.name === "") add(`${path}.name`, required());
  else {
    for (const e of isDns1123Label(v.name)) add(`${path}.name`, invalid(v.name, e));
    if (names.has(v.name)) add(`${path}.name`, duplicate(v.name));
    names.add(v.name);
  }
  const sources = Object.keys(v).filter((k) => k !== "name");
  if (sources.length > 1) {
    add(path, forbidden(`may not specify more than 1 volume type (found ${sources.join(", ")})`), { at: `${path}.${sources[1]}`, atKey: true });
  }
  if (v.hostPath) {
    const hp = v.hostPath;
    const hpPath = `${path}.hostPath`;
    if (hp.path === undefined || hp.path === "") add(`${hpPath}.path`, required());
    else {
      if (!hp.path.startsWith("/")) add(`${hpPath}.path`, invalid(hp.path, "must be an absolute path"));
      if (hp.path.split("/").includes("..")) add(`${hpPath}.path`, invalid(hp.path, "must not contain '..'"));
    }
    if (hp.type !== undefined && !HOST_PATH_TYPES.includes(hp.type)) add(`${hpPath}.type`, unsupported(hp.type, HOST_PATH_TYPES));
  }
  if (v.emptyDir) {
    const medium = v.emptyDir.medium;
    // HugePages media are real but refused as not supported yet (unsupported.ts).
    if (medium !== undefined && !EMPTY_DIR_MEDIA.includes(medium) && !medium.startsWith("HugePages")) add(`${path}.emptyDir.medium`, unsupported(medium, EMPTY_DIR_MEDIA));
    const size = v.emptyDir.sizeLimit;
    if (size !== undefined && isNegative(mustParseQuantity(size))) add(`${path}.emptyDir.sizeLimit`, invalid(size, "must be greater than or equal to 0"));
  }
  if (v.image) {
    const ref = v.image.reference;
    if (ref === undefined || ref === "") add(`${path}.image.reference`, required());
    else if (ref.trim() !== ref) add(`${path}.image.reference`, invalid(ref, "must not have leading or trailing whitespace"));
    else if (ref === "host") add(`${path}.image.reference`, invalid(ref, "image: host names the host's root for a container; a volume of the host is a hostPath"));
    if (v.image.pullPolicy !== undefined && !PULL_POLICIES.includes(v.image.pullPolicy)) add(`${path}.image.pullPolicy`, unsupported(v.image.pullPolicy, PULL_POLICIES));
  }
  for (const src of ["configMap", "secret"] as const) {
    const s = v[src];
    if (!s) continue;
    const nameField = src === "configMap" ? "name" : "secretName";
    const ref = src === "configMap" ? v.configMap?.name : v.secret?.secretName;
    if (ref === undefined || ref === "") add(`${path}.${src}.${nameField}`, required());
    validateFileMode(s.defaultMode, `${path}.${src}.defaultMode`, add);
    validateKeyToPaths(s.items, `${path}.${src}.items`, new Set(), add);
  }
  if (v.downwardAPI) {
    validateFileMode(v.downwardAPI.defaultMode, `${path}.downwardAPI.defaultMode`, add);
    validateDownwardApiFiles(v.downwardAPI.items, `${path}.downwardAPI.items`, new Set(), add);
  }
  if (v.projected) {
    const pp = `${path}.projected`;
    validateFileMode(v.projected.defaultMode, `${pp}.defaultMode`, add);
    const paths = new Set<string>();
    (v.projected.sources ?? []).forEach((s, i) => {
      const sp = `${pp}.sources[${i}]`;
      const kinds = Object.keys(s).filter((k) => (s as Record<string, unknown>)[k] != null);
      if (kinds.length === 0) add(sp, required("must specify exactly 1 of configMap, secret, downwardAPI, serviceAccountToken, clusterTrustBundle or podCertificate"));
      else if (kinds.length > 1) add(sp, forbidden("may not specify more than 1 volume type per source"), { at: `${sp}.${kinds[1]}`, atKey: true });
      for (const k of ["configMap", "secret"] as const) {
        const src = s[k];
        if (!src) continue;
        if (src.name === undefined || src.name === "") add(`${sp}.${k}.name`, required());
        validateKeyToPaths(src.items, `${sp}.${k}.items`, paths, add);
      }
      if (s.downwardAPI) validateDownwardApiFiles(s.downwardAPI.items, `${sp}.downwardAPI.items`, paths, add);
    });
  }
  if (v.persistentVolumeClaim) {
    const c = v.persistentVolumeClaim.claimName;
    if (c === undefined || c === "") add(`${path}.persistentVolumeClaim.claimName`, required());
    else for (const e of isDns1123Subdomain(c)) add(`${path}.persistentVolumeClaim.claimName`, invalid(c, e));
  }
}

const MAX_FILE_MODE = 0o777;

function validateFileMode(mode: number | undefined, path: string, add: Add): void {
  if (mode !== undefined && (mode < 0 || mode > MAX_FILE_MODE)) add(path, invalid(mode, "must be a number between 0 and 0777 (octal), both inclusive"));
}

/** A file's path in a configuration volume: relative, and clear of the writer's "..data" names. */
function validateVolumeFilePath(value: string | undefined, path: string, seen: Set<string>, add: Add): void {
  if (!value) return add(path, required());
  validateRelativePath(value, path, add);
  if (value.startsWith("..")) add(path, invalid(value, "must not start with '..'"));
  // Two files with one path in a projected volume: the API server lets it through, and the
  // kubelet then fails the mount; podd says so at once.
  if (seen.has(value)) add(path, invalid(value, "conflicting duplicate paths"));
  seen.add(value);
}

function validateKeyToPaths(items: readonly { key: string; path: string; mode?: number }[] | undefined, path: string, seen: Set<string>, add: Add): void {
  (items ?? []).forEach((item, i) => {
    const ip = `${path}[${i}]`;
    if (!item.key) add(`${ip}.key`, required());
    else for (const e of isConfigMapKey(item.key)) add(`${ip}.key`, invalid(item.key, e));
    validateVolumeFilePath(item.path, `${ip}.path`, seen, add);
    validateFileMode(item.mode, `${ip}.mode`, add);
  });
}

// What a downward API volume may show: the pod's own metadata (the node's and the status'
// fields change while the files would not, so the API server leaves them to env).
const VOLUME_FIELD_REFS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];

function validateDownwardApiFiles(items: readonly import("./types.ts").DownwardAPIVolumeFile[] | undefined, path: string, seen: Set<string>, add: Add): void {
  (items ?? []).forEach((item, i) => {
    const ip = `${path}[${i}]`;
    validateVolumeFilePath(item.path, `${ip}.path`, seen, add);
    validateFileMode(item.mode, `${ip}.mode`, add);
    if (item.fieldRef && item.resourceFieldRef) add(ip, invalid("", "fieldRef and resourceFieldRef can not be specified simultaneously"));
    else if (!item.fieldRef && !item.resourceFieldRef) add(ip, required("one of fieldRef and resourceFieldRef is required"));
    const f = item.fieldRef;
    if (f) {
      if (f.apiVersion !== undefined && f.apiVersion !== "v1") add(`${ip}.fieldRef.apiVersion`, unsupported(f.apiVersion, ["v1"]));
      const m = f.fieldPath === undefined ? null : /^(metadata\.(?:labels|annotations))\['([^']*)'\]$/.exec(f.fieldPath);
      if (f.fieldPath === undefined || f.fieldPath === "") add(`${ip}.fieldRef.fieldPath`, required());
      else if (m) for (const e of isQualifiedName(m[2]!)) add(`${ip}.fieldRef.fieldPath`, invalid(f.fieldPath, e));
      else if (!VOLUME_FIELD_REFS.includes(f.fieldPath)) add(`${ip}.fieldRef.fieldPath`, unsupported(f.fieldPath, VOLUME_FIELD_REFS));
    }
    const r = item.resourceFieldRef;
    if (r) {
      const rp = `${ip}.resourceFieldRef`;
      if (!r.containerName) add(`${rp}.containerName`, required());
      if (r.resource === undefined || r.resource === "") add(`${rp}.resource`, required());
      else if (OTHER_RESOURCE_FIELD_REF.test(r.resource)) add(`${rp}.resource`, "not supported yet by podd; podd limits cpu and memory only");
      else if (!RESOURCE_FIELD_REFS.includes(r.resource)) add(`${rp}.resource`, unsupported(r.resource, RESOURCE_FIELD_REFS));
      else if (r.divisor !== undefined) {
        const allowed = r.resource.endsWith(".cpu") ? CPU_DIVISORS : MEMORY_DIVISORS;
        if (!allowed.includes(r.divisor)) add(`${rp}.divisor`, unsupported(r.divisor, allowed));
      }
    }
  });
}

function validateRelativePath(value: string, path: string, add: Add): void {
  if (value.startsWith("/")) add(path, invalid(value, "must be a relative path"));
  if (value.split("/").includes("..")) add(path, invalid(value, "must not contain '..'"));
}

interface PodScope {
  pod: Pod;
  volumeNames: Set<string>;
  /** the names of the image volumes */
  imageVolumes: Set<string>;
  containerNames: Set<string>;
  /** "port/protocol" → path of the first container port using it */
  ports: Map<string, string>;
  /** "protocol/hostIP/hostPort" of the host ports asked for, as the API server keys them */
  hostPorts: Set<string>;
}

function validateContainer(c: Container, path: string, init: boolean, scope: PodScope, add: Add): void {
  const spec = scope.pod.spec;
  if (c.name === undefined || c.name === "") add(`${path}.name`, required());
  else {
    for (const e of isDns1123Label(c.name)) add(`${path}.name`, invalid(c.name, e));
    if (scope.containerNames.has(c.name)) add(`${path}.name`, duplicate(c.name));
    scope.containerNames.add(c.name);
  }
  if (c.image === undefined || c.image === "") add(`${path}.image`, required());
  else if (c.image.trim() !== c.image) add(`${path}.image`, invalid(c.image, "must not have leading or trailing whitespace"));
  // A process's arguments, environment and directory are C strings: a NUL could never reach it.
  const nul = (v: string | undefined, at: string) => {
    if (v?.includes("\0")) add(at, invalid(v, "must not contain a NUL character"));
  };
  (c.command ?? []).forEach((v, i) => nul(v, `${path}.command[${i}]`));
  (c.args ?? []).forEach((v, i) => nul(v, `${path}.args[${i}]`));
  (c.env ?? []).forEach((e, i) => nul(e.value, `${path}.env[${i}].value`));
  nul(c.workingDir, `${path}.workingDir`);
  if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy)) {
    add(`${path}.imagePullPolicy`, unsupported(c.imagePullPolicy, PULL_POLICIES));
  }
  if (c.terminationMessagePolicy !== undefined && !TERMINATION_MESSAGE_POLICIES.includes(c.terminationMessagePolicy)) {
    add(`${path}.terminationMessagePolicy`, unsupported(c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES));
  }
  if (c.terminationMessagePath !== undefined && !c.terminationMessagePath.startsWith("/")) {
    add(`${path}.terminationMessagePath`, invalid(c.terminationMessagePath, "must be an absolute path"));
  }
  if (c.workingDir !== undefined && c.workingDir !== "" && !c.workingDir.startsWith("/")) {
    add(`${path}.workingDir`, invalid(c.workingDir, "must be an absolute path"));
  }

  // restartPolicy Always makes an init container a sidecar. Since Kubernetes v1.34 any container
  // may set its own policy; podd refuses that as not supported yet (unsupported.ts).
  const sidecar = init && c.restartPolicy === "Always";
  if (c.restartPolicy !== undefined && !CONTAINER_RESTART_POLICIES.includes(c.restartPolicy)) {
    add(`${path}.restartPolicy`, unsupported(c.restartPolicy, CONTAINER_RESTART_POLICIES));
  }
  if (init && !sidecar) {
    for (const f of ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] as const) {
      if (c[f] !== undefined) add(`${path}.${f}`, forbidden("may not be set for init containers without restartPolicy=Always"));
    }
  }

  // Environment.
  (c.env ?? []).forEach((e, i) => {
    const ep = `${path}.env[${i}]`;
    if (e.name === undefined || e.name === "") add(`${ep}.name`, required());
    else for (const m of isEnvVarName(e.name)) add(`${ep}.name`, invalid(e.name, m));
    if (e.valueFrom !== undefined) {
      if (e.value !== undefined && e.value !== "") {
        add(`${ep}.valueFrom`, invalid("", "may not be specified when `value` is not empty"));
      }
      validateEnvSource(e.valueFrom, `${ep}.valueFrom`, c, scope, add);
    }
  });
  (c.envFrom ?? []).forEach((e, i) => {
    const ep = `${path}.envFrom[${i}]`;
    if (e.prefix !== undefined && e.prefix !== "") for (const m of isEnvVarName(e.prefix)) add(`${ep}.prefix`, invalid(e.prefix, m));
    const set = (["configMapRef", "secretRef"] as const).filter((k) => e[k] != null);
    if (set.length === 0) add(ep, invalid("", "must specify one of: `configMapRef` or `secretRef`"));
    if (set.length > 1) add(ep, invalid("", "may not have more than one field specified at a time"));
    for (const k of set) {
      const name = e[k]!.name;
      if (name === undefined || name === "") add(`${ep}.${k}.name`, required());
      else for (const m of isDns1123Subdomain(name)) add(`${ep}.${k}.name`, invalid(name, m));
    }
  });

  // Ports: unique names in the container, unique (port, protocol) in the pod.
  const portNames = new Set<string>();
  (c.ports ?? []).forEach((port, i) => {
    const pp = `${path}.ports[${i}]`;
    if (port.name !== undefined) {
      for (const e of isPortName(port.name)) add(`${pp}.name`, invalid(port.name, e));
      if (portNames.has(port.name)) add(`${pp}.name`, duplicate(port.name));
      portNames.add(port.name);
    }
    if (port.containerPort === undefined) add(`${pp}.containerPort`, required());
    else for (const e of isValidPort(port.containerPort)) add(`${pp}.containerPort`, invalid(port.containerPort, e));
    if (port.hostPort !== undefined) {
      for (const e of isValidPort(port.hostPort)) add(`${pp}.hostPort`, invalid(port.hostPort, e));
      if (spec.hostNetwork === true && port.hostPort !== port.containerPort) {
        add(`${pp}.hostPort`, invalid(port.hostPort, "must match `containerPort` when `hostNetwork` is true"));
      }
      const key = `${port.protocol ?? "TCP"}/${port.hostIP ?? ""}/${port.hostPort}`;
      if (scope.hostPorts.has(key)) add(`${pp}.hostPort`, duplicate(key));
      scope.hostPorts.add(key);
    }
    if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol)) add(`${pp}.protocol`, unsupported(port.protocol, PROTOCOLS));
    if (port.hostIP !== undefined && !isIP(port.hostIP)) add(`${pp}.hostIP`, invalid(port.hostIP, "must be a valid IP address"));
    if (port.containerPort !== undefined) {
      const key = `${port.containerPort}/${port.protocol ?? "TCP"}`;
      if (scope.ports.has(key)) {
        add(`${pp}.containerPort`, invalid(port.containerPort, `${duplicate(key)}: already used by ${scope.ports.get(key)}`));
      } else scope.ports.set(key, pp);
    }
  });

  validateResources(c.resources, `${path}.resources`, add);

  // Mounts: an existing volume, an absolute and unique mount path, a relative subPath.
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const mp = `${path}.volumeMounts[${i}]`;
    if (m.name === undefined || m.name === "") add(`${mp}.name`, required());
    else if (!scope.volumeNames.has(m.name)) add(`${mp}.name`, notFound(m.name));
    if (m.mountPath === undefined || m.mountPath === "") add(`${mp}.mountPath`, required());
    else {
      if (!m.mountPath.startsWith("/")) add(`${mp}.mountPath`, invalid(m.mountPath, "must be an absolute path"));
      const normal = m.mountPath.replace(/\/+$/, "") || "/";
      if (mountPaths.has(normal)) add(`${mp}.mountPath`, invalid(m.mountPath, "must be unique"));
      mountPaths.add(normal);
    }
    if (m.subPath !== undefined && m.subPath !== "") {
      validateRelativePath(m.subPath, `${mp}.subPath`, add);
      // A path inside an image is the image author's: a symlink there could lead out of it.
      if (scope.imageVolumes.has(m.name)) add(`${mp}.subPath`, forbidden("podd does not mount a subPath of an image volume"));
    }
  });

  // Hooks and probes.
  const grace = spec.terminationGracePeriodSeconds;
  for (const hook of ["postStart", "preStop"] as const) {
    const h = c.lifecycle?.[hook];
    if (h) validateHandler(h, `${path}.lifecycle.${hook}`, ["exec", "httpGet", "tcpSocket", "sleep"], add, grace);
  }
  for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
    const probe = c[kind];
    if (probe) validateProbe(probe, `${path}.${kind}`, kind !== "readinessProbe", add);
  }

  const sc = c.securityContext;
  validateSecurityIds(sc, `${path}.securityContext`, add);
  if (sc?.privileged === true && sc.allowPrivilegeEscalation === false) {
    add(`${path}.securityContext.allowPrivilegeEscalation`, invalid(false, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
  }
  validateCapabilities(sc, `${path}.securityContext`, add);
  validateSeccompProfile(sc?.seccompProfile, `${path}.securityContext.seccompProfile`, add);
  validateSeccompProfile(sc?.appArmorProfile, `${path}.securityContext.appArmorProfile`, add, "AppArmor");
  if (sc?.procMount !== undefined && !["Default", "Unmasked"].includes(sc.procMount)) {
    add(`${path}.securityContext.procMount`, unsupported(sc.procMount, ["Default", "Unmasked"]));
  }
}

function validateCapabilities(sc: Container["securityContext"], path: string, add: Add): void {
  for (const kind of ["add", "drop"] as const) {
    (sc?.capabilities?.[kind] ?? []).forEach((name, i) => {
      // The API server takes any string and the runtime fails the start on a name it does
      // not know; podd says so before anything runs.
      if (name.toUpperCase() !== "ALL" && capabilityName(name) === undefined) {
        add(`${path}.capabilities.${kind}[${i}]`, invalid(name, "not a Linux capability (see capabilities(7); write NET_ADMIN for CAP_NET_ADMIN, or ALL)"));
      }
    });
  }
  // no_new_privs would take from CAP_SYS_ADMIN what it promises, as the API server reasons.
  if (sc?.allowPrivilegeEscalation === false && (sc.capabilities?.add ?? []).some((n) => capabilityName(n) === "SYS_ADMIN")) {
    add(`${path}.allowPrivilegeEscalation`, invalid(false, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
  }
}

/**
 * The deprecated AppArmor annotations, as the API server checks them on create: each names a
 * container of the pod and a profile ("runtime/default", "unconfined", "localhost/NAME"), and
 * says what the container's field (else the pod's) says, where one is set.
 */
function validateAppArmorAnnotations(pod: Pod, add: Add): void {
  const annotations = pod.metadata?.annotations ?? {};
  const containers = [...(pod.spec.initContainers ?? []).map((c, i) => ({ c, path: `spec.initContainers[${i}]` })), ...(pod.spec.containers ?? []).map((c, i) => ({ c, path: `spec.containers[${i}]` }))];
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(APPARMOR_ANNOTATION_PREFIX)) continue;
    const at = childPath("metadata.annotations", key);
    const name = key.slice(APPARMOR_ANNOTATION_PREFIX.length);
    const found = containers.find((x) => x.c.name === name);
    if (!found) add(at, invalid(name, "container not found"), { atKey: true });
    if (value !== "" && value !== "runtime/default" && value !== "unconfined" && !value.startsWith("localhost/")) add(at, invalid(value, `invalid AppArmor profile name: ${JSON.stringify(value)}`));
    else if (value === "localhost/") add(at, invalid(value, "a profile name is required after localhost/"));
    // localhost/NAME: the name as the field's would be checked.
    else if (value.startsWith("localhost/")) for (const e of appArmorNameErrors(value.slice("localhost/".length))) add(at, e);
    const field = found?.c.securityContext?.appArmorProfile ?? pod.spec.securityContext?.appArmorProfile;
    if (!found || !field) continue;
    const asked = appArmorFromAnnotation(value);
    const path = `${found.path}.securityContext.appArmorProfile`;
    if (asked?.type !== field.type) add(`${path}.type`, forbidden("apparmor type in annotation and field must match"), { at });
    else if (asked.localhostProfile !== field.localhostProfile) add(`${path}.localhostProfile`, forbidden("apparmor profile in annotation and field must match"), { at });
  }
}

const PROFILE_TYPES = ["Localhost", "RuntimeDefault", "Unconfined"];

/** seccompProfile and appArmorProfile: the same shape and the same rules in the API server. */
function validateSeccompProfile(p: { type?: string; localhostProfile?: string } | undefined, path: string, add: Add, kind = "seccomp"): void {
  if (!p) return;
  if (p.type === undefined) add(`${path}.type`, required());
  else if (!PROFILE_TYPES.includes(p.type)) add(`${path}.type`, unsupported(p.type, PROFILE_TYPES));
  if (p.type === "Localhost") {
    if (p.localhostProfile === undefined) add(`${path}.localhostProfile`, required(`must be set when ${kind} type is Localhost`));
    else if (kind === "AppArmor") for (const e of appArmorNameErrors(p.localhostProfile)) add(`${path}.localhostProfile`, e);
    else for (const e of descendingPathErrors(p.localhostProfile)) add(`${path}.localhostProfile`, invalid(p.localhostProfile, e));
  } else if (p.localhostProfile !== undefined) {
    add(`${path}.localhostProfile`, invalid(p.localhostProfile, `can only be set when ${kind} type is Localhost`));
  }
}

/** PATH_MAX - 1, as the API server bounds an AppArmor profile's name. */
const MAX_APPARMOR_NAME = 4095;

/** The API server's rule for an AppArmor profile's name: any name the kernel may have loaded, not padded, not too long. */
function appArmorNameErrors(name: string): string[] {
  if (name.trim() !== name) return [invalid(name, "must not be padded with whitespace")];
  if (name === "") return [required()];
  if (name.length > MAX_APPARMOR_NAME) return [`Too long: may not be more than ${MAX_APPARMOR_NAME} bytes`];
  return [];
}

/** The API server's rule for a path that must stay below a base directory. */
function descendingPathErrors(p: string): string[] {
  const errs: string[] = [];
  if (p === "") errs.push("must not be empty");
  if (p.startsWith("/")) errs.push("must be a relative path");
  if (p.split("/").includes("..")) errs.push("must not contain '..'");
  return errs;
}

function validateEnvSource(src: NonNullable<Container["env"]>[number]["valueFrom"] & object, path: string, c: Container, scope: PodScope, add: Add): void {
  const set = (["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"] as const).filter((k) => (src as Record<string, unknown>)[k] != null);
  if (set.length === 0) {
    add(path, invalid("", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"));
    return;
  }
  if (set.length > 1) add(path, invalid("", "may not have more than one field specified at a time"));
  const f = src.fieldRef;
  if (f) {
    if (f.apiVersion !== undefined && f.apiVersion !== "v1") add(`${path}.fieldRef.apiVersion`, unsupported(f.apiVersion, ["v1"]));
    if (f.fieldPath === undefined || f.fieldPath === "") add(`${path}.fieldRef.fieldPath`, required());
    else {
      const m = /^(metadata\.(?:labels|annotations))\['([^']*)'\]$/.exec(f.fieldPath);
      if (m) {
        for (const e of isQualifiedName(m[2]!)) add(`${path}.fieldRef.fieldPath`, invalid(f.fieldPath, e));
      } else if (f.fieldPath === "metadata.labels" || f.fieldPath === "metadata.annotations" || !FIELD_REF_PATHS.includes(f.fieldPath)) {
        add(`${path}.fieldRef.fieldPath`, unsupported(f.fieldPath, FIELD_REF_PATHS.filter((x) => x !== "metadata.labels" && x !== "metadata.annotations")));
      }
    }
  }
  const r = src.resourceFieldRef;
  if (r) {
    const rp = `${path}.resourceFieldRef`;
    if (r.resource === undefined || r.resource === "") add(`${rp}.resource`, required());
    else if (OTHER_RESOURCE_FIELD_REF.test(r.resource)) {
      // refused by name in unsupported.ts
    } else if (!RESOURCE_FIELD_REFS.includes(r.resource)) add(`${rp}.resource`, unsupported(r.resource, RESOURCE_FIELD_REFS));
    else if (r.divisor !== undefined) {
      const allowed = r.resource.endsWith(".cpu") ? CPU_DIVISORS : MEMORY_DIVISORS;
      if (!allowed.includes(r.divisor)) add(`${rp}.divisor`, unsupported(r.divisor, allowed));
    }
    if (r.containerName !== undefined && r.containerName !== c.name) {
      const names = [...(scope.pod.spec.initContainers ?? []), ...(scope.pod.spec.containers ?? [])].map((x) => x.name);
      if (!names.includes(r.containerName)) add(`${rp}.containerName`, notFound(r.containerName));
    }
  }
  for (const k of ["configMapKeyRef", "secretKeyRef"] as const) {
    const ref = src[k];
    if (!ref) continue;
    if (ref.name === undefined || ref.name === "") add(`${path}.${k}.name`, required());
    if (ref.key === undefined || ref.key === "") add(`${path}.${k}.key`, required());
    else for (const m of isConfigMapKey(ref.key)) add(`${path}.${k}.key`, invalid(ref.key, m));
  }
}

function validateHandler(h: LifecycleHandler | Probe, path: string, kinds: readonly string[], add: Add, grace?: number): void {
  const set = kinds.filter((k) => (h as Record<string, unknown>)[k] !== undefined);
  if (set.length === 0) add(path, required(`must specify a handler type (one of ${kinds.map((k) => `\`${k}\``).join(", ")})`));
  if (set.length > 1) add(`${path}.${set[1]}`, forbidden("may not specify more than 1 handler type"), { atKey: true });
  if (h.exec && (h.exec.command === undefined || h.exec.command.length === 0)) add(`${path}.exec.command`, required());
  if (h.httpGet) {
    validatePortRef(h.httpGet.port, `${path}.httpGet.port`, add);
    if (h.httpGet.scheme !== undefined && !HTTP_SCHEMES.includes(h.httpGet.scheme)) add(`${path}.httpGet.scheme`, unsupported(h.httpGet.scheme, HTTP_SCHEMES));
    (h.httpGet.httpHeaders ?? []).forEach((hd, i) => {
      if (!hd.name) add(`${path}.httpGet.httpHeaders[${i}].name`, required());
    });
  }
  if (h.tcpSocket) validatePortRef(h.tcpSocket.port, `${path}.tcpSocket.port`, add);
  if ("grpc" in h && h.grpc) {
    if (h.grpc.port === undefined) add(`${path}.grpc.port`, required());
    else for (const e of isValidPort(h.grpc.port)) add(`${path}.grpc.port`, invalid(h.grpc.port, e));
  }
  if ("sleep" in h && h.sleep) {
    const s = h.sleep.seconds;
    if (s === undefined) add(`${path}.sleep.seconds`, required());
    else if (s < 0 || (grace !== undefined && s > grace)) {
      add(`${path}.sleep.seconds`, invalid(s, `must be between 0 and terminationGracePeriodSeconds (${grace ?? "unset"})`));
    }
  }
}

function validatePortRef(port: number | string | undefined, path: string, add: Add): void {
  if (port === undefined) add(path, required());
  else if (typeof port === "number") for (const e of isValidPort(port)) add(path, invalid(port, e));
  else for (const e of isPortName(port)) add(path, invalid(port, e));
}

function validateProbe(probe: Probe, path: string, successMustBeOne: boolean, add: Add): void {
  validateHandler(probe, path, ["exec", "httpGet", "tcpSocket", "grpc"], add);
  for (const f of ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] as const) {
    const v = probe[f];
    if (v !== undefined && v < 0) add(`${path}.${f}`, invalid(v, "must be greater than or equal to 0"));
  }
  const tg = probe.terminationGracePeriodSeconds;
  if (tg !== undefined && tg <= 0) add(`${path}.terminationGracePeriodSeconds`, invalid(tg, "must be greater than 0"));
  if (successMustBeOne && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    add(`${path}.successThreshold`, invalid(probe.successThreshold, "must be 1"));
  }
}

