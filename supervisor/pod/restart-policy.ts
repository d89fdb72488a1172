// Whether and when one container is (re)started: the pod's restartPolicy applied to the
// container's last exit, and the kubelet's crash-loop back-off. Pure: the clock is `now` (ms since
// the epoch), the back-off state is a value the caller keeps per container and passes back in.
// The pod-wide ordering (init containers one at a time, sidecars, stop order) is pod/lifecycle.ts.

import { PoddError } from "../base/errors.ts";
import { Reason } from "../status/types.ts";
import { goDuration } from "../base/time.ts";

export type RestartPolicy = "Always" | "OnFailure" | "Never";

/**
 * init: a regular init container (runs to completion, in order, before the next).
 * sidecar: an init container with restartPolicy Always (KEP-753): started in order, kept running.
 * app: an entry of spec.containers.
 */
export type ContainerRole = "init" | "sidecar" | "app";

/** The pod's restartPolicy with the API default (Always); anything else is a bad manifest. */
export function podRestartPolicy(value: string | undefined): RestartPolicy {
  if (value === undefined || value === "") return "Always";
  if (value === "Always" || value === "OnFailure" || value === "Never") return value;
  throw new PoddError(`restartPolicy "${value}": must be Always, OnFailure or Never`, { code: "Invalid" });
}

/** The role of a container from where it is listed and its own restartPolicy. */
export function containerRole(listedIn: "initContainers" | "containers", restartPolicy?: string): ContainerRole {
  if (listedIn === "containers") return "app";
  return restartPolicy === "Always" ? "sidecar" : "init";
}

/**
 * containerd's exit code for a process that could not be started at all (exec failed); the
 * kubelet sees such a container as exited with 128 and reason StartError, and backs off the same.
 */
export const START_ERROR_EXIT_CODE = 128;

/** What was last observed of the container's current (or most recent) instance. */
export type LastObserved =
  | { kind: "never-started" }
  | { kind: "running"; startedAtMs: number }
  | { kind: "exited"; exitCode: number; finishedAtMs: number }
  | { kind: "start-error"; finishedAtMs: number; message?: string };

/** Would this role under this pod policy run the container again after it exited with exitCode? */
export function shouldRestart(role: ContainerRole, policy: RestartPolicy, exitCode: number): boolean {
  switch (role) {
    case "sidecar":
      // A sidecar's own restartPolicy Always overrides the pod's, whatever the exit code.
      return true;
    case "init":
      // An init container must succeed once; Always behaves as OnFailure for it.
      return exitCode !== 0 && policy !== "Never";
    case "app":
      if (policy === "Always") return true;
      if (policy === "OnFailure") return exitCode !== 0;
      return false;
  }
}

// ---- back-off -------------------------------------------------------------------------------

/**
 * One container's crash-loop back-off, the kubelet's flowcontrol.Backoff entry for its stable
 * key: the current window and when it was last advanced (the time of the last restart, not of
 * the exit). Absent until the container's first restart.
 */
export interface BackOffEntry {
  delayMs: number;
  lastUpdateMs: number;
}

export interface BackOffConfig {
  /** First window (kubelet: 10 s; --backoff-initial). */
  initialMs: number;
  /** Cap (kubelet MaxContainerBackOff: 300 s; --backoff-max). */
  maxMs: number;
  /** Time since the last restart after which the back-off starts over (kubelet: a fixed 600 s). */
  resetAfterMs: number;
}

export const KUBELET_BACKOFF: Readonly<BackOffConfig> = Object.freeze({
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
});

/**
 * Back-off settings from the --backoff-initial/--backoff-max flags. As the kubelet does with
 * crashLoopBackOff.maxContainerRestartPeriod, a max below the initial window lowers the initial
 * window to it rather than being an error.
 */
