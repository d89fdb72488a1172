// What keeps a large manifest cheap must not change what it means: the reader's one-step
// path for the common map entry and the JSON reader's for a member of two strings read
// exactly what the general paths read, problems in maps of plain values (whose positions are
// looked up only when a problem is reported) point where they always did, and the nesting
// check that skips documents of few brackets refuses what it refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyDefaults, loadManifests, type Pod } from "../../pod-specs/index.ts";
import { loadYamlWith, type LoadedText } from "../../pod-specs/load.ts";

/** Both readers on one text: the same trees, positions, errors and warnings. */
function same(text: string): LoadedText {
  const own = loadYamlWith(text, "f.yaml", true);
  const pkg = loadYamlWith(text, "f.yaml", false);
  assert.deepEqual(own.loaded, pkg.loaded, JSON.stringify(text));
  return pkg.loaded;
}

const show = (text: string) => {
  const r = loadManifests(text, "f.yaml");
  return { errors: r.errors.map((e) => `${e.line}:${e.col}: ${e.path}: ${e.message}`), warnings: r.warnings.map((e) => `${e.line}:${e.col}: ${e.path}: ${e.message}`) };
};

const ENTRIES = [
  'k1: "v"',
  'k1:  "v"',
  'k1: ""',
  'k1: "v" ',
  'k1: "v" # c',
  'k1: "v"\t',
  'k1: "a\\"b"',
  'k1: "a\\\\b"',
  'k1: "tab\there"',
  'k1: "é ✓ 💥"',
  'k1: "multi\n      line"',
  '"k1": "v"',
  "k1: 'v'",
  "k1: v",
  'k 1: "v"',
  'k1 : "v"',
  'k1:\t"v"',
  'app.kubernetes.io/name: "v"',
  '-k: "v"',
  '_k: "v"',
  'k1: "v" "w"',
  'k1: "v":',
  '<<: "v"',
];
const NEXT = ["    k2: w", '    k2: "w"', "      k2: w", "  k2: w", "", "    # c", "# c", "...", "---", "- x", "    - x", "\tk2: w", "\ufeffk2: w", "  \t", ".k: w", "-k: w", "    \ufeffk2: w"];

test("the common entry of a large map is read at once exactly as the yaml package reads it", () => {
  let read = 0;
  for (const entry of ENTRIES) {
    for (const next of NEXT) {
      const body = `apiVersion: v1\nmetadata:\n  annotations:\n    ${entry}\n${next}\n    ${entry.replace("k1", "k3")}\nspec: {}\n`;
      for (const text of [body, body.replace(/\n/g, "\r\n"), body.slice(0, -1), `    ${entry}\n${next}`, `a:\n    ${entry}`]) {
        same(text);
        read++;
      }
    }
  }
  assert.ok(read > 1500);
  // The entry may end the slice of its document: what follows the marker is another document.
  same(`a:\n  k: "v"\n---\nb:\n  k: "w"\n`);
  same(`a:\n  k: "v"\n...\n---\nb: 1\n`);
});

test("a JSON member of two strings is read at once with the positions the YAML reader gives", () => {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "x", annotations: { a: "1", "b c": "2", "é": "✓", "": "", "d\"e": "f\\g" } }, spec: { containers: [{ name: "c", image: "host" }] } };
  const texts = [
    JSON.stringify(pod),
    JSON.stringify(pod, null, 2),
    JSON.stringify(pod, null, "\t"),
    JSON.stringify(pod, null, 2).replace(/\n/g, "\r\n"),
    JSON.stringify(pod).replace(/":"/g, '" : "'),
    JSON.stringify(pod).replace(/":"/g, '"\t:\t"'),
    JSON.stringify(pod).replace(/":"/g, '":\n"'),
    JSON.stringify(pod).replace('"1"', "1"),
    JSON.stringify(pod).replace('"1"', '"1\\n2"'),
    JSON.stringify(pod).replace('"1"', '"1\t2"'),
  ];
  // 200 levels of objects are read, with a member of two strings innermost; 201 are refused.
  const nested = (n: number) => `${'{"a":'.repeat(n - 1)}{"k":"v"}${"}".repeat(n - 1)}`;
  texts.push(nested(199), nested(200), nested(201));
  for (const text of texts) same(text);
});

