// The reconcile step of one pod, as the kubelet's computePodActions does it: from the desired
// spec and what was observed of each container, compute the actions that close the difference.
// Decisions only: the runtime applies the actions (and records the state changes through the
// record* helpers below, which refuse illegal transitions), then calls planPod again when an
// exit, a start, a stop or plan.wakeAtMs arrives. "Compute the changes, then apply them", as
// containerd's restart monitor does.

import { PoddError } from "../base/errors.ts";
import { DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS } from "../../pod-specs/defaults.ts";
import {
  checkActiveDeadline,
  containerRole,
  decide,
  formatPodRef,
  KUBELET_BACKOFF,
  podRestartPolicy,
  shouldRestart,
  START_ERROR_EXIT_CODE,
  type BackOffConfig,
  type BackOffEntry,
  type ContainerRole,
  type LastObserved,
} from "./restart-policy.ts";
import { Reason } from "../status/types.ts";

// ---- the spec, structurally ------------------------------------------------------------------

/** What planning needs of a Pod manifest; the full Pod type from pod-specs satisfies it. */
export interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string };
  spec: {
    containers: { name: string }[];
    initContainers?: { name: string; restartPolicy?: string }[];
    restartPolicy?: string;
    activeDeadlineSeconds?: number;
    terminationGracePeriodSeconds?: number;
  };
}

/** The pod's grace period: terminationGracePeriodSeconds, or the API server's default. */
export function podGraceSeconds(spec: { terminationGracePeriodSeconds?: number }): number {
  return spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
}

/** The kubelet never gives a pod less than this to stop (minimumGracePeriodInSeconds). */
export const MINIMUM_GRACE_MS = 2_000;

// ---- container lifecycle ---------------------------------------------------------------------

/** How one instance of a container ended. */
export interface Termination {
  exitCode: number;
  signal?: number;
  /** Completed, Error, OOMKilled or StartError (status/types.ts terminatedReason). */
  reason: string;
  message?: string;
  /** Absent when the process never ran (StartError). */
  startedAtMs?: number;
  finishedAtMs: number;
  /** The instance's ID, shown in status as "podd://<id>". */
  containerID?: string;
}

/** The wait a crash-looping container is in (shown as Waiting/CrashLoopBackOff). */
export interface BackOffWait {
  delayMs: number;
  retryAtMs: number;
  message: string;
}

/**
 * The state of a container in a pod. Legal transitions:
 *   Waiting → Starting                      (first start, or the end of a back-off)
 *   Starting → Running | Stopping | Terminated   (Stopping: the pod goes while postStart runs;
 *                                           Terminated: the process could not be started)
 *   Running → Stopping | Terminated
 *   Stopping → Terminated
 *   Terminated → Starting                   (immediate restart)
 *   Terminated → Waiting (with backOff)     (restart held back)
 * Anything else, including staying put, is a bug in the caller and throws.
 */
export type ContainerLifecycle =
  | { state: "Waiting"; backOff?: BackOffWait }
  | { state: "Starting"; sinceMs: number }
  | { state: "Running"; startedAtMs: number }
  /** fromStarting: stopped before it was Running (in its postStart hook), so still shown as waiting */
  | { state: "Stopping"; startedAtMs: number; sinceMs: number; fromStarting?: true }
  | { state: "Terminated"; termination: Termination };

export type LifecycleState = ContainerLifecycle["state"];

const LEGAL: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  Waiting: ["Starting"],
  Starting: ["Running", "Stopping", "Terminated"],
  Running: ["Stopping", "Terminated"],
  Stopping: ["Terminated"],
  Terminated: ["Starting", "Waiting"],
};

export function canTransition(from: ContainerLifecycle, to: ContainerLifecycle): boolean {
  if (!LEGAL[from.state].includes(to.state)) return false;
  // Only a back-off wait may follow a termination; a plain Waiting means "never started".
  if (from.state === "Terminated" && to.state === "Waiting") return to.backOff !== undefined;
  return true;
}

/** Checks a transition; throws a Conflict PoddError naming the container if it is illegal. */
export function transition(container: string, from: ContainerLifecycle, to: ContainerLifecycle): ContainerLifecycle {
  if (!canTransition(from, to)) {
    const what = to.state === "Waiting" && to.backOff === undefined ? "Waiting without a back-off" : to.state;
    throw new PoddError(`container "${container}": illegal transition ${from.state} → ${what}`, { code: "Conflict" });
  }
  return to;
}

