// A container's environment, command and args as the kubelet builds them
// (kubelet_pods.go makeEnvironmentVariables, kubecontainer.ExpandContainerCommandAndArgs):
// env entries are resolved in order, each value expanded against the variables defined before
// it (plus a base mapping, e.g. the image's environment); a later entry with the same name
// replaces the earlier value; command and args are expanded against the complete result.

import type { Container, Pod, ResourceFieldSelector } from "./types.ts";
import { expand, type Mapping } from "./expand.ts";
import { mustParseQuantity, quantityMilliValue, quantityValue } from "./quantity.ts";
import { isEnvVarName } from "./names.ts";

export interface EnvInputs {
  /** variables visible to $(VAR) that the pod does not define, e.g. from the image */
  base?: Mapping;
  /**
   * Values of downward-API fields the runtime knows (status.podIP, spec.nodeName, …).
   * metadata.name, namespace, uid, labels['k'] and annotations['k'] are read from the pod itself.
   */
  fields?: Mapping;
  /** The machine's allocatable cpu and memory, used for limits.* when a container sets no limit. */
  allocatable?: { cpu?: string; memory?: string };
  /** The data of a ConfigMap or a Secret (decoded) of the pod's namespace; undefined: there is none. */
  lookup?: (kind: "ConfigMap" | "Secret", name: string) => Readonly<Record<string, string>> | undefined;
  /** Told of envFrom keys that are not variable names and were left out, as the kubelet's event says. */
  skipped?: (message: string) => void;
}

/** A reference the kubelet cannot resolve: the container waits in CreateContainerConfigError. */
export class EnvReferenceError extends Error {}

export interface EnvVarValue {
  name: string;
  value: string;
}

/** The pod field a fieldRef names, or undefined when the pod does not have it. */
export function podFieldValue(pod: Pod, fieldPath: string, fields?: Mapping): string | undefined {
  const m = /^metadata\.(labels|annotations)\['([^']*)'\]$/.exec(fieldPath);
  if (m) {
    const map = (m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations) ?? {};
    // Own keys only: "constructor" is a valid label key, not a property of every object.
    return Object.hasOwn(map, m[2]!) ? map[m[2]!] : undefined;
  }
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace;
    case "metadata.uid":
      return pod.metadata.uid;
    case "spec.serviceAccountName":
      // Kubernetes' ServiceAccount admission names "default" when the pod names none.
      return fields?.(fieldPath) ?? pod.spec.serviceAccountName ?? pod.spec.serviceAccount ?? "default";
    default:
      return fields?.(fieldPath);
  }
}

/**
 * The value of a resourceFieldRef, rounded up in units of its divisor as the kubelet does;
 * a container without the limit gets the machine's allocatable amount instead.
 */
export function resourceFieldValue(pod: Pod, container: Container, ref: ResourceFieldSelector, allocatable?: EnvInputs["allocatable"]): string | undefined {
  const target = ref.containerName
    ? [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === ref.containerName)
    : container;
  if (!target) return undefined;
  const [kind, resource] = ref.resource.split(".") as ["limits" | "requests", "cpu" | "memory"];
  let text = target.resources?.[kind]?.[resource];
  if (text === undefined && kind === "limits") text = allocatable?.[resource];
  if (text === undefined) text = "0";
  const divisor = mustParseQuantity(ref.divisor ?? "1");
  const q = mustParseQuantity(text);
  if (resource === "cpu") {
    const d = quantityMilliValue(divisor);
    const v = quantityMilliValue(q);
    return String((v + d - 1n) / d);
  }
  const d = quantityValue(divisor);
  return String((quantityValue(q) + d - 1n) / d);
}

/** The container's env in definition order, each value resolved and expanded. */
export function containerEnv(pod: Pod, container: Container, inputs: EnvInputs = {}): EnvVarValue[] {
  const values = new Map<string, string>();
  const mapping: Mapping = (name) => values.get(name) ?? inputs.base?.(name);
  const ns = pod.metadata.namespace ?? "default";
  // The kubelet's messages (kubelet_pods.go): a missing object is the API's NotFound.
  const objectOf = (kind: "ConfigMap" | "Secret", name: string, optional: boolean): Readonly<Record<string, string>> | undefined => {
    const data = inputs.lookup?.(kind, name);
    if (data === undefined && !optional) throw new EnvReferenceError(`${kind.toLowerCase()} "${name}" not found`);
    return data;
  };
  // envFrom first, in order; env entries then override them.
  for (const src of container.envFrom ?? []) {
    const ref = src.configMapRef ?? src.secretRef;
    const kind = src.configMapRef ? "ConfigMap" : "Secret";
    if (!ref) continue;
    const data = objectOf(kind, ref.name ?? "", ref.optional === true);
    if (data === undefined) continue;
    const invalid: string[] = [];
    for (const key of Object.keys(data).sort()) {
      const name = (src.prefix ?? "") + key;
      if (isEnvVarName(name).length > 0) {
        invalid.push(name);
        continue;
      }
      values.delete(name);
      values.set(name, data[key]!);
    }
    if (invalid.length) inputs.skipped?.(`Keys [${invalid.join(", ")}] from the EnvFrom ${kind === "ConfigMap" ? "configMap" : "secret"} ${ns}/${ref.name} were skipped since they are invalid environment variable names.`);
  }
  for (const e of container.env ?? []) {
    let value: string;
    const from = e.valueFrom;
    const keyRef = from?.configMapKeyRef ?? from?.secretKeyRef;
    if (keyRef) {
      const kind = from?.configMapKeyRef ? "ConfigMap" : "Secret";
      const data = objectOf(kind, keyRef.name ?? "", keyRef.optional === true);
      if (data === undefined) continue;
      const v = Object.hasOwn(data, keyRef.key) ? data[keyRef.key] : undefined;
      if (v === undefined) {
        if (keyRef.optional === true) continue;
        throw new EnvReferenceError(`couldn't find key ${keyRef.key} in ${kind} ${ns}/${keyRef.name}`);
      }
      value = v;
    } else if (from?.fieldRef) value = podFieldValue(pod, from.fieldRef.fieldPath, inputs.fields) ?? "";
    else if (from?.resourceFieldRef) value = resourceFieldValue(pod, container, from.resourceFieldRef, inputs.allocatable) ?? "";
    else value = expand(e.value ?? "", mapping);
    // Deleting first moves a redefined name to its latest position, so a later duplicate wins
    // and the order stays the order of final definitions.
    values.delete(e.name);
    values.set(e.name, value);
  }
  return [...values].map(([name, value]) => ({ name, value }));
}

/** Command and args with $(VAR) expanded against the container's complete environment. */
export function expandCommandAndArgs(container: Container, env: readonly EnvVarValue[], base?: Mapping): { command: string[]; args: string[] } {
  const values = new Map(env.map((e) => [e.name, e.value]));
  const mapping: Mapping = (name) => values.get(name) ?? base?.(name);
  return {
    command: (container.command ?? []).map((s) => expand(s, mapping)),
    args: (container.args ?? []).map((s) => expand(s, mapping)),
  };
}