export function backOffConfig(opts: { initialMs?: number; maxMs?: number; resetAfterMs?: number } = {}): BackOffConfig {
  const maxMs = opts.maxMs ?? KUBELET_BACKOFF.maxMs;
  const initialMs = Math.min(opts.initialMs ?? KUBELET_BACKOFF.initialMs, maxMs);
  const resetAfterMs = opts.resetAfterMs ?? KUBELET_BACKOFF.resetAfterMs;
  for (const [name, v] of [["backoff-initial", initialMs], ["backoff-max", maxMs], ["backoff-reset", resetAfterMs]] as const) {
    if (!Number.isFinite(v) || v <= 0) {
      throw new PoddError(`--${name} ${v}: must be a positive duration`, { code: "Invalid" });
    }
  }
  return { initialMs, maxMs, resetAfterMs };
}

/*
 * How the kubelet backs off (pkg/kubelet/kuberuntime doBackOff over client-go flowcontrol.Backoff,
 * created in kubelet.go with NewBackOff(10s, MaxContainerBackOff=300s)):
 *
 * - The key is the container (pod + name); the reference time is the FinishedAt of its latest
 *   exited instance.
 * - No entry yet (first exit): not in back-off. The restart calls Next, which creates the entry
 *   with the initial window and lastUpdate = now. So the first restart is immediate.
 * - Entry present: in back-off while now - finishedAt < window. Once the window has passed, the
 *   restart calls Next: window doubles, capped at max, lastUpdate = now.
 *   Waits before successive restarts: 0, 10s, 20s, 40s, 80s, 160s, 300s, 300s, ...
 * - Reset: kubelet.go sets the Backoff's HasExpiredFunc to `eventTime - lastUpdate > 600s`, a
 *   fixed 10 minutes whatever the max (before 1.32 it was the default, 2 x maxDuration). It is
 *   applied twice:
 *   1. by IsInBackOffSince and Next with eventTime = the exit: a container that ran for more
 *      than 10 minutes since its last restart is restarted at once with the initial window again;
 *   2. by Backoff.GC, which the kubelet's housekeeping (HandlePodCleanups) runs every 2 s, with
 *      eventTime = now: an entry whose last restart is more than 10 minutes old is deleted. This
 *      also ends a wait early when a long run is followed by a long window.
 *   So resetAfterMs stays 600 s when --backoff-max shortens the windows; a test that wants to see
 *   the reset passes a shorter resetAfterMs.
 * - The CrashLoopBackOff message shows the entry's current window: "back-off 20s restarting
 *   failed container=web pod=web_default(uid)".
 */

function expired(entry: BackOffEntry, finishedAtMs: number, now: number, cfg: BackOffConfig): boolean {
  return finishedAtMs - entry.lastUpdateMs > cfg.resetAfterMs || now - entry.lastUpdateMs > cfg.resetAfterMs;
}

export type BackOffCheck =
  | { inBackOff: true; delayMs: number; retryAtMs: number }
  | { inBackOff: false; next: BackOffEntry };

/**
 * Is a restart of a container that exited at finishedAtMs held back at `now`? If not, `next` is
 * the entry to record when the restart is made (flowcontrol Next).
 */
export function checkBackOff(
  entry: BackOffEntry | undefined,
  finishedAtMs: number,
  now: number,
  cfg: BackOffConfig = KUBELET_BACKOFF,
): BackOffCheck {
  if (entry === undefined || expired(entry, finishedAtMs, now, cfg)) {
    return { inBackOff: false, next: { delayMs: cfg.initialMs, lastUpdateMs: now } };
  }
  if (now - finishedAtMs < entry.delayMs) {
    // GC deletes the entry once now - lastUpdate > resetAfter, which can come before the window ends.
    const gcAtMs = entry.lastUpdateMs + cfg.resetAfterMs + 1;
    return { inBackOff: true, delayMs: entry.delayMs, retryAtMs: Math.min(finishedAtMs + entry.delayMs, gcAtMs) };
  }
  return { inBackOff: false, next: { delayMs: Math.min(entry.delayMs * 2, cfg.maxMs), lastUpdateMs: now } };
}

