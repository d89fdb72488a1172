// THE list of Pod fields podd recognises but does not carry out yet. A field here is refused
// with `<path>: not supported yet by podd` instead of being accepted and then silently not done:
// a pod that asks for a liveness probe and gets none would look healthy while it hangs.
// Later work shrinks this table as the runtime learns each feature; nothing else needs to change.
//
// `path` uses [*] for any list index and covers both containers and initContainers through
// forContainers(). `when` says which values are refused (default: any value that is set);
// `hint` is added to the message.

import { childPath } from "./schema.ts";

export interface NotSupportedYet {
  path: string;
  when?: (value: unknown, parent: Record<string, unknown>, pod: Record<string, unknown>) => boolean;
  hint?: string;
}

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const isTrue = (v: unknown): boolean => v === true;

function forContainers(field: string, when?: NotSupportedYet["when"], hint?: string): NotSupportedYet[] {
  return ["spec.containers[*].", "spec.initContainers[*]."].map((prefix) => ({
    path: prefix + field,
    ...(when ? { when } : {}),
    ...(hint ? { hint } : {}),
  }));
}

const UNSUPPORTED_VOLUME_SOURCES = [
  "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "ephemeral",
  "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "iscsi", "nfs",
  "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
];

// The API server fills these in; they appear in `kubectl get -o yaml` output, not in manifests.
const SERVER_SET_HINT = "the API server sets it; remove it from the manifest";
const TERMINAL_HINT = "podd attaches no terminal or stdin to a container yet; remove it";
const SELINUX_HINT = "podd applies no SELinux labels yet; remove it";
const WINDOWS_HINT = "podd runs Linux containers only; remove it";

