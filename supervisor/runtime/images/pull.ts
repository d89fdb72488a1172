// From an image source (a registry, an archive) into the store: the manifest a tag or digest
// names (the platform's, when it is an index), the config, then each missing layer, a few at a
// time, each verified as it streams (unpack.ts). The record that makes the image visible is
// written last.
import { PoddError } from "../../base/errors.ts";
import { parseImageConfig } from "./config.ts";
import { choosePlatform, formatPlatform } from "./platform.ts";
import { MediaType, type Descriptor, type ImageSource, type ManifestBlob, type Platform } from "./source.ts";
import { chainIds, ImageStore, MAX_METADATA_BLOB, sha256, type ImageRecord } from "./store.ts";

export interface LayerProgress {
  /** the layer's blob digest */
  digest: string;
  /** bytes of the blob */
  total: number;
  done: number;
  state: "waiting" | "fetching" | "done" | "present";
}

export interface StoreOptions {
  /** the record's name (imageKey) */
  name: string;
  /** the tag or digest to resolve at the source */
  reference: string;
  platform: Platform;
  /** layers fetched at once */
  parallel?: number;
  onProgress?: (layers: readonly LayerProgress[]) => void;
  now: () => string;
}

export interface StoreResult {
  record: ImageRecord;
  /** bytes of blobs fetched (0: everything was present) */
  fetched: number;
}

/**
 * Layers fetched at once. Each streams with flat memory, and a layer of many small files is
 * slow to write whatever the network: with few slots it waits behind the large ones.
 */
const MAX_PARALLEL_LAYERS = 8;

const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
]);

