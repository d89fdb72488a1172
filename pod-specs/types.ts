// The Pod as podd reads it: Kubernetes core/v1 field names and shapes, so that a Pod prints as
// JSON exactly like `kubectl get pod -o json`. Only the fields podd runs (or recognises in order
// to refuse them by name, see unsupported.ts: those never reach a Pod) are typed; quantities stay strings in their
// canonical form, as the API server stores them.

import type { Affinity, Toleration, TopologySpreadConstraint } from "./scheduling.ts";

export interface Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: Record<string, unknown>;
}

export interface ObjectMeta {
  name: string;
  /** refused (podd needs a fixed name); typed so the refusal can say why */
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** kubectl writes `creationTimestamp: null`; the runtime sets it */
  creationTimestamp?: string | null;
}

export type RestartPolicy = "Always" | "OnFailure" | "Never";
export type DNSPolicy = "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None";

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  dnsPolicy?: DNSPolicy;
  dnsConfig?: PodDNSConfig;
  hostname?: string;
  subdomain?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  shareProcessNamespace?: boolean;
  securityContext?: PodSecurityContext;
  resources?: ResourceRequirements;
  hostAliases?: HostAlias[];
  // Accepted only with the values that need nothing from podd (see unsupported.ts).
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  serviceAccount?: string;
  schedulerName?: string;
  setHostnameAsFQDN?: boolean;
  hostUsers?: boolean;
  os?: { name: string };
  /** Secrets of type kubernetes.io/dockerconfigjson or dockercfg with the credentials of the pod's pulls */
  imagePullSecrets?: { name?: string }[];
  // Scheduling, evaluated against podd's one node at admission (pod-specs/scheduling.ts).
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  priorityClassName?: string;
  priority?: number;
  preemptionPolicy?: "Never" | "PreemptLowerPriority";
}

export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: { name?: string; value?: string }[];
}

export interface HostAlias {
  ip: string;
  hostnames?: string[];
}

export type PullPolicy = "Always" | "IfNotPresent" | "Never";
export type TerminationMessagePolicy = "File" | "FallbackToLogsOnError";

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: PullPolicy;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: ContainerPort[];
  resources?: ResourceRequirements;
  volumeMounts?: VolumeMount[];
  lifecycle?: Lifecycle;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  terminationMessagePath?: string;
  terminationMessagePolicy?: TerminationMessagePolicy;
  /** Only on init containers, and only "Always": a sidecar that runs beside the app containers. */
  restartPolicy?: "Always";
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
}

export interface EnvVarSource {
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  configMapKeyRef?: KeySelector;
  secretKeyRef?: KeySelector;
}

export interface ObjectFieldSelector {
  apiVersion?: string;
  fieldPath: string;
}

export interface ResourceFieldSelector {
  containerName?: string;
  resource: string;
  divisor?: string;
}

export interface KeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
  hostPort?: number;
  hostIP?: string;
}

/** Resource name → quantity text, e.g. { cpu: "500m", memory: "128Mi" }. */
export type ResourceList = Record<string, string>;

export interface ResourceRequirements {
  limits?: ResourceList;
  requests?: ResourceList;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  /** only "None" (the default) is accepted */
  mountPropagation?: string;
  /** only "Disabled" (the default) is accepted */
  recursiveReadOnly?: string;
}

export interface Lifecycle {
  postStart?: LifecycleHandler;
  preStop?: LifecycleHandler;
}

export interface ExecAction {
  command?: string[];
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: "HTTP" | "HTTPS";
  httpHeaders?: HTTPHeader[];
}

export interface TCPSocketAction {
  port: number | string;
  host?: string;
}

export interface GRPCAction {
  port: number;
  service?: string;
}

export interface LifecycleHandler {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  sleep?: { seconds: number };
}

export interface Probe {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  grpc?: GRPCAction;
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  seccompProfile?: SeccompProfile;
  /** RuntimeDefault (podd's profile), Localhost or Unconfined, where the host has AppArmor */
  appArmorProfile?: SeccompProfile;
  procMount?: string;
}

/** Capability names as Kubernetes writes them (NET_ADMIN; CAP_NET_ADMIN is taken too), or ALL. */
export interface Capabilities {
  add?: string[];
  drop?: string[];
}

export interface SeccompProfile {
  type: "Unconfined" | "RuntimeDefault" | "Localhost" | string;
  /** Localhost: a file under the daemon's seccomp directory, a descending relative path */
  localhostProfile?: string;
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  seccompProfile?: SeccompProfile;
  /** RuntimeDefault (podd's profile), Localhost or Unconfined, where the host has AppArmor */
  appArmorProfile?: SeccompProfile;
  /** a group every container has, which owns the pod's emptyDir volumes */
  fsGroup?: number;
  /** accepted; the kubelet's emptyDir ignores it, and podd has no other volume it applies to */
  fsGroupChangePolicy?: FSGroupChangePolicy;
  supplementalGroups?: number[];
  /** Merge (unset): also the groups the image's /etc/group gives the user; Strict: only the pod's */
  supplementalGroupsPolicy?: SupplementalGroupsPolicy;
  /** set in the pod's own network and IPC namespaces when its sandbox is made */
  sysctls?: Sysctl[];
}

export type FSGroupChangePolicy = "Always" | "OnRootMismatch";
export type SupplementalGroupsPolicy = "Merge" | "Strict";

export interface Sysctl {
  name: string;
  value: string;
}

export type HostPathType =
  | ""
  | "DirectoryOrCreate"
  | "Directory"
  | "FileOrCreate"
  | "File"
  | "Socket"
  | "CharDevice"
  | "BlockDevice";

export interface Volume {
  name: string;
  emptyDir?: { medium?: "" | "Memory"; sizeLimit?: string };
  hostPath?: { path: string; type?: HostPathType };
  configMap?: ConfigMapProjection & { defaultMode?: number };
  secret?: { secretName?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  downwardAPI?: { items?: DownwardAPIVolumeFile[]; defaultMode?: number };
  projected?: { sources?: VolumeProjection[]; defaultMode?: number };
  persistentVolumeClaim?: { claimName?: string; readOnly?: boolean };
  /** an OCI image mounted read-only (Kubernetes' image volume) */
  image?: { reference?: string; pullPolicy?: PullPolicy };
}

export interface ConfigMapProjection {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
}

export interface DownwardAPIVolumeFile {
  path: string;
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  mode?: number;
}

/** One source of a projected volume; serviceAccountToken and the others are refused by name. */
export interface VolumeProjection {
  configMap?: ConfigMapProjection;
  secret?: ConfigMapProjection;
  downwardAPI?: { items?: DownwardAPIVolumeFile[] };
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** A problem found in a manifest, located in its source text. */
export interface Diagnostic {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based, in characters */
  col: number;
  /** field path in Kubernetes notation, e.g. spec.containers[1].resources.limits.memory */
  path: string;
  message: string;
}
