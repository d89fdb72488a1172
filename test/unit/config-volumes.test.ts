// Volumes made of objects: the files a configMap, secret, downwardAPI or projected volume holds
// (items, modes, optional, a missing key), and the kubelet's atomic writer that shows them: names
// through "..data", one rename per update, nothing rewritten when nothing changed, what an
// interrupted write left cleaned up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ObjectVolumeError, volumePayload, writePayload, type PodObjects } from "../../supervisor/runtime/config-volumes.ts";
import type { Pod, Volume } from "../../pod-specs/types.ts";
import { withTempDir } from "../lib/temp-dir.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const objects: PodObjects = {
  configMap: (ns, name) => (ns === "default" && name === "conf" ? { data: { "app.conf": "port=80\n", mode: "fast" }, binaryData: { "logo.bin": b64("\x00\x01") } } : undefined),
  secret: (ns, name) => (ns === "default" && name === "db" ? { data: { password: b64("hunter2") } } : undefined),
  claim: () => assert.fail("no claims here"),
};
const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "web", namespace: "default", uid: "u1", labels: { app: "web", tier: "a\"b" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } as Pod;
const files = (v: Volume) => Object.fromEntries([...volumePayload(v, pod, objects)].map(([p, f]) => [p, { text: f.data.toString("utf8"), mode: f.mode.toString(8) }]));

test("payload: every key of a config map, binaryData decoded; items pick and rename with their own modes", () => {
  assert.deepEqual(files({ name: "v", configMap: { name: "conf" } }), {
    "app.conf": { text: "port=80\n", mode: "644" },
    mode: { text: "fast", mode: "644" },
    "logo.bin": { text: "\x00\x01", mode: "644" },
  });
  assert.deepEqual(files({ name: "v", configMap: { name: "conf", defaultMode: 0o400, items: [{ key: "mode", path: "etc/mode" }, { key: "app.conf", path: "app.conf", mode: 0o600 }] } }), {
    "etc/mode": { text: "fast", mode: "400" },
    "app.conf": { text: "port=80\n", mode: "600" },
  });
});

test("payload: missing objects and keys are FailedMount unless optional", () => {
  assert.throws(() => volumePayload({ name: "v", configMap: { name: "nope" } }, pod, objects), (e: Error) => e instanceof ObjectVolumeError && e.message === 'configmap "nope" not found');
  assert.throws(() => volumePayload({ name: "v", secret: { secretName: "nope" } }, pod, objects), /secret "nope" not found/);
  assert.throws(() => volumePayload({ name: "v", configMap: { name: "conf", items: [{ key: "gone", path: "g" }] } }, pod, objects), /configmap references non-existent config key: gone/);
  assert.deepEqual(files({ name: "v", configMap: { name: "nope", optional: true } }), {});
  assert.deepEqual(files({ name: "v", configMap: { name: "conf", optional: true, items: [{ key: "gone", path: "g" }, { key: "mode", path: "m" }] } }), { m: { text: "fast", mode: "644" } });
});

test("payload: a projected volume combines its sources under one defaultMode; downwardAPI formats maps as the kubelet", () => {
  assert.deepEqual(
    files({
      name: "v",
      projected: {
        defaultMode: 0o440,
        sources: [{ secret: { name: "db", items: [{ key: "password", path: "db/password" }] } }, { downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }, { path: "name", fieldRef: { fieldPath: "metadata.name" } }] } }],
      },
    }),
    { "db/password": { text: "hunter2", mode: "440" }, labels: { text: 'app="web"\ntier="a\\"b"', mode: "440" }, name: { text: "web", mode: "440" } },
  );
});

const withDir = (body: (dir: string) => void): void => withTempDir("cfgvol", body);

const payload = (entries: Record<string, string>, mode = 0o644) => new Map(Object.entries(entries).map(([p, t]) => [p, { data: Buffer.from(t), mode }]));

test("writer: names are links through ..data to a timestamped directory; modes exact whatever the umask", () =>
  withDir((dir) => {
    const old = process.umask(0o077);
    try {
      assert.equal(writePayload(dir, payload({ a: "1", "sub/b": "2" }, 0o644), undefined, new Date("2026-12-01T10:00:00Z")), true);
    } finally {
      process.umask(old);
    }
    const target = readlinkSync(join(dir, "..data"));
    assert.match(target, /^\.\.2026_12_01_10_00_00\.\d{9}$/);
    assert.equal(readlinkSync(join(dir, "a")), "..data/a");
    assert.equal(readlinkSync(join(dir, "sub")), "..data/sub");
    assert.equal(readFileSync(join(dir, "sub", "b"), "utf8"), "2");
    assert.equal(lstatSync(join(dir, target, "a")).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir).sort(), [target, "..data", "a", "sub"].sort());
  }));

test("writer: the same payload writes nothing; a change swaps ..data, removes the old version and the names that went", () =>
  withDir((dir) => {
    writePayload(dir, payload({ a: "1", b: "2" }), undefined, new Date("2026-12-01T10:00:00Z"));
    const first = readlinkSync(join(dir, "..data"));
    assert.equal(writePayload(dir, payload({ a: "1", b: "2" }), undefined, new Date("2026-12-01T10:00:05Z")), false);
    assert.equal(readlinkSync(join(dir, "..data")), first);
    // A mode change alone is a change.
    assert.equal(writePayload(dir, payload({ a: "1", b: "2" }, 0o600), undefined, new Date("2026-12-01T10:00:06Z")), true);
    assert.equal(writePayload(dir, payload({ a: "3" }, 0o600), undefined, new Date("2026-12-01T10:00:07Z")), true);
    const second = readlinkSync(join(dir, "..data"));
    assert.notEqual(second, first);
    assert.equal(readFileSync(join(dir, "a"), "utf8"), "3");
    assert.deepEqual(readdirSync(dir).sort(), [second, "..data", "a"].sort());
  }));

test("writer: what an interrupted write left (a half-made version, a stray ..data_tmp) goes with the next write", () =>
  withDir((dir) => {
    writePayload(dir, payload({ a: "1" }), undefined, new Date("2026-12-01T10:00:00Z"));
    mkdirSync(join(dir, "..2026_12_01_10_00_01.000000001"));
    symlinkSync("..2026_12_01_10_00_01.000000001", join(dir, "..data_tmp"));
    writePayload(dir, payload({ a: "2" }), undefined, new Date("2026-12-01T10:00:02Z"));
    const now = readlinkSync(join(dir, "..data"));
    assert.deepEqual(readdirSync(dir).sort(), [now, "..data", "a"].sort());
    assert.equal(readFileSync(join(dir, "a"), "utf8"), "2");
  }));
