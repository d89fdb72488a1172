// What the scheduler's filters and the kubelet's admission decide about a pod's scheduling
// fields, for podd's one node: nodeName, nodeSelector and required node affinity, taints and
// tolerations, inter-pod affinity and anti-affinity, topology spread. Preferred terms always
// hold on one node (there is no other to prefer), and ScheduleAnyway constraints never refuse.
// A pod that does not fit is rejected as the kubelet rejects one (reason the predicate's name,
// message "Predicate X failed: …" with the scheduler's wording). Pure: the caller hands in the
// node, the pods it runs and the labels of namespaces.
import type { LabelSelector, LabelSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, Taint, Toleration, TopologySpreadConstraint } from "../../pod-specs/scheduling.ts";
import type { PodSpec } from "../../pod-specs/types.ts";
import type { Admission } from "./admission.ts";

export interface SchedulingNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
}

export interface ScheduledPod {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  spec: Pick<PodSpec, "affinity">;
}

type Labels = Readonly<Record<string, string>>;

function matchesRequirement(labels: Labels, r: LabelSelectorRequirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return has && values.includes(v!);
    case "NotIn":
      return !has || !values.includes(v!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || !/^-?\d+$/.test(v!) || values.length !== 1) return false;
      const a = BigInt(v!);
      const b = BigInt(values[0]!);
      return r.operator === "Gt" ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** A label selector, as metav1.LabelSelectorAsSelector: an empty one matches everything. */
export function matchesSelector(labels: Labels, s: LabelSelector | undefined): boolean {
  if (!s) return false;
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (s.matchExpressions ?? []).every((r) => matchesRequirement(labels, r));
}

/** A node selector term: all of its requirements; an empty term matches no node. */
function matchesTerm(node: SchedulingNode, t: NodeSelectorTerm): boolean {
  const exprs = t.matchExpressions ?? [];
  const fields = t.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return exprs.every((r) => matchesRequirement(node.labels, r)) && fields.every((r) => matchesRequirement({ "metadata.name": node.name }, r));
}

export function fitsNodeAffinity(spec: Pick<PodSpec, "nodeSelector" | "affinity">, node: SchedulingNode): boolean {
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return terms === undefined || terms.some((t) => matchesTerm(node, t));
}

/** A toleration that tolerates the taint (v1 Toleration.ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if ((t.operator ?? "Equal") === "Exists") return true;
  return (t.value ?? "") === (taint.value ?? "");
}

/** The first taint that refuses the pod: NoSchedule and NoExecute do; PreferNoSchedule never refuses. */
export function untoleratedTaint(tolerations: readonly Toleration[] | undefined, taints: readonly Taint[]): Taint | undefined {
  return taints.find((taint) => taint.effect !== "PreferNoSchedule" && !(tolerations ?? []).some((t) => tolerates(t, taint)));
}

/** The selector of a term with its matchLabelKeys and mismatchLabelKeys merged in from the pod's own labels. */
function termSelector(term: Pick<PodAffinityTerm, "labelSelector" | "matchLabelKeys" | "mismatchLabelKeys">, owner: Labels): LabelSelector | undefined {
  if (!term.labelSelector) return undefined;
  const extra: LabelSelectorRequirement[] = [];
  for (const k of term.matchLabelKeys ?? []) if (Object.hasOwn(owner, k)) extra.push({ key: k, operator: "In", values: [owner[k]!] });
  for (const k of (term as PodAffinityTerm).mismatchLabelKeys ?? []) if (Object.hasOwn(owner, k)) extra.push({ key: k, operator: "NotIn", values: [owner[k]!] });
  return { ...term.labelSelector, matchExpressions: [...(term.labelSelector.matchExpressions ?? []), ...extra] };
}

/** The namespaces a term looks in: its list and selector, else the pod's own; {} selects every namespace. */
function termNamespaces(term: PodAffinityTerm, ownNamespace: string, namespaceLabels: (ns: string) => Labels | undefined): (ns: string) => boolean {
  const listed = new Set(term.namespaces ?? []);
  const sel = term.namespaceSelector;
  if (listed.size === 0 && sel === undefined) return (ns) => ns === ownNamespace;
  return (ns) => listed.has(ns) || (sel !== undefined && matchesSelector(namespaceLabels(ns) ?? { "kubernetes.io/metadata.name": ns }, sel));
}

function termMatches(term: PodAffinityTerm, owner: { namespace: string; labels: Labels }, other: { namespace: string; labels: Labels }, namespaceLabels: (ns: string) => Labels | undefined): boolean {
  return termNamespaces(term, owner.namespace, namespaceLabels)(other.namespace) && matchesSelector(other.labels, termSelector(term, owner.labels));
}

const fail = (predicate: string, why: string): Admission => ({ admit: false, reason: predicate, message: `Predicate ${predicate} failed: ${why}` });

/**
 * The scheduler's filters for this node, in the kubelet's order of its own checks first:
 * NodeName, NodeAffinity, TaintToleration, then InterPodAffinity and PodTopologySpread over the
 * pods admitted and not ended (`others`).
 */
export function admitScheduling(
  pod: { namespace: string; labels: Labels; spec: Pick<PodSpec, "nodeName" | "nodeSelector" | "affinity" | "tolerations" | "topologySpreadConstraints"> },
  node: SchedulingNode,
  others: readonly ScheduledPod[],
  namespaceLabels: (ns: string) => Labels | undefined,
): Admission {
  const spec = pod.spec;
  if (spec.nodeName && spec.nodeName !== node.name) return fail("NodeName", `node(s) didn't match the requested node name (the pod asks for ${spec.nodeName}; this node is ${node.name})`);
  if (!fitsNodeAffinity(spec, node)) return fail("NodeAffinity", "node(s) didn't match Pod's node affinity/selector");
  const taint = untoleratedTaint(spec.tolerations, node.taints);
  if (taint) return fail("TaintToleration", `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);

  // Inter-pod affinity: the topology of each term is this node, if it has the key's label.
  const self = { namespace: pod.namespace, labels: pod.labels };
  const affinity = spec.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  if (affinity.length > 0) {
    const noAffinity = fail("InterPodAffinity", "node(s) didn't match pod affinity rules");
    if (!affinity.every((term) => Object.hasOwn(node.labels, term.topologyKey))) return noAffinity;
    const matched = affinity.map((term) => others.some((o) => termMatches(term, self, o, namespaceLabels)));
    // The scheduler's rule for the first pod of a group: when no pod anywhere matches any of
    // the terms, a pod that matches all of its own terms may start (else no such group could
    // ever begin).
    const firstOfGroup = !matched.some(Boolean) && affinity.every((term) => termMatches(term, self, self, namespaceLabels));
    if (!matched.every(Boolean) && !firstOfGroup) return noAffinity;
  }
  for (const term of spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (Object.hasOwn(node.labels, term.topologyKey) && others.some((o) => termMatches(term, self, o, namespaceLabels))) {
      return fail("InterPodAffinity", "node(s) didn't match pod anti-affinity rules");
    }
  }
  for (const o of others) {
    for (const term of o.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (Object.hasOwn(node.labels, term.topologyKey) && termMatches(term, o, self, namespaceLabels)) {
        return fail("InterPodAffinity", `node(s) didn't satisfy existing pods anti-affinity rules (pod ${o.namespace}/${o.name})`);
      }
    }
  }

  for (const c of spec.topologySpreadConstraints ?? []) {
    if (c.whenUnsatisfiable !== "DoNotSchedule") continue;
    if (!Object.hasOwn(node.labels, c.topologyKey)) return fail("PodTopologySpread", "node(s) didn't match pod topology spread constraints (missing required label)");
    if (spreadSkew(c, self, others) > c.maxSkew) return fail("PodTopologySpread", "node(s) didn't match pod topology spread constraints");
  }
  return { admit: true };
}

/**
 * The skew a pod would make on this node, the one domain: the matching pods of its namespace
 * here, plus itself if it matches, less the smallest count of a domain, which is this one's
 * unless minDomains asks for more domains than there are (then it is 0, as the scheduler counts).
 */
export function spreadSkew(c: TopologySpreadConstraint, self: { namespace: string; labels: Labels }, others: readonly ScheduledPod[]): number {
  const selector = termSelector({ ...(c.labelSelector ? { labelSelector: c.labelSelector } : {}), ...(c.matchLabelKeys ? { matchLabelKeys: c.matchLabelKeys } : {}) }, self.labels);
  const count = others.filter((o) => o.namespace === self.namespace && matchesSelector(o.labels, selector)).length;
  const selfMatch = matchesSelector(self.labels, selector) ? 1 : 0;
  const min = (c.minDomains ?? 1) > 1 ? 0 : count;
  return count + selfMatch - min;
}
