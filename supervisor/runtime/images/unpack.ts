// One layer from its blob to a directory: the bytes as they arrive are counted and hashed
// (the blob's digest), decompressed by their magic number (gzip, zstd, or none), hashed again
// (the config's diff_id) and written into the layer's directory by `podd-init unpack`, which
// refuses anything that would land outside it. Nothing is trusted before both digests match:
// the caller renames the directory into the store only then. Memory stays flat whatever the
// layer's size: streams all the way, with Node's back-pressure.
import { spawn } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Decompress as ZstdDecompress } from "fzstd";
import { PoddError } from "../../base/errors.ts";
import { streamedGarbage } from "../../base/garbage.ts";

export interface LayerExpectation {
  /** the blob's digest and size, from the manifest; absent for a local tarball */
  digest?: string;
  size?: number;
  /** the uncompressed digest, from the config; absent when podd makes the config */
  diffId?: string;
}

export interface UnpackedLayer {
  digest: string;
  compressedSize: number;
  diffId: string;
  /** bytes of the uncompressed tar */
  size: number;
  entries: number;
}

/** Counts and (while `hashing`) hashes what passes; fails as soon as more than `limit` bytes came. */
class Tap extends Transform {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  constructor(private readonly limit: number, private readonly what: string, private readonly onBytes?: (n: number) => void, public hashing = true) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(new PoddError(`${this.what}: more bytes than its descriptor's size ${this.limit}`, { code: "Invalid" }));
    if (this.hashing) this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    streamedGarbage.streamed(chunk.length);
    done(null, chunk);
  }
}

type Compression = "gzip" | "zstd" | "none";

/** What a blob's magic number says it is: gzip (1f 8b), zstd (28 b5 2f fd), else the tar itself. */
function compressionOf(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/**
 * The first n bytes of a stream (fewer if it is shorter), and the stream to read from the start.
 * A stream that fails, or closes before its end, rejects; one that ended already gives nothing.
 */
function withHead(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error | null, ended = false) => {
      if (settled) return;
      settled = true;
      input.off("readable", onReadable);
      input.off("end", onEnd);
      input.off("close", onClose);
      // The error listener stays: an error between now and the pipeline's own listener is the
      // pipeline's to report (it sees the stream errored), not an uncaught one.
      if (err) return reject(err);
      // What was read goes back in front; a stream that has ended takes nothing back.
      if (ended) return resolve({ head, stream: Readable.from(head.length > 0 ? [head] : []) });
      if (head.length > 0) input.unshift(head);
      resolve({ head, stream: input });
    };
    const onReadable = () => {
      for (let c: Buffer | null; head.length < n && (c = input.read() as Buffer | null) !== null; ) head = Buffer.concat([head, c]);
      if (head.length >= n) finish();
    };
    const onEnd = () => finish(undefined, true);
    const onClose = () => finish(input.errored ?? new PoddError("the stream closed before its end", { code: "Internal" }));
    if (input.errored) return finish(input.errored);
    if (input.readableEnded) return finish(undefined, true);
    if (input.destroyed) return finish(new PoddError("the stream closed before its end", { code: "Internal" }));
    input.on("error", finish);
    input.on("readable", onReadable);
    input.once("end", onEnd);
    input.once("close", onClose);
  });
}

/**
 * zstd goes through fzstd, a small pure-JavaScript decoder: Node 20 has no zstd, and a native
 * addon would tie podd to a compiler or prebuilt binaries on every device it runs on.
 */
