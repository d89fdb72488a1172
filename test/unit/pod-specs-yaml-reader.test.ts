// podd's own YAML reader (pod-specs/yaml-reader.ts) against the yaml package: for every fixture
// and for generated and damaged documents, loading with the own reader in front must give
// exactly what the yaml package alone gives (trees, positions, errors, warnings), and the own
// reader must really be the one that reads the fixtures and the benchmark's inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadYamlWith, type LoadedText } from "../../pod-specs/load.ts";
import { seededRandom } from "../seeded-random.ts";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(dir + f).isDirectory() ? yamlFiles(`${dir}${f}/`) : /\.(ya?ml|json)$/.test(f) ? [dir + f] : []));
}

/** Both paths on one text: equal results, and whether the own reader left any document to the package. */
function compare(text: string, what: string): { fallbacks: number; loaded: LoadedText } {
  const own = loadYamlWith(text, "f.yaml", true);
  const pkg = loadYamlWith(text, "f.yaml", false);
  assert.deepEqual(own.loaded, pkg.loaded, `${what}: ${JSON.stringify(text)}`);
  return { fallbacks: own.fallbacks, loaded: pkg.loaded };
}

const yamlErrors = (l: LoadedText) => l.errors.some((e) => e.message.startsWith("yaml:")) || l.warnings.length > 0;

test("every fixture reads the same through both readers, and the own reader reads every valid one", () => {
  const files = yamlFiles(fixtures);
  assert.ok(files.length >= 70, `${files.length} fixtures`);
  let own = 0;
  for (const file of files) {
    const r = compare(readFileSync(file, "utf8"), file);
    if (yamlErrors(r.loaded)) continue;
    assert.equal(r.fallbacks, 0, `${file} is valid YAML the own reader left to the yaml package`);
    own++;
  }
  assert.ok(own >= 70, `${own} fixtures read by the own reader`);
});

// The benchmark's inputs (test/bench/input.bench.ts), smaller.
function annotated(entries: number): string {
  let s = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n";
  for (let i = 0; i < entries; i++) s += `    k${i}: "${"v".repeat(80)}"\n`;
  return s + "spec:\n  containers: [{name: c, image: host}]\n";
}
function aliasBomb(levels: number): string {
  const lines = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: x", "  annotations:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < levels; i++) lines.push(`    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
  return lines.join("\n") + "\n";
}

test("the benchmark's inputs go through the own reader: a large block map, an alias bomb, deep nesting", () => {
  assert.equal(compare(annotated(2000), "annotations").fallbacks, 0);
  const bomb = compare(aliasBomb(12), "alias bomb");
  assert.equal(bomb.fallbacks, 0);
  assert.match(bomb.loaded.errors[0]!.message, /^yaml: document has more than \d+ nodes after expanding aliases$/);
  // Aliases that stay under the limit are expanded, with their anchors' positions.
  const small = compare(aliasBomb(3), "small bomb");
  assert.equal(small.fallbacks, 0);
  assert.deepEqual(small.loaded.errors, []);
  // Block nesting to the limit is read; past it, the yaml package says what is wrong.
  const nested = (n: number) => `a:\n${Array.from({ length: n }, (_, i) => `${" ".repeat(2 + 2 * i)}- x${i}:\n`).join("")}`;
  assert.equal(compare(nested(60), "block nesting").fallbacks, 0);
  assert.equal(compare(`a: ${"[".repeat(150)}1${"]".repeat(150)}\n`, "flow nesting").fallbacks, 0);
  const deep = compare(nested(300), "deep block nesting");
  assert.match(deep.loaded.errors[0]!.message, /nested more than 200 levels deep/);
});

/** Reads one document with both paths, asserts the own reader took it, and returns its plain value. */
function read(text: string): unknown {
  const r = compare(text, "case");
  assert.equal(r.fallbacks, 0, `left to the yaml package:\n${text}`);
  assert.deepEqual(r.loaded.errors, []);
  const plain = (n: any): unknown => (n === null ? null : n.kind === "scalar" ? n.value : n.kind === "seq" ? n.items.map(plain) : Object.fromEntries(n.entries.map((e: any) => [e.key, plain(e.value)])));
  return plain(r.loaded.documents[0]!.root);
}

test("block scalars: literal and folded, chomping, indentation indicators, more-indented lines", () => {
  assert.deepEqual(read("a: |\n  x\n  y\n\nb: 1\n"), { a: "x\ny\n", b: 1 });
  assert.deepEqual(read("a: |-\n  x\n\n\nb: 1\n"), { a: "x", b: 1 });
  assert.deepEqual(read("a: |+\n  x\n\n\nb: 1\n"), { a: "x\n\n\n", b: 1 });
  assert.deepEqual(read("a: >\n  one\n  two\n\n  three\n    indented\n  four\n"), { a: "one two\nthree\n  indented\nfour\n" });
  assert.deepEqual(read("a: >-\n  x\n  y\n"), { a: "x y" });
  assert.deepEqual(read("a: |2\n    x\n   y\n"), { a: "  x\n y\n" });
  assert.deepEqual(read("- |1\n  x\n- >+\n  y\n\n"), [" x\n", "y\n\n"]);
  assert.deepEqual(read("a: | # comment\n  # not one\n\n  x\n"), { a: "# not one\n\nx\n" });
  assert.deepEqual(read("a: |\nb: >-\n\nc: 1\n"), { a: "", b: "", c: 1 });
});

test("folding of plain and quoted scalars, and double-quoted escapes", () => {
  assert.deepEqual(read("a: one\n  two\n\n  three\nb: x"), { a: "one two\nthree", b: "x" });
  assert.deepEqual(read("a: 'it''s\n   folded  \n\n   here'\n"), { a: "it's folded\nhere" });
  assert.deepEqual(read('a: "tab\\there\\nnew \\"q\\" \\\\ \\/ \\x41\\u00e9\\U0001F600\\_\\ x"\n'), { a: 'tab\there\nnew "q" \\ / Aé😀\u00a0 x' });
  assert.deepEqual(read('a: "one \\\n    two\n\n  three"\n'), { a: "one two\nthree" });
  // go-yaml's `\'`, which the Kubernetes documentation uses
  assert.deepEqual(read(`a: "it\\'s"\n`), { a: "it's" });
});

