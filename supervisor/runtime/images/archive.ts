// Images from files, for devices without a network: what `docker save`, `skopeo copy … docker-
// archive:|oci-archive:|oci:` and k3s's airgap tarballs hold. An archive file that is a bare tar
// is read in place (tar-index.ts): each layer streams from where it lies in it. A compressed one
// (gzip or zstd, found by its magic number) or a stream is first unpacked by podd-init into a
// directory of the store's tmp — so a hostile archive cannot write outside it either — and is
// then read as the directory it is. Either way it is read as what it holds:
//   an OCI layout      oci-layout, index.json, blobs/sha256/<hex>; names from the annotations
//                      io.containerd.image.name (Docker 25 and containerd) or
//                      org.opencontainers.image.ref.name
//   a docker-archive   manifest.json ([{Config, RepoTags, Layers}]), layers as bare tars, so a
//                      layer's digest is its diff_id; Docker 25 writes both forms in one archive
// Every blob still goes through the store's verification: the archive is a source like a registry.
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, relative, isAbsolute } from "node:path";
import type { Readable } from "node:stream";
import { PoddError } from "../../base/errors.ts";
import { MAX_METADATA_BLOB, sha256 } from "./store.ts";
import type { ImageStore } from "./store.ts";
import { MediaType, type Descriptor, type ImageSource, type ManifestBlob } from "./source.ts";
import { TarIndex } from "./tar-index.ts";
import { unpackLayer } from "./unpack.ts";

/** One image an archive holds: the names to store it under and where its manifest is. */
export interface ArchivedImage {
  names: string[];
  /** the digest (or for a docker-archive, the key) getManifest takes */
  reference: string;
}

export interface OpenedArchive {
  source: ImageSource;
  images: ArchivedImage[];
  close(): void;
}

const ANNOTATION_NAME = "io.containerd.image.name";
const ANNOTATION_REF = "org.opencontainers.image.ref.name";

/** The files of an archive, whatever holds them: a directory, or a tar read in place. */
interface ArchiveFiles {
  has(rel: string): boolean;
  size(rel: string): number;
  read(rel: string): Buffer;
  open(rel: string): Readable;
}

/** A name an archive's manifest gives, refused when it would leave the archive. */
function checked(rel: string, what: string): string {
  if (isAbsolute(rel) || rel.split("/").includes("..")) throw new PoddError(`${what}: path "${rel}" leaves the archive`, { code: "Invalid" });
  return rel;
}

/** A directory's files, never through a symlink that leaves it. */
function dirFiles(root: string, what: string): ArchiveFiles {
  const inside = (rel: string): string => {
    const path = join(root, checked(rel, what));
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw PoddError.wrap(`${what}: "${rel}" is not in the archive`, err, "Invalid");
    }
    const r = relative(realpathSync(root), real);
    if (r.startsWith("..") || isAbsolute(r)) throw new PoddError(`${what}: "${rel}" points outside the archive`, { code: "Invalid" });
    return real;
  };
  return {
    has: (rel) => existsSync(join(root, checked(rel, what))),
    size: (rel) => lstatSync(inside(rel)).size,
    read: (rel) => readFileSync(inside(rel)),
    open: (rel) => createReadStream(inside(rel)),
  };
}

/** An uncompressed tar's files, read where they lie in it. */
function tarFiles(index: TarIndex, what: string): ArchiveFiles {
  return {
    has: (rel) => index.has(checked(rel, what)),
    size: (rel) => index.size(checked(rel, what)),
    read: (rel) => index.readFile(checked(rel, what)),
    open: (rel) => index.open(checked(rel, what)),
  };
}

/** A manifest, config or index of the archive, refused before it is read when it is larger than any. */
function readBounded(files: ArchiveFiles, rel: string, what: string): Buffer {
  if (files.size(rel) > MAX_METADATA_BLOB) throw new PoddError(`${what}: ${rel} is larger than ${MAX_METADATA_BLOB} bytes`, { code: "Invalid" });
  return files.read(rel);
}

function readJson(files: ArchiveFiles, rel: string, what: string): unknown {
  const body = readBounded(files, rel, what);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw PoddError.wrap(`${what}: ${rel} is not valid JSON`, err, "Invalid");
  }
}

function blobPath(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new PoddError(`"${digest}" is not a sha256 digest`, { code: "Invalid" });
  return `blobs/sha256/${digest.slice(7)}`;
}

