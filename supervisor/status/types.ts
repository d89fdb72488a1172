// Kubernetes API status types, in exactly the JSON shape `kubectl get pod -o json` prints
// (k8s.io/api/core/v1 PodStatus, ContainerStatus, ContainerState, PodCondition), plus the
// Timestamp type the kubelet writes (formatted in time.ts). Types only: deriving a status from
// what runs lives in status/pod-status.ts.
//
// Optional fields are the ones the API marks omitempty: they are absent from the JSON, never
// present with an empty value, so a status written by podd reads the same as one from a node.

import type { Timestamp } from "../base/time.ts";

export type { Timestamp };

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
  /** The identity its command was started with (Kubernetes v1.31+), once it was created. */
  user?: ContainerUser;
}

export interface ContainerUser {
  linux: { uid: number; gid: number; supplementalGroups?: number[] };
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

