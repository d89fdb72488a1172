// The daemon's core: desired state on disk in front of the supervisor. Every applied pod is
// written durably before it starts; deleting writes the deletion first. On start the daemon
// takes up every desired pod (adopting what still runs), finishes interrupted deletes and
// removes what belongs to no desired pod (a replace or delete cut short by a crash).
// Work on one pod is serialised by a per-pod lock; different pods proceed concurrently.
import type { ImagesApi } from "../api/images.ts";
import { ImagesFacade, imagesInUse } from "../runtime/images/facade.ts";
import type { ApiBackend, ContainerView } from "../api/backend.ts";
import { rfc3339 } from "../base/time.ts";
import { canonical } from "../base/canonical.ts";
import { existsSync, readdirSync, readFileSync, statfsSync, statSync, watch, type FSWatcher } from "node:fs";
import { writeFileAtomic } from "../base/atomic.ts";
import { join } from "node:path";
import type { Logger } from "winston";
import { loadManifests, formatDiagnostic, type Pod } from "../../pod-specs/index.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import { byNamespaceAndName } from "../base/paths.ts";
import { EventLog, type CoreEvent } from "./event-log.ts";
import type { PodObject, PodWorker } from "../pod/worker.ts";
import type { BoundPod, Runtime } from "../runtime/runtime.ts";
import { DesiredStore } from "./store.ts";
import { bindPod, Supervisor, type SupervisorOptions } from "./supervisor.ts";
import type { DaemonRuntime } from "./daemon-runtime.ts";
import { podGraceSeconds } from "../pod/lifecycle.ts";
import { podKeyOf } from "../base/paths.ts";
import { removeUndesired } from "./orphans.ts";
import { applyOrder, OBJECT_KINDS, type ConfigKind, type ConfigObject } from "../../pod-specs/index.ts";
import { ObjectStore } from "./object-store.ts";
import type { StorageTransformer } from "./encryption.ts";
import { ObjectRegistry, type StoredObject } from "./objects.ts";
import { ObjectLifecycle } from "./object-lifecycle.ts";
import { nodeObject } from "./node.ts";
import { randomUUID } from "node:crypto";

export interface DaemonOptions extends SupervisorOptions {
  /** the static-pod directory, watched like the kubelet's --pod-manifest-path */
  manifestsDir: string;
  /** archives dropped here are loaded at start and when they appear, as k3s's agent/images */
  imageImportDir?: string;
  /** the kubelet's imageGCHighThresholdPercent and imageGCLowThresholdPercent (default 85 and 80) */
  imageGc?: { high: number; low: number };
  /** how secrets are written to the state root: encrypted with --encryption-provider-config, else plain */
  secretStorage?: StorageTransformer;
  /** --log-root-max-size: what the log root may hold in all (default 1 GiB) */
  logRootMaxSize?: number;
  /** podd's version, as the Node's kubelet and runtime versions */
  version?: string;
}

export type ApplyResult = "created" | "configured" | "unchanged";

/** What the log root may hold in all unless --log-root-max-size says otherwise. */
export const DEFAULT_LOG_ROOT_MAX_SIZE = 1024 * 1024 * 1024;

/** Annotations the kubelet puts on static pods; podd adds the file a pod came from. */
const SOURCE = "kubernetes.io/config.source";
const MANIFEST = "podd.io/manifest";

/** The node's uid and creation time: read from path, or made and written there the first time. */
function nodeIdentity(path: string, nowMs: number): { uid: string; createdMs: number } {
  try {
    const j = JSON.parse(readFileSync(path, "utf8")) as { uid?: unknown; creationTimestamp?: unknown };
    if (typeof j.uid === "string" && typeof j.creationTimestamp === "string") return { uid: j.uid, createdMs: Date.parse(j.creationTimestamp) };
  } catch (err) {
    if (!hasErrno(err, "ENOENT")) throw PoddError.wrap(`read ${path}`, err);
  }
  const made = { uid: randomUUID(), createdMs: nowMs };
  writeFileAtomic(path, JSON.stringify({ uid: made.uid, creationTimestamp: rfc3339(nowMs) }) + "\n", 0o644);
  return made;
}

