// YAML text → podd's position-carrying tree in one pass, without the yaml package's Document
// (which costs some 40 times a document's size in memory and ~0.7 s of CPU per MiB in a cold
// process). It reads what manifests are written with: block maps and sequences, plain, quoted
// and block scalars, flow collections, comments, anchors, aliases and merge keys, with YAML 1.1
// scalars as kubectl reads them. Whatever it does not handle, or is not valid YAML, makes it
// return undefined, and load.ts reads that document with the yaml package instead, so the
// meaning and the error messages stay that reader's.
import type { MapEntry, Pos, ScalarNode, TreeNode } from "./load.ts";

export interface ReadDocument {
  /** null only when the document was refused for expanding past its node limit */
  root: TreeNode | null;
  pos: Pos;
  /** the document expands (through aliases) to more nodes than it may */
  tooBig: boolean;
}

/** Leaves the reader: the document is one for the yaml package. */
class Unhandled {}
const UNHANDLED = new Unhandled();
/** Leaves the reader: the node limit was passed. */
class TooBig {}
const TOO_BIG = new TooBig();

const TAB = 9, LF = 10, CR = 13, SPACE = 32, BANG = 33, DQUOTE = 34, HASH = 35, PERCENT = 37, AMP = 38, SQUOTE = 39;
const STAR = 42, COMMA = 44, DASH = 45, DOT = 46, COLON = 58, GT = 62, QUESTION = 63, AT = 64;
const LBRACKET = 91, BACKSLASH = 92, RBRACKET = 93, BACKTICK = 96, LBRACE = 123, PIPE = 124, RBRACE = 125, BOM = 0xfeff;

// The longest implicit key YAML allows (the yaml package refuses longer ones).
const MAX_KEY_LENGTH = 1024;

const isBlank = (c: number): boolean => c === SPACE || c === TAB;
/** whitespace, a line break or the end of the text: what must follow an indicator */
const isBreakOrBlank = (c: number): boolean => c === SPACE || c === TAB || c === LF || c === CR || c === -1;
const isFlowIndicator = (c: number): boolean => c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;

// Characters that cannot begin a plain scalar (YAML's c-indicator); `-`, `?` and `:` can when a
// non-blank character follows.
function isIndicator(c: number): boolean {
  switch (c) {
    case DASH: case QUESTION: case COLON: case COMMA: case LBRACKET: case RBRACKET: case LBRACE: case RBRACE:
    case HASH: case AMP: case STAR: case BANG: case PIPE: case GT: case SQUOTE: case DQUOTE: case PERCENT: case AT: case BACKTICK:
      return true;
  }
  return false;
}

const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {
  "0": "\0", a: "\x07", b: "\b", e: "\x1b", f: "\f", n: "\n", r: "\r", t: "\t", "\t": "\t", v: "\v",
  N: "\u0085", _: "\u00a0", L: "\u2028", P: "\u2029", " ": " ", '"': '"', "/": "/", "\\": "\\",
  // go-yaml, and so kubectl, reads `\'` as `'` (YAML 1.2 has no such escape)
  "'": "'",
};

// The characters of a quoted scalar up to its closing quote, a backslash, a line break or
// another control character: what needs no more than slicing.
const DOUBLE_QUOTED_RUN = /[^"\\\x00-\x08\x0a-\x1f]*/y;
const SINGLE_QUOTED_RUN = /[^'\\\x00-\x08\x0a-\x1f]*/y;

// simpleEntry's entry: key, the blanks after its colon, value; then the next line's indentation.
const SIMPLE_ENTRY = /([A-Za-z0-9_][-A-Za-z0-9_./]*):( +)"([^"\\\x00-\x1f]*)"\n */y;

// The characters of a plain key up to one that may end it: `:`, `#`, a line break or another
// control character.
const PLAIN_KEY_RUN = /[^:#\x00-\x08\x0a-\x1f]*/y;

// YAML 1.1 scalars, resolved as the yaml package's 1.1 schema does with kubectl's tags (no
// timestamps), tried in that schema's order.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const TRUE = /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const FALSE = /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const INT_BIN = /^[-+]?0b[0-1_]+$/;
const INT_OCT = /^[-+]?0[0-7_]+$/;
const INT_DEC = /^[-+]?[0-9][0-9_]*$/;
const INT_HEX = /^[-+]?0x[0-9a-fA-F_]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/;

function int(s: string, prefix: number, radix: number): number {
  const sign = s[0];
  const digits = s.substring(sign === "-" || sign === "+" ? prefix + 1 : prefix).replace(/_/g, "");
  const n = parseInt(digits, radix);
  return sign === "-" ? -1 * n : n;
}

type Value = string | number | boolean | null;

function nullValue(s: string): Value | undefined {
  return NULL.test(s) ? null : undefined;
}
function boolValue(s: string): Value | undefined {
  return TRUE.test(s) ? true : FALSE.test(s) ? false : undefined;
}
function intValue(s: string): Value | undefined {
  if (INT_BIN.test(s)) return int(s, 2, 2);
  if (INT_OCT.test(s)) return int(s, 1, 8);
  if (INT_DEC.test(s)) return int(s, 0, 10);
  if (INT_HEX.test(s)) return int(s, 2, 16);
  return undefined;
}
function floatValue(s: string): Value | undefined {
  if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? -Infinity : Infinity;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s.replace(/_/g, ""));
  return undefined;
}

/** What an untagged plain scalar means; the first character decides which rules can apply. */
function plainValue(s: string): Value {
  switch (s.charCodeAt(0)) {
    case 126: // ~
      return s === "~" ? null : s;
    case 78: case 110: // N n
      return NULL.test(s) ? null : (boolValue(s) ?? s);
    case 89: case 121: case 84: case 116: case 79: case 111: case 70: case 102: // Y y T t O o F f
      return boolValue(s) ?? s;
    case 69: case 101: // E e: `e3` is a float to the 1.1 schema
    case 43: case 45: case DOT: case 48: case 49: case 50: case 51: case 52: case 53: case 54: case 55: case 56: case 57:
      return intValue(s) ?? floatValue(s) ?? s;
  }
  return s;
}

