// The scheduling fields on podd's one node: the filters' decisions (supervisor/pod/scheduling.ts)
// table by table, each fitting and not, and the API server's checks of the fields
// (pod-specs/scheduling.ts) through the loader, with their paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { admitScheduling, matchesSelector, spreadSkew, untoleratedTaint, type ScheduledPod, type SchedulingNode } from "../../supervisor/pod/scheduling.ts";
import { parseNodeLabels, parseTaints } from "../../supervisor/daemon/node.ts";
import { formatDiagnostic, loadManifests, type PodSpec } from "../../pod-specs/index.ts";

const node: SchedulingNode = {
  name: "edge1",
  labels: { "kubernetes.io/hostname": "edge1", disk: "ssd", cores: "4" },
  taints: [
    { key: "dedicated", value: "edge", effect: "NoSchedule" },
    { key: "soft", effect: "PreferNoSchedule" },
  ],
};
const tolerate = { tolerations: [{ key: "dedicated", operator: "Exists" as const }] };
const nsLabels = (ns: string) => ({ "kubernetes.io/metadata.name": ns, ...(ns === "prod" ? { env: "prod" } : {}) });

function verdict(spec: Partial<PodSpec>, others: ScheduledPod[] = [], labels: Record<string, string> = {}, namespace = "default"): string {
  const r = admitScheduling({ namespace, labels, spec: spec as PodSpec }, node, others, nsLabels);
  return r.admit ? "admit" : `${r.reason}: ${r.message}`;
}

test("nodeName, nodeSelector and required node affinity", () => {
  const cases: [string, Partial<PodSpec>, RegExp][] = [
    ["no fields", tolerate, /^admit$/],
    ["its own name", { ...tolerate, nodeName: "edge1" }, /^admit$/],
    ["another name", { ...tolerate, nodeName: "edge2" }, /^NodeName: Predicate NodeName failed: node\(s\) didn't match the requested node name/],
    ["selector met", { ...tolerate, nodeSelector: { disk: "ssd" } }, /^admit$/],
    ["selector missed", { ...tolerate, nodeSelector: { disk: "hdd" } }, /^NodeAffinity: Predicate NodeAffinity failed: node\(s\) didn't match Pod's node affinity\/selector$/],
    ["In", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: ["nvme", "ssd"] }] }] } } } }, /^admit$/],
    ["terms are ORed", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "gpu", operator: "Exists" }] }, { matchExpressions: [{ key: "cores", operator: "Gt", values: ["2"] }] }] } } } }, /^admit$/],
    ["Lt missed", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "cores", operator: "Lt", values: ["4"] }] }] } } } }, /^NodeAffinity/],
    ["DoesNotExist", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] }] } } } }, /^admit$/],
    ["matchFields by name", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["edge1"] }] }] } } } }, /^NodeAffinity/],
    ["an empty term matches no node", { ...tolerate, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } }, /^NodeAffinity/],
    ["preferred terms always hold", { ...tolerate, affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: "gpu", operator: "Exists" }] } }] } } }, /^admit$/],
  ];
  for (const [what, spec, want] of cases) assert.match(verdict(spec), want, what);
});

test("taints and tolerations: NoSchedule and NoExecute refuse, PreferNoSchedule never does", () => {
  assert.match(verdict({}), /^TaintToleration: Predicate TaintToleration failed: node\(s\) had untolerated taint \{dedicated: edge\}$/);
  const t = node.taints;
  assert.equal(untoleratedTaint([{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }], t), undefined);
  assert.equal(untoleratedTaint([{ key: "dedicated", operator: "Equal", value: "other" }], t)?.key, "dedicated");
  assert.equal(untoleratedTaint([{ key: "dedicated", operator: "Exists", effect: "NoExecute" }], t)?.key, "dedicated", "another effect tolerates nothing");
  assert.equal(untoleratedTaint([{ operator: "Exists" }], t), undefined, "an empty key with Exists tolerates everything");
  assert.equal(untoleratedTaint([], [{ key: "x", effect: "NoExecute" }])?.key, "x");
});

