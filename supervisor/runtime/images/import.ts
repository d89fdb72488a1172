// `podd image import NAME DIR|TARBALL`: a root filesystem made by hand becomes a one-layer image
// with a config of podd's making (no command: the manifest gives it). A directory is read by
// tar(1) with numeric owners and extended attributes; a tarball may be gzip- or zstd-compressed.
import { spawn } from "node:child_process";
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { PoddError } from "../../base/errors.ts";
import { DEFAULT_IMAGE_ENV, importedImageConfig } from "./config.ts";
import type { Platform } from "./source.ts";
import { imageKey, ImageStore, type ImageRecord } from "./store.ts";

export interface ImportOptions {
  env?: string[];
  workingDir?: string;
  replace?: boolean;
  platform: Platform;
  now: () => string;
}

function tarOf(dir: string, what: string): { stream: Readable; done: Promise<void> } {
  const child = spawn("tar", ["-C", dir, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cf", "-", "."], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => reject(PoddError.wrap(`${what}: run tar`, err)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new PoddError(`${what}: tar -c ${dir}: ${stderr.trim() || `exit ${code}`}`, { code: "Invalid" }))));
  });
  return { stream: child.stdout, done };
}

export async function importRootfs(store: ImageStore, name: string, path: string, opts: ImportOptions): Promise<ImageRecord> {
  const key = imageKey(name);
  const existing = store.record(key);
  // Replacing is said, never silent: pods that name the image get the new root filesystem.
  if (existing && !opts.replace) {
    throw new PoddError(`image "${key}" already exists (stored ${existing.storedAt}); give --replace to replace it, or import under another name`, { code: "AlreadyExists" });
  }
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw PoddError.wrap(`import ${key}: cannot read "${path}"`, err, "Invalid");
  }
  const what = `import ${key} from ${path}`;
  let layer;
  if (st.isDirectory()) {
    const tar = tarOf(path, what);
    const [got] = await Promise.all([store.importLayer(tar.stream, what), tar.done]);
    layer = got;
  } else {
    layer = await store.importLayer(createReadStream(path), what);
  }
  store.pin([layer.diffId]);
  try {
    const config = importedImageConfig(opts.platform, layer.diffId, opts.env ?? DEFAULT_IMAGE_ENV, opts.workingDir ?? "/", opts.now());
    const id = store.writeBlob(Buffer.from(config));
    const record: ImageRecord = { name: key, id, layers: [{ chainId: layer.diffId, diffId: layer.diffId, size: layer.size }], source: `import ${path}`, storedAt: opts.now() };
    store.put(record);
    if (existing) store.collect();
    return record;
  } finally {
    store.unpin([layer.diffId]);
  }
}
