// The image store under <state>/images, laid out as containerd's content store and overlay
// snapshotter are, so that images that share layers keep and unpack them once:
//   blobs/sha256/<hex>     manifests, indexes and configs, by digest (layer blobs are not kept:
//                          a layer is unpacked as it streams in, and an edge device's disk
//                          should not hold every layer twice)
//   layers/<chain hex>/    one unpacked layer per chain ID (the layer and all below it), an
//                          overlayfs lower directory
//   images/<hex>.json      one record per image name, the hex of the name's sha256
//   tmp/                   layers being unpacked; emptied at daemon start
// A layer directory or a record appears by rename, whole or not at all; a record is written
// only once every layer it names is in place, so a pull or load killed at any moment leaves no
// half image, and the next one goes on from the layers already there.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fsyncDir, writeFileAtomic } from "../../base/atomic.ts";
import { PoddError, hasErrno } from "../../base/errors.ts";
import { parseImageConfig, type ImageConfig } from "./config.ts";
import { formatReference, parseReference, withDefaultTag } from "./reference.ts";
import { unpackLayer, type LayerExpectation, type UnpackedLayer } from "./unpack.ts";

export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** bytes of the uncompressed layer */
  size: number;
}

export interface ImageRecord {
  /** the normalized reference: "docker.io/library/busybox:latest", "host/app@sha256:…" */
  name: string;
  /** the config's digest, as Docker and the CRI name an image */
  id: string;
  /** the digest of the manifest (or index) the name resolved to when it was stored */
  digest?: string;
  /** the other manifests it needs (the platform's manifest under an index) */
  manifests?: string[];
  /** bottom first */
  layers: LayerRecord[];
  /** where it came from: "registry 127.0.0.1:5000", "archive images.tar", "import ./rootfs" */
  source: string;
  storedAt: string;
}

export interface Image {
  name: string;
  id: string;
  config: ImageConfig;
  /** the layer directories, bottom first */
  layerDirs: string[];
  record: ImageRecord;
}

