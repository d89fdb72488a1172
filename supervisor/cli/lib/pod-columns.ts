// The columns `kubectl get pods` prints from a pod's status (printers.go printPod), with
// apimachinery's duration helpers from time.ts. Pure: `now` is a parameter.
import { humanDuration, parseTimestamp } from "../../base/time.ts";
import { Reason, type PodStatus, type Timestamp } from "../../status/types.ts";

/** What kubectl's pod printer reads. */
export interface KubectlPod {
  metadata: { name?: string; creationTimestamp?: Timestamp; deletionTimestamp?: Timestamp };
  spec: { containers: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] };
  status: Pick<PodStatus, "phase" | "conditions" | "containerStatuses"> &
    Partial<Pick<PodStatus, "reason" | "initContainerStatuses">>;
}

/** kubectl's node.NodeUnreachablePodReason. */
const NODE_LOST = "NodeLost";

export interface PodColumns {
  ready: string;
  status: string;
  restarts: string;
  age: string;
}

/** The READY, STATUS, RESTARTS and AGE cells of `kubectl get pods` (printers.go printPod). */
export function podColumns(pod: KubectlPod, now: number): PodColumns {
  const spec = pod.spec;
  const st = pod.status;
  const isSidecar = new Map((spec.initContainers ?? []).map((c) => [c.name, c.restartPolicy === "Always"]));
  let restarts = 0;
  let sidecarRestarts = 0;
  let totalContainers = spec.containers.length + [...isSidecar.values()].filter(Boolean).length;
  let readyContainers = 0;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  let reason: string = st.reason || st.phase;

  const initStatuses = st.initContainerStatuses ?? [];
  const initCount = spec.initContainers?.length ?? 0;
  let initializing = false;
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i];
    if (!c) continue;
    restarts += c.restartCount;
    const lastFinished = c.lastState.terminated ? parseTimestamp(c.lastState.terminated.finishedAt) : 0;
    lastRestart = Math.max(lastRestart, lastFinished);
    const sidecar = isSidecar.get(c.name) === true;
    if (sidecar) {
      sidecarRestarts += c.restartCount;
      lastSidecarRestart = Math.max(lastSidecarRestart, lastFinished);
    }
    const t = c.state.terminated;
    const w = c.state.waiting;
    if (t && t.exitCode === 0) continue;
    if (sidecar && c.started) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (t) {
      if (!t.reason) reason = t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode}`;
      else reason = `Init:${t.reason}`;
    } else if (w && w.reason && w.reason !== Reason.PodInitializing) {
      reason = `Init:${w.reason}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    initializing = true;
    break;
  }

  const initializedTrue = st.conditions.some((c) => c.type === "Initialized" && c.status === "True");
  if (!initializing || initializedTrue) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    for (let i = st.containerStatuses.length - 1; i >= 0; i--) {
      const c = st.containerStatuses[i];
      if (!c) continue;
      restarts += c.restartCount;
      if (c.lastState.terminated) lastRestart = Math.max(lastRestart, parseTimestamp(c.lastState.terminated.finishedAt));
      const t = c.state.terminated;
      const w = c.state.waiting;
      if (w && w.reason) reason = w.reason;
      else if (t && t.reason) reason = t.reason;
      else if (t) reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`;
      else if (c.ready && c.state.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A completed container next to one still running: the pod is Running (or NotReady).
    if (reason === Reason.Completed && hasRunning) {
      reason = st.conditions.some((c) => c.type === "Ready" && c.status === "True") ? "Running" : "NotReady";
    }
  }

  const deleting = pod.metadata.deletionTimestamp !== undefined;
  if (deleting && st.reason === NODE_LOST) reason = "Unknown";
  else if (deleting && st.phase !== "Succeeded" && st.phase !== "Failed") reason = "Terminating";

  const restartsCell = restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : `${restarts}`;
  return {
    ready: `${readyContainers}/${totalContainers}`,
    status: reason,
    restarts: restartsCell,
    age: age(pod.metadata.creationTimestamp, now),
  };
}

/** kubectl's STATUS column. */
export function kubectlStatus(pod: KubectlPod): string {
  // The status cell does not depend on the clock.
  return podColumns(pod, 0).status;
}

/** kubectl's READY column: "1/2" (sidecars count as containers, regular init containers not). */
export function readyColumn(pod: KubectlPod): string {
  return podColumns(pod, 0).ready;
}

/** kubectl's RESTARTS column: "0", or "3 (2m ago)" from the latest previous termination. */
export function restartsColumn(pod: KubectlPod, now: number): string {
  return podColumns(pod, now).restarts;
}

/** kubectl's translateTimestampSince: "<unknown>" for no time, else HumanDuration(now - t). */
export function age(from: Timestamp | number | undefined, now: number): string {
  if (from === undefined || from === "" || from === 0) return "<unknown>";
  const t = typeof from === "number" ? from : parseTimestamp(from);
  if (Number.isNaN(t)) return "<unknown>";
  return humanDuration(now - t);
}