/** What the runtime keeps per container of a pod (in the run root) and hands to planPod. */
export interface ContainerRecord {
  lifecycle: ContainerLifecycle;
  restartCount: number;
  /** The previous instance's end: status lastState, and what a back-off counts from while Waiting. */
  lastTermination?: Termination;
  backOff?: BackOffEntry;
  /** Of the current (or, while Waiting in back-off, the last) instance; status only. */
  containerID?: string;
  imageID?: string;
  /** The identity the instance's command was started with (status user.linux); from its start on. */
  user?: { uid: number; gid: number; supplementalGroups: number[] };
}

export function newContainerRecord(): ContainerRecord {
  return { lifecycle: { state: "Waiting" }, restartCount: 0 };
}

/**
 * A start was issued. Counts a restart when there was an instance before (the kubelet's
 * restartCount is the number of instances before this one); records the back-off entry the
 * StartContainer action carried.
 */
export function recordStarting(name: string, rec: ContainerRecord, now: number, backOff?: BackOffEntry, user?: ContainerRecord["user"]): ContainerRecord {
  const lifecycle = transition(name, rec.lifecycle, { state: "Starting", sinceMs: now });
  const previous = rec.lifecycle.state === "Terminated" ? rec.lifecycle.termination : rec.lastTermination;
  const next: ContainerRecord = { lifecycle, restartCount: previous === undefined ? rec.restartCount : rec.restartCount + 1 };
  if (previous !== undefined) next.lastTermination = previous;
  const entry = backOff ?? rec.backOff;
  if (entry !== undefined) next.backOff = entry;
  if (rec.imageID !== undefined) next.imageID = rec.imageID;
  const who = user ?? rec.user;
  if (who !== undefined) next.user = who;
  return next; // the new instance's containerID comes with recordRunning
}

export function recordRunning(
  name: string,
  rec: ContainerRecord,
  startedAtMs: number,
  ids: { containerID?: string; imageID?: string } = {},
): ContainerRecord {
  return { ...rec, ...ids, lifecycle: transition(name, rec.lifecycle, { state: "Running", startedAtMs }) };
}

/** A stop (SIGTERM) was sent to a running container, or to a starting one that started at execdAtMs. */
export function recordStopping(name: string, rec: ContainerRecord, now: number, execdAtMs?: number): ContainerRecord {
  const l = rec.lifecycle;
  const startedAtMs = l.state === "Running" ? l.startedAtMs : (execdAtMs ?? now);
  return { ...rec, lifecycle: transition(name, l, { state: "Stopping", startedAtMs, sinceMs: now, ...(l.state === "Starting" ? { fromStarting: true as const } : {}) }) };
}

/** The instance ended (exit record from the monitor), or could not be started at all. */
export function recordExit(name: string, rec: ContainerRecord, termination: Termination): ContainerRecord {
  return { ...rec, lifecycle: transition(name, rec.lifecycle, { state: "Terminated", termination }) };
}

/** A restart is held back: the termination becomes lastState and the container shows Waiting. */
export function recordBackOff(name: string, rec: ContainerRecord, wait: BackOffWait): ContainerRecord {
  const lifecycle = transition(name, rec.lifecycle, { state: "Waiting", backOff: wait });
  const termination = rec.lifecycle.state === "Terminated" ? rec.lifecycle.termination : rec.lastTermination;
  return { ...rec, lifecycle, ...(termination ? { lastTermination: termination } : {}) };
}

/** The restart-policy view of a record: what decide() needs to know about the last instance. */
export function lastObserved(rec: ContainerRecord): LastObserved {
  const l = rec.lifecycle;
  switch (l.state) {
    case "Starting":
      return { kind: "running", startedAtMs: l.sinceMs };
    case "Running":
    case "Stopping":
      return { kind: "running", startedAtMs: l.startedAtMs };
    case "Terminated":
      return fromTermination(l.termination);
    case "Waiting":
      return rec.lastTermination === undefined ? { kind: "never-started" } : fromTermination(rec.lastTermination);
  }
}

