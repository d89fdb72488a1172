// kubectl's -o json and -o yaml of an object as the API returns it: keys sorted at every
// level, JSON with a four-space indent, YAML from the yaml package with kubectl's layout
// (sequences not indented under their key, no line folding). Shared by the verbs that print
// objects (get, create).
import { sortKeys } from "./client-verb.ts";

// yaml is loaded only for -o yaml: importing it costs a CLI call ~15-20 ms (a fifth of
// `podd get pods`), and the table and JSON printers do not need it.
let stringifyYaml: typeof import("yaml").stringify | undefined;

export async function loadYaml(): Promise<void> {
  const m = await import("yaml");
  // In the esbuild bundle a CommonJS module's dynamic import has only its default export.
  stringifyYaml ??= m.stringify ?? (m as unknown as { default: typeof m }).default.stringify;
}

/** For "yaml", loadYaml() must have been awaited first. */
export function formatObject(obj: unknown, format: "json" | "yaml"): string {
  const sorted = sortKeys(obj);
  if (format === "json") return JSON.stringify(sorted, null, 4) + "\n";
  if (!stringifyYaml) throw new Error("formatObject: yaml printer used before loadYaml()");
  return stringifyYaml(sorted, { indentSeq: false, lineWidth: 0 });
}
