// Robust under abuse: what a user (or a script gone wrong) can do to a running daemon must not
// hurt its pods or grow the daemon. Here: a second daemon, or podd run, on roots a daemon
// already holds is refused before it touches anything, naming the holder's pid, and so is one
// with roots of its own under the daemon's cgroup parent; a socket another daemon answers on is
// never removed; reading a large log costs the daemon memory independent of the log's size.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, podd, processesOf, waitFor, writeManifest, type Env } from "./harness.ts";
import { alive, containerStatus, crashDaemon, getPod, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, waitRunning, withDaemonEnv } from "./daemon-helpers.ts";
import { pid1Of } from "./pod-helpers.ts";

const skip = e2eSkip();

/** env with another cgroup parent, its flags too. */
function withCgroupParent(env: Env, cgroupParent: string): Env {
  return { ...env, cgroupParent, flags: env.flags.map((f, i, all) => (all[i - 1] === "--cgroup-parent" ? cgroupParent : f)) };
}

describe("reliability", { skip, timeout: 120_000 }, () => {
  test("a second daemon or podd run on a daemon's roots is refused, naming its pid; the first and its pods are untouched", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const d = (daemons.current = await startDaemon(env));
      const pod = podManifest("keep", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] });
      assert.equal((await putPod(d, pod)).status, 201);
      const before = await waitRunning(d, "keep", "c");
      const processes = processesOf(env).length;
      const holder = `is in use by another podd \\(pid ${d.child.pid}\\)`;

      // The same flags, the same roots with another socket, and podd run on the same roots.
      const second = await podd(["daemon", ...env.flags, "--socket", d.socket]);
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, new RegExp(`^error: ${env.state.replace(/[/.]/g, "\\$&")} ${holder}: one daemon or podd run per set of roots`, "m"));
      const otherSocket = await podd(["daemon", ...env.flags, "--socket", join(env.dir, "other.sock")]);
      assert.notEqual(otherSocket.code, 0);
      assert.match(otherSocket.stderr, new RegExp(holder));
      const run = await podd(["run", "-f", writeManifest(env, "p.yaml", JSON.stringify(podManifest("other", { containers: [{ name: "c", image: "busybox:local", command: ["true"] }] }))), ...env.flags]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(holder));

      // The first daemon still answers on its socket, and its container was neither copied nor restarted.
      assert.equal((await d.request("GET", "/healthz")).status, 200);
      const after = containerStatus(await getPod(d, "keep"), "c");
      assert.equal(after.containerID, before.containerID);
      assert.equal(after.restartCount, 0);
      assert.equal(processesOf(env).length, processes, "no second copy of the container");
    }));

  test("a daemon or podd run with roots of its own under a daemon's cgroup parent is refused; the first daemon's pod keeps running", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const d = (daemons.current = await startDaemon(env));
      assert.equal((await putPod(d, podManifest("keep", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] }))).status, 201);
      const before = await waitRunning(d, "keep", "c");
      const other = makeEnv();
      try {
        // The other env's roots, this env's cgroup parent: it would take "keep" for an orphan.
        const flags = withCgroupParent(other, env.cgroupParent).flags;
        const refused = new RegExp(`^error: cgroup parent ${env.cgroupParent} \\(\\S+\\) is in use by another podd: one daemon or podd run per cgroup parent`, "m");
        const daemon = await podd(["daemon", ...flags, "--socket", join(other.dir, "d.sock")]);
        assert.notEqual(daemon.code, 0);
        assert.match(daemon.stderr, refused);
        const run = await podd(["run", "-f", writeManifest(other, "p.yaml", JSON.stringify(podManifest("other", { containers: [{ name: "c", image: "busybox:local", command: ["true"] }] }))), ...flags]);
        assert.equal(run.code, 1);
        assert.match(run.stderr, refused);
        const after = containerStatus(await getPod(d, "keep"), "c");
        assert.equal(after.containerID, before.containerID);
        assert.equal(after.restartCount, 0);
        assert.ok(after.state.running, JSON.stringify(after.state));
      } finally {
        destroyEnv(other);
      }
    }));

  test("a daemon whose cgroup parent holds another podd's parent leaves that podd's pods alone when it sweeps orphans", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      // The inner podd: roots of its own, its parent nested in the outer one's.
      const inner = makeEnv();
      const innerEnv = withCgroupParent(inner, `${env.cgroupParent}/inner`);
      let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
      try {
        await importBusybox(innerEnv);
        d = await startDaemon(innerEnv, [], join(inner.dir, "inner.sock"));
        assert.equal((await putPod(d, podManifest("inner", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] }))).status, 201);
        const before = await waitRunning(d, "inner", "c");
        // The outer daemon starts, sweeps, and runs a pod of its own.
        const outer = (daemons.current = await startDaemon(env));
        assert.equal((await putPod(outer, podManifest("outer", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] }))).status, 201);
        await waitRunning(outer, "outer", "c");
        await crashDaemon(outer);
        daemons.current = await startDaemon(env);
        await waitRunning(daemons.current, "outer", "c");
        const after = containerStatus(await getPod(d, "inner"), "c");
        assert.equal(after.containerID, before.containerID);
        assert.equal(after.restartCount, 0);
        assert.ok(after.state.running, JSON.stringify(after.state));
        assert.ok(alive(pid1Of(innerEnv, "inner", "c")!), "the inner pod's PID 1 still runs");
      } finally {
        await stopDaemon(d, "SIGKILL");
        destroyEnv(innerEnv);
      }
    }));

  test("a daemon on other roots refuses a socket another daemon answers on, and leaves it working", () =>
    withDaemonEnv(async (env, daemons) => {
      const d = (daemons.current = await startDaemon(env));
      const other = makeEnv();
      try {
        const r = await podd(["daemon", ...other.flags, "--socket", d.socket]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /^error: \S+ is in use: another podd daemon answers on it; stop it, or give this one another --socket$/m);
        assert.equal((await d.request("GET", "/healthz")).status, 200);
      } finally {
        destroyEnv(other);
      }
    }));

  test("eight tailLines=1 reads of a 40 MB log at once: the last line each, /healthz answers, the daemon's peak memory grows by less than 50 MB", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const d = (daemons.current = await startDaemon(env, ["--log-max-size", String(16 << 20), "--log-max-files", "4"]));
      // 40 MB in 100-byte lines, then a last line to find, then the container waits.
      const script = "yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456 | head -n 400000; echo the-last-line; exec sleep 1000";
      assert.equal((await putPod(d, podManifest("flood", { containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", script] }] }))).status, 201);
      const tail = `${podPath("flood")}/log?container=c&tailLines=1`;
      await waitFor("the last line in the log", async () => (await d.request("GET", tail)).text === "the-last-line\n", 60_000);
      const peak = () => Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${d.child.pid}/status`, "utf8"))![1]) * 1024;
      const before = peak();
      const reads = Array.from({ length: 8 }, () => d.request("GET", tail));
      const health = await d.request("GET", "/healthz");
      assert.equal(health.status, 200);
      for (const r of await Promise.all(reads)) assert.equal(r.text, "the-last-line\n");
      const grown = peak() - before;
      assert.ok(grown < 50 << 20, `the daemon's peak RSS grew by ${Math.round(grown / 1048576)} MB`);
    }));

  test("a deleted pod's log directory goes with it, and the logs of pods gone while no daemon ran go at start", () =>
    withDaemonEnv(async (env, daemons) => {
      const stale = join(env.log, "pods", "default_gone_0f0e0d0c-0000-4000-8000-000000000000", "c");
      mkdirSync(stale, { recursive: true });
      writeFileSync(join(stale, "0.log"), "2026-12-01T00:00:00Z stdout F from a pod nobody knows\n");
      const d = (daemons.current = await startDaemon(env));
      assert.deepEqual(readdirSync(join(env.log, "pods")), [], "the stale log directory was removed at start");
      for (let i = 0; i < 3; i++) {
        assert.equal((await putPod(d, podManifest(`cycle-${i}`, { containers: [{ name: "c", image: "host", command: ["echo", "hello"] }], restartPolicy: "Never" }))).status, 201);
        await waitFor("the pod's log", () => readdirSync(join(env.log, "pods")).length === 1);
        assert.equal((await d.request("DELETE", `${podPath(`cycle-${i}`)}?gracePeriodSeconds=0`)).status, 200);
        await waitGone(d, `cycle-${i}`);
        assert.deepEqual(readdirSync(join(env.log, "pods")), [], `pod cycle-${i}'s logs went with it`);
      }
    }));

  test("a crash-looping container keeps the logs of its current and previous runs only", () =>
    withDaemonEnv(async (env, daemons) => {
      const d = (daemons.current = await startDaemon(env, ["--backoff-initial", "50ms", "--backoff-max", "100ms"]));
      const crash = { containers: [{ name: "c", image: "host", command: ["sh", "-c", "echo run; exit 1"] }], restartPolicy: "Always" };
      assert.equal((await putPod(d, podManifest("looping", crash))).status, 201);
      const n = await waitFor("five restarts", async () => {
        const st = containerStatus(await getPod(d, "looping"), "c");
        return st?.restartCount >= 5 ? (st.restartCount as number) : undefined;
      });
      const dir = join(env.log, "pods", readdirSync(join(env.log, "pods"))[0]!, "c");
      const runs = readdirSync(dir).map((f) => Number(f.split(".")[0]));
      assert.ok(runs.length > 0 && runs.every((r) => r >= n - 1), `only the last runs' logs are kept at restart ${n}: ${readdirSync(dir).join(" ")}`);
      assert.ok(runs.length <= 3, readdirSync(dir).join(" "));
      const previous = await podd(["logs", "looping", "-p", "--socket", d.socket]);
      assert.equal(previous.stdout, "run\n", previous.stderr);
    }));

  test("alias and nesting bombs through the API are refused by what is wrong with them, and /healthz answers meanwhile", () =>
    withDaemonEnv(async (env, daemons) => {
      const d = (daemons.current = await startDaemon(env));
      const bomb = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: bomb", "  annotations:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
      for (let i = 1; i < 12; i++) bomb.push(`    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
      const deep = `apiVersion: v1\nkind: Pod\nmetadata: {name: deep, annotations: {a: ${"[".repeat(100_000)}${"]".repeat(100_000)}}}\n`;
      const yaml = { "Content-Type": "application/yaml" };
      const answers = [rawRequest(d.socket, "PUT", podPath("bomb"), yaml, bomb.join("\n") + "\n"), rawRequest(d.socket, "PUT", podPath("deep"), yaml, deep)];
      assert.equal((await d.request("GET", "/healthz")).status, 200);
      const [b, n] = await Promise.all(answers);
      assert.equal(b!.status, 422);
      assert.match(b!.body, /document has more than \d+ nodes after expanding aliases/);
      assert.equal(n!.status, 422);
      assert.match(n!.body, /nested more than 200 levels deep/);
      assert.doesNotMatch(n!.body, /call stack/);
    }));

  test("a socket removed (alone, or with the whole run root) is noticed, logged as an error, and served again", () =>
    withDaemonEnv(async (env, daemons) => {
      const d = (daemons.current = await startDaemon(env));
      rmSync(d.socket);
      await waitFor("the daemon to answer on a new socket", async () => {
        try {
          return (await d.request("GET", "/healthz")).status === 200;
        } catch {
          return false; // not listening again yet
        }
      });
      // The daemon's log line may reach its output a moment after it answers again.
      await waitFor("the loss in the daemon's log", () => /error.*the API socket \S+podd\.sock was removed \(with the run root\?\): listening on a new one/.test(d.output()));
      // The daemon may make its new socket while rm still runs, and rm then fails (ENOTEMPTY),
      // as a user's rm -rf would: either way the daemon must answer again.
      spawnSync("rm", ["-rf", env.run]);
      await waitFor("the daemon to answer again after the run root went", async () => {
        try {
          return (await d.request("GET", "/healthz")).status === 200;
        } catch {
          return false;
        }
      });
      await waitFor("the second loss in the daemon's log", () => (d.output().match(/was removed/g)?.length ?? 0) >= 2);
    }));

  test("a run root removed under running pods: the restarted daemon logs it, recreates the containers as restarts with an event, and leaks nothing", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      let d = (daemons.current = await startDaemon(env));
      const pod = podManifest("kept", { terminationGracePeriodSeconds: 1, containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] });
      assert.equal((await putPod(d, pod)).status, 201);
      const before = await waitRunning(d, "kept", "c");
      const oldPid1 = pid1Of(env, "kept", "c")!;
      await crashDaemon(d);
      // As a user's rm -rf would: the pins, mount points, stay (EBUSY), everything else goes.
      spawnSync("rm", ["-rf", env.run]);
      d = daemons.current = await startDaemon(env);
      await waitFor("the container recreated", async () => {
        const s = containerStatus(await getPod(d, "kept"), "c");
        return s?.state?.running && s.containerID !== before.containerID ? s : undefined;
      });
      const s = containerStatus(await getPod(d, "kept"), "c");
      assert.equal(s.restartCount, 1, "a recreated container counts as a restart");
      assert.equal(s.lastState.terminated.reason, "ContainerStatusUnknown");
      assert.ok(!alive(oldPid1), "the old instance was ended, not left running beside the new one");
      const events = (await d.request("GET", "/api/v1/namespaces/default/events")).json.items as { reason: string; message: string }[];
      assert.ok(events.some((e) => e.reason === "ContainerStatusUnknown" && /runtime record under the run root was removed/.test(e.message)), JSON.stringify(events.map((e) => e.reason)));
      assert.match(d.output(), /error.*pod default\/kept: its records under the run root \S+ are gone while containers ran \(c\): they are recreated/);
      assert.equal((await d.request("DELETE", `${podPath("kept")}?gracePeriodSeconds=0`)).status, 200);
      await waitGone(d, "kept");
      assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] }, "no pin of the old sandbox is left stacked under the new one");
    }));

  test("bad requests get kube-apiserver's answers: 400 for a broken escape, 415 for a body of another type, 413 past 3 MiB, unread", () =>
    withDaemonEnv(async (env, daemons) => {
      const d = (daemons.current = await startDaemon(env));
      const escape = await d.request("GET", "/api/v1/namespaces/default/pods/%zz");
      assert.equal(escape.status, 400);
      assert.equal(escape.json.reason, "BadRequest");

      const pod = JSON.stringify(podManifest("typed", { containers: [{ name: "c", image: "host", command: ["true"] }] }));
      const png = await rawRequest(d.socket, "PUT", podPath("typed"), { "Content-Type": "image/png" }, pod);
      assert.equal(png.status, 415);
      assert.match(png.body, /"reason":"UnsupportedMediaType"/);
      const yaml = await rawRequest(d.socket, "PUT", podPath("typed"), { "Content-Type": "application/yaml; charset=utf-8" }, pod);
      assert.equal(yaml.status, 201, yaml.body);

      // 4 MiB sent as fast as the socket takes it, without a Content-Length: refused at 3 MiB.
      const big = await rawRequest(d.socket, "PUT", podPath("big"), { "Content-Type": "application/json", "Transfer-Encoding": "chunked" }, "x".repeat(4 << 20));
      assert.equal(big.status, 413);
      assert.match(big.body, /Request entity too large: limit is 3145728/);
      assert.equal((await d.request("GET", "/healthz")).status, 200);
      assert.equal((await d.request("GET", podPath("big"))).status, 404, "nothing was created");
    }));
});

/**
 * One request with the given headers. The daemon may answer a refused body before all of it is
 * sent and close the connection: the answer is what counts, the EPIPE or reset on the rest is not.
 */
function rawRequest(socket: string, method: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let text = "";
    const cut = (err: NodeJS.ErrnoException) => {
      if (status !== 0 && (err.code === "EPIPE" || err.code === "ECONNRESET" || err.message === "aborted")) resolve({ status, body: text });
      else if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
    };
    const req = httpRequest({ socketPath: socket, method, path, headers }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status, body: text }));
      res.on("error", cut);
    });
    req.on("error", cut);
    req.end(body);
  });
}
