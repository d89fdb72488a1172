// Test images, made and moved with the tools users make and move images with: umoci builds
// them in an OCI layout directory, skopeo pushes them to a registry or writes them as archives.
// What umoci cannot make (a multi-platform index, zstd layers, an opaque directory) is written
// into the layout by hand, per the OCI image spec.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync, lstatSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { TestRegistry } from "./registry.ts";
import { tool } from "./tool.ts";

/** An image in an OCI layout directory: what skopeo names oci:LAYOUT:TAG. */
export interface OciImage {
  layout: string;
  tag: string;
}

export interface Platform {
  architecture: string;
  os?: string;
  variant?: string;
}

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** NAME=value */
  env?: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string;
  labels?: Record<string, string>;
  /** "80/tcp" */
  exposedPorts?: string[];
  volumes?: string[];
}

export type FileContent = string | Buffer | { content: string | Buffer; mode?: number };

/** What one layer changes, applied in this order: remove, opaque, copy, dirs, files, symlinks. */
export interface LayerSpec {
  /** paths deleted from the lower layers: the layer records a whiteout (.wh.NAME) for each */
  remove?: string[];
  /**
   * directories made opaque: the lower layers' content under each is hidden and only what this
   * layer puts there shows (a .wh..wh..opq entry). Such a layer is written by hand, as umoci's
   * repack records deletions one whiteout at a time.
   */
  opaque?: string[];
  /** a directory whose whole tree is copied onto the root */
  copy?: string;
  dirs?: string[];
  /** path in the image → content; mode 0644 unless given */
  files?: Record<string, FileContent>;
  /** path in the image → link target */
  symlinks?: Record<string, string>;
}

export interface ImageSpec {
  layers: LayerSpec[];
  config?: ImageConfig;
  /** default: linux on the machine's architecture */
  platform?: Platform;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

const refName = "org.opencontainers.image.ref.name";
export const mediaTypes = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  layerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

/** The OCI name of the machine's architecture (Node's names differ: x64, ia32). */
export function hostArchitecture(): string {
  const names: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return names[process.arch] ?? process.arch;
}

export function ociRef(image: OciImage): string {
  return `oci:${image.layout}:${image.tag}`;
}

// ---- the layout, read and written by hand ------------------------------------------------------

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  return join(layout, "blobs", alg!, hex!);
}

export function readBlob(layout: string, digest: string): Buffer {
  return readFileSync(blobPath(layout, digest));
}

/** Writes data as a blob; returns its descriptor (the caller adds what else it needs). */
export function writeBlob(layout: string, mediaType: string, data: Buffer | string): Descriptor {
  const buf = Buffer.from(data);
  const digest = sha256(buf);
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  writeFileSync(blobPath(layout, digest), buf);
  return { mediaType, digest, size: buf.length };
}

interface LayoutIndex {
  schemaVersion: number;
  manifests: Descriptor[];
}

function readLayoutIndex(layout: string): LayoutIndex {
  return JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as LayoutIndex;
}

/** The descriptor tag names in layout's index.json. */
export function tagDescriptor(image: OciImage): Descriptor {
  const d = readLayoutIndex(image.layout).manifests.find((m) => m.annotations?.[refName] === image.tag);
  if (!d) throw new Error(`${ociRef(image)}: no such tag`);
  return d;
}

/** Points tag at descriptor in layout's index.json, replacing what it named before. */
export function setTag(layout: string, tag: string, descriptor: Descriptor): OciImage {
  const index = readLayoutIndex(layout);
  index.manifests = index.manifests.filter((m) => m.annotations?.[refName] !== tag);
  index.manifests.push({ ...descriptor, annotations: { ...descriptor.annotations, [refName]: tag } });
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
  return { layout, tag };
}

export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image manifest tag names, with its digest. */
export function readManifest(image: OciImage): { digest: string; manifest: ManifestJson } {
  const d = tagDescriptor(image);
  if (d.mediaType !== mediaTypes.manifest) throw new Error(`${ociRef(image)}: an ${d.mediaType}, not an image manifest`);
  return { digest: d.digest, manifest: JSON.parse(readBlob(image.layout, d.digest).toString("utf8")) as ManifestJson };
}

// ---- building with umoci ----------------------------------------------------------------------

