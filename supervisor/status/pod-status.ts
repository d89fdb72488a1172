// The Pod status the kubelet would report, derived from what podd observed: container statuses,
// phase (kubelet getPhase), the kubelet-owned conditions (pkg/kubelet/status generate.go) and the
// QoS class (qos.ts). Pure: `now` is a parameter, the previous status is an input. The columns
// `kubectl get pods` prints from a status are the CLI's (cli/lib/pod-columns.ts).
//
// No probes yet: a running container is started and, unless it is a regular init container,
// ready. A regular init container is ready once it exited 0.

import {
  hasEverRun,
  isAlive,
  type ContainerRecord,
  type ObservedPod,
  type Termination,
} from "../pod/lifecycle.ts";
import { containerRole, podRestartPolicy, type ContainerRole } from "../pod/restart-policy.ts";
import {
  Reason,
  type ConditionStatus,
  type ContainerState,
  type ContainerStatus,
  type PodCondition,
  type PodConditionType,
  type PodIP,
  type PodPhase,
  type PodStatus,
  type Timestamp,
} from "./types.ts";
import { rfc3339 } from "../base/time.ts";
import { qosClass } from "./qos.ts";

// ---- the spec, structurally ------------------------------------------------------------------

export type ResourceList = Readonly<Record<string, string | number>>;

export interface ContainerLike {
  name: string;
  image?: string;
  restartPolicy?: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
}

/** What status derivation needs of a Pod; the pod-specs Pod type satisfies it. */
export interface PodStatusSource {
  spec: {
    containers: ContainerLike[];
    initContainers?: ContainerLike[];
    restartPolicy?: string;
  };
}

// ---- container statuses ----------------------------------------------------------------------

/** The ID format in status, "<runtime>://<id>" as CRI runtimes print it. */
export function containerIDString(id: string | undefined): string | undefined {
  return id === undefined || id === "" ? undefined : `podd://${id}`;
}

function terminatedState(t: Termination, fallbackStartMs: number) {
  const id = containerIDString(t.containerID);
  return {
    exitCode: t.exitCode,
    ...(t.signal !== undefined ? { signal: t.signal } : {}),
    reason: t.reason,
    ...(t.message ? { message: t.message } : {}),
    // A process that never ran (StartError) has no start; the kubelet shows the zero time, we
    // show the failure time, which kubectl renders the same way and is not 1970.
    startedAt: rfc3339(t.startedAtMs ?? fallbackStartMs),
    finishedAt: rfc3339(t.finishedAtMs),
    ...(id ? { containerID: id } : {}),
  };
}

/**
 * One container's API status. `defaultWaitingReason` is what the kubelet shows for a container
 * with no instance yet: PodInitializing in a pod with init containers, else ContainerCreating.
 */
export function containerStatus(
  name: string,
  role: ContainerRole,
  rec: ContainerRecord | undefined,
  image: string,
  defaultWaitingReason: string,
  /** what the container's probes say of its running instance; none: started and ready once running */
  probed?: ProbedState,
): ContainerStatus {
  const r = rec ?? { lifecycle: { state: "Waiting" as const }, restartCount: 0 };
  const l = r.lifecycle;
  let state: ContainerState;
  let ready = false;
  let started = false;
  switch (l.state) {
    case "Waiting":
      state = l.backOff
        ? { waiting: { reason: Reason.CrashLoopBackOff, message: l.backOff.message } }
        : { waiting: { reason: defaultWaitingReason } };
      break;
    case "Starting":
      state = { waiting: { reason: defaultWaitingReason } };
      break;
    case "Running":
    case "Stopping":
      // Stopped in its postStart hook: it never was Running, and is not now.
      if (l.state === "Stopping" && l.fromStarting) {
        state = { waiting: { reason: defaultWaitingReason } };
        break;
      }
      state = { running: { startedAt: rfc3339(l.startedAtMs) } };
      // The startup probe holds `started`, the readiness probe `ready`, as the kubelet's do.
      started = probed?.started ?? true;
      ready = role !== "init" && started && (probed?.ready ?? true);
      break;
    case "Terminated":
      state = { terminated: terminatedState(l.termination, l.termination.finishedAtMs) };
      ready = role === "init" && l.termination.exitCode === 0;
      break;
  }
  const lastState: ContainerState = r.lastTermination
    ? { terminated: terminatedState(r.lastTermination, r.lastTermination.finishedAtMs) }
    : {};
  const id = containerIDString(r.containerID);
  return {
    name,
    state,
    lastState,
    ready,
    restartCount: r.restartCount,
    image,
    imageID: r.imageID ?? "",
    ...(id ? { containerID: id } : {}),
    started,
    ...(r.user ? { user: { linux: { uid: r.user.uid, gid: r.user.gid, supplementalGroups: [...r.user.supplementalGroups] } } } : {}),
  };
}