/** Objects are locked in the same table as pods, under keys no pod key can be ("Kind:ns/name"). */
function objectLockKey(kind: ConfigKind, namespace: string | undefined, name: string): string {
  return `${kind}:${OBJECT_KINDS[kind].namespaced ? (namespace ?? "default") : ""}/${name}`;
}

/** One promise chain per key: work on one pod runs in order, never concurrently. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** What decides "unchanged": the spec and the user's metadata, not what podd assigned. */
function fingerprint(p: Pod): string {
  const m = p.metadata;
  const annotations = { ...(m.annotations ?? {}) };
  return canonical({ spec: p.spec, labels: m.labels ?? {}, annotations });
}


export class Daemon<R extends DaemonRuntime = DaemonRuntime> implements ApiBackend {
  readonly events: EventLog;
  readonly images: ImagesApi;
  /** namespaces, config maps, secrets, claims */
  readonly objects: ObjectRegistry;
  private readonly lifecycle: ObjectLifecycle;
  private readonly store: DesiredStore;
  private readonly locks = new KeyedLock();
  /** desired pods by key, including those being deleted (deletionTimestamp set) */
  private readonly desired = new Map<string, BoundPod>();
  private watcher: FSWatcher | undefined;
  private staticTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly sup: Supervisor<R>,
    private readonly opts: DaemonOptions,
    private readonly log: Logger,
  ) {
    this.store = new DesiredStore(opts.roots.state);
    const layout = sup.runtime.layout;
    this.objects = new ObjectRegistry(new ObjectStore(layout.objectsDir(), opts.secretStorage), sup.clock, (o, change) => {
      sup.events.emit("objectChanged", o.kind, o.metadata.namespace, o.metadata.name, change);
      this.lifecycle.changed(o);
    });
    this.lifecycle = new ObjectLifecycle(
      this.objects,
      layout,
      sup.clock,
      {
        pods: () => [...this.desired.values()],
        active: (p) => this.sup.get(podKeyOf(p))?.active === true,
        deletePod: (namespace, name) => this.delete(namespace, name),
        objectsChanged: (namespace, uses) => this.objectsChanged(namespace, uses),
      },
      (level, message) => log[level](message),
    );
    sup.runtime.setObjects(this.lifecycle.podObjects);
    sup.namespaceLabels = (ns) => this.objects.get("Namespace", undefined, ns)?.metadata.labels ?? { "kubernetes.io/metadata.name": ns };
    // A pod that ends (or goes) may be what a claim or a namespace being deleted waits for.
    sup.events.on("podChanged", () => this.lifecycle.settle());
    this.events = new EventLog(sup.runtime.node.name);
    // An image a pod names, even one not started yet, is in use: image rm must not take it away.
    this.images = new ImagesFacade(sup.runtime.images, () => this.imageNamesInUse());
    sup.events.on("event", (e) => {
      this.events.add(e);
      const line = `pod/${e.namespace}/${e.pod}${e.container ? ` container/${e.container}` : ""} ${e.reason}: ${e.message}`;
      if (e.type === "Warning") log.warn(line, { event: e });
      else log.info(line, { event: e });
    });
  }

  /** The images the desired pods name, for containers and image volumes. */
  private imageNamesInUse(): Set<string> {
    return imagesInUse(
      [...this.desired.values()].flatMap((p) => [
        ...[...(p.spec.initContainers ?? []), ...p.spec.containers].map((c) => c.image),
        ...(p.spec.volumes ?? []).flatMap((v) => (v.image?.reference ? [v.image.reference] : [])),
      ]),
    );
  }

  static async start(opts: DaemonOptions, log: Logger): Promise<Daemon<Runtime>> {
    return Daemon.over(await Supervisor.open(opts), opts, log);
  }

  /** A daemon over a supervisor made elsewhere: over a fake runtime, in tests. */
  static async over<R extends DaemonRuntime>(sup: Supervisor<R>, opts: DaemonOptions, log: Logger): Promise<Daemon<R>> {
    const d = new Daemon<R>(sup, opts, log);
    d.nodeIdentity = nodeIdentity(join(opts.roots.state, "node.json"), d.sup.clock.now());
    await d.restore();
    d.watchManifests();
    d.watchImageImports();
    d.startImageGc();
    d.startLogBound();
    return d;
  }

  private async restore(): Promise<void> {
    // Before any pod: their volumes and env read these.
    this.objects.load((path, err) => this.log.error(`${err.message}; the file is left as it is`, { path }));
    const pods = this.store.list((path, err) => this.log.error(`${err.message}; the file is left as it is`, { path }));
    const uids = new Set(pods.map((p) => p.metadata.uid));
    await removeUndesired(this.sup.runtime, uids, this.log);
    // Pods that ran before go first: they were admitted and hold their requests, and a pod new
    // to this node is admitted against them. The rest in creation order, as the kubelet does.
    const ran = (p: BoundPod) => this.sup.runtime.records.hasRunDir({ namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid });
    const created = (p: BoundPod) => p.metadata.creationTimestamp ?? "";
    pods.sort((a, b) => Number(ran(b)) - Number(ran(a)) || created(a).localeCompare(created(b)));
    for (const pod of pods) {
      const key = podKeyOf(pod);
      this.desired.set(key, pod);
      // Pods applied before namespaces were objects have theirs made now; one being deleted stays so.
      if (!this.objects.get("Namespace", undefined, pod.metadata.namespace)) this.objects.ensureNamespace(pod.metadata.namespace);
      const recorded = this.sup.runtime.records.hasObserved({ namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid });
      const worker = this.sup.restore(pod, recorded ? [] : await this.lostContainers(pod));
      this.log.info(`pod/${key} taken up`, { uid: pod.metadata.uid });
      if (pod.metadata.deletionTimestamp) void this.finishDelete(key, worker);
    }
    // A namespace deletion a crash interrupted goes on; a claim no pod holds any more goes.
    for (const ns of this.objects.list("Namespace")) {
      if (ns.metadata.deletionTimestamp) {
        void this.lifecycle.resumeNamespace(ns.metadata.name).catch((err: unknown) => this.log.error(`namespace/${ns.metadata.name}: going on with its deletion: ${(err as Error).message}`));
      }
    }
    this.lifecycle.settle();
    void this.lifecycle.sweep().catch((err: unknown) => this.log.error(`remove what a claim's deletion left: ${(err as Error).message}`));
  }

  /** What of the pods that name a changed object waits on it is tried again; their object volumes are written again. */
  private objectsChanged(namespace: string, uses: (pod: BoundPod) => boolean): void {
    for (const w of this.sup.list()) {
      if (w.pod.metadata.namespace !== namespace || !w.active || !uses(w.pod)) continue;
      try {
        const changed = this.sup.runtime.refreshVolumes(w.pod);
        if (changed.length) this.log.info(`pod/${podKeyOf(w.pod)}: volumes ${changed.join(", ")} updated`);
      } catch (err) {
        this.log.error(`pod/${podKeyOf(w.pod)}: update its volumes: ${(err as Error).message}`);
      }
      w.retryHeld();
    }
  }

  // ---- namespaces, config maps, secrets, claims (ApiBackend) ----------------------------------

  listObjects(kind: ConfigKind, namespace?: string): StoredObject[] {
    return this.objects.list(kind, namespace);
  }

  getObject(kind: ConfigKind, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.objects.get(kind, namespace, name);
  }

  applyObject(o: ConfigObject, mustNotExist = false): Promise<{ result: string; object: StoredObject }> {
    return this.locks.run(objectLockKey(o.kind, o.metadata.namespace, o.metadata.name), async () => this.objects.apply(o, mustNotExist));
  }

  deleteObject(kind: ConfigKind, namespace: string | undefined, name: string): Promise<StoredObject> {
    return this.locks.run(objectLockKey(kind, namespace, name), () => this.lifecycle.delete(kind, namespace, name));
  }

  /**
   * Containers of a desired pod that has no record in the run root but processes in its
   * cgroups: the run root was removed while they ran (a reboot leaves no processes). What is
   * left of them cannot be taken up (their records are gone), so the pod's remains are torn
   * down as a stop would (processes, the pins rm could not remove, Memory emptyDirs; volumes on
   * disk stay), the loss is logged as the error it is, and the worker counts them as ended, so
   * that their next start is a restart. A run dir left without a record gets the same teardown,
   * so that a new sandbox is never stacked on an old one.
   */
  private async lostContainers(pod: BoundPod): Promise<string[]> {
    const rt = this.sup.runtime;
    const lost = await rt.containersWithProcesses(pod);
    if (lost.length || rt.records.hasRunDir({ namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid })) {
      // A DEL that fails here is tried again when the pod's sandbox is made again.
      await rt.stopSandbox(pod).catch((err: unknown) => this.log.error(`pod ${pod.metadata.namespace}/${pod.metadata.name}: tear down what is left of it: ${(err as Error).message}`));
    }
    if (lost.length) {
      this.log.error(`pod ${pod.metadata.namespace}/${pod.metadata.name}: its records under the run root ${this.opts.roots.run} are gone while containers ran (${lost.join(", ")}): they are recreated`);
    }
    return lost;
  }

  /** the Node's uid and creation time, kept in the state root so that they outlive restarts */
  private nodeIdentity = { uid: "", createdMs: 0 };

  node(): ReturnType<typeof nodeObject> {
    return nodeObject(
      {
        info: this.sup.runtime.node,
        ...this.nodeIdentity,
        labels: this.sup.node.labels,
        taints: this.sup.node.taints,
        version: this.opts.version ?? "0.0.0",
        stateRoot: this.opts.roots.state,
        ...(this.opts.procRoot !== undefined ? { procRoot: this.opts.procRoot } : {}),
      },
      this.sup.clock.now(),
    );
  }

  get(namespace: string, name: string): PodObject | undefined {
    const w = this.sup.get(`${namespace}/${name}`);
    return w ? this.objectOf(w) : undefined;
  }

  list(namespace?: string): PodObject[] {
    return this.sup
      .list()
      .filter((w) => namespace === undefined || w.pod.metadata.namespace === namespace)
      .map((w) => this.objectOf(w))
      .sort(byNamespaceAndName);
  }

  private objectOf(w: PodWorker): PodObject {
    const o = w.toObject();
    // Bound to this node, as the scheduler binds every pod it admits (the stored pod is left as
    // applied, so that applying it again is "unchanged").
    (o.spec as { nodeName?: string }).nodeName ??= this.sup.node.name;
    const d = this.desired.get(podKeyOf(w.pod))?.metadata.deletionTimestamp;
    if (d) (o.metadata as { deletionTimestamp?: string }).deletionTimestamp = d;
    return o;
  }

  eventList(namespace?: string, podUid?: string): CoreEvent[] {
    return this.events.list(namespace, podUid);
  }

  // ---- what the API server needs beyond the objects (ApiBackend) -------------------------------

  now(): number {
    return this.sup.clock.now();
  }

  get bus(): ApiBackend["bus"] {
    return this.sup.events;
  }

  containers(namespace: string, name: string): ReturnType<ApiBackend["containers"]> {
    const w = this.sup.get(`${namespace}/${name}`);
    if (!w) return undefined;
    const ref = w.ref();
    const containers = [...(w.pod.spec.initContainers ?? []), ...w.pod.spec.containers].map((c): ContainerView => {
      const live = w.live.get(c.name);
      const running = w.record(c.name).lifecycle.state === "Running";
      return {
        name: c.name,
        running,
        ...(live?.pid1 ? { pid1: live.pid1 } : {}),
        logDir: this.sup.runtime.layout.containerLogDir(ref, c.name),
        execIdentity: this.sup.runtime.execIdentity(w.pod, c, w.record(c.name).user),
        ...(live ? { liveLogPath: live.run.logPath } : {}),
      };
    });
    return { spec: w.pod.spec, containers };
  }

  async usage(namespace?: string, name?: string): ReturnType<ApiBackend["usage"]> {
    const workers = this.sup.list().filter((w) => (namespace === undefined || w.pod.metadata.namespace === namespace) && (name === undefined || w.pod.metadata.name === name));
    return Promise.all(
      workers.map(async (w) => {
        const containers: Record<string, { cpuNs: number; memoryBytes: number }> = {};
        for (const c of w.live.keys()) {
          try {
            containers[c] = await this.sup.runtime.usage(w.pod.metadata.uid, c);
          } catch (err) {
            // a container ending while it is sampled has no usage to report
            if (!(err instanceof PoddError) || err.errno !== "ENOENT") throw err;
          }
        }
        return { namespace: w.pod.metadata.namespace, name: w.pod.metadata.name, containers };
      }),
    );
  }

  /**
   * Creates the pod, or replaces it when its spec changed (graceful stop of the old one, then
   * the new one starts), or leaves it alone. Resolves once the desired state is on disk.
   */
  apply(pod: Pod, mustNotExist = false): Promise<{ result: ApplyResult; object: PodObject }> {
    const key = podKeyOf(pod);
    return this.locks.run(key, async () => {
      const old = this.desired.get(key);
      if (old && mustNotExist) throw new PoddError(`pods "${pod.metadata.name}" already exists`, { code: "AlreadyExists" });
      this.lifecycle.admitPod(pod.metadata.namespace ?? "default");
      if (old?.metadata.deletionTimestamp) {
        throw new PoddError(`pods "${pod.metadata.name}" is being deleted; apply it again once it is gone`, { code: "Conflict" });
      }
      if (old && fingerprint(old) === fingerprint(pod)) return { result: "unchanged" as const, object: this.get(old.metadata.namespace, old.metadata.name)! };
      const bound = bindPod({ ...pod, metadata: { ...pod.metadata, uid: undefined } } as Pod, this.sup.clock.now());
      // The new pod is desired before the old one stops: a crash during the graceful stop
      // then leaves the new pod desired and the old one an orphan that the next start removes.
      // Written after the stop, a crash left the old pod desired and its observed state
      // "being deleted": stopped for good, never run again, never removed.
      this.store.put(bound);
      if (old) await this.stopAndRemove(key, old, undefined, false);
      this.desired.set(key, bound);
      this.sup.add(bound);
      return { result: old ? ("configured" as const) : ("created" as const), object: this.get(bound.metadata.namespace, bound.metadata.name)! };
    });
  }

  /**
   * Marks the pod deleted on disk, then stops it gracefully and removes it in the background;
   * the pod stays visible with a deletionTimestamp until it is gone.
   */
  delete(namespace: string, name: string, gracePeriodSeconds?: number): Promise<PodObject> {
    const key = `${namespace}/${name}`;
    // A pod being deleted holds its lock until it is gone (finishDelete): a second delete must
    // not queue behind that, or it would wait out the very grace period it may shorten.
    const deleting = this.desired.get(key);
    const w = this.sup.get(key);
    if (deleting?.metadata.deletionTimestamp && w && w.pod.metadata.uid === deleting.metadata.uid) {
      const current = deleting.metadata.deletionGracePeriodSeconds ?? podGraceSeconds(w.pod.spec);
      if (gracePeriodSeconds !== undefined && gracePeriodSeconds < current) {
        deleting.metadata.deletionGracePeriodSeconds = gracePeriodSeconds;
        // Synchronous since the check above: stopAndRemove cannot have removed the file between.
        this.store.put(deleting);
        w.delete(gracePeriodSeconds);
      }
      return Promise.resolve(this.objectOf(w));
    }
    return this.locks.run(key, async () => {
      const pod = this.desired.get(key);
      const worker = this.sup.get(key);
      if (!pod || !worker) throw new PoddError(`pods "${name}" not found`, { code: "NotFound" });
      if (!pod.metadata.deletionTimestamp) {
        pod.metadata.deletionTimestamp = rfc3339(this.sup.clock.now());
        if (gracePeriodSeconds !== undefined) pod.metadata.deletionGracePeriodSeconds = gracePeriodSeconds;
        this.store.put(pod);
        void this.finishDelete(key, worker, gracePeriodSeconds);
      }
      return this.objectOf(worker);
    });
  }

  private finishDelete(key: string, worker: PodWorker, gracePeriodSeconds?: number): Promise<void> {
    const grace = gracePeriodSeconds ?? worker.pod.metadata.deletionGracePeriodSeconds;
    return this.locks
      .run(key, () => this.stopAndRemove(key, worker.pod, grace))
      .catch((err: unknown) => {
        this.log.error(`delete pod/${key}: ${(err as Error).message}`);
      });
  }

  /**
   * Stops the pod's worker (if it is the same pod), removes its runtime state and, unless a
   * replacement's file has taken its place, its desired file.
   */
  private async stopAndRemove(key: string, pod: BoundPod, gracePeriodSeconds: number | undefined, removeDesired = true): Promise<void> {
    const w = this.sup.get(key);
    if (w && w.pod.metadata.uid === pod.metadata.uid) await this.sup.delete(key, gracePeriodSeconds);
    // As the kubelet does with /var/log/pods: the logs of a pod go with it (a replaced pod's
    // too: the new one has another uid), so deleted pods do not fill the log root.
    this.sup.runtime.removeLogs({ namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid });
    if (removeDesired) this.store.remove(pod.metadata.namespace, pod.metadata.name);
    if (this.desired.get(key)?.metadata.uid === pod.metadata.uid) this.desired.delete(key);
    // (Which also settles a claim or a namespace being deleted that waited for this pod.)
    this.sup.events.emit("podChanged", pod.metadata.namespace, pod.metadata.name);
  }

  /** True once the pod is gone (used by waiting clients). */
  exists(namespace: string, name: string): boolean {
    return this.desired.has(`${namespace}/${name}`);
  }

  // ---- the log root's bound -------------------------------------------------------------------

  private logTimer: NodeJS.Timeout | undefined;

  private startLogBound(): void {
    this.boundLogs();
    this.logTimer = setInterval(() => this.boundLogs(), 60_000);
    this.logTimer.unref();
  }

  /**
   * Keeps the log root within --log-root-max-size: when it holds more, the files written to
   * least recently go (rotated files and ended runs' logs first), never one a running
   * container writes. Each container's logs are bounded on their own; this bounds them all.
   */
  boundLogs(): void {
    const max = this.opts.logRootMaxSize ?? DEFAULT_LOG_ROOT_MAX_SIZE;
    const writing = new Set(this.sup.list().flatMap((w) => [...w.live.values()].map((l) => l.run.logPath)));
    const { removed, failed } = this.sup.runtime.boundLogRoot(writing, max);
    for (const f of failed) this.log.error(`bound the log root: remove ${f.path}: ${f.error}`);
    const bytes = removed.reduce((n, f) => n + f.bytes, 0);
    if (removed.length) this.log.warn(`the log root held more than --log-root-max-size ${max} bytes: removed the ${removed.length} log file(s) written to least recently (${bytes} bytes)`, { files: removed.map((f) => f.path) });
  }

  // ---- image garbage collection ----------------------------------------------------------------

  private gcTimer: NodeJS.Timeout | undefined;

  private startImageGc(): void {
    const { high, low } = this.opts.imageGc ?? { high: 85, low: 80 };
    const state = this.opts.roots.state;
    const images = this.sup.runtime.images;
    images.setGarbageCollection({
      high,
      low,
      inUse: () => this.imageNamesInUse(),
      diskUsedPercent: () => diskUsedPercent(state),
      onCollected: (gone) => this.log.info(`image garbage collection: the disk of ${state} was over ${high}% used; removed ${gone.map((r) => r.name).join(", ")}`),
    });
    // The kubelet looks every five minutes; a pull looks too.
    this.gcTimer = setInterval(() => images.runGc(), 5 * 60_000);
    this.gcTimer.unref();
  }

  // ---- image imports ---------------------------------------------------------------------------

  private importWatcher: FSWatcher | undefined;
  private importTimer: NodeJS.Timeout | undefined;
  private importing: Promise<void> = Promise.resolve();

  private watchImageImports(): void {
    const dir = this.opts.imageImportDir;
    if (!dir || !existsSync(dir)) return;
    this.importing = this.loadImageImports(dir);
    this.importWatcher = watch(dir, () => {
      if (this.importTimer) clearTimeout(this.importTimer);
      // A file being copied in grows for a while; it is loaded once it has been still a moment.
      this.importTimer = setTimeout(() => (this.importing = this.importing.then(() => this.loadImageImports(dir))), 500);
    });
  }

  /**
   * Loads each archive of the import directory that is new or changed since it was last loaded
   * (its size and mtime are kept in <dir>/.loaded.json); a bad archive is logged and left there.
   */
  private async loadImageImports(dir: string): Promise<void> {
    const seenPath = join(dir, ".loaded.json");
    let seen: Record<string, string> = {};
    try {
      seen = JSON.parse(readFileSync(seenPath, "utf8")) as Record<string, string>;
    } catch (err) {
      if (!hasErrno(err, "ENOENT")) this.log.warn(`image import: ${seenPath}: ${(err as Error).message}; loading every archive again`);
    }
    const files = readdirSync(dir).filter((f) => !f.startsWith(".") && /\.(tar|tar\.gz|tgz|tar\.zst|tar\.zstd)$/.test(f));
    for (const f of files.sort()) {
      const path = join(dir, f);
      let mark: string;
      try {
        const st = statSync(path);
        mark = `${st.size}:${st.mtimeMs}`;
      } catch (err) {
        if (hasErrno(err, "ENOENT")) continue; // gone meanwhile: nothing to load
        throw err;
      }
      if (seen[f] === mark) continue;
      try {
        const loaded = await this.images.load({ path });
        this.log.info(`image import ${path}: loaded ${loaded.map((i) => i.name).join(", ")}`);
        seen[f] = mark;
        writeFileAtomic(seenPath, JSON.stringify(seen) + "\n", 0o600);
      } catch (err) {
        this.log.error(`image import ${path}: ${(err as Error).message}`);
      }
    }
  }

  // ---- static pods -----------------------------------------------------------------------------

  private watchManifests(): void {
    const dir = this.opts.manifestsDir;
    if (!existsSync(dir)) return;
    this.syncManifests();
    // Editors write a file in several steps; one sync after the burst settles is enough.
    this.watcher = watch(dir, () => {
      if (this.staticTimer) clearTimeout(this.staticTimer);
      this.staticTimer = setTimeout(() => this.syncManifests(), 100);
    });
  }

  /** The kubelet's file source: files define pods; a changed file replaces them, a removed one deletes. */
  syncManifests(): void {
    const dir = this.opts.manifestsDir;
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith(".")) : [];
    const wanted = new Map<string, Pod>();
    const wantedObjects = new Map<string, ConfigObject>();
    const broken = new Set<string>();
    for (const f of files.sort()) {
      const path = join(dir, f);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (err) {
        this.log.warn(`static manifest ${path}: ${(err as Error).message}`);
        continue;
      }
      const r = loadManifests(text, path);
      if (r.errors.length) {
        broken.add(path);
        for (const e of r.errors) this.log.error(`static manifest rejected, nothing changed: ${formatDiagnostic(e)}`, { path });
        continue;
      }
      for (const pod of r.pods) {
        pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [SOURCE]: "file", [MANIFEST]: path };
        wanted.set(podKeyOf(pod), pod);
      }
      for (const o of r.objects) {
        o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [MANIFEST]: path };
        wantedObjects.set(objectLockKey(o.kind, o.metadata.namespace, o.metadata.name), o);
      }
    }
    // Objects before pods, namespaces first: a pod then finds what it refers to at its first start.
    for (const [key, o] of [...wantedObjects].sort(([, a], [, b]) => applyOrder(a.kind) - applyOrder(b.kind))) {
      void this.applyObject(o).then(
        (r) => r.result !== "unchanged" && this.log.info(`static ${key} ${r.result}`),
        (err: unknown) => this.log.error(`static ${key}: ${(err as Error).message}`),
      );
    }
    for (const kind of Object.keys(OBJECT_KINDS) as ConfigKind[]) {
      for (const o of this.objects.list(kind)) {
        const from = o.metadata.annotations?.[MANIFEST];
        const key = objectLockKey(kind, o.metadata.namespace, o.metadata.name);
        if (!from || wantedObjects.has(key) || broken.has(from) || o.metadata.deletionTimestamp) continue;
        void this.deleteObject(kind, o.metadata.namespace, o.metadata.name).then(
          () => this.log.info(`static ${key} deleted: its manifest is gone`),
          (err: unknown) => this.log.error(`static ${key}: ${(err as Error).message}`),
        );
      }
    }
    for (const [key, pod] of wanted) {
      void this.apply(pod).then(
        (r) => r.result !== "unchanged" && this.log.info(`static pod/${key} ${r.result}`),
        (err: unknown) => this.log.error(`static pod/${key}: ${(err as Error).message}`),
      );
    }
    for (const [key, pod] of this.desired) {
      const from = pod.metadata.annotations?.[MANIFEST];
      if (!from || wanted.has(key) || broken.has(from) || pod.metadata.deletionTimestamp) continue;
      void this.delete(pod.metadata.namespace, pod.metadata.name).then(
        () => this.log.info(`static pod/${key} deleted: its manifest is gone`),
        (err: unknown) => this.log.error(`static pod/${key}: ${(err as Error).message}`),
      );
    }
  }

  /** Stops watching; with stopPods, stops every pod gracefully first (else they keep running). */
  async close(stopPods: boolean): Promise<void> {
    this.watcher?.close();
    this.importWatcher?.close();
    if (this.gcTimer) clearInterval(this.gcTimer);
    if (this.logTimer) clearInterval(this.logTimer);
    if (this.importTimer) clearTimeout(this.importTimer);
    if (this.staticTimer) clearTimeout(this.staticTimer);
    if (stopPods) {
      await Promise.all(
        this.sup.list().map(async (w) => {
          w.delete();
          await w.done;
          await this.sup.runtime.stopSandbox(w.pod);
        }),
      );
    }
    this.sup.runtime.close();
  }
}

/** How full the filesystem of path is, as df counts it: used over what non-root users could have. */
export function diskUsedPercent(path: string): number {
  const s = statfsSync(path);
  const used = s.blocks - s.bfree;
  return (used / (used + s.bavail)) * 100;
}