/** What a scalar with an explicit `!!` tag means, or undefined where the yaml package would warn. */
function taggedValue(tag: string, s: string): Value | undefined {
  switch (tag) {
    case "str":
      return s;
    case "null":
      return nullValue(s);
    case "bool":
      return boolValue(s);
    case "int":
      return intValue(s);
    case "float":
      return floatValue(s);
  }
  return undefined;
}

interface Anchored {
  node: TreeNode;
  /** the nodes the yaml-package path builds for one expansion of it */
  size: number;
  /** how many levels it nests below itself */
  height: number;
}

interface Key {
  key: string;
  pos: Pos;
  /** the offset just past the `:` */
  end: number;
}

/**
 * Reads the slice [from, to) of text, which load.ts cut at a `---` line (or the text's start).
 * Returns the document it holds, null for a slice of comments or directives only, or undefined
 * for one the yaml package must read.
 */
export function readYaml(text: string, from: number, to: number, posAt: (offset: number) => Pos, maxNodes: number, maxDepth: number): ReadDocument | null | undefined {
  const reader = new Reader(text, from, to, posAt, maxNodes, maxDepth);
  try {
    return reader.stream();
  } catch (err) {
    if (err === UNHANDLED) return undefined;
    if (err === TOO_BIG) return { root: null, pos: reader.docPos!, tooBig: true };
    throw err;
  }
}

class Reader {
  i: number;
  lineNo: number;
  lineStart: number;
  /** a `...` line ended the document */
  docEnd = false;
  count = 0;
  /** the deepest level a node was built at, for the height of anchored nodes */
  deepest = 0;
  anchors = new Map<string, Anchored>();
  /** anchors whose node is being read: an alias to one would be a cycle */
  open = new Map<string, number>();
  docPos: Pos | undefined;
  bom = 0;
  /** the last quoted scalar read, which is read twice when a line is checked for a key */
  quotedAt = -1;
  quotedValue = "";
  quotedEnd = 0;

  constructor(
    readonly text: string,
    readonly from: number,
    readonly end: number,
    readonly posAt: (offset: number) => Pos,
    readonly max: number,
    readonly maxDepth: number,
  ) {
    this.i = from;
    const p = posAt(from);
    this.lineNo = p.line;
    this.lineStart = from - (p.col - 1);
  }

  fail(): never {
    throw UNHANDLED;
  }

  code(k: number): number {
    return k < this.end ? this.text.charCodeAt(k) : -1;
  }

  /** The position of an offset on the current line (or, rarely, an earlier one). */
  pos(offset: number): Pos {
    return offset >= this.lineStart ? { line: this.lineNo, col: offset - this.lineStart + 1 } : this.posAt(offset);
  }

  /** Counts a node the yaml-package path would build at this depth. */
  counted(depth: number): void {
    if (depth > this.maxDepth) this.fail();
    if (depth > this.deepest) this.deepest = depth;
    if (++this.count > this.max) throw TOO_BIG;
  }

  scalar(pos: Pos, value: Value, source: string, quoted: boolean, depth: number): ScalarNode {
    this.counted(depth);
    return { kind: "scalar", pos, value, source, quoted };
  }

  empty(pos: Pos, depth: number): ScalarNode {
    return this.scalar(pos, null, "", false, depth);
  }

  // ---- lines ------------------------------------------------------------------------------

  /** Steps over the line break at i (LF or CRLF); a lone CR is left to the yaml package. */
  lineBreak(): void {
    const c = this.code(this.i);
    if (c === CR && this.code(this.i + 1) === LF) this.i += 2;
    else if (c === LF) this.i++;
    else this.fail();
    this.lineNo++;
    this.lineStart = this.i;
  }

  /** At a line's start: DOT for a `...` line, DASH for a `---` line inside the slice, else 0. */
  marker(): number {
    const c = this.code(this.i);
    if ((c !== DOT && c !== DASH) || this.code(this.i + 1) !== c || this.code(this.i + 2) !== c || !isBreakOrBlank(this.code(this.i + 3))) return 0;
    return c;
  }

  /** At a line's start: steps over its indentation (spaces); false at a `...` line. */
  indentation(): boolean {
    const marker = this.marker();
    if (marker === DOT) {
      this.docEnd = true;
      return false;
    }
    if (marker === DASH) this.fail();
    let c = this.code(this.i);
    while (c === SPACE) c = this.code(++this.i);
    if (c === TAB) {
      // Tabs may separate, not indent: only a blank or comment line may start with one.
      let k = this.i;
      while (isBlank(c)) c = this.code(++k);
      if (c !== HASH && c !== LF && c !== CR && c !== -1) this.fail();
      this.i = k;
    }
    return true;
  }

  /** Skips blanks, comments and line breaks up to the next content; false at the document's end. */
  nextContent(): boolean {
    if (this.docEnd) return false;
    const t = this.text;
    for (;;) {
      let c = this.code(this.i);
      while (c === SPACE || c === TAB) c = this.code(++this.i);
      if (c === -1) return false;
      if (c === HASH) {
        const nl = t.indexOf("\n", this.i);
        this.i = nl < 0 || nl > this.end ? this.end : nl > 0 && t.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        continue;
      }
      if (c === LF || c === CR) {
        this.lineBreak();
        if (!this.indentation()) return false;
        continue;
      }
      if (c === BOM) this.fail();
      return true;
    }
  }

  /** After a node that ends on its line: only blanks and a comment may follow it. */
  lineDone(): void {
    const i = this.i;
    if (this.code(i) === LF) {
      let k = i + 1;
      while (k < this.end && this.text.charCodeAt(k) === SPACE) k++;
      if (this.contentAfter(i, k)) return;
    }
    if (!isBreakOrBlank(this.code(this.i))) this.fail();
    const line = this.lineNo;
    if (this.nextContent() && this.lineNo === line) this.fail();
  }

  /**
   * The common case of nextContent, without its general loop: after the line feed at lf the
   * next line holds content after spaces only, at next, and is no `---` or `...` line. Moves
   * there if so; changes nothing if not.
   */
  contentAfter(lf: number, next: number): boolean {
    const d = next < this.end ? this.text.charCodeAt(next) : -1;
    if (!(d > SPACE && d !== HASH && d !== BOM && (next > lf + 1 || (d !== DOT && d !== DASH))) || this.docEnd) return false;
    this.lineNo++;
    this.lineStart = lf + 1;
    this.i = next;
    return true;
  }