test("merge keys: explicit keys win, earlier sources win", () => {
  const text = "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 0\nn: {<<: *o, w: 5}\n";
  assert.deepEqual(read(text), { base: { x: 1, y: 2 }, other: { y: 3, z: 4 }, m: { x: 0, y: 2, z: 4 }, n: { w: 5, y: 3, z: 4 } });
});

test("aliases name the nearest anchor before them", () => {
  assert.deepEqual(read("a: &x 1\nb: *x\nc: &x [2]\nd: *x\ne: *missing\n"), { a: 1, b: 1, c: [2], d: [2], e: null });
  assert.deepEqual(read("- &m\n  k: v\n- *m\n"), [{ k: "v" }, { k: "v" }]);
});

test("YAML 1.1 scalars as kubectl reads them", () => {
  const words = ["yes", "No", "ON", "off", "y", "n", "True", "~", "null", "Null", "0x1F", "0755", "08", "1_000", "-0", "+12", "0b101", "0o17", "1.50", ".inf", "-.Inf", ".NaN", "1e3", "12:30:00", "2024-01-01", "<<", "."];
  const text = words.map((w, i) => `k${i}: ${w}\n`).join("");
  const got = read(text) as Record<string, unknown>;
  assert.deepEqual(
    words.map((_, i) => got[`k${i}`]),
    [true, false, true, false, true, false, true, null, null, null, 31, 493, 8, 1000, -0, 12, 5, "0o17", 1.5, Infinity, -Infinity, NaN, 1000, "12:30:00", "2024-01-01", "<<", NaN],
  );
});

