// A layer from its blob into a directory, as a pull or load streams it: both digests, by the
// blob's magic number, and a damaged or empty blob refused by name.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { unpackLayer } from "../../supervisor/runtime/images/unpack.ts";
import { build, INIT } from "../init/helpers.ts";
import { tar } from "../init/tar-writer.ts";

const skip = process.getuid?.() === 0 ? false : "podd-init unpack keeps owners: root only";
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), "podd-unpack-layer-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A stream of the bytes in chunks of 7, so that the magic number spans chunks. */
const chunked = (b: Buffer) => Readable.from(Array.from({ length: Math.ceil(b.length / 7) }, (_, i) => b.subarray(i * 7, i * 7 + 7)));

test("gzip and bare tars: files unpacked, the blob's digest and the tar's (one and the same for a bare one)", { skip }, async (t) => {
  build();
  const layer = tar([{ name: "etc/hello", data: "hi\n" }]);
  const gz = gzipSync(layer);
  const d1 = dir(t);
  const g = await unpackLayer(INIT, chunked(gz), d1, { digest: sha(gz), size: gz.length, diffId: sha(layer) }, "layer");
  assert.deepEqual([g.digest, g.diffId, g.size], [sha(gz), sha(layer), layer.length]);
  assert.equal(readFileSync(join(d1, "etc/hello"), "utf8"), "hi\n");
  const d2 = dir(t);
  const b = await unpackLayer(INIT, chunked(layer), d2, { diffId: sha(layer) }, "layer");
  assert.deepEqual([b.digest, b.diffId], [sha(layer), sha(layer)]);
  assert.equal(readFileSync(join(d2, "etc/hello"), "utf8"), "hi\n");
});

test("a damaged gzip and a wrong digest are refused with what is wrong; an empty blob is an empty layer", { skip }, async (t) => {
  build();
  const layer = tar([{ name: "a", data: "x" }]);
  const gz = gzipSync(layer);
  const damaged = Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 0xff)]);
  await assert.rejects(unpackLayer(INIT, chunked(damaged), dir(t), {}, "layer L"), (e: Error) => /^layer L: gzip: /.test(e.message));
  await assert.rejects(unpackLayer(INIT, chunked(gz), dir(t), { diffId: sha(gz) }, "layer L"), /layer L: uncompressed content has digest sha256:[0-9a-f]{64}, but the image config says/);
  // Shorter than a magic number: read to its end, not waited on for ever.
  const empty = await unpackLayer(INIT, Readable.from([]), dir(t), {}, "layer L");
  assert.deepEqual([empty.digest, empty.entries], [sha(Buffer.alloc(0)), 0]);
});

test("a blob stream that closes before its end, or failed before it was read, rejects: no unpacker is left waiting", { skip }, async (t) => {
  build();
  const closed = new PassThrough();
  closed.write(Buffer.from([0x1f]));
  setImmediate(() => closed.destroy());
  await assert.rejects(unpackLayer(INIT, closed, dir(t), {}, "layer L"), /closed before its end|premature close/i);
  const failed = new PassThrough();
  failed.on("error", () => {});
  failed.destroy(new Error("connection reset"));
  await assert.rejects(unpackLayer(INIT, failed, dir(t), {}, "layer L"), /connection reset/);
});