  /** The indentation of the line the current content is on. */
  indent(): number {
    // A byte order mark is no indentation, though it counts in the column.
    return this.i - this.lineStart - (this.lineStart === 0 ? this.bom : 0);
  }

  atEnd(): boolean {
    return this.docEnd || this.i >= this.end;
  }

  // ---- the stream ---------------------------------------------------------------------------

  stream(): ReadDocument | null {
    const t = this.text;
    if (this.i === 0 && this.code(0) === BOM) this.bom = ++this.i;
    let explicit = false;
    if (t.startsWith("---", this.i) && isBreakOrBlank(this.code(this.i + 3))) {
      explicit = true;
      this.i += 3;
      let c = this.code(this.i);
      while (isBlank(c)) c = this.code(++this.i);
      // Content on the marker's line (`--- |`, `--- {a: 1}`) is left to the yaml package.
      if (c !== HASH && c !== LF && c !== CR && c !== -1) this.fail();
    } else if (this.marker() === DOT) {
      this.docEnd = true;
    } else if (this.directives()) {
      // Directives stand before a `---`, which begins the next slice: this one holds no document.
      if (this.nextContent() || this.docEnd) this.fail();
      return null;
    }
    let emptyPos = this.pos(this.i);
    if (!this.nextContent()) {
      if (!explicit && !this.docEnd) return null;
      // An empty document: after `---`, or at a `...` that ends nothing
      if (!explicit) emptyPos = this.pos(this.i);
      this.docPos = emptyPos;
      const root = this.empty(emptyPos, 0);
      this.trailer();
      return { root, pos: emptyPos, tooBig: false };
    }
    const c = this.code(this.i);
    if (c === AMP || c === BANG || c === PERCENT) this.fail();
    // The yaml package misreads a block sequence or explicit key right after a byte order mark.
    if (this.bom > 0 && this.lineStart === 0 && (c === DASH || c === QUESTION)) this.fail();
    this.docPos = this.pos(this.i);
    const root = this.blockNode(-1, 0);
    this.trailer();
    return { root, pos: this.docPos, tooBig: false };
  }

  /** After the document's node: nothing, or a `...` line and then comments only. */
  trailer(): void {
    if (!this.docEnd) {
      if (this.i < this.end) this.fail();
      return;
    }
    this.docEnd = false;
    this.i += 3;
    if (this.nextContent() || this.docEnd) this.fail();
  }

