// The run and log roots name pods <namespace>_<name>_<uid>: one parser reads those names back.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Layout, parsePodKey, podKey } from "../../supervisor/base/paths.ts";

test("parsePodKey reads what podKey writes, and nothing else", () => {
  const ref = { namespace: "default", name: "web-1", uid: "0bca4e37-1ea4-46d5-8d4a-18246178aa19" };
  assert.deepEqual(parsePodKey(podKey(ref)), ref);
  for (const other of ["podd.lock", "a_b", "a_b_c_d", "_b_c", "a__c"]) assert.equal(parsePodKey(other), undefined, other);
});

test("the layout lists the pods of the run and log roots, skipping other entries", () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-layout-"));
  try {
    const layout = new Layout({ state: join(dir, "state"), run: join(dir, "run"), log: join(dir, "log") });
    assert.deepEqual(layout.runPods(), []);
    mkdirSync(join(dir, "run", "pods", "default_a_u1"), { recursive: true });
    mkdirSync(join(dir, "run", "pods", "stray"), { recursive: true });
    mkdirSync(join(dir, "log", "pods", "ns_b_u2"), { recursive: true });
    assert.deepEqual(layout.runPods(), [{ namespace: "default", name: "a", uid: "u1" }]);
    assert.deepEqual(layout.logPods(), [{ namespace: "ns", name: "b", uid: "u2" }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