test("tags, CRLF line ends, a byte order mark, directives and document markers", () => {
  assert.deepEqual(read('a: !!str 1\nb: !!int "0x10"\nc: !!float "1.5"\nd: !!bool "yes"\ne: !!null ""\n'), { a: "1", b: 16, c: 1.5, d: true, e: null });
  assert.deepEqual(read("a: 1\r\nb:\r\n  - x\r\n  - 'y\r\n    z'\r\nc: |\r\n  l\r\n"), { a: 1, b: ["x", "y z"], c: "l\n" });
  assert.deepEqual(read("\ufeffa: 1\nb: 2\n"), { a: 1, b: 2 });
  const r = compare("%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\na: 1\n...\n# end\n---\n---\nb: [x]\n", "stream");
  assert.equal(r.fallbacks, 0);
  assert.equal(r.loaded.documents.length, 3);
  assert.deepEqual(r.loaded.documents[1]!.root, { kind: "scalar", pos: { line: 7, col: 4 }, value: null, source: "", quoted: false });
});

test("explicit keys, flow pairs, sequences under a key, empty values", () => {
  assert.deepEqual(read("? a\n: 1\n? b\nc:\nd: [x: 1, z]\ne:\n- 1\n- - 2\n  - 3\n- f: 4\n  g:\n"), { a: 1, b: null, c: null, d: [{ x: 1 }, "z"], e: [1, [2, 3], { f: 4, g: null }] });
  assert.deepEqual(read('{"a": 1, b: , c, "d":2,\n  e: [1,\n    2]}\n'), { a: 1, b: null, c: null, d: 2, e: [1, 2] });
});

// ---- generated documents ------------------------------------------------------------------

const WORDS = ["x", "name", "nginx:1.25", "a b", "yes", "No", "on", "OFF", "y", "n", "~", "null", "NULL", "", "0", "-1", "+7", "0x1F", "0755", "0o17", "0b11", "1_000", "1.5", "1.50", "-.inf", ".NaN", "1e3", "6.02e+23", "12:30:00", "2024-01-01", "500m", "128Mi", "/usr/bin/env", "http://x.y/z?q=1", "a:b", "a#b", "-dash", "?q", ":colon", "it's", 'say "hi"', "back\\slash", "tab\there", "é ✓ 💥", "a, b", "[x]", "{y}", "&amp", "*star", "!bang", "%pct", "@at", "`tick", "#hash", "key: value", "trail ", " lead", "multi\nline", "two\n\nbreaks", "ends\n", "\\x41"];

