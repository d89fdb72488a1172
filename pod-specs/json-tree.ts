// JSON text → the same position-carrying tree that load.ts builds from YAML, in one linear pass.
// The API's clients (podd's CLI, kubectl) send JSON; read through the YAML parser a request
// costs some 40 times its size in memory and ~0.5 s of CPU per MB, read here a small fraction
// of both. Anything that is not strict JSON returns undefined, and the YAML reader (for which
// JSON is YAML) reads it instead, with its own error messages.
import type { MapEntry, Pos, TreeNode } from "./load.ts";

class NotJson extends Error {}

// The run of a string's characters that need no decoding: up to a quote, a backslash or a
// control character.
const PLAIN_RUN = /[^"\\\x00-\x1f]*/y;
// A member whose key and value are strings without escapes, with blanks only around its colon.
const STRING_MEMBER = /"([^"\\\x00-\x1f]*)"([ \t]*):([ \t]*)"([^"\\\x00-\x1f]*)"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;

export function parseJsonTree(text: string, base: number, posAt: (offset: number) => Pos, maxDepth: number): TreeNode | undefined {
  let i = 0;
  const n = text.length;
  // Lines are counted here as the text is read (a line break can only be whitespace in JSON),
  // so that a position costs no search.
  const first = posAt(base);
  let line = first.line;
  let lineStart = 1 - first.col;
  const pos = (): Pos => ({ line, col: i - lineStart + 1 });
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        line++;
        lineStart = i + 1;
      } else if (c !== 0x20 && c !== 0x0d && c !== 0x09) return;
      i++;
    }
  };
  const fail = (): never => {
    throw new NotJson();
  };
  const string = (): string => {
    const start = ++i; // after the opening quote
    PLAIN_RUN.lastIndex = start;
    PLAIN_RUN.test(text);
    i = PLAIN_RUN.lastIndex;
    if (text.charCodeAt(i) === 0x22) return text.slice(start, i++);
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
    return value;
  };
  const value = (depth: number): TreeNode => {
    if (depth > maxDepth) fail();
    ws();
    const at = pos();
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      const entries: MapEntry[] = [];
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return { kind: "map", pos: at, entries };
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail();
        const keyPos = pos();
        STRING_MEMBER.lastIndex = i;
        const m = depth < maxDepth ? STRING_MEMBER.exec(text) : null;
        if (m !== null) {
          // "key": "value" on one line, read at once
          const key = m[1]!;
          const s = m[4]!;
          const quote = i + key.length + 3 + m[2]!.length + m[3]!.length;
          entries.push({ key, keyPos, value: { kind: "scalar", pos: { line, col: quote - lineStart + 1 }, value: s, source: s, quoted: true } });
          i = STRING_MEMBER.lastIndex;
        } else {
          const key = string();
          ws();
          if (text.charCodeAt(i) !== 0x3a) fail();
          i++;
          entries.push({ key, keyPos, value: value(depth + 1) });
        }
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x7d) {
          i++;
          return { kind: "map", pos: at, entries };
        }
        fail();
      }
    }
    if (c === 0x5b) {
      i++;
      const items: TreeNode[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return { kind: "seq", pos: at, items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x5d) {
          i++;
          return { kind: "seq", pos: at, items };
        }
        fail();
      }
    }
    if (c === 0x22) {
      const s = string();
      return { kind: "scalar", pos: at, value: s, source: s, quoted: true };
    }
    if (text.startsWith("true", i)) {
      i += 4;
      return { kind: "scalar", pos: at, value: true, source: "true", quoted: false };
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return { kind: "scalar", pos: at, value: false, source: "false", quoted: false };
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return { kind: "scalar", pos: at, value: null, source: "null", quoted: false };
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(text);
    if (!num) fail();
    i += num![0].length;
    return { kind: "scalar", pos: at, value: Number(num![0]), source: num![0], quoted: false };
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
