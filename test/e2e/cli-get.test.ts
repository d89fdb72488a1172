// podd get pods against a real daemon: the table with the STATUS values real pods reach
// (Running, Completed, Error, CrashLoopBackOff, OOMKilled, Init:0/1, ContainerCreating), -n and
// -A, -o wide|json|yaml|name, -w printing a row when a pod changes, and kubectl's NotFound and
// "No resources found" messages.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { e2eSkip, waitFor } from "./harness.ts";
import { busybox, rows, statusCell, waitStatusCell, withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

function pod(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, ...metadata }, spec: { terminationGracePeriodSeconds: 2, ...spec } });
}

describe("podd get pods", { skip, timeout: 120_000 }, () => {
  test("STATUS shows Running, Completed, Error, CrashLoopBackOff, OOMKilled, Init:0/1 and ContainerCreating", () =>
    withCli(
      async (c) => {
        const apply = async (name: string, yaml: string) => {
          const r = await c.apply(`${name}.yaml`, yaml);
          assert.equal(r.stdout, `pod/${name} created\n`, r.stderr);
        };
        await apply("running", busybox("running", { command: ["sleep", "1000"] }));
        await apply("completed", busybox("completed", { command: ["true"] }, { restartPolicy: "Never" }));
        await apply("error", busybox("error", { command: ["sh", "-c", "exit 1"] }, { restartPolicy: "Never" }));
        await apply("crash", busybox("crash", { command: ["sh", "-c", "exit 1"] }));
        await apply("oom", busybox("oom", { command: ["podd-fixture", "eat-memory", "64"], resources: { limits: { memory: "32Mi" } } }, { restartPolicy: "Never" }));
        await apply(
          "init",
          pod("init", {
            initContainers: [{ name: "i", image: "busybox:local", command: ["sleep", "1000"] }],
            containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
          }),
        );
        // A hostPath of type Directory that does not exist holds the container in ContainerCreating.
        await apply(
          "creating",
          busybox("creating", { command: ["sleep", "1000"], volumeMounts: [{ name: "v", mountPath: "/v" }] }, { volumes: [{ name: "v", hostPath: { path: join(c.env.dir, "missing"), type: "Directory" } }] }),
        );

        const want: Record<string, [string, string]> = {
          running: ["1/1", "Running"],
          completed: ["0/1", "Completed"],
          error: ["0/1", "Error"],
          crash: ["0/1", "CrashLoopBackOff"],
          oom: ["0/1", "OOMKilled"],
          init: ["0/1", "Init:0/1"],
          creating: ["0/1", "ContainerCreating"],
        };
        for (const [name, [ready, status]] of Object.entries(want)) {
          const r = await waitStatusCell(c, name, status);
          const [header, row] = rows(r.stdout);
          assert.deepEqual(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
          assert.equal(row![0], name);
          assert.equal(row![1], ready, `${name}: ${r.stdout}`);
          if (name === "crash") assert.match(row![3]!, /^[1-9]\d* \(\d+s ago\)$/);
          else assert.equal(row![3], "0", `${name}: ${r.stdout}`);
          assert.match(row![4]!, /^\d+s$/);
        }

        // The whole list, sorted by name, one row each, columns aligned under the header.
        const all = await c.run("get", ["pods"]);
        assert.equal(all.code, 0, all.stderr);
        const lines = all.stdout.trimEnd().split("\n");
        assert.deepEqual(
          rows(all.stdout).slice(1).map((r) => r[0]),
          Object.keys(want).sort(),
        );
        const statusAt = lines[0]!.indexOf("STATUS");
        for (const l of lines.slice(1)) assert.match(l.slice(statusAt - 1), /^ \S/, `STATUS not aligned:\n${all.stdout}`);
      },
      ["--backoff-initial", "200ms"],
    ));

  test("-o json, yaml, name and wide; -n and -A; NotFound and No resources found", () =>
    withCli(async (c) => {
      const empty = await c.run("get", ["pods"]);
      assert.equal(empty.code, 0);
      assert.equal(empty.stdout, "");
      assert.equal(empty.stderr, "No resources found in default namespace.\n");

      assert.equal((await c.apply("a.yaml", busybox("a", { command: ["sleep", "1000"] }))).code, 0);
      assert.equal((await c.apply("b.yaml", pod("b", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] }, { namespace: "other" }))).code, 0);
      await waitStatusCell(c, "a", "Running");

      const json = await c.run("get", ["pods", "a", "-o", "json"]);
      assert.equal(json.code, 0, json.stderr);
      const obj = JSON.parse(json.stdout);
      assert.equal(obj.kind, "Pod");
      assert.equal(obj.metadata.name, "a");
      assert.equal(obj.status.phase, "Running");
      assert.ok(obj.status.containerStatuses[0].state.running.startedAt);

      const list = JSON.parse((await c.run("get", ["pods", "-o", "json"])).stdout);
      assert.equal(list.kind, "List");
      assert.deepEqual(list.items.map((p: any) => p.metadata.name), ["a"]);

      const yaml = YAML.parse((await c.run("get", ["pods", "a", "-o", "yaml"])).stdout);
      assert.equal(yaml.status.phase, "Running");

      const names = await c.run("get", ["pods", "-o", "name"]);
      assert.equal(names.stdout, "pod/a\n");
      assert.equal((await c.run("get", ["pods", "-n", "other", "-o", "name"])).stdout, "pod/b\n");

      const wide = rows((await c.run("get", ["pods", "a", "-o", "wide"])).stdout);
      assert.deepEqual(wide[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
      assert.deepEqual(wide[1]!.slice(0, 3), ["a", "1/1", "Running"]);

      const everywhere = rows((await c.run("get", ["pods", "-A"])).stdout);
      assert.deepEqual(everywhere[0]!.slice(0, 2), ["NAMESPACE", "NAME"]);
      assert.deepEqual(everywhere.slice(1).map((r) => `${r[0]}/${r[1]}`), ["default/a", "other/b"]);

      const missing = await c.run("get", ["pods", "x"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, "");
      assert.equal(missing.stderr, 'Error from server (NotFound): pods "x" not found\n');

      // --field-selector goes to the API server, which knows metadata.name, metadata.namespace
      // and status.phase, and refuses other fields as kube-apiserver does.
      assert.equal((await c.run("get", ["pods", "-A", "-o", "name", "--field-selector", "metadata.namespace=other"])).stdout, "pod/b\n");
      assert.equal((await c.run("get", ["pods", "-o", "name", "--field-selector", "status.phase=Running,metadata.name!=b,spec.restartPolicy=Always"])).stdout, "pod/a\n");
      const none = await c.run("get", ["pods", "--field-selector", "status.phase=Succeeded"]);
      assert.equal(none.stderr, "No resources found in default namespace.\n");
      const badField = await c.run("get", ["pods", "--field-selector", "spec.foo=1"]);
      assert.equal(badField.code, 1);
      assert.equal(badField.stderr, "Error from server (BadRequest): field label not supported: spec.foo\n");

      const emptyNs = await c.run("get", ["pods", "-n", "nothing-here"]);
      assert.equal(emptyNs.code, 0);
      assert.equal(emptyNs.stderr, "No resources found in nothing-here namespace.\n");

      // ?labelSelector takes kube-apiserver's set-based syntax; one it cannot read is a 400, not
      // an empty list. (podd get -l filters in the CLI, so the API is asked directly.)
      const sleeper = { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] };
      assert.equal((await c.apply("web.yaml", pod("web", sleeper, { labels: { app: "web" } }))).code, 0);
      const itemNames = (r: { json: any }) => r.json.items.map((p: any) => p.metadata.name).sort();
      assert.deepEqual(itemNames(await c.d.request("GET", `/api/v1/pods?labelSelector=${encodeURIComponent("app in (web,db)")}`)), ["web"]);
      assert.deepEqual(itemNames(await c.d.request("GET", `/api/v1/pods?labelSelector=${encodeURIComponent("app notin (db)")}`)), ["a", "b", "web"]);
      const broken = await c.d.request("GET", `/api/v1/pods?labelSelector=${encodeURIComponent("app in (web")}`);
      assert.equal(broken.status, 400);
      assert.equal(broken.json.reason, "BadRequest");
      assert.equal(broken.json.message, "unable to parse requirement: found '', expected: ',' or ')'");
    }));

  test("-w prints a row when the pod's status changes", () =>
    withCli(async (c) => {
      // The container ends (exit 3) when the test creates /v/go: a change the test controls.
      const gate = join(c.env.dir, "gate");
      mkdirSync(gate);
      const r = await c.apply(
        "w.yaml",
        busybox(
          "w",
          { command: ["sh", "-c", "while [ ! -e /v/go ]; do sleep 0.05; done; exit 3"], volumeMounts: [{ name: "v", mountPath: "/v" }] },
          { restartPolicy: "Never", volumes: [{ name: "v", hostPath: { path: gate, type: "Directory" } }] },
        ),
      );
      assert.equal(r.code, 0, r.stderr);
      await waitStatusCell(c, "w", "Running");

      const w = c.background("get", ["pods", "w", "-w"]);
      await waitFor("the watch to print the table", () => rows(w.stdout()).length >= 2);
      assert.deepEqual(rows(w.stdout())[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
      assert.equal(statusCell(w.stdout()), "Running");
      writeFileSync(join(gate, "go"), "");
      await waitFor("the watch to print the Error row", () => rows(w.stdout()).some((row) => row[0] === "w" && row[2] === "Error"));
      const printed = rows(w.stdout());
      // Every row is the pod's; the last one is its end.
      assert.ok(printed.slice(1).every((row) => row[0] === "w"), w.stdout());
      assert.deepEqual(printed.at(-1)!.slice(0, 4), ["w", "0/1", "Error", "0"]);
      assert.equal(w.child.exitCode, null, "the watch ended on its own");
      const end = await w.kill();
      assert.equal(end.signal, "SIGKILL");
      assert.equal(w.stderr(), "");
    }));
});
