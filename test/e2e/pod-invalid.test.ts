// Bad input changes nothing: a set of manifests with one invalid pod is rejected whole, with
// file:line:col: path: message lines, before any directory, mount, cgroup or process exists —
// not even for the valid pod beside it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, repo, writeManifest, type Env } from "./harness.ts";
import { assertNothingLeft, inEnv, runPods, said } from "./pod-helpers.ts";

const skip = e2eSkip();

/** Every cgroup hierarchy's directory for the env's parent that exists. */
function cgroupParents(env: Env): string[] {
  const roots = existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c));
  return roots.map((r) => join(r, env.cgroupParent)).filter((d) => existsSync(d));
}

describe("an invalid manifest", { skip }, () => {
  test("is rejected whole with file:line:col: path: message, and nothing is started or created", () =>
    inEnv(async (env) => {
      const mixed = writeManifest(env, "mixed.yaml", `apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  containers:
    - {name: c, image: host, command: [echo, ran]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  restartPolicy: Sometimes
  containers:
    - {name: c, image: host, command: ["true"]}
`);
      const many = join(repo, "test/fixtures/manifests/invalid/many-errors.yaml");
      const r = await runPods(env, [mixed, many]);
      assert.equal(r.code, 1, said(r));
      assert.equal(r.stdout, "", "no container ran");
      const lines = r.stderr.trimEnd().split("\n");
      for (const l of lines) assert.match(l, /^\/\S+\.yaml:\d+:\d+: [\w.[\]]+: \S.*$/, l);
      assert.ok(lines.includes(`${mixed}:12:18: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`), r.stderr);
      assert.ok(lines.includes(`${many}:16:26: spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`), r.stderr);
      assert.equal(lines.filter((l) => l.startsWith(many)).length, 7, "every error of a file, not only the first");
      // nothing created: the roots are as makeEnv left them, no cgroup parent, no pins
      for (const root of [env.state, env.run, env.log]) assert.deepEqual(readdirSync(root), [], root);
      assert.deepEqual(cgroupParents(env), []);
      assert.deepEqual(r.namespaces, []);
      assertNothingLeft(env, r.namespaces);
    }));
});