/** Larger than any manifest or config; a blob over it is refused, not read into memory. */
export const MAX_METADATA_BLOB = 4 * 1024 * 1024;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** The chain ID of each layer, bottom first (OCI image-spec: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** The key an image is stored under: its reference, normalized, with the default tag. */
export function imageKey(name: string): string {
  const ref = withDefaultTag(parseReference(name));
  // name:tag@digest is pulled by its digest: the digest is what names the content.
  return formatReference(ref.digest ? { domain: ref.domain, path: ref.path, digest: ref.digest } : ref);
}

function hexOf(digest: string): string {
  if (!DIGEST.test(digest)) throw new PoddError(`"${digest}" is not a sha256 digest`, { code: "Invalid" });
  return digest.slice(7);
}

export class ImageStore {
  readonly blobsDir: string;
  readonly layersDir: string;
  readonly recordsDir: string;
  readonly tmpDir: string;
  /** layers being unpacked, by chain ID: two pulls that need one layer wait for one download */
  private readonly unpacking = new Map<string, Promise<void>>();

  constructor(readonly dir: string, private readonly initPath: string) {
    this.blobsDir = join(dir, "blobs", "sha256");
    this.layersDir = join(dir, "layers");
    this.recordsDir = join(dir, "images");
    this.tmpDir = join(dir, "tmp");
  }

  /** At daemon start: what a killed pull or load left half-done goes. */
  recover(): void {
    if (!existsSync(this.tmpDir)) return;
    for (const e of readdirSync(this.tmpDir)) rmSync(join(this.tmpDir, e), { recursive: true, force: true });
  }

  private ensureDirs(): void {
    for (const d of [this.blobsDir, this.layersDir, this.recordsDir, this.tmpDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  // ---- blobs ----

  /** A metadata blob, checked against its digest; a corrupt one is dropped (undefined), to be fetched again. */
  readBlob(digest: string): Buffer | undefined {
    const path = join(this.blobsDir, hexOf(digest));
    let body: Buffer;
    try {
      if (statSync(path).size > MAX_METADATA_BLOB) throw new PoddError(`blob ${digest} is larger than ${MAX_METADATA_BLOB} bytes`, { code: "Invalid" });
      body = readFileSync(path);
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return undefined;
      throw PoddError.wrap(`read blob ${digest}`, err);
    }
    if (sha256(body) !== digest) {
      rmSync(path, { force: true });
      return undefined;
    }
    return body;
  }

  writeBlob(body: Buffer, expected?: string): string {
    const digest = sha256(body);
    if (expected !== undefined && digest !== expected) throw new PoddError(`blob has digest ${digest}, not ${expected}`, { code: "Invalid" });
    this.ensureDirs();
    const path = join(this.blobsDir, hexOf(digest));
    if (!existsSync(path)) writeFileAtomic(path, body, 0o600);
    return digest;
  }

  // ---- layers ----

  layerDir(chainId: string): string {
    return join(this.layersDir, hexOf(chainId));
  }

  hasLayer(chainId: string): boolean {
    return existsSync(this.layerDir(chainId));
  }

  /**
   * Unpacks a layer into the store under chainId, unless it is there already or being unpacked
   * (then waits for that). open() is called only when the layer must be fetched.
   */
  async addLayer(chainId: string, open: () => Promise<Readable>, expect: LayerExpectation, what: string, onBytes?: (n: number) => void): Promise<UnpackedLayer | undefined> {
    if (this.hasLayer(chainId)) return undefined;
    const running = this.unpacking.get(chainId);
    if (running) {
      await running;
      return undefined;
    }
    let result: UnpackedLayer | undefined;
    const work = (async () => {
      this.ensureDirs();
      const tmp = join(this.tmpDir, `layer-${randomBytes(8).toString("hex")}`);
      mkdirSync(tmp, { mode: 0o755 });
      try {
        result = await unpackLayer(this.initPath, await open(), tmp, expect, what, onBytes);
        renameSync(tmp, this.layerDir(chainId));
        fsyncDir(this.layersDir);
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
    })();
    this.unpacking.set(chainId, work);
    try {
      await work;
    } finally {
      this.unpacking.delete(chainId);
    }
    return result;
  }

  /**
   * Unpacks a layer whose digests are known only once it has streamed (a local tarball): it
   * goes into the store under its diff ID as a bottom layer, unless one is there already.
   */
  async importLayer(input: Readable, what: string): Promise<UnpackedLayer> {
    this.ensureDirs();
    const tmp = join(this.tmpDir, `layer-${randomBytes(8).toString("hex")}`);
    mkdirSync(tmp, { mode: 0o755 });
    try {
      const got = await unpackLayer(this.initPath, input, tmp, {}, what);
      if (this.hasLayer(got.diffId)) rmSync(tmp, { recursive: true, force: true });
      else {
        renameSync(tmp, this.layerDir(got.diffId));
        fsyncDir(this.layersDir);
      }
      return got;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  // ---- images ----

  private recordPath(key: string): string {
    return join(this.recordsDir, `${createHash("sha256").update(key).digest("hex")}.json`);
  }

  record(name: string): ImageRecord | undefined {
    const key = imageKey(name);
    try {
      const r = JSON.parse(readFileSync(this.recordPath(key), "utf8")) as ImageRecord;
      return r.name === key ? r : undefined;
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return undefined;
      throw PoddError.wrap(`read image record of ${key}`, err);
    }
  }

  /** The image a name (or an image ID, or a unique prefix of one) refers to, ready to run. */
  get(name: string): Image | undefined {
    let record: ImageRecord | undefined;
    try {
      record = this.record(name);
    } catch (err) {
      // Not a reference: it may be an image ID.
      if (!(err instanceof PoddError && err.code === "Invalid")) throw err;
    }
    record ??= this.byId(name);
    if (!record) return undefined;
    return this.imageOf(record);
  }

  imageOf(record: ImageRecord): Image | undefined {
    const body = this.readBlob(record.id);
    if (!body) return undefined;
    const layerDirs = record.layers.map((l) => this.layerDir(l.chainId));
    if (layerDirs.some((d) => !existsSync(d))) return undefined;
    return { name: record.name, id: record.id, config: parseImageConfig(body), layerDirs, record };
  }

  /** Records whose ID is `id` or starts with it (hex, with or without "sha256:"), when that is one image. */
  private byId(id: string): ImageRecord | undefined {
    const hex = id.startsWith("sha256:") ? id.slice(7) : id;
    if (!/^[a-f0-9]{4,64}$/.test(hex)) return undefined;
    const found = this.list().filter((r) => r.id.slice(7).startsWith(hex));
    const ids = new Set(found.map((r) => r.id));
    return ids.size === 1 ? found[0] : undefined;
  }

  list(): ImageRecord[] {
    if (!existsSync(this.recordsDir)) return [];
    const out: ImageRecord[] = [];
    for (const f of readdirSync(this.recordsDir)) {
      if (!f.endsWith(".json") || f.startsWith(".")) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.recordsDir, f), "utf8")) as ImageRecord);
      } catch (err) {
        // Removed meanwhile by image rm: it is no longer listed, as it should not be.
        if (!hasErrno(err, "ENOENT")) throw PoddError.wrap(`read image record ${f}`, err);
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Stores a record; every blob and layer it names must be in place. */
  put(record: ImageRecord): void {
    for (const l of record.layers) if (!this.hasLayer(l.chainId)) throw new PoddError(`image ${record.name}: layer ${l.chainId} is not in the store`, { code: "Internal" });
    if (!this.readBlob(record.id)) throw new PoddError(`image ${record.name}: config ${record.id} is not in the store`, { code: "Internal" });
    this.ensureDirs();
    writeFileAtomic(this.recordPath(record.name), JSON.stringify(record) + "\n", 0o600);
  }

  /** Removes a name; its layers and config go once no other name uses them. */
  remove(record: ImageRecord): void {
    rmSync(this.recordPath(record.name), { force: true });
    fsyncDir(this.recordsDir);
    this.collect();
  }

  /** Layers and blobs that no record names any more (what an image rm left, or a pull killed before its record). */
  collect(): { layers: number; blobs: number } {
    const records = this.list();
    const layers = new Set(records.flatMap((r) => r.layers.map((l) => hexOf(l.chainId))));
    const blobs = new Set(records.flatMap((r) => [r.id, ...(r.digest ? [r.digest] : []), ...(r.manifests ?? [])].map(hexOf)));
    let nl = 0;
    let nb = 0;
    if (existsSync(this.layersDir)) {
      for (const d of readdirSync(this.layersDir)) {
        if (layers.has(d) || this.busy(d)) continue;
        // Renamed away first: a half-removed layer must never be taken for a whole one.
        const doomed = join(this.tmpDir, `gone-${d}`);
        this.ensureDirs();
        renameSync(join(this.layersDir, d), doomed);
        rmSync(doomed, { recursive: true, force: true });
        nl++;
      }
    }
    if (existsSync(this.blobsDir)) {
      for (const b of readdirSync(this.blobsDir)) {
        if (blobs.has(b) || b.startsWith(".")) continue;
        rmSync(join(this.blobsDir, b), { force: true });
        nb++;
      }
    }
    return { layers: nl, blobs: nb };
  }

  /** layers a pull or load in progress holds, by chain ID, with how many hold each */
  private readonly pinned = new Map<string, number>();

  /** Keeps layers from collect() until unpin: a pull's layers exist before its record does. */
  pin(chainIds: readonly string[]): void {
    for (const c of chainIds) this.pinned.set(c, (this.pinned.get(c) ?? 0) + 1);
  }

  unpin(chainIds: readonly string[]): void {
    for (const c of chainIds) {
      const n = (this.pinned.get(c) ?? 1) - 1;
      if (n <= 0) this.pinned.delete(c);
      else this.pinned.set(c, n);
    }
  }

  private busy(hex: string): boolean {
    return this.unpacking.has(`sha256:${hex}`) || this.pinned.has(`sha256:${hex}`);
  }

  /** Bytes of the layers a record names, as unpacked. */
  static size(record: ImageRecord): number {
    return record.layers.reduce((n, l) => n + l.size, 0);
  }
}
