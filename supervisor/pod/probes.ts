// The kubelet's probe semantics, pure: the defaults the API server sets, and how a run of
// results becomes a verdict (successThreshold consecutive successes, failureThreshold
// consecutive failures). The worker runs the probes (runtime/probe.ts) and acts on verdicts.
import type { Container, Probe } from "../../pod-specs/types.ts";

export type ProbeKind = "liveness" | "readiness" | "startup";

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** The API server's defaults: no delay, every 10 s, 1 s to answer, 1 success, 3 failures. */
export function probeTiming(p: Probe): ProbeTiming {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, p.periodSeconds || 10) * 1000,
    timeoutMs: Math.max(1, p.timeoutSeconds || 1) * 1000,
    successThreshold: Math.max(1, p.successThreshold || 1),
    failureThreshold: Math.max(1, p.failureThreshold || 3),
  };
}

export function probesOf(c: Container): Partial<Record<ProbeKind, Probe>> {
  return {
    ...(c.startupProbe ? { startup: c.startupProbe } : {}),
    ...(c.livenessProbe ? { liveness: c.livenessProbe } : {}),
    ...(c.readinessProbe ? { readiness: c.readinessProbe } : {}),
  };
}

/**
 * A probe's standing: the kubelet starts readiness and startup at failure (not ready, not
 * started, until a probe says so) and liveness at success; counts restart with each container
 * instance and each daemon, as after a kubelet restart.
 */
export interface ProbeStanding {
  ok: boolean;
  successes: number;
  failures: number;
}

export function initialStanding(kind: ProbeKind): ProbeStanding {
  return { ok: kind === "liveness", successes: 0, failures: 0 };
}

/** One result: the new standing, and whether the verdict changed. */
export function record(s: ProbeStanding, ok: boolean, t: Pick<ProbeTiming, "successThreshold" | "failureThreshold">): { standing: ProbeStanding; changed: boolean } {
  const successes = ok ? s.successes + 1 : 0;
  const failures = ok ? 0 : s.failures + 1;
  let verdict = s.ok;
  if (ok && successes >= t.successThreshold) verdict = true;
  if (!ok && failures >= t.failureThreshold) verdict = false;
  return { standing: { ok: verdict, successes, failures }, changed: verdict !== s.ok };
}

/** "Liveness", as the kubelet's events name the probe. */
export function probeTitle(kind: ProbeKind): string {
  return kind[0]!.toUpperCase() + kind.slice(1);
}

/**
 * When the first probe runs, from the container's start: after initialDelaySeconds. A daemon
 * that takes up running containers spreads their first probes over one period, as a kubelet
 * does after its own start, so that the probes of many pods do not fire in step from then on.
 */
export function firstDelayMs(t: ProbeTiming, sinceStartMs: number, adopted: boolean, random: () => number): number {
  const left = Math.max(0, t.initialDelayMs - sinceStartMs);
  return adopted ? left + Math.floor(random() * t.periodMs) : left;
}
