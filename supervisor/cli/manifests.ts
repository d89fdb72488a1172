// Reads the manifests named by -f (files, directories of .yaml/.yml/.json, or - for stdin)
// and validates all of them before anything acts on one: a single mistake rejects the lot.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic, loadManifests, type Pod } from "../../pod-specs/index.ts";
import { PoddError } from "../errors.ts";

export type ValidateMode = "strict" | "warn" | "ignore";

export interface ManifestSet {
  pods: Pod[];
  /** formatted "file:line:col: path: message" lines */
  errors: string[];
  warnings: string[];
}

function expand(arg: string): string[] {
  if (arg === "-") return ["-"];
  let st;
  try {
    st = statSync(arg);
  } catch (err) {
    throw PoddError.wrap(`the path "${arg}" cannot be read`, err, "Invalid");
  }
  if (!st.isDirectory()) return [arg];
  return readdirSync(arg)
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort()
    .map((n) => join(arg, n));
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

export function readManifests(args: string[], mode: ValidateMode): ManifestSet {
  if (args.length === 0) throw new PoddError("must specify one of -f and -k: give a manifest with -f FILE", { code: "Invalid" });
  const set: ManifestSet = { pods: [], errors: [], warnings: [] };
  for (const file of args.flatMap(expand)) {
    const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
    const r = loadManifests(text, file === "-" ? "<stdin>" : file, { validate: mode });
    set.pods.push(...r.pods);
    set.errors.push(...r.errors.map(formatDiagnostic));
    set.warnings.push(...r.warnings.map(formatDiagnostic));
  }
  const seen = new Set<string>();
  for (const pod of set.pods) {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (seen.has(key)) set.errors.push(`pod "${key}" is defined more than once`);
    seen.add(key);
  }
  if (set.errors.length) set.pods = [];
  return set;
}
