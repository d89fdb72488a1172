// The daemon's images: the one writer of the store. Containers get their image here as the
// kubelet's image manager gets it (EnsureImageExists): imagePullPolicy decides whether to pull,
// a failed pull holds the container with ErrImagePull and then ImagePullBackOff under a back-off
// per pod and image (10 s doubling to 5 min), and two containers that need one image at once
// cause one pull. Every step is an event, worded as the kubelet words it.
import type { CredentialsOf } from "./registry.ts";
import { PoddError } from "../../base/errors.ts";
import { goDuration, rfc3339, type Clock } from "../../base/time.ts";
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { openArchive, openArchiveDir, openTarArchive, type OpenedArchive } from "./archive.ts";
import { importRootfs, type ImportOptions } from "./import.ts";
import { hostPlatform } from "./platform.ts";
import { storeImage, type LayerProgress, type StoreResult } from "./pull.ts";
import { parseReference, pullTarget, withDefaultTag, type Reference } from "./reference.ts";
import type { ImageSource, Platform } from "./source.ts";
import { imageKey, ImageStore, type Image, type ImageRecord } from "./store.ts";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** A container that cannot get its image yet: its Waiting reason and message. */
export interface ImageHold {
  reason: "ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull" | "InvalidImageName";
  message: string;
  /** when to try again (ms on the clock) */
  retryAtMs: number;
}

export type ImageEvent = (type: "Normal" | "Warning", reason: string, message: string) => void;

export interface PullResult extends StoreResult {
  ms: number;
}

const BACKOFF_INITIAL_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
const REPORT_BACKOFF_AFTER_MS = 1_000;

export interface ImagesOptions {
  dir: string;
  initPath: string;
  /** the source of a registry reference; undefined: this daemon pulls nothing */
  registry?: (ref: Reference, credentials?: CredentialsOf) => ImageSource;
  clock: Clock;
  platform?: Platform;
}

export class Images {
  readonly store: ImageStore;
  readonly platform: Platform;
  private readonly pulls = new Map<string, Promise<PullResult>>();
  private readonly backOff = new Map<string, { untilMs: number; delayMs: number }>();
  /** progress of the pulls running, by image key, for `podd image pull` to show */
  private readonly listeners = new Map<string, Set<(p: readonly LayerProgress[]) => void>>();

  constructor(private readonly opts: ImagesOptions) {
    this.store = new ImageStore(opts.dir, opts.initPath);
    this.platform = opts.platform ?? hostPlatform();
  }

  /** At daemon start. */
  recover(): void {
    this.store.recover();
  }

  get(name: string): Image | undefined {
    return this.store.get(name);
  }

  /**
   * Pulls an image, or joins the pull of it that runs. Resolves when the image is in the store;
   * onProgress hears the layers' progress.
   */
  pull(name: string, onProgress?: (p: readonly LayerProgress[]) => void, credentials?: CredentialsOf): Promise<PullResult> {
    const ref = withDefaultTag(parseReference(name));
    const key = imageKey(name);
    if (onProgress) {
      let set = this.listeners.get(key);
      if (!set) this.listeners.set(key, (set = new Set()));
      set.add(onProgress);
    }
    let running = this.pulls.get(key);
    if (!running) {
      const registry = this.opts.registry;
      if (!registry) return Promise.reject(new PoddError(`pull ${key}: this daemon has no registry access`, { code: "Invalid" }));
      const started = this.opts.clock.now();
      // A pull already running for another pod is joined, whatever credentials it has: the image
      // is the node's once pulled, as with the kubelet (which pulls once per node too).
      running = storeImage(this.store, registry(ref, credentials), {
        name: key,
        reference: pullTarget(ref),
        platform: this.platform,
        now: () => rfc3339(this.opts.clock.now()),
        onProgress: (p) => {
          for (const l of this.listeners.get(key) ?? []) l(p);
        },
      })
        .then((r) => {
          this.runGc();
          return { ...r, ms: this.opts.clock.now() - started };
        })
        .finally(() => {
          this.pulls.delete(key);
          this.listeners.delete(key);
        });
      this.pulls.set(key, running);
    }
    return onProgress ? running.finally(() => this.listeners.get(key)?.delete(onProgress)) : running;
  }

