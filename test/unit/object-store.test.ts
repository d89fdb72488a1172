// The objects' durable store and the registry over it: files readable by root only, written
// whole, read back after a restart; a broken file reported and left, never fatal and never
// quoting a secret; secrets re-encrypted when the key changes; the API server's write rules
// (create/unchanged/configured, immutability, a Secret's type, namespaces made on first use).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ObjectStore } from "../../supervisor/daemon/object-store.ts";
import { ObjectRegistry, type ObjectChange, type StoredObject } from "../../supervisor/daemon/objects.ts";
import { parseEncryptionConfig } from "../../supervisor/daemon/encryption.ts";
import type { ConfigKind, ConfigObject } from "../../pod-specs/objects.ts";
import { podNames } from "../../supervisor/daemon/object-lifecycle.ts";
import type { BoundPod } from "../../supervisor/runtime/runtime.ts";
import { systemClock } from "../../supervisor/base/time.ts";
import { withTempDir } from "../lib/temp-dir.ts";

const withDir = (body: (dir: string) => void): void => withTempDir("objects", body);

const clock = { ...systemClock, now: () => Date.parse("2026-12-01T10:00:00Z") };
const b64 = (s: string) => Buffer.from(s).toString("base64");
const secret = (data: Record<string, string>, more: Record<string, unknown> = {}): ConfigObject =>
  ({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "shop" }, type: "Opaque", data, ...more }) as ConfigObject;
const configMap = (data: Record<string, string>, more: Record<string, unknown> = {}): ConfigObject =>
  ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "conf" }, data, ...more }) as ConfigObject;

function registry(dir: string, store = new ObjectStore(dir)): { reg: ObjectRegistry; changes: string[] } {
  const changes: string[] = [];
  const reg = new ObjectRegistry(store, clock, (o: StoredObject, change: ObjectChange) => changes.push(`${change} ${o.kind} ${o.metadata.namespace ?? "-"}/${o.metadata.name}`));
  return { reg, changes };
}

test("store: one file per object, 0600 in 0700 directories, read back as written; temp files ignored", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => assert.fail("nothing to report"));
    reg.apply(secret({ password: b64("hunter2") }));
    reg.apply(configMap({ a: "1" }));
    const file = join(dir, "secrets", "shop", "db.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    for (const d of [dir, join(dir, "secrets"), join(dir, "secrets", "shop")]) assert.equal(statSync(d).mode & 0o777, 0o700, d);
    writeFileSync(join(dir, "configmaps", "default", ".conf.json.tmp"), "{half");
    const again = registry(dir).reg;
    again.load(() => assert.fail("a temp file is never read"));
    assert.equal(again.get("Secret", "shop", "db")?.data?.password, b64("hunter2"));
    assert.equal(again.get("ConfigMap", "default", "conf")?.data?.a, "1");
    assert.deepEqual(again.list("Namespace").map((n) => n.metadata.name), ["default", "shop"], "made on first use, and default always");
  }));

test("store: a broken file is reported with its path and left as it is; a broken secret's text is never quoted", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => {});
    reg.apply(secret({ password: b64("hunter2") }));
    reg.apply(configMap({ a: "1" }));
    const secretFile = join(dir, "secrets", "shop", "db.json");
    writeFileSync(secretFile, '{"data":{"password":"hunter2"');
    writeFileSync(join(dir, "configmaps", "default", "conf.json"), "{not json");
    const errors: { path: string; message: string }[] = [];
    const again = registry(dir).reg;
    again.load((path, err) => errors.push({ path, message: err.message }));
    assert.equal(errors.length, 2);
    const s = errors.find((e) => e.path === secretFile)!;
    assert.match(s.message, /read stored Secret .*db\.json: not valid JSON/);
    assert.doesNotMatch(s.message, /hunter2/);
    assert.equal(readFileSync(secretFile, "utf8"), '{"data":{"password":"hunter2"', "left for the user to look at");
    assert.equal(again.get("ConfigMap", "default", "conf"), undefined);
  }));

