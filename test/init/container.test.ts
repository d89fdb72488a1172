// Role 3, `podd-init container`: the monitor and the container's PID 1. Namespaces joined
// and created, cgroups joined by PID 1 only, start.json/exit.json, exit codes and start
// errors, signal relay, the command's ids, cwd and stdin.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  FIXTURE,
  build,
  criLines,
  makeSandbox,
  needsRoot,
  nsInode,
  parseCriLog,
  procStat,
  signalPid,
  startContainer,
  startHolder,
  waitFor,
  withCleanup,
} from "./helpers.ts";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

function cgroupOf(pid: number, hierarchy: RegExp): string | undefined {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => hierarchy.test(l));
  return line?.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
}

describe("podd-init container", { skip: needsRoot }, () => {
  before(build);

  test("joins the pod's namespaces, creates its own PID and mount namespaces, joins cgroups, records start and exit", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const pins = makeSandbox(holder, c.tmpdir(), "pod-one");
      const v1 = c.cgroup("pids");
      const v2 = c.cgroup("unified");
      const ctr = startContainer(c, [FIXTURE, "sleep-forever"], [
        "--net", pins.net, "--ipc", pins.ipc, "--uts", pins.uts,
        "--cgroup", v1, "--cgroup", v2,
      ]);
      const start = await ctr.started();
      assert.equal(start.monitorPid, ctr.pid);
      assert.equal(procStat(start.pid1)?.ppid, ctr.pid, "PID 1 is the monitor's child");
      assert.equal(procStat(start.pid)?.ppid, start.pid1, "the command is PID 1's child");
      assert.equal(start.pid1StartTime, procStat(start.pid1)?.startTime);
      assert.match(start.startedAt, RFC3339_NANO);

      for (const kind of ["net", "ipc", "uts"] as const) {
        const pinned = fs.statSync(pins[kind]).ino;
        assert.equal(nsInode(start.pid, kind), pinned, `${kind} namespace of the command`);
        assert.notEqual(nsInode("self", kind), pinned);
      }
      for (const kind of ["pid", "mnt"]) {
        assert.notEqual(nsInode(start.pid, kind), nsInode("self", kind), `own ${kind} namespace`);
        assert.notEqual(nsInode(start.pid, kind), nsInode(ctr.pid, kind), `the monitor stays in the host ${kind} namespace`);
        assert.equal(nsInode(start.pid, kind), nsInode(start.pid1, kind));
      }
      assert.equal(fs.readFileSync(`/proc/${start.pid}/status`, "utf8").match(/^NSpid:\s+\d+\s+(\d+)$/m)?.[1], "2");
      assert.equal(fs.readFileSync(`/proc/${start.pid1}/status`, "utf8").match(/^NSpid:\s+\d+\s+(\d+)$/m)?.[1], "1");

      const v1Name = `/${path.basename(v1)}`;
      for (const pid of [start.pid1, start.pid]) {
        assert.equal(cgroupOf(pid, /^\d+:pids:/), v1Name);
        assert.equal(cgroupOf(pid, /^0::/), `/${path.basename(v2)}`);
      }
      assert.notEqual(cgroupOf(ctr.pid, /^\d+:pids:/), v1Name, "the monitor stays outside");

      signalPid(ctr.pid, "SIGTERM");
      const { exit, record } = await ctr.finished();
      assert.deepEqual(exit, { code: 143, signal: null });
      assert.equal(record.exitCode, 143);
      assert.equal(record.signal, 15);
      assert.equal(record.reason, "Error");
      assert.equal(record.startedAt, start.startedAt);
      assert.match(record.finishedAt, RFC3339_NANO);
      assert.ok(record.finishedAt >= record.startedAt);
      assert.deepEqual(fs.readdirSync(ctr.stateDir).filter((f) => f.endsWith(".json")).sort(), ["exit.json", "start.json"]);
    }));

  test("the command is pid 2 under podd-init, in the pod's UTS namespace", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const pins = makeSandbox(holder, c.tmpdir(), "pod-two");
      const a = startContainer(c, [FIXTURE, "print-pid"], ["--uts", pins.uts]);
      const b = startContainer(c, [FIXTURE, "hostname"], ["--uts", pins.uts]);
      assert.equal((await a.finished()).record.reason, "Completed");
      assert.equal((await b.finished()).record.reason, "Completed");
      assert.deepEqual(criLines(parseCriLog(a.log()), "stdout"), ["pid 2 ppid 1"]);
      assert.deepEqual(criLines(parseCriLog(b.log()), "stdout"), ["pod-two"]);
    }));

  test("exit codes and signals pass through to exit.json and the monitor's status", () =>
    withCleanup(async (c) => {
      const cases: Array<[string[], number, number, string]> = [
        ...[0, 1, 2, 42, 127, 128, 254, 255].map((n): [string[], number, number, string] => [["exit", String(n)], n, 0, n === 0 ? "Completed" : "Error"]),
        [["kill-self", "KILL"], 137, 9, "Error"],
        [["kill-self", "TERM"], 143, 15, "Error"],
        [["kill-self", "SEGV"], 139, 11, "Error"],
      ];
      const runs = cases.map(([args]) => startContainer(c, [FIXTURE, ...args]));
      for (const [i, [args, code, signal, reason]] of cases.entries()) {
        const { exit, record } = await runs[i]!.finished();
        assert.equal(exit.code, code, args.join(" "));
        assert.equal(record.exitCode, code, args.join(" "));
        assert.equal(record.signal, signal, args.join(" "));
        assert.equal(record.reason, reason, args.join(" "));
        assert.ok(fs.existsSync(path.join(runs[i]!.stateDir, "start.json")));
      }
    }));

  test("a missing or non-executable command is a StartError with Kubernetes' message", () =>
    withCleanup(async (c) => {
      const missing = startContainer(c, ["no-such-command-podd"]);
      const notExec = startContainer(c, ["/etc/passwd"]);
      const m = await missing.finished();
      assert.equal(m.exit.code, 127);
      assert.deepEqual(
        { exitCode: m.record.exitCode, reason: m.record.reason, message: m.record.message },
        { exitCode: 127, reason: "StartError", message: 'exec: "no-such-command-podd": executable file not found in $PATH' },
      );
      assert.equal(missing.stderr, 'podd-init container: exec: "no-such-command-podd": executable file not found in $PATH\n');
      const n = await notExec.finished();
      assert.deepEqual(
        { exitCode: n.record.exitCode, reason: n.record.reason, message: n.record.message },
        { exitCode: 126, reason: "StartError", message: 'exec: "/etc/passwd": permission denied' },
      );
      assert.ok(!fs.existsSync(path.join(missing.stateDir, "start.json")), "no start.json without a start");
    }));

  test("a setup failure in PID 1 (a cgroup that does not exist) is a StartError", () =>
    withCleanup(async (c) => {
      const bogus = path.join(c.tmpdir(), "not-a-cgroup");
      const ctr = startContainer(c, [FIXTURE, "exit", "0"], ["--cgroup", bogus]);
      const { exit, record } = await ctr.finished();
      assert.equal(exit.code, 128);
      assert.equal(record.reason, "StartError");
      assert.equal(record.exitCode, 128);
      assert.equal(record.message, `join cgroup ${bogus}: No such file or directory`);
      assert.equal(ctr.stderr.trim().split("\n").length, 1);
    }));

  test("signals sent to the monitor reach the command; a stopped command still dies of SIGTERM", () =>
    withCleanup(async (c) => {
      const ctr = startContainer(c, [FIXTURE, "trap-report", "-"]);
      await waitFor("ready", () => ctr.log().includes("stdout F ready"));
      const names = ["HUP", "INT", "QUIT", "USR1", "USR2", "WINCH"];
      for (const name of names) {
        signalPid(ctr.pid, `SIG${name}` as NodeJS.Signals);
        await waitFor(`${name} in the log`, () => criLines(parseCriLog(ctr.log()), "stdout").includes(name));
      }
      signalPid(ctr.pid, "SIGTERM");
      const { record } = await ctr.finished();
      assert.equal(record.exitCode, 0);
      assert.ok(criLines(parseCriLog(ctr.log()), "stdout").includes("TERM"));

      const stopped = startContainer(c, [FIXTURE, "sleep-forever"]);
      const start = await stopped.started();
      signalPid(start.pid, "SIGSTOP");
      await waitFor("stopped", () => procStat(start.pid)?.state === "T");
      signalPid(stopped.pid, "SIGTERM");
      assert.equal((await stopped.finished()).record.exitCode, 143);
    }));

  test("the command runs with the given uid, gid, groups and cwd; stdin is /dev/null unless --stdin", () =>
    withCleanup(async (c) => {
      const cwd = c.tmpdir();
      const ids = startContainer(c, [FIXTURE, "print-ids"], ["--uid", "1234", "--gid", "2345", "--groups", "5,6", "--cwd", cwd]);
      await ids.finished();
      assert.deepEqual(criLines(parseCriLog(ids.log()), "stdout"), [`uid 1234 gid 2345 groups 5,6 cwd ${cwd}`]);

      const devnull = startContainer(c, [FIXTURE, "cat"]);
      assert.equal((await devnull.finished()).record.exitCode, 0);
      assert.equal(devnull.log(), "");

      const piped = startContainer(c, [FIXTURE, "cat"], ["--stdin"], { stdio: ["pipe", "pipe", "pipe"] });
      piped.child.stdin?.end("from stdin\n");
      await piped.finished();
      assert.deepEqual(criLines(parseCriLog(piped.log()), "stdout"), ["from stdin"]);

      const badCwd = startContainer(c, [FIXTURE, "exit", "0"], ["--cwd", path.join(cwd, "missing")]);
      const { record } = await badCwd.finished();
      assert.equal(record.reason, "StartError");
      assert.match(record.message, /^chdir .*missing: No such file or directory$/);
    }));
});
