// The daemon's apply, replace, delete and restart paths, and the real API server in front of
// it, over the scripted runtime: without root, on a fake clock. The end-to-end suites check the
// same through the kernel; these check what the daemon decides and what the API answers.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ApiError, lines, PoddClient, type ApiStatus } from "../../supervisor/api/client.ts";
import { settle } from "./fake-clock.ts";
import { FakeDaemon, until } from "./fake-daemon.ts";

const NOW = Date.parse("2026-12-01T10:00:00Z");

const web = (image = "host", extra = "") => `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - {name: app, image: ${image}, command: [serve]${extra}}
`;

async function withDaemon(body: (f: FakeDaemon, client: PoddClient) => Promise<void>): Promise<void> {
  const f = await FakeDaemon.start(NOW);
  try {
    await body(f, new PoddClient(f.socket));
  } finally {
    await f.close();
  }
}

/** The Status of a request that must fail. */
async function failure(p: Promise<unknown>): Promise<ApiStatus> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError, `expected an error status, got ${String(err)}`);
  return err.status;
}

type Pod = { metadata: { name: string; uid: string; deletionTimestamp?: string }; status: { phase: string; containerStatuses: { restartCount: number; state: Record<string, unknown> }[] } };

test("apply through the API: created, then unchanged; a changed spec replaces the pod, old stopped before new started", async () => {
  await withDaemon(async (f, client) => {
    const put = async (text: string) => {
      const { loadManifests } = await import("../../pod-specs/index.ts");
      return client.putPod(loadManifests(text, "web.yaml").pods[0]!);
    };
    const first = await put(web());
    assert.equal(first.result, "created");
    await settle();
    const running = await client.json<Pod>("GET", "/api/v1/namespaces/default/pods/web");
    assert.equal(running.status.phase, "Running");
    assert.equal((await put(web())).result, "unchanged");
    assert.deepEqual(f.rt.calls, ["createSandbox web", "start web/app"]);
    const replaced = await put(web("host", ", args: [--port, '8080']"));
    assert.equal(replaced.result, "configured");
    await settle();
    assert.notEqual(replaced.pod.metadata.uid, first.pod.metadata.uid, "the new pod is a new object");
    assert.deepEqual(f.rt.calls.slice(2), ["finish web/app", "stopSandbox web", "stopSandbox web", "removePod web", "removeLogs web", "createSandbox web", "start web/app"]);
    assert.equal(f.rt.runsOf("web", "app")[0]!.signals[0], "SIGTERM", "the old pod was stopped gracefully");
    const desired = readdirSync(join(f.dir, "state", "desired", "default"));
    assert.deepEqual(desired, ["web.json"]);
  });
});

test("a manifest with a mistake is refused whole with the field path, and nothing is created", async () => {
  await withDaemon(async (f, client) => {
    const bad = { apiVersion: "v1", kind: "Pod", metadata: { name: "bad" }, spec: { containers: [{ name: "app" }] } };
    const err = await client.putPod(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status.code, 422);
    assert.equal(err.status.reason, "Invalid");
    assert.match(err.message, /spec\.containers\[0\]\.image: Required value/);
    assert.deepEqual(f.rt.calls, []);
  });
});

test("delete: the pod shows its deletionTimestamp while it stops, then it is gone with its desired file and logs", async () => {
  await withDaemon(async (f, client) => {
    f.rt.scripts.set("app", { ignoresStop: true });
    await f.apply(web());
    f.rt.writeLog("web", "app", "hello\n");
    const gone = await client.json<Pod>("DELETE", "/api/v1/namespaces/default/pods/web");
    assert.ok(gone.metadata.deletionTimestamp, "answered with the pod being deleted");
    await settle();
    const stopping = await client.json<Pod>("GET", "/api/v1/namespaces/default/pods/web");
    assert.ok(stopping.metadata.deletionTimestamp);
    assert.ok(existsSync(join(f.dir, "state", "desired", "default", "web.json")), "desired until it has stopped");
    await f.advance(5_000); // the grace period ends: a kill
    await settle();
    const missing = await failure(client.request("GET", "/api/v1/namespaces/default/pods/web"));
    assert.deepEqual([missing.kind, missing.code, missing.reason, missing.message], ["Status", 404, "NotFound", 'pods "web" not found']);
    assert.ok(!existsSync(join(f.dir, "state", "desired", "default", "web.json")));
    assert.ok(!existsSync(join(f.dir, "log", "pods")) || readdirSync(join(f.dir, "log", "pods")).length === 0, "its logs went with it");
    assert.ok(f.rt.calls.includes("kill web/app"));
  });
});