export const NOT_SUPPORTED_YET: readonly NotSupportedYet[] = [
  { path: "metadata.generateName", hint: "set metadata.name instead" },
  ...["selfLink", "resourceVersion", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"].map((f) => ({
    path: `metadata.${f}`,
    hint: SERVER_SET_HINT,
  })),
  { path: "metadata.ownerReferences", hint: "podd deletes a pod only when asked to; remove it" },
  { path: "metadata.finalizers", hint: "podd deletes a pod only when asked to; remove it" },

  // probes: gRPC over TLS (merged for v1.38) and HTTP/2 GETs need clients podd does not have
  ...["livenessProbe", "readinessProbe", "startupProbe"].flatMap((probe) => [
    ...forContainers(`${probe}.grpc.mode`, (v) => v !== "Plaintext", "podd's gRPC probes speak plaintext HTTP/2 only"),
    ...forContainers(`${probe}.httpGet.protocol`, (v) => v !== "HTTP1"),
  ]),

  ...forContainers("env[*].valueFrom.fileKeyRef", undefined, "podd reads no variables from files yet; set env values instead"),
  ...forContainers("env[*].valueFrom.resourceFieldRef.resource", (v) => typeof v === "string" && /^(limits|requests)\.(ephemeral-storage$|hugepages-)/.test(v), "podd limits cpu and memory only"),
  ...UNSUPPORTED_VOLUME_SOURCES.map((s) => ({ path: `spec.volumes[*].${s}` })),
  { path: "spec.volumes[*].projected.sources[*].serviceAccountToken", hint: "podd has no service accounts to make tokens for" },
  { path: "spec.volumes[*].projected.sources[*].clusterTrustBundle", hint: "podd has no ClusterTrustBundles; put the certificates in a ConfigMap and project that" },
  { path: "spec.volumes[*].projected.sources[*].podCertificate", hint: "podd issues no pod certificates; put them in a Secret and project that" },
  // user/group of projected files (merged for v1.38) need the volume user fields podd does not carry out
  ...["configMap", "secret", "downwardAPI", "projected"].map((s) => ({ path: `spec.volumes[*].${s}.defaultUser`, hint: "podd sets the files' owner from fsGroup only; remove it" })),
  ...["configMap", "secret"].map((s) => ({ path: `spec.volumes[*].${s}.items[*].user`, hint: "podd sets the files' owner from fsGroup only; remove it" })),
  ...["spec.volumes[*].downwardAPI.items[*].user", ...["configMap", "secret", "downwardAPI"].map((s) => `spec.volumes[*].projected.sources[*].${s}.items[*].user`)].map((path) => ({
    path,
    hint: "podd sets the files' owner from fsGroup only; remove it",
  })),
  { path: "spec.volumes[*].emptyDir.medium", when: (v) => typeof v === "string" && v.startsWith("HugePages"), hint: "podd backs emptyDirs with disk or memory only" },
  { path: "spec.volumes[*].emptyDir.mode", hint: "podd creates emptyDirs with mode 0777; remove it" },
  // A memory-backed emptyDir is a tmpfs of that size; on disk podd has nothing to enforce it with.
  {
    path: "spec.volumes[*].emptyDir.sizeLimit",
    when: (_v, parent) => parent.medium !== "Memory",
    hint: "podd limits only medium: Memory emptyDirs (a tmpfs of that size); remove sizeLimit or set medium: Memory",
  },

  // terminals and stdin
  ...forContainers("stdin", isTrue, TERMINAL_HINT),
  ...forContainers("stdinOnce", isTrue, TERMINAL_HINT),
  ...forContainers("tty", isTrue, TERMINAL_HINT),

  // namespaces
  // A user namespace of its own works for containers of images, whose layers podd idmaps.
  {
    path: "spec.hostUsers",
    when: (v, parent) => v === false && [...((parent.containers as { image?: string }[] | undefined) ?? []), ...((parent.initContainers as { image?: string }[] | undefined) ?? [])].some((c) => c.image === "host"),
    hint: "an image: host container runs on the host's own root, which podd cannot idmap into a pod's user namespace; give it an image, or remove hostUsers",
  },

  // container security
  ...forContainers("securityContext.seLinuxOptions", undefined, SELINUX_HINT),
  ...forContainers("securityContext.windowsOptions", undefined, WINDOWS_HINT),
  // The API server allows Unmasked only with hostUsers: false; podd masks /proc in every container.
  ...forContainers("securityContext.procMount", (v) => v === "Unmasked", "podd masks /proc in every container; remove procMount"),
  // pod security
  ...["seLinuxOptions", "seLinuxChangePolicy"].map((f) => ({ path: `spec.securityContext.${f}`, hint: SELINUX_HINT })),
  { path: "spec.securityContext.windowsOptions", hint: WINDOWS_HINT },

  // lifecycle: tcpSocket hooks are accepted by Kubernetes but never run there either
  ...forContainers("lifecycle.postStart.tcpSocket"),
  ...forContainers("lifecycle.preStop.tcpSocket"),
  // HTTP/2 hooks (merged for v1.38) need a client podd does not have; HTTP1 is what every hook gets.
  ...["postStart", "preStop"].flatMap((hook) => forContainers(`lifecycle.${hook}.httpGet.protocol`, (v) => v !== "HTTP1")),
  ...forContainers("lifecycle.stopSignal"),

  // mounts
  ...forContainers("volumeMounts[*].subPathExpr"),
  ...forContainers("volumeMounts[*].mountPropagation", (v) => v !== "None"),
  ...forContainers("volumeMounts[*].recursiveReadOnly", (v) => v !== "Disabled"),
  ...forContainers("volumeMounts[*].bindMountOptions"),
  ...forContainers("volumeDevices"),
  ...forContainers("resizePolicy"),
  ...forContainers("restartPolicyRules"),
  // A container's own restartPolicy (ContainerRestartRules, Kubernetes v1.34+) overrides the
  // pod's; podd restarts by the pod's policy only. "Always" on an init container makes a
  // sidecar, which podd runs.
  { path: "spec.containers[*].restartPolicy", when: (v) => RESTART_POLICIES.includes(v as string), hint: "set the pod's restartPolicy instead" },
  { path: "spec.initContainers[*].restartPolicy", when: (v) => v === "OnFailure" || v === "Never", hint: "podd runs restartPolicy: Always (sidecar) init containers only" },

  // resources other than cpu and memory
  ...["limits", "requests"].flatMap((kind) =>
    forContainers(`resources.${kind}`, (v) => Object.keys(v as object).some((k) => k !== "cpu" && k !== "memory"), "podd limits cpu and memory only"),
  ),
  ...["limits", "requests"].map((kind) => ({
    path: `spec.resources.${kind}`,
    when: (v: unknown) => Object.keys(v as object).some((k) => k !== "cpu" && k !== "memory"),
    hint: "podd limits cpu and memory only",
  })),
  ...forContainers("resources.claims"),
  { path: "spec.resources.claims" },

  // pod features of a cluster
  { path: "spec.ephemeralContainers" },
  { path: "spec.setHostnameAsFQDN", when: isTrue },
  { path: "spec.hostnameOverride" },
  { path: "spec.readinessGates" },
  { path: "spec.runtimeClassName" },
  { path: "spec.overhead" },
  { path: "spec.resourceClaims" },
  { path: "spec.automountServiceAccountToken", when: isTrue, hint: "podd has no service accounts" },
  { path: "spec.serviceAccountName", when: (v) => v !== "default", hint: "podd has no service accounts" },
  { path: "spec.serviceAccount", when: (v) => v !== "default", hint: "podd has no service accounts" },
  { path: "spec.os", when: (v) => (v as { name?: unknown }).name !== "linux" },
  { path: "spec.schedulerName", when: (v) => v !== "default-scheduler", hint: "podd admits every pod itself, as the default scheduler would on its one node; remove it" },
  { path: "spec.schedulingGates", hint: "podd admits a pod when it is applied; apply it once it may run" },
  { path: "spec.schedulingGroup", hint: "podd admits pods one by one; remove it" },
  { path: "spec.evictionResponders", hint: "podd evicts no pods; remove it" },
];