test("pod affinity and anti-affinity over the node's pods, both ways", () => {
  const web: ScheduledPod = { namespace: "default", name: "web1", labels: { app: "web" }, spec: {} };
  const prodDb: ScheduledPod = { namespace: "prod", name: "db", labels: { app: "db" }, spec: {} };
  const term = (labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({ labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname", ...extra });
  const affinity = (t: object) => ({ ...tolerate, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] } } }) as Partial<PodSpec>;
  const anti = (t: object) => ({ ...tolerate, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] } } }) as Partial<PodSpec>;
  assert.equal(verdict(affinity(term({ app: "web" })), [web]), "admit");
  assert.match(verdict(affinity(term({ app: "cache" })), [web]), /^InterPodAffinity: .*didn't match pod affinity rules$/);
  assert.equal(verdict(affinity(term({ app: "cache" })), [], { app: "cache" }), "admit", "the first pod of its group matches its own term");
  // The exception holds over all terms at once: one term matched by a running pod and another
  // matched only by the pod itself is not the first of a group.
  const both = { ...tolerate, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "web" }), term({ app: "cache" })] } } } as Partial<PodSpec>;
  assert.match(verdict(both, [web], { app: "cache" }), /^InterPodAffinity/);
  assert.match(verdict(both, [], { app: "cache" }), /^InterPodAffinity/, "no pod matches, and it matches only one of its own terms");
  const selfBoth = { ...tolerate, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "cache" }), term({ tier: "a" })] } } } as Partial<PodSpec>;
  assert.equal(verdict(selfBoth, [], { app: "cache", tier: "a" }), "admit", "no pod matches, and it matches all of its own terms");
  assert.match(verdict(affinity(term({ app: "web" }, { topologyKey: "topology.kubernetes.io/zone" })), [web]), /^InterPodAffinity/, "a key the node lacks: no domain");
  // Namespaces: the pod's own by default; listed; or by selector (over namespace labels).
  assert.match(verdict(affinity(term({ app: "db" })), [prodDb]), /^InterPodAffinity/);
  assert.equal(verdict(affinity(term({ app: "db" }, { namespaces: ["prod"] })), [prodDb]), "admit");
  assert.equal(verdict(affinity(term({ app: "db" }, { namespaceSelector: { matchLabels: { env: "prod" } } })), [prodDb]), "admit");
  assert.equal(verdict(affinity(term({ app: "db" }, { namespaceSelector: {} })), [prodDb]), "admit", "{} selects every namespace");
  assert.match(verdict(anti(term({ app: "web" })), [web]), /didn't match pod anti-affinity rules$/);
  assert.equal(verdict(anti(term({ app: "web" })), [prodDb]), "admit");
  const guarded: ScheduledPod = { ...web, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "web" })] } } } };
  assert.match(verdict(tolerate, [guarded], { app: "web" }), /existing pods anti-affinity rules \(pod default\/web1\)/);
  assert.equal(verdict(tolerate, [guarded], { app: "api" }), "admit");
  // matchLabelKeys: the selector takes the value of the pod's own label.
  const v1: ScheduledPod = { namespace: "default", name: "v1", labels: { app: "web", version: "1" }, spec: {} };
  assert.equal(verdict(anti({ ...term({ app: "web" }), matchLabelKeys: ["version"] }), [v1], { app: "web", version: "2" }), "admit");
  assert.match(verdict(anti({ ...term({ app: "web" }), matchLabelKeys: ["version"] }), [v1], { app: "web", version: "1" }), /anti-affinity/);
});

