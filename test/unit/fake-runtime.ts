// A scripted PodRuntime for tests that run without root: sandboxes and containers are records
// in memory, a container runs until the test ends it (or for as long as its script says, on the
// injected clock), answers its stop signal unless told to ignore it, and dies at once on a kill.
// Times are recorded to the millisecond, as podd-init records them. Images are present unless
// the test says a pull fails. Every effect is logged in `calls`, so that a test can check what
// the worker asked for, in order. The same fake handed to a second supervisor is what a daemon
// restart finds: the containers still running, the records saved.
import { constants as osConstants } from "node:os";
import type { Container, HTTPGetAction, Probe } from "../../pod-specs/types.ts";
import { execIdentityArgs, execSecurity } from "../../pod-specs/security.ts";
import { appendFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { boundLogRoot } from "../../supervisor/runtime/logs.ts";
import { Layout, type PodRef, type Roots } from "../../supervisor/base/paths.ts";
import { PoddError } from "../../supervisor/base/errors.ts";
import { rfc3339Millis, type Clock } from "../../supervisor/base/time.ts";
import type { PodRecordStore } from "../../supervisor/pod/pod-runtime.ts";
import type { DaemonRuntime } from "../../supervisor/daemon/daemon-runtime.ts";
import { Images, type ImageEvent, type ImageHold } from "../../supervisor/runtime/images/service.ts";
import type { PullPolicy } from "../../supervisor/runtime/images/service.ts";
import type { CredentialsOf } from "../../supervisor/runtime/images/registry.ts";
import type { PodObjects } from "../../supervisor/runtime/config-volumes.ts";
import type { Image } from "../../supervisor/runtime/images/store.ts";
import type { ProbeOutcome } from "../../supervisor/runtime/probe.ts";
import type { ExitRecord, SavedPod, StartRecord } from "../../supervisor/runtime/records.ts";
import type { BoundPod, ContainerRun, ContainerUser } from "../../supervisor/runtime/runtime.ts";
import type { SysctlAllowlist } from "../../supervisor/pod/admission.ts";

/** How one container behaves each time it starts. */
export interface ContainerScript {
  /** exits by itself this long after its start (clock ms), with exitCode */
  runsForMs?: number;
  exitCode?: number;
  /** never gets to exec: the run ends with a StartError carrying this message */
  startError?: string;
  /** startContainer itself throws this (a config or mount error, found before any process) */
  startThrows?: Error;
  /** the stop signal does nothing: only the kill at the grace period's end ends it */
  ignoresStop?: boolean;
  /** its command is exec'd this long after the start (clock ms): ContainerCreating until then */
  startsAfterMs?: number;
}

/** One run of a container, as the fake keeps it. */
export class FakeRun {
  exit: ExitRecord | undefined;
  readonly signals: NodeJS.Signals[] = [];
  private endNow!: () => void;
  readonly ended = new Promise<void>((resolve) => (this.endNow = resolve));
  readonly run: ContainerRun;
  containerID = "";
  /** the pod's uid */
  uid = "";

  constructor(
    readonly pod: string,
    readonly name: string,
    readonly restartCount: number,
    private readonly clock: Clock,
    readonly start: StartRecord | undefined,
    private readonly script: ContainerScript,
    readonly user: ContainerUser | undefined,
    logPath: string,
  ) {
    this.run = {
      monitor: {
        monitorPid: start?.monitorPid ?? 0,
        // A run that ends before its command is exec'd never started, as with podd-init.
        started: script.startsAfterMs === undefined ? Promise.resolve(start) : new Promise((resolve) => {
          clock.setTimeout(() => resolve(this.exit ? undefined : start), script.startsAfterMs!);
          void this.ended.then(() => resolve(undefined));
        }),
        ended: this.ended,
        stderr: () => this.exit?.message ?? "",
        signal: (sig) => this.signal(sig),
      },
      stateDir: `/fake/run/${pod}/${name}`,
      logPath,
      ...(user ? { user } : {}),
    };
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Ends the run with a code (or a signal: 128 + its number). */
  end(exitCode: number, signal = 0, reason = exitCode === 0 ? "Completed" : "Error", message = ""): void {
    if (this.exit) return;
    const now = rfc3339Millis(this.clock.now());
    this.exit = { exitCode, signal, startedAt: this.start?.startedAt ?? now, finishedAt: now, reason, message };
    this.endNow();
  }

  private signal(sig: NodeJS.Signals): boolean {
    if (this.exit) return false;
    this.signals.push(sig);
    if (!this.script.ignoresStop) this.end(128 + osConstants.signals[sig], osConstants.signals[sig]);
    return true;
  }
}

class MemoryRecords implements PodRecordStore {
  readonly observed = new Map<string, SavedPod>();
  readonly ended = new Map<string, SavedPod>();
  /** the pods whose run dir exists: from sandbox creation to its stop */
  readonly runDirs = new Set<string>();

  hasRunDir(p: PodRef): boolean {
    return this.runDirs.has(p.uid);
  }
  hasObserved(p: PodRef): boolean {
    return this.observed.has(p.uid);
  }
  saveObserved(p: PodRef, saved: SavedPod, mustHaveRunDir: boolean): void {
    if (!this.runDirs.has(p.uid)) {
      if (mustHaveRunDir) throw new Error(`open observed.json of ${p.name}: ENOENT`);
      return;
    }
    this.observed.set(p.uid, structuredClone(saved));
  }
  readObserved<O>(p: PodRef): SavedPod<O> | undefined {
    return structuredClone(this.observed.get(p.uid)) as SavedPod<O> | undefined;
  }
  saveEnded(p: PodRef, saved: SavedPod): void {
    this.ended.set(p.uid, structuredClone(saved));
  }
  readEnded<O>(p: PodRef): SavedPod<O> | undefined {
    return structuredClone(this.ended.get(p.uid)) as SavedPod<O> | undefined;
  }
}

/**
 * The image store over the fake's state root, as the image verbs use it; a container's image is
 * there when the store has it, fails to pull when the test says so, is missing under
 * imagePullPolicy Never, and is otherwise taken to be present (the fake runs nothing of it).
 */
class ScriptedImages extends Images {
  /** images whose pull fails, with the message */
  readonly failing = new Map<string, string>();

  constructor(dir: string, private readonly clock: Clock) {
    super({ dir, initPath: "podd-init", clock });
  }

  override async ensure(name: string, policy: PullPolicy, key: string, emit: ImageEvent, abandon?: AbortSignal, credentials?: CredentialsOf): Promise<Image | ImageHold> {
    const failure = this.failing.get(name);
    if (failure !== undefined) {
      emit("Warning", "Failed", `Failed to pull image "${name}": ${failure}`);
      return { reason: "ErrImagePull", message: failure, retryAtMs: this.clock.now() + 10_000 };
    }
    if (this.get(name) || policy === "Never") return super.ensure(name, policy, key, emit, abandon, credentials);
    return { name, id: `sha256:${"0".repeat(64)}`, config: {}, layerDirs: [], record: {} } as unknown as Image;
  }
}

/** Roots nothing is written to: the worker's tests keep everything in memory. */
const NO_ROOTS: Roots = { state: "/nonexistent/podd-fake/state", run: "/nonexistent/podd-fake/run", log: "/nonexistent/podd-fake/log" };

export class FakeRuntime implements DaemonRuntime {
  readonly node = { name: "fake-node", hostIP: "192.0.2.10", capacity: { milliCpu: 4000n, memoryBytes: 8n << 30n }, allocatable: { milliCpu: 4000n, memoryBytes: 8n << 30n } };
  readonly records = new MemoryRecords();
  readonly sysctls: SysctlAllowlist = { sysctls: new Map(), prefixes: new Map() };
  appArmorUnavailable: string | undefined = "AppArmor is not enabled on the host";
  readonly layout: Layout;
  readonly images: ScriptedImages;
  readonly network = { unreadable: [] as { path: string; error: string }[], releaseStale: async () => 0 };
  /** what was asked, in order: "createSandbox web", "start web/app", "kill web/app", … */
  readonly calls: string[] = [];
  /** every run ever started, oldest first */
  readonly all: FakeRun[] = [];
  /** per container name: how it behaves when it starts */
  readonly scripts = new Map<string, ContainerScript>();
  /** exec commands (by argv[0]) that run until their container ends, and then fail, as a hook would */
  readonly hangingExecs = new Set<string>();
  /** what a probe of this container answers (default: success) */
  probeOutcome: (container: string, probe: Probe) => ProbeOutcome = () => ({ ok: true, output: "" });
  /** what usage() reports of a running container */
  usageOf: (pod: string, container: string) => { cpuNs: number; memoryBytes: number } = () => ({ cpuNs: 0, memoryBytes: 0 });
  objects: PodObjects | undefined;
  private nextPid = 1000;

  /** Logs go under roots.log when it is given (the log endpoint reads them there); nothing else is written. */
  constructor(
    private readonly clock: Clock,
    roots: Roots = NO_ROOTS,
  ) {
    this.layout = new Layout(roots);
    this.images = new ScriptedImages(this.layout.imagesDir(), clock);
  }

  /** images whose pull fails, with the message */
  get failingImages(): Map<string, string> {
    return this.images.failing;
  }

  /** The newest run of a pod's container. */
  last(pod: string, container: string): FakeRun {
    const list = this.runsOf(pod, container);
    if (!list.length) throw new Error(`no run of ${pod}/${container}: ${this.calls.join(", ")}`);
    return list[list.length - 1]!;
  }

  /** The runs of the container of the pods of that name (the newest pod's last), oldest first. */
  runsOf(pod: string, container: string): FakeRun[] {
    return this.all.filter((r) => r.pod === pod && r.name === container);
  }

  /** The runs of one pod's container: by uid, so that a pod of the same name in another namespace, or the one that replaced it, is another pod. */
  private ofPod(pod: BoundPod, container: string): FakeRun[] {
    return this.all.filter((r) => r.uid === pod.metadata.uid && r.name === container);
  }

  /**
   * What the newest run of a container writes, as podd-init logs it: a CRI record per line, and
   * a last piece without its newline as a partial record.
   */
  writeLog(pod: string, container: string, text: string, stream: "stdout" | "stderr" = "stdout"): void {
    const path = this.last(pod, container).run.logPath;
    const at = rfc3339Millis(this.clock.now());
    const pieces = text.split("\n");
    const partial = pieces.pop()!;
    const records = pieces.map((l) => `${at} ${stream} F ${l}\n`);
    if (partial !== "") records.push(`${at} ${stream} P ${partial}\n`);
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, records.join(""));
  }

  async createSandbox(pod: BoundPod): Promise<{ podIPs: string[] }> {
    this.calls.push(`createSandbox ${pod.metadata.name}`);
    this.records.runDirs.add(pod.metadata.uid);
    return { podIPs: ["10.87.0.2"] };
  }
  async adoptSandbox(pod: BoundPod): Promise<{ podIPs: string[] }> {
    this.calls.push(`adoptSandbox ${pod.metadata.name}`);
    return { podIPs: ["10.87.0.2"] };
  }
  async stopSandbox(pod: BoundPod): Promise<void> {
    this.calls.push(`stopSandbox ${pod.metadata.name}`);
    // A cgroup kill of the pod: nothing of it runs on.
    for (const r of this.all) if (r.uid === pod.metadata.uid) r.end(137, 9);
    this.records.runDirs.delete(pod.metadata.uid);
    this.records.observed.delete(pod.metadata.uid);
  }
  async removePod(pod: BoundPod): Promise<void> {
    await this.stopSandbox(pod);
    this.calls.push(`removePod ${pod.metadata.name}`);
    this.records.ended.delete(pod.metadata.uid);
  }
  pullCredentials(): undefined {
    return undefined;
  }

  async startContainer(pod: BoundPod, container: Container, _image: Image | "host", restartCount: number): Promise<ContainerRun> {
    const key = `${pod.metadata.name}/${container.name}`;
    this.calls.push(`start ${key}`);
    const script = this.scripts.get(container.name) ?? {};
    if (script.startThrows) throw script.startThrows;
    const pid = this.nextPid;
    this.nextPid += 2;
    const start: StartRecord | undefined = script.startError ? undefined : { monitorPid: pid, pid1: pid + 1, pid: pid + 1, pid1StartTime: 1, startedAt: rfc3339Millis(this.clock.now()) };
    const user = container.securityContext?.runAsUser !== undefined ? { uid: container.securityContext.runAsUser, gid: 0, supplementalGroups: [] } : undefined;
    const logPath = `${this.layout.containerLogDir({ namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid }, container.name)}/${restartCount}.log`;
    const run = new FakeRun(pod.metadata.name, container.name, restartCount, this.clock, start, script, user, logPath);
    run.uid = pod.metadata.uid;
    this.all.push(run);
    // As podd-init does: every run has its log file from its start on (where there is a log root).
    if (existsSync(this.layout.roots.log)) {
      mkdirSync(dirname(logPath), { recursive: true });
      appendFileSync(logPath, "");
    }
    if (script.startError) run.end(128, 0, "StartError", script.startError);
    else if (script.runsForMs !== undefined) this.clock.setTimeout(() => run.end(script.exitCode ?? 0), (script.startsAfterMs ?? 0) + script.runsForMs);
    return run.run;
  }
  recordRun(run: ContainerRun, containerID: string): void {
    const found = this.find(run);
    if (found) found.containerID = containerID;
  }
  adoptContainer(pod: BoundPod, name: string): { run: ContainerRun; containerID: string; running: boolean } {
    this.calls.push(`adopt ${pod.metadata.name}/${name}`);
    const last = this.ofPod(pod, name).at(-1);
    if (!last) {
      const ended: ContainerRun = { monitor: { monitorPid: 0, started: Promise.resolve(undefined), ended: Promise.resolve(), stderr: () => "", signal: () => false }, stateDir: "", logPath: "" };
      return { run: ended, containerID: "", running: false };
    }
    return { run: last.run, containerID: last.containerID, running: last.running };
  }
  async finishContainer(pod: BoundPod, name: string, run: ContainerRun): Promise<ExitRecord> {
    this.calls.push(`finish ${pod.metadata.name}/${name}`);
    const found = this.find(run);
    const now = rfc3339Millis(this.clock.now());
    return found?.exit ?? { exitCode: 137, signal: 0, startedAt: now, finishedAt: now, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated" };
  }
  async killContainer(pod: BoundPod, name: string): Promise<void> {
    this.calls.push(`kill ${pod.metadata.name}/${name}`);
    this.ofPod(pod, name).at(-1)?.end(137, 9);
  }
  stopSignalOf(): NodeJS.Signals {
    return "SIGTERM";
  }
  /** What the real runtime gives podd-init exec, but for the seccomp filter's file and the OOM score. */
  execIdentity(pod: BoundPod, container: Container, started?: ContainerUser): string[] {
    return execIdentityArgs(execSecurity(pod, container, started), undefined);
  }
  async execIn(pid1: number, _identity: string[], argv: string[], _timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.calls.push(`exec ${pid1} ${argv.join(" ")}`);
    const run = this.all.find((r) => r.start?.pid1 === pid1);
    if (run && this.hangingExecs.has(argv[0] ?? "")) {
      const cancelled = new Promise<string>((resolve) => signal?.addEventListener("abort", () => resolve("cancelled"), { once: true }));
      const why = await Promise.race([run.ended.then(() => "ended"), cancelled]);
      if (why === "cancelled") this.calls.push(`exec ${pid1} ${argv.join(" ")} cancelled`);
      throw new Error(why === "cancelled" ? "cancelled" : `command '${argv.join(" ")}' exited with 137: its container ended`);
    }
  }
  async httpHook(pod: BoundPod, container: Container, action: HTTPGetAction): Promise<void> {
    this.calls.push(`httpHook ${pod.metadata.name}/${container.name} ${action.path ?? "/"}`);
  }
  prober(_pod: BoundPod, container: Container): (probe: Probe) => Promise<ProbeOutcome> {
    return async (probe) => this.probeOutcome(container.name, probe);
  }

  setObjects(objects: PodObjects): void {
    this.objects = objects;
  }
  refreshVolumes(): string[] {
    return [];
  }
  removeLogs(pod: PodRef): void {
    this.calls.push(`removeLogs ${pod.name}`);
    rmSync(this.layout.podLogDir(pod), { recursive: true, force: true });
  }
  async removeOrphan(pod: PodRef): Promise<void> {
    this.calls.push(`removeOrphan ${pod.name}`);
  }
  async containersWithProcesses(pod: BoundPod): Promise<string[]> {
    return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter((c) => this.ofPod(pod, c.name).at(-1)?.running).map((c) => c.name);
  }
  async removeOrphanCgroups(): Promise<void> {}
  async usage(podUid: string, container: string): Promise<{ cpuNs: number; memoryBytes: number }> {
    const r = this.all.filter((x) => x.uid === podUid && x.name === container).at(-1);
    if (r?.running) return this.usageOf(r.pod, container);
    throw PoddError.syscall("open", `cgroup of ${container}`, "ENOENT");
  }
  boundLogRoot(writing: ReadonlySet<string>, maxBytes: number): ReturnType<typeof boundLogRoot> {
    return boundLogRoot(join(this.layout.roots.log, "pods"), writing, maxBytes);
  }

  close(): void {}

  private find(run: ContainerRun): FakeRun | undefined {
    return this.all.find((r) => r.run === run);
  }
}
