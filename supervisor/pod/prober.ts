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
}

export interface ProberEvents {
  /** one probe failed (the kubelet's Unhealthy event, for every failed run) */
  failed(kind: ProbeKind, output: string): void;
  /** a success the kubelet warns about (ProbeWarning) */
  warned(kind: ProbeKind, warning: string): void;
  /** the verdict changed: ready, started, or alive (false: failureThreshold reached) */
  changed(kind: ProbeKind, ok: boolean): void;
}

export class ContainerProber {
  private readonly standing = new Map<ProbeKind, ProbeStanding>();
  private readonly timers = new Map<ProbeKind, unknown>();
  private stopped = false;

  constructor(
    private readonly probes: Partial<Record<ProbeKind, Probe>>,
    private readonly clock: Clock,
    private readonly runOne: (kind: ProbeKind, probe: Probe, timeoutMs: number) => Promise<ProbeRun>,
    private readonly on: ProberEvents,
    private readonly random: () => number = Math.random,
  ) {
    for (const kind of Object.keys(probes) as ProbeKind[]) this.standing.set(kind, initialStanding(kind));
  }

  /** Starts probing a container that started sinceStartMs ago (a daemon that took it up: adopted). */
  start(sinceStartMs: number, adopted: boolean): void {
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

  private schedule(kind: ProbeKind, sinceStartMs: number, adopted: boolean): void {
    const probe = this.probes[kind]!;
    this.arm(kind, firstDelayMs(probeTiming(probe), sinceStartMs, adopted, this.random));
  }

  private arm(kind: ProbeKind, delayMs: number): void {
    if (this.stopped) return;
    this.timers.set(kind, this.clock.setTimeout(() => void this.tick(kind), delayMs));
  }

  private async tick(kind: ProbeKind): Promise<void> {
    const probe = this.probes[kind]!;
    const t = probeTiming(probe);
    let r: ProbeRun;
    try {
      r = await this.runOne(kind, probe, t.timeoutMs);
    } catch (err) {
      r = { ok: false, output: (err as Error).message };
    }
    if (this.stopped) return;
    if (!r.ok) this.on.failed(kind, r.output);
    else if (r.warning) this.on.warned(kind, r.warning);
    const { standing, changed } = record(this.standing.get(kind)!, r.ok, t);
    this.standing.set(kind, standing);
    if (changed) this.on.changed(kind, standing.ok);
    if (this.stopped) return;
    // A startup probe that succeeded is done; liveness and readiness begin (their initial
    // delays count from the container's start, which is behind us).
    if (kind === "startup" && standing.ok) {
      this.startMain(Number.MAX_SAFE_INTEGER, false);
      return;
    }
    this.arm(kind, t.periodMs);
  }
}
