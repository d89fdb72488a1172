// Robust under abuse: what a user (or a script gone wrong) can do to a running daemon must not
// hurt its pods. Here: a second daemon, or podd run, on roots a daemon already holds is refused
// before it touches anything, naming the holder's pid; a socket another daemon answers on is
// never removed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { destroyEnv, e2eSkip, importBusybox, makeEnv, podd, processesOf, writeManifest } from "./harness.ts";
import { containerStatus, getPod, podManifest, putPod, startDaemon, waitRunning, withDaemonEnv } from "./daemon-helpers.ts";

const skip = e2eSkip();

describe("reliability", { skip, timeout: 120_000 }, () => {
  test("a second daemon or podd run on a daemon's roots is refused, naming its pid; the first and its pods are untouched", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const d = (daemons.current = await startDaemon(env));
      const pod = podManifest("keep", { containers: [{ name: "c", image: "busybox", command: ["sleep", "1000"] }] });
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
      const run = await podd(["run", "-f", writeManifest(env, "p.yaml", JSON.stringify(podManifest("other", { containers: [{ name: "c", image: "busybox", command: ["true"] }] }))), ...env.flags]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(holder));

      // The first daemon still answers on its socket, and its container was neither copied nor restarted.
      assert.equal((await d.request("GET", "/healthz")).status, 200);
      const after = containerStatus(await getPod(d, "keep"), "c");
      assert.equal(after.containerID, before.containerID);
      assert.equal(after.restartCount, 0);
      assert.equal(processesOf(env).length, processes, "no second copy of the container");
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
});
