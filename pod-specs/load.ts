// YAML text → a small tree of maps, sequences and scalars where every node knows its line and
// column. Everything after this step works on that tree, so every diagnostic can point into the
// source. YAML is read the way kubectl reads it (YAML 1.1: `yes`/`on` are booleans, `<<` merges),
// so a manifest podd accepts means the same to Kubernetes.

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type ParsedNode,
  type Tags,
} from "yaml";
import type { Diagnostic } from "./types.ts";
import { parseJsonTree } from "./json-tree.ts";
import { readYaml } from "./yaml-reader.ts";

export interface Pos {
  line: number;
  col: number;
}

export type TreeNode = MapNode | SeqNode | ScalarNode;

export interface MapEntry {
  key: string;
  keyPos: Pos;
  value: TreeNode;
}

export interface MapNode {
  kind: "map";
  pos: Pos;
  entries: MapEntry[];
}

export interface SeqNode {
  kind: "seq";
  pos: Pos;
  items: TreeNode[];
}

export interface ScalarNode {
  kind: "scalar";
  pos: Pos;
  /** after YAML 1.1 resolution: string, number, boolean or null */
  value: string | number | boolean | null;
  /** the text as written (without quotes), used to read numbers exactly */
  source: string;
  quoted: boolean;
}

export interface LoadedDocument {
  /** null for an empty document or one that could not be parsed */
  root: TreeNode | null;
  /** position of the document start, for problems about the document as a whole */
  pos: Pos;
}

export interface LoadedText {
  documents: LoadedDocument[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

// An alias can repeat a big subtree many times ("billion laughs"). The nodes a document may
// expand to grow with its size, as go-yaml bounds excessive aliasing, so that a small text
// cannot cost more than a large one: past the limit the document is refused.
const BASE_NODES = 10_000;
const maxNodes = (bytes: number): number => BASE_NODES + Math.ceil(bytes / 8);

/** The path given to problems that belong to no field, such as a YAML syntax error at the top. */
export const ROOT_PATH = "<root>";

// kubectl (go-yaml) leaves dates and sexagesimal numbers as strings; dropping these tags keeps
// `date: 2024-01-01` an annotation string instead of a Date.
function kubectlTags(tags: Tags): Tags {
  return tags.filter((t) => {
    if (typeof t === "string") return t !== "timestamp" && t !== "intTime" && t !== "floatTime";
    return t.tag !== "tag:yaml.org,2002:timestamp" && t.format !== "TIME";
  });
}

// go-yaml, and so kubectl, reads `\'` in a double-quoted string as `'`; YAML 1.2 (and the yaml
// package) call it an invalid escape. The Kubernetes documentation has manifests that use it.
const SINGLE_QUOTE_ESCAPE = "\\'";
const SAME_CHARACTER_ESCAPE = "\\x27";

interface Parsed {
  docs: Document.Parsed[];
  streamErrors: Array<{ pos: [number, number]; message: string }>;
}

function parseText(text: string, lineCounter: LineCounter): Parsed {
  const parsed = parseAllDocuments(text, {
    lineCounter,
    version: "1.1",
    merge: true,
    uniqueKeys: false, // duplicates are reported with their field path by the decoder
    prettyErrors: false,
    customTags: kubectlTags,
  });
  // An empty stream is an array with no documents (and an `empty` flag); it can still carry
  // errors, e.g. a stray directive.
  const docs: Document.Parsed[] = [...parsed];
  const streamErrors = (parsed as { errors?: Array<{ pos: [number, number]; message: string }> }).errors ?? [];
  return { docs, streamErrors };
}

/** Offsets of the `\'` escapes the parser refused, in increasing order. */
function singleQuoteEscapes(text: string, docs: Document.Parsed[]): number[] {
  const offsets = new Set<number>();
  for (const doc of docs) {
    for (const e of doc.errors) {
      if (e.code === "BAD_DQ_ESCAPE" && text.startsWith(SINGLE_QUOTE_ESCAPE, e.pos[0])) offsets.add(e.pos[0]);
    }
  }
  return [...offsets].sort((a, b) => a - b);
}

/**
 * kube-apiserver's limit for one object (etcd refuses larger ones). A document past it is
 * refused before it is parsed: the parser needs some 40 times a document's size in memory.
 */
export const MAX_DOCUMENT_BYTES = 1536 * 1024;
// Deeper than this the parser's recursion would exhaust the stack; no manifest nests so deep.
const MAX_DEPTH = 200;

/**
 * Where the documents of a stream begin: offset 0 and every `---` marker at the start of a
 * line. Each document is parsed on its own, so that a file of many documents never needs more
 * memory than its largest one.
 */
function documentStarts(text: string): number[] {
  const starts = [0];
  for (const m of text.matchAll(/^---(?=[ \t\r\n]|$)/gm)) if (m.index! > 0) starts.push(m.index!);
  return starts;
}

const codes = (chars: string): Set<number> => new Set([...chars].map((c) => c.charCodeAt(0)));
const OPENS_SCALAR = codes(" \t\n[{,:-");
const BLANK = codes(" \t\n");

/**
 * The line and column of an offset in text (clamped into it). The table of line starts is built
 * on the first call: the readers track lines themselves, and most loads never need it.
 */
function positionTable(text: string): (offset: number) => Pos {
  let starts: number[] | undefined;
  return (offset) => {
    const at = Math.max(0, Math.min(offset, text.length));
    if (at === 0) return { line: 1, col: 1 };
    if (starts === undefined) {
      starts = [0];
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    }
    // the last line that starts at or before the offset
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= at) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, col: at - starts[low]! + 1 };
  };
}