function zstdDecoder(what: string): (src: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (src) {
    let out: Buffer[] = [];
    const z = new ZstdDecompress((chunk) => out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    const feed = (b: Uint8Array, final: boolean) => {
      try {
        z.push(b, final);
      } catch (err) {
        throw new PoddError(`${what}: zstd: ${(err as Error).message}`, { code: "Invalid" });
      }
      const o = out;
      out = [];
      return o;
    };
    for await (const b of src) yield* feed(b, false);
    yield* feed(new Uint8Array(0), true);
  };
}

/**
 * Streams `input` into `podd-init unpack dir`. Resolves with the digests once the whole blob
 * went through and both match what was expected; rejects otherwise (dir then holds a partial
 * tree, the caller's to remove). Without `digests` nothing is hashed (an archive that is
 * unpacked to be read: its parts are verified one by one); the digests returned are then void.
 */
export async function unpackLayer(initPath: string, input: Readable, dir: string, expect: LayerExpectation, what: string, onBytes?: (n: number) => void, digests = true): Promise<UnpackedLayer> {
  const compressed = new Tap(expect.size ?? Number.MAX_SAFE_INTEGER, what, onBytes, digests);
  const tar = new Tap(Number.MAX_SAFE_INTEGER, what, undefined, digests);
  let plain = false;
  const child = spawn(initPath, ["unpack", dir], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    if (stdout.length < 4096) stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", (err) => reject(PoddError.wrap(`${what}: run ${initPath} unpack`, err)));
    child.on("close", (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0)));
  });
  // A podd-init that could not be started fails at once, before the streams are through: that
  // is awaited below, and must not count as a rejection nobody handles (it would end the daemon).
  exited.catch(() => {});
  let streamError: unknown;
  try {
    const { head, stream } = await withHead(input, 4);
    const compression = compressionOf(head);
    // A tar that came uncompressed is hashed once: its diff_id is its digest.
    plain = compression === "none";
    if (plain) tar.hashing = false;
    // gzip: zlib's own stream, which inflates on Node's thread pool, in large chunks (at its
    // default 16 KiB, the per-chunk cost of the streams behind it doubles the time of a layer).
    if (compression === "gzip") await pipeline(stream, compressed, createGunzip({ chunkSize: 256 * 1024 }), tar, child.stdin);
    else if (compression === "zstd") await pipeline(stream, compressed, zstdDecoder(what), tar, child.stdin);
    else await pipeline(stream, compressed, tar, child.stdin);
  } catch (err) {
    // zlib names its errors Z_…: the blob is no valid gzip.
    streamError = typeof (err as NodeJS.ErrnoException).code === "string" && (err as NodeJS.ErrnoException).code!.startsWith("Z_") ? new PoddError(`${what}: gzip: ${(err as Error).message}`, { code: "Invalid" }) : err;
    // The unpacker may still be reading what it had: stop it, its partial tree is dropped anyway.
    child.kill("SIGKILL");
  }
  const code = await exited;
  if (code !== 0 && (streamError === undefined || (streamError as NodeJS.ErrnoException).code === "EPIPE")) {
    const line = stderr.trim().split("\n").pop() ?? "";
    throw new PoddError(`${what}: ${line.replace(/^podd-init unpack: /, "") || `podd-init unpack exited with ${code}`}`, { code: code === 2 ? "Invalid" : "Internal" });
  }
  if (streamError !== undefined) throw streamError instanceof PoddError ? streamError : PoddError.wrap(what, streamError);
  const digest = `sha256:${compressed.hash.digest("hex")}`;
  const diffId = plain ? digest : `sha256:${tar.hash.digest("hex")}`;
  if (expect.size !== undefined && compressed.bytes !== expect.size) {
    throw new PoddError(`${what}: ${compressed.bytes} bytes, but its descriptor says ${expect.size}`, { code: "Invalid" });
  }
  if (expect.digest !== undefined && digest !== expect.digest) throw new PoddError(`${what}: content has digest ${digest}, not ${expect.digest}`, { code: "Invalid" });
  if (expect.diffId !== undefined && diffId !== expect.diffId) {
    throw new PoddError(`${what}: uncompressed content has digest ${diffId}, but the image config says ${expect.diffId}`, { code: "Invalid" });
  }
  let entries = 0;
  try {
    entries = (JSON.parse(stdout) as { entries: number }).entries;
  } catch {
    throw new PoddError(`${what}: podd-init unpack gave no summary: ${JSON.stringify(stdout.slice(0, 200))}`, { code: "Internal" });
  }
  return { digest, compressedSize: compressed.bytes, diffId, size: tar.bytes, entries };
}
