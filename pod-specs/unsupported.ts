// THE list of Pod fields podd recognises but does not carry out yet. A field here is refused
// with `<path>: not supported yet by podd` instead of being accepted and then silently not done:
// a pod that asks for a liveness probe and gets none would look healthy while it hangs.
// Later work shrinks this table as the runtime learns each feature; nothing else needs to change.
//
// `path` uses [*] for any list index and covers both containers and initContainers through
// forContainers(). `when` says which values are refused (default: any value that is set);
// `hint` is added to the message.

export interface NotSupportedYet {
  path: string;
  when?: (value: unknown, parent: Record<string, unknown>, pod: Record<string, unknown>) => boolean;
  hint?: string;
}

const isTrue = (v: unknown): boolean => v === true;
const isFalse = (v: unknown): boolean => v === false;

function forContainers(field: string, when?: NotSupportedYet["when"], hint?: string): NotSupportedYet[] {
  return ["spec.containers[*].", "spec.initContainers[*]."].map((prefix) => ({
    path: prefix + field,
    ...(when ? { when } : {}),
    ...(hint ? { hint } : {}),
  }));
}

const UNSUPPORTED_VOLUME_SOURCES = [
  "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "downwardAPI", "ephemeral",
  "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "image", "iscsi", "nfs",
  "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd",
  "scaleIO", "storageos", "vsphereVolume",
];

// Scheduling and cluster features have nothing to act on a single machine without a scheduler,
// service accounts or a cluster DNS; they are refused rather than ignored so nobody relies on them.
const SCHEDULING_HINT = "podd runs every pod on this machine; remove it";

export const NOT_SUPPORTED_YET: readonly NotSupportedYet[] = [
  { path: "metadata.generateName", hint: "set metadata.name instead" },

  // probes
  ...forContainers("livenessProbe"),
  ...forContainers("readinessProbe"),
  ...forContainers("startupProbe"),

  // configuration sources podd has no store for yet
  ...forContainers("envFrom"),
  ...forContainers("env[*].valueFrom.configMapKeyRef"),
  ...forContainers("env[*].valueFrom.secretKeyRef"),
  ...forContainers("env[*].valueFrom.fileKeyRef"),
  { path: "spec.volumes[*].configMap" },
  { path: "spec.volumes[*].secret" },
  ...UNSUPPORTED_VOLUME_SOURCES.map((s) => ({ path: `spec.volumes[*].${s}` })),
  // A memory-backed emptyDir is a tmpfs of that size; on disk podd has nothing to enforce it with.
  {
    path: "spec.volumes[*].emptyDir.sizeLimit",
    when: (_v, parent) => parent.medium !== "Memory",
    hint: "podd limits only medium: Memory emptyDirs (a tmpfs of that size); remove sizeLimit or set medium: Memory",
  },

  // terminals and stdin
  ...forContainers("stdin", isTrue),
  ...forContainers("stdinOnce", isTrue),
  ...forContainers("tty", isTrue),

  // namespaces
  { path: "spec.hostPID", when: isTrue },
  { path: "spec.shareProcessNamespace", when: isTrue },
  { path: "spec.hostUsers", when: isFalse },

  // ports: publishing a container port on the host needs port forwarding podd does not do.
  // With hostNetwork the container already listens on the host, so hostPort == containerPort
  // (what the API server itself fills in) is simply true.
  ...forContainers("ports[*].hostPort", (v, port, pod) => !(v === port.containerPort && (pod.spec as { hostNetwork?: unknown } | undefined)?.hostNetwork === true)),
  ...forContainers("ports[*].hostIP"),

  // container security
  ...forContainers("securityContext.privileged", isTrue),
  ...["capabilities", "seLinuxOptions", "seccompProfile", "appArmorProfile", "procMount", "windowsOptions"].flatMap((f) =>
    forContainers(`securityContext.${f}`),
  ),
  // pod security
  ...[
    "fsGroup", "fsGroupChangePolicy", "supplementalGroups", "supplementalGroupsPolicy", "sysctls", "seLinuxOptions",
    "seLinuxChangePolicy", "seccompProfile", "appArmorProfile", "windowsOptions",
  ].map((f) => ({ path: `spec.securityContext.${f}` })),

  // lifecycle: tcpSocket hooks are accepted by Kubernetes but never run there either
  ...forContainers("lifecycle.postStart.tcpSocket"),
  ...forContainers("lifecycle.preStop.tcpSocket"),
  ...forContainers("lifecycle.stopSignal"),

  // mounts
  ...forContainers("volumeMounts[*].subPathExpr"),
  ...forContainers("volumeMounts[*].mountPropagation", (v) => v !== "None"),
  ...forContainers("volumeMounts[*].recursiveReadOnly", (v) => v !== "Disabled"),
  ...forContainers("volumeDevices"),
  ...forContainers("resizePolicy"),
  ...forContainers("restartPolicyRules"),

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
  { path: "spec.dnsConfig" },
  { path: "spec.setHostnameAsFQDN", when: isTrue },
  { path: "spec.hostnameOverride" },
  { path: "spec.readinessGates" },
  { path: "spec.runtimeClassName" },
  { path: "spec.overhead" },
  { path: "spec.resourceClaims" },
  { path: "spec.imagePullSecrets", hint: "podd runs images loaded with podd image load" },
  { path: "spec.automountServiceAccountToken", when: isTrue, hint: "podd has no service accounts" },
  { path: "spec.serviceAccountName", when: (v) => v !== "default", hint: "podd has no service accounts" },
  { path: "spec.serviceAccount", when: (v) => v !== "default", hint: "podd has no service accounts" },
  { path: "spec.os", when: (v) => (v as { name?: unknown }).name !== "linux" },
  { path: "spec.schedulerName", when: (v) => v !== "default-scheduler", hint: SCHEDULING_HINT },
  ...[
    "nodeSelector", "nodeName", "affinity", "tolerations", "priorityClassName", "priority", "preemptionPolicy",
    "topologySpreadConstraints", "schedulingGates",
  ].map((f) => ({ path: `spec.${f}`, hint: SCHEDULING_HINT })),
];

const byPath = new Map<string, NotSupportedYet[]>();
for (const entry of NOT_SUPPORTED_YET) {
  const list = byPath.get(entry.path) ?? [];
  list.push(entry);
  byPath.set(entry.path, list);
}

/** Turns a concrete path (items[3].spec.containers[1].tty) into a table path (spec.containers[*].tty). */
export function tablePath(path: string): string {
  return path.replace(/^items\[\d+\]\./, "").replace(/\[\d+\]/g, "[*]");
}

export interface NotSupportedFinding {
  /** concrete path relative to the pod, e.g. spec.containers[1].tty */
  path: string;
  message: string;
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
        out.push({ path, message: `not supported yet by podd${e.hint ? `; ${e.hint}` : ""}` });
        return;
      }
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, parent));
    } else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, path === "" ? k : `${path}.${k}`, value as Record<string, unknown>);
    }
  };
  walk(pod, "", pod);
  return out;
}