function configArgs(config: ImageConfig, platform: Platform | undefined): string[] {
  const args: string[] = [];
  for (const a of config.entrypoint ?? []) args.push("--config.entrypoint", a);
  for (const a of config.cmd ?? []) args.push("--config.cmd", a);
  for (const e of config.env ?? []) args.push("--config.env", e);
  if (config.workingDir !== undefined) args.push("--config.workingdir", config.workingDir);
  if (config.user !== undefined) args.push("--config.user", config.user);
  if (config.stopSignal !== undefined) args.push("--config.stopsignal", config.stopSignal);
  for (const [k, v] of Object.entries(config.labels ?? {})) args.push("--config.label", `${k}=${v}`);
  for (const p of config.exposedPorts ?? []) args.push("--config.exposedports", p);
  for (const v of config.volumes ?? []) args.push("--config.volume", v);
  if (platform) args.push("--architecture", platform.architecture, "--os", platform.os ?? "linux");
  return args;
}

function inImage(root: string, path: string): string {
  const rel = path.replace(/^\/+/, "");
  if (rel === "" || rel.split("/").includes("..")) throw new Error(`image path ${JSON.stringify(path)}: must name something below /`);
  return join(root, rel);
}

/** Applies a layer's additions (copy, dirs, files, symlinks) under root. */
function addContent(root: string, layer: LayerSpec): void {
  if (layer.copy) cpSync(layer.copy, root, { recursive: true, verbatimSymlinks: true });
  for (const d of layer.dirs ?? []) mkdirSync(inImage(root, d), { recursive: true });
  for (const [path, c] of Object.entries(layer.files ?? {})) {
    const p = inImage(root, path);
    mkdirSync(dirname(p), { recursive: true });
    const { content, mode } = typeof c === "string" || Buffer.isBuffer(c) ? { content: c, mode: 0o644 } : { content: c.content, mode: c.mode ?? 0o644 };
    rmSync(p, { force: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
  }
  for (const [path, target] of Object.entries(layer.symlinks ?? {})) {
    const p = inImage(root, path);
    mkdirSync(dirname(p), { recursive: true });
    rmSync(p, { force: true, recursive: true });
    symlinkSync(target, p);
  }
}

/**
 * A layer tar written by hand: the additions, an empty .wh.NAME beside each removed path and a
 * .wh..wh..opq in each opaque directory, as the OCI layer format spells them.
 */
async function handMadeLayer(work: string, layer: LayerSpec): Promise<string> {
  const staging = mkdtempSync(join(work, "layer-"));
  for (const r of layer.remove ?? []) {
    const p = inImage(staging, r);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(join(dirname(p), `.wh.${p.slice(dirname(p).length + 1)}`), "");
  }
  for (const d of layer.opaque ?? []) {
    const p = inImage(staging, d);
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, ".wh..wh..opq"), "");
  }
  addContent(staging, layer);
  const tar = `${staging}.tar`;
  // Top-level names rather than ".": entries without a "./" prefix, as most image builders write.
  const entries = readdirSync(staging).sort();
  await tool("tar", ["--create", "--file", tar, "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "-C", staging, ...entries]);
  return tar;
}

/**
 * Builds image LAYOUT:TAG from spec, one layer per spec.layers entry, with umoci (init, new,
 * unpack, repack, config). The layout is made when it does not exist; other tags in it stay.
 * One build at a time per layout: umoci rewrites index.json and collects unreferenced blobs.
 */
export async function buildImage(layout: string, tag: string, spec: ImageSpec): Promise<OciImage> {
  if (!existsSync(join(layout, "index.json"))) {
    mkdirSync(dirname(layout), { recursive: true });
    await tool("umoci", ["init", "--layout", layout]);
  }
  const image = `${layout}:${tag}`;
  await tool("umoci", ["new", "--image", image]);
  const work = mkdtempSync(join(dirname(layout), ".umoci-work-"));
  try {
    const bundle = join(work, "bundle");
    let unpacked = false;
    for (const layer of spec.layers) {
      if (layer.opaque?.length) {
        await tool("umoci", ["raw", "add-layer", "--image", image, await handMadeLayer(work, layer)]);
        // The bundle no longer shows the image's top: unpack again before the next repack.
        rmSync(bundle, { recursive: true, force: true });
        unpacked = false;
        continue;
      }
      if (!unpacked) await tool("umoci", ["unpack", "--image", image, bundle]);
      unpacked = true;
      const rootfs = join(bundle, "rootfs");
      for (const r of layer.remove ?? []) {
        const p = inImage(rootfs, r);
        if (!lstatSync(p, { throwIfNoEntry: false })) throw new Error(`layer removes ${r}, which no lower layer has`);
        rmSync(p, { recursive: true, force: true });
      }
      addContent(rootfs, layer);
      await tool("umoci", ["repack", "--refresh-bundle", "--image", image, bundle]);
    }
    const args = configArgs(spec.config ?? {}, spec.platform ?? { architecture: hostArchitecture() });
    await tool("umoci", ["config", "--image", image, ...args]);
    // Each repack and config leaves the manifests and configs it replaced.
    await tool("umoci", ["gc", "--layout", layout]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { layout, tag };
}

/** (a) A single-layer image of the tree under rootfs (busyboxRootfs in test/e2e/harness.ts makes one). */
export function singleLayerImage(layout: string, tag: string, rootfs: string, config: ImageConfig = {}): Promise<OciImage> {
  return buildImage(layout, tag, { layers: [{ copy: rootfs }], config });
}

/** Rewrites the config blob of image (a platform detail umoci has no flag for) and retags it. */
export function rewriteConfig(image: OciImage, change: (config: Record<string, unknown>) => void): OciImage {
  const { manifest } = readManifest(image);
  const config = JSON.parse(readBlob(image.layout, manifest.config.digest).toString("utf8")) as Record<string, unknown>;
  change(config);
  const configDesc = writeBlob(image.layout, manifest.config.mediaType, JSON.stringify(config));
  const manifestDesc = writeBlob(image.layout, mediaTypes.manifest, JSON.stringify({ ...manifest, config: configDesc }));
  return setTag(image.layout, image.tag, manifestDesc);
}

// ---- (b) whiteouts and an opaque directory ---------------------------------------------------

/** What whiteoutImage's root filesystem holds once its layers are applied in order. */
export const whiteoutImageContent = {
  /** path → content */
  present: { "/etc/kept": "kept\n", "/etc/added": "added\n", "/data/new": "new\n" } as Record<string, string>,
  /** in the lower layers, hidden by a whiteout (/etc/removed, /etc/gone-dir) or the opaque /data */
  absent: ["/etc/removed", "/etc/gone-dir", "/data/old", "/data/sub"],
};

/**
 * (b) Three layers: base plus files; a layer that deletes a file and a directory (umoci's repack
 * records the .wh. entries); a hand-made layer that makes /data opaque and puts one new file
 * in it. whiteoutImageContent says what the result holds.
 */
export function whiteoutImage(layout: string, tag: string, base: LayerSpec = {}, config: ImageConfig = {}): Promise<OciImage> {
  return buildImage(layout, tag, {
    layers: [
      {
        ...base,
        files: {
          ...base.files,
          "/etc/kept": "kept\n",
          "/etc/removed": "removed\n",
          "/etc/gone-dir/inner": "inner\n",
          "/data/old": "old\n",
          "/data/sub/deeper": "deeper\n",
        },
      },
      { remove: ["/etc/removed", "/etc/gone-dir"], files: { "/etc/added": "added\n" } },
      { opaque: ["/data"], files: { "/data/new": "new\n" } },
    ],
    config,
  });
}

// ---- (c) a multi-platform index --------------------------------------------------------------

export function platformName(p: Platform): string {
  return [p.os ?? "linux", p.architecture, p.variant].filter(Boolean).join("/");
}

/** Writes an OCI image index of members (each an image manifest in the same layout) and tags it. */
export function buildIndex(layout: string, tag: string, members: { image: OciImage; platform: Platform }[]): OciImage {
  const manifests = members.map(({ image, platform }) => {
    if (image.layout !== layout) throw new Error(`${ociRef(image)}: an index member must be in ${layout}`);
    const { mediaType, digest, size } = tagDescriptor(image);
    return { mediaType, digest, size, platform: { architecture: platform.architecture, os: platform.os ?? "linux", ...(platform.variant ? { variant: platform.variant } : {}) } };
  });
  const index = writeBlob(layout, mediaTypes.index, JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.index, manifests }));
  return setTag(layout, tag, index);
}

export const indexPlatforms: Platform[] = [
  { architecture: "amd64", os: "linux" },
  { architecture: "arm64", os: "linux" },
  { architecture: "arm", os: "linux", variant: "v7" },
];

/**
 * (c) An index for linux/amd64, linux/arm64 and linux/arm/v7 (and the machine's own platform
 * if it is none of them). The machine's member is built from spec; the others hold one file,
 * /platform, naming their platform. Each member is also tagged TAG-os-arch[-variant].
 */
export async function multiPlatformImage(layout: string, tag: string, spec: ImageSpec): Promise<{ index: OciImage; members: Record<string, OciImage> }> {
  const host = hostArchitecture();
  const platforms = indexPlatforms.some((p) => p.architecture === host) ? indexPlatforms : [...indexPlatforms, { architecture: host, os: "linux" }];
  const members: Record<string, OciImage> = {};
  const list: { image: OciImage; platform: Platform }[] = [];
  for (const platform of platforms) {
    const name = platformName(platform);
    const memberTag = `${tag}-${name.replaceAll("/", "-")}`;
    let image =
      platform.architecture === host
        ? await buildImage(layout, memberTag, { ...spec, platform })
        : await buildImage(layout, memberTag, { layers: [{ files: { "/platform": `${name}\n` } }], config: { cmd: ["/platform"] }, platform });
    if (platform.variant) image = rewriteConfig(image, (c) => (c.variant = platform.variant));
    members[name] = image;
    list.push({ image, platform });
  }
  return { index: buildIndex(layout, tag, list), members };
}

// ---- (e) zstd layers -------------------------------------------------------------------------

/**
 * (e) A copy of image, tagged newTag in the same layout, whose gzip layers are recompressed with
 * zstd (media type ...tar+zstd). The config, so the diff IDs, stays the same.
 */
export async function zstdImage(image: OciImage, newTag: string): Promise<OciImage> {
  const { manifest } = readManifest(image);
  const work = mkdtempSync(join(dirname(image.layout), ".zstd-work-"));
  try {
    const layers: Descriptor[] = [];
    for (const layer of manifest.layers) {
      if (layer.mediaType !== mediaTypes.layerGzip) {
        layers.push(layer);
        continue;
      }
      const tar = join(work, "layer.tar");
      const zst = join(work, "layer.tar.zst");
      await pipeline(createReadStream(blobPath(image.layout, layer.digest)), createGunzip(), createWriteStream(tar));
      await tool("zstd", ["-q", "-f", "-o", zst, tar]);
      layers.push(writeBlob(image.layout, mediaTypes.layerZstd, readFileSync(zst)));
    }
    const desc = writeBlob(image.layout, mediaTypes.manifest, JSON.stringify({ ...manifest, layers }));
    return setTag(image.layout, newTag, desc);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- (g) a large image for benchmarks --------------------------------------------------------

export interface LargeImageOptions {
  /** about how many bytes of content in all; default 50 MiB */
  sizeBytes?: number;
  /** layers of random (incompressible) data, 90% of the size between them; default 3 */
  randomLayers?: number;
  /** small files in one more layer, 10% of the size between them; default 2000 */
  smallFiles?: number;
  /** a first layer (a root filesystem to run something in) */
  base?: LayerSpec;
  config?: ImageConfig;
}

/** (g) A multi-layer image of random data and many small files, for pull and unpack benchmarks. */
export function largeImage(layout: string, tag: string, opts: LargeImageOptions = {}): Promise<OciImage> {
  const size = opts.sizeBytes ?? 50 * 1024 * 1024;
  const randomLayers = opts.randomLayers ?? 3;
  const smallFiles = opts.smallFiles ?? 2000;
  const layers: LayerSpec[] = opts.base ? [opts.base] : [];
  const perLayer = Math.floor((size * 0.9) / randomLayers);
  for (let l = 0; l < randomLayers; l++) {
    // A few files per layer, so unpacking sees more than one large write.
    const files: Record<string, Buffer> = {};
    for (let f = 0; f < 4; f++) files[`/random/layer${l}/blob${f}`] = randomBytes(Math.floor(perLayer / 4));
    layers.push({ files });
  }
  if (smallFiles > 0) {
    const each = Math.max(1, Math.floor((size * 0.1) / smallFiles));
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < smallFiles; i++) files[`/small/d${String(i % 50).padStart(2, "0")}/f${String(i).padStart(5, "0")}`] = randomBytes(each);
    layers.push({ files });
  }
  return buildImage(layout, tag, { layers, ...(opts.config ? { config: opts.config } : {}) });
}

// ---- moving images with skopeo ---------------------------------------------------------------

/**
 * skopeo, without a policy check (these images are unsigned by design) and in a mount namespace
 * of its own where /var/lib is read-only: as root it would otherwise keep a blob-info cache in
 * the machine's /var/lib/containers, state that is not the test's and that would make one
 * test's pushes depend on another's. Without a writable cache dir it keeps the cache in memory.
 */
export function skopeo(args: string[]): Promise<string> {
  return tool("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind -o ro /var/lib /var/lib && exec skopeo --insecure-policy "$@"', "skopeo", ...args], { timeoutMs: 300_000 });
}

export interface Credentials {
  user: string;
  password: string;
}

/** "registry": the registry's own user and password; "none": anonymous. */
export type CredentialsOption = Credentials | "registry" | "none";

/** skopeo's flags to reach registry: side is "src-", "dest-" (copy) or "" (inspect). */
export function registryFlags(registry: TestRegistry, side: "src-" | "dest-" | "", creds: CredentialsOption = "registry"): string[] {
  const flags = registry.tls && registry.certDir ? [`--${side}cert-dir`, registry.certDir] : [`--${side}tls-verify=false`];
  if (creds === "none" || (creds === "registry" && registry.auth === "none")) flags.push(`--${side}no-creds`);
  else {
    const c = creds === "registry" ? { user: registry.user, password: registry.password } : creds;
    flags.push(`--${side}creds`, `${c.user}:${c.password}`);
  }
  return flags;
}

export interface PushOptions {
  /** the destination manifest format; default: the source's (OCI) */
  format?: "oci" | "v2s2";
  /** push every member of an index (needed for an index to arrive whole) */
  all?: boolean;
  creds?: CredentialsOption;
}

export interface Pushed {
  /** HOST/REPOSITORY:TAG */
  reference: string;
  /** the digest of the pushed manifest or index, as the registry has it */
  digest: string;
}

/** (d) Pushes image to registry as target ("repository:tag"). */
export async function pushImage(image: OciImage, registry: TestRegistry, target: string, opts: PushOptions = {}): Promise<Pushed> {
  const reference = `${registry.host}/${target}`;
  const scratch = mkdtempSync(join(dirname(image.layout), ".push-"));
  try {
    const digestFile = join(scratch, "digest");
    await skopeo([
      "copy", "--quiet", "--digestfile", digestFile,
      ...(opts.all ? ["--all"] : []),
      ...(opts.format ? ["--format", opts.format] : []),
      ...registryFlags(registry, "dest-", opts.creds),
      ociRef(image), `docker://${reference}`,
    ]);
    return { reference, digest: readFileSync(digestFile, "utf8").trim() };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface InspectOptions {
  /** the manifest (or index) itself, as the registry serves it; default: skopeo's summary */
  raw?: boolean;
  creds?: CredentialsOption;
  /** which member of an index the summary describes; default the machine's */
  arch?: string;
}

/** skopeo inspect of target ("repository:tag" or "repository@digest") in registry, parsed. */
export async function inspectImage(registry: TestRegistry, target: string, opts: InspectOptions = {}): Promise<Record<string, unknown>> {
  const out = await skopeo([
    ...(opts.arch ? ["--override-arch", opts.arch] : []),
    "inspect", ...(opts.raw ? ["--raw"] : []),
    ...registryFlags(registry, "", opts.creds),
    `docker://${registry.host}/${target}`,
  ]);
  return JSON.parse(out) as Record<string, unknown>;
}

// ---- (f) archives ----------------------------------------------------------------------------

export type ArchiveFormat = "docker-archive" | "oci-archive";

/**
 * (f) Writes image to file as a `docker save` tarball (docker-archive, with name "repo:tag" in
 * its RepoTags) or an OCI layout tarball (oci-archive, with name as the tag in its index).
 * name defaults to podd-test/image:TAG. A docker-archive holds one platform's image; an
 * oci-archive holds a whole index with all.
 */
export async function saveArchive(image: OciImage, file: string, format: ArchiveFormat, opts: { name?: string; all?: boolean } = {}): Promise<string> {
  const name = opts.name ?? `podd-test/image:${image.tag}`;
  rmSync(file, { force: true });
  const dest = format === "docker-archive" ? `docker-archive:${file}:${name}` : `oci-archive:${file}:${name}`;
  await skopeo(["copy", "--quiet", ...(opts.all ? ["--all"] : []), ociRef(image), dest]);
  return file;
}

/** (f) A compressed copy of file: FILE.gz (gzip) or FILE.zst (zstd) unless out is given. */
export async function compressFile(file: string, kind: "gzip" | "zstd", out = `${file}.${kind === "gzip" ? "gz" : "zst"}`): Promise<string> {
  if (kind === "gzip") await pipeline(createReadStream(file), createGzip(), createWriteStream(out));
  else await tool("zstd", ["-q", "-f", "-o", out, file]);
  return out;
}