test("problems in maps of plain values point where they always did", () => {
  const pod = (meta: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n${meta}spec:\n  containers: [{name: c, image: host}]\n`;
  const yaml = pod(
    '  annotations:\n    a: "1"\n    b: 2\n    a: "3"\n    c: ~\n    c: "4"\n    "Bad Key": "5"\n    container.apparmor.security.beta.kubernetes.io/c: "6"\n    seccomp.security.alpha.kubernetes.io/pod: "7"\n  labels:\n    l: [x]\n    l: y\n    ok: "v"\n',
  );
  const nameRule = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  assert.deepEqual(show(yaml), {
    errors: [
      '7:8: metadata.annotations.b: expected a string, got number 2; quote it: "2"',
      '8:5: metadata.annotations.a: key "a" already set in map',
      '10:5: metadata.annotations.c: key "c" already set in map',
      `11:5: metadata.annotations: Invalid value: "Bad Key": ${nameRule}`,
      '12:55: metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]: Invalid value: "6": invalid AppArmor profile name: "6"',
      "15:8: metadata.labels.l: expected a string, got a list",
      '16:5: metadata.labels.l: key "l" already set in map',
    ],
    warnings: [
      "13:5: metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: ignored: the seccomp annotations have no effect since Kubernetes v1.27 and none in podd; use securityContext.seccompProfile",
    ],
  });
  const json = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","annotations":{"a" : 1,"b":"2","b":"3"}},"spec":{"containers":[{"name":"c","image":"host"}]}}';
  assert.deepEqual(show(json).errors, ['1:77: metadata.annotations.a: expected a string, got number 1; quote it: "1"', '1:87: metadata.annotations.b: key "b" already set in map']);
  const pretty = JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "x", annotations: { a: "1", "bad key": "2" }, labels: { c: "ok", "d/e/f": "x" } }, spec: { containers: [{ name: "c", image: "host" }] } }, null, 2);
  assert.deepEqual(
    show(pretty).errors.map((e) => e.split(": Invalid value")[0]),
    ["8:7: metadata.annotations", "12:7: metadata.labels"],
  );
  assert.deepEqual(show('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: "1"\n  b: 2\n  a: "x"\n').errors, ['7:6: data.b: expected a string, got number 2; quote it: "2"', '8:3: data.a: key "a" already set in map']);
  assert.deepEqual(show('apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: "1"\n  b: 2\n').errors, ["7:6: stringData.b: expected a string (value not shown: it is a secret's)"]);
});

test("nesting is checked in every document, however few brackets it has", () => {
  const pod = (annotations: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n${annotations}spec:\n  containers: [{name: c, image: host}]\n`;
  // many brackets, none nested deep
  assert.deepEqual(show(pod(Array.from({ length: 300 }, (_, i) => `    k${i}: "[{"\n`).join(""))).errors, []);
  // 201 levels, in a flow collection and (as the check has always counted them) in a block scalar
  assert.deepEqual(show(pod(`    deep: ${"[".repeat(201)}${"]".repeat(201)}\n`)).errors, ["6:211: <root>: yaml: nested more than 200 levels deep"]);
  assert.deepEqual(show(pod(`    doc: |\n      ${"[".repeat(201)}\n`)).errors, ["7:207: <root>: yaml: nested more than 200 levels deep"]);
  assert.deepEqual(show(pod(`    list: ${"[".repeat(190)}${"]".repeat(190)}\n`)).errors, ["6:11: metadata.annotations.list: expected a string, got a list"]);
});

test("applyDefaults leaves the pod it is given as it was; loadManifests defaults its own copy", () => {
  const input = { metadata: { name: "x", annotations: { a: "b" } }, spec: { containers: [{ name: "c", image: "nginx", ports: [{ containerPort: 80 }] }], volumes: [{ name: "v" }] } } as unknown as Pod;
  const before = structuredClone(input);
  const out = applyDefaults(input);
  assert.deepEqual(input, before);
  assert.equal(out.spec.containers[0]!.imagePullPolicy, "Always");
  const loaded = loadManifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n    a: b\nspec:\n  containers:\n  - name: c\n    image: nginx\n    ports: [{containerPort: 80}]\n  volumes: [{name: v}]\n", "f.yaml");
  assert.deepEqual(loaded.errors, []);
  assert.deepEqual(loaded.pods[0], applyDefaults({ ...before, apiVersion: "v1", kind: "Pod" }));
});
