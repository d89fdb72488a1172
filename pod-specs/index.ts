// pod-specs: Pod manifests from YAML text to validated, defaulted Pod objects, or to errors that
// say file:line:col, the field path and what is wrong. Pure: no I/O beyond the text handed in.
//
//   loadManifests(text, file, { validate })  → { pods, objects, errors, warnings }
//       Reads Pods, the Namespaces, ConfigMaps, Secrets and PersistentVolumeClaims that go with
//       them (objects.ts), `kind: List` of these and multi-document files, in block or flow style.
//       Any error in any document rejects the whole file: pods and objects are then empty. Unknown fields are
//       errors ("strict", like kubectl --validate=strict), warnings ("warn") or dropped ("ignore");
//       fields podd cannot honour yet (NOT_SUPPORTED_YET) are always errors, each with a hint;
//       other kinds (a Service or a Deployment next to a Pod) are refused by name the same way.
//       Annotations Kubernetes itself ignores (seccomp's) give warnings.
//   formatDiagnostic(d)                      → "pod.yaml:14:17: spec.containers[1].image: Required value"
//
// Also exported: the Pod types, quantities (parseQuantity, quantityValue, quantityMilliValue,
// formatQuantity, …), $(VAR) expansion (expand, containerEnv, expandCommandAndArgs), the
// kubelet's resource-to-cgroup conversions, defaults, the unsupported-yet table, the
// supplementary groups of a container and the names and namespaces of sysctls.

import type { Diagnostic, Pod } from "./types.ts";
import { loadYaml, ROOT_PATH, type LoadedDocument, type Pos, type TreeNode } from "./load.ts";
import { childPath, decode, POD_SCHEMA, type PositionTable, type UnknownFields } from "./schema.ts";
import { applyDefaultsInPlace } from "./defaults.ts";
import { validatePod, duplicate } from "./validate.ts";
import { findNotSupportedYet } from "./unsupported.ts";
import { isConfigKind, objectDefaults, OBJECT_KINDS, OBJECT_SCHEMAS, validateObject, type ConfigKind, type ConfigObject } from "./objects.ts";

export type * from "./types.ts";
export * from "./quantity.ts";
export { expand, mappingOf, type Mapping } from "./expand.ts";
export { containerEnv, expandCommandAndArgs, podFieldValue, resourceFieldValue, type EnvInputs, type EnvVarValue } from "./env.ts";
export * from "./cgroup-conversions.ts";
export { applyDefaults, defaultPullPolicy, HOST_IMAGE, DEFAULT_NAMESPACE } from "./defaults.ts";
export { NOT_SUPPORTED_YET, type NotSupportedYet } from "./unsupported.ts";
export { validatePod } from "./validate.ts";
export * from "./objects.ts";
export { execIdentityArgs, processSecurity, type ProcessSecurity } from "./security.ts";
export { execSecurity, groupsArgs, supplementalGroupsOf } from "./security.ts";
export { isValidSysctlName, normalizeSysctlName, safeSysctls, sysctlNamespace, sysctlPath, type SysctlNamespace } from "./sysctls.ts";

export interface LoadOptions {
  /** what to do with fields Kubernetes does not know: "strict" (default) | "warn" | "ignore" */
  validate?: UnknownFields;
}