// ---- phase -----------------------------------------------------------------------------------

function statusOf(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((s) => s.name === name);
}

/**
 * The kubelet's getPhase (kubelet_pods.go, without the alpha ContainerRestartRules gate) over API
 * container statuses. Sidecars count as running while they run but their exits never make a
 * pod Succeeded or Failed. `podIsTerminal`: the pod worker has stopped everything for good
 * (deleted); `podHasInitialized`: an app container has run in this pod.
 */
export function getPhase(
  pod: PodStatusSource,
  statuses: readonly ContainerStatus[],
  podIsTerminal: boolean,
  podHasInitialized: boolean,
): PodPhase {
  const spec = pod.spec;
  const policy = podRestartPolicy(spec.restartPolicy);
  let pendingRestartableInit = 0;
  let pendingRegularInit = 0;
  let failedInitialization = 0;

  for (const c of spec.initContainers ?? []) {
    if (containerRole("initContainers", c.restartPolicy) === "sidecar") continue;
    const s = statusOf(statuses, c.name);
    if (!s) {
      pendingRegularInit++;
    } else if (s.state.running) {
      pendingRegularInit++;
    } else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
      } else {
        pendingRegularInit++;
      }
    } else {
      pendingRegularInit++;
    }
  }

  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;

  for (const c of spec.initContainers ?? []) {
    if (containerRole("initContainers", c.restartPolicy) !== "sidecar") continue;
    const s = statusOf(statuses, c.name);
    if (!s) {
      unknown++;
    } else if (s.state.running) {
      if (!s.started) pendingRestartableInit++;
      running++;
    } else if (s.state.terminated) {
      // A terminated sidecar does not count toward the phase.
    } else if (s.state.waiting) {
      if (!s.lastState.terminated) {
        pendingRestartableInit++;
        waiting++;
      }
    } else {
      pendingRestartableInit++;
      unknown++;
    }
  }

  for (const c of spec.containers) {
    const s = statusOf(statuses, c.name);
    if (!s) {
      unknown++;
    } else if (s.state.running) {
      running++;
    } else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) stopped++;
      else waiting++;
    } else {
      unknown++;
    }
  }

  if (failedInitialization > 0 && policy === "Never") return "Failed";

  if (pendingRegularInit > 0 || (pendingRestartableInit > 0 && !podHasInitialized) || waiting > 0) return "Pending";
  if (running > 0 && unknown === 0) return "Running";
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? "Succeeded" : "Failed";
    if (policy === "Always") return "Running"; // all restarting
    if (stopped === succeeded) return "Succeeded";
    if (policy === "Never") return "Failed";
    return "Running"; // OnFailure, at least one failed and restarting
  }
  return "Pending";
}

// ---- conditions ------------------------------------------------------------------------------

/** Go's %s of a []string: "[a b]". */
function goList(names: readonly string[]): string {
  return `[${names.join(" ")}]`;
}

type ConditionValue = { status: ConditionStatus; reason?: string; message?: string };

function anyRegularContainerStarted(pod: PodStatusSource, statuses: readonly ContainerStatus[]): boolean {
  return pod.spec.containers.some((c) => {
    const s = statusOf(statuses, c.name);
    return s !== undefined && (s.state.running !== undefined || s.state.terminated !== undefined);
  });
}

function containersReady(pod: PodStatusSource, statuses: readonly ContainerStatus[], phase: PodPhase): ConditionValue {
  const unknown: string[] = [];
  const unready: string[] = [];
  const sidecars = (pod.spec.initContainers ?? []).filter((c) => containerRole("initContainers", c.restartPolicy) === "sidecar");
  for (const c of [...sidecars, ...pod.spec.containers]) {
    const s = statusOf(statuses, c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  if ((phase === "Succeeded" && unknown.length === 0) || phase === "Failed") {
    return { status: "False", reason: phase === "Failed" ? "PodFailed" : "PodCompleted" };
  }
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length > 0) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length > 0) return { status: "False", reason: "ContainersNotReady", message: messages.join(", ") };
  return { status: "True" };
}

function initialized(pod: PodStatusSource, statuses: readonly ContainerStatus[], phase: PodPhase): ConditionValue {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of pod.spec.initContainers ?? []) {
    const s = statusOf(statuses, c.name);
    if (!s) {
      unknown.push(c.name);
      continue;
    }
    const done = containerRole("initContainers", c.restartPolicy) === "sidecar" ? s.started : s.ready;
    if (!done) incomplete.push(c.name);
  }
  if (phase === "Succeeded" && unknown.length === 0) return { status: "True", reason: "PodCompleted" };
  // Once an app container has run the pod stays initialized, even while a sidecar restarts.
  if (anyRegularContainerStarted(pod, statuses)) return { status: "True" };
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length > 0) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length > 0) return { status: "False", reason: "ContainersNotInitialized", message: messages.join(", ") };
  return { status: "True" };
}

