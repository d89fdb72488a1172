// Random damage to valid manifests must always come back as a validation result: no exception,
// every diagnostic located (line, col ≥ 1, inside the text) and naming a field path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadManifests } from "../../pod-specs/index.ts";
import { seededRandom as prng } from "../seeded-random.ts";

const dir = fileURLToPath(new URL("../fixtures/manifests/", import.meta.url));
const seeds = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => readFileSync(dir + f, "utf8"));


const GARBAGE = [":", "-", "[", "]", "{", "}", ",", "&a", "*a", "!!str", "!!int", "'", '"', "#", "|", ">", "\t", "\n", " ", "---", "<<: *a", "?", "%", "@", "\u0000", "é", "💥", "null", "~", "-1", "1e999", "0x1F", "yes"];
const SCALARS = ["0", "-1", "1.5", "true", "no", "null", '""', "[]", "{}", "abc", "65536", "1.5.5", "Mi", "500m", "/abs", "../x", "UPPER", "a".repeat(70), "'$(X)'"];

function mutate(text: string, rnd: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let lines = text.split("\n");
  const line = () => Math.floor(rnd() * lines.length);
  const steps = 1 + Math.floor(rnd() * 3);
  for (let s = 0; s < steps; s++) {
    const i = line();
    const l = lines[i] ?? "";
    switch (Math.floor(rnd() * 9)) {
      case 0: // delete a line (a key, or a whole entry's first line)
        lines.splice(i, 1);
        break;
      case 1: // change a value's type or content
        lines[i] = l.includes(":") ? l.replace(/:\s.*$/, `: ${pick(SCALARS)}`) : `${l} ${pick(SCALARS)}`;
        break;
      case 2: { // insert garbage characters
        const at = Math.floor(rnd() * (l.length + 1));
        lines[i] = l.slice(0, at) + pick(GARBAGE) + l.slice(at);
        break;
      }
      case 3: // duplicate a line (duplicate key or list item)
        lines.splice(i, 0, l);
        break;
      case 4: { // swap two scalars between lines
        const j = line();
        const a = /:\s(.+)$/.exec(l);
        const b = /:\s(.+)$/.exec(lines[j] ?? "");
        if (a && b) {
          lines[i] = l.replace(/:\s.+$/, `: ${b[1]}`);
          lines[j] = lines[j]!.replace(/:\s.+$/, `: ${a[1]}`);
        }
        break;
      }
      case 5: // truncate the text
        return lines.join("\n").slice(0, Math.floor(rnd() * text.length));
      case 6: // change indentation
        lines[i] = rnd() < 0.5 ? ` ${l}` : l.replace(/^ /, "");
        break;
      case 7: // rename a key
        lines[i] = l.replace(/^(\s*-?\s*)([A-Za-z]+)/, (_m, pre: string, key: string) => pre + (rnd() < 0.5 ? key.toUpperCase() : `${key}x`));
        break;
      default: // move a line somewhere else
        lines = [...lines.slice(0, i), ...lines.slice(i + 1)];
        lines.splice(line(), 0, l);
    }
  }
  return lines.join("\n");
}

test("5000 random mutations of valid manifests only ever give validation results", () => {
  const rnd = prng(0x9e3779b9);
  const modes = ["strict", "warn", "ignore"] as const;
  let rejected = 0;
  for (let n = 0; n < 5000; n++) {
    const seed = seeds[n % seeds.length]!;
    const text = mutate(seed, rnd);
    const lineCount = text.split("\n").length;
    let r: ReturnType<typeof loadManifests>;
    try {
      r = loadManifests(text, "fuzz.yaml", { validate: modes[n % 3] });
    } catch (e) {
      assert.fail(`mutation ${n} threw ${(e as Error).stack}\n--- text ---\n${text}`);
    }
    for (const d of [...r.errors, ...r.warnings]) {
      const where = `mutation ${n}: ${JSON.stringify(d)}\n--- text ---\n${text}`;
      assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount, where);
      assert.ok(Number.isInteger(d.col) && d.col >= 1, where);
      assert.ok(typeof d.path === "string" && d.path.length > 0, where);
      assert.ok(typeof d.message === "string" && d.message.length > 0, where);
      assert.equal(d.file, "fuzz.yaml");
    }
    if (r.errors.length > 0) {
      rejected++;
      assert.deepEqual(r.pods, [], `mutation ${n}: a file with errors yields no pods`);
    }
    // Whatever is accepted is a plain JSON object.
    for (const p of r.pods) assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  }
  // The mutations must actually break things most of the time, or this test proves nothing.
  assert.ok(rejected > 2500, `only ${rejected} of 5000 mutations were rejected`);
});

test("hostile YAML: alias bombs and deep nesting are refused, not expanded", () => {
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
  const started = Date.now();
  const r = loadManifests(bomb.join("\n") + "\nkind: Pod\n", "bomb.yaml");
  assert.ok(r.errors.length > 0);
  assert.match(r.errors[0]!.message, /^yaml: document has more than \d+ nodes after expanding aliases$/);
  assert.ok(Date.now() - started < 5000);

  const deep = "[".repeat(500) + "]".repeat(500);
  const d = loadManifests(`kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec: ${deep}\n`, "deep.yaml");
  assert.ok(d.errors.length > 0);
});
