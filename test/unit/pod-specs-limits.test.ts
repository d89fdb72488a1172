// Bounded reading: a document is parsed on its own and refused past kube-apiserver's object
// limit before it is parsed, nesting past 200 levels is refused by a linear scan, the nodes an
// alias may expand to grow with the text, and JSON (what API clients send) is read directly,
// meaning exactly what the YAML reader makes of it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadManifests } from "../../pod-specs/index.ts";
import { MAX_DOCUMENT_BYTES } from "../../pod-specs/load.ts";

const yamlPod = (name: string, extra = "") => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n${extra}spec:\n  containers:\n    - name: c\n      image: host\n      command: ["sh", "-c", "echo 1e3"]\n      env: [{name: A, value: "x"}]\n`;

test("JSON is read directly into the same pod the YAML reader makes, with positions for its errors", () => {
  const y = loadManifests(yamlPod("same"), "p.yaml");
  assert.deepEqual(y.errors, []);
  const json = JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "same" }, spec: { containers: [{ name: "c", image: "host", command: ["sh", "-c", "echo 1e3"], env: [{ name: "A", value: "x" }] }] } }, null, 2);
  const j = loadManifests(json, "p.json");
  assert.deepEqual(j.errors, []);
  assert.deepEqual(j.pods, y.pods);

  const bad = JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "bad" }, spec: { restartPolicy: "Sometimes", containers: [{ name: "c", image: "host", bogus: 1 }] } });
  const r = loadManifests(bad, "<request>");
  assert.deepEqual(r.errors.map((e) => `${e.line}:${e.col}: ${e.path}`), [`1:${bad.indexOf('"Sometimes"') + 1}: spec.restartPolicy`, `1:${bad.indexOf('"bogus"') + 1}: spec.containers[0].bogus`]);
  // Not strict JSON (a trailing comma, YAML flow style): the YAML reader takes it, as before.
  assert.deepEqual(loadManifests('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "flow"}, "spec": {"containers": [{"name": "c", "image": "host"},]}}', "f.yaml").errors, []);
  assert.deepEqual(loadManifests("{apiVersion: v1, kind: Pod, metadata: {name: flow}, spec: {containers: [{name: c, image: host}]}}", "f.yaml").errors, []);
});

test("a document over kube-apiserver's object limit is refused unparsed; many documents under it are read one by one", () => {
  const filler = (bytes: number) => `  annotations:\n${Array.from({ length: Math.ceil(bytes / 100) }, (_, i) => `    k${i}: "${"v".repeat(88)}"\n`).join("")}`;
  const big = yamlPod("big", "metadata-is-above: true\n").replace("metadata-is-above: true\n", "") ;
  const huge = big.replace("  name: big\n", `  name: big\n${filler(MAX_DOCUMENT_BYTES)}`);
  const r = loadManifests(`${yamlPod("first")}---\n${huge}`, "big.yaml");
  assert.deepEqual(r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`), [`11:1: yaml: document is larger than ${MAX_DOCUMENT_BYTES} bytes, kube-apiserver's limit for one object`]);
  // Three documents of 600 kB each: more than the limit together, each under it (the 256 kB
  // annotation limit is Kubernetes' own and is reported, but no document is refused unread).
  const three = [0, 1, 2].map((i) => yamlPod(`p${i}`).replace(`  name: p${i}\n`, `  name: p${i}\n${filler(600 * 1024)}`)).join("---\n");
  const t = loadManifests(three, "three.yaml");
  assert.ok(three.length > MAX_DOCUMENT_BYTES);
  assert.ok(t.errors.length === 3 && t.errors.every((e) => /metadata\.annotations: Too long/.test(`${e.path}: ${e.message}`)), t.errors.map((e) => e.message).join("\n"));
});

test("nesting past 200 levels is refused with its place, in flow and in JSON; an alias bomb of 1 kB is refused", () => {
  const deep = `apiVersion: v1\nkind: Pod\nmetadata: {name: x, annotations: {a: ${"[".repeat(5000)}${"]".repeat(5000)}}}\n`;
  const d = loadManifests(deep, "deep.yaml");
  assert.deepEqual(d.errors.map((e) => `${e.line}:${e.col}: ${e.message}`), [`3:${"metadata: {name: x, annotations: {a: ".length + 199}: yaml: nested more than 200 levels deep`]);
  const j = loadManifests(`{"a": ${"[".repeat(300)}${"]".repeat(300)}}`, "deep.json");
  assert.match(j.errors[0]!.message, /^yaml: nested more than 200 levels deep$/);
  // Block nesting deep enough to exhaust the parser's stack says the same, not what the parser hit.
  const block = Array.from({ length: 1200 }, (_, i) => `${" ".repeat(4 + 2 * i)}-${i === 1199 ? " x" : ""}\n`).join("");
  const k = loadManifests(`apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n    a:\n${block}`, "block.yaml");
  assert.deepEqual(k.errors.map((e) => e.message), ["yaml: nested more than 200 levels deep"]);
  // Brackets in strings and comments are no nesting.
  assert.deepEqual(loadManifests(yamlPod("quoted", `  annotations: {a: "${"[".repeat(500)}", b: '${"{".repeat(500)}'} # ${"[".repeat(500)}\n`), "q.yaml").errors, []);

  const bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
  const b = loadManifests(bomb.join("\n") + "\nkind: Pod\n", "bomb.yaml");
  assert.match(b.errors[0]!.message, /^yaml: document has more than \d+ nodes after expanding aliases$/);
  assert.ok(Number(/more than (\d+)/.exec(b.errors[0]!.message)![1]) < 20_000, "a small text may expand to little");
});
