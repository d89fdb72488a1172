import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, loadManifests } from "../../pod-specs/index.ts";

// Manifests written the way the Kubernetes documentation writes them, one kind of field each.
// Each declares in its first line what podd must do with it:
//   # expect: ok                       loads with no error and no warning
//   # expect: unsupported PATH …       refused, with exactly these paths, each "not supported
//                                      yet by podd" with a hint; no other error, never a false one
const dir = fileURLToPath(new URL("../fixtures/k8s-docs-style/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

type Expectation = { ok: true } | { ok: false; paths: string[] };

function expectation(file: string, text: string): Expectation {
  const m = /^# expect: (ok|unsupported((?: \S+)+))\n/.exec(text);
  assert.ok(m, `${file}: the first line must be "# expect: ok" or "# expect: unsupported PATH …"`);
  return m[1] === "ok" ? { ok: true } : { ok: false, paths: m[2]!.trim().split(" ").sort() };
}

test("the corpus covers the fields the documentation uses", () => {
  assert.ok(files.length >= 40, `${files.length} manifests`);
  const kinds = files.map((f) => expectation(f, readFileSync(dir + f, "utf8")).ok);
  assert.ok(kinds.filter((k) => k).length >= 15, "accepted manifests");
  assert.ok(kinds.filter((k) => !k).length >= 12, "refused manifests");
});

for (const file of files) {
  test(`corpus: ${file}`, () => {
    const text = readFileSync(dir + file, "utf8");
    const want = expectation(file, text);
    const r = loadManifests(text, file);
    const shown = r.errors.map(formatDiagnostic);
    if (want.ok) {
      assert.deepEqual(shown, [], "accepted as written");
      assert.deepEqual(r.warnings.map(formatDiagnostic), []);
      assert.ok(r.pods.length > 0);
      return;
    }
    assert.deepEqual(r.pods, []);
    for (const e of r.errors) assert.match(e.message, /not supported yet by podd; \S/, `a refusal with a hint: ${formatDiagnostic(e)}`);
    assert.deepEqual([...new Set(r.errors.map((e) => e.path))].sort(), want.paths, shown.join("\n"));
  });
}
