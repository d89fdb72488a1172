// The scheduling fields of a Pod, as the API server validates them (ValidateNodeSelector,
// ValidateAffinity, ValidateTolerations, ValidateTopologySpreadConstraints, the Priority
// admission plugin's built-in classes). podd evaluates them against its one node at admission
// (supervisor/pod/scheduling.ts), so that a manifest means here what it means on a cluster.
import { isDns1123Label, isDns1123Subdomain, isLabelValue, isQualifiedName } from "./names.ts";
import { forbidden, invalid, required, unsupported, type Add } from "./validate.ts";
import type { PodSpec } from "./types.ts";

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface NodeSelectorTerm {
  matchExpressions?: LabelSelectorRequirement[];
  matchFields?: LabelSelectorRequirement[];
}

export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  namespaces?: string[];
  namespaceSelector?: LabelSelector;
  topologyKey: string;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
  };
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAffinity;
}

export interface PodAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTerm }[];
}

export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: TaintEffect | "";
  tolerationSeconds?: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  labelSelector?: LabelSelector;
  minDomains?: number;
  nodeAffinityPolicy?: "Honor" | "Ignore";
  nodeTaintsPolicy?: "Honor" | "Ignore";
  matchLabelKeys?: string[];
}

/** The priority classes every cluster has (scheduling/v1's SystemPriorityClasses). */
export const SYSTEM_PRIORITY_CLASSES: Readonly<Record<string, number>> = {
  "system-node-critical": 2000001000,
  "system-cluster-critical": 2000000000,
};
/** The kubelet's critical-pod threshold (SystemCriticalPriority). */
export const CRITICAL_PRIORITY = 2000000000;

export const TAINT_EFFECTS: readonly TaintEffect[] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const NODE_SELECTOR_OPERATORS = ["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"];
const LABEL_SELECTOR_OPERATORS = ["DoesNotExist", "Exists", "In", "NotIn"];

function validateLabels(m: Record<string, string> | undefined, path: string, add: Add): void {
  for (const [k, v] of Object.entries(m ?? {})) {
    for (const e of isQualifiedName(k)) add(path, invalid(k, e), { at: `${path}[${k}]`, atKey: true });
    for (const e of isLabelValue(v)) add(`${path}[${k}]`, invalid(v, e));
  }
}

