// podd top pod and podd events against the daemon over the fake runtime: the metrics the API
// server derives from two samples of usage, the events the daemon's log aggregates, and
// kubectl's units and tables.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventsMain } from "../../supervisor/cli/events.ts";
import { topMain } from "../../supervisor/cli/top.ts";
import type { PodEvent } from "../../supervisor/daemon/events.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, podYaml, until } from "./fake-daemon.ts";

let api: FakeDaemon;
/** A pod event as a worker emits it, `agoMs` before NOW. */
function emit(pod: string, reason: string, message: string, agoMs: number, type: PodEvent["type"] = "Normal"): void {
  const p = api.daemon.get("default", pod)!;
  api.daemon.sup.events.emit("event", { time: NOW - agoMs, type, reason, message, namespace: "default", pod, podUid: p.metadata.uid });
}

before(async () => {
  api = await FakeDaemon.start(NOW - 10 * 60_000);
  await api.apply(podYaml("web", { containers: ["nginx", "sidecar"] }) + "---\n" + podYaml("db", { containers: ["pg"] }));
  await api.advance(10 * 60_000);
  // Cumulative CPU grows by the same amount between the API's two samples, half a second apart.
  const perSample: Record<string, [number, number]> = { nginx: [6e6, 3456 * 1024], sidecar: [0.75e6, 35 << 20], pg: [0, 120 << 20] };
  const samples = new Map<string, number>();
  api.rt.usageOf = (pod, container) => {
    const n = (samples.get(`${pod}/${container}`) ?? 0) + 1;
    samples.set(`${pod}/${container}`, n);
    const [cpu, memory] = perSample[container]!;
    return { cpuNs: n * cpu, memoryBytes: memory };
  };
  emit("web", "Started", "Started container nginx", 6 * 60_000);
  for (const ago of [5 * 60_000, 2 * 60_000, 30_000]) emit("web", "BackOff", "Back-off restarting failed container", ago, "Warning");
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
  const rows = r.stdout.split("\n").filter((l) => / (Started|BackOff) +Pod\/web /.test(l));
  // The pod's own start (10m ago, a line per container) comes first: oldest first.
  assert.deepEqual(rows.slice(2), [
    "6m                 Normal    Started   Pod/web   Started container nginx",
    "30s (x3 over 5m)   Warning   BackOff   Pod/web   Back-off restarting failed container",
  ]);
  assert.ok(rows.slice(0, 2).every((l) => l.startsWith("10m ")), rows.join("\n"));
  assert.match(r.stdout, /^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n/);
  const empty = await capture((io) => eventsMain(["-n", "quiet", "--socket", api.socket], io));
  assert.equal(empty.stderr, "No events found in quiet namespace.\n");
});

test("events -w: new events as they come, the initial replay skipped", async () => {
  const before = api.requests.length;
  const done = capture((io) => eventsMain(["-w", "-A", "--socket", api.socket], io));
  await until("the watch", () => api.requests.slice(before).some((q) => q.query.watch === "true"));
  emit("db", "Killing", "Stopping container pg", 0);
  await api.stop();
  const r = await done;
  assert.equal(r.code, 0);
  const lines = r.stdout.split("\n");
  assert.equal(lines.at(-2), "default     0s                 Normal    Killing   Pod/db    Stopping container pg");
  assert.equal(lines.filter((l) => l.includes("BackOff")).length, 1, "what was listed is not printed again when the watch replays it");
});
