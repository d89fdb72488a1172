// podd describe pod and podd logs against a real daemon: describe's sections for a container
// that restarted once (State, Last State, Exit Code, Restart Count, Limits, Requests, Mounts,
// Conditions, Volumes, QoS Class, Events); logs with real content, -c, --tail, --timestamps,
// --since, -p after a restart, -f following until the container ends, --all-containers with
// --prefix, and kubectl's error for a pod of several containers.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, waitFor } from "./harness.ts";
import { containerStatus, getPod, waitRunning } from "./daemon-helpers.ts";
import { withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

/** Exits 3 on its first run ("run 1"), runs on after the restart ("run 2"): emptyDir keeps the mark. */
const RESTART_ONCE = "if [ -e /data/ran ]; then echo run 2; exec sleep 1000; else touch /data/ran; echo run 1; exit 3; fi";

function restartOnce(name: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "web" } },
    spec: {
      terminationGracePeriodSeconds: 2,
      volumes: [{ name: "scratch", emptyDir: {} }],
      containers: [
        {
          name: "main",
          image: "busybox:local",
          command: ["sh", "-c", RESTART_ONCE],
          env: [{ name: "GREETING", value: "hello" }],
          resources: { limits: { cpu: "500m", memory: "64Mi" }, requests: { cpu: "100m", memory: "32Mi" } },
          volumeMounts: [{ name: "scratch", mountPath: "/data" }],
        },
      ],
    },
  });
}

/** Waits until the container runs again after one restart. */
async function restartedOnce(c: { d: Parameters<typeof getPod>[0] }, pod: string, container: string): Promise<void> {
  await waitFor(`${pod}/${container} running after a restart`, async () => {
    const s = containerStatus(await getPod(c.d, pod), container);
    return s?.restartCount === 1 && s.state.running !== undefined;
  });
}

