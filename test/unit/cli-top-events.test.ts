// podd top pod and podd events against the fake API: kubectl's units and tables.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventsMain } from "../../supervisor/cli/events.ts";
import { topMain } from "../../supervisor/cli/top.ts";
import { capture, FakeApi, makeEvent } from "./fake-api.ts";

let api: FakeApi;
before(async () => {
  api = await FakeApi.start();
  api.metrics = [
    { metadata: { name: "web", namespace: "default" }, timestamp: "2026-11-22T05:30:00Z", window: "1s", containers: [
      { name: "nginx", usage: { cpu: "12m", memory: "3456Ki" } },
      { name: "sidecar", usage: { cpu: "1500000n", memory: "35Mi" } },
    ] },
    { metadata: { name: "db", namespace: "default" }, timestamp: "2026-11-22T05:30:00Z", window: "1s", containers: [{ name: "pg", usage: { cpu: "0", memory: "120Mi" } }] },
  ];
  api.events = [
    makeEvent("web", "BackOff", "Back-off restarting failed container", { type: "Warning", agoMs: 30_000, firstAgoMs: 5 * 60_000, count: 3 }),
    makeEvent("web", "Started", "Started container nginx", { agoMs: 6 * 60_000 }),
  ];
});
after(() => api.close());

test("top pod: sums per pod in millicores and MiB, every cell padded as kubectl top prints it", async () => {
  const r = await capture((io) => topMain(["pod", "--socket", api.socket], io));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "NAME   CPU(cores)   MEMORY(bytes)   \ndb     0m           120Mi           \nweb    14m          38Mi            \n");
  assert.equal(api.paths().at(-1), "GET /apis/metrics.k8s.io/v1beta1/namespaces/default/pods");
});

test("top pod NAME --containers: a row per container", async () => {
  const r = await capture((io) => topMain(["pod", "web", "--containers", "--socket", api.socket], io));
  assert.equal(r.stdout, "POD   NAME      CPU(cores)   MEMORY(bytes)   \nweb   nginx     12m          3Mi             \nweb   sidecar   2m           35Mi            \n");
  assert.equal(api.paths().at(-1), "GET /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web");
});

test("events: LAST SEEN TYPE REASON OBJECT MESSAGE, oldest first, repeats as (xN over …)", async () => {
  const r = await capture((io) => eventsMain(["--socket", api.socket], io));
  assert.equal(
    r.stdout,
    [
      "LAST SEEN          TYPE      REASON    OBJECT    MESSAGE",
      "6m                 Normal    Started   Pod/web   Started container nginx",
      "30s (x3 over 5m)   Warning   BackOff   Pod/web   Back-off restarting failed container",
      "",
    ].join("\n"),
  );
  const empty = await capture((io) => eventsMain(["-n", "quiet", "--socket", api.socket], io));
  assert.equal(empty.stderr, "No events found in quiet namespace.\n");
});

test("events -w: new events as they come, the initial replay skipped", async () => {
  const done = capture((io) => eventsMain(["-w", "-A", "--socket", api.socket], io));
  await api.watchConnected;
  api.emit("events", "ADDED", makeEvent("db", "Killing", "Stopping container pg", { agoMs: 0 }));
  api.endWatches();
  const r = await done;
  assert.equal(r.code, 0);
  assert.equal(r.stdout.split("\n").at(-2), "default     0s                 Normal    Killing   Pod/db    Stopping container pg");
  assert.equal(r.stdout.split("\n").length, 5);
});