/** How often the character c occurs in [from, to), counted up to limit + 1. */
function countUpTo(text: string, c: string, from: number, to: number, limit: number): number {
  let n = 0;
  for (let i = text.indexOf(c, from); i >= 0 && i < to && n <= limit; i = text.indexOf(c, i + 1)) n++;
  return n;
}

/** Where flow collections ([ and { outside quotes and comments) first nest past limit, or -1; one linear pass. */
function tooDeepAt(text: string, from: number, to: number, limit: number): number {
  // Nesting past the limit needs more than limit openers; a manifest has a handful.
  if (countUpTo(text, "[", from, to, limit) + countUpTo(text, "{", from, to, limit) <= limit) return -1;
  let depth = 0;
  let quote = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === 0x5c && quote === 0x22) i++; // \ in "…"
      else if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) {
      // A quote only opens a string where a scalar can start; inside a word it is text.
      if (i === 0 || OPENS_SCALAR.has(text.charCodeAt(i - 1))) quote = c;
    } else if (c === 0x23 && (i === from || BLANK.has(text.charCodeAt(i - 1)))) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? to : nl;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return -1;
}

export function loadYaml(text: string, file: string): LoadedText {
  return loadYamlWith(text, file, true).loaded;
}

/**
 * loadYaml, with or without podd's own reader (yaml-reader.ts) in front of the yaml package,
 * and how many documents that reader left to the package; the tests compare the two paths.
 */
export function loadYamlWith(text: string, file: string, ownReader: boolean): { loaded: LoadedText; fallbacks: number } {
  let fallbacks = 0;
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const posAt = positionTable(text);
  const documents: LoadedDocument[] = [];
  const starts = documentStarts(text);
  for (const [k, start] of starts.entries()) {
    const end = starts[k + 1] ?? text.length;
    if (end - start > MAX_DOCUMENT_BYTES) {
      errors.push(yamlDiagnostic(file, posAt(start), ROOT_PATH, `document is larger than ${MAX_DOCUMENT_BYTES} bytes, kube-apiserver's limit for one object`));
      documents.push({ root: null, pos: posAt(start) });
      continue;
    }
    const deep = tooDeepAt(text, start, end, MAX_DEPTH);
    if (deep >= 0) {
      errors.push(yamlDiagnostic(file, posAt(deep), ROOT_PATH, `nested more than ${MAX_DEPTH} levels deep`));
      documents.push({ root: null, pos: posAt(start) });
      continue;
    }
    // The API's clients send JSON: read it directly, and only what is not strict JSON as YAML.
    const json = ownReader && text[start] === "{" ? parseJsonTree(text.slice(start, end), start, posAt, MAX_DEPTH) : undefined;
    if (json) {
      documents.push({ root: json, pos: posAt(start) });
      continue;
    }
    // Then YAML as manifests are written, read straight into the tree; what that reader does
    // not handle (and every syntax error) the yaml package reads, with its own messages.
    const own = ownReader ? readYaml(text, start, end, posAt, maxNodes(end - start), MAX_DEPTH) : undefined;
    if (own === undefined) {
      if (ownReader) fallbacks++;
      loadDocuments(text.slice(start, end), start, file, posAt, documents, errors, warnings);
    } else if (own !== null) {
      if (own.tooBig) errors.push(yamlDiagnostic(file, own.pos, ROOT_PATH, `document has more than ${maxNodes(end - start)} nodes after expanding aliases`));
      documents.push({ root: own.root, pos: own.pos });
    }
  }
  return { loaded: { documents, errors, warnings }, fallbacks };
}

