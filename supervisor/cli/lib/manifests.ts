// Reads the manifests named by -f (files, directories of .yaml/.yml/.json, or - for stdin)
// and validates all of them before anything acts on one: a single mistake rejects the lot.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { applyOrder, formatDiagnostic, loadManifests, OBJECT_KINDS, type ConfigObject, type Pod } from "../../../pod-specs/index.ts";
import { hasErrno, PoddError } from "../../base/errors.ts";

export type ValidateMode = "strict" | "warn" | "ignore";

export interface ManifestSet {
  /** the pods of the files that are valid (apply and run act on none of them unless errors is empty) */
  pods: Pod[];
  /** the namespaces, config maps, secrets and claims, in the order they are applied: namespaces first */
  objects: ConfigObject[];
  /** formatted "file:line:col: path: message" lines */
  errors: string[];
  warnings: string[];
}

export interface ReadOptions {
  /** the verb, for kubectl's "no objects passed to apply" */
  verb: string;
  /** -R: descend into the subdirectories of a directory given with -f */
  recursive?: boolean;
}

const MANIFEST_NAME = /\.(ya?ml|json)$/;

/** kubectl's wording for a path that cannot be read; an errno it has no words for is named. */
function pathError(path: string, err: unknown): PoddError {
  if (hasErrno(err, "ENOENT") || hasErrno(err, "ENOTDIR")) return new PoddError(`the path "${path}" does not exist`, { code: "Invalid", cause: err });
  if (hasErrno(err, "EACCES")) return new PoddError(`the path "${path}" cannot be read: permission denied`, { code: "Invalid", cause: err });
  return PoddError.wrap(`the path "${path}" cannot be read`, err, "Invalid");
}

/** The manifest files an -f argument names: itself, or a directory's .yaml/.yml/.json files (with -R, at any depth), sorted. */
function expand(arg: string, recursive: boolean): string[] {
  if (arg === "-") return ["-"];
  let st;
  try {
    st = statSync(arg);
  } catch (err) {
    throw pathError(arg, err);
  }
  if (!st.isDirectory()) return [arg];
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(arg, { withFileTypes: true });
  } catch (err) {
    throw pathError(arg, err);
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(arg, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...expand(path, true));
    } else if (MANIFEST_NAME.test(e.name)) {
      out.push(path);
    }
  }
  return out;
}

export function parseValidateMode(value: string | undefined): ValidateMode {
  const v = value ?? "strict";
  if (v === "true") return "strict";
  if (v === "false") return "ignore";
  if (v !== "strict" && v !== "warn" && v !== "ignore") {
    throw new PoddError(`invalid --validate "${v}": use strict, warn or ignore`, { code: "Invalid" });
  }
  return v;
}

/**
 * Reads and validates every file the -f arguments name. Each file is valid or not as a whole;
 * the caller refuses to act on any pod while errors is not empty. Nothing to read at all is an
 * error, as kubectl's "no objects passed to apply".
 */
export function readManifests(args: string[], mode: ValidateMode, opts: ReadOptions): ManifestSet {
  if (args.length === 0) throw new PoddError("must specify -f FILE|DIR|-: give the manifests to read", { code: "Invalid" });
  const set: ManifestSet = { pods: [], objects: [], errors: [], warnings: [] };
  for (const file of args.flatMap((a) => expand(a, opts.recursive === true))) {
    let text: string;
    try {
      text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
    } catch (err) {
      throw pathError(file === "-" ? "<stdin>" : file, err);
    }
    const r = loadManifests(text, file === "-" ? "<stdin>" : file, { validate: mode });
    set.pods.push(...r.pods);
    set.objects.push(...r.objects);
    set.errors.push(...r.errors.map(formatDiagnostic));
    set.warnings.push(...r.warnings.map(formatDiagnostic));
  }
  const seen = new Set<string>();
  for (const pod of set.pods) {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (seen.has(key)) set.errors.push(`pod "${key}" is defined more than once`);
    seen.add(key);
  }
  for (const o of set.objects) {
    const key = `${o.kind} ${OBJECT_KINDS[o.kind].namespaced ? `${o.metadata.namespace ?? "default"}/` : ""}${o.metadata.name}`;
    if (seen.has(key)) set.errors.push(`${o.kind.toLowerCase()} "${key.slice(o.kind.length + 1)}" is defined more than once`);
    seen.add(key);
  }
  // A stable sort: within a rank, the order of the files.
  set.objects.sort((a, b) => applyOrder(a.kind) - applyOrder(b.kind));
  if (set.pods.length === 0 && set.objects.length === 0 && set.errors.length === 0) throw new PoddError(`no objects passed to ${opts.verb}`, { code: "Invalid" });
  return set;
}

/** The -R/--recursive flag of the verbs that read manifests, as kubectl's. */
export const recursiveFlag = { recursive: { type: "boolean", short: "R" } } as const;
