// podd exec against a real daemon: the command runs inside the container (the pod's hostname,
// the container's environment from the manifest, its PID namespace), its exit code becomes
// podd's, -i passes piped stdin, -c picks a container, -it works on a terminal, and kubectl's
// errors for a missing pod or a missing command; with -it a terminal of the container's own
// (its /dev/pts, a size, job control), HOME from the image's /etc/passwd, TERM only with -t.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { onTerminal } from "../terminal.ts";
import { readlinkSync } from "node:fs";
import { cli, e2eSkip, repo } from "./harness.ts";
import { waitRunning } from "./daemon-helpers.ts";
import { pid1Of } from "./pod-helpers.ts";
import { withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

/** `podd ARGS…` on a terminal of 33 rows and 101 columns, with TERM=vt220. */
function poddOnTerminal(args: string[]): Promise<{ status: number | null; out: string }> {
  const cmd = "stty rows 33 cols 101; " + [process.execPath, "--import", "tsx", cli, ...args].map((a) => `'${a}'`).join(" ");
  return onTerminal(cmd, { cwd: repo, env: { ...process.env, TERM: "vt220" }, timeoutMs: 60_000 });
}

const onePod = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "one" },
  spec: { terminationGracePeriodSeconds: 2, containers: [{ name: "main", image: "busybox:local", command: ["sleep", "1000"] }] },
});

const pod = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "x" },
  spec: {
    terminationGracePeriodSeconds: 2,
    containers: [
      { name: "main", image: "busybox:local", command: ["sleep", "1000"], env: [{ name: "GREETING", value: "hello from the manifest" }] },
      { name: "side", image: "busybox:local", command: ["sleep", "1000"], env: [{ name: "GREETING", value: "side" }] },
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

  test("-it: a terminal of the container's own, HOME from its /etc/passwd, TERM only with -t", () =>
    withCli(async (c) => {
      assert.equal((await c.apply("one.yaml", onePod)).code, 0);
      await waitRunning(c.d, "one", "main");

      const tty = await poddOnTerminal(["exec", "--socket", c.d.socket, "-it", "one", "--", "sh", "-c", "tty; stty size; echo HOME=$HOME TERM=$TERM; exit 4"]);
      assert.equal(tty.status, 4, tty.out);
      // The container's own devpts: the pty is there, under the name the command was told.
      assert.match(tty.out, /^\/dev\/pts\/\d+\n33 101\nHOME=\/root TERM=vt220\n$/);

      // The command leads a session of its own on that terminal, so a shell has job control
      // (busybox sh says it "can't access tty" when it has none).
      const jobs = await poddOnTerminal(["exec", "--socket", c.d.socket, "-it", "one", "--", "sh", "-c", "set -m; sleep 0 & wait; set -- $(cat /proc/$$/stat); echo pid=$1 sid=$6"]);
      assert.equal(jobs.status, 0, jobs.out);
      assert.match(jobs.out, /^pid=(\d+) sid=\1\n$/);

      // Without -t, on the same terminal: none in the container, no TERM (the caller's is not
      // passed on), the same HOME.
      const plain = await poddOnTerminal(["exec", "--socket", c.d.socket, "-i", "one", "--", "sh", "-c", "tty; echo HOME=$HOME TERM=$TERM"]);
      assert.equal(plain.out, "not a tty\nHOME=/root TERM=\n");
      // The container itself was started with that HOME (not only what exec gives its command):
      // its command is PID 1's child (PID 1, podd-init, is not dumpable, so its environ is closed).
      const main = await c.run("exec", ["one", "--", "sh", "-c", "for p in /proc/[0-9]*; do set -- $(cat $p/stat); [ $4 = 1 ] && tr '\\0' '\\n' <$p/environ | grep ^HOME=; done"]);
      assert.equal(main.stdout, "HOME=/root\n", main.stderr);
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

  test("allowPrivilegeEscalation: false sets no_new_privs for the command, its postStart hook and podd exec; unset, none of them", () =>
    withCli(async (c) => {
      const nnp = (name: string, extra: Record<string, unknown>) =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [{
              name: "main",
              image: "busybox:local",
              command: ["sh", "-c", "grep ^NoNewPrivs /proc/self/status > /tmp/main; exec sleep 1000"],
              lifecycle: { postStart: { exec: { command: ["sh", "-c", "grep ^NoNewPrivs /proc/self/status > /tmp/hook"] } } },
              ...extra,
            }],
          },
        });
      const read = async (pod: string) => (await c.run("exec", [pod, "--", "sh", "-c", "cat /tmp/main /tmp/hook; grep ^NoNewPrivs /proc/self/status"])).stdout.replace(/\s+/g, " ").trim();
      assert.equal((await c.apply("nnp.yaml", nnp("nnp", { securityContext: { allowPrivilegeEscalation: false } }))).code, 0);
      assert.equal((await c.apply("plain.yaml", nnp("plain", {}))).code, 0);
      await waitRunning(c.d, "nnp", "main");
      await waitRunning(c.d, "plain", "main");
      assert.equal(await read("nnp"), "NoNewPrivs: 1 NoNewPrivs: 1 NoNewPrivs: 1");
      assert.equal(await read("plain"), "NoNewPrivs: 0 NoNewPrivs: 0 NoNewPrivs: 0", "the control: nothing sets it by default");
    }));
});
