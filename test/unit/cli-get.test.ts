// podd get pods against the daemon over the fake runtime: the tables, output formats,
// selectors, errors and -w, over pods whose status the daemon derived from their lives.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { getMain } from "../../supervisor/cli/get.ts";
import { tabwrite, DESCRIBE } from "../../supervisor/cli/lib/table.ts";
import { backOffConfig } from "../../supervisor/pod/restart-policy.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, podYaml, until } from "./fake-daemon.ts";

const MIN = 60_000;
let api: FakeDaemon;
before(async () => {
  // Made 30 minutes ago. crashy's container fails 3m15s after each start; with a first window
  // of 5 minutes it restarts at once, then after 5 and 10 minutes: its third restart's run
  // ended 2 minutes ago, and the next waits 20.
  api = await FakeDaemon.start(NOW - 30 * MIN, backOffConfig({ initialMs: 5 * MIN, maxMs: 60 * MIN, resetAfterMs: 120 * MIN }));
  api.rt.scripts.set("crash", { runsForMs: 195_000, exitCode: 1 });
  // web's containers take their whole grace period to stop when it is deleted (the -w test).
  api.rt.scripts.set("nginx", { ignoresStop: true });
  api.rt.scripts.set("sidecar", { ignoresStop: true });
  await api.apply(
    [podYaml("web", { containers: ["nginx", "sidecar"], labels: { app: "web", tier: "front" } }), podYaml("crashy", { containers: ["crash"] }), podYaml("db", { namespace: "data", labels: { app: "db" } })].join("---\n"),
  );
  await api.advance(30 * MIN);
});
after(() => api.close());

const get = (...argv: string[]) => capture((io) => getMain([...argv, "--socket", api.socket], io));

test("get pods: kubectl's table, rows sorted by name, RESTARTS with the last restart's age", async () => {
  const r = await get("pods");
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    [
      "NAME     READY   STATUS             RESTARTS     AGE",
      "crashy   0/1     CrashLoopBackOff   3 (2m ago)   30m",
      "web      2/2     Running            0            30m",
      "",
    ].join("\n"),
  );
  assert.deepEqual(api.paths().at(-1), "GET /api/v1/namespaces/default/pods");
});

test("get pods -A adds NAMESPACE first and lists every namespace", async () => {
  const r = await get("pods", "-A");
  assert.equal(
    r.stdout,
    [
      "NAMESPACE   NAME     READY   STATUS             RESTARTS     AGE",
      "data        db       1/1     Running            0            30m",
      "default     crashy   0/1     CrashLoopBackOff   3 (2m ago)   30m",
      "default     web      2/2     Running            0            30m",
      "",
    ].join("\n"),
  );
  assert.equal(api.paths().at(-1), "GET /api/v1/pods");
});

test("get pods -o wide adds IP NODE NOMINATED NODE READINESS GATES", async () => {
  const r = await get("pods", "web", "-o", "wide");
  assert.equal(
    r.stdout,
    [
      "NAME   READY   STATUS    RESTARTS   AGE   IP          NODE        NOMINATED NODE   READINESS GATES",
      "web    2/2     Running   0          30m   10.87.0.2   fake-node   <none>           <none>",
      "",
    ].join("\n"),
  );
});

test("get pods -o name, -l selector", async () => {
  assert.equal((await get("pods", "-o", "name")).stdout, "pod/crashy\npod/web\n");
  assert.equal((await get("pods", "-A", "-l", "app in (web,db)", "-o", "name")).stdout, "pod/db\npod/web\n");
  assert.equal((await get("pods", "-l", "app=web,tier!=back", "-o", "name")).stdout, "pod/web\n");
  assert.equal((await get("pods", "-l", "!app", "-o", "name")).stdout, "pod/crashy\n");
  const bad = await get("pods", "-l", "a=(b");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: unable to parse requirement/);
});