// The seccomp annotations have done nothing in Kubernetes since v1.27, where the API server warns
// about them; podd warns the same way rather than let them look honoured.
const IGNORED_ANNOTATIONS: ReadonlyArray<{ prefix: string; exact?: boolean }> = [
  { prefix: "seccomp.security.alpha.kubernetes.io/pod", exact: true },
  { prefix: "container.seccomp.security.alpha.kubernetes.io/" },
];
const IGNORED_ANNOTATION_MESSAGE =
  "ignored: the seccomp annotations have no effect since Kubernetes v1.27 and none in podd; use securityContext.seccompProfile";

const ANNOTATION_FIRST_CHARACTERS = new Set(IGNORED_ANNOTATIONS.map((a) => a.prefix.charCodeAt(0)));

// Every refusal says what to do; entries without a hint of their own get the one of their area.
function defaultHint(path: string): string {
  if (/^(items\[\d+\]\.)?spec\.volumes\[\d+\]\.[A-Za-z]+$/.test(path)) {
    return "podd mounts emptyDir, hostPath, image, configMap, secret, downwardAPI, projected and persistentVolumeClaim volumes only";
  }
  return "remove it to run the pod with podd";
}

const byPath = new Map<string, NotSupportedYet[]>();
for (const entry of NOT_SUPPORTED_YET) {
  const list = byPath.get(entry.path) ?? [];
  list.push(entry);
  byPath.set(entry.path, list);
}
// The table paths below which an entry lies ("spec", "spec.containers[*]", …).
const tablePathsWithEntriesBelow = new Set<string>();
for (const entry of NOT_SUPPORTED_YET) {
  for (let i = 0; i < entry.path.length; i++) if (entry.path[i] === "." || entry.path[i] === "[") tablePathsWithEntriesBelow.add(entry.path.slice(0, i));
}

/** Turns a concrete path (items[3].spec.containers[1].tty) into a table path (spec.containers[*].tty). */
export function tablePath(path: string): string {
  return path.replace(/^items\[\d+\]\./, "").replace(/\[\d+\]/g, "[*]");
}

export interface NotSupportedFinding {
  /** concrete path relative to the pod, e.g. spec.containers[1].tty */
  path: string;
  message: string;
  /** a warning rather than an error: the field is accepted, and what it asks for is not done */
  warning?: boolean;
}

/**
 * Every field of a decoded pod that podd cannot honour yet. Runs on the whole decoded pod
 * rather than during decoding so that a rule can look at other fields (hostPort may depend on
 * spec.hostNetwork, which can come later in the text).
 */
export function findNotSupportedYet(pod: Record<string, unknown>): NotSupportedFinding[] {
  const out: NotSupportedFinding[] = [];
  const walk = (value: unknown, path: string, parent: Record<string, unknown>): void => {
    const entries = byPath.get(tablePath(path));
    for (const e of entries ?? []) {
      if (e.when === undefined || e.when(value, parent, pod)) {
        out.push({ path, message: `not supported yet by podd; ${e.hint ?? defaultHint(path)}` });
        return;
      }
    }
    // Nothing in the table lies below here: a large map (annotations, labels) is not walked.
    if (path !== "" && !path.startsWith("items[") && !tablePathsWithEntriesBelow.has(tablePath(path))) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, parent));
    } else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, childPath(path, k), value as Record<string, unknown>);
    }
  };
  walk(pod, "", pod);
  const annotations = (pod.metadata as { annotations?: unknown } | undefined)?.annotations;
  if (annotations !== null && typeof annotations === "object") {
    for (const key of Object.keys(annotations)) {
      // Most keys begin like none of the table's: they cost one look-up.
      if (!ANNOTATION_FIRST_CHARACTERS.has(key.charCodeAt(0))) continue;
      if (IGNORED_ANNOTATIONS.some((a) => (a.exact ? key === a.prefix : key.startsWith(a.prefix)))) {
        out.push({ path: childPath("metadata.annotations", key), message: IGNORED_ANNOTATION_MESSAGE, warning: true });
      }
    }
  }
  return out;
}
