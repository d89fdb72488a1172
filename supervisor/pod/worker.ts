// One pod's reconcile loop: plan (pod/lifecycle.ts, pure) → apply the actions (runtime/runtime.ts) →
// plan again whenever something happens (a container started or exited, a back-off or the
// deadline came due, a delete was asked for). Work on one pod is serialised: a change that
// arrives while actions are being applied makes the loop run once more, never concurrently.
import type { CredentialsOf } from "../runtime/images/registry.ts";
import { type Clock } from "../base/time.ts";
import { randomBytes } from "node:crypto";
import type { Container, LifecycleHandler } from "../../pod-specs/types.ts";
import { rejectedMessage, type Admission } from "./admission.ts";
import type { EventBus, PodEvent } from "../daemon/events.ts";
import { ConfigError, CreateError } from "../runtime/launch.ts";
import {
  isAlive,
  MINIMUM_GRACE_MS,
  newContainerRecord,
  planPod,
  podGraceSeconds,
  recordBackOff,
  recordExit,
  recordRunning,
  recordStarting,
  recordStopping,
  type ContainerRecord,
  type ObservedPod,
  type PodAction,
  type Termination,
} from "./lifecycle.ts";
import type { BackOffConfig, BackOffEntry } from "./restart-policy.ts";
import { podRef, type BoundPod, type ContainerRun } from "../runtime/runtime.ts";
import type { PodRuntime } from "./pod-runtime.ts";
import type { SavedPod } from "../runtime/records.ts";
import type { Image } from "../runtime/images/store.ts";
import { MountError } from "../runtime/volumes.ts";
import { SandboxError } from "../runtime/sandbox.ts";
import { buildPodStatus } from "../status/pod-status.ts";
import type { PodStatus } from "../status/types.ts";
import { trace } from "../base/trace.ts";
import { ContainerProber } from "./prober.ts";
import { probesOf, probeTitle, type ProbeKind } from "./probes.ts";
import type { ProbedState } from "../status/pod-status.ts";

/** A Pod with its status, as `kubectl get pod -o json` prints it. */
export type PodObject = Omit<BoundPod, "status"> & { status: PodStatus };

/** A container held before it could start (image missing, bad config, a volume): Waiting. */
export interface Held {
  reason: string;
  message: string;
  retryAtMs: number;
}

/** How long a container held by a missing image or a failed mount waits before trying again. */
const HOLD_RETRY_MS = 10_000;

export interface LiveContainer {
  run: ContainerRun;
  containerID: string;
  /** taken over from an earlier daemon: its postStart hook has run already */
  adopted?: boolean;
  pid1?: number;
  startedAtMs?: number;
  killTimer?: unknown;
  /** when killTimer fires (clock ms) */
  killAtMs?: number;
  /** the instance's probes, while it runs */
  prober?: ContainerProber;
  /** while its postStart hook runs: a stop cancels the hook, as the kubelet does */
  postStart?: AbortController;
  /** its postStart failed and it was killed: not to be stopped again while its exit comes */
  postStartFailed?: boolean;
}

export class PodWorker {
  readonly observed: ObservedPod;
  readonly held = new Map<string, Held>();
  readonly live = new Map<string, LiveContainer>();
  /** refused by admission: no container was ever created, so none has a status */
  private rejected = false;
  /** ended.json is written (see saveEnded) */
  private endedSaved = false;
  /** the last action failure, shown in status.message (like a kubelet sync error) */
  lastError: string | undefined;
  private lastStatus: PodStatus | undefined;

  private busy = false;
  private again = false;
  private wakeTimer: unknown;
  private finished = false;
  private resolveDone!: () => void;
  /** resolves once the pod is terminal (or deleted) and its sandbox has been released */
  readonly done: Promise<void>;

