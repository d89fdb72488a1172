// Probes, for real: a daemon in a network namespace of the test's own probes pods on podd's
// network, from outside, with nothing in the image: HTTP (answers 500, hangs past the timeout,
// closes the connection, redirects), TCP, gRPC health (NOT_SERVING) and exec (killed at its
// timeout). Readiness flips READY and the Ready condition back and forth; a failed liveness
// probe restarts the container with the kubelet's events; the startup probe holds liveness
// and readiness back; after a daemon kill -9 the probes resume and nothing is restarted for a
// failure never seen. The test server (test/fixtures/probe-server.mjs) answers as a mode file
// in a hostPath directory says.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { destroyEnv, e2eSkip, fixture, networkEnv, podd, repo, waitFor, type Env } from "./harness.ts";
import { containerStatus, crashDaemon, getPod, podManifest, putPod, startDaemon, stopDaemon, waitGone, waitRunning, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip() || (!existsSync("/usr/lib/cni/bridge") ? "needs Debian's containernetworking-plugins" : false);
const server = join(repo, "test/fixtures/probe-server.mjs");

type ApiEvent = { reason: string; message: string; type: string; involvedObject?: { name?: string } };

async function events(d: Daemon, pod: string): Promise<ApiEvent[]> {
  const r = await d.request("GET", "/api/v1/namespaces/default/events");
  return (r.json?.items ?? []).filter((e: ApiEvent) => e.involvedObject?.name === pod);
}

const pick = (r: { code: number | null; stdout: string; stderr: string }) => [r.code, r.stdout, r.stderr];
const condition = (pod: any, type: string) => pod?.status?.conditions?.find((c: any) => c.type === type)?.status;

describe("probes", { skip, timeout: 300_000 }, () => {
  let env: Env & { hostNs: string };
  let d: Daemon;
  let modes: string;

  before(async () => {
    env = networkEnv();
    modes = join(env.dir, "modes");
    mkdirSync(modes);
    d = await startDaemon(env, [], undefined, env.hostNs);
  });

  after(async () => {
    await stopDaemon(d, "SIGKILL");
    destroyEnv(env);
  });

  /** A pod whose container runs the test server on 8080 (HTTP) and 8081 (gRPC), answering as modes/<pod> says. */
  function serverPod(name: string, probes: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    writeFileSync(join(modes, name), "ok");
    return podManifest(name, {
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: "c",
        image: "host",
        command: [process.execPath, server, "8080", `/modes/${name}`],
        ports: [{ name: "http", containerPort: 8080 }],
        volumeMounts: [{ name: "modes", mountPath: "/modes" }],
        ...probes,
      }],
      volumes: [{ name: "modes", hostPath: { path: modes, type: "Directory" } }],
      ...extra,
    });
  }
  const setMode = (pod: string, mode: string) => writeFileSync(join(modes, pod), mode);
  const fast = { periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 };

  const readyIs = (pod: string, want: boolean) =>
    waitFor(`${pod} ready=${want}`, async () => {
      const p = await getPod(d, pod);
      const s = containerStatus(p, "c");
      return s?.state?.running && s.ready === want && condition(p, "Ready") === (want ? "True" : "False") && condition(p, "ContainersReady") === (want ? "True" : "False") ? p : undefined;
    }, 30_000);
  const eventLike = (pod: string, reason: string, message: RegExp) =>
    waitFor(`${pod}: ${reason} ${message}`, async () => (await events(d, pod)).find((e) => e.reason === reason && message.test(e.message)), 30_000);

  test("readiness over HTTP flips READY and the Ready condition back and forth; each failure is an Unhealthy event in the kubelet's words", async () => {
    await putPod(d, serverPod("ready-http", { readinessProbe: { httpGet: { port: "http", path: "/healthz" }, ...fast } }));
    await readyIs("ready-http", true);
    const wide = await podd(["get", "pods", "ready-http", "--socket", d.socket]);
    assert.match(wide.stdout, /\nready-http\s+1\/1\s+Running/);
    // podd wait, as kubectl wait: the condition met, or an error at its timeout.
    const waitFor_ = (args: string[]) => podd(["wait", ...args, "--socket", d.socket]);
    assert.deepEqual(pick(await waitFor_(["--for=condition=Ready", "pod/ready-http", "--timeout", "20s"])), [0, "pod/ready-http condition met\n", ""]);
    assert.deepEqual(pick(await waitFor_(["--for=condition=Ready=false", "pod/ready-http", "--timeout", "1s"])), [1, "", "error: timed out waiting for the condition on pods/ready-http\n"]);
    // --timeout=0 checks once, as kubectl's.
    assert.deepEqual(pick(await waitFor_(["--for=condition=Ready", "pod/ready-http", "--timeout=0"])), [0, "pod/ready-http condition met\n", ""]);
    assert.deepEqual(pick(await waitFor_(["--for=condition=Ready=false", "pod/ready-http", "--timeout=0"])), [1, "", "error: timed out waiting for the condition on pods/ready-http\n"]);
    setMode("ready-http", "fail");
    assert.deepEqual(pick(await waitFor_(["--for=condition=Ready=false", "pod/ready-http", "--timeout", "20s"])), [0, "pod/ready-http condition met\n", ""]);
    setMode("ready-http", "ok");
    for (const [mode, why] of [
      ["fail", /^Readiness probe failed: HTTP probe failed with statuscode: 500$/],
      ["close", /^Readiness probe failed: Get "http:\/\/10\.87\.\d+\.\d+:8080\/healthz": /],
      ["hang", /^Readiness probe failed: Get "http:\/\/10\.87\.\d+\.\d+:8080\/healthz": context deadline exceeded/],
    ] as const) {
      setMode("ready-http", mode);
      await readyIs("ready-http", false);
      await eventLike("ready-http", "Unhealthy", why);
      setMode("ready-http", "ok");
      await readyIs("ready-http", true);
    }
    // A redirect to the same host is followed: the server sees the probe at /elsewhere.
    setMode("ready-http", "redirect");
    await waitFor("the redirect followed", () => existsSync(join(modes, "ready-http.seen")) && readFileSync(join(modes, "ready-http.seen"), "utf8") === "/elsewhere");
    assert.equal(containerStatus(await getPod(d, "ready-http"), "c").ready, true);
    assert.equal(containerStatus(await getPod(d, "ready-http"), "c").restartCount, 0, "readiness never restarts");
  });

  test("a failed liveness probe kills the container, which is restarted as its policy says, with Unhealthy and Killing events", async () => {
    await putPod(d, serverPod("live-http", { livenessProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 2 } }));
    await waitRunning(d, "live-http", "c");
    setMode("live-http", "fail");
    await eventLike("live-http", "Unhealthy", /^Liveness probe failed: HTTP probe failed with statuscode: 500$/);
    await eventLike("live-http", "Killing", /^Container c failed liveness probe, will be restarted$/);
    setMode("live-http", "ok");
    const restarted = await waitFor("restarted", async () => {
      const s = containerStatus(await getPod(d, "live-http"), "c");
      return s?.restartCount === 1 && s.state.running ? s : undefined;
    }, 30_000);
    assert.ok(restarted.lastState.terminated, JSON.stringify(restarted));
  });

  test("TCP and gRPC probes; an exec probe runs in the container and is killed at its timeout", async () => {
    await putPod(d, serverPod("tcp-grpc", {
      readinessProbe: { grpc: { port: 8081 }, ...fast },
      // (a few failures allowed: the server takes a moment to listen, and no initial delay is set)
      livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 5 },
    }));
    await readyIs("tcp-grpc", true);
    setMode("tcp-grpc", "fail");
    await readyIs("tcp-grpc", false);
    await eventLike("tcp-grpc", "Unhealthy", /^Readiness probe failed: service unhealthy \(responded with "NOT_SERVING"\)$/);
    // The TCP liveness probe only connects: the server is up, so nothing restarts.
    assert.equal(containerStatus(await getPod(d, "tcp-grpc"), "c").restartCount, 0);

    await putPod(d, podManifest("exec-probe", {
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: "c",
        image: "host",
        command: [fixture, "sleep-forever"],
        readinessProbe: { exec: { command: ["sh", "-c", "test -e /tmp/ready || { echo not ready yet; exit 1; }"] }, ...fast },
        livenessProbe: { exec: { command: ["sh", "-c", "test -e /tmp/slow && sleep 5; true"] }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 30 },
      }],
    }));
    await eventLike("exec-probe", "Unhealthy", /^Readiness probe failed: not ready yet\n?$/);
    assert.equal((await podd(["exec", "exec-probe", "--socket", d.socket, "--", "sh", "-c", "touch /tmp/ready /tmp/slow"])).code, 0);
    await readyIs("exec-probe", true);
    await eventLike("exec-probe", "Unhealthy", /^Liveness probe failed: command "sh -c test -e \/tmp\/slow && sleep 5; true" timed out$/);
  });

  test("the startup probe holds liveness and readiness back until it succeeds; started follows it", async () => {
    await putPod(d, serverPod("startup", {
      startupProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 60 },
      livenessProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
      readinessProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
    }));
    setMode("startup", "fail");
    await eventLike("startup", "Unhealthy", /^Startup probe failed: HTTP probe failed with statuscode: 500$/);
    await eventLike("startup", "Unhealthy", /^Startup probe failed/);
    const held = containerStatus(await getPod(d, "startup"), "c");
    assert.equal(held.started, false);
    assert.equal(held.ready, false);
    assert.ok(!(await events(d, "startup")).some((e) => /^(Liveness|Readiness) probe/.test(e.message)), "liveness and readiness wait for the startup probe");
    setMode("startup", "ok");
    const up = await readyIs("startup", true);
    assert.equal(containerStatus(up, "c").started, true);
    assert.equal(containerStatus(up, "c").restartCount, 0);
  });

  test("a startup probe that reaches failureThreshold kills the container, which restarts", async () => {
    await putPod(d, serverPod("startup-dies", { startupProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 2 } }));
    setMode("startup-dies", "fail");
    await eventLike("startup-dies", "Killing", /^Container c failed startup probe, will be restarted$/);
    await waitFor("restarted", async () => (containerStatus(await getPod(d, "startup-dies"), "c")?.restartCount ?? 0) >= 1, 30_000);
    await d.request("DELETE", "/api/v1/namespaces/default/pods/startup-dies?gracePeriodSeconds=0");
    await waitGone(d, "startup-dies", "default", 30_000);
  });

  test("after a daemon kill -9 the probes resume: not ready until a probe says so, nothing restarted for a failure never seen", async () => {
    await putPod(d, serverPod("adopt", {
      readinessProbe: { httpGet: { port: 8080 }, ...fast },
      livenessProbe: { httpGet: { port: 8080 }, periodSeconds: 1, failureThreshold: 3 },
    }));
    await readyIs("adopt", true);
    await crashDaemon(d);
    d = await startDaemon(env, [], undefined, env.hostNs);
    await readyIs("adopt", true);
    setMode("adopt", "fail");
    await readyIs("adopt", false);
    setMode("adopt", "ok");
    await readyIs("adopt", true);
    assert.equal(containerStatus(await getPod(d, "adopt"), "c").restartCount, 0);
    const all = ["ready-http", "live-http", "tcp-grpc", "exec-probe", "startup", "adopt"];
    for (const p of all) await d.request("DELETE", `/api/v1/namespaces/default/pods/${p}?gracePeriodSeconds=0`);
    const gone = await podd(["wait", "--for=delete", ...all.map((p) => `pod/${p}`), "--timeout", "60s", "--socket", d.socket]);
    assert.deepEqual(pick(gone), [0, all.map((p) => `pod/${p} condition met\n`).join(""), ""]);
    for (const p of all) await waitGone(d, p, "default", 1000);
  });
});
