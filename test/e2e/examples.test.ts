// Every manifest in examples/ runs as it is, with only the test's root flags added, and ends
// as its comments say: the phase, the events and the output lines a user will see. A new
// example without an entry here fails, so that its promise gets checked too.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, repo } from "./harness.ts";
import { assertNothingLeft, inEnv, linesOf, runPods, said } from "./pod-helpers.ts";

const skip = e2eSkip();

interface Outcome {
  pod: string;
  phase: "Succeeded" | "Failed";
  /** podd run's exit code: 0 when every pod succeeded */
  code: number;
  /** each container's output lines, in order (or as a set where the order is not promised) */
  lines: Record<string, (string | RegExp)[]>;
  unordered?: boolean;
  /** events on stderr, as "container/NAME REASON…" fragments */
  events: (string | RegExp)[];
  /** a pod that runs until it is deleted is stopped by podd run --timeout after this long */
  stopAfter?: string;
  /** each line of such a container matches this pattern; how many there are depends on the time */
  repeated?: Record<string, RegExp>;
}

/**
 * Examples that need a daemon (a claim is kept storage, which `podd run` does not keep): the
 * README's tour applies them to one and checks what they do; here, `podd run` must refuse them
 * by name, changing nothing.
 */
const daemonOnly: Record<string, RegExp> = {
  "notes.yaml": /^error: persistentvolumeclaim\/notes: podd run keeps nothing after it ends, and a claim is kept storage; apply the file to a daemon with podd apply -f\n$/,
};

const outcomes: Record<string, Outcome> = {
  "hello.yaml": {
    pod: "hello",
    phase: "Succeeded",
    code: 0,
    lines: { hello: ["hello from hello, I am PID 2"] },
    events: ["container/hello Completed"],
  },
  "multi-process.yaml": {
    pod: "multi-process",
    phase: "Succeeded",
    code: 0,
    lines: { app: ["helper 1 finished", "helper 2 finished", "helper 3 finished", "all 3 helpers were reaped by podd-init"] },
    unordered: true,
    events: ["container/app Completed"],
  },
  "init-emptydir.yaml": {
    pod: "init-emptydir",
    phase: "Succeeded",
    code: 0,
    lines: { prepare: [], app: [/^config written by the init container at \d\d:\d\d:\d\d$/] },
    events: ["container/prepare Completed", "container/app Completed"],
  },
  "oom.yaml": {
    pod: "oom",
    phase: "Failed",
    code: 1,
    lines: { hog: ["filling memory past a 32 MiB limit"] },
    events: ["container/hog OOMKilled: Container hog was OOM-killed (exit code 137)"],
  },
  "sidecar.yaml": {
    pod: "sidecar",
    phase: "Succeeded",
    code: 0,
    lines: { helper: ["sidecar ready"], app: ["app: working", "app: done"] },
    events: ["container/helper Started", "container/app Completed", "container/helper Killing"],
  },
  "web.yaml": {
    pod: "web",
    stopAfter: "5s",
    // Stopped by --timeout (exit 124), both containers end on SIGTERM with exit 0.
    phase: "Succeeded",
    code: 124,
    lines: { app: ["app: started on web", "app: stopping"] },
    repeated: { shipper: /^tick \d+$/ },
    events: ["container/shipper Started", "container/app Started", "container/app Completed", "container/shipper Completed"],
  },
};

const examples = readdirSync(join(repo, "examples")).filter((f) => f.endsWith(".yaml")).sort();

describe("examples", { skip }, () => {
  test("every example has a documented outcome here", () => {
    assert.deepEqual(examples, [...Object.keys(outcomes), ...Object.keys(daemonOnly)].sort());
  });

  for (const [file, refusal] of Object.entries(daemonOnly)) {
    test(`examples/${file} needs a daemon: podd run refuses it by name`, () =>
      inEnv(async (env) => {
        const r = await runPods(env, [join(repo, "examples", file)]);
        assert.equal(r.code, 2, said(r));
        assert.match(r.stderr, refusal);
        assertNothingLeft(env, r.namespaces);
      }));
  }

  for (const file of examples.filter((f) => !daemonOnly[f])) {
    test(`examples/${file}`, () =>
      inEnv(async (env) => {
        const want = outcomes[file];
        assert.ok(want, `no outcome for examples/${file}`);
        const r = await runPods(env, [join(repo, "examples", file)], want.stopAfter ? ["--timeout", want.stopAfter] : []);
        assert.equal(r.code, want.code, said(r));
        assert.match(r.stderr, new RegExp(`pod/${want.pod} ${want.phase}\\n`), said(r));
        for (const e of want.events) {
          const re = typeof e === "string" ? new RegExp(`pod/${want.pod} ${e.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`) : e;
          assert.match(r.stderr, re, said(r));
        }
        for (const [container, pattern] of Object.entries(want.repeated ?? {})) {
          const got = linesOf(r, want.pod, container);
          assert.ok(got.length >= 2, `${container} printed its lines: ${got.join(" | ")}`);
          for (const l of got) assert.match(l, pattern);
        }
        for (const [container, lines] of Object.entries(want.lines)) {
          const got = linesOf(r, want.pod, container);
          const ordered: string[] = want.unordered ? [...got].sort() : got;
          const expected: (string | RegExp)[] = want.unordered ? [...lines].sort() : lines;
          assert.equal(ordered.length, expected.length, `${container}: ${got.join(" | ")}`);
          expected.forEach((l, i) => (typeof l === "string" ? assert.equal(ordered[i], l) : assert.match(ordered[i]!, l)));
        }
        assertNothingLeft(env, r.namespaces);
      }));
  }
});