/**
 * The kubelet-owned conditions in the order the kubelet appends them. lastTransitionTime is kept
 * from `previous` when the status value did not change (the status manager's rule), else `now`.
 */
export function podConditions(
  pod: PodStatusSource,
  statuses: readonly ContainerStatus[],
  phase: PodPhase,
  sandboxReady: boolean,
  previous: readonly PodCondition[] | undefined,
  now: number,
): PodCondition[] {
  const ready = containersReady(pod, statuses, phase);
  const values: [PodConditionType, ConditionValue][] = [
    ["PodReadyToStartContainers", { status: sandboxReady ? "True" : "False" }],
    ["Initialized", initialized(pod, statuses, phase)],
    // No readiness gates: Ready is ContainersReady under another name.
    ["Ready", ready],
    ["ContainersReady", ready],
    ["PodScheduled", { status: "True" }],
  ];
  return values.map(([type, v]) => {
    const old = previous?.find((c) => c.type === type);
    const lastTransitionTime: Timestamp = old && old.status === v.status ? old.lastTransitionTime : rfc3339(now);
    return {
      type,
      status: v.status,
      lastProbeTime: null,
      lastTransitionTime,
      ...(v.reason ? { reason: v.reason } : {}),
      ...(v.message ? { message: v.message } : {}),
    };
  });
}

// ---- the whole status ------------------------------------------------------------------------

/** A running container's probe verdicts. */
export interface ProbedState {
  started: boolean;
  ready: boolean;
}

export interface PodStatusOptions {
  /** The status reported last time: conditions keep their lastTransitionTime from it. */
  previous?: PodStatus;
  /** per container with probes: their verdicts on its running instance */
  probes?: Readonly<Record<string, ProbedState>>;
  hostIP?: string;
  podIPs?: readonly string[];
}

/** The pod's API status at `now` from the observed state the runtime keeps. */
export function buildPodStatus(pod: PodStatusSource, observed: ObservedPod, now: number, opts: PodStatusOptions = {}): PodStatus {
  const spec = pod.spec;
  const inits = spec.initContainers ?? [];
  const defaultWaiting = inits.length > 0 ? Reason.PodInitializing : Reason.ContainerCreating;
  const statusFor = (c: ContainerLike, role: ContainerRole): ContainerStatus =>
    containerStatus(c.name, role, observed.containers[c.name], c.image ?? "", defaultWaiting, opts.probes?.[c.name]);
  const initStatuses = inits.map((c) => statusFor(c, containerRole("initContainers", c.restartPolicy)));
  const appStatuses = spec.containers.map((c) => statusFor(c, "app"));
  const all = [...initStatuses, ...appStatuses];

  const records = [...inits, ...spec.containers].map((c) => observed.containers[c.name]);
  const nothingAlive = records.every((r) => r === undefined || !isAlive(r));
  const podIsTerminal = observed.deletionRequestedAtMs !== undefined && nothingAlive;
  const podHasInitialized = spec.containers.some((c) => {
    const r = observed.containers[c.name];
    return r !== undefined && hasEverRun(r);
  });

  let phase = getPhase(pod, all, podIsTerminal, podHasInitialized);
  // The kubelet's status manager (TerminatePod) never leaves a pod it has stopped for good in
  // Pending or Running: one deleted before it initialised, or while its init containers crash
  // looped, is Failed. getPhase alone says Pending for it.
  if (podIsTerminal && (phase === "Pending" || phase === "Running")) phase = "Failed";
  let reason: string | undefined;
  let message: string | undefined;
  // A terminal phase is never left; its reason and message stay with it.
  const previousPhase = opts.previous?.phase;
  if (observed.terminal) {
    phase = observed.terminal.phase;
    reason = observed.terminal.reason;
    message = observed.terminal.message;
  } else if (previousPhase === "Succeeded" || previousPhase === "Failed") {
    phase = previousPhase;
    reason = opts.previous?.reason;
    message = opts.previous?.message;
  }

  const podIPs: PodIP[] = (opts.podIPs ?? []).map((ip) => ({ ip }));
  return {
    phase,
    conditions: podConditions(pod, all, phase, observed.sandboxReady, opts.previous?.conditions, now),
    ...(message ? { message } : {}),
    ...(reason ? { reason } : {}),
    ...(opts.hostIP ? { hostIP: opts.hostIP, hostIPs: [{ ip: opts.hostIP }] } : {}),
    ...(podIPs.length > 0 ? { podIP: podIPs[0]?.ip, podIPs } : {}),
    ...(observed.startTimeMs !== undefined ? { startTime: rfc3339(observed.startTimeMs) } : {}),
    ...(inits.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: appStatuses,
    qosClass: qosClass(pod),
  };
}