interface ManifestDoc {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

function parseJson(blob: ManifestBlob, what: string): ManifestDoc {
  try {
    const d = JSON.parse(blob.body.toString("utf8")) as unknown;
    if (typeof d !== "object" || d === null || Array.isArray(d)) throw new Error("not a JSON object");
    return d as ManifestDoc;
  } catch (err) {
    throw new PoddError(`${what}: manifest is not valid JSON: ${(err as Error).message}`, { code: "Invalid" });
  }
}

function kindOf(blob: ManifestBlob, doc: ManifestDoc): "index" | "manifest" | "schema1" | "unknown" {
  const t = blob.mediaType.split(";")[0]!.trim();
  const mt = doc.mediaType ?? t;
  if (doc.schemaVersion === 1 || t === MediaType.dockerSchema1 || t === MediaType.dockerSchema1Signed) return "schema1";
  if (mt === MediaType.ociIndex || mt === MediaType.dockerManifestList || (Array.isArray(doc.manifests) && !doc.config)) return "index";
  if (mt === MediaType.ociManifest || mt === MediaType.dockerManifest || (doc.config && Array.isArray(doc.layers))) return "manifest";
  return "unknown";
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Descriptor | undefined;
  if (!x || typeof x.digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(x.digest) || typeof x.size !== "number" || !Number.isSafeInteger(x.size) || x.size < 0) {
    throw new PoddError(`${what}: descriptor without a sha256 digest and a size`, { code: "Invalid" });
  }
  return x;
}

async function readSmallBlob(source: ImageSource, desc: Descriptor, what: string): Promise<Buffer> {
  if (desc.size > MAX_METADATA_BLOB) throw new PoddError(`${what}: ${desc.size} bytes, more than podd reads of a config (${MAX_METADATA_BLOB})`, { code: "Invalid" });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of await source.openBlob(desc)) {
    n += (c as Buffer).length;
    if (n > desc.size) throw new PoddError(`${what}: more bytes than its descriptor's size ${desc.size}`, { code: "Invalid" });
    chunks.push(c as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (sha256(body) !== desc.digest) throw new PoddError(`${what}: content has digest ${sha256(body)}, not ${desc.digest}`, { code: "Invalid" });
  return body;
}

/** Stores the image `opts.reference` names at `source` under `opts.name`. */
export async function storeImage(store: ImageStore, source: ImageSource, opts: StoreOptions): Promise<StoreResult> {
  const what = `${opts.name} from ${source.name}`;
  let fetched = 0;
  const top = await source.getManifest(opts.reference);
  if (opts.reference.startsWith("sha256:") && top.digest !== opts.reference) {
    throw new PoddError(`${what}: manifest has digest ${top.digest}, not ${opts.reference}`, { code: "Invalid" });
  }
  let blob = top;
  let doc = parseJson(top, what);
  const manifests: string[] = [];
  let kind = kindOf(top, doc);
  if (kind === "index") {
    const chosen = choosePlatform((doc.manifests ?? []).map((m) => checkDescriptor(m, what)), opts.platform, what);
    blob = await source.getManifest(chosen.digest);
    if (blob.digest !== chosen.digest) throw new PoddError(`${what}: manifest has digest ${blob.digest}, not ${chosen.digest}`, { code: "Invalid" });
    doc = parseJson(blob, what);
    kind = kindOf(blob, doc);
    manifests.push(blob.digest);
  }
  if (kind === "schema1") throw new PoddError(`${what}: a Docker schema 1 image, which podd cannot run; push it again with a current tool`, { code: "Invalid" });
  if (kind !== "manifest") throw new PoddError(`${what}: unknown manifest type "${doc.mediaType ?? blob.mediaType}"`, { code: "Invalid" });
  const configDesc = checkDescriptor(doc.config, `${what}: config`);
  const layers = (doc.layers ?? []).map((l, i) => checkDescriptor(l, `${what}: layer ${i + 1}`));
  for (const [i, l] of layers.entries()) {
    if (l.urls?.length || l.mediaType.includes("foreign") || l.mediaType.includes("nondistributable")) {
      throw new PoddError(`${what}: layer ${i + 1} (${l.digest}) is a foreign layer, not distributed with the image; podd does not fetch foreign layers`, { code: "Invalid" });
    }
    if (!LAYER_TYPES.has(l.mediaType)) throw new PoddError(`${what}: layer ${i + 1} has media type "${l.mediaType}", which is no layer podd can unpack`, { code: "Invalid" });
  }
  let configBody = store.readBlob(configDesc.digest);
  if (!configBody) {
    configBody = await readSmallBlob(source, configDesc, `${what}: config`);
    fetched += configBody.length;
  }
  const config = parseImageConfig(configBody);
  if (config.diffIds.length !== layers.length) {
    throw new PoddError(`${what}: the manifest has ${layers.length} layers, the config ${config.diffIds.length}`, { code: "Invalid" });
  }
  if (config.os && config.architecture && (config.os !== opts.platform.os || config.architecture !== opts.platform.architecture)) {
    throw new PoddError(`${what}: the image is for ${config.os}/${config.architecture}, this machine is ${formatPlatform(opts.platform)}`, { code: "Invalid" });
  }
  const chains = chainIds(config.diffIds);
  store.pin(chains);
  try {
    const progress: LayerProgress[] = layers.map((l, i) => ({ digest: l.digest, total: l.size, done: 0, state: store.hasLayer(chains[i]!) ? "present" : "waiting" }));
    opts.onProgress?.(progress);
    const sizes: number[] = new Array(layers.length).fill(0);
    const todo = layers.map((_, i) => i).filter((i) => progress[i]!.state === "waiting");
    const worker = async () => {
      for (let i; (i = todo.shift()) !== undefined; ) {
        const l = layers[i]!;
        const p = progress[i]!;
        p.state = "fetching";
        opts.onProgress?.(progress);
        const got = await store.addLayer(chains[i]!, () => source.openBlob(l), { digest: l.digest, size: l.size, diffId: config.diffIds[i]! }, `${what}: layer ${l.digest}`, (n) => {
          p.done += n;
          fetched += n;
          opts.onProgress?.(progress);
        });
        if (got) sizes[i] = got.size;
        p.state = "done";
        opts.onProgress?.(progress);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.parallel ?? MAX_PARALLEL_LAYERS, Math.max(todo.length, 1)) }, worker));
    store.writeBlob(configBody, configDesc.digest);
    if (blob !== top) store.writeBlob(blob.body, blob.digest);
    store.writeBlob(top.body, top.digest);
    // A layer that was there already: its size as a record that brought it says (read once).
    const known = new Map<string, number>();
    if (sizes.some((n) => n === 0)) for (const r of store.list()) for (const l of r.layers) if (l.size > 0) known.set(l.chainId, l.size);
    const record: ImageRecord = {
      name: opts.name,
      id: configDesc.digest,
      digest: top.digest,
      ...(manifests.length ? { manifests } : {}),
      layers: chains.map((chainId, i) => ({
        chainId,
        diffId: config.diffIds[i]!,
        size: sizes[i] || known.get(chainId) || 0,
      })),
      source: source.name,
      storedAt: opts.now(),
    };
    store.put(record);
    return { record, fetched };
  } finally {
    store.unpin(chains);
  }
}
