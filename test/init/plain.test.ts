// Role 1, `podd-init [--] CMD`: the PID-1 duties. Reaping (with the negative control
// that leaves zombies without podd-init), signal forwarding, exit codes, coalesced
// SIGCHLD, and ending what is left when the command exits.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  FIXTURE,
  INIT,
  build,
  descendants,
  needsRoot,
  onlyChild,
  procStat,
  run,
  signalPid,
  startPlainInPidNs,
  waitFor,
  withCleanup,
  Proc,
} from "./helpers.ts";

const SIGNALS_TO_FORWARD = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

describe("podd-init as a plain init", { skip: needsRoot }, () => {
  before(build);

  test("reaps 100 orphans: none stays a zombie", () =>
    withCleanup(async (c) => {
      const { proc } = await startPlainInPidNs(c, [FIXTURE, "orphans", "100"]);
      await proc.waitOutput("released 100");
      // Settled: only unshare, podd-init and the fixture are left, and nothing is in state Z.
      await waitFor("all orphans reaped", () => {
        const procs = descendants(proc.pid);
        return procs.length === 3 && procs.every((p) => p.state !== "Z");
      });
    }));

  test("negative control: the same workload without podd-init leaves zombies", () =>
    withCleanup(async (c) => {
      // The fixture itself is PID 1 and never calls waitpid(-1).
      const { proc } = await startPlainInPidNs(c, [FIXTURE, "orphans", "100"], false);
      await proc.waitOutput("released 100");
      const zombies = await waitFor("100 zombies", () => {
        const z = descendants(proc.pid).filter((p) => p.state === "Z");
        return z.length >= 100 ? z.length : undefined;
      });
      assert.equal(zombies, 100);
    }));

  test("as a subreaper (not PID 1) it still reaps orphans", () =>
    withCleanup(async (c) => {
      const proc = new Proc(c, INIT, ["--", FIXTURE, "orphans", "100"]);
      await proc.waitOutput("released 100");
      await waitFor("all orphans reaped", () => {
        const procs = descendants(proc.pid);
        return procs.length === 2 && procs.every((p) => p.state !== "Z");
      });
      signalPid(proc.pid, "SIGTERM");
      assert.deepEqual(await proc.exit(), { code: 128 + 15, signal: null });
    }));

  test("500 orphans exiting at once (coalesced SIGCHLD) never hang PID 1", () =>
    withCleanup(async (c) => {
      const { proc, pid1 } = await startPlainInPidNs(c, [FIXTURE, "orphans", "500"]);
      await proc.waitOutput("released 500");
      await waitFor("all 500 reaped", () => descendants(proc.pid).length === 3, 10000);
      // Still responsive afterwards: SIGTERM reaches the command, which dies of it.
      signalPid(pid1, "SIGTERM");
      assert.deepEqual(await proc.exit(), { code: 128 + 15, signal: null });
    }));

  test(`forwards ${SIGNALS_TO_FORWARD.join(", ")} and SIGTERM to the command`, () =>
    withCleanup(async (c) => {
      const report = path.join(c.tmpdir(), "signals");
      const { proc, pid1 } = await startPlainInPidNs(c, [FIXTURE, "trap-report", report]);
      await waitFor("fixture ready", () => fs.existsSync(report) && fs.readFileSync(report, "utf8").includes("ready"));
      const received = () => fs.readFileSync(report, "utf8").split("\n");
      for (const sig of SIGNALS_TO_FORWARD) {
        signalPid(pid1, sig);
        await waitFor(`${sig} to reach the command`, () => received().includes(sig.slice(3)));
      }
      signalPid(pid1, "SIGTERM");
      assert.deepEqual(await proc.exit(), { code: 0, signal: null });
      assert.ok(received().includes("TERM"));
    }));

  test("a command that ignores SIGTERM keeps running", () =>
    withCleanup(async (c) => {
      const report = path.join(c.tmpdir(), "signals");
      const { proc, pid1 } = await startPlainInPidNs(c, [FIXTURE, "trap-report", report, "TERM"]);
      await waitFor("fixture ready", () => fs.existsSync(report) && fs.readFileSync(report, "utf8").includes("ready"));
      const cmd = await onlyChild(pid1);
      // Standard signals are dequeued lowest number first, by PID 1 and by the
      // fixture alike, so WINCH (28) is handled after TERM (15): once WINCH has
      // arrived, TERM has been forwarded and ignored.
      signalPid(pid1, "SIGTERM");
      signalPid(pid1, "SIGWINCH");
      await waitFor("WINCH to arrive", () => fs.readFileSync(report, "utf8").includes("WINCH"));
      assert.ok(!fs.readFileSync(report, "utf8").includes("TERM"));
      assert.ok(proc.running);
      assert.notEqual(procStat(cmd)?.state ?? "gone", "Z");
    }));

  test("a stopped command still exits on SIGTERM", () =>
    withCleanup(async (c) => {
      const { proc, pid1 } = await startPlainInPidNs(c, [FIXTURE, "sleep-forever"]);
      const cmd = await onlyChild(pid1);
      signalPid(cmd, "SIGSTOP");
      await waitFor("the command to stop", () => procStat(cmd)?.state === "T");
      signalPid(pid1, "SIGTERM");
      assert.deepEqual(await proc.exit(), { code: 128 + 15, signal: null });
    }));

  test("exit codes 0-255 pass through; death by signal N gives 128+N", () => {
    for (const code of [0, 1, 2, 42, 99, 127, 128, 200, 254, 255]) {
      const r = run(INIT, ["--", FIXTURE, "exit", String(code)]);
      assert.equal(r.status, code, `exit ${code}`);
    }
    for (const [name, n] of [["HUP", 1], ["INT", 2], ["ABRT", 6], ["KILL", 9], ["USR1", 10], ["SEGV", 11], ["TERM", 15]] as const) {
      const r = run(INIT, ["--", FIXTURE, "kill-self", name]);
      assert.equal(r.status, 128 + n, `kill-self ${name}`);
    }
  });

  test("a missing command gives 127, a non-executable one 126, with the reason", () => {
    const missing = run(INIT, ["no-such-command-podd"]);
    assert.equal(missing.status, 127);
    assert.equal(missing.stderr, 'podd-init: exec: "no-such-command-podd": executable file not found in $PATH\n');
    const notExec = run(INIT, ["--", "/etc/passwd"]);
    assert.equal(notExec.status, 126);
    assert.equal(notExec.stderr, 'podd-init: exec: "/etc/passwd": permission denied\n');
  });

  test("as PID 1, what is left is killed when the command exits", () =>
    withCleanup(async (c) => {
      const proc = new Proc(c, "unshare", ["--pid", "--fork", "--kill-child", INIT, "--", FIXTURE, "spawn-and-exit", "20", "7"]);
      // 20 children sleeping forever would keep the namespace alive if PID 1 did not end them.
      assert.deepEqual(await proc.exit(), { code: 7, signal: null });
      assert.match(proc.stdout, /spawned 20/);
    }));
});
