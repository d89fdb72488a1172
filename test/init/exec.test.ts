// Role 4, `podd-init exec`: a command inside a running container sees its hostname, PID
// and mount namespaces and cgroups; exit codes pass through; signals are forwarded.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  FIXTURE,
  INIT,
  build,
  makeSandbox,
  needsRoot,
  nsInode,
  run,
  signalPid,
  startContainer,
  startHolder,
  withCleanup,
  Proc,
} from "./helpers.ts";

describe("podd-init exec", { skip: needsRoot }, () => {
  before(build);

  test("runs a command inside a running container; exit codes and signals pass through", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const pins = makeSandbox(holder, c.tmpdir(), "exec-pod");
      const cgroup = c.cgroup("pids");
      const ctr = startContainer(c, [FIXTURE, "sleep-forever"], ["--net", pins.net, "--ipc", pins.ipc, "--uts", pins.uts, "--cgroup", cgroup]);
      const start = await ctr.started();
      const exec = (...cmd: string[]) => run(INIT, ["exec", "--pid", String(start.pid1), "--", ...cmd]);

      assert.equal(exec(FIXTURE, "hostname").stdout, "exec-pod\n");

      const ids = new Map(exec(FIXTURE, "ns-ids").stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
      for (const kind of ["pid", "mnt", "net", "ipc", "uts"]) {
        assert.equal(Number(ids.get(kind)), nsInode(start.pid1, kind), `${kind} namespace`);
      }
      assert.notEqual(Number(ids.get("mnt")), nsInode("self", "mnt"));

      // In the container's PID namespace, beside pid 1 and 2; its parent is outside (ppid 0).
      const m = /^pid (\d+) ppid 0\n$/.exec(exec(FIXTURE, "print-pid").stdout);
      assert.ok(m && Number(m[1]) > 2, "a pid of the container's namespace");

      const cgroups = exec(FIXTURE, "read-file", "/proc/self/cgroup").stdout;
      assert.match(cgroups, new RegExp(`^\\d+:pids:/${path.basename(cgroup)}$`, "m"));

      assert.equal(exec(FIXTURE, "exit", "42").status, 42);
      assert.equal(exec(FIXTURE, "kill-self", "TERM").status, 143);
      const missing = exec("no-such-command-podd");
      assert.equal(missing.status, 127);
      assert.equal(missing.stderr, 'podd-init exec: exec: "no-such-command-podd": executable file not found in $PATH\n');

      const asUser = run(INIT, ["exec", "--pid", String(start.pid1), "--uid", "1000", "--gid", "1000", "--cwd", "/tmp", "--", FIXTURE, "print-ids"]);
      assert.equal(asUser.stdout, "uid 1000 gid 1000 groups  cwd /tmp\n");

      // Signals sent to the exec process reach the command.
      const trap = new Proc(c, INIT, ["exec", "--pid", String(start.pid1), "--", FIXTURE, "trap-report", "-"]);
      await trap.waitOutput("ready");
      for (const sig of ["SIGINT", "SIGWINCH", "SIGUSR1", "SIGHUP"] as const) {
        signalPid(trap.pid, sig);
        await trap.waitOutput(`${sig.slice(3)}\n`);
      }
      signalPid(trap.pid, "SIGTERM");
      assert.deepEqual(await trap.exit(), { code: 0, signal: null });

      // The container is still running after all of that.
      assert.ok(ctr.running);
      signalPid(ctr.pid, "SIGTERM");
      assert.equal((await ctr.finished()).record.exitCode, 143);
      // ... and exec into a finished container fails cleanly.
      const late = exec(FIXTURE, "exit", "0");
      assert.equal(late.status, 125);
      assert.match(late.stderr, /^podd-init exec: open \/proc\/\d+\/ns\/\w+: No such file or directory\n$/);
    }));
});
