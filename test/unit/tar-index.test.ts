// An image archive read in place: the index of a tar's headers, the links it follows (inside the
// archive only), and what it refuses (a truncated file, a damaged header).
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { buffer, text } from "node:stream/consumers";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { openTarArchive } from "../../supervisor/runtime/images/archive.ts";
import { Images } from "../../supervisor/runtime/images/service.ts";
import { systemClock } from "../../supervisor/base/time.ts";
import { build, INIT } from "../init/helpers.ts";
import { looksLikeTar, TarIndex } from "../../supervisor/runtime/images/tar-index.ts";
import { tar, type TarEntry } from "../init/tar-writer.ts";

function file(t: { after(fn: () => void): void }, bytes: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "podd-tar-index-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "a.tar");
  writeFileSync(path, bytes);
  return path;
}

const long = `blobs/${"d".repeat(120)}/layer`;
const entries: TarEntry[] = [
  { name: "./blobs/", type: "5" },
  { name: "./blobs/sha256/aa", data: "layer bytes" },
  { name: "manifest.json", data: "old" },
  { name: "manifest.json", data: '{"new":true}' },
  { name: "id/layer.tar", type: "2", linkname: "../blobs/sha256/aa" },
  { name: "hard", type: "1", linkname: "blobs/sha256/aa" },
  { name: "abs", type: "2", linkname: "/blobs/sha256/aa" },
  { name: "dirlink", type: "2", linkname: "blobs" },
  { name: "escape", type: "2", linkname: "../../etc/passwd" },
  { name: "loop", type: "2", linkname: "loop" },
  { name: "empty", data: "" },
  { name: long, data: "long", format: "gnu" },
  { name: `pax/${"p".repeat(150)}`, data: "pax" },
];

test("files by name, the last of a name winning, through symlinks and hard links inside the archive; long names", async (t) => {
  const index = TarIndex.open(file(t, tar(entries)), "archive a.tar");
  t.after(() => index.close());
  assert.equal(index.readFile("manifest.json").toString(), '{"new":true}');
  for (const name of ["blobs/sha256/aa", "./blobs/sha256/aa", "id/layer.tar", "hard", "abs", "dirlink/sha256/aa"]) {
    assert.equal(await text(index.open(name)), "layer bytes", name);
    assert.equal(index.size(name), 11);
  }
  assert.equal(await text(index.open("empty")), "");
  assert.equal(index.readFile(long).toString(), "long");
  assert.equal(index.readFile(`pax/${"p".repeat(150)}`).toString(), "pax");
  // Links that lead out of the archive, or round in circles, lead nowhere.
  for (const name of ["escape", "loop", "blobs", "nothing", "../a.tar"]) {
    assert.equal(index.has(name), false, name);
    assert.throws(() => index.readFile(name), /is not in the archive/);
  }
});

test("a truncated archive and a damaged header are refused; a compressed file is no tar", (t) => {
  const whole = tar([{ name: "big", data: Buffer.alloc(5000, 7) }, { name: "next", data: "x" }]);
  assert.throws(() => TarIndex.open(file(t, whole.subarray(0, 2048)), "archive a.tar"), /archive a\.tar: the archive ends in the middle of an entry \(truncated\?\)/);
  assert.throws(() => TarIndex.open(file(t, whole.subarray(0, 5632 + 100)), "archive a.tar"), /ends in the middle of a header/);
  assert.throws(() => TarIndex.open(file(t, tar([{ name: "a", data: "x" }, { name: "b", data: "y", badChecksum: true }])), "archive a.tar"), /a damaged tar header at byte 1024/);
  // No end blocks: the end of the file ends it.
  const short = TarIndex.open(file(t, whole.subarray(0, 5632 + 1024)), "archive a.tar");
  t.after(() => short.close());
  assert.equal(short.readFile("next").toString(), "x");
  assert.equal(looksLikeTar(whole), true);
  assert.equal(looksLikeTar(gzipSync(whole)), false);
});

