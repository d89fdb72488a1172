// Reading -f arguments as kubectl does: files, directories (with -R at any depth), kubectl's
// errors for a path that does not exist and for nothing to read, and every file judged on its
// own so that one mistake does not hide which other files are valid.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readManifests } from "../../supervisor/cli/lib/manifests.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-manifests-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const pod = (name: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: host}]\n`;
function write(path: string, text: string): string {
  const full = join(dir, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, text);
  return full;
}

test("a directory with no manifests is kubectl's 'no objects passed to apply'", () => {
  const empty = join(dir, "empty");
  mkdirSync(join(empty, "sub"), { recursive: true });
  write("empty/README.md", "not a manifest");
  assert.throws(() => readManifests([empty], "strict", { verb: "apply" }), /^PoddError: no objects passed to apply$/);
  assert.throws(() => readManifests([write("blank.yaml", "# nothing\n")], "strict", { verb: "validate" }), /no objects passed to validate/);
});

test("a path that does not exist reads as kubectl's error, not Node's", () => {
  assert.throws(() => readManifests(["pod.yaml"], "strict", { verb: "apply" }), (err: Error) => err.message === 'the path "pod.yaml" does not exist');
  assert.throws(() => readManifests([join(write("afile.yaml", pod("x")), "below")], "strict", { verb: "apply" }), /does not exist/);
});

test("-R reads subdirectories; without it only the directory's own files", () => {
  write("tree/a.yaml", pod("a"));
  write("tree/sub/b.yml", pod("b"));
  write("tree/sub/deeper/c.json", JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "c" }, spec: { containers: [{ name: "c", image: "host" }] } }));
  const flat = readManifests([join(dir, "tree")], "strict", { verb: "apply" });
  assert.deepEqual(flat.pods.map((p) => p.metadata.name), ["a"]);
  const deep = readManifests([join(dir, "tree")], "strict", { verb: "apply", recursive: true });
  assert.deepEqual(deep.pods.map((p) => p.metadata.name), ["a", "b", "c"]);
  assert.deepEqual(deep.errors, []);
});

test("one invalid file in a directory: its errors, and the valid files' pods still named", () => {
  write("mixed/1-good.yaml", pod("good"));
  write("mixed/2-bad.yaml", pod("bad").replace("image: host", "image: host, bogus: 1"));
  write("mixed/3-also-good.yaml", pod("also-good"));
  const set = readManifests([join(dir, "mixed")], "strict", { verb: "validate" });
  assert.deepEqual(set.pods.map((p) => p.metadata.name), ["good", "also-good"]);
  assert.equal(set.errors.length, 1);
  assert.match(set.errors[0]!, /2-bad\.yaml:5:\d+: spec\.containers\[0\]\.bogus: unknown field "bogus"/);
});

test("the same pod in two files is an error", () => {
  const a = write("dup/a.yaml", pod("same"));
  const b = write("dup/b.yaml", pod("same"));
  assert.deepEqual(readManifests([a, b], "strict", { verb: "apply" }).errors, ['pod "default/same" is defined more than once']);
});