  /**
   * The image a container needs, pulled as its policy says; or why it must wait. `backOffKey`
   * is the pod's uid: the kubelet backs off per pod and image.
   */
  async ensure(name: string, policy: PullPolicy, backOffKey: string, emit: ImageEvent, abandon?: AbortSignal, credentials?: CredentialsOf): Promise<Image | ImageHold> {
    const now = this.opts.clock.now();
    let key: string;
    try {
      key = imageKey(name);
    } catch (err) {
      const message = `Failed to apply default image tag "${name}": ${(err as Error).message}`;
      emit("Warning", "InspectFailed", message);
      return { reason: "InvalidImageName", message, retryAtMs: now + BACKOFF_MAX_MS };
    }
    const present = this.store.get(key);
    if (policy === "Never" || (policy === "IfNotPresent" && present)) {
      if (present) {
        this.lastUsed.set(key, now);
        emit("Normal", "Pulled", `Container image "${name}" already present on machine`);
        return present;
      }
      const message = `Container image "${name}" is not present with pull policy of Never`;
      emit("Warning", "ErrImageNeverPull", message);
      return { reason: "ErrImageNeverPull", message, retryAtMs: now + BACKOFF_INITIAL_MS };
    }
    const bkey = `${backOffKey}_${name}`;
    const b = this.backOff.get(bkey);
    if (b && now < b.untilMs) {
      const message = `Back-off pulling image "${name}"`;
      emit("Normal", "BackOff", message);
      return { reason: "ImagePullBackOff", message, retryAtMs: b.untilMs };
    }
    emit("Normal", "Pulling", `Pulling image "${name}"`);
    const waited = this.pulls.has(key);
    const started = this.opts.clock.now();
    try {
      const abandoned = new Promise<"abandoned">((resolve) => {
        if (abandon?.aborted) resolve("abandoned");
        abandon?.addEventListener("abort", () => resolve("abandoned"), { once: true });
      });
      const pulling = this.pull(name, undefined, credentials);
      const r = await Promise.race([pulling, abandoned]);
      if (r === "abandoned") {
        // Whoever waited is gone; the pull finishes (or fails) for the store on its own.
        pulling.catch(() => {});
        return { reason: "ErrImagePull", message: `pull of "${name}" no longer awaited: the pod is being deleted`, retryAtMs: now + BACKOFF_MAX_MS };
      }
      this.backOff.delete(bkey);
      const total = this.opts.clock.now() - started;
      emit("Normal", "Pulled", `Successfully pulled image "${name}" in ${goDuration(waited ? total : r.ms)} (${goDuration(total)} including waiting). Image size: ${ImageStore.size(r.record)} bytes.`);
      const image = this.store.get(key);
      if (!image) throw new PoddError(`image ${key} was removed while it was pulled`, { code: "NotFound" });
      this.lastUsed.set(key, this.opts.clock.now());
      return image;
    } catch (err) {
      const delayMs = b ? Math.min(b.delayMs * 2, BACKOFF_MAX_MS) : BACKOFF_INITIAL_MS;
      this.backOff.set(bkey, { untilMs: this.opts.clock.now() + delayMs, delayMs });
      const message = `Failed to pull image "${name}": ${(err as Error).message}`;
      emit("Warning", "Failed", message);
      // Looked at again shortly, to report ImagePullBackOff while the back-off runs, as the kubelet's next sync does.
      return { reason: "ErrImagePull", message: (err as Error).message, retryAtMs: this.opts.clock.now() + Math.min(delayMs, REPORT_BACKOFF_AFTER_MS) };
    }
  }

  import(name: string, path: string, opts: Omit<ImportOptions, "platform" | "now">): Promise<ImageRecord> {
    return importRootfs(this.store, name, path, { ...opts, platform: this.platform, now: () => rfc3339(this.opts.clock.now()) });
  }