  /** `%YAML 1.x` and `%TAG` lines at the slice's start; false when there are none. */
  directives(): boolean {
    const t = this.text;
    let seen = false;
    let version = false;
    for (;;) {
      if (!this.nextContent()) return seen;
      if (this.indent() !== 0 || this.code(this.i) !== PERCENT) {
        if (seen) this.fail();
        return false;
      }
      const nl = t.indexOf("\n", this.i);
      const line = t.slice(this.i, nl < 0 || nl > this.end ? this.end : nl).replace(/\r$/, "");
      if (/^%YAML 1\.[12](?:[ \t]+#.*)?[ \t]*$/.test(line) && !version) version = true;
      else if (!/^%TAG (?:!|!!|![0-9A-Za-z-]+!) [^ \t]+(?:[ \t]+#.*)?[ \t]*$/.test(line)) this.fail();
      seen = true;
      this.i += line.length;
    }
  }

  // ---- block context ------------------------------------------------------------------------

  /**
   * The node whose content begins at i, the first content of its line, inside a block
   * collection indented `parent` (-1 for the document's node).
   */
  blockNode(parent: number, depth: number): TreeNode {
    const c = this.code(this.i);
    const next = this.code(this.i + 1);
    if (c === DASH && isBreakOrBlank(next)) return this.blockSeq(this.indent(), depth);
    if (c === QUESTION && isBreakOrBlank(next)) return this.blockMap(this.indent(), depth, undefined);
    const key = this.implicitKey();
    if (key) return this.blockMap(this.indent(), depth, key);
    // A scalar as the whole document is rare in a manifest: the yaml package reads it.
    if (parent < 0 && c !== LBRACKET && c !== LBRACE) this.fail();
    return this.inlineNode(parent, depth);
  }

  /**
   * The value after an indicator (`key:`, `- `, `? `, `: `) of a collection indented `parent`,
   * with i just past it. `compact`: a sequence item, which may hold a map or a sequence on the
   * same line. `sameIndentSeq`: a map value, whose sequence may be indented like its key.
   */
  valueAfter(parent: number, depth: number, compact: boolean, sameIndentSeq: boolean): TreeNode {
    let c = this.code(this.i);
    let tab = false;
    while (isBlank(c)) {
      if (c === TAB) tab = true;
      c = this.code(++this.i);
    }
    if (c === HASH || c === LF || c === CR || c === -1) {
      const emptyPos = this.pos(this.i);
      if (!this.nextContent()) return this.empty(emptyPos, depth);
      const ind = this.indent();
      if (ind > parent) return this.blockNode(parent, depth);
      if (sameIndentSeq && ind === parent && this.code(this.i) === DASH && isBreakOrBlank(this.code(this.i + 1))) return this.blockSeq(ind, depth);
      return this.empty(emptyPos, depth);
    }
    if (compact) {
      const next = this.code(this.i + 1);
      const compactStart = (c === DASH || c === QUESTION) && isBreakOrBlank(next);
      const key = compactStart ? undefined : this.implicitKey();
      if (compactStart || key) {
        // A collection on the item's line is indented by its column, which a tab would blur.
        if (tab) this.fail();
        if (c === DASH && !key) return this.blockSeq(this.indent(), depth);
        return this.blockMap(this.indent(), depth, key);
      }
    }
    // Without properties an inline node is a bare one.
    if (c !== AMP && c !== BANG) return this.bareNode(parent, depth, undefined);
    return this.inlineNode(parent, depth, sameIndentSeq);
  }

  /**
   * The commonest entry of a large map, read at once: a plain key of letters, digits and
   * `_-./`, and a double-quoted value without escapes that ends the line, with the next line's
   * content after spaces only (what lineDone finds without its general loop). Undefined,
   * having changed nothing, for any other entry; implicitKey and valueAfter read those.
   */
  simpleEntry(depth: number): MapEntry | undefined {
    const t = this.text;
    const start = this.i;
    SIMPLE_ENTRY.lastIndex = start;
    const m = SIMPLE_ENTRY.exec(t);
    if (m === null) return undefined;
    const key = m[1]!;
    const value = m[3]!;
    const quote = start + key.length + 1 + m[2]!.length;
    const lf = quote + value.length + 2;
    const line = this.lineNo;
    const lineStart = this.lineStart;
    if (key.length > MAX_KEY_LENGTH || !this.contentAfter(lf, SIMPLE_ENTRY.lastIndex)) return undefined;
    this.quotedAt = quote;
    this.quotedValue = value;
    this.quotedEnd = lf;
    return { key, keyPos: { line, col: start - lineStart + 1 }, value: this.scalar({ line, col: quote - lineStart + 1 }, value, value, true, depth) };
  }

  blockSeq(indent: number, depth: number): TreeNode {
    const pos = this.pos(this.i);
    this.counted(depth);
    const items: TreeNode[] = [];
    for (;;) {
      this.i++; // the `-`
      items.push(this.valueAfter(indent, depth + 1, true, false));
      if (this.atEnd()) break;
      const ind = this.indent();
      if (ind > indent) this.fail();
      if (ind < indent || this.code(this.i) !== DASH || !isBreakOrBlank(this.code(this.i + 1))) break;
    }
    return { kind: "seq", pos, items };
  }

  blockMap(indent: number, depth: number, first: Key | undefined): TreeNode {
    const pos = this.pos(this.i);
    this.counted(depth);
    const entries: MapEntry[] = [];
    let merged: MapEntry[] | undefined;
    let key = first;
    for (;;) {
      let entry: MapEntry;
      if (key === undefined && this.code(this.i) === QUESTION && isBreakOrBlank(this.code(this.i + 1))) {
        entry = this.explicitEntry(indent, depth);
      } else {
        const simple = key === undefined ? this.simpleEntry(depth + 1) : undefined;
        if (simple !== undefined) entry = simple;
        else {
          key ??= this.implicitKey();
          if (key === undefined) this.fail();
          this.i = key.end;
          entry = { key: key.key, keyPos: key.pos, value: this.valueAfter(indent, depth + 1, false, true) };
        }
      }
      key = undefined;
      if (entry.key === "<<") merged = this.merge(merged, entry.value);
      else entries.push(entry);
      if (this.atEnd()) break;
      const ind = this.indent();
      if (ind < indent) break;
      if (ind > indent) this.fail();
    }
    return { kind: "map", pos, entries: merged ? withMerged(entries, merged) : entries };
  }

  /** `? key` and, on a following line at the map's indentation, `: value`. */
  explicitEntry(indent: number, depth: number): MapEntry {
    this.i++;
    let c = this.code(this.i);
    while (isBlank(c)) c = this.code(++this.i);
    if (c === HASH || c === LF || c === CR || c === -1) this.fail(); // an empty or block key
    const k = this.flowKey(false, indent);
    if (k === undefined) this.fail();
    this.lineDone();
    if (!this.atEnd() && this.indent() === indent && this.code(this.i) === COLON && isBreakOrBlank(this.code(this.i + 1))) {
      this.i++;
      return { key: k.key, keyPos: k.pos, value: this.valueAfter(indent, depth + 1, false, true) };
    }
    // A key without a value: the yaml package leaves the value out, and load.ts puts a null at the key.
    return { key: k.key, keyPos: k.pos, value: { kind: "scalar", pos: k.pos, value: null, source: "", quoted: false } };
  }

  /** Merge sources (`<<: *base`, `<<: [*a, *b]`): their entries, earlier sources first. */
  merge(merged: MapEntry[] | undefined, value: TreeNode): MapEntry[] {
    const out = merged ?? [];
    const sources = value.kind === "seq" ? value.items : [value];
    for (const s of sources) if (s.kind === "map") for (const e of s.entries) out.push(e);
    return out;
  }

  /**
   * The implicit key (`key:` followed by a blank or the line's end) that begins at i, without
   * moving i; undefined when the line holds no key there.
   */
  implicitKey(): Key | undefined {
    const t = this.text;
    const start = this.i;
    const c = this.code(start);
    if (c === DQUOTE || c === SQUOTE) {
      const value = this.quotedScalar(-1, false);
      const after = this.quotedEnd;
      this.i = start;
      if (value === undefined) return undefined;
      let k = after;
      while (isBlank(this.code(k))) k++;
      if (this.code(k) !== COLON || !isBreakOrBlank(this.code(k + 1))) return undefined;
      if (k - start > MAX_KEY_LENGTH) this.fail();
      return { key: value, pos: this.pos(start), end: k + 1 };
    }
    // Properties, an alias or a collection are no plain key; one followed by `:` is refused
    // where it is read (inlineNode, lineDone).
    if (c === STAR || c === AMP || c === BANG || c === LBRACKET || c === LBRACE) return undefined;
    if (isIndicator(c) && !((c === DASH || c === QUESTION || c === COLON) && !isBreakOrBlank(this.code(start + 1)))) return undefined;
    let k = start;
    for (;;) {
      PLAIN_KEY_RUN.lastIndex = k;
      PLAIN_KEY_RUN.test(t);
      k = PLAIN_KEY_RUN.lastIndex;
      if (k >= this.end) return undefined;
      const d = t.charCodeAt(k);
      if (d === LF || d === CR) return undefined;
      if (d === HASH) {
        if (k > start && isBlank(t.charCodeAt(k - 1))) return undefined;
      } else if (d === COLON) {
        if (isBreakOrBlank(this.code(k + 1))) break;
      } else {
        this.fail(); // a control character
      }
      k++;
    }
    if (k - start > MAX_KEY_LENGTH) this.fail();
    let last = k; // just past the last non-blank character
    while (last > start && isBlank(t.charCodeAt(last - 1))) last--;
    return { key: t.slice(start, last), pos: this.pos(start), end: k + 1 };
  }

  /**
   * A node that begins on the current line at i and is not a block collection: properties,
   * then an alias, a flow collection or a scalar. Returns with i at the next content.
   */
  inlineNode(parent: number, depth: number, sameIndentSeq = false): TreeNode {
    const { anchor, tag } = this.properties(true);
    const c = this.code(this.i);
    if (anchor === undefined && tag === undefined) return this.bareNode(parent, depth, undefined);
    if (c === HASH || c === LF || c === CR || c === -1) {
      // Properties of a block collection on the following lines, or of an empty node.
      const emptyPos = this.pos(this.i);
      const empty = (): TreeNode => this.scalar(emptyPos, tag === undefined ? null : resolveTag(tag, ""), "", false, depth);
      if (!this.nextContent()) return anchor === undefined ? empty() : this.anchored(anchor, depth, empty);
      const d = this.code(this.i);
      const ind = this.indent();
      const seq = d === DASH && isBreakOrBlank(this.code(this.i + 1));
      if (ind < parent || (ind === parent && !(sameIndentSeq && seq))) return anchor === undefined ? empty() : this.anchored(anchor, depth, empty);
      const collection = seq || (d === QUESTION && isBreakOrBlank(this.code(this.i + 1)));
      if (tag !== undefined || (!collection && this.implicitKey() === undefined)) this.fail();
      return this.anchored(anchor!, depth, () => this.blockNode(parent, depth));
    }
    // Properties before an implicit key belong to the key, and an alias has none: for the yaml package.
    if (c === STAR || this.implicitKey() !== undefined) this.fail();
    if (anchor === undefined) return this.bareNode(parent, depth, tag);
    return this.anchored(anchor, depth, () => this.bareNode(parent, depth, tag));
  }

  /**
   * A node's properties (an anchor, a tag, each at most once, in either order) and the blanks
   * after them; i is then at what follows. In a flow collection a line break may not follow
   * a property here (the yaml package reads those).
   */
  properties(breakMayFollow: boolean): { anchor: string | undefined; tag: string | undefined } {
    let anchor: string | undefined;
    let tag: string | undefined;
    let c = this.code(this.i);
    while (c === AMP || c === BANG) {
      if (c === AMP) {
        if (anchor !== undefined) this.fail();
        anchor = this.name();
      } else {
        if (tag !== undefined) this.fail();
        tag = this.tag();
      }
      c = this.code(this.i);
      if (!(breakMayFollow ? isBreakOrBlank(c) : isBlank(c))) this.fail();
      while (isBlank(c)) c = this.code(++this.i);
    }
    return { anchor, tag };
  }

  /** Reads an anchored node and remembers it for its aliases. */
  anchored(name: string, depth: number, read: () => TreeNode): TreeNode {
    const countBefore = this.count;
    const deepestBefore = this.deepest;
    this.deepest = depth;
    this.open.set(name, (this.open.get(name) ?? 0) + 1);
    const node = read();
    this.open.set(name, this.open.get(name)! - 1);
    this.anchors.set(name, { node, size: this.count - countBefore, height: this.deepest - depth });
    this.deepest = Math.max(this.deepest, deepestBefore);
    return node;
  }

  /** An alias, flow collection or scalar at i (after any properties). */
  bareNode(parent: number, depth: number, tag: string | undefined): TreeNode {
    const c = this.code(this.i);
    if (c === STAR) {
      if (tag !== undefined) this.fail();
      const node = this.alias(depth);
      this.lineDone();
      return node;
    }
    if (c === LBRACKET || c === LBRACE) {
      if (tag !== undefined) this.fail();
      const node = this.flowCollection(parent, depth);
      this.lineDone();
      return node;
    }
    const pos = this.pos(this.i);
    if (c === DQUOTE || c === SQUOTE) {
      const value = this.quotedScalar(parent, true);
      if (value === undefined) this.fail();
      this.i = this.quotedEnd;
      this.lineDone();
      return this.scalar(pos, tag === undefined ? value : resolveTag(tag, value), value, true, depth);
    }
    if (c === PIPE || c === GT) {
      const value = this.blockScalar(parent);
      return this.scalar(pos, tag === undefined ? value : resolveTag(tag, value), value, false, depth);
    }
    const value = this.plainScalar(parent, false);
    if (value === undefined) this.fail();
    this.lineDone(); // refuses `a: b: c`, a map where a value was
    return this.scalar(pos, tag === undefined ? plainValue(value) : resolveTag(tag, value), value, false, depth);
  }

  /** `*name`: the nearest anchored node before it, as the yaml-package path expands it. */
  alias(depth: number): TreeNode {
    const pos = this.pos(this.i);
    const name = this.name();
    if (name.endsWith(":") || (this.open.get(name) ?? 0) > 0) this.fail();
    const target = this.anchors.get(name);
    if (target === undefined) return this.empty(pos, depth); // an unknown alias reads as null
    if (depth + 1 + target.height > this.maxDepth) this.fail();
    this.deepest = Math.max(this.deepest, depth + 1 + target.height);
    this.count += 1 + target.size;
    if (this.count > this.max) throw TOO_BIG;
    return target.node;
  }

  /** An anchor's or alias's name after its `&` or `*`. */
  name(): string {
    const start = ++this.i;
    let c = this.code(this.i);
    while (c > SPACE && !isFlowIndicator(c)) c = this.code(++this.i);
    if (this.i === start || (c !== -1 && !isBreakOrBlank(c) && !isFlowIndicator(c))) this.fail();
    return this.text.slice(start, this.i);
  }

  /** A `!!name` tag; other tags are for the yaml package. */
  tag(): string {
    if (this.code(this.i + 1) !== BANG) this.fail();
    this.i += 2;
    const start = this.i;
    let c = this.code(this.i);
    while ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) c = this.code(++this.i);
    if (this.i === start) this.fail();
    return this.text.slice(start, this.i);
  }

  // ---- scalars ------------------------------------------------------------------------------

  /**
   * A plain scalar at i, folded over its continuation lines (indented more than `parent`).
   * In a flow collection it ends at `,`, `]`, `}` and `: `. Leaves i just past its last
   * character; undefined if i cannot begin one.
   */
  plainScalar(parent: number, flow: boolean): string | undefined {
    const t = this.text;
    const start = this.i;
    let c = this.code(start);
    if (isIndicator(c)) {
      const next = this.code(start + 1);
      const safe = next !== -1 && !isBreakOrBlank(next) && !(flow && isFlowIndicator(next));
      if (!((c === DASH || c === QUESTION || c === COLON) && safe)) return undefined;
    }
    let value = "";
    let lineFrom = start;
    let folded = false;
    for (;;) {
      // one line of the scalar, from lineFrom
      let k = this.i;
      let last = k;
      for (;;) {
        c = this.code(k);
        if (c === LF || c === CR || c === -1) break;
        if (c === HASH && k > lineFrom && isBlank(t.charCodeAt(k - 1))) break;
        if (c === COLON) {
          const next = this.code(k + 1);
          if (isBreakOrBlank(next) || (flow && isFlowIndicator(next))) break;
        }
        if (flow && isFlowIndicator(c)) break;
        if (c < SPACE && c !== TAB) this.fail();
        k++;
        if (c !== SPACE && c !== TAB) last = k;
      }
      const line = t.slice(lineFrom, last);
      if (!folded) value = line;
      else value += line;
      this.i = last;
      if (c !== LF && c !== CR) {
        if (c === COLON && folded) this.fail(); // a key that spans lines
        return value;
      }
      // Is the next non-empty line a continuation? If not, the scalar ends where it was.
      const endLine = this.lineNo;
      const endLineStart = this.lineStart;
      const ended = (): string => {
        this.i = last;
        this.lineNo = endLine;
        this.lineStart = endLineStart;
        this.docEnd = false;
        return value;
      };
      this.i = k;
      let breaks = 0;
      for (;;) {
        this.lineBreak();
        if (!this.indentation()) return ended();
        let d = this.code(this.i);
        while (isBlank(d)) d = this.code(++this.i);
        if (d === LF || d === CR) {
          breaks++;
          continue;
        }
        if (d === -1 || d === HASH || (!flow && this.indent() <= parent)) return ended();
        if (flow && (isFlowIndicator(d) || d === COLON)) {
          if (d === COLON) this.fail();
          return ended();
        }
        // A continuation may begin with any character a scalar can hold; `- `, `? ` and `: `
        // there are left to the yaml package.
        if (((d === DASH || d === QUESTION || d === COLON) && isBreakOrBlank(this.code(this.i + 1))) || d === BOM) this.fail();
        if (flow && this.indent() <= parent) this.fail();
        break;
      }
      value += breaks === 0 ? " " : "\n".repeat(breaks);
      folded = true;
      lineFrom = this.i;
    }
  }

  /**
   * A single- or double-quoted scalar at i; its continuation lines must be indented more than
   * `parent`. Sets quotedEnd just past the closing quote, leaving i unchanged; undefined when
   * `multiLine` is false and it spans lines.
   */
  quotedScalar(parent: number, multiLine: boolean): string | undefined {
    const t = this.text;
    const start = this.i;
    if (start === this.quotedAt) return this.quotedValue;
    const quote = t.charCodeAt(start);
    const lineNo = this.lineNo;
    const lineStart = this.lineStart;
    // The common case: one line, no escapes.
    const run = quote === DQUOTE ? DOUBLE_QUOTED_RUN : SINGLE_QUOTED_RUN;
    run.lastIndex = start + 1;
    run.test(t);
    let k = Math.min(run.lastIndex, this.end);
    let c = this.code(k);
    let value: string;
    if (c === quote && (quote === DQUOTE || this.code(k + 1) !== SQUOTE)) {
      value = t.slice(start + 1, k);
    } else {
      let out = "";
      let chunk = start + 1;
      for (;;) {
        c = this.code(k);
        if (c === -1) this.fail();
        if (c === quote) {
          if (quote === SQUOTE && this.code(k + 1) === SQUOTE) {
            out += t.slice(chunk, k + 1);
            k += 2;
            chunk = k;
            continue;
          }
          break;
        }
        if (c === BACKSLASH && quote === DQUOTE) {
          out += t.slice(chunk, k);
          const e = this.code(k + 1);
          if (e === LF || e === CR) {
            // An escaped line break: nothing, and the next line's leading blanks go too.
            if (!multiLine) break;
            this.i = k + 1;
            this.lineBreak();
            k = this.continuation(parent);
            while (isBlank(this.code(k))) k++;
            chunk = k;
            continue;
          }
          const ch = t[k + 1]!;
          const simple = DOUBLE_QUOTE_ESCAPES[ch];
          if (simple !== undefined) {
            out += simple;
            k += 2;
          } else {
            const length = ch === "x" ? 2 : ch === "u" ? 4 : ch === "U" ? 8 : 0;
            const hex = t.slice(k + 2, k + 2 + length);
            if (length === 0 || k + 2 + length > this.end || !/^[0-9a-fA-F]+$/.test(hex)) this.fail();
            const cp = parseInt(hex, 16);
            if (cp > 0x10ffff) this.fail();
            out += String.fromCodePoint(cp);
            k += 2 + length;
          }
          chunk = k;
          continue;
        }
        if (c === LF || c === CR) {
          if (!multiLine) break;
          // A line break folds: trailing blanks go, then one break is a space, n empty lines n breaks.
          let e = k;
          while (e > chunk && isBlank(t.charCodeAt(e - 1))) e--;
          out += t.slice(chunk, e);
          let breaks = 0;
          this.i = k;
          for (;;) {
            this.lineBreak();
            k = this.continuation(parent);
            let d = this.code(k);
            while (isBlank(d)) d = this.code(++k);
            if (d !== LF && d !== CR) break;
            this.i = k;
            breaks++;
          }
          out += breaks === 0 ? " " : "\n".repeat(breaks);
          chunk = k;
          continue;
        }
        if (c < SPACE && c !== TAB) this.fail();
        k++;
      }
      if (c !== quote) {
        // spans lines where it may not
        this.lineNo = lineNo;
        this.lineStart = lineStart;
        this.i = start;
        return undefined;
      }
      value = out + t.slice(chunk, k);
    }
    this.i = start;
    this.quotedAt = start;
    this.quotedValue = value;
    this.quotedEnd = k + 1;
    return value;
  }

  /** At the start of a quoted scalar's continuation line: where its text begins. */
  continuation(parent: number): number {
    if (this.marker() !== 0) this.fail();
    let k = this.i;
    let c = this.code(k);
    while (c === SPACE) c = this.code(++k);
    const blankLine = c === LF || c === CR || (isBlank(c) && this.blankRest(k));
    if (c === -1 || c === BOM || (!blankLine && k - this.lineStart <= parent)) this.fail();
    return k;
  }

  blankRest(k: number): boolean {
    let c = this.code(k);
    while (isBlank(c)) c = this.code(++k);
    return c === LF || c === CR;
  }

  /**
   * A literal (`|`) or folded (`>`) block scalar at i, with its chomping and indentation
   * indicators, as the yaml package reads one. Returns with i at the next content.
   */
  blockScalar(parent: number): string {
    const t = this.text;
    if (parent < 0) this.fail();
    const folded = this.code(this.i) === GT;
    let chomp = 0; // -1 strip, 0 clip, 1 keep
    let explicit = 0;
    let c = this.code(++this.i);
    for (let n = 0; n < 2; n++) {
      if ((c === DASH || c === 43) && chomp === 0) chomp = c === DASH ? -1 : 1;
      else if (c >= 49 && c <= 57 && explicit === 0) explicit = c - 48;
      else break;
      c = this.code(++this.i);
    }
    if (!isBreakOrBlank(c)) this.fail();
    while (isBlank(c)) c = this.code(++this.i);
    if (c === HASH) {
      const nl = t.indexOf("\n", this.i);
      this.i = nl < 0 || nl > this.end ? this.end : nl > 0 && t.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      c = this.code(this.i);
    }
    if (c === -1) return "";
    this.lineBreak();
    // The lines of the scalar: [indentation, content start, content end] each.
    let trim = explicit > 0 ? parent + explicit : -1;
    const lines: number[] = [];
    let endedWithBreak = false;
    let leadingMax = 0;
    for (;;) {
      if (this.i >= this.end) break;
      const lineStart = this.i;
      let k = lineStart;
      while (this.code(k) === SPACE) k++;
      const ind = k - lineStart;
      let e = k;
      let d = this.code(e);
      while (d !== LF && d !== CR && d !== -1) d = this.code(++e);
      const empty = e === k;
      if (this.code(k) === TAB && (trim < 0 || ind < trim)) this.fail();
      if (!empty) {
        if (d === CR && this.code(e + 1) !== LF) this.fail();
        if (trim < 0) {
          if (ind <= parent) break;
          if (leadingMax > ind) this.fail(); // more-indented leading empty lines
          trim = ind;
        }
        if (ind < trim) {
          if (ind > parent || this.code(k) === TAB) this.fail();
          break;
        }
      } else if (trim < 0 && ind > leadingMax) {
        leadingMax = ind;
      }
      lines.push(ind, k, e);
      this.i = e;
      if (d === -1) {
        endedWithBreak = false;
        break;
      }
      this.lineBreak();
      endedWithBreak = true;
    }
    if (lines.length > 0 && endedWithBreak) lines.push(0, this.i, this.i);
    if (trim < 0) trim = Math.max(leadingMax, parent + 1);
    const value = blockScalarValue(t, lines, trim, folded, chomp);
    // i is at the start of the line that ended the scalar
    if (!this.atEnd() && this.i < this.end && this.indentation()) this.nextContent();
    return value;
  }

  // ---- flow context -------------------------------------------------------------------------

  /** Skips blanks, comments and line breaks inside a flow collection; lines must be indented past `parent`. */
  flowSpace(parent: number): void {
    const t = this.text;
    for (;;) {
      let c = this.code(this.i);
      while (isBlank(c)) c = this.code(++this.i);
      if (c === HASH) {
        if (!isBreakOrBlank(this.code(this.i - 1)) && this.i > this.lineStart) this.fail();
        const nl = t.indexOf("\n", this.i);
        this.i = nl < 0 || nl > this.end ? this.end : nl > 0 && t.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        continue;
      }
      if (c !== LF && c !== CR) return;
      this.lineBreak();
      if (this.marker() !== 0) this.fail();
      let d = this.code(this.i);
      while (d === SPACE) d = this.code(++this.i);
      if (d === TAB || d === BOM) this.fail();
      if (d !== LF && d !== CR && this.indent() <= parent) this.fail();
    }
  }

  flowCollection(parent: number, depth: number): TreeNode {
    const pos = this.pos(this.i);
    const isMap = this.code(this.i) === LBRACE;
    const close = isMap ? RBRACE : RBRACKET;
    this.counted(depth);
    this.i++;
    const entries: MapEntry[] = [];
    const items: TreeNode[] = [];
    let merged: MapEntry[] | undefined;
    for (;;) {
      this.flowSpace(parent);
      let c = this.code(this.i);
      if (c === close) break;
      if (c === -1 || c === COMMA || c === RBRACKET || c === RBRACE) this.fail();
      if (c === QUESTION && isBreakOrBlank(this.code(this.i + 1))) this.fail();
      // an entry: a node, or `key: value`
      const start = this.i;
      const line = this.lineNo;
      const keyLike = c !== LBRACKET && c !== LBRACE && c !== STAR && c !== AMP && c !== BANG;
      let key: { key: string; pos: Pos; quoted: boolean } | undefined;
      let node: TreeNode | undefined;
      if (keyLike) {
        const k = this.flowKey(true, parent);
        if (k === undefined) this.fail();
        key = k;
      } else {
        node = this.flowNode(parent, depth + 1);
      }
      this.flowSpace(parent);
      c = this.code(this.i);
      const adjacent = key?.quoted === true;
      if (c === COLON && (isBreakOrBlank(this.code(this.i + 1)) || isFlowIndicator(this.code(this.i + 1)) || adjacent)) {
        if (key === undefined || this.lineNo !== line) this.fail(); // a collection or alias as a key, a key over lines
        if (this.i - start > MAX_KEY_LENGTH) this.fail();
        this.i++;
        const emptyPos = this.pos(this.i + this.blanksAt(this.i));
        this.flowSpace(parent);
        const d = this.code(this.i);
        const pairDepth = isMap ? depth + 1 : depth + 2;
        const value = d === COMMA || d === close ? this.empty(emptyPos, pairDepth) : this.flowNode(parent, pairDepth);
        if (isMap) {
          if (key.key === "<<") merged = this.merge(merged, value);
          else entries.push({ key: key.key, keyPos: key.pos, value });
        } else {
          // `[a: 1]`: a map of one entry, where its key is
          this.counted(depth + 1);
          const entries = key.key === "<<" ? withMerged([], this.merge(undefined, value)) : [{ key: key.key, keyPos: key.pos, value }];
          items.push({ kind: "map", pos: key.pos, entries });
        }
      } else if (isMap) {
        if (key === undefined) this.fail();
        // `{a}`: a key without a value, which load.ts puts at the key (`{<<}` merges nothing)
        if (key.key !== "<<") entries.push({ key: key.key, keyPos: key.pos, value: { kind: "scalar", pos: key.pos, value: null, source: "", quoted: false } });
      } else {
        items.push(node ?? this.keyAsNode(key!, depth + 1));
      }
      this.flowSpace(parent);
      c = this.code(this.i);
      if (c === COMMA) {
        this.i++;
        continue;
      }
      if (c !== close) this.fail();
      break;
    }
    this.i++;
    if (isMap) return { kind: "map", pos, entries: merged ? withMerged(entries, merged) : entries };
    return { kind: "seq", pos, items };
  }

  blanksAt(k: number): number {
    let n = 0;
    while (isBlank(this.code(k + n))) n++;
    return n;
  }

  /** A flow entry read as a possible key turned out to be a scalar item. */
  keyAsNode(key: { key: string; pos: Pos; quoted: boolean }, depth: number): TreeNode {
    return this.scalar(key.pos, key.quoted ? key.key : plainValue(key.key), key.key, key.quoted, depth);
  }

  /**
   * A scalar that may be a key: quoted (on one line when it is a key) or plain; in a flow
   * collection when `flow`. Leaves i just past it.
   */
  flowKey(flow: boolean, parent: number): { key: string; pos: Pos; quoted: boolean } | undefined {
    const c = this.code(this.i);
    const pos = this.pos(this.i);
    if (c === DQUOTE || c === SQUOTE) {
      const line = this.lineNo;
      const value = this.quotedScalar(parent, flow);
      if (value === undefined) return undefined;
      this.i = this.quotedEnd;
      if (!flow && this.lineNo !== line) this.fail();
      return { key: value, pos, quoted: true };
    }
    const value = this.plainScalar(parent, flow);
    if (value === undefined) return undefined;
    if (!flow && this.code(this.i) === COLON) this.fail(); // `? a: b`
    return { key: value, pos, quoted: false };
  }

  /** A node inside a flow collection: properties, then an alias, a collection or a scalar. */
  flowNode(parent: number, depth: number): TreeNode {
    const first = this.code(this.i);
    if (first === AMP || first === BANG) {
      const { anchor, tag } = this.properties(false);
      const c = this.code(this.i);
      if (c === STAR || c === COMMA || c === RBRACKET || c === RBRACE || c === LF || c === CR || c === HASH || c === -1) this.fail();
      const read = (): TreeNode => {
        if (tag !== undefined && (c === LBRACKET || c === LBRACE)) this.fail();
        return this.flowNodeBare(parent, depth, tag);
      };
      return anchor === undefined ? read() : this.anchored(anchor, depth, read);
    }
    return this.flowNodeBare(parent, depth, undefined);
  }

  flowNodeBare(parent: number, depth: number, tag: string | undefined): TreeNode {
    const c = this.code(this.i);
    if (c === STAR) return this.alias(depth);
    if (c === LBRACKET || c === LBRACE) return this.flowCollection(parent, depth);
    const pos = this.pos(this.i);
    if (c === DQUOTE || c === SQUOTE) {
      const value = this.quotedScalar(parent, true);
      if (value === undefined) this.fail();
      this.i = this.quotedEnd;
      return this.scalar(pos, tag === undefined ? value : resolveTag(tag, value), value, true, depth);
    }
    const value = this.plainScalar(parent, true);
    if (value === undefined) this.fail();
    return this.scalar(pos, tag === undefined ? plainValue(value) : resolveTag(tag, value), value, false, depth);
  }
}

function resolveTag(tag: string, value: string): Value {
  const v = taggedValue(tag, value);
  if (v === undefined) throw UNHANDLED;
  return v;
}

/** Explicit entries, then merged ones whose key is not yet there (the first merged one wins). */
function withMerged(entries: MapEntry[], merged: MapEntry[]): MapEntry[] {
  const seen = new Set(entries.map((e) => e.key));
  for (const e of merged) {
    if (!seen.has(e.key)) {
      seen.add(e.key);
      entries.push(e);
    }
  }
  return entries;
}

/**
 * A block scalar's value from its lines (triples of indentation, content start, content end),
 * with the yaml package's rules for indentation, folding and chomping.
 */
function blockScalarValue(t: string, lines: number[], trim: number, folded: boolean, chomp: number): string {
  const n = lines.length / 3;
  const indentOf = (l: number) => lines[3 * l]!;
  const isEmpty = (l: number) => lines[3 * l + 1] === lines[3 * l + 2];
  const content = (l: number) => t.slice(lines[3 * l + 1], lines[3 * l + 2]);
  const extra = (l: number) => " ".repeat(Math.max(0, indentOf(l) - trim));
  let chompStart = n;
  while (chompStart > 0 && isEmpty(chompStart - 1)) chompStart--;
  if (chompStart === 0) return chomp === 1 && n > 0 ? "\n".repeat(Math.max(1, n - 1)) : "";
  let contentStart = 0;
  while (isEmpty(contentStart)) contentStart++;
  // trailing empty lines indented past the content are content
  for (let l = n - 1; l >= chompStart; l--) if (indentOf(l) > trim) chompStart = l + 1;
  let value = "";
  for (let l = 0; l < contentStart; l++) value += extra(l) + "\n";
  let sep = "";
  let prevMoreIndented = false;
  for (let l = contentStart; l < chompStart; l++) {
    const text = content(l);
    if (!folded) {
      value += sep + extra(l) + text;
      sep = "\n";
    } else if (indentOf(l) > trim || text.charCodeAt(0) === TAB) {
      if (sep === " ") sep = "\n";
      else if (!prevMoreIndented && sep === "\n") sep = "\n\n";
      value += sep + extra(l) + text;
      sep = "\n";
      prevMoreIndented = true;
    } else if (text === "") {
      if (sep === "\n") value += "\n";
      else sep = "\n";
    } else {
      value += sep + text;
      sep = " ";
      prevMoreIndented = false;
    }
  }
  if (chomp === 1) {
    for (let l = chompStart; l < n; l++) value += "\n" + extra(l);
    if (!value.endsWith("\n")) value += "\n";
  } else if (chomp === 0) {
    value += "\n";
  }
  return value;
}
