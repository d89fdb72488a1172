// Namespaces, ConfigMaps, Secrets and claims read from files as the API server reads them: their
// defaults, and their mistakes with file:line:col and the field path; a secret's value is never
// repeated in a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic, loadManifests } from "../../pod-specs/index.ts";

const errors = (text: string) => loadManifests(text, "o.yaml").errors.map(formatDiagnostic);

test("one file of every kind: objects in file order, with the API server's defaults", () => {
  const r = loadManifests(
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {a: b}\nbinaryData: {bin: AAEC}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {x: eA==}\nstringData: {password: pw}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n`,
    "o.yaml",
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.objects.map((o) => o.kind), ["Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim"]);
  const secret = r.objects[2] as { type: string; data: Record<string, string> };
  assert.deepEqual([secret.type, secret.data], ["Opaque", { x: "eA==", password: Buffer.from("pw").toString("base64") }]);
  assert.ok(!("stringData" in secret), "stringData is merged into data, as on write");
  const claim = r.objects[3] as { spec: { storageClassName: string; volumeMode: string } };
  assert.deepEqual([claim.spec.storageClassName, claim.spec.volumeMode], ["local-path", "Filesystem"]);
});

test("each kind's mistakes, with their place and path", () => {
  assert.deepEqual(errors("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'bad key': x}\nbinaryData: {b: '!!'}\n"), [
    `o.yaml:4:8: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    'o.yaml:5:17: binaryData[b]: Invalid value: "<binary data>": must be base64-encoded',
  ]);
  assert.deepEqual(errors("apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/tls\ndata: {tls.crt: eA==}\n"), ["o.yaml:5:7: data[tls.key]: Required value"]);
  // basic-auth: either may be empty, but one of the two must be there
  assert.deepEqual(errors("apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/basic-auth\n"), ["o.yaml:1:1: data[username]: Required value", "o.yaml:1:1: data[password]: Required value"]);
  assert.deepEqual(errors("apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/basic-auth\nstringData: {username: ''}\n"), []);
  assert.deepEqual(errors("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1, namespace: x}\n"), ["o.yaml:3:34: metadata.namespace: Forbidden: not allowed on this type"]);
  assert.deepEqual(errors("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p}\nspec: {accessModes: [ReadWriteOncePod, ReadWriteOnce], resources: {requests: {storage: 1Gi}}, storageClassName: standard}\n"), [
    "o.yaml:4:21: spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
    'o.yaml:4:113: spec.storageClassName: not supported yet by podd; podd provisions claims with its storage classes "local-path" (reclaim policy Delete) and "local-path-retain" (Retain) only; remove storageClassName to get local-path',
  ]);
  assert.deepEqual(errors("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), [
    'o.yaml:7:18: metadata.name: Duplicate value: "c": another ConfigMap in this file has namespace/name default/c',
  ]);
});

test("a secret's value is never repeated in a message", () => {
  const shown = errors("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pin: 48151623}\ndata: {k: 'not base64 48151623!'}\n").join("\n");
  assert.match(shown, /stringData\.pin: expected a string \(value not shown: it is a secret's\)/);
  assert.match(shown, /data\[k\]: Invalid value: "<secret contents redacted>": must be base64-encoded/);
  assert.ok(!shown.includes("48151623"), shown);
  // A value where the map should be is not quoted either.
  const scalar = errors("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: hunter2\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: t}\ndata: hunter3\n").join("\n");
  assert.match(scalar, /stringData: expected an object \(value not shown: it is a secret's\)/);
  assert.ok(!/hunter[23]/.test(scalar), scalar);
  // An empty type is Opaque, as the API server defaults it.
  assert.deepEqual(errors("apiVersion: v1\nkind: Secret\nmetadata: {name: e}\ntype: ''\ndata: {k: eA==}\n"), []);
});