function generator(seed: number) {
  const rnd = seededRandom(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number) => rnd() < p;
  const anchors: string[] = [];
  let nextAnchor = 0;

  const plainSafe = (s: string) => s !== "" && !/^[-?:,[\]{}#&*!|>'"%@`\s]|[\n\t]|: |:$| #|\s$/.test(s);
  const singleQuoted = (s: string, ind: string) => (s.includes("\n") || s.includes("\t") ? doubleQuoted(s, ind) : `'${s.replace(/'/g, "''")}'`);
  function doubleQuoted(s: string, ind: string): string {
    let out = "";
    for (const ch of s) {
      if (ch === "\n") out += pick(["\\n", "\\n"]);
      else if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (ch === "\t") out += pick(["\\t", "\t"]);
      else if (ch === "'" && chance(0.5)) out += "\\'";
      else if (ch === "é" && chance(0.5)) out += "\\u00e9";
      else if (ch === " " && chance(0.15)) out += `\\\n${ind}  `; // an escaped line break with an escaped-free space before it
      else out += ch;
    }
    return `"${out}"`;
  }
  /** A scalar value written after `key: ` or `- `, at block indentation `ind`. */
  function blockScalarText(s: string, ind: string): string {
    const r = rnd();
    if (s.includes("\n") && r < 0.5 && !/^\s|\s\n|\t/.test(s)) {
      const chomp = s.endsWith("\n") ? pick(["", "+"]) : "-";
      const body = (s.endsWith("\n") ? s.slice(0, -1) : s).split("\n");
      const indicator = chance(0.3) ? "2" : "";
      const inner = ind + "  ";
      return `${pick(["|", "|"])}${chance(0.5) ? chomp + indicator : indicator + chomp}${chance(0.2) ? " # block" : ""}\n${body.map((l) => (l === "" ? "" : inner + l)).join("\n")}`;
    }
    if (!s.includes("\n") && chance(0.1) && plainSafe(s) && !/^\s|\s$/.test(s)) return `>-\n${ind}  ${s}`;
    if (plainSafe(s) && r < 0.75) {
      const words = s.split(" ");
      if (words.length > 1 && chance(0.4)) return words.join(`\n${ind}  ${chance(0.2) ? `\n${ind}  ` : ""}`).replace(/\n\s*\n(\s*)/g, " \n$1") ; // folds back to the same text
      return s;
    }
    return chance(0.5) ? singleQuoted(s, ind) : doubleQuoted(s, ind);
  }
  function flowScalarText(s: string): string {
    if (plainSafe(s) && !/[,[\]{}]/.test(s) && chance(0.7)) return s;
    return chance(0.5) && !s.includes("\n") && !s.includes("\t") ? `'${s.replace(/'/g, "''")}'` : doubleQuoted(s, "");
  }
  const key = () => pick(["name", "image", "a", "b", "k1", "with space", "dotted.key/x", "<<", "yes", "1", "on", "-k", "x:y"]) + (chance(0.3) ? String(Math.floor(rnd() * 5)) : "");
  const keyText = (k: string) => (k === "<<" ? "'<<'" : plainSafe(k) && chance(0.8) ? k : chance(0.5) ? `"${k}"` : `'${k}'`);
  const comment = () => (chance(0.15) ? ` # ${pick(["c", "x: y", "- z", "'q"])}` : "");
  const tagged = (s: string) => (chance(0.06) ? pick([`!!str ${flowScalarText(s)}`, `!!int "${Math.floor(rnd() * 100)}"`, `!!bool "yes"`, `!!float "2.5"`]) : undefined);

  function flow(depth: number): string {
    if (depth > 2 || chance(0.4)) {
      if (anchors.length > 0 && chance(0.1)) return `*${pick(anchors)}`;
      return tagged("t") ?? flowScalarText(pick(WORDS));
    }
    const nl = chance(0.2) ? "\n     " : " ";
    if (chance(0.5)) return `[${Array.from({ length: Math.floor(rnd() * 4) }, () => (chance(0.15) ? `${keyText(key())}: ${flow(depth + 1)}` : flow(depth + 1))).join(`,${nl}`)}${chance(0.2) ? "," : ""}]`;
    return `{${Array.from({ length: Math.floor(rnd() * 4) }, () => (chance(0.1) ? keyText(key()) : `${keyText(key())}:${chance(0.1) ? "" : ` ${flow(depth + 1)}`}`)).join(`,${nl}`)}}`;
  }

  /** A node after `key:` or `- ` at indentation ind (the key's or the dash's column). */
  function value(ind: string, depth: number, inSeq: boolean): string {
    const r = rnd();
    const anchor = chance(0.08) ? `&a${nextAnchor++} ` : "";
    const done = (text: string) => {
      if (anchor) anchors.push(anchor.slice(1, -1));
      return text;
    };
    if (depth > 4 || r < 0.45) {
      if (anchors.length > 0 && chance(0.08) && !anchor) return ` *${pick(anchors)}${comment()}`;
      const s = pick(WORDS);
      if (chance(0.05)) return done(`${anchor ? ` ${anchor.trim()}` : ""}${comment()}`.replace(/^ &\S+$/, "")); // empty
      return done(` ${anchor}${tagged(s) ?? blockScalarText(s, ind)}${comment()}`);
    }
    if (r < 0.55) return done(` ${anchor}${flow(depth)}${comment()}`);
    const inner = ind + " ".repeat(1 + Math.floor(rnd() * 3));
    if (r < 0.78) {
      const at = !inSeq && chance(0.3) ? ind : inner; // a sequence not indented under its key
      const items = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `${at}-${value(at, depth + 1, true)}`);
      return done(`${anchor ? ` ${anchor.trim()}` : ""}${comment()}\n${items.join("\n")}`);
    }
    return done(`${anchor ? ` ${anchor.trim()}` : ""}${comment()}\n${map(inner, depth + 1)}`);
  }

  function map(ind: string, depth: number): string {
    const lines: string[] = [];
    const n = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) {
      if (chance(0.1)) lines.push(`${chance(0.5) ? ind : ""}# comment ${i}`);
      if (chance(0.05)) lines.push("");
      const k = key();
      if (k === "<<" && anchors.length > 0) {
        lines.push(`${ind}<<: ${chance(0.5) ? `*${pick(anchors)}` : `[${anchors.slice(-2).map((a) => `*${a}`).join(", ")}]`}`);
        continue;
      }
      if (chance(0.05)) {
        lines.push(`${ind}? ${keyText(k)}${chance(0.8) ? `\n${ind}:${value(ind, depth, false)}` : ""}`);
        continue;
      }
      lines.push(`${ind}${keyText(k)}:${value(ind, depth, false)}`);
    }
    return lines.join("\n");
  }

  function compactSeq(ind: string, depth: number): string {
    // `- key: v` items and `- - x` items
    return Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
      if (chance(0.3)) return `${ind}- - ${flowScalarText(pick(WORDS))}\n${ind}  - ${flowScalarText(pick(WORDS))}`;
      const m = map(ind + "  ", depth + 1);
      return `${ind}- ${m.trimStart()}`;
    }).join("\n");
  }

  function document(): string {
    anchors.length = 0;
    const root = chance(0.1) ? flow(0) : "";
    const body = chance(0.15) ? compactSeq("", 0) : /^[[{]/.test(root) ? root : map("", 0);
    return body + "\n";
  }

  function stream(): string {
    let text = "";
    const docs = 1 + Math.floor(rnd() * 3);
    if (chance(0.1)) text += "%YAML 1.1\n";
    for (let d = 0; d < docs; d++) {
      if (d > 0 || text !== "" || chance(0.3)) text += `---${chance(0.2) ? " # doc" : ""}\n`;
      text += chance(0.05) ? "" : document();
      if (chance(0.1)) text += "...\n";
    }
    if (chance(0.1)) text = text.replace(/\n/g, "\r\n");
    // (the yaml package misreads a block sequence or explicit key right after a byte order mark)
    if (chance(0.05) && /^[\w'"]/.test(text)) text = "\ufeff" + text;
    return text;
  }
  return { stream, rnd, pick };
}

// Damage that keeps most of a document: the differential must hold whatever comes out.
function damage(text: string, rnd: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bits = [":", "-", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "'", '"', "#", " #", "|", ">", "\t", "\n", " ", "  ", "---\n", "...\n", "<<: *a\n", "? ", "%", "\\", "\\'", "\r", "\ufeff", "é", "💥", "null", "~", "0x1F", "yes"];
  let out = text;
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const at = Math.floor(rnd() * (out.length + 1));
    const r = rnd();
    if (r < 0.5) out = out.slice(0, at) + pick(bits) + out.slice(at);
    else if (r < 0.8) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 3));
    else {
      // re-indent one line
      const start = out.lastIndexOf("\n", at - 1) + 1;
      out = rnd() < 0.5 ? out.slice(0, start) + " " + out.slice(start) : out.slice(0, start) + out.slice(start).replace(/^ /, "");
    }
  }
  return out;
}

test("generated documents read the same through both readers; the own reader reads the valid ones", () => {
  const g = generator(0x5eed);
  let valid = 0;
  let ownRead = 0;
  const left: string[] = [];
  for (let n = 0; n < 600; n++) {
    const text = g.stream();
    const r = compare(text, `generated #${n}`);
    if (yamlErrors(r.loaded)) continue;
    valid++;
    if (r.fallbacks === 0) ownRead++;
    else left.push(text);
  }
  assert.ok(valid >= 400, `${valid} valid documents`);
  assert.equal(ownRead, valid, `valid documents left to the yaml package, e.g.:\n${left.slice(0, 3).join("\n=====\n")}`);
});

test("damaged documents read the same through both readers", () => {
  const g = generator(0xda7a);
  const rnd = seededRandom(0xbad);
  const seeds = yamlFiles(fixtures).map((f) => readFileSync(f, "utf8"));
  for (let n = 0; n < 1500; n++) {
    const base = n % 2 === 0 ? g.stream() : seeds[n % seeds.length]!;
    compare(damage(base, rnd), `damaged #${n}`);
  }
});
