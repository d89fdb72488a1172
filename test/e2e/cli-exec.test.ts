// podd exec against a real daemon: the command runs inside the container (the pod's hostname,
// the container's environment from the manifest, its PID namespace), its exit code becomes
// podd's, -i passes piped stdin, -c picks a container, -it works on a terminal, and kubectl's
// errors for a missing pod or a missing command.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { cli, e2eSkip, repo } from "./harness.ts";
import { waitRunning } from "./daemon-helpers.ts";
import { pid1Of } from "./pod-helpers.ts";
import { withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

const pod = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "x" },
  spec: {
    terminationGracePeriodSeconds: 2,
    containers: [
      { name: "main", image: "busybox", command: ["sleep", "1000"], env: [{ name: "GREETING", value: "hello from the manifest" }] },
      { name: "side", image: "busybox", command: ["sleep", "1000"], env: [{ name: "GREETING", value: "side" }] },
    ],
  },
});

describe("podd exec", { skip, timeout: 120_000 }, () => {
  test("runs inside the container: hostname, environment, PID namespace, exit code, stdin, -c, a terminal", () =>
    withCli(async (c) => {
      assert.equal((await c.apply("x.yaml", pod)).code, 0);
      await waitRunning(c.d, "x", "main");
      await waitRunning(c.d, "x", "side");

      const host = await c.run("exec", ["x", "-c", "main", "--", "hostname"]);
      assert.equal(host.code, 0, host.stderr);
      assert.equal(host.stdout, "x\n");

      const env = await c.run("exec", ["x", "-c", "main", "--", "sh", "-c", "echo $GREETING"]);
      assert.equal(env.stdout, "hello from the manifest\n");
      assert.equal((await c.run("exec", ["x", "-c", "side", "--", "sh", "-c", "echo $GREETING"])).stdout, "side\n");

      // The container's PID namespace: a small pid, and the very namespace its PID 1 is in.
      const pid = await c.run("exec", ["x", "-c", "main", "--", "sh", "-c", "echo $$"]);
      assert.equal(pid.code, 0, pid.stderr);
      assert.ok(Number(pid.stdout) > 1 && Number(pid.stdout) < 100, `pid ${pid.stdout}`);
      const ns = await c.run("exec", ["x", "-c", "main", "--", "readlink", "/proc/self/ns/pid"]);
      assert.equal(ns.stdout.trim(), readlinkSync(`/proc/${pid1Of(c.env, "x", "main")}/ns/pid`));
      assert.notEqual(ns.stdout.trim(), readlinkSync("/proc/self/ns/pid"));

      const seven = await c.run("exec", ["x", "-c", "main", "--", "sh", "-c", "exit 7"]);
      assert.equal(seven.code, 7);
      assert.equal((await c.run("exec", ["x", "-c", "main", "--", "false"])).code, 1);

      const cat = await c.run("exec", ["-i", "x", "-c", "main", "--", "cat"], { input: "hi\nthere\n" });
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, "hi\nthere\n");
      // Without -i the command gets no stdin: cat ends at once with nothing.
      assert.equal((await c.run("exec", ["x", "-c", "main", "--", "cat"], { input: "ignored\n" })).stdout, "");

      // -it on a terminal (script gives podd one): the command sees a terminal on stdin.
      const cmd = [process.execPath, "--import", "tsx", cli, "exec", "--socket", c.d.socket, "-it", "x", "-c", "main", "--", "sh", "-c", "test -t 0 && echo on-a-tty"];
      const tty = spawnSync("script", ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"], { cwd: repo, encoding: "utf8", input: "", timeout: 60_000 });
      assert.equal(tty.status, 0, tty.stdout + tty.stderr);
      assert.match(tty.stdout, /on-a-tty/);
    }));

  test("without -c the first of two containers, with kubectl's note; errors: a missing pod, an unknown container, no command", () =>
    withCli(async (c) => {
      assert.equal((await c.apply("x.yaml", pod)).code, 0);
      await waitRunning(c.d, "x", "main");
      await waitRunning(c.d, "x", "side");
      // As kubectl (and podd logs) does, exec takes the first container of several, with a note.
      const which = await c.run("exec", ["x", "--", "hostname"]);
      assert.equal(which.code, 0, which.stderr);
      assert.equal(which.stdout, "x\n");
      assert.equal(which.stderr, 'Defaulted container "main" out of: main, side\n');

      const missing = await c.run("exec", ["nope", "--", "true"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');

      const unknown = await c.run("exec", ["x", "-c", "zzz", "--", "true"]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /zzz/);

      const none = await c.run("exec", ["x"]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /^error: give the command after --/);
    }));
});