test("a bare docker-archive is read in place, its layer through Docker 25's symlink; a compressed one is left to be unpacked", async (t) => {
  const layer = tar([{ name: "hello", data: "hi\n" }]);
  const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } });
  const archive = tar([
    { name: `blobs/sha256/${diffId.slice(7)}`, data: layer },
    { name: "abc/layer.tar", type: "2", linkname: `../blobs/sha256/${diffId.slice(7)}` },
    { name: "config.json", data: config },
    { name: "manifest.json", data: JSON.stringify([{ Config: "config.json", RepoTags: ["example/app:1"], Layers: ["abc/layer.tar"] }]) },
  ]);
  const path = file(t, archive);
  const opened = openTarArchive(path, "archive a.tar");
  assert.ok(opened);
  t.after(() => opened.close());
  // What is read is the file that was indexed, not one put in its place after.
  writeFileSync(`${path}.new`, tar([{ name: "manifest.json", data: "[]" }]));
  renameSync(`${path}.new`, path);
  assert.deepEqual(opened.images.map((i) => i.names), [["example/app:1"]]);
  const manifest = JSON.parse((await opened.source.getManifest(opened.images[0]!.reference)).body.toString());
  assert.deepEqual(manifest.layers.map((l: { digest: string; size: number }) => [l.digest, l.size]), [[diffId, layer.length]]);
  assert.ok((await buffer(await opened.source.openBlob(manifest.layers[0]))).equals(layer));
  assert.equal(openTarArchive(file(t, gzipSync(archive)), "archive a.tar.gz"), undefined);
  assert.throws(() => openTarArchive(file(t, tar([{ name: "manifest.json", data: JSON.stringify([{ Config: "../etc/c.json", Layers: [] }]) }])), "archive b.tar"), /path "\.\.\/etc\/c\.json" leaves the archive/);
});

test("names and links past PATH_MAX, and more headers than any image archive has, are refused; a long chain of link parts resolves without stalling", (t) => {
  assert.throws(() => TarIndex.open(file(t, tar([{ name: "l", type: "2", linkname: "a/".repeat(3000) }])), "archive a.tar"), /a name or link of more than 4096 bytes/);
  const many = tar(Array.from({ length: 16_385 }, (_, i) => ({ name: `f${i}`, data: "" })));
  assert.throws(() => TarIndex.open(file(t, many), "archive a.tar"), /more than 16384 entries/);
  // A chain of 30 symlinks resolves; a name of 2000 parts is looked up in one pass, not one per part.
  const hops: TarEntry[] = [{ name: "d/f", data: "deep" }, ...Array.from({ length: 30 }, (_, i) => ({ name: `s${i}`, type: "2", linkname: i === 0 ? "d" : `s${i - 1}` }))];
  const index = TarIndex.open(file(t, tar(hops)), "archive a.tar");
  t.after(() => index.close());
  assert.equal(index.readFile(`${"s29/".repeat(1)}f`).toString(), "deep");
  assert.equal(index.has(`${"x/".repeat(2000)}f`), false);
});

test("Images.load reads a bare archive in place and a gzip one by unpacking it first", { skip: process.getuid?.() === 0 ? false : "podd-init unpack keeps owners: root only" }, async (t) => {
  build();
  const layer = tar([{ name: "hello", data: "hi\n" }]);
  const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
  const config = JSON.stringify({ architecture: process.arch === "arm64" ? "arm64" : "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } });
  const archive = (name: string) =>
    tar([
      { name: "layer.tar", data: layer },
      { name: "config.json", data: config },
      { name: "manifest.json", data: JSON.stringify([{ Config: "config.json", RepoTags: [name], Layers: ["layer.tar"] }]) },
    ]);
  const dir = mkdtempSync(join(tmpdir(), "podd-images-load-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { dir: join(dir, "images"), clock: systemClock, platform: { os: "linux", architecture: process.arch === "arm64" ? "arm64" : "amd64" } };
  const first = join(dir, "first.tar");
  writeFileSync(first, archive("example/first:1"));
  assert.deepEqual((await new Images({ ...opts, initPath: INIT }).load(first, "archive first.tar")).map((r) => r.name), ["docker.io/example/first:1"]);
  // Its layer is in the store now: a second archive of it needs no podd-init at all when it is
  // read in place, but would to be unpacked first, as a gzip one must be.
  const noInit = new Images({ ...opts, initPath: join(dir, "no-podd-init") });
  const second = join(dir, "second.tar");
  writeFileSync(second, archive("example/second:1"));
  assert.deepEqual((await noInit.load(second, "archive second.tar")).map((r) => r.name), ["docker.io/example/second:1"]);
  const zipped = join(dir, "third.tar.gz");
  writeFileSync(zipped, gzipSync(archive("example/third:1")));
  await assert.rejects(noInit.load(zipped, "archive third.tar.gz"), /no-podd-init/);
});