test("a daemon restart takes up the pods it finds: running containers adopted, not started again", async () => {
  await withDaemon(async (f, client) => {
    await f.apply(web());
    const before = await client.json<Pod>("GET", "/api/v1/namespaces/default/pods/web");
    await f.kill();
    f.rt.calls.length = 0;
    await f.open();
    await settle();
    assert.deepEqual(f.rt.calls.filter((c) => !c.startsWith("removeLogs")), ["adopt web/app", "adoptSandbox web"]);
    const after = await client.json<Pod>("GET", "/api/v1/namespaces/default/pods/web");
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.equal(after.status.phase, "Running");
    assert.equal(after.status.containerStatuses[0]!.restartCount, 0);
    assert.ok(f.logged.lines.some((l) => l.includes("pod/default/web taken up")));
  });
});

test("the API: label selectors filter on the server (a broken one is a 400), a pod watch sees the pod change, logs are read from the files", async () => {
  await withDaemon(async (f, client) => {
    await f.apply(web());
    await f.apply(web().replace(/web/g, "db"));
    const list = await client.json<{ items: Pod[] }>("GET", "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(db)");
    assert.deepEqual(list.items.map((p) => p.metadata.name), ["db"]);
    const bad = await failure(client.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(db"));
    assert.deepEqual([bad.code, bad.reason], [400, "BadRequest"]);
    f.rt.writeLog("web", "app", "one\ntwo\nthree\n");
    const log = await client.request("GET", "/api/v1/namespaces/default/pods/web/log?tailLines=2");
    assert.equal(log.body, "two\nthree\n");
    // A watch: ADDED for what is there, MODIFIED when the container exits.
    const res = await client.open("GET", "/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dweb");
    const events = lines(res)[Symbol.asyncIterator]();
    const seen: { type: string; object: Pod }[] = [];
    const next = async () => seen.push(JSON.parse((await events.next()).value as string) as { type: string; object: Pod });
    await next();
    f.rt.last("web", "app").end(1);
    await next();
    res.destroy();
    assert.deepEqual(seen.map((e) => e.type), ["ADDED", "MODIFIED"]);
    assert.equal(seen[1]!.object.status.containerStatuses[0]!.restartCount >= 0, true);
    assert.ok(f.paths().includes("GET /api/v1/namespaces/default/pods?labelSelector=app+in+%28db%29"));
  });
});

test("the log root is kept within --log-root-max-size: the logs of ended runs go first, what running containers write stays", async () => {
  const f = await FakeDaemon.start(NOW, undefined, { logRootMaxSize: 3000 });
  try {
    await f.apply(web());
    const kb = "x".repeat(1023) + "\n";
    f.rt.writeLog("web", "app", kb.repeat(2));
    f.rt.last("web", "app").end(1); // restarted at once: run 0's log is the previous run's
    await settle();
    await f.advance(1000);
    f.rt.writeLog("web", "app", kb.repeat(2));
    const dir = join(f.dir, "log", "pods", readdirSync(join(f.dir, "log", "pods"))[0]!, "app");
    assert.deepEqual(readdirSync(dir).sort(), ["0.log", "1.log"]);
    f.daemon.boundLogs();
    assert.deepEqual(readdirSync(dir), ["1.log"], "the ended run's log went; the running one's stays");
    assert.ok(f.logged.lines.some((l) => /held more than --log-root-max-size 3000 bytes: removed the 1 log file/.test(l)), f.logged.lines.join("\n"));
    f.rt.writeLog("web", "app", kb.repeat(4));
    f.daemon.boundLogs();
    assert.deepEqual(readdirSync(dir), ["1.log"], "a file being written is never removed, even over the bound");
  } finally {
    await f.close();
  }
});

test("a line not ended yet over the API: counted by tailLines, one timestamp when its rest comes while followed, sent when the run ends mid-line", async () => {
  await withDaemon(async (f, client) => {
    await f.apply(web());
    f.rt.writeLog("web", "app", "a\nb\nabc");
    assert.equal((await client.request("GET", "/api/v1/namespaces/default/pods/web/log?tailLines=1")).body, "abc");
    assert.equal((await client.request("GET", "/api/v1/namespaces/default/pods/web/log?tailLines=2")).body, "b\nabc");
    // Followed with timestamps: the rest of the line comes later, and the run ends mid-line.
    const res = await client.open("GET", "/api/v1/namespaces/default/pods/web/log?follow=true&timestamps=true&tailLines=1");
    let got = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => (got += d));
    const ended = new Promise((resolve) => res.on("end", resolve));
    await until("the partial line", () => got.includes("abc"));
    await f.advance(1000);
    f.rt.writeLog("web", "app", "def\nxyz");
    await until("the rest of the line", () => got.includes("def"));
    f.rt.last("web", "app").end(0);
    await ended;
    assert.match(got, /^\S+Z abcdef\n\S+Z xyz$/, JSON.stringify(got));
  });
});