function fromTermination(t: Termination): LastObserved {
  if (t.reason === Reason.StartError) {
    return { kind: "start-error", finishedAtMs: t.finishedAtMs, ...(t.message ? { message: t.message } : {}) };
  }
  return { kind: "exited", exitCode: t.exitCode, finishedAtMs: t.finishedAtMs };
}

function exitCodeOf(rec: ContainerRecord): number | undefined {
  const last = lastObserved(rec);
  if (last.kind === "exited") return last.exitCode;
  if (last.kind === "start-error") return START_ERROR_EXIT_CODE;
  return undefined;
}

/** Starting, Running or Stopping: a process exists or is about to. */
export function isAlive(rec: ContainerRecord): boolean {
  const s = rec.lifecycle.state;
  return s === "Starting" || s === "Running" || s === "Stopping";
}

/** Has this container ever had an instance in this pod? */
export function hasEverRun(rec: ContainerRecord): boolean {
  const s = rec.lifecycle.state;
  return s === "Running" || s === "Stopping" || s === "Terminated" || rec.lastTermination !== undefined || rec.restartCount > 0;
}

// ---- the pod ---------------------------------------------------------------------------------

export type TerminalPhase = "Succeeded" | "Failed";

export interface ObservedPod {
  /** The pod's namespaces exist (pin files in place). */
  sandboxReady: boolean;
  /** status.podIPs: what the network gave the sandbox (the host's address with hostNetwork); kept once it is gone, as the kubelet keeps it */
  podIPs?: readonly string[];
  /** status.startTime: when the daemon first took the pod on; activeDeadlineSeconds counts from it. */
  startTimeMs?: number;
  /** A delete was requested: nothing is (re)started any more, everything is stopped. */
  deletionRequestedAtMs?: number;
  /** Set once a SucceedPod/FailPod action was applied; a terminal pod never leaves its phase. */
  terminal?: { phase: TerminalPhase; reason?: string; message?: string };
  /**
   * When the runtime sent the first stop of a completion or failure; the grace period is shared
   * from it, sidecars getting what the app containers left. Without it each stop gets a full grace.
   */
  terminatingSinceMs?: number;
  /** By container name (init and app names are unique in a pod); missing = never started. */
  containers: Readonly<Record<string, ContainerRecord | undefined>>;
}

export type StopReason = "PodDeleted" | "DeadlineExceeded" | "InitContainerFailed" | "PodCompleted" | "PodFailed";

export type PodAction =
  /** Create the pod's namespaces (podd-init sandbox). */
  | { type: "CreateSandbox" }
  /** Start (restart: a new instance after an exit). Record backOff if present (recordStarting). */
  | { type: "StartContainer"; container: string; role: ContainerRole; restart: boolean; backOff?: BackOffEntry }
  /** A restart is held back: record the wait (recordBackOff) and show Waiting/CrashLoopBackOff. */
  | ({ type: "BackOff"; container: string; role: ContainerRole; reason: typeof Reason.CrashLoopBackOff } & BackOffWait)
  /** SIGTERM now, cgroup kill after gracePeriodMs. */
  | { type: "StopContainer"; container: string; role: ContainerRole; gracePeriodMs: number; reason: StopReason }
  /** The pod's phase becomes Failed for good (reason/message as the kubelet sets them, if any). */
  | { type: "FailPod"; reason?: string; message?: string }
  /** The pod's phase becomes Succeeded for good. */
  | { type: "SucceedPod" }
  /** Nothing runs any more in a terminal or deleted pod: release its namespaces. */
  | { type: "StopSandbox" };

export interface PodPlan {
  /** To apply in order; container starts and stops in one plan are independent of each other. */
  actions: PodAction[];
  /** Plan again at this time even if nothing else happens (end of a back-off, the deadline). */
  wakeAtMs?: number;
}

export interface PlanOptions {
  backOff?: BackOffConfig;
  /** running containers whose startup probe has not succeeded yet: a sidecar among them holds the init containers after it */
  notStarted?: ReadonlySet<string>;
}

interface PodStop {
  reason: StopReason;
  /** When stopping began: the grace period counts from here. */
  sinceMs: number;
}

