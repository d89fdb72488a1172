import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, loadManifests, type Pod } from "../../pod-specs/index.ts";

const fixtures = fileURLToPath(new URL("../fixtures/manifests/", import.meta.url));
const fixture = (name: string) => readFileSync(fixtures + name, "utf8");

function load(text: string, file = "pod.yaml") {
  const r = loadManifests(text, file);
  assert.deepEqual(r.errors.map(formatDiagnostic), [], "no errors expected");
  return r;
}

test("fixture manifests load as pods", () => {
  const cases: Array<[string, string[]]> = [
    ["multi-container.yaml", ["shop/web"]],
    ["init-sidecar.yaml", ["default/app-with-init"]],
    ["flow-style.yaml", ["default/flow"]],
    ["list.yaml", ["default/redis", "jobs/worker"]],
    ["kubectl-generated.yaml", ["default/busy"]],
    ["multi-doc.yaml", ["default/first", "default/second"]],
  ];
  for (const [file, names] of cases) {
    const r = load(fixture(file), file);
    assert.deepEqual(
      r.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
      names,
      file,
    );
    assert.deepEqual(r.warnings, [], file);
  }
});

test("defaults are those of the API server", () => {
  const pod = load(fixture("multi-container.yaml")).pods[0]!;
  const [nginx, shipper] = pod.spec.containers;
  assert.equal(pod.spec.restartPolicy, "Always");
  assert.equal(pod.spec.terminationGracePeriodSeconds, 10); // set in the file
  assert.equal(pod.spec.dnsPolicy, "ClusterFirst");
  assert.equal(nginx!.imagePullPolicy, "IfNotPresent");
  assert.equal(shipper!.imagePullPolicy, "Always"); // :latest
  assert.equal(nginx!.terminationMessagePath, "/dev/termination-log");
  assert.equal(nginx!.terminationMessagePolicy, "File");
  assert.deepEqual(nginx!.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
  // "0.5" is stored in canonical form; requests stay as written
  assert.deepEqual(nginx!.resources, { requests: { cpu: "250m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } });
  // requests default to limits
  assert.deepEqual(shipper!.resources, { limits: { cpu: "100m", memory: "32Mi" }, requests: { cpu: "100m", memory: "32Mi" } });
  assert.deepEqual(nginx!.env![0], { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name", apiVersion: "v1" } } });
  assert.deepEqual(nginx!.env![2]!.valueFrom!.resourceFieldRef, { resource: "limits.memory", divisor: "1Mi" });
  assert.deepEqual(pod.spec.volumes, [
    { name: "logs", emptyDir: { medium: "" } },
    { name: "config", hostPath: { path: "/etc/web", type: "Directory" } },
  ]);
  assert.equal(pod.metadata.uid, undefined);

  const init = load(fixture("init-sidecar.yaml")).pods[0]!;
  assert.equal(init.spec.initContainers![0]!.imagePullPolicy, "IfNotPresent");
  assert.equal(init.spec.initContainers![1]!.imagePullPolicy, "IfNotPresent"); // digest
  assert.equal(init.spec.initContainers![1]!.restartPolicy, "Always");
  assert.deepEqual(init.spec.initContainers![1]!.lifecycle!.postStart, { exec: { command: ["/proxy", "--wait-ready"] } });

  const list = load(fixture("list.yaml")).pods;
  assert.equal(list[1]!.spec.containers[0]!.imagePullPolicy, "Always"); // no tag

  const flow = load(fixture("flow-style.yaml")).pods[0]!;
  assert.equal(flow.spec.containers[0]!.imagePullPolicy, "Never"); // podd's "host" image
  assert.equal(flow.spec.containers[0]!.ports![0]!.hostPort, 9100); // hostNetwork
});

test("probe timings, emptyDir and volume defaults", () => {
  // Probes are refused for now, so check their defaults through applyDefaults directly.
  return import("../../pod-specs/index.ts").then(({ applyDefaults }) => {
    const pod = applyDefaults({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: {
        containers: [{ name: "c", image: "i:1", livenessProbe: { tcpSocket: { port: 80 } }, readinessProbe: { httpGet: { port: 80 }, periodSeconds: 5 } }],
        volumes: [{ name: "v" } as Pod["spec"]["volumes"] extends Array<infer V> | undefined ? V : never, { name: "h", hostPath: { path: "/x" } }],
        resources: { limits: { cpu: "2" } },
      },
    });
    const c = pod.spec.containers[0]!;
    assert.deepEqual(c.livenessProbe, { tcpSocket: { port: 80 }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    assert.deepEqual(c.readinessProbe, { httpGet: { port: 80, path: "/", scheme: "HTTP" }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    assert.deepEqual(pod.spec.volumes, [{ name: "v", emptyDir: { medium: "" } }, { name: "h", hostPath: { path: "/x", type: "" } }]);
    assert.deepEqual(pod.spec.resources, { limits: { cpu: "2" }, requests: { cpu: "2" } });
    assert.equal(pod.metadata.namespace, "default");
  });
});

test("the same pod in block, flow and JSON style gives the same object", () => {
  const block = `
apiVersion: v1
kind: Pod
metadata:
  name: same
  labels:
    app: same
spec:
  containers:
    - name: c
      image: alpine:3
      command:
        - sh
        - -c
        - "echo hi"
      resources:
        limits:
          memory: 64Mi
`;
  const flow = `{apiVersion: v1, kind: Pod, metadata: {name: same, labels: {app: same}}, spec: {containers: [{name: c, image: "alpine:3", command: [sh, -c, echo hi], resources: {limits: {memory: 64Mi}}}]}}`;
  const json = JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "same", labels: { app: "same" } },
    spec: { containers: [{ name: "c", image: "alpine:3", command: ["sh", "-c", "echo hi"], resources: { limits: { memory: "64Mi" } } }] },
  }, null, 2);
  const a = load(block).pods;
  assert.deepEqual(load(flow).pods, a);
  assert.deepEqual(load(json, "pod.json").pods, a);
  // and it prints as kubectl would: plain JSON, no class instances
  assert.deepEqual(JSON.parse(JSON.stringify(a[0])), a[0]);
});

test("YAML is read as kubectl reads it (YAML 1.1)", () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: yaml11
  annotations:
    built: 2024-01-02
    enabled: yes
spec:
  containers:
    - name: c
      image: i:1
      tty: off
`;
  const r = loadManifests(text, "y.yaml");
  // "yes" is a boolean to kubectl, so an annotation value must be quoted; a date stays a string.
  assert.deepEqual(r.errors.map(formatDiagnostic), [
    'y.yaml:7:14: metadata.annotations.enabled: expected a string, got boolean yes; quote it: "yes"',
  ]);
  const fixed = load(text.replace("enabled: yes", 'enabled: "yes"'));
  assert.deepEqual(fixed.pods[0]!.metadata.annotations, { built: "2024-01-02", enabled: "yes" });
  assert.equal(fixed.pods[0]!.spec.containers[0]!.tty, false);
});

test("an escaped single quote in a double-quoted string is a single quote, as kubectl reads it, and positions stay right", () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: quotes}
spec:
  containers:
    - name: c
      image: i:1
      command: ["sh", "-c", "echo \\'$(GREETING)\\' && echo \\"\\\\'\\""]
      args: ["it\\'s", "\\'", 'single \\']
      env: [{name: GREETING, value: "\\'hi\\'", bogus: x}]
`;
  const r = loadManifests(text, "q.yaml");
  // The error after two rewritten escapes on its line still points at the key as written.
  assert.deepEqual(r.errors.map(formatDiagnostic), ['q.yaml:10:47: spec.containers[0].env[0].bogus: unknown field "bogus"']);
  const ok = load(text.replace(", bogus: x", ""));
  const c = ok.pods[0]!.spec.containers[0]!;
  assert.deepEqual(c.command, ["sh", "-c", `echo '$(GREETING)' && echo "\\'"`]);
  // In single quotes a backslash is only a backslash, in YAML and in go-yaml alike.
  assert.deepEqual(c.args, ["it's", "'", "single \\"]);
  assert.equal(c.env![0]!.value, "'hi'");
  // Other escapes YAML does not know are still errors, at their place.
  const bad = loadManifests(text.replace(", bogus: x", "").replace('"it\\\'s"', '"it\\qs"'), "q.yaml");
  assert.deepEqual(bad.errors.map((e) => `${e.line}:${e.col} ${e.message}`), ["9:17 yaml: invalid escape sequence \\q"]);
});

test("merge keys and anchors", () => {
  const text = `
apiVersion: v1
kind: List
items:
  - &pod
    apiVersion: v1
    kind: Pod
    metadata: {name: one}
    spec:
      containers:
        - &c {name: c, image: "alpine:3", command: [sleep, "60"]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: two}
    spec:
      containers:
        - <<: *c
          image: "alpine:3.20"
`;
  const pods = load(text).pods;
  assert.deepEqual(pods.map((p) => p.spec.containers[0]!.image), ["alpine:3", "alpine:3.20"]);
  assert.deepEqual(pods[1]!.spec.containers[0]!.command, ["sleep", "60"]);
});

test("empty documents and comment-only files give no pods and no errors", () => {
  for (const text of ["", "\n", "# nothing\n", "---\n---\n", "--- # c\n...\n"]) {
    assert.deepEqual(loadManifests(text, "e.yaml"), { pods: [], objects: [], errors: [], warnings: [] }, JSON.stringify(text));
  }
});

test("unknown fields: strict by default, warnings or silence on request", () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: u
spec:
  containers:
    - name: c
      image: i:1
      imagePullPolic: Always
      colour: blue
`;
  const strict = loadManifests(text, "u.yaml");
  assert.deepEqual(strict.errors.map(formatDiagnostic), [
    'u.yaml:9:7: spec.containers[0].imagePullPolic: unknown field "imagePullPolic"; did you mean "imagePullPolicy"?',
    'u.yaml:10:7: spec.containers[0].colour: unknown field "colour"',
  ]);
  assert.deepEqual(strict.pods, []);

  const warn = loadManifests(text, "u.yaml", { validate: "warn" });
  assert.deepEqual(warn.errors, []);
  assert.equal(warn.warnings.length, 2);
  assert.equal(warn.pods.length, 1);
  assert.equal("colour" in warn.pods[0]!.spec.containers[0]!, false);
  assert.equal(warn.pods[0]!.spec.containers[0]!.imagePullPolicy, "IfNotPresent");

  const ignore = loadManifests(text, "u.yaml", { validate: "ignore" });
  assert.deepEqual([ignore.errors, ignore.warnings, ignore.pods.length], [[], [], 1]);

  // not-supported-yet fields are errors in every mode
  const refused = text.replace("colour: blue", "volumeDevices: [{name: d, devicePath: /dev/xvda}]");
  assert.equal(loadManifests(refused, "u.yaml", { validate: "ignore" }).errors.length, 1);
});