describe("podd describe and logs", { skip, timeout: 120_000 }, () => {
  test("describe pod: every section of a container that restarted once", () =>
    withCli(
      async (c) => {
        assert.equal((await c.apply("d.yaml", restartOnce("d"))).code, 0);
        await restartedOnce(c, "d", "main");
        const r = await c.run("describe", ["pod", "d"]);
        assert.equal(r.code, 0, r.stderr);
        const out = r.stdout;
        const line = (re: RegExp) => assert.match(out, re, out);
        line(/^Name: +d$/m);
        line(/^Namespace: +default$/m);
        line(/^Labels: +app=web$/m);
        line(/^Status: +Running$/m);
        line(/^Containers:\n {2}main:\n/m);
        line(/^ {4}Container ID: +podd:\/\/[0-9a-f]{64}$/m);
        line(/^ {4}Image: +busybox:local$/m);
        line(/^ {4}State: +Running\n {6}Started: +\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/m);
        line(/^ {4}Last State: +Terminated\n {6}Reason: +Error\n {6}Exit Code: +3\n {6}Started: .*\n {6}Finished: .*$/m);
        line(/^ {4}Ready: +True$/m);
        line(/^ {4}Restart Count: +1$/m);
        line(/^ {4}Limits:\n {6}cpu: +500m\n {6}memory: +64Mi\n {4}Requests:\n {6}cpu: +100m\n {6}memory: +32Mi$/m);
        line(/^ {4}Environment:\n {6}GREETING: +hello$/m);
        line(/^ {4}Mounts:\n {6}\/data from scratch \(rw\)$/m);
        line(/^Conditions:\n {2}Type +Status\n/m);
        line(/^ {2}Ready +True $/m);
        line(/^ {2}ContainersReady +True $/m);
        line(/^ {2}Initialized +True $/m);
        line(/^Volumes:\n {2}scratch:\n {4}Type: +EmptyDir \(a temporary directory that shares a pod's lifetime\)$/m);
        line(/^QoS Class: +Burstable$/m);
        line(/^Events:\n {2}Type +Reason +Age +From +Message\n {2}-{4} +-{6} +-{4} +-{4} +-{7}\n/m);
        line(/^ {2}Normal +Created +.* +podd +Created container main$/m);
        line(/^ {2}Normal +Started +.* +podd +Started container main$/m);
        // Sections come in kubectl's order.
        const order = ["Name:", "Namespace:", "Status:", "Containers:", "Conditions:", "Volumes:", "QoS Class:", "Events:"].map((s) => out.indexOf(`\n${s}`) + (s === "Name:" ? 1 : 0));
        assert.deepEqual([...order].sort((a, b) => a - b), order);

        const missing = await c.run("describe", ["pod", "nope"]);
        assert.equal(missing.code, 1);
        assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
      },
      ["--backoff-initial", "200ms"],
    ));

  test("logs: content, --tail, --timestamps, --since, and -p after a restart", () =>
    withCli(
      async (c) => {
        assert.equal((await c.apply("l.yaml", restartOnce("l"))).code, 0);
        await restartedOnce(c, "l", "main");
        await waitFor("run 2 in the log", async () => (await c.run("logs", ["l"])).stdout === "run 2\n");
        const prev = await c.run("logs", ["l", "-p"]);
        assert.equal(prev.code, 0, prev.stderr);
        assert.equal(prev.stdout, "run 1\n");
        assert.equal((await c.run("logs", ["l", "--previous", "-c", "main"])).stdout, "run 1\n");

        const lines = Array.from({ length: 5 }, (_, i) => `line ${i}`);
        assert.equal((await c.apply("p.yaml", JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:local", command: ["podd-fixture", "echo-lines", ...lines] }] } }))).code, 0);
        const all = await waitFor("the whole log", async () => {
          const r = await c.run("logs", ["p"]);
          return r.stdout.split("\n").length > lines.length ? r : undefined;
        });
        assert.equal(all.stdout, lines.join("\n") + "\n");
        assert.equal((await c.run("logs", ["p", "--tail", "2"])).stdout, "line 3\nline 4\n");
        assert.equal((await c.run("logs", ["p", "--since", "1h"])).stdout, lines.join("\n") + "\n");
        const ts = (await c.run("logs", ["p", "--timestamps", "--tail", "1"])).stdout;
        assert.match(ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) line 4\n$/);

        const missing = await c.run("logs", ["nope"]);
        assert.equal(missing.code, 1);
        assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
      },
      ["--backoff-initial", "200ms"],
    ));

  test("logs -f follows new lines and ends when the container ends", () =>
    withCli(async (c) => {
      const gate = join(c.env.dir, "gate");
      mkdirSync(gate);
      const script = "echo first; while [ ! -e /v/go ]; do sleep 0.05; done; echo second; exit 0";
      const r = await c.apply(
        "f.yaml",
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "f" },
          spec: { restartPolicy: "Never", volumes: [{ name: "v", hostPath: { path: gate, type: "Directory" } }], containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", script], volumeMounts: [{ name: "v", mountPath: "/v" }] }] },
        }),
      );
      assert.equal(r.code, 0, r.stderr);
      await waitRunning(c.d, "f", "c");
      const f = c.background("logs", ["f", "-f"]);
      await waitFor("logs -f to print the first line", () => f.stdout() === "first\n");
      assert.equal(f.child.exitCode, null, "logs -f ended while the container runs");
      writeFileSync(join(gate, "go"), "");
      const end = await f.done;
      assert.equal(end.code, 0, end.stderr);
      assert.equal(end.stdout, "first\nsecond\n");
    }));

  test("logs of a pod with several containers: the first container and kubectl's note without -c; -c; --all-containers --prefix", () =>
    withCli(async (c) => {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "m" },
        spec: {
          restartPolicy: "Never",
          initContainers: [{ name: "setup", image: "busybox:local", command: ["echo", "from setup"] }],
          containers: [
            { name: "a", image: "busybox:local", command: ["echo", "from a"] },
            { name: "b", image: "busybox:local", command: ["echo", "from b"] },
          ],
        },
      };
      assert.equal((await c.apply("m.yaml", JSON.stringify(pod))).code, 0);
      await waitFor("the pod to complete", async () => (await getPod(c.d, "m"))?.status?.phase === "Succeeded");

      const first = await c.run("logs", ["m"]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, "from a\n");
      assert.equal(first.stderr, 'Defaulted container "a" out of: a, b, setup (init)\n');
      assert.equal((await c.run("logs", ["m", "-c", "b"])).stdout, "from b\n");
      assert.equal((await c.run("logs", ["m", "-c", "setup"])).stdout, "from setup\n");
      const bad = await c.run("logs", ["m", "-c", "zzz"]);
      assert.equal(bad.code, 1);
      assert.equal(bad.stderr, "error: container zzz is not valid for pod m\n");
      const every = await c.run("logs", ["m", "--all-containers", "--prefix"]);
      assert.equal(every.code, 0, every.stderr);
      assert.equal(every.stdout, "[pod/m/setup] from setup\n[pod/m/a] from a\n[pod/m/b] from b\n");
    }));
});
