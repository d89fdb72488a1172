// JSON as Go's encoding/json writes it, for the bytes kubectl derives from JSON: the
// .dockerconfigjson of a registry secret, the --append-hash suffix (a hash of JSON text) and
// `-o json`. Go escapes "<", ">", "&", U+2028 and U+2029 inside strings, which JSON.stringify
// does not; everything else (control characters, quotes, \b \f since Go 1.22) is the same.

const GO_ESCAPED = /[<>&\u2028\u2029]/g;

function goString(s: string): string {
  return JSON.stringify(s).replace(GO_ESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A JSON value in Go's text. A Map is written as an object in the Map's order: a plain object
 * would put integer-like keys ("9", "10") first, where Go sorts a map's keys byte by byte, so
 * callers pass map-like data (ConfigMap keys) as a Map sorted the way Go sorts.
 */
function write(value: unknown, indent: string, depth: number): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return goString(value);
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  const entries: [string | undefined, unknown][] = Array.isArray(value)
    ? value.map((v) => [undefined, v])
    : value instanceof Map
      ? [...(value as Map<string, unknown>)]
      : Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return open + close;
  const sep = indent === "" ? "" : "\n" + indent.repeat(depth + 1);
  const colon = indent === "" ? ":" : ": ";
  const items = entries.map(([k, v]) => (k === undefined ? "" : goString(k) + colon) + write(v, indent, depth + 1));
  return open + sep + items.join("," + sep) + (indent === "" ? "" : "\n" + indent.repeat(depth)) + close;
}

/** json.Marshal: compact. */
export function goMarshal(value: unknown): string {
  return write(value, "", 0);
}

/** json.MarshalIndent(v, "", "    "), kubectl's -o json. */
export function goMarshalIndent(value: unknown): string {
  return write(value, "    ", 0);
}

/** A map's entries sorted as Go sorts map keys (by bytes), values mapped by f. */
export function goSortedMap<V, W>(m: ReadonlyMap<string, V> | Readonly<Record<string, V>>, f: (v: V) => W): Map<string, W> {
  const entries: [string, V][] = m instanceof Map ? [...m] : Object.entries(m as Record<string, V>);
  entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return new Map(entries.map(([k, v]) => [k, f(v)]));
}

/** Go's %q of a string (strconv.Quote), for kubectl's messages that quote a key or a name:
 * what Go does not count as printable (control and format characters, separators other than
 * the space) is escaped, so an invisible character in a refused key shows. */
export function goQuote(s: string): string {
  const named: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\" };
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (named[ch] !== undefined) out += named[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (ch !== " " && /[\p{C}\p{Z}]/u.test(ch)) out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}