/** An OCI layout as a source. */
function ociLayout(files: ArchiveFiles, what: string): OpenedArchive {
  const index = readJson(files, "index.json", what) as { manifests?: Descriptor[] };
  const images: ArchivedImage[] = [];
  for (const m of index.manifests ?? []) {
    // A ref.name of one word is a tag alone (skopeo's oci:DIR:TAG): it names no repository.
    const ref = m.annotations?.[ANNOTATION_REF];
    const names = [m.annotations?.[ANNOTATION_NAME], ref && /[/:]/.test(ref) ? ref : undefined].filter((n): n is string => typeof n === "string" && n !== "");
    images.push({ names: names.slice(0, 1), reference: m.digest });
  }
  const source: ImageSource = {
    name: what,
    async getManifest(reference: string): Promise<ManifestBlob> {
      const body = readBounded(files, blobPath(reference), what);
      const mediaType = (JSON.parse(body.toString("utf8")) as { mediaType?: string }).mediaType ?? MediaType.ociManifest;
      return { mediaType, digest: sha256(body), body };
    },
    async openBlob(desc: Descriptor): Promise<Readable> {
      return files.open(blobPath(desc.digest));
    },
  };
  return { source, images, close: () => {} };
}

interface DockerManifestEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

/** A docker-archive as a source: each entry's Docker v2 manifest is made here. */
function dockerArchive(files: ArchiveFiles, what: string): OpenedArchive {
  const entries = readJson(files, "manifest.json", what);
  if (!Array.isArray(entries)) throw new PoddError(`${what}: manifest.json is not a list`, { code: "Invalid" });
  const manifests = new Map<string, Buffer>();
  const paths = new Map<string, string>();
  const images: ArchivedImage[] = [];
  for (const [i, e] of (entries as DockerManifestEntry[]).entries()) {
    if (typeof e.Config !== "string" || !Array.isArray(e.Layers)) throw new PoddError(`${what}: manifest.json entry ${i + 1} has no Config or Layers`, { code: "Invalid" });
    const configPath = checked(e.Config, what);
    const configBody = readBounded(files, configPath, what);
    const config = JSON.parse(configBody.toString("utf8")) as { rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== e.Layers.length) throw new PoddError(`${what}: entry ${i + 1} names ${e.Layers.length} layers, its config ${diffIds.length}`, { code: "Invalid" });
    const configDigest = sha256(configBody);
    paths.set(configDigest, configPath);
    const layers = e.Layers.map((l, j) => {
      const path = checked(l, what);
      // A docker-archive's layers are bare tars: the digest of the bytes is the diff_id.
      paths.set(diffIds[j]!, path);
      return { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: diffIds[j]!, size: files.size(path) };
    });
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBody.length }, layers }),
    );
    const key = sha256(body);
    manifests.set(key, body);
    images.push({ names: e.RepoTags ?? [], reference: key });
  }
  const source: ImageSource = {
    name: what,
    async getManifest(reference: string): Promise<ManifestBlob> {
      const body = manifests.get(reference);
      if (!body) throw new PoddError(`${what}: no manifest ${reference}`, { code: "NotFound" });
      return { mediaType: MediaType.ociManifest, digest: reference, body };
    },
    async openBlob(desc: Descriptor): Promise<Readable> {
      const path = paths.get(desc.digest);
      if (!path) throw new PoddError(`${what}: no blob ${desc.digest}`, { code: "NotFound" });
      return files.open(path);
    },
  };
  return { source, images, close: () => {} };
}

/** An archive's files as an OCI layout or a docker-archive; the docker form wins when both are there (its names are Docker's). */
function openFiles(files: ArchiveFiles, what: string): OpenedArchive {
  if (files.has("manifest.json")) return dockerArchive(files, what);
  if (files.has("index.json")) return ociLayout(files, what);
  throw new PoddError(`${what}: neither a docker-archive (manifest.json) nor an OCI layout (index.json)`, { code: "Invalid" });
}

/** A directory that is an OCI layout or a docker-archive. */
export function openArchiveDir(dir: string, what: string): OpenedArchive {
  return openFiles(dirFiles(dir, what), what);
}

/**
 * An archive file that is a bare tar, read in place: nothing is unpacked but its layers, each
 * from where it lies. undefined: the file is compressed or no tar; openArchive unpacks it.
 */
export function openTarArchive(path: string, what: string): OpenedArchive | undefined {
  const index = TarIndex.openIfTar(path, what);
  if (!index) return undefined;
  try {
    const opened = openFiles(tarFiles(index, what), what);
    return { ...opened, close: () => index.close() };
  } catch (err) {
    index.close();
    throw err;
  }
}

/** An archive file or stream, unpacked into the store's tmp first; close() removes that. */
export async function openArchive(store: ImageStore, initPath: string, input: Readable, what: string): Promise<OpenedArchive> {
  const dir = join(store.tmpDir, `archive-${randomBytes(8).toString("hex")}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    await unpackLayer(initPath, input, dir, {}, what, undefined, false);
    const opened = openArchiveDir(dir, what);
    return { ...opened, close: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
