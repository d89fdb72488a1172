// JSON text → the same position-carrying tree that load.ts builds from YAML, in one linear pass.
// The API's clients (podd's CLI, kubectl) send JSON; read through the YAML parser a request
// costs some 40 times its size in memory and ~0.5 s of CPU per MB, read here a small fraction
// of both. Anything that is not strict JSON returns undefined, and the YAML reader (for which
// JSON is YAML) reads it instead, with its own error messages.
import type { MapEntry, Pos, TreeNode } from "./load.ts";

class NotJson extends Error {}

export function parseJsonTree(text: string, base: number, posAt: (offset: number) => Pos, maxDepth: number): TreeNode | undefined {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      i++;
    }
  };
  const fail = (): never => {
    throw new NotJson();
  };
  const string = (): { value: string; source: string } => {
    const start = ++i; // after the opening quote
    let simple = true;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        simple = false;
        i += 2;
        continue;
      }
      if (c < 0x20) fail();
      i++;
    }
    if (i >= n) fail();
    const raw = text.slice(start, i);
    i++;
    let value = raw;
    if (!simple) {
      try {
        value = JSON.parse(`"${raw}"`) as string;
      } catch {
        fail();
      }
    }
    return { value, source: value };
  };
  const value = (depth: number): TreeNode => {
    if (depth > maxDepth) fail();
    ws();
    const pos = posAt(base + i);
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: MapEntry[] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { kind: "map", pos, entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const keyPos = posAt(base + i);
        const key = string().value;
        ws();
        if (text[i] !== ":") fail();
        i++;
        entries.push({ key, keyPos, value: value(depth + 1) });
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { kind: "map", pos, entries };
        }
        fail();
      }
    }
    if (c === "[") {
      i++;
      const items: TreeNode[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { kind: "seq", pos, items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { kind: "seq", pos, items };
        }
        fail();
      }
    }
    if (c === '"') {
      const s = string();
      return { kind: "scalar", pos, value: s.value, source: s.source, quoted: true };
    }
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { kind: "scalar", pos, value: v, source: word, quoted: false };
      }
    }
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
    m.lastIndex = i;
    const num = m.exec(text);
    if (!num) fail();
    i += num![0].length;
    return { kind: "scalar", pos, value: Number(num![0]), source: num![0], quoted: false };
  };
  try {
    const root = value(0);
    ws();
    return i === n ? root : undefined;
  } catch (err) {
    if (err instanceof NotJson) return undefined;
    throw err;
  }
}