/** Parses one slice of the stream (one document, or comments only) that begins at `base`. */
function loadDocuments(text: string, base: number, file: string, posAt: (offset: number) => Pos, documents: LoadedDocument[], errors: Diagnostic[], warnings: Diagnostic[]): void {
  let { docs, streamErrors } = parseText(text, new LineCounter());
  // Each `\'` the parser refused is rewritten to `\x27`, which means the same to both readers,
  // and the text parsed again; offsets into the rewritten text are mapped back so that every
  // position still points into the text as written.
  const escapes = singleQuoteEscapes(text, docs);
  const grow = SAME_CHARACTER_ESCAPE.length - SINGLE_QUOTE_ESCAPE.length;
  if (escapes.length > 0) {
    let rewritten = "";
    let from = 0;
    for (const at of escapes) {
      rewritten += text.slice(from, at) + SAME_CHARACTER_ESCAPE;
      from = at + SINGLE_QUOTE_ESCAPE.length;
    }
    rewritten += text.slice(from);
    ({ docs, streamErrors } = parseText(rewritten, new LineCounter()));
  }
  const originalOffset = (offset: number): number => {
    let shift = 0;
    for (const [k, at] of escapes.entries()) {
      const start = at + k * grow;
      if (offset < start) break;
      if (offset < start + SAME_CHARACTER_ESCAPE.length) return at + Math.min(offset - start, SINGLE_QUOTE_ESCAPE.length - 1);
      shift = (k + 1) * grow;
    }
    return offset - shift;
  };
  const posOf = (offset: number): Pos => posAt(base + Math.min(originalOffset(offset), text.length));
  for (const e of streamErrors) errors.push(yamlDiagnostic(file, posOf(e.pos[0]), ROOT_PATH, e.message));

  for (const doc of docs) {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    for (const w of doc.warnings) warnings.push(yamlDiagnostic(file, posOf(w.pos[0]), pathAt(doc, w.pos[0]), w.message));
    if (doc.errors.length > 0) {
      // A document with a syntax error is reported but not decoded: its tree is a guess and
      // would only add misleading errors after the real one.
      for (const e of doc.errors) errors.push(yamlDiagnostic(file, posOf(e.pos[0]), pathAt(doc, e.pos[0]), e.message));
      documents.push({ root: null, pos: posOf(start) });
      continue;
    }
    const builder: Builder = { count: 0, max: maxNodes(text.length), doc, posOf, tooBig: false, tooDeep: false, anchors: anchorsOf(doc) };
    const root = doc.contents === null ? null : build(doc.contents as YamlNode, builder, 0);
    if (builder.tooBig || builder.tooDeep) {
      const why = builder.tooBig ? `document has more than ${builder.max} nodes after expanding aliases` : `nested more than ${MAX_DEPTH} levels deep`;
      errors.push(yamlDiagnostic(file, posOf(start), ROOT_PATH, why));
      documents.push({ root: null, pos: posOf(start) });
      continue;
    }
    documents.push({ root, pos: posOf(start) });
  }
}

/**
 * Every anchor of a document with the offset of its node, in document order. An alias names
 * the nearest anchor before it (YAML lets a name be anchored again); looking it up here costs
 * a few comparisons, where the parser's own resolve() walks the whole document for each alias.
 */
function anchorsOf(doc: Document.Parsed): Map<string, { offset: number; node: YamlNode }[]> {
  const out = new Map<string, { offset: number; node: YamlNode }[]>();
  const visit = (n: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || n === null || typeof n !== "object") return;
    const node = n as YamlNode & { anchor?: string };
    if (node.anchor) {
      const list = out.get(node.anchor) ?? [];
      list.push({ offset: node.range?.[0] ?? 0, node });
      out.set(node.anchor, list);
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        visit(pair.key, depth + 1);
        visit(pair.value, depth + 1);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) visit(item, depth + 1);
    }
  };
  visit(doc.contents, 0);
  return out;
}

function yamlDiagnostic(file: string, pos: Pos, path: string, message: string): Diagnostic {
  // Block nesting deep enough to exhaust the parser's stack (flow nesting is refused before
  // parsing): say what is wrong with the input, not what happened to the parser.
  if (/maximum call stack/i.test(message)) message = `nested more than ${MAX_DEPTH} levels deep`;
  const text = message.length > 0 ? message[0]!.toLowerCase() + message.slice(1) : message;
  return { file, line: pos.line, col: pos.col, path, message: `yaml: ${text}` };
}

interface Builder {
  count: number;
  /** the nodes this document may expand to */
  max: number;
  doc: Document.Parsed;
  posOf: (offset: number) => Pos;
  tooBig: boolean;
  tooDeep: boolean;
  anchors: Map<string, { offset: number; node: YamlNode }[]>;
}