  constructor(
    readonly pod: BoundPod,
    private readonly runtime: PodRuntime,
    private readonly events: EventBus,
    private readonly clock: Clock,
    private readonly backOff: BackOffConfig,
  ) {
    this.observed = { sandboxReady: false, containers: {} };
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  start(): void {
    (this.observed as { startTimeMs?: number }).startTimeMs = this.clock.now();
    this.kick();
  }

  /** Whether the pod still holds what it requests of the node: it was admitted and has not ended. */
  get active(): boolean {
    return this.observed.terminal === undefined && !this.finished;
  }

  /**
   * Refused by the node's admission: Failed for good with the kubelet's reason (OutOfcpu, …),
   * an event with the admission's message, and nothing created, not even the run dir.
   */
  reject(reason: string, message: string): void {
    this.rejected = true;
    Object.assign(this.observed, { startTimeMs: this.clock.now(), terminal: { phase: "Failed", reason, message: rejectedMessage(message) } });
    this.emit("Warning", reason, message);
    this.save();
    this.events.emit("podChanged", this.pod.metadata.namespace, this.pod.metadata.name);
    this.checkDone();
  }

  /**
   * Graceful delete: every container gets the grace period, then a cgroup kill. A later delete
   * may shorten the grace period, never lengthen it (as the API server allows): a container
   * already stopping is killed by the new deadline if that comes first.
   */
  /** aborted when the pod is deleted: what waits on a pull for it stops waiting */
  private readonly pullsAbandoned = new AbortController();

  delete(gracePeriodSeconds?: number): void {
    if (this.observed.deletionRequestedAtMs !== undefined) {
      if (gracePeriodSeconds === undefined || gracePeriodSeconds * 1000 >= this.graceMs()) return;
      this.pod.spec.terminationGracePeriodSeconds = gracePeriodSeconds;
      const ms = Math.max(MINIMUM_GRACE_MS, gracePeriodSeconds * 1000);
      const killAt = this.clock.now() + ms;
      for (const [name, live] of this.live) {
        if (live.killAtMs === undefined || live.killAtMs <= killAt) continue;
        this.clock.clearTimeout(live.killTimer);
        this.armKill(name, live, ms);
      }
      this.kick();
      return;
    }
    if (gracePeriodSeconds !== undefined) this.pod.spec.terminationGracePeriodSeconds = gracePeriodSeconds;
    (this.observed as { deletionRequestedAtMs?: number }).deletionRequestedAtMs = this.clock.now();
    // A pull the pod waits on must not hold its deletion: the pull goes on for the store.
    this.pullsAbandoned.abort();
    this.kick();
  }

  container(name: string): Container | undefined {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find((c) => c.name === name);
  }

  record(name: string): ContainerRecord {
    return this.observed.containers[name] ?? newContainerRecord();
  }

  private setRecord(name: string, rec: ContainerRecord): void {
    (this.observed.containers as Record<string, ContainerRecord>)[name] = rec;
  }

  private emit(type: PodEvent["type"], reason: string, message: string, container?: string): void {
    const m = this.pod.metadata;
    this.events.emit("event", {
      time: this.clock.now(),
      type,
      reason,
      message,
      namespace: m.namespace,
      pod: m.name,
      podUid: m.uid,
      ...(container ? { container } : {}),
    });
  }

  /**
   * An object the pod refers to changed (a ConfigMap, a Secret, a claim): what waits on it (a
   * container in CreateContainerConfigError, a sandbox whose volume could not be set up) is
   * tried again now rather than at its next retry.
   */
  retryHeld(): void {
    if (this.held.size === 0 && this.lastError === undefined) return;
    for (const h of this.held.values()) h.retryAtMs = 0;
    this.kick();
  }

  /** Plans and applies until nothing changes; concurrent kicks fold into one more round. */
  kick(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const now = this.clock.now();
        const notStarted = new Set([...this.live].filter(([, l]) => l.prober && !l.prober.started).map(([n]) => n));
        const plan = planPod(this.pod, this.observed, now, { backOff: this.backOff, notStarted });
        // An applied action changes the observed state, which the next plan must see (the
        // sandbox is up: start the first container). One that changed nothing (a held
        // start) must not, or this would spin.
        for (const action of plan.actions) if (await this.apply(action)) this.again = true;
        let wakeAt = plan.wakeAtMs;
        for (const h of this.held.values()) wakeAt = wakeAt === undefined ? h.retryAtMs : Math.min(wakeAt, h.retryAtMs);
        this.schedule(wakeAt);
        this.save();
        this.events.emit("podChanged", this.pod.metadata.namespace, this.pod.metadata.name);
      } while (this.again);
    } catch (err) {
      this.lastError = (err as Error).message;
      // A volume that cannot be set up fails the sandbox before any container exists: the
      // kubelet reports that as FailedMount (and keeps retrying), not as a sync error.
      if (err instanceof MountError) this.emit("Warning", "FailedMount", this.lastError);
      else if (err instanceof SandboxError) this.emit("Warning", "FailedCreatePodSandBox", `Failed to create pod sandbox: ${this.lastError}`);
      else this.emit("Warning", "FailedSync", `error syncing pod: ${this.lastError}`);
      // Try again later rather than spin: the failure is probably not going away at once.
      this.schedule(this.clock.now() + HOLD_RETRY_MS);
    } finally {
      this.busy = false;
    }
    if (this.again) this.kick();
    this.checkDone();
  }

  private schedule(at: number | undefined): void {
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (at === undefined || this.finished) return;
    this.wakeTimer = this.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.kick();
    }, Math.max(0, at - this.clock.now()));
  }

  private checkDone(): void {
    if (this.finished) return;
    const over = this.observed.terminal !== undefined || this.observed.deletionRequestedAtMs !== undefined;
    if (over && !this.observed.sandboxReady && this.live.size === 0) {
      this.finished = true;
      this.schedule(undefined);
      this.resolveDone();
    }
  }

  /** Applies one action; true when it changed the observed state. */
  private async apply(a: PodAction): Promise<boolean> {
    const now = this.clock.now();
    switch (a.type) {
      case "CreateSandbox": {
        const { podIPs } = await this.runtime.createSandbox(this.pod);
        Object.assign(this.observed, { sandboxReady: true, podIPs });
        this.lastError = undefined;
        return true;
      }
      case "StopSandbox":
        await this.runtime.stopSandbox(this.pod);
        (this.observed as { sandboxReady: boolean }).sandboxReady = false;
        return true;
      case "SucceedPod":
      case "FailPod": {
        const phase = a.type === "SucceedPod" ? "Succeeded" : "Failed";
        const terminal: NonNullable<ObservedPod["terminal"]> = { phase };
        if (a.type === "FailPod" && a.reason) terminal.reason = a.reason;
        if (a.type === "FailPod" && a.message) terminal.message = a.message;
        Object.assign(this.observed, { terminal, terminatingSinceMs: this.observed.terminatingSinceMs ?? now });
        if (a.type === "FailPod" && a.reason) this.emit("Warning", a.reason, a.message ?? a.reason);
        // Before StopSandbox, which comes in the same plan and takes observed.json with it.
        this.saveEnded();
        return true;
      }
      case "BackOff":
        this.setRecord(a.container, recordBackOff(a.container, this.record(a.container), a));
        this.emit("Warning", "BackOff", `Back-off restarting failed container ${a.container} in pod ${this.pod.metadata.name}_${this.pod.metadata.namespace}(${this.pod.metadata.uid})`, a.container);
        return true;
      case "StartContainer":
        return this.startContainer(a.container, a.backOff);
      case "StopContainer":
        return this.stopContainer(a.container, a.gracePeriodMs);
    }
  }

  private async startContainer(name: string, backOff: BackOffEntry | undefined): Promise<boolean> {
    const subject = `${this.pod.metadata.namespace}/${this.pod.metadata.name}/${name}`;
    trace("decided", subject);
    const now = this.clock.now();
    const held = this.held.get(name);
    if (held && held.retryAtMs > now) return false;
    const c = this.container(name)!;
    let image: Image | "host" = "host";
    // Read when a registry first asks, so that a pull secret missing is warned of only when a
    // pull needs it (not at every start of a container whose image is present).
    let resolved: CredentialsOf | undefined | null = null;
    const credentials: CredentialsOf | undefined = this.pod.spec.imagePullSecrets?.length
      ? (host) => (resolved === null ? (resolved = this.runtime.pullCredentials(this.pod)) : resolved)?.(host)
      : undefined;
    if (c.image !== "host") {
      const got = await this.runtime.images.ensure(c.image, c.imagePullPolicy ?? "IfNotPresent", this.pod.metadata.uid, (type, reason, message) => this.emit(type, reason, message, name), this.pullsAbandoned.signal, credentials);
      if ("retryAtMs" in got) {
        // ensure() told it in events already, as the kubelet's image manager does.
        this.held.set(name, { reason: got.reason, message: got.message, retryAtMs: got.retryAtMs });
        return false;
      }
      image = got;
    }
    // The pod's image volumes, pulled as their pullPolicy says, before any of its containers needs them.
    const volumeImages = new Map<string, Image>();
    for (const v of this.pod.spec.volumes ?? []) {
      if (!v.image?.reference) continue;
      const got = await this.runtime.images.ensure(v.image.reference, v.image.pullPolicy ?? "IfNotPresent", this.pod.metadata.uid, (type, reason, message) => this.emit(type, reason, message, name), this.pullsAbandoned.signal, credentials);
      if ("retryAtMs" in got) {
        this.held.set(name, { reason: got.reason, message: got.message, retryAtMs: got.retryAtMs });
        return false;
      }
      volumeImages.set(v.name, got);
    }
    const rec = this.record(name);
    let run: ContainerRun;
    try {
      run = await this.runtime.startContainer(this.pod, c, image, rec.restartCount + (rec.lifecycle.state === "Terminated" || rec.lastTermination ? 1 : 0), volumeImages);
    } catch (err) {
      if (err instanceof ConfigError) return this.hold(name, "CreateContainerConfigError", err.message, "Warning");
      if (err instanceof CreateError) return this.hold(name, "CreateContainerError", err.message, "Warning", "Failed");
      if (err instanceof MountError) return this.hold(name, "ContainerCreating", err.message, "Warning", "FailedMount");
      throw err;
    }
    trace("spawned", subject);
    this.held.delete(name);
    this.setRecord(name, recordStarting(name, this.record(name), now, backOff, run.user));
    const live: LiveContainer = { run, containerID: randomBytes(32).toString("hex") };
    this.runtime.recordRun(run, live.containerID);
    this.live.set(name, live);
    this.emit("Normal", "Created", `Created container ${name}`, name);
    this.events.emit("runStarted", this.pod.metadata.uid, this.pod.metadata.name, name, run.logPath);
    void this.followSafely(name, live);
    return true;
  }

  private followSafely(name: string, live: LiveContainer): Promise<void> {
    return this.follow(name, live).catch((err: unknown) => {
      // Keep the pod moving: the failure is reported, and the next sync retries what it can.
      this.lastError = (err as Error).message;
      this.emit("Warning", "FailedSync", `container ${name}: ${this.lastError}`, name);
      this.kick();
    });
  }

  /** Holds a container in Waiting with a reason; retried later. Changes no lifecycle state. */
  private hold(name: string, reason: string, message: string, type: PodEvent["type"], eventReason = reason): false {
    const first = this.held.get(name)?.message !== message;
    this.held.set(name, { reason, message, retryAtMs: this.clock.now() + HOLD_RETRY_MS });
    if (first) this.emit(type, eventReason, message, name);
    return false;
  }

  /**
   * A lifecycle hook, bounded by timeoutMs: exec runs the command inside the container; httpGet
   * is the HTTP probe's GET, from the daemon to the pod; sleep
   * (the kubelet's sleep action, often a preStop that lets a load balancer drain) waits on the
   * injected clock. The validator refuses the kinds podd cannot run yet.
   */
  private async runHook(name: string, hook: LifecycleHandler, pid1: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // As the command was started: the groups of the image's /etc/group come from its start.
    const container = this.container(name);
    if (hook.exec?.command && container) return this.runtime.execIn(pid1, this.runtime.execIdentity(this.pod, container, this.record(name).user), hook.exec.command, timeoutMs, signal);
    // The HTTP hook is bounded by timeoutMs alone: once the stop has ended the container, its
    // address refuses the GET at once.
    if (hook.httpGet && container) return this.runtime.httpHook(this.pod, container, hook.httpGet, timeoutMs);
    if (hook.sleep) {
      await new Promise<void>((resolve, reject) => {
        const timer = this.clock.setTimeout(resolve, Math.min(hook.sleep!.seconds * 1000, timeoutMs));
        signal?.addEventListener("abort", () => {
          this.clock.clearTimeout(timer);
          reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled"));
        }, { once: true });
      });
    }
  }

  /** Waits for the container's start, runs postStart, then waits for its end. */
  private async follow(name: string, live: LiveContainer): Promise<void> {
    const start = await live.run.monitor.started;
    if (start) {
      trace("execd", `${this.pod.metadata.namespace}/${this.pod.metadata.name}/${name}`, start.startedAt);
      live.pid1 = start.pid1;
      live.startedAtMs = Date.parse(start.startedAt);
      // A stop asked for before the exec waited for it (stopContainer): it can be planned now.
      this.kick();
      const hook = this.container(name)?.lifecycle?.postStart;
      let hookFailed = false;
      if (hook && !live.adopted && this.record(name).lifecycle.state === "Starting") {
        live.postStart = new AbortController();
        try {
          await this.runHook(name, hook, start.pid1, this.graceMs(), live.postStart.signal);
        } catch (err) {
          hookFailed = true;
          // Cancelled by a stop, the kubelet reports it too; the stop's grace period goes on.
          this.emit("Warning", "FailedPostStartHook", `PostStartHook failed: ${(err as Error).message}`, name);
          if (this.record(name).lifecycle.state !== "Stopping") {
            live.postStartFailed = true;
            await this.runtime.killContainer(this.pod, name);
          }
        } finally {
          live.postStart = undefined;
        }
      }
      // A container whose postStart failed has just been killed: it never was Running, and
      // showing it so would make its status lie; stopContainer leaves it alone (postStartFailed).
      if (!hookFailed && this.record(name).lifecycle.state === "Starting") {
        this.setRecord(name, recordRunning(name, this.record(name), live.startedAtMs, { containerID: live.containerID, ...(live.run.imageID ? { imageID: live.run.imageID } : {}) }));
        this.emit("Normal", "Started", `Started container ${name}`, name);
      }
      if (!hookFailed && this.record(name).lifecycle.state === "Running") this.startProbes(name, live);
      this.kick();
    }
    await live.run.monitor.ended;
    live.prober?.stop();
    if (live.killTimer !== undefined) this.clock.clearTimeout(live.killTimer);
    const exit = await this.runtime.finishContainer(this.pod, name, live.run);
    trace("finished", `${this.pod.metadata.namespace}/${this.pod.metadata.name}/${name}`, exit.finishedAt);
    const finishedAtMs = Date.parse(exit.finishedAt);
    const termination: Termination = {
      exitCode: exit.exitCode,
      reason: exit.reason,
      finishedAtMs,
      ...(exit.signal ? { signal: exit.signal } : {}),
      ...(exit.message ? { message: exit.message } : {}),
      ...(start ? { startedAtMs: Date.parse(start.startedAt) } : {}),
      containerID: live.containerID,
    };
    this.live.delete(name);
    this.events.emit("runEnded", this.pod.metadata.uid, this.pod.metadata.name, name, live.run.logPath);
    const stopped = this.record(name).lifecycle.state === "Stopping";
    this.setRecord(name, recordExit(name, this.record(name), termination));
    if (exit.reason === "StartError") this.emit("Warning", "Failed", `Error: ${exit.message}`, name);
    else if (exit.reason === "OOMKilled") this.emit("Warning", "OOMKilled", `Container ${name} was OOM-killed (exit code ${exit.exitCode})`, name);
    // The reason is the one the container's status shows; an exit podd asked for (a stop) is
    // not a warning, whatever its code.
    else this.emit(exit.exitCode === 0 || stopped ? "Normal" : "Warning", exit.exitCode === 0 ? "Completed" : "Error", `Container ${name} exited with code ${exit.exitCode}${exit.signal ? ` (signal ${exit.signal})` : ""}`, name);
    this.kick();
  }

  private graceMs(): number {
    return podGraceSeconds(this.pod.spec) * 1000;
  }

  /** The end of the grace period: a cgroup kill of everything the container runs. */
  private armKill(name: string, live: LiveContainer, ms: number): void {
    if (live.killTimer !== undefined) this.clock.clearTimeout(live.killTimer);
    live.killAtMs = this.clock.now() + ms;
    live.killTimer = this.clock.setTimeout(() => {
      void this.runtime.killContainer(this.pod, name).catch((err: unknown) => {
        this.emit("Warning", "FailedKillPod", `error killing container ${name}: ${(err as Error).message}`, name);
      });
    }, ms);
  }

  private async stopContainer(name: string, gracePeriodMs: number): Promise<boolean> {
    const live = this.live.get(name);
    const rec = this.record(name);
    if (!live || (rec.lifecycle.state !== "Running" && rec.lifecycle.state !== "Starting")) return false;
    // Starting: not before the exec (the monitor takes signals only once PID 1 runs; follow()
    // plans again then), nor once a failed postStart has killed it (its exit is on its way).
    if (rec.lifecycle.state === "Starting" && (live.pid1 === undefined || live.postStartFailed)) return false;
    this.setRecord(name, recordStopping(name, rec, this.clock.now(), live.startedAtMs));
    this.emit("Normal", "Killing", `Stopping container ${name}`, name);
    live.postStart?.abort(new Error("the container is being stopped"));
    this.terminate(name, live, gracePeriodMs);
    return true;
  }

  /**
   * preStop, then the stop signal, then a cgroup kill when the grace period ends; the record is
   * left as it is (a stop sets Stopping first, a failed liveness probe does not: its exit is a
   * failure the restart policy answers).
   */
  private terminate(name: string, live: LiveContainer, gracePeriodMs: number): void {
    live.prober?.stopForTermination();
    // Already being stopped (a probe's kill, then a delete): only a nearer deadline counts;
    // preStop and the signal are not sent again.
    if (live.killAtMs !== undefined) {
      if (this.clock.now() + gracePeriodMs < live.killAtMs) this.armKill(name, live, gracePeriodMs);
      return;
    }
    const deadline = this.clock.now() + gracePeriodMs;
    this.armKill(name, live, gracePeriodMs);
    const preStop = this.container(name)?.lifecycle?.preStop;
    // preStop runs inside the grace period; SIGTERM follows it (or its time running out).
    const term = async () => {
      if (preStop && live.pid1) {
        try {
          await this.runHook(name, preStop, live.pid1, Math.max(0, deadline - this.clock.now()));
        } catch (err) {
          this.emit("Warning", "FailedPreStopHook", `PreStopHook failed: ${(err as Error).message}`, name);
        }
      }
      live.run.monitor.signal(live.run.stopSignal ?? this.runtime.stopSignalOf(this.container(name)?.image ?? "host"));
    };
    void term().catch((err: unknown) => {
      this.emit("Warning", "FailedKillPod", `error stopping container ${name}: ${(err as Error).message}`, name);
    });
  }

  /**
   * The container's probes, from its start on (for an adopted one, from now, with the counts
   * afresh and the first runs spread over a period, as after a kubelet restart).
   */
  private startProbes(name: string, live: LiveContainer): void {
    const c = this.container(name);
    if (!c || live.prober) return;
    const probes = probesOf(c);
    if (Object.keys(probes).length === 0) return;
    // Made at the first run, when the container's PID 1 and user are known.
    let check: ReturnType<PodRuntime["prober"]> | undefined;
    live.prober = new ContainerProber(
      probes,
      this.clock,
      (kind, probe, timeoutMs) => (check ??= this.runtime.prober(this.pod, c, live.pid1 ?? 0, this.record(name).user))(probe, timeoutMs),
      {
        failed: (kind, output) => this.emit("Warning", "Unhealthy", `${probeTitle(kind)} probe failed: ${output}`, name),
        errored: (kind, why) => this.emit("Warning", "Unhealthy", `${probeTitle(kind)} probe errored: ${why}`, name),
        warned: (kind, warning) => this.emit("Warning", "ProbeWarning", `${probeTitle(kind)} probe warning: ${warning}`, name),
        changed: (kind, ok) => {
          this.events.emit("podChanged", this.pod.metadata.namespace, this.pod.metadata.name);
          // A sidecar that has started lets the next init container go.
          if (kind === "startup" && ok) this.kick();
        },
        exhausted: (kind) => this.killForProbe(name, live, kind),
      },
    );
    // startedAtMs is the monitor's wall-clock record; the daemon's clock is the wall clock too.
    live.prober.start(this.clock.now() - (live.startedAtMs ?? this.clock.now()), live.adopted === true);
  }

  /** A failed liveness or startup probe: the container is stopped, and its exit answered by the restart policy. */
  private killForProbe(name: string, live: LiveContainer, kind: ProbeKind): void {
    if (this.record(name).lifecycle.state !== "Running") return;
    const probe = kind === "startup" ? this.container(name)?.startupProbe : this.container(name)?.livenessProbe;
    const grace = probe?.terminationGracePeriodSeconds ?? podGraceSeconds(this.pod.spec);
    // The kubelet says "will be restarted" only when the restart policy will restart it.
    const sidecar = (this.pod.spec.initContainers ?? []).some((c) => c.name === name && c.restartPolicy === "Always");
    const restarts = sidecar || (this.pod.spec.restartPolicy ?? "Always") !== "Never";
    this.emit("Normal", "Killing", `Container ${name} failed ${kind} probe${restarts ? ", will be restarted" : ""}`, name);
    this.terminate(name, live, Math.max(MINIMUM_GRACE_MS, grace * 1000));
  }

  /**
   * The probe verdicts of the running containers that have probes; one whose probes have not
   * begun yet (an adopted container before its start record is read) is neither started nor
   * ready: it is not reported ready until a probe says so.
   */
  private probedOrUnready(): Record<string, ProbedState> {
    const out: Record<string, ProbedState> = {};
    for (const [name, live] of this.live) {
      const c = this.container(name);
      if (live.prober) out[name] = { started: live.prober.started, ready: live.prober.ready };
      else if (c && (c.readinessProbe || c.startupProbe)) out[name] = { started: !c.startupProbe, ready: false };
    }
    return out;
  }

  ref() {
    return podRef(this.pod);
  }

  /**
   * What was observed, in the run root, so that a daemon that crashed and came back continues
   * restart counts and back-off; once the sandbox is up its run dir must be there to take it.
   */
  private save(): void {
    this.saveEnded();
    const saved: SavedPod<ObservedPod> = { uid: this.pod.metadata.uid, observed: this.observed };
    this.runtime.records.saveObserved(this.ref(), saved, this.observed.sandboxReady);
  }

  /**
   * A pod that ended by itself (or was rejected) stays ended, as a node's API server keeps a
   * Failed or Succeeded pod: its final state goes to the state root as soon as no container
   * runs, before the sandbox (and the run dir, observed.json with it) goes, so that a restarted
   * daemon neither runs it again nor forgets how its containers ended, whenever it crashed. A
   * pod stopped by a delete or --stop-pods-on-exit is not ended that way, and is not recorded.
   */
  private saveEnded(): void {
    if (this.endedSaved || !this.observed.terminal || this.live.size > 0 || this.observed.deletionRequestedAtMs !== undefined) return;
    const saved: SavedPod<ObservedPod> = { uid: this.pod.metadata.uid, observed: this.observed, ...(this.rejected ? { rejected: true } : {}) };
    this.runtime.records.saveEnded(this.ref(), saved);
    this.endedSaved = true;
  }

  /**
   * Takes up a pod a previous daemon ran: its observed state from the run root, and every
   * container that still runs, by monitor pid checked against its start time and then watched
   * by pidfd. Nothing that still runs is restarted; a container that ended meanwhile is
   * resolved from its exit record (or, with none, as ContainerStatusUnknown).
   */
  restore(admit: () => Admission, lost: readonly string[] = []): void {
    const saved = this.runtime.records.readObserved<ObservedPod>(this.ref());
    const ended = saved ? undefined : this.runtime.records.readEnded<ObservedPod>(this.ref());
    // Containers that ran while their records in the run root were removed: their instances
    // are gone (the daemon ended what was left of them), and they count as ended, with the
    // kubelet's reason for a container it cannot find, so that the next start is a restart.
    if (!saved && !ended) {
      const now = this.clock.now();
      for (const name of lost) {
        this.setRecord(name, {
          ...newContainerRecord(),
          lastTermination: { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was taken up: its runtime record under the run root was removed", finishedAtMs: now },
        });
        this.emit("Warning", "ContainerStatusUnknown", `Container ${name} was running when its runtime record under the run root was removed; it is recreated as its restart policy says`, name);
      }
    }
    if (ended) {
      Object.assign(this.observed, ended.observed);
      this.rejected = ended.rejected ?? false;
      this.endedSaved = true;
      // Saved while the sandbox was still up: a crash may have left it, which the plan stops.
      this.kick();
      return;
    }
    // Nothing ran: the pod is new to this node, and admitted as any new pod is.
    if (!saved) {
      const verdict = admit();
      if (verdict.admit) this.start();
      else this.reject(verdict.reason, verdict.message);
      return;
    }
    Object.assign(this.observed, saved.observed);
    // A stop the desired state does not ask for (--stop-pods-on-exit cut short by a crash) is
    // not carried over: the pod is wanted, so it goes on; what was stopped restarts per policy.
    if (!this.pod.metadata.deletionTimestamp) delete (this.observed as { deletionRequestedAtMs?: number }).deletionRequestedAtMs;
    for (const [name, rec] of Object.entries(this.observed.containers)) {
      if (!rec || !isAlive(rec)) continue;
      const { run, containerID, running } = this.runtime.adoptContainer(this.pod, name);
      const live: LiveContainer = { run, containerID, adopted: true };
      this.live.set(name, live);
      if (rec.lifecycle.state === "Stopping") this.armKill(name, live, this.graceMs());
      this.emit("Normal", running ? "Adopted" : "Lost", running ? `Adopted running container ${name}` : `Container ${name} ended while podd was away`, name);
      void this.followSafely(name, live);
    }
    if (this.observed.sandboxReady) void this.adoptSandbox();
    this.kick();
  }

  /** The sandbox's addresses and hosts-file entry taken up, and its network attachment checked. */
  private async adoptSandbox(): Promise<void> {
    try {
      const { podIPs, checkFailed } = await this.runtime.adoptSandbox(this.pod);
      if (podIPs.length) Object.assign(this.observed, { podIPs });
      if (checkFailed) this.emit("Warning", "NetworkNotReady", `the pod's network attachment is not as it was made: ${checkFailed}`);
    } catch (err) {
      this.emit("Warning", "FailedSync", `take up the pod's network: ${(err as Error).message}`);
    }
    this.events.emit("podChanged", this.pod.metadata.namespace, this.pod.metadata.name);
  }

  /** The Pod as the API shows it: spec as applied, status as the kubelet would report it. */
  toObject(now = this.clock.now()): PodObject {
    const status = buildPodStatus(this.pod, this.observed, now, {
      previous: this.lastStatus,
      hostIP: this.runtime.node.hostIP,
      ...(this.observed.podIPs ? { podIPs: this.observed.podIPs } : {}),
      probes: this.probedOrUnready(),
    });
    // A container held before its first start shows why, as the kubelet's Waiting reasons do.
    for (const s of [...(status.initContainerStatuses ?? []), ...status.containerStatuses]) {
      const held = this.held.get(s.name);
      if (held && s.state.waiting) s.state.waiting = { reason: held.reason, message: held.message };
    }
    // As the kubelet's rejectPod sets it: the phase, reason and message, no container statuses
    // (kubectl's STATUS column then shows the reason, not a container's Waiting).
    if (this.rejected) {
      status.containerStatuses = [];
      delete status.initContainerStatuses;
    }
    // Why a pod never got going (a volume, a sandbox), as the kubelet's sync errors show; also
    // on a pod stopped for good before it did, which is Failed with no reason of its own.
    if (this.lastError && !status.message && (status.phase === "Pending" || (status.phase === "Failed" && !status.reason))) status.message = this.lastError;
    this.lastStatus = status;
    return { ...this.pod, status };
  }
}
