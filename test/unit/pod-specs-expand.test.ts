import { test } from "node:test";
import assert from "node:assert/strict";
import { containerEnv, expand, expandCommandAndArgs, loadManifests, mappingOf } from "../../pod-specs/index.ts";
import { podFieldValue } from "../../pod-specs/env.ts";
import type { Pod } from "../../pod-specs/types.ts";

const vars = new Map([
  ["VAR_A", "A"],
  ["VAR_B", "B"],
  ["VAR_C", "C"],
  ["VAR_REF", "$(VAR_A)"],
  ["VAR_EMPTY", ""],
  ["1", "one"],
  ["with space", "spaced"],
]);
const lookup = mappingOf(vars);

// [input, expected]
const cases: Array<[string, string]> = [
  ["", ""],
  ["plain text", "plain text"],
  ["$(VAR_A)", "A"],
  ["$(VAR_A)$(VAR_B)", "AB"],
  ["x$(VAR_A)y$(VAR_B)z", "xAyBz"],
  ["$(VAR_EMPTY)", ""],
  ["[$(VAR_EMPTY)]", "[]"],
  // values are not expanded again
  ["$(VAR_REF)", "$(VAR_A)"],
  // undefined names stay as written
  ["$(UNDEFINED)", "$(UNDEFINED)"],
  ["$(UNDEFINED)$(VAR_A)", "$(UNDEFINED)A"],
  ["$()", "$()"],
  // $$ escapes
  ["$$", "$"],
  ["$$(VAR_A)", "$(VAR_A)"],
  ["$$$(VAR_A)", "$A"],
  ["$$$$(VAR_A)", "$$(VAR_A)"],
  ["a$$b", "a$b"],
  // a lone $ or one before any other character is kept
  ["$", "$"],
  ["a$", "a$"],
  ["$VAR_A", "$VAR_A"],
  ["${VAR_A}", "${VAR_A}"],
  ["$ $", "$ $"],
  // unterminated references are kept and scanning goes on after "$("
  ["$(VAR_A", "$(VAR_A"],
  ["$(", "$("],
  ["$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"],
  ["$($(VAR_A)", "$($(VAR_A)"],
  ["$(VAR_A)$(", "A$("],
  // the name is everything up to the first ")"
  ["$(with space)", "spaced"],
  ["$(1)", "one"],
  ["$((VAR_A))", "$((VAR_A))"],
  ["$(VAR_A))", "A)"],
  ["héllo $(VAR_A) ünïcode", "héllo A ünïcode"],
];

test("expand follows the kubelet's rules", () => {
  for (const [input, want] of cases) assert.equal(expand(input, lookup), want, JSON.stringify(input));
});

test("mappingOf tries maps and functions in order", () => {
  const m = mappingOf(undefined, new Map([["A", "1"]]), (n) => (n === "B" ? "2" : undefined), new Map([["A", "shadowed"]]));
  assert.equal(m("A"), "1");
  assert.equal(m("B"), "2");
  assert.equal(m("C"), undefined);
});

const manifest = `
apiVersion: v1
kind: Pod
metadata:
  name: env
  namespace: ns
  uid: 1234-5678
  labels: {app: demo}
spec:
  containers:
    - name: main
      image: demo:1
      command: ["/bin/echo", "$(GREETING)", "$(LATER)", "$$(GREETING)"]
      args: ["$(IMAGE_VAR)", "$(MISSING)"]
      resources:
        limits: {cpu: 1500m, memory: 100Mi}
        requests: {cpu: 250m}
      env:
        - {name: EARLY, value: "uses $(LATER)"}
        - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: GREETING, value: "hello $(NAME) in $(IMAGE_VAR)"}
        - {name: LATER, value: "later"}
        - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
        - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
        - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
        - {name: CPU_MILLI, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
        - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
        - {name: SIDE_MEM, valueFrom: {resourceFieldRef: {containerName: side, resource: limits.memory}}}
        - {name: NAME, value: "renamed $(NAME)"}
    - name: side
      image: side:1
`;

test("containerEnv resolves in order; command and args see the whole env", () => {
  const r = loadManifests(manifest, "env.yaml");
  assert.deepEqual(r.errors, []);
  const pod = r.pods[0]!;
  const main = pod.spec.containers[0]!;
  const env = containerEnv(pod, main, {
    base: mappingOf(new Map([["IMAGE_VAR", "from-image"]])),
    fields: mappingOf(new Map([["status.podIP", "10.0.0.7"]])),
    allocatable: { cpu: "4", memory: "8Gi" },
  });
  assert.deepEqual(env, [
    // LATER is defined after EARLY, so it is not expanded there
    { name: "EARLY", value: "uses $(LATER)" },
    { name: "GREETING", value: "hello env in from-image" },
    { name: "LATER", value: "later" },
    { name: "APP", value: "demo" },
    { name: "IP", value: "10.0.0.7" },
    // no serviceAccountName in the manifest: Kubernetes' admission names "default"
    { name: "SA", value: "default" },
    // 1500m rounded up to whole CPUs
    { name: "CPU_LIMIT", value: "2" },
    { name: "CPU_MILLI", value: "250" },
    { name: "MEM_MI", value: "100" },
    // side has no limit: the machine's allocatable memory
    { name: "SIDE_MEM", value: String(8 * 1024 ** 3) },
    // a redefinition replaces the value (and sees the earlier one)
    { name: "NAME", value: "renamed env" },
  ]);
  const { command, args } = expandCommandAndArgs(main, env, mappingOf(new Map([["IMAGE_VAR", "from-image"]])));
  assert.deepEqual(command, ["/bin/echo", "hello env in from-image", "later", "$(GREETING)"]);
  assert.deepEqual(args, ["from-image", "$(MISSING)"]);
});

test("podFieldValue: a label or annotation key is looked up among the pod's own, never the object's properties", () => {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", labels: { app: "web" } }, spec: { containers: [] } } as unknown as Pod;
  assert.equal(podFieldValue(pod, "metadata.labels['app']"), "web");
  assert.equal(podFieldValue(pod, "metadata.labels['constructor']"), undefined);
  assert.equal(podFieldValue(pod, "metadata.annotations['toString']"), undefined);
});
