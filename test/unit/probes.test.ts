// Probe semantics without root: the API server's defaults, thresholds, the prober's schedule
// on a fake clock (startup first, no run overlapping the last, the first runs of an adopted
// container spread over a period), and the HTTP, TCP and gRPC probes against servers on
// 127.0.0.1 (the kubelet's words for each failure).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createServer, type Server } from "node:http";
import { createServer as createNet } from "node:net";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock } from "./fake-clock.ts";
import { firstDelayMs, initialStanding, probeTiming, record } from "../../supervisor/pod/probes.ts";
import { ContainerProber } from "../../supervisor/pod/prober.ts";
import { grpcProbe, httpProbe, parseHealthStatus, resolvePort, tcpProbe } from "../../supervisor/runtime/probe.ts";
import { ProbeRunner } from "../../supervisor/runtime/probe-runner.ts";

const initPath = fileURLToPath(new URL("../../init/build/podd-init", import.meta.url));
/** Node's own sockets, and podd-init prober's (when it is built), give the same outcomes. */
const prober = existsSync(initPath) ? new ProbeRunner(initPath) : undefined;
const transports: [string, ProbeRunner | undefined][] = [["through Node", undefined], ...(prober ? [["through podd-init prober", prober] as [string, ProbeRunner]] : [])];
after(() => prober?.close());


test("the API server's defaults, and thresholds of consecutive results", () => {
  assert.deepEqual(probeTiming({}), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  const t = { successThreshold: 2, failureThreshold: 3 };
  let s = initialStanding("readiness");
  assert.equal(s.ok, false, "readiness starts as not ready");
  assert.equal(initialStanding("liveness").ok, true, "liveness starts as alive");
  const steps: [boolean, boolean, boolean][] = [
    // result, verdict after, changed
    [true, false, false],
    [true, true, true],
    [false, true, false],
    [false, true, false],
    [true, true, false],
    [false, true, false],
    [false, true, false],
    [false, false, true],
  ];
  for (const [ok, verdict, changed] of steps) {
    const r = record(s, ok, t);
    assert.deepEqual([r.standing.ok, r.changed], [verdict, changed], JSON.stringify({ s, ok }));
    s = r.standing;
  }
  const timing = probeTiming({ initialDelaySeconds: 5, periodSeconds: 2 });
  assert.equal(firstDelayMs(timing, 1000, false, () => 0.5), 4000, "the initial delay counts from the container's start");
  assert.equal(firstDelayMs(timing, 9000, true, () => 0.5), 1000, "an adopted container's first run is spread over a period");
});

test("the startup probe holds the others back; a run never overlaps the last; verdict changes are reported", async () => {
  const clock = new FakeClock();
  const runs: string[] = [];
  let startupOk = false;
  let release: (() => void) | undefined;
  const changed: string[] = [];
  const failed: string[] = [];
  const prober = new ContainerProber(
    { startup: { periodSeconds: 1, failureThreshold: 100 }, liveness: { periodSeconds: 1 }, readiness: { periodSeconds: 1 } },
    clock,
    async (kind) => {
      runs.push(`${clock.now()} ${kind}`);
      if (kind === "startup") return { ok: startupOk, output: "not yet" };
      if (kind === "liveness") await new Promise<void>((r) => (release = r));
      return { ok: true, output: "" };
    },
    { failed: (k, o) => failed.push(`${k}: ${o}`), errored: () => {}, warned: () => {}, changed: (k, ok) => changed.push(`${k}=${ok}`), exhausted: (k) => changed.push(`${k} exhausted`) },
  );
  prober.start(0, false);
  await clock.advance(2500);
  assert.deepEqual(runs, ["0 startup", "1000 startup", "2000 startup"]);
  assert.deepEqual(failed, ["startup: not yet", "startup: not yet", "startup: not yet"]);
  assert.equal(prober.started, false);
  assert.equal(prober.ready, false);
  startupOk = true;
  await clock.advance(1000);
  assert.deepEqual(changed, ["startup=true", "readiness=true"]);
  assert.ok(prober.ready && prober.started);
  // The liveness run at 3000 has not answered: no second one is started in the meantime.
  await clock.advance(5000);
  assert.equal(runs.filter((r) => r.endsWith("liveness")).length, 1);
  release!();
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await clock.advance(1000);
  assert.equal(runs.filter((r) => r.endsWith("liveness")).length, 2);
  prober.stop();
  assert.equal(clock.pending(), 0, "stop clears every timer");
});

test("a run podd could not carry out (its prober gone) is said, and counts for nothing: no failure, no verdict change", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  let runs = 0;
  const prober = new ContainerProber(
    { liveness: { exec: { command: ["true"] }, periodSeconds: 1, failureThreshold: 1 } },
    clock,
    async () => (runs++, { ok: false, output: "the prober was killed by SIGKILL", error: true }),
    { failed: (k, o) => seen.push(`failed ${k} ${o}`), errored: (k) => seen.push(`errored ${k}`), warned: () => {}, changed: (k, ok) => seen.push(`changed ${k} ${ok}`), exhausted: (k) => seen.push(`exhausted ${k}`) },
    () => 0,
  );
  prober.start(0, false);
  await clock.advance(5000);
  prober.stop();
  assert.ok(runs >= 4, `ran ${runs} times`);
  assert.deepEqual(new Set(seen), new Set(["errored liveness"]), "said (the kubelet's \"probe errored\"), never counted");
});