test("store: a stray file, a file of null or of another object is reported; the daemon starts with the rest", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => {});
    reg.apply(configMap({ a: "1" }));
    writeFileSync(join(dir, "configmaps", "notes.txt"), "mine");
    writeFileSync(join(dir, "configmaps", "default", "nothing.json"), "null\n");
    writeFileSync(join(dir, "configmaps", "default", "other.json"), JSON.stringify({ kind: "ConfigMap", metadata: { name: "conf", namespace: "default" } }));
    const errors: string[] = [];
    const again = registry(dir).reg;
    again.load((path, err) => errors.push(`${path.slice(dir.length)}: ${err.message}`));
    assert.equal(errors.length, 3, errors.join("\n"));
    assert.match(errors.join("\n"), /notes\.txt: not a namespace's directory/);
    assert.match(errors.join("\n"), /nothing\.json: read stored ConfigMap .*: not an object/);
    assert.match(errors.join("\n"), /other\.json: .*metadata\.name is not "other"/);
    assert.equal(again.get("ConfigMap", "default", "conf")?.data?.a, "1");
  }));

test("store: with a key, secrets are written encrypted; a plain one from before is encrypted at load", () =>
  withDir((dir) => {
    const plain = registry(dir).reg;
    plain.load(() => {});
    plain.apply(secret({ password: b64("hunter2") }));
    const file = join(dir, "secrets", "shop", "db.json");
    assert.ok(readFileSync(file).includes(b64("hunter2")));
    const key = Buffer.alloc(32, 7).toString("base64");
    const t = parseEncryptionConfig(
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - secretbox:\n          keys: [{name: k1, secret: ${key}}]\n      - identity: {}\n`,
      "enc.yaml",
    );
    const enc = registry(dir, new ObjectStore(dir, t)).reg;
    enc.load(() => assert.fail("nothing to report"));
    assert.equal(enc.get("Secret", "shop", "db")?.data?.password, b64("hunter2"));
    const stored = readFileSync(file);
    assert.ok(stored.subarray(0, 22).equals(Buffer.from("k8s:enc:secretbox:v1:k")), stored.subarray(0, 30).toString());
    assert.ok(!stored.includes(b64("hunter2")) && !stored.includes("hunter2"));
    // Config maps are never transformed.
    enc.apply(configMap({ a: "1" }));
    assert.match(readFileSync(join(dir, "configmaps", "default", "conf.json"), "utf8"), /"a":"1"/);
  }));

test("registry: created, unchanged, configured; identity kept across a replace; the watchers told", () =>
  withDir((dir) => {
    const { reg, changes } = registry(dir);
    reg.load(() => {});
    changes.length = 0;
    const first = reg.apply(configMap({ a: "1" }));
    assert.equal(first.result, "created");
    assert.equal(first.object.metadata.creationTimestamp, "2026-12-01T10:00:00Z");
    assert.equal(reg.apply(configMap({ a: "1" })).result, "unchanged");
    const second = reg.apply(configMap({ a: "2" }));
    assert.equal(second.result, "configured");
    assert.equal(second.object.metadata.uid, first.object.metadata.uid);
    assert.deepEqual(changes, ["ADDED ConfigMap default/conf", "MODIFIED ConfigMap default/conf"]);
    assert.throws(() => reg.apply(configMap({ a: "2" }), true), /configmaps "conf" already exists/);
    reg.remove(second.object);
    assert.equal(reg.get("ConfigMap", "default", "conf"), undefined);
    assert.deepEqual(readdirSync(join(dir, "configmaps", "default")), []);
  }));

test("registry: an immutable object's data and a Secret's type cannot change; nothing is written when refused", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => {});
    reg.apply(configMap({ a: "1" }, { immutable: true }));
    assert.throws(() => reg.apply(configMap({ a: "2" }, { immutable: true })), /ConfigMap "conf" is invalid: data: Forbidden: field is immutable when `immutable` is set/);
    assert.throws(() => reg.apply(configMap({ a: "1" })), /immutable: Forbidden/);
    // Labels may still change.
    assert.equal(reg.apply(configMap({ a: "1" }, { immutable: true, metadata: { name: "conf", labels: { x: "y" } } })).result, "configured");
    reg.apply(secret({ password: b64("x") }));
    assert.throws(() => reg.apply(secret({ password: b64("x") }, { type: "kubernetes.io/basic-auth" })), /type: Invalid value: "kubernetes.io\/basic-auth": field is immutable/);
    const again = registry(dir).reg;
    again.load(() => {});
    assert.equal(again.get("ConfigMap", "default", "conf")?.data?.a, "1");
    assert.equal(again.get("Secret", "shop", "db")?.type, "Opaque");
  }));

test("registry: namespaces carry their name label; nothing new goes into one being deleted", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => {});
    reg.apply(secret({ password: b64("x") }));
    const ns = reg.get("Namespace", undefined, "shop")!;
    assert.equal(ns.metadata.labels?.["kubernetes.io/metadata.name"], "shop");
    assert.equal(ns.status.phase, "Active");
    reg.update({ ...ns, metadata: { ...ns.metadata, deletionTimestamp: "2026-12-01T10:00:00Z" } });
    assert.throws(() => reg.apply(configMap({ a: "1" }, { metadata: { name: "conf", namespace: "shop" } })), /unable to create new content in namespace shop because it is being terminated/);
  }));

test("registry: a bound claim applied again as it was written is unchanged (its volumeName is podd's)", () =>
  withDir((dir) => {
    const { reg } = registry(dir);
    reg.load(() => {});
    const claim = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } as ConfigObject;
    const made = reg.apply(claim).object as StoredObject & { kind: "PersistentVolumeClaim" };
    reg.update({ ...made, spec: { ...made.spec, volumeName: `pvc-${made.metadata.uid}` }, status: { phase: "Bound" } });
    assert.equal(reg.apply(claim).result, "unchanged");
    assert.equal(reg.get("PersistentVolumeClaim", "default", "data")?.spec.volumeName, `pvc-${made.metadata.uid}`);
  }));

test("podNames: the pods a change of an object concerns, by every way a pod can name it", () => {
  const pod = (spec: Record<string, unknown>) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default", uid: "u" }, spec: { containers: [{ name: "c", image: "i" }], ...spec } }) as unknown as BoundPod;
  const c = (more: Record<string, unknown>) => ({ containers: [{ name: "c", image: "i", ...more }] });
  const cases: [string, BoundPod, ConfigKind, boolean][] = [
    ["configMap volume", pod({ volumes: [{ name: "v", configMap: { name: "cfg" } }] }), "ConfigMap", true],
    ["secret volume", pod({ volumes: [{ name: "v", secret: { secretName: "cfg" } }] }), "Secret", true],
    ["a secret volume is no config map", pod({ volumes: [{ name: "v", secret: { secretName: "cfg" } }] }), "ConfigMap", false],
    ["projection", pod({ volumes: [{ name: "v", projected: { sources: [{ secret: { name: "cfg" } }] } }] }), "Secret", true],
    ["env", pod(c({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } }] })), "ConfigMap", true],
    ["envFrom", pod(c({ envFrom: [{ secretRef: { name: "cfg" } }] })), "Secret", true],
    ["pull secret", pod({ imagePullSecrets: [{ name: "cfg" }] }), "Secret", true],
    ["claim", pod({ volumes: [{ name: "v", persistentVolumeClaim: { claimName: "cfg" } }] }), "PersistentVolumeClaim", true],
    ["another name", pod({ volumes: [{ name: "v", configMap: { name: "other" } }] }), "ConfigMap", false],
  ];
  for (const [what, p, kind, want] of cases) assert.equal(podNames(p, kind, "cfg"), want, what);
});