  /**
   * Loads every image of an archive, under each of its names: a request's bytes, or a path (a
   * directory, or a file, read in place when it is a bare tar).
   */
  async load(input: Readable | string, what: string): Promise<ImageRecord[]> {
    let opened: OpenedArchive;
    if (typeof input !== "string") opened = await openArchive(this.store, this.opts.initPath, input, what);
    else if (statSync(input).isDirectory()) opened = openArchiveDir(input, what);
    else opened = openTarArchive(input, what) ?? (await openArchive(this.store, this.opts.initPath, createReadStream(input), what));
    try {
      if (opened.images.length === 0) throw new PoddError(`${what}: the archive holds no image`, { code: "Invalid" });
      const out: ImageRecord[] = [];
      for (const img of opened.images) {
        if (img.names.length === 0) throw new PoddError(`${what}: image ${img.reference} has no name; save it with a name (docker save NAME:TAG, skopeo copy … oci-archive:FILE:NAME:TAG)`, { code: "Invalid" });
        for (const n of img.names) {
          const r = await storeImage(this.store, opened.source, { name: imageKey(n), reference: img.reference, platform: this.platform, now: () => rfc3339(this.opts.clock.now()) });
          out.push(r.record);
        }
      }
      return out;
    } finally {
      opened.close();
    }
  }

  list(): ImageRecord[] {
    return this.store.list();
  }

  /**
   * Removes an image by name, or every name of an image by its ID. One a container names is
   * refused, as crictl rmi and podman rm refuse.
   */
  remove(name: string, inUse: ReadonlySet<string>): ImageRecord[] {
    const image = this.store.get(name);
    if (!image) throw new PoddError(`image "${name}" not found`, { code: "NotFound" });
    let byName = false;
    try {
      byName = imageKey(name) === image.name;
    } catch {
      byName = false; // not a reference: an image ID, whose every name goes
    }
    const records = byName ? [image.record] : this.store.list().filter((r) => r.id === image.id);
    for (const r of records) {
      if (inUse.has(r.name)) throw new PoddError(`image "${r.name}" is in use by a container; delete its pod first`, { code: "Conflict" });
    }
    for (const r of records) this.store.remove(r);
    return records;
  }

  private gcPolicy: { high: number; low: number; inUse: () => ReadonlySet<string>; diskUsedPercent: () => number; onCollected: (gone: ImageRecord[]) => void } | undefined;

  /** Turns on garbage collection after each pull (and whenever runGc is called). */
  setGarbageCollection(policy: NonNullable<Images["gcPolicy"]>): void {
    this.gcPolicy = policy;
  }

  runGc(): void {
    const p = this.gcPolicy;
    if (!p) return;
    const gone = this.collectGarbage(p.inUse(), p.diskUsedPercent, p.high, p.low);
    if (gone.length) p.onCollected(gone);
  }

  /** when each image was last used by a container start, by key (since this daemon started) */
  private readonly lastUsed = new Map<string, number>();

  /**
   * The kubelet's image garbage collection: when the state root's disk is at least `high`
   * percent used, unused images go, least recently used (else oldest stored) first, until it
   * is below `low`. Returns what went.
   */
  collectGarbage(inUse: ReadonlySet<string>, diskUsedPercent: () => number, high: number, low: number): ImageRecord[] {
    if (diskUsedPercent() < high) return [];
    const when = (r: ImageRecord) => this.lastUsed.get(r.name) ?? Date.parse(r.storedAt);
    const candidates = this.store
      .list()
      .filter((r) => !inUse.has(r.name))
      .sort((a, b) => when(a) - when(b));
    const gone: ImageRecord[] = [];
    for (const r of candidates) {
      if (diskUsedPercent() < low) break;
      this.store.remove(r);
      gone.push(r);
    }
    return gone;
  }

  /** Removes every image no container uses, and what no image names. */
  prune(inUse: ReadonlySet<string>): ImageRecord[] {
    const gone = this.store.list().filter((r) => !inUse.has(r.name));
    for (const r of gone) this.store.remove(r);
    this.store.collect();
    return gone;
  }
}
