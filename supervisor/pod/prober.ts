// The probes of one running container instance, on the injected clock: the startup probe
// first, holding liveness and readiness back until it succeeds; each probe at its period,
// never overlapping itself (the next run is timed from the end of the last). Verdicts go to
// the worker through callbacks; this module decides nothing about the container itself.
import type { Clock } from "../base/time.ts";
import type { Probe } from "../../pod-specs/types.ts";
import { firstDelayMs, initialStanding, probeTiming, record, type ProbeKind, type ProbeStanding } from "./probes.ts";

export interface ProbeRun {
  ok: boolean;
  output: string;
  warning?: string;
  /** podd could not run the probe: the run counts for nothing, as the kubelet throws it away */
  error?: true;
}

export interface ProberEvents {
  /** one probe failed (the kubelet's Unhealthy event, for every failed run) */
  failed(kind: ProbeKind, output: string): void;
  /** one probe could not be run (the kubelet's "probe errored" Unhealthy event); it counts for nothing */
  errored(kind: ProbeKind, why: string): void;
  /** a success the kubelet warns about (ProbeWarning) */
  warned(kind: ProbeKind, warning: string): void;
  /** the verdict changed: ready, or started */
  changed(kind: ProbeKind, ok: boolean): void;
  /** a liveness or startup probe reached failureThreshold: the container is to be killed (its probes have stopped) */
  exhausted(kind: ProbeKind): void;
}

export class ContainerProber {
  private readonly standing = new Map<ProbeKind, ProbeStanding>();
  private readonly timing = new Map<ProbeKind, ReturnType<typeof probeTiming>>();
  private readonly timers = new Map<ProbeKind, unknown>();
  private stopped = false;
  /** clock ms of the container's start: every probe's initial delay counts from it */
  private startedAt = 0;

  constructor(
    private readonly probes: Partial<Record<ProbeKind, Probe>>,
    private readonly clock: Clock,
    private readonly runOne: (kind: ProbeKind, probe: Probe, timeoutMs: number) => Promise<ProbeRun>,
    private readonly on: ProberEvents,
    private readonly random: () => number = Math.random,
  ) {
    for (const kind of Object.keys(probes) as ProbeKind[]) {
      this.standing.set(kind, initialStanding(kind));
      this.timing.set(kind, probeTiming(probes[kind]!));
    }
  }

  /** Starts probing a container that started sinceStartMs ago (a daemon that took it up: adopted). */
  start(sinceStartMs: number, adopted: boolean): void {
    this.startedAt = this.clock.now() - sinceStartMs;
    if (this.probes.startup) this.schedule("startup", sinceStartMs, adopted);
    else this.startMain(sinceStartMs, adopted);
  }

  private startMain(sinceStartMs: number, adopted: boolean): void {
    if (this.probes.liveness) this.schedule("liveness", sinceStartMs, adopted);
    if (this.probes.readiness) this.schedule("readiness", sinceStartMs, adopted);
  }

  /** Ready: no readiness probe, or its verdict; started: no startup probe, or its verdict. */
  get ready(): boolean {
    return this.started && (this.standing.get("readiness")?.ok ?? true);
  }

  get started(): boolean {
    return this.standing.get("startup")?.ok ?? true;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  /**
   * A container being stopped: liveness and startup stop, readiness goes on until it has
   * ended (the kubelet's), so that a container draining its listener is seen to be unready.
   */
  stopForTermination(): void {
    for (const kind of ["liveness", "startup"] as const) {
      this.halted.add(kind);
      const t = this.timers.get(kind);
      if (t !== undefined) this.clock.clearTimeout(t);
      this.timers.delete(kind);
    }
  }

  private readonly halted = new Set<ProbeKind>();

  private schedule(kind: ProbeKind, sinceStartMs: number, adopted: boolean): void {
    this.arm(kind, firstDelayMs(this.timing.get(kind)!, sinceStartMs, adopted, this.random));
  }

  private arm(kind: ProbeKind, delayMs: number): void {
    if (this.stopped || this.halted.has(kind)) return;
    this.timers.set(kind, this.clock.setTimeout(() => void this.tick(kind), delayMs));
  }

  private async tick(kind: ProbeKind): Promise<void> {
    const probe = this.probes[kind]!;
    const t = this.timing.get(kind)!;
    let r: ProbeRun;
    try {
      r = await this.runOne(kind, probe, t.timeoutMs);
    } catch (err) {
      r = { ok: false, output: (err as Error).message, error: true };
    }
    if (this.stopped || this.halted.has(kind)) return;
    if (r.error) {
      this.on.errored(kind, r.output);
      this.arm(kind, t.periodMs);
      return;
    }
    if (!r.ok) this.on.failed(kind, r.output);
    else if (r.warning) this.on.warned(kind, r.warning);
    const { standing, changed } = record(this.standing.get(kind)!, r.ok, t);
    this.standing.set(kind, standing);
    if (changed && kind !== "liveness") this.on.changed(kind, standing.ok);
    // failureThreshold failures in a row of a probe that kills: counted by failures, not by a
    // change of verdict (a startup probe starts failed, so its verdict never changes).
    if (kind !== "readiness" && !r.ok && standing.failures >= t.failureThreshold) {
      this.stop();
      this.on.exhausted(kind);
      return;
    }
    if (this.stopped) return;
    // A startup probe that succeeded is done; liveness and readiness begin, each after what is
    // left of its initial delay, counted from the container's start.
    if (kind === "startup" && standing.ok) {
      this.startMain(this.clock.now() - this.startedAt, false);
      return;
    }
    this.arm(kind, t.periodMs);
  }
}
