// Kubernetes API status types, in exactly the JSON shape `kubectl get pod -o json` prints
// (k8s.io/api/core/v1 PodStatus, ContainerStatus, ContainerState, PodCondition), plus the
// timestamp and duration formatting the kubelet and kubectl use. Types and formatting only:
// deriving a status from what runs lives in pod-status.ts.
//
// Optional fields are the ones the API marks omitempty: they are absent from the JSON, never
// present with an empty value, so a status written by podd reads the same as one from a node.

/** RFC 3339 in seconds precision, UTC, as metav1.Time marshals: "2026-11-22T04:45:19Z". */
export type Timestamp = string;

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export type ConditionStatus = "True" | "False" | "Unknown";

/** The condition types the kubelet owns, in the order it appends them to a status. */
export type PodConditionType =
  | "PodReadyToStartContainers"
  | "Initialized"
  | "Ready"
  | "ContainersReady"
  | "PodScheduled";

export interface PodCondition {
  type: PodConditionType;
  status: ConditionStatus;
  /** Always null: the kubelet never sets it, and the API prints the null. */
  lastProbeTime: null;
  lastTransitionTime: Timestamp;
  reason?: string;
  message?: string;
}

export interface ContainerStateWaiting {
  reason: string;
  message?: string;
}

export interface ContainerStateRunning {
  startedAt: Timestamp;
}

export interface ContainerStateTerminated {
  exitCode: number;
  /** Never set by the kubelet (CRI does not report it); kept for kubectl's Signal:N column. */
  signal?: number;
  reason: string;
  message?: string;
  startedAt: Timestamp;
  finishedAt: Timestamp;
  containerID?: string;
}

/** At most one member is set; `{}` is a valid lastState ("no previous instance"). */
export interface ContainerState {
  waiting?: ContainerStateWaiting;
  running?: ContainerStateRunning;
  terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started: boolean;
}

export interface PodIP {
  ip: string;
}

export type PodQOSClass = "Guaranteed" | "Burstable" | "BestEffort";

export interface PodStatus {
  phase: PodPhase;
  conditions: PodCondition[];
  message?: string;
  reason?: string;
  hostIP?: string;
  hostIPs?: PodIP[];
  podIP?: string;
  podIPs?: PodIP[];
  startTime?: Timestamp;
  /** Absent when the spec has no init containers, as the API omits an empty list. */
  initContainerStatuses?: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  qosClass: PodQOSClass;
}

// Container state reasons the kubelet and CRI runtimes write; kubectl's STATUS column shows them.
export const Reason = {
  ContainerCreating: "ContainerCreating",
  PodInitializing: "PodInitializing",
  CrashLoopBackOff: "CrashLoopBackOff",
  Completed: "Completed",
  Error: "Error",
  OOMKilled: "OOMKilled",
  /** containerd's reason when the process could not be started (exec failed); exit code 128. */
  StartError: "StartError",
  DeadlineExceeded: "DeadlineExceeded",
} as const;

/** The reason a CRI runtime gives a terminated container: OOMKilled, Completed or Error. */
export function terminatedReason(exitCode: number, oomKilled = false): string {
  if (oomKilled) return Reason.OOMKilled;
  return exitCode === 0 ? Reason.Completed : Reason.Error;
}

/**
 * Milliseconds since the epoch → RFC 3339 at seconds precision. metav1.Time drops the fraction
 * (it formats with time.RFC3339), so this floors rather than rounds: a container that started at
 * .999 did not start in the next second.
 */
export function rfc3339(ms: number): Timestamp {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses a Timestamp back to milliseconds; NaN when it is not one. */
export function parseTimestamp(t: Timestamp): number {
  return Date.parse(t);
}

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;

/**
 * A duration in milliseconds as Go's time.Duration.String() prints it: "0s", "100ms", "1.5s",
 * "10s", "1m20s", "5m0s", "1h0m0s". Used in the CrashLoopBackOff message, which the kubelet
 * formats with %s of a Duration. Sub-millisecond precision is rounded away (podd's clock is ms).
 */
export function goDuration(ms: number): string {
  let d = Math.round(ms);
  if (d === 0) return "0s";
  const sign = d < 0 ? "-" : "";
  d = Math.abs(d);
  if (d < MS_PER_SECOND) return `${sign}${d}ms`;
  const h = Math.floor(d / MS_PER_HOUR);
  const m = Math.floor((d % MS_PER_HOUR) / MS_PER_MINUTE);
  const restMs = d % MS_PER_MINUTE;
  const whole = Math.floor(restMs / MS_PER_SECOND);
  const frac = restMs % MS_PER_SECOND;
  const seconds = frac === 0 ? `${whole}` : `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
  if (h > 0) return `${sign}${h}h${m}m${seconds}s`;
  if (m > 0) return `${sign}${m}m${seconds}s`;
  return `${sign}${seconds}s`;
}