/** Computes the actions that bring the observed pod closer to its spec at time `now`. */
export function planPod(pod: PodLike, observed: ObservedPod, now: number, opts: PlanOptions = {}): PodPlan {
  const spec = pod.spec;
  const policy = podRestartPolicy(spec.restartPolicy);
  const podRef = formatPodRef(pod.metadata ?? {});
  const config = opts.backOff ?? KUBELET_BACKOFF;
  const inits = (spec.initContainers ?? []).map((c) => ({ name: c.name, role: containerRole("initContainers", c.restartPolicy) }));
  const apps = spec.containers.map((c) => ({ name: c.name, role: "app" as const }));
  const rec = (name: string): ContainerRecord => observed.containers[name] ?? newContainerRecord();

  const actions: PodAction[] = [];
  let wakeAtMs: number | undefined;
  const wakeAt = (t: number): void => {
    wakeAtMs = wakeAtMs === undefined ? t : Math.min(wakeAtMs, t);
  };

  // 1. Is the pod going away? Terminal phase, deletion, deadline.
  let stopping: PodStop | undefined;
  if (observed.terminal) {
    const deadline = checkActiveDeadline(spec.activeDeadlineSeconds, observed.startTimeMs, now);
    const byDeadline = observed.terminal.reason === Reason.DeadlineExceeded && deadline.exceeded;
    stopping = {
      reason: byDeadline ? "DeadlineExceeded" : observed.terminal.phase === "Succeeded" ? "PodCompleted" : "PodFailed",
      sinceMs: observed.terminatingSinceMs ?? (byDeadline ? deadline.deadlineAtMs : now),
    };
  } else if (observed.deletionRequestedAtMs !== undefined) {
    stopping = { reason: "PodDeleted", sinceMs: observed.deletionRequestedAtMs };
  } else {
    const deadline = checkActiveDeadline(spec.activeDeadlineSeconds, observed.startTimeMs, now);
    if (deadline.exceeded) {
      actions.push({ type: "FailPod", reason: deadline.reason, message: deadline.message });
      stopping = { reason: "DeadlineExceeded", sinceMs: deadline.deadlineAtMs };
    } else if (deadline.deadlineAtMs !== undefined) {
      wakeAt(deadline.deadlineAtMs);
    }
  }
  if (stopping) return { actions: [...actions, ...planStop(stopping, undefined)], ...wake(wakeAtMs) };

  // 2. The sandbox comes first: no container starts without the pod's namespaces.
  if (!observed.sandboxReady) return { actions: [{ type: "CreateSandbox" }], ...wake(wakeAtMs) };

  // 3. Every app container has exited for good: the pod is complete. Decided before the init
  // containers so that a sidecar we stop is not restarted (the kubelet's KillPod drops
  // InitContainersToStart). Sidecars do not keep the pod alive; they are stopped after the apps,
  // in reverse order, and then the phase is set.
  const appsDone = apps.every((c) => {
    const r = rec(c.name);
    const code = exitCodeOf(r);
    return hasEverRun(r) && !isAlive(r) && code !== undefined && !shouldRestart("app", policy, code);
  });
  if (appsDone) {
    const failed = apps.some((c) => exitCodeOf(rec(c.name)) !== 0);
    const stop = planStop({ reason: "PodCompleted", sinceMs: observed.terminatingSinceMs ?? now }, failed ? "Failed" : "Succeeded");
    return { actions: [...actions, ...stop], ...wake(wakeAtMs) };
  }

  // 4. Init containers, one at a time in order. Once an app container has run, the pod has been
  // initialized: regular init containers are not run again, only sidecars are kept running.
  const appsStarted = apps.some((c) => hasEverRun(rec(c.name)));
  let initialized = true;
  for (const c of inits) {
    const r = rec(c.name);
    if (c.role === "init") {
      if (appsStarted) continue;
      if (isAlive(r)) {
        initialized = false;
        break;
      }
      const d = decide({ container: c.name, podRef, role: c.role, restartPolicy: policy, last: lastObserved(r), backOff: r.backOff, now, config });
      if (d.action === "none" && d.why === "succeeded") continue;
      if (d.action === "none" && d.why === "failed") {
        // restartPolicy Never: a failed init container fails the pod (kubelet getPhase), and
        // everything started so far (sidecars) is stopped.
        actions.push({ type: "FailPod" });
        return { actions: [...actions, ...planStop({ reason: "InitContainerFailed", sinceMs: now }, undefined)], ...wake(wakeAtMs) };
      }
      act(c.name, c.role, r, d);
      initialized = false;
      break;
    }
    // Sidecar: the next init container starts once this one has started (runs, and its startup
    // probe, if it has one, succeeded). After its first start it is restarted whatever the
    // pod's policy, and a restart does not hold back the init containers behind it.
    if (r.lifecycle.state === "Running" && opts.notStarted?.has(c.name) && r.restartCount === 0) {
      initialized = false;
      break;
    }
    if (r.lifecycle.state === "Running" || r.lifecycle.state === "Stopping") continue;
    const firstStart = !hasEverRun(r);
    if (r.lifecycle.state !== "Starting") {
      const d = decide({ container: c.name, podRef, role: c.role, restartPolicy: policy, last: lastObserved(r), backOff: r.backOff, now, config });
      act(c.name, c.role, r, d);
    }
    if (firstStart) {
      initialized = false;
      break;
    }
  }
  if (!initialized) return { actions, ...wake(wakeAtMs) };

  // 5. App containers, all at once.
  for (const c of apps) {
    const r = rec(c.name);
    act(c.name, c.role, r, decide({ container: c.name, podRef, role: c.role, restartPolicy: policy, last: lastObserved(r), backOff: r.backOff, now, config }));
  }
  return { actions, ...wake(wakeAtMs) };

  function act(name: string, role: ContainerRole, r: ContainerRecord, d: ReturnType<typeof decide>): void {
    switch (d.action) {
      case "none":
        return;
      case "start":
        actions.push({ type: "StartContainer", container: name, role, restart: false });
        return;
      case "restart":
        actions.push({ type: "StartContainer", container: name, role, restart: true, backOff: d.backOff });
        return;
      case "wait":
        wakeAt(d.retryAtMs);
        // Already shown as waiting: the same wait, nothing to record.
        if (r.lifecycle.state === "Terminated") {
          actions.push({ type: "BackOff", container: name, role, reason: d.reason, delayMs: d.delayMs, retryAtMs: d.retryAtMs, message: d.message });
        }
        return;
    }
  }

  /**
   * Stopping the pod, the kubelet's termination ordering: app containers (and a running regular
   * init container) all at once; then sidecars one by one in reverse order, each once everything
   * started after it has exited. When nothing runs any more: the phase (if this stop decides
   * it) and the sandbox.
   */
  function planStop(t: PodStop, outcome: TerminalPhase | undefined): PodAction[] {
    const out: PodAction[] = [];
    const graceMs = podGraceSeconds(spec) * 1000;
    const gracePeriodMs = Math.max(MINIMUM_GRACE_MS, t.sinceMs + graceMs - now);
    const stop = (name: string, role: ContainerRole): void => {
      out.push({ type: "StopContainer", container: name, role, gracePeriodMs, reason: t.reason });
    };

    // A container still Starting (spawned; exec'd and in its postStart hook) is stopped too: the
    // kubelet cancels the hook of a pod it kills, and a hook that hangs must not hold the pod's
    // deletion. The worker holds the stop until the exec, and cancels the hook.
    const stoppable = (r: ContainerRecord) => r.lifecycle.state === "Running" || r.lifecycle.state === "Starting";
    const first = [...apps, ...inits.filter((c) => c.role === "init")];
    for (const c of first) if (stoppable(rec(c.name))) stop(c.name, c.role);
    if (!first.some((c) => isAlive(rec(c.name)))) {
      const sidecars = inits.filter((c) => c.role === "sidecar").reverse();
      for (const c of sidecars) {
        const r = rec(c.name);
        if (!isAlive(r)) continue;
        if (stoppable(r)) stop(c.name, c.role);
        break;
      }
    }

    const allStopped = [...apps, ...inits].every((c) => !isAlive(rec(c.name)));
    if (allStopped) {
      if (outcome === "Succeeded" && !observed.terminal) out.push({ type: "SucceedPod" });
      if (outcome === "Failed" && !observed.terminal) out.push({ type: "FailPod" });
      if (observed.sandboxReady) out.push({ type: "StopSandbox" });
    }
    return out;
  }
}

function wake(wakeAtMs: number | undefined): { wakeAtMs?: number } {
  return wakeAtMs === undefined ? {} : { wakeAtMs };
}