test("a startup or liveness probe that fails failureThreshold times in a row is exhausted once, and its probes stop; initial delays count from the start", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const runs: string[] = [];
  const startup = new ContainerProber(
    { startup: { periodSeconds: 1, failureThreshold: 2 }, liveness: { periodSeconds: 1 } },
    clock,
    async (kind) => (runs.push(`${clock.now()} ${kind}`), { ok: false, output: "no" }),
    { failed: () => {}, errored: () => {}, warned: () => {}, changed: (k, ok) => seen.push(`${k}=${ok}`), exhausted: (k) => seen.push(`${k} exhausted`) },
  );
  startup.start(0, false);
  await clock.advance(5000);
  assert.deepEqual(seen, ["startup exhausted"], "a startup probe's verdict starts failed: exhaustion is counted, not a change");
  assert.deepEqual(runs, ["0 startup", "1000 startup"]);
  assert.equal(clock.pending(), 0);

  // Liveness with a 10 s initial delay behind a startup probe that succeeds at 2 s: first run at 10 s.
  const later: string[] = [];
  let ok = false;
  const gated = new ContainerProber(
    { startup: { periodSeconds: 1, failureThreshold: 10 }, liveness: { initialDelaySeconds: 10, periodSeconds: 1, failureThreshold: 1 } },
    clock,
    async (kind) => (later.push(`${clock.now()} ${kind}`), { ok: kind === "startup" ? ok : true, output: "" }),
    { failed: () => {}, errored: () => {}, warned: () => {}, changed: () => {}, exhausted: () => {} },
  );
  const t0 = clock.now();
  gated.start(0, false);
  await clock.advance(1500);
  ok = true;
  await clock.advance(9000);
  assert.deepEqual(later.map((l) => `${Number(l.split(" ")[0]) - t0} ${l.split(" ")[1]}`), ["0 startup", "1000 startup", "2000 startup", "10000 liveness"]);
  // Terminating: liveness stops, readiness would go on.
  gated.stopForTermination();
  await clock.advance(5000);
  assert.equal(later.filter((l) => l.endsWith("liveness")).length, 1);
  gated.stop();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

for (const [via, transport] of transports) test(`HTTP probes ${via}: 200–399 succeed, others fail with the status, same-host redirects are followed, another host's is a warned success, a hang is a timeout`, async () => {
  const server = createServer((req, res) => {
    if (req.url === "/fail") return res.writeHead(500).end();
    if (req.url === "/hang") return;
    if (req.url === "/here") return res.writeHead(302, { Location: "/ok" }).end();
    if (req.url === "/away") return res.writeHead(302, { Location: `http://localhost:${(server.address() as { port: number }).port}/ok` }).end("moved");
    if (req.url === "/chunked") {
      res.writeHead(302, { Location: "http://elsewhere/" });
      res.write("mo");
      return res.end("ved");
    }
    if (req.url === "/big") return res.writeHead(503).end("x".repeat(50_000));
    if (req.url === "/nowhere") return res.writeHead(302).end("no location");
    if (req.url?.startsWith("/loop")) return res.writeHead(302, { Location: `/loop${Number(req.url.slice(5) || 0) + 1}` }).end();
    assert.equal(req.headers["user-agent"], "kube-probe/1.37");
    assert.equal(req.headers["x-probe"], "yes");
    res.writeHead(req.url === "/ok" ? 200 : 404).end();
  });
  const port = await listen(server);
  try {
    const target = { host: "127.0.0.1", container: { ports: [{ name: "web", containerPort: port }] }, ...(transport ? { transport } : {}) };
    const get = (path: string, timeoutMs = 1000) => httpProbe({ port: "web", path, httpHeaders: [{ name: "X-Probe", value: "yes" }] }, target, timeoutMs);
    assert.deepEqual(await get("/ok"), { ok: true, output: "" });
    assert.deepEqual(await get("/fail"), { ok: false, output: "HTTP probe failed with statuscode: 500" });
    assert.deepEqual(await get("/here"), { ok: true, output: "" });
    assert.deepEqual(await get("/away"), { ok: true, output: "", warning: "Probe terminated redirects, Response body: moved" });
    assert.deepEqual(await get("/chunked"), { ok: true, output: "", warning: "Probe terminated redirects, Response body: moved" });
    assert.deepEqual(await get("/big"), { ok: false, output: "HTTP probe failed with statuscode: 503" });
    // A 3xx that ends the chain is a warned success; ten redirects are where Go's client stops.
    assert.deepEqual(await get("/nowhere"), { ok: true, output: "", warning: "Probe terminated redirects, Response body: no location" });
    assert.deepEqual(await get("/loop"), { ok: false, output: `Get "http://127.0.0.1:${port}/loop10": stopped after 10 redirects` });
    const hung = await get("/hang", 200);
    assert.equal(hung.ok, false);
    assert.match(hung.output, /^Get "http:\/\/127\.0\.0\.1:\d+\/hang": context deadline exceeded/);
    assert.deepEqual(await httpProbe({ port: "nope" }, target, 100), { ok: false, output: 'unknown port "nope": no containerPort of that name' });
  } finally {
    server.close();
  }
});

for (const [via, transport] of transports) test(`TCP probes ${via}: a connection that opens succeeds; a refused one fails as Go says it`, async () => {
  const server = createNet((s) => s.destroy());
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  server.close();
  const refused = await tcpProbe("127.0.0.1", port, 500, transport);
  assert.deepEqual(refused, { ok: false, output: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
  const open = createNet((s) => s.destroy());
  const openPort = await new Promise<number>((resolve) => open.listen(0, "127.0.0.1", () => resolve((open.address() as { port: number }).port)));
  try {
    assert.deepEqual(await tcpProbe("127.0.0.1", openPort, 500, transport), { ok: true, output: "" });
  } finally {
    open.close();
  }
  assert.equal(resolvePort("8080", {}), 8080);
  assert.equal(resolvePort("http", { ports: [{ name: "http", containerPort: 81 }] }), 81);
});

test("gRPC probes: SERVING succeeds, NOT_SERVING and a hang fail in the kubelet's words; the response is read by hand", async () => {
  assert.equal(parseHealthStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
  assert.equal(parseHealthStatus(Buffer.from([0, 0, 0, 0, 0])), 0);
  assert.equal(parseHealthStatus(Buffer.from([1, 0, 0, 0, 0])), undefined, "a compressed frame is not read");
  const dir = mkdtempSync(join(tmpdir(), "podd-probe-"));
  const mode = join(dir, "mode");
  writeFileSync(mode, "ok");
  const base = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [fileURLToPath(new URL("../fixtures/probe-server.mjs", import.meta.url)), String(base), mode], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    assert.deepEqual(await grpcProbe("127.0.0.1", base + 1, "", 1000), { ok: true, output: "" });
    writeFileSync(mode, "fail");
    assert.deepEqual(await grpcProbe("127.0.0.1", base + 1, "svc", 1000), { ok: false, output: 'service unhealthy (responded with "NOT_SERVING")' });
    writeFileSync(mode, "hang");
    assert.deepEqual(await grpcProbe("127.0.0.1", base + 1, "", 300), { ok: false, output: "timeout: health rpc did not complete within 0.3s" });
    writeFileSync(mode, "close");
    const closed = await grpcProbe("127.0.0.1", base + 1, "", 1000);
    assert.equal(closed.ok, false);
    assert.match(closed.output, /^rpc error: code = Unavailable desc = /);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