function validateRequirement(r: LabelSelectorRequirement, path: string, operators: readonly string[], add: Add, field = false): void {
  if (!r.key) add(`${path}.key`, required());
  else if (field) {
    if (r.key !== "metadata.name") add(`${path}.key`, unsupported(r.key, ["metadata.name"]));
  } else for (const e of isQualifiedName(r.key)) add(`${path}.key`, invalid(r.key, e));
  const values = r.values ?? [];
  if (!operators.includes(r.operator)) return add(`${path}.operator`, unsupported(r.operator, operators));
  if (field && r.operator !== "In" && r.operator !== "NotIn") return add(`${path}.operator`, unsupported(r.operator, ["In", "NotIn"]));
  if (field && values.length !== 1) return add(`${path}.values`, required("must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
  switch (r.operator) {
    case "In":
    case "NotIn":
      if (values.length === 0) add(`${path}.values`, required("must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case "Exists":
    case "DoesNotExist":
      if (values.length > 0) add(`${path}.values`, forbidden("may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case "Gt":
    case "Lt":
      if (values.length !== 1) add(`${path}.values`, required("must be specified single value when `operator` is 'Lt' or 'Gt'"));
      else if (!/^-?\d+$/.test(values[0]!)) add(`${path}.values[0]`, invalid(values[0], "must be an integer"));
      break;
  }
  if (!field && r.operator !== "Gt" && r.operator !== "Lt") values.forEach((v, i) => isLabelValue(v).forEach((e) => add(`${path}.values[${i}]`, invalid(v, e))));
}

function validateNodeSelectorTerm(t: NodeSelectorTerm, path: string, add: Add): void {
  (t.matchExpressions ?? []).forEach((r, i) => validateRequirement(r, `${path}.matchExpressions[${i}]`, NODE_SELECTOR_OPERATORS, add));
  (t.matchFields ?? []).forEach((r, i) => validateRequirement(r, `${path}.matchFields[${i}]`, NODE_SELECTOR_OPERATORS, add, true));
}

export function validateLabelSelector(s: LabelSelector | undefined, path: string, add: Add): void {
  if (!s) return;
  validateLabels(s.matchLabels, `${path}.matchLabels`, add);
  (s.matchExpressions ?? []).forEach((r, i) => validateRequirement(r, `${path}.matchExpressions[${i}]`, LABEL_SELECTOR_OPERATORS, add));
}

function validatePodAffinityTerm(t: PodAffinityTerm, path: string, add: Add): void {
  if (!t.topologyKey) add(`${path}.topologyKey`, required("can not be empty"));
  else for (const e of isQualifiedName(t.topologyKey)) add(`${path}.topologyKey`, invalid(t.topologyKey, e));
  validateLabelSelector(t.labelSelector, `${path}.labelSelector`, add);
  validateLabelSelector(t.namespaceSelector, `${path}.namespaceSelector`, add);
  (t.namespaces ?? []).forEach((n, i) => isDns1123Label(n).forEach((e) => add(`${path}.namespaces[${i}]`, invalid(n, e))));
  for (const f of ["matchLabelKeys", "mismatchLabelKeys"] as const) {
    (t[f] ?? []).forEach((k, i) => {
      isQualifiedName(k).forEach((e) => add(`${path}.${f}[${i}]`, invalid(k, e)));
      if (t.labelSelector?.matchExpressions?.some((r) => r.key === k) || Object.hasOwn(t.labelSelector?.matchLabels ?? {}, k)) {
        add(`${path}.${f}[${i}]`, invalid(k, "exists in both matchLabelKeys and labelSelector"));
      }
    });
  }
}

function validatePodAffinity(a: PodAffinity | undefined, path: string, add: Add): void {
  if (!a) return;
  (a.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => validatePodAffinityTerm(t, `${path}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`, add));
  (a.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((w, i) => {
    const wp = `${path}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
    if (w.weight < 1 || w.weight > 100) add(`${wp}.weight`, invalid(w.weight, "must be in the range 1-100"));
    if (w.podAffinityTerm) validatePodAffinityTerm(w.podAffinityTerm, `${wp}.podAffinityTerm`, add);
    else add(`${wp}.podAffinityTerm`, required());
  });
}

export function validateToleration(t: Toleration, path: string, add: Add): void {
  if (t.key) for (const e of isQualifiedName(t.key)) add(`${path}.key`, invalid(t.key, e));
  if (!t.key && t.operator !== "Exists") add(`${path}.operator`, invalid(t.operator ?? "", "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
  if (t.tolerationSeconds !== undefined && t.effect !== "NoExecute") add(`${path}.effect`, invalid(t.effect ?? "", "effect must be 'NoExecute' when `tolerationSeconds` is set"));
  switch (t.operator || "Equal") {
    case "Equal":
      if (t.value) for (const e of isLabelValue(t.value)) add(`${path}.operator`, invalid(t.value, e));
      break;
    case "Exists":
      if (t.value) add(`${path}.operator`, invalid(t.value, "value must be empty when `operator` is 'Exists'"));
      break;
    default:
      add(`${path}.operator`, unsupported(t.operator, ["Equal", "Exists"]));
  }
  if (t.effect && !TAINT_EFFECTS.includes(t.effect)) add(`${path}.effect`, unsupported(t.effect, TAINT_EFFECTS));
}

function validateSpread(c: TopologySpreadConstraint, path: string, seen: Set<string>, add: Add): void {
  if (c.maxSkew === undefined || c.maxSkew <= 0) add(`${path}.maxSkew`, invalid(c.maxSkew ?? 0, "must be greater than zero"));
  if (!c.topologyKey) add(`${path}.topologyKey`, required("can not be empty"));
  else for (const e of isQualifiedName(c.topologyKey)) add(`${path}.topologyKey`, invalid(c.topologyKey, e));
  const when = ["DoNotSchedule", "ScheduleAnyway"];
  if (!when.includes(c.whenUnsatisfiable)) add(`${path}.whenUnsatisfiable`, c.whenUnsatisfiable ? unsupported(c.whenUnsatisfiable, when) : required());
  const key = `${c.topologyKey}/${c.whenUnsatisfiable}`;
  if (seen.has(key)) add(path, `Duplicate value: "{${c.topologyKey}, ${c.whenUnsatisfiable}}"`, { at: `${path}.topologyKey` });
  seen.add(key);
  if (c.minDomains !== undefined) {
    if (c.minDomains <= 0) add(`${path}.minDomains`, invalid(c.minDomains, "must be greater than 0"));
    else if (c.whenUnsatisfiable !== "DoNotSchedule") add(`${path}.minDomains`, invalid(c.minDomains, "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"));
  }
  for (const f of ["nodeAffinityPolicy", "nodeTaintsPolicy"] as const) {
    if (c[f] !== undefined && c[f] !== "Honor" && c[f] !== "Ignore") add(`${path}.${f}`, unsupported(c[f], ["Honor", "Ignore"]));
  }
  validateLabelSelector(c.labelSelector, `${path}.labelSelector`, add);
  (c.matchLabelKeys ?? []).forEach((k, i) => isQualifiedName(k).forEach((e) => add(`${path}.matchLabelKeys[${i}]`, invalid(k, e))));
}

/** The API server's checks of the scheduling fields, and the Priority admission plugin's. */
export function validateScheduling(spec: PodSpec, namespace: string, add: Add): void {
  if (spec.nodeName !== undefined && spec.nodeName !== "") {
    for (const e of isDns1123Subdomain(spec.nodeName)) add("spec.nodeName", invalid(spec.nodeName, e));
  }
  validateLabels(spec.nodeSelector, "spec.nodeSelector", add);
  const na = spec.affinity?.nodeAffinity;
  const req = na?.requiredDuringSchedulingIgnoredDuringExecution;
  if (req) {
    const rp = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    if (!req.nodeSelectorTerms || req.nodeSelectorTerms.length === 0) add(`${rp}.nodeSelectorTerms`, required("must have at least one node selector term"));
    (req.nodeSelectorTerms ?? []).forEach((t, i) => validateNodeSelectorTerm(t, `${rp}.nodeSelectorTerms[${i}]`, add));
  }
  (na?.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((p, i) => {
    const pp = `spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
    if (p.weight < 1 || p.weight > 100) add(`${pp}.weight`, invalid(p.weight, "must be in the range 1-100"));
    if (p.preference) validateNodeSelectorTerm(p.preference, `${pp}.preference`, add);
  });
  validatePodAffinity(spec.affinity?.podAffinity, "spec.affinity.podAffinity", add);
  validatePodAffinity(spec.affinity?.podAntiAffinity, "spec.affinity.podAntiAffinity", add);
  (spec.tolerations ?? []).forEach((t, i) => validateToleration(t, `spec.tolerations[${i}]`, add));
  const seen = new Set<string>();
  (spec.topologySpreadConstraints ?? []).forEach((c, i) => validateSpread(c, `spec.topologySpreadConstraints[${i}]`, seen, add));
  if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== "Never" && spec.preemptionPolicy !== "PreemptLowerPriority") {
    add("spec.preemptionPolicy", unsupported(spec.preemptionPolicy, ["Never", "PreemptLowerPriority"]));
  }
  // The Priority admission plugin: a class podd knows, the value it computes, and the
  // critical classes only in kube-system (its default limit).
  const cls = spec.priorityClassName;
  if (cls !== undefined && cls !== "") {
    const value = SYSTEM_PRIORITY_CLASSES[cls];
    if (value === undefined) {
      add("spec.priorityClassName", `not supported yet by podd; podd has no PriorityClass objects, only the built-in classes ${Object.keys(SYSTEM_PRIORITY_CLASSES).join(" and ")}: no PriorityClass with name ${cls} was found`);
    } else {
      if (namespace !== "kube-system") add("spec.priorityClassName", forbidden(`pods with ${cls} priorityClass is not permitted in ${namespace} namespace`));
      if (spec.priority !== undefined && spec.priority !== value) {
        add("spec.priority", forbidden(`the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`));
      }
    }
  } else if (spec.priority !== undefined && spec.priority !== 0) {
    add("spec.priority", forbidden(`the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name`));
  }
}