/** The kubelet's format.Pod: "name_namespace(uid)", used in back-off messages and events. */
export function formatPodRef(meta: { name?: string; namespace?: string; uid?: string }): string {
  return `${meta.name ?? ""}_${meta.namespace ?? "default"}(${meta.uid ?? ""})`;
}

export function crashLoopMessage(delayMs: number, container: string, podRef: string): string {
  return `back-off ${goDuration(delayMs)} restarting failed container=${container} pod=${podRef}`;
}

// ---- the decision ---------------------------------------------------------------------------

export interface DecideInput {
  container: string;
  /** formatPodRef() of the pod, for the CrashLoopBackOff message. */
  podRef: string;
  role: ContainerRole;
  restartPolicy: RestartPolicy;
  last: LastObserved;
  backOff: BackOffEntry | undefined;
  /**
   * The pod is being deleted, is past its deadline, has failed or has completed: nothing is
   * started or restarted any more (kubelet ShouldContainerBeRestarted with a deletion timestamp,
   * and KillPod dropping sidecar restarts).
   */
  podTerminating?: boolean;
  now: number;
  config?: BackOffConfig;
}

/** Why no action: still running, or exited for good (and how), or the pod is going away. */
export type NoActionWhy = "running" | "succeeded" | "failed" | "pod-terminating";

export type Decision =
  | { action: "none"; why: NoActionWhy }
  /** First start of this container in this pod; the back-off entry is untouched. */
  | { action: "start" }
  /** Start a new instance now; record `backOff` and count one more restart. */
  | { action: "restart"; backOff: BackOffEntry }
  /** Held back: show Waiting/CrashLoopBackOff with `message` and decide again at retryAtMs. */
  | { action: "wait"; delayMs: number; retryAtMs: number; reason: typeof Reason.CrashLoopBackOff; message: string };

export function decide(input: DecideInput): Decision {
  const { last } = input;
  if (last.kind === "running") return { action: "none", why: "running" };
  if (input.podTerminating) return { action: "none", why: "pod-terminating" };
  if (last.kind === "never-started") return { action: "start" };

  const exitCode = last.kind === "exited" ? last.exitCode : START_ERROR_EXIT_CODE;
  if (!shouldRestart(input.role, input.restartPolicy, exitCode)) {
    return { action: "none", why: exitCode === 0 ? "succeeded" : "failed" };
  }
  const check = checkBackOff(input.backOff, last.finishedAtMs, input.now, input.config ?? KUBELET_BACKOFF);
  if (check.inBackOff) {
    return {
      action: "wait",
      delayMs: check.delayMs,
      retryAtMs: check.retryAtMs,
      reason: Reason.CrashLoopBackOff,
      message: crashLoopMessage(check.delayMs, input.container, input.podRef),
    };
  }
  return { action: "restart", backOff: check.next };
}

// ---- activeDeadlineSeconds ------------------------------------------------------------------

export const DEADLINE_EXCEEDED_MESSAGE = "Pod was active on the node longer than the specified deadline";

export type DeadlineCheck =
  | { exceeded: false; /** when it will be, if there is a deadline and a start time */ deadlineAtMs?: number }
  | { exceeded: true; deadlineAtMs: number; reason: typeof Reason.DeadlineExceeded; message: string };

/**
 * The kubelet's activeDeadlineHandler: measured from status.startTime (when the node first
 * acknowledged the pod), exceeded once now - startTime >= activeDeadlineSeconds. No deadline or
 * no start time yet: never exceeded. The pod then fails with reason DeadlineExceeded and its
 * containers are killed.
 */
export function checkActiveDeadline(activeDeadlineSeconds: number | undefined, startTimeMs: number | undefined, now: number): DeadlineCheck {
  if (activeDeadlineSeconds === undefined || startTimeMs === undefined) return { exceeded: false };
  const deadlineAtMs = startTimeMs + activeDeadlineSeconds * 1000;
  if (now >= deadlineAtMs) {
    return { exceeded: true, deadlineAtMs, reason: Reason.DeadlineExceeded, message: DEADLINE_EXCEEDED_MESSAGE };
  }
  return { exceeded: false, deadlineAtMs };
}
