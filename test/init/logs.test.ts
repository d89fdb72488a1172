// The monitor's log: CRI records, per-stream order, partial records for long lines,
// rotation, and logging that outlives the monitor's parent.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  FIXTURE,
  INIT,
  build,
  criLines,
  needsRoot,
  parseCriLog,
  procStat,
  signalPid,
  startContainer,
  waitFor,
  withCleanup,
  Container,
  Proc,
} from "./helpers.ts";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

function bigLine(bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}

describe("podd-init container logs", { skip: needsRoot }, () => {
  before(build);

  test("stdout and stderr land in CRI format, in order per stream", () =>
    withCleanup(async (c) => {
      const ctr = startContainer(c, [FIXTURE, "interleave", "300"]);
      assert.equal((await ctr.finished()).record.exitCode, 0);
      const records = parseCriLog(ctr.log());
      assert.equal(records.length, 600);
      for (const r of records) {
        assert.match(r.time, RFC3339_NANO);
        assert.equal(r.tag, "F");
      }
      assert.deepEqual(criLines(records, "stdout"), range(300, "out"));
      assert.deepEqual(criLines(records, "stderr"), range(300, "err"));
      // timestamps never go backwards within a stream
      const times = records.filter((r) => r.stream === "stdout").map((r) => r.time);
      assert.deepEqual([...times].sort(), times);
    }));

  test("a 100 KiB line becomes 16 KiB partial records that reassemble to it; 16 KiB exactly stays whole", () =>
    withCleanup(async (c) => {
      const big = startContainer(c, [FIXTURE, "big-line", String(100 * 1024)]);
      const exact = startContainer(c, [FIXTURE, "big-line", String(16 * 1024)]);
      await big.finished();
      await exact.finished();
      const records = parseCriLog(big.log());
      assert.deepEqual(records.map((r) => r.tag), ["P", "P", "P", "P", "P", "P", "F"]);
      assert.ok(records.slice(0, 6).every((r) => r.message.length === 16 * 1024));
      assert.deepEqual(criLines(records, "stdout"), [bigLine(100 * 1024)]);
      const exactRecords = parseCriLog(exact.log());
      assert.deepEqual(exactRecords.map((r) => [r.tag, r.message.length]), [["F", 16 * 1024]]);
    }));

  test("rotation keeps N files of at most the maximum size, newest last", () =>
    withCleanup(async (c) => {
      const dir = c.tmpdir();
      const log = path.join(dir, "0.log");
      const ctr = new Container(c, dir, log, ["--log-max-size", "4096", "--log-max-files", "3"], [FIXTURE, "interleave", "400"]);
      assert.equal((await ctr.finished()).record.exitCode, 0);
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("0.log")).sort(), ["0.log", "0.log.1", "0.log.2"]);
      for (const f of ["0.log", "0.log.1", "0.log.2"]) assert.ok(fs.statSync(path.join(dir, f)).size <= 4096, f);
      // Oldest to newest, what is kept is the unbroken tail of each stream (how the two
      // streams interleave depends on which pipe the monitor read first).
      const kept = parseCriLog(["0.log.2", "0.log.1", "0.log"].map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join(""));
      assert.ok(kept.length > 150 && kept.length < 800, `${kept.length} records kept`);
      for (const [stream, prefix] of [["stdout", "out"], ["stderr", "err"]] as const) {
        const lines = criLines(kept, stream);
        assert.deepEqual(lines, range(400, prefix).slice(400 - lines.length), `${stream} is a tail`);
      }
    }));

  test("killing the monitor's parent does not stop logging", () =>
    withCleanup(async (c) => {
      const dir = c.tmpdir();
      const log = path.join(dir, "0.log");
      // A shell starts the monitor and dies; the monitor must carry on (own session,
      // SIGPIPE ignored) and the command must keep its log and its signals.
      const parent = new Proc(c, "sh", ["-c", `"$0" container --state-dir "$1" --log "$2" -- "$3" trap-report - & echo $!; wait`, INIT, dir, log, FIXTURE]);
      await waitFor("the monitor's pid", () => /^\d+\n/.test(parent.stdout));
      const monitor = Number(parent.stdout.trim());
      const monitorStart = procStat(monitor)?.startTime;
      c.defer(() => {
        // Not our child: make sure the pid is still the monitor before killing it.
        if (monitorStart !== undefined && procStat(monitor)?.startTime === monitorStart) signalPid(monitor, "SIGKILL");
      });
      await waitFor("ready", () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("stdout F ready"));
      signalPid(parent.pid, "SIGKILL");
      await parent.exited; // not closed: the monitor still holds the shell's stdout
      signalPid(monitor, "SIGUSR1");
      await waitFor("USR1 logged after the parent died", () => criLines(parseCriLog(fs.readFileSync(log, "utf8")), "stdout").includes("USR1"));
      signalPid(monitor, "SIGTERM");
      await waitFor("exit.json", () => fs.existsSync(path.join(dir, "exit.json")));
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "exit.json"), "utf8")).exitCode, 0);
      // (CONT follows USR1: podd-init sends it after every signal whose default is to terminate.)
      assert.deepEqual(criLines(parseCriLog(fs.readFileSync(log, "utf8")), "stdout"), ["ready", "USR1", "CONT", "TERM"]);
    }));
});