test("topology spread on one domain: always within maxSkew, unless minDomains counts others as empty", () => {
  const db = (n: number): ScheduledPod[] => Array.from({ length: n }, (_, i) => ({ namespace: "default", name: `db${i}`, labels: { app: "db" }, spec: {} }));
  const c = { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" as const, labelSelector: { matchLabels: { app: "db" } } };
  const self = { namespace: "default", labels: { app: "db" } };
  assert.equal(spreadSkew(c, self, db(5)), 1, "the pod itself is the only skew: within any maxSkew");
  assert.equal(spreadSkew({ ...c, minDomains: 2 }, self, db(0)), 1);
  assert.equal(spreadSkew({ ...c, minDomains: 2 }, self, db(1)), 2);
  assert.equal(verdict({ ...tolerate, topologySpreadConstraints: [c] }, db(5), { app: "db" }), "admit");
  assert.match(verdict({ ...tolerate, topologySpreadConstraints: [{ ...c, minDomains: 2 }] }, db(1), { app: "db" }), /^PodTopologySpread: .*spread constraints$/);
  assert.equal(verdict({ ...tolerate, topologySpreadConstraints: [{ ...c, minDomains: 2, whenUnsatisfiable: "ScheduleAnyway" as const }] }, db(1), { app: "db" }), "admit", "ScheduleAnyway never refuses");
  assert.match(verdict({ ...tolerate, topologySpreadConstraints: [{ ...c, topologyKey: "topology.kubernetes.io/zone" }] }), /missing required label/);
});

test("label selectors: nil matches nothing, {} everything", () => {
  assert.equal(matchesSelector({ a: "b" }, undefined), false);
  assert.equal(matchesSelector({ a: "b" }, {}), true);
  assert.equal(matchesSelector({ a: "b" }, { matchExpressions: [{ key: "a", operator: "NotIn", values: ["b"] }] }), false);
});

test("--node-labels and --register-with-taints are checked as the kubelet checks them", () => {
  assert.deepEqual(parseNodeLabels("disk=ssd, zone=lab"), { disk: "ssd", zone: "lab" });
  assert.throws(() => parseNodeLabels("disk"), /"disk" is not KEY=VALUE/);
  assert.throws(() => parseNodeLabels("bad key=x"), /invalid --node-labels/);
  assert.deepEqual(parseTaints("dedicated=edge:NoSchedule,maintenance:NoExecute"), [
    { key: "dedicated", value: "edge", effect: "NoSchedule" },
    { key: "maintenance", effect: "NoExecute" },
  ]);
  assert.throws(() => parseTaints("a=b:Never"), /effect must be one of NoSchedule, PreferNoSchedule, NoExecute/);
  assert.throws(() => parseTaints("a=b"), /KEY\[=VALUE\]:EFFECT/);
});

test("the API server's checks of the scheduling fields, with their paths", () => {
  const pod = (spec: string, ns = "default") => `apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ${ns}}\nspec:\n  containers: [{name: c, image: i:1}]\n${spec}`;
  const errors = (spec: string, ns?: string) => loadManifests(pod(spec, ns), "p.yaml").errors.map((e) => formatDiagnostic(e).replace(/^p\.yaml:\d+:\d+: /, ""));
  assert.deepEqual(errors("  nodeSelector: {disk: ssd}\n  tolerations: [{key: a, operator: Exists, effect: NoSchedule}]\n"), []);
  // An empty operator is Equal, as the API server reads it.
  assert.deepEqual(errors("  tolerations: [{key: a, operator: '', value: b, effect: NoSchedule}]\n"), []);
  assert.deepEqual(errors("  tolerations: [{operator: Equal, value: x}]\n"), [
    'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
  ]);
  assert.deepEqual(errors("  tolerations: [{key: a, operator: Exists, value: x}]\n"), ['spec.tolerations[0].operator: Invalid value: "x": value must be empty when `operator` is \'Exists\'']);
  assert.deepEqual(errors("  tolerations: [{key: a, effect: NoSchedule, tolerationSeconds: 5}]\n"), ['spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set']);
  assert.deepEqual(errors("  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In}]}]}}}\n"), [
    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
  ]);
  assert.deepEqual(errors("  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Gt, values: [x]}]}]}}}\n"), [
    'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: "x": must be an integer',
  ]);
  assert.deepEqual(errors("  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {a: b}}}]}}\n"), [
    "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
  ]);
  assert.deepEqual(errors("  topologySpreadConstraints: [{maxSkew: 0, topologyKey: zone, whenUnsatisfiable: Sometimes}]\n"), [
    "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
    'spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Sometimes": supported values: "DoNotSchedule", "ScheduleAnyway"',
  ]);
  assert.deepEqual(errors("  priorityClassName: system-cluster-critical\n", "kube-system"), []);
  assert.deepEqual(errors("  priorityClassName: system-cluster-critical\n  priority: 5\n", "kube-system"), [
    "spec.priority: Forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 2000000000 from the given PriorityClass name",
  ]);
  assert.deepEqual(errors("  priority: 5\n"), ["spec.priority: Forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"]);
  assert.deepEqual(errors("  schedulerName: my-scheduler\n"), ["spec.schedulerName: not supported yet by podd; podd admits every pod itself, as the default scheduler would on its one node; remove it"]);
  const critical = loadManifests(pod("  priorityClassName: system-node-critical\n", "kube-system"), "p.yaml").pods[0]!;
  assert.deepEqual([critical.spec.priority, critical.spec.preemptionPolicy], [2000001000, "PreemptLowerPriority"]);
});