function nodePos(node: YamlNode, b: Builder): Pos {
  return b.posOf(node.range?.[0] ?? 0);
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key.source === "<<" || typeof key.value === "symbol");
}

function build(node: YamlNode, b: Builder, depth: number): TreeNode {
  if (++b.count > b.max || depth > MAX_DEPTH) {
    if (depth > MAX_DEPTH) b.tooDeep = true;
    else b.tooBig = true;
    return { kind: "scalar", pos: nodePos(node, b), value: null, source: "", quoted: false };
  }
  if (isAlias(node)) {
    const at = node.range?.[0] ?? 0;
    let target: YamlNode | undefined;
    for (const a of b.anchors.get(node.source) ?? []) if (a.offset < at) target = a.node;
    if (target === undefined) return { kind: "scalar", pos: nodePos(node, b), value: null, source: "", quoted: false };
    // The target's own positions are kept: that is where the text that is wrong was written.
    return build(target as YamlNode, b, depth + 1);
  }
  if (isMap(node)) {
    const entries: MapEntry[] = [];
    const merged: MapEntry[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      if (isMergeKey(keyNode)) {
        const sources = pair.value === null ? [] : [build(pair.value as YamlNode, b, depth + 1)];
        const flat = sources.flatMap((s) => (s.kind === "seq" ? s.items : [s]));
        for (const s of flat) if (s.kind === "map") merged.push(...s.entries);
        continue;
      }
      const keyPos = keyNode ? nodePos(keyNode, b) : nodePos(node, b);
      const key = keyText(keyNode);
      const value: TreeNode =
        pair.value === null || pair.value === undefined
          ? { kind: "scalar", pos: keyPos, value: null, source: "", quoted: false }
          : build(pair.value as YamlNode, b, depth + 1);
      entries.push({ key, keyPos, value });
    }
    // Explicit keys win over merged ones, and an earlier merge source over a later one.
    const seen = new Set(entries.map((e) => e.key));
    for (const e of merged) {
      if (!seen.has(e.key)) {
        seen.add(e.key);
        entries.push(e);
      }
    }
    return { kind: "map", pos: nodePos(node, b), entries };
  }
  if (isSeq(node)) {
    const items = node.items.map((item) =>
      item === null || item === undefined
        ? ({ kind: "scalar", pos: nodePos(node, b), value: null, source: "", quoted: false } as ScalarNode)
        : build(item as YamlNode, b, depth + 1),
    );
    return { kind: "seq", pos: nodePos(node, b), items };
  }
  if (isScalar(node)) {
    const v = node.value;
    const value =
      typeof v === "string" || typeof v === "boolean" || v === null
        ? v
        : typeof v === "number"
          ? v
          : typeof v === "bigint"
            ? Number(v)
            : v === undefined
              ? null
              : String(v); // binary and other exotic tags: keep their text
    const source = typeof node.source === "string" ? node.source : String(v ?? "");
    const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
    return { kind: "scalar", pos: nodePos(node, b), value, source, quoted };
  }
  return { kind: "scalar", pos: nodePos(node, b), value: null, source: "", quoted: false };
}

// JSON has only string keys; kubectl turns scalar keys into their text, and so does podd.
function keyText(key: YamlNode | null): string {
  if (key === null) return "";
  if (isScalar(key)) {
    if (typeof key.source === "string") return key.source;
    return String(key.value ?? "");
  }
  return "<complex key>";
}

// The field path of the innermost node around a source offset, so that a syntax error says
// which field it broke, e.g. spec.containers[0].env.
function pathAt(doc: Document.Parsed, offset: number): string {
  let path = "";
  let node: ParsedNode | null = doc.contents;
  for (let guard = 0; node && guard < 100; guard++) {
    let next: ParsedNode | null = null;
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as ParsedNode | null;
        const v = pair.value as ParsedNode | null;
        const end = v?.range?.[2] ?? k?.range?.[2] ?? -1;
        const begin = k?.range?.[0] ?? v?.range?.[0] ?? Infinity;
        if (offset >= begin && offset <= end) {
          path = path === "" ? keyText(k) : `${path}.${keyText(k)}`;
          next = v && (isMap(v) || isSeq(v)) ? v : null;
          break;
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const it = item as ParsedNode | null;
        if (next === null && it?.range && offset >= it.range[0] && offset <= it.range[2]) {
          path = `${path}[${i}]`;
          next = isMap(it) || isSeq(it) ? it : null;
        }
      });
    }
    node = next;
  }
  return path === "" ? ROOT_PATH : path;
}