export interface LoadResult {
  pods: Pod[];
  /** the other objects of the file (namespaces, configuration, claims), defaulted, in file order */
  objects: ConfigObject[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.path}: ${d.message}`;
}

const POD_LIST_KINDS = ["List", "PodList"];
const KINDS = `Pod, ${Object.keys(OBJECT_KINDS).join(", ")} or List`;

function locator(positions: PositionTable, base: string, fallback: Pos): (path: string, atKey?: boolean) => Pos {
  // A missing field points at the nearest thing that is there: its parent object.
  return (path, atKey = false) => {
    for (let p = path; ; p = parentPath(p)) {
      const found = positions.get(p);
      if (found) return (atKey ? found.key : undefined) ?? found.value;
      if (p === base || p === "") return fallback;
    }
  };
}

function relative(base: string): (path: string) => string {
  return (path) => (base === "" ? path : path.startsWith("[") ? base + path : `${base}.${path}`);
}

export function loadManifests(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const unknownFields = opts.validate ?? "strict";
  const loaded = loadYaml(text, file);
  const errors: Diagnostic[] = [...loaded.errors];
  const warnings: Diagnostic[] = [...loaded.warnings];
  const pods: Pod[] = [];
  const objects: ConfigObject[] = [];
  // every object read, for the duplicate check: its kind, namespace/name and where its name is
  const read: { kind: string; key: string; name: string; path: string; positions: PositionTable }[] = [];

  const diag = (pos: Pos, path: string, message: string): Diagnostic => ({ file, line: pos.line, col: pos.col, path, message });

  const readPod = (node: TreeNode, base: string): void => {
    const d = decode(node, POD_SCHEMA, base, unknownFields);
    for (const e of d.errors) errors.push(diag(e.pos, e.path, e.message));
    for (const w of d.warnings) warnings.push(diag(w.pos, w.path, w.message));
    const raw = d.value as Record<string, unknown> | undefined;
    if (raw === undefined) return;
    const locate = locator(d.positions, base, node.pos);
    const rel = relative(base);
    const apiVersion = raw.apiVersion;
    if (apiVersion === undefined) errors.push(diag(locate(rel("apiVersion")), rel("apiVersion"), 'Required value: podd reads apiVersion: v1'));
    else if (apiVersion !== "v1") errors.push(diag(locate(rel("apiVersion")), rel("apiVersion"), `Unsupported value: ${JSON.stringify(apiVersion)}: supported values: "v1"`));
    const refused = new RefusedFields();
    for (const e of d.errors) refused.missing(e.path);
    for (const e of d.errors) if (e.meant !== undefined) refused.missing(e.meant);
    for (const f of findNotSupportedYet(raw)) {
      const path = rel(f.path);
      if (f.warning === true) {
        warnings.push(diag(locate(path, true), path, f.message));
        continue;
      }
      refused.present(path);
      errors.push(diag(locate(path, true), path, f.message));
    }
    // The decoded object is this function's own: it is defaulted where it is, not copied.
    const { status: _status, ...rest } = raw;
    const pod = applyDefaultsInPlace(rest as unknown as Pod);
    for (const prob of validatePod(pod, base)) {
      if (refused.explains(prob)) continue;
      errors.push(diag(locate(prob.at ?? prob.path, prob.atKey === true), prob.path, prob.message));
    }
    pods.push(pod);
    read.push({ kind: "Pod", key: `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`, name: pod.metadata.name, path: rel("metadata.name"), positions: d.positions });
  };

  const readObject = (node: TreeNode, base: string, kind: ConfigKind): void => {
    const d = decode(node, OBJECT_SCHEMAS[kind], base, unknownFields);
    // A message about a secret's value never repeats the value ("got number 1234; quote it").
    const secretValue = (path: string) => kind === "Secret" && /(^|\.)(data|stringData)(\.|\[|$)/.test(path);
    for (const e of d.errors) errors.push(diag(e.pos, e.path, secretValue(e.path) ? e.message.replace(/, got .*$/s, " (value not shown: it is a secret's)") : e.message));
    for (const w of d.warnings) warnings.push(diag(w.pos, w.path, w.message));
    const raw = d.value as (ConfigObject & { metadata?: ConfigObject["metadata"] }) | undefined;
    if (raw === undefined) return;
    const locate = locator(d.positions, base, node.pos);
    const rel = relative(base);
    if (raw.apiVersion === undefined) errors.push(diag(locate(rel("apiVersion")), rel("apiVersion"), "Required value: podd reads apiVersion: v1"));
    else if (raw.apiVersion !== "v1") errors.push(diag(locate(rel("apiVersion")), rel("apiVersion"), `Unsupported value: ${JSON.stringify(raw.apiVersion)}: supported values: "v1"`));
    const refused = new RefusedFields();
    for (const e of d.errors) refused.missing(e.path);
    for (const e of d.errors) if (e.meant !== undefined) refused.missing(e.meant);
    // Only the metadata rules of the table apply: its spec paths are a Pod's.
    for (const f of findNotSupportedYet({ metadata: raw.metadata ?? {} })) {
      const path = rel(f.path);
      if (f.warning === true) warnings.push(diag(locate(path, true), path, f.message));
      else {
        refused.present(path);
        errors.push(diag(locate(path, true), path, f.message));
      }
    }
    validateObject(raw, (path, message, extra = {}) => {
      const prob = { path: rel(path), message, ...(extra.at !== undefined ? { at: rel(extra.at) } : {}), ...(extra.atKey ? { atKey: true } : {}), ...(extra.unlessRefused ? { unlessRefused: extra.unlessRefused.map(rel) } : {}) };
      if (!refused.explains(prob)) errors.push(diag(locate(prob.at ?? prob.path, prob.atKey === true), prob.path, prob.message));
    });
    const o = objectDefaults(raw);
    objects.push(o);
    const ns = OBJECT_KINDS[kind].namespaced ? `${o.metadata?.namespace ?? "default"}/` : "";
    read.push({ kind, key: `${ns}${o.metadata?.name}`, name: o.metadata?.name ?? "", path: rel("metadata.name"), positions: d.positions });
  };

  loaded.documents.forEach((doc: LoadedDocument) => {
    const root = doc.root;
    // Empty documents (a trailing "---", a file of comments) are skipped, as kubectl does.
    if (root === null || (root.kind === "scalar" && root.value === null && !root.quoted)) return;
    if (root.kind !== "map") {
      errors.push(diag(root.pos, ROOT_PATH, "expected a Kubernetes object (a map with apiVersion and kind)"));
      return;
    }
    const kindEntry = root.entries.find((e) => e.key === "kind");
    const kindNode = kindEntry?.value;
    const kind = kindNode?.kind === "scalar" && typeof kindNode.value === "string" ? kindNode.value : undefined;
    if (kindEntry === undefined) {
      errors.push(diag(root.pos, "kind", `Required value: podd reads kind: ${KINDS}`));
      return;
    }
    if (kind === "Pod") {
      readPod(root, "");
      return;
    }
    if (kind !== undefined && isConfigKind(kind)) {
      readObject(root, "", kind);
      return;
    }
    if (kind !== undefined && POD_LIST_KINDS.includes(kind)) {
      readList(root);
      return;
    }
    const shown = kind ?? (kindNode?.kind === "scalar" ? kindNode.source : "?");
    errors.push(diag(kindNode?.pos ?? root.pos, "kind", kindRefusal(shown)));
  });

  function readList(root: TreeNode & { kind: "map" }): void {
    for (const e of root.entries) {
      if (e.key === "apiVersion") {
        const v = e.value;
        if (!(v.kind === "scalar" && v.value === "v1")) {
          errors.push(diag(v.pos, "apiVersion", `Unsupported value: ${JSON.stringify(v.kind === "scalar" ? v.source : "")}: supported values: "v1"`));
        }
      } else if (e.key === "items") {
        const items = e.value;
        if (items.kind === "scalar" && items.value === null) continue;
        if (items.kind !== "seq") {
          errors.push(diag(items.pos, "items", "expected a list of Pods"));
          continue;
        }
        items.items.forEach((item, i) => {
          const base = `items[${i}]`;
          const k = item.kind === "map" ? item.entries.find((x) => x.key === "kind")?.value : undefined;
          const kind = k?.kind === "scalar" ? k.value : undefined;
          if (item.kind !== "map") errors.push(diag(item.pos, base, "expected a Kubernetes object"));
          else if (k === undefined) errors.push(diag(item.pos, `${base}.kind`, `Required value: podd reads kind: ${KINDS}`));
          else if (kind === "Pod") readPod(item, base);
          else if (typeof kind === "string" && isConfigKind(kind)) readObject(item, base, kind);
          else errors.push(diag(k.pos, `${base}.kind`, kindRefusal(k.kind === "scalar" ? k.source : "?")));
        });
      } else if (e.key === "kind" || e.key === "metadata") {
        continue;
      } else if (unknownFields !== "ignore") {
        (unknownFields === "strict" ? errors : warnings).push(diag(e.keyPos, childPath("", e.key), `unknown field ${JSON.stringify(e.key)}`));
      }
    }
    if (!root.entries.some((e) => e.key === "apiVersion")) errors.push(diag(root.pos, "apiVersion", "Required value: podd reads apiVersion: v1"));
  }

  // Two objects of one kind with the same namespace and name in one file cannot both be applied.
  const seen = new Set<string>();
  for (const r of read) {
    if (!r.name) continue;
    const id = `${r.kind} ${r.key}`;
    if (seen.has(id)) {
      const pos = r.positions.get(r.path)?.value ?? { line: 1, col: 1 };
      const what = r.kind === "Pod" ? "pod" : r.kind;
      errors.push(diag(pos, r.path, `${duplicate(r.name)}: another ${what} in this file has ${r.key.includes("/") ? "namespace/name" : "name"} ${r.key}`));
    } else seen.add(id);
  }

  const byPosition = (a: Diagnostic, b: Diagnostic): number => a.line - b.line || a.col - b.col;
  errors.sort(byPosition);
  warnings.sort(byPosition);
  const ok = errors.length === 0;
  return { pods: ok ? pods : [], objects: ok ? objects : [], errors, warnings };
}

/**
 * The fields of one pod that were already reported: refused as not supported yet, or not read at
 * all (unknown, wrong type, or the known field an unknown near miss stood for). A validation
 * problem that only follows from such a refusal is not reported on top of it: `valueFrom: must
 * specify one of …` when its only member was refused, `Required value` for the field a typo
 * meant, "Required value" after "expected an integer". The API server never sees these either,
 * since it reads the object only once the refused fields are gone.
 */
class RefusedFields {
  /** refused fields that are still in the pod object */
  private readonly kept: string[] = [];
  /** fields missing from the pod object because they could not be read */
  private readonly dropped: string[] = [];

  present(path: string): void {
    this.kept.push(path);
  }

  missing(path: string): void {
    this.dropped.push(path);
  }

  /**
   * A problem is a follow-up when it is about an object above a refused field (a one-of or
   * required-member check that could not see it), or about a field that was not read. Problems
   * about a refused field's own value (hostPort must match containerPort) are still reported.
   */
  explains(prob: { path: string; at?: string; unlessRefused?: readonly string[] }): boolean {
    // `at` is more precise than `path` when it lies below it: a bad annotation key is reported
    // on metadata.annotations but is about one key only.
    const subject = prob.at !== undefined && isBelow(prob.at, prob.path) ? prob.at : prob.path;
    if (this.kept.some((r) => isBelow(r, subject))) return true;
    if (this.dropped.some((r) => r === subject || isBelow(r, subject))) return true;
    const causes = prob.unlessRefused ?? [];
    return causes.some((c) => [...this.kept, ...this.dropped].some((r) => r === c || isBelow(r, c)));
  }
}

/** Whether `path` is strictly inside `ancestor` (a field or list item below it). */
function isBelow(path: string, ancestor: string): boolean {
  if (ancestor === "") return path !== "";
  return path.length > ancestor.length && path.startsWith(ancestor) && (path[ancestor.length] === "." || path[ancestor.length] === "[");
}

const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"];

// A ConfigMap or Service next to a Pod is common in examples; the refusal names it and says
// what to do, so that it reads like every other refusal of something podd has not got yet.
function kindRefusal(kind: string): string {
  const hint = WORKLOAD_KINDS.includes(kind)
    ? "podd runs Pods; apply its pod template as a Pod"
    : "podd runs Pods with their Namespaces, ConfigMaps, Secrets and PersistentVolumeClaims; remove it from the file";
  return `kind ${kind} is not supported yet by podd; ${hint}`;
}

function parentPath(path: string): string {
  const m = /^(.*?)(?:\.[^.[\]]+|\[[^\]]*\])$/.exec(path);
  return m ? m[1]! : "";
}