test("get pods -o json: a List with sorted keys and 4-space indent; one name gives the Pod", async () => {
  const list = await get("pods", "-o", "json");
  const parsed = JSON.parse(list.stdout) as { kind: string; items: { metadata: { name: string } }[] };
  assert.equal(parsed.kind, "List");
  assert.deepEqual(Object.keys(parsed), ["apiVersion", "items", "kind", "metadata"]);
  assert.deepEqual(parsed.items.map((p) => p.metadata.name), ["crashy", "web"]);
  assert.match(list.stdout, /^\{\n {4}"apiVersion": "v1",\n {4}"items": \[/);
  const one = JSON.parse((await get("pods", "web", "-o", "json")).stdout) as { kind: string; metadata: { name: string } };
  assert.equal(one.kind, "Pod");
  assert.equal(one.metadata.name, "web");
});

test("get pods -o yaml: kubectl's block style with unindented sequences", async () => {
  const r = await get("pod/web", "-o", "yaml");
  assert.match(r.stdout, /^apiVersion: v1\nkind: Pod\nmetadata:\n/);
  assert.match(r.stdout, /\n {2}containers:\n {2}- image: host\n/);
  assert.equal((parseYaml(r.stdout) as { metadata: { name: string } }).metadata.name, "web");
});

test("a missing pod is kubectl's NotFound error, exit 1; found ones still print", async () => {
  const r = await get("pods", "nope");
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  const mixed = await get("pods", "web", "nope", "-o", "name");
  assert.equal(mixed.code, 1);
  assert.equal(mixed.stdout, "pod/web\n");
});

test("an empty namespace says so on stderr", async () => {
  const r = await get("pods", "-n", "empty");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "No resources found in empty namespace.\n");
});

test("no daemon: one line saying how to start one", async () => {
  const r = await capture((io) => getMain(["pods", "--socket", api.dir + "/absent.sock"], io));
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `cannot reach podd at ${api.dir}/absent.sock: no daemon is running (start one with "podd daemon", or run "podd apply", which starts one)\n`,
  );
});

test("a resource podd does not serve", async () => {
  const r = await get("deployments");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /doesn't have a resource type "deployments"/);
});

test("names with -l or --field-selector are refused, as kubectl refuses them", async () => {
  for (const flags of [["-l", "app=web"], ["--field-selector", "status.phase=Running"]]) {
    const r = await get("pods", "a", ...flags);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: name cannot be provided when a selector is specified\n");
  }
});

test("get pods -w: the table, then a row per change; the initial ADDED replay is not repeated", async () => {
  const ctrl = new AbortController();
  const before = api.requests.length;
  const done = capture((io) => getMain(["pods", "-w", "--socket", api.socket], io, ctrl.signal));
  await until("the watch", () => api.requests.slice(before).some((q) => q.query.watch === "true"));
  await api.daemon.delete("default", "web", 0);
  await api.advance(2_000);
  await api.apply(podYaml("other"));
  // The stream ends when the daemon closes it (after what was written before).
  await api.stop();
  const r = await done;
  assert.equal(r.code, 0);
  const lines = r.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    "NAME     READY   STATUS             RESTARTS     AGE",
    "crashy   0/1     CrashLoopBackOff   3 (2m ago)   30m",
    "web      2/2     Running            0            30m",
  ]);
  assert.ok(lines.slice(3).some((l) => /^web +\d\/2 +Terminating +0 +30m$/.test(l)), r.stdout);
  assert.equal(lines.filter((l) => l.startsWith("crashy")).length, 1, "the replay of what was listed is not printed");
  assert.match(lines.at(-2)!, /^other +1\/1 +Running +0 +/);
  assert.equal(api.paths().filter((p) => p.includes("watch=true")).at(-1), "GET /api/v1/namespaces/default/pods?watch=true");
});

test("tabwrite: a column block ends at a line without that cell, as Go's tabwriter", () => {
  const text = "Name:\tx\nLonger name:\ty\nSection:\n  a:\t1\n  bb:\t2\n";
  assert.equal(tabwrite(text, DESCRIBE), "Name:         x\nLonger name:  y\nSection:\n  a:   1\n  bb:  2\n");
});
