// kubectl's label selectors (-l) for the verbs that pick pods by label: get and delete.
import { PoddError } from "../errors.ts";

export type Selector = (labels: Readonly<Record<string, string>> | undefined) => boolean;

/** kubectl's -l: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k, joined by commas. */
export function parseSelector(text: string): Selector {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  const tests = parts.map((raw): Selector => {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, key = "", op, value = ""] = m;
      return op === "!=" ? (l) => l?.[key] !== value : (l) => l?.[key] === value;
    }
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, key = "", op, list = ""] = m;
      const values = new Set(list.split(",").map((v) => v.trim()));
      return op === "in" ? (l) => l?.[key] !== undefined && values.has(l[key]) : (l) => l?.[key] === undefined || !values.has(l[key]);
    }
    if ((m = /^!\s*([\w./-]+)$/.exec(p))) {
      const key = m[1]!;
      return (l) => l?.[key] === undefined;
    }
    if (/^[\w./-]+$/.test(p)) return (l) => l?.[p] !== undefined;
    throw new PoddError(`unable to parse requirement: "${p}": not a label selector (write app=web, tier!=db, env in (a,b), !key)`, { code: "Invalid" });
  });
  return (labels) => tests.every((t) => t(labels));
}
