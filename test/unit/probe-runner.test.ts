// podd-init prober through its client: many checks at once, answers matched to requests, exec
// output kept to 10 KiB and a check killed at its limit with its command, responses judged
// complete by their length (a server that ignores Connection: close), and a prober that dies
// failing what it ran while the next check starts another.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createNet, type Server } from "node:net";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ProbeRunner } from "../../supervisor/runtime/probe-runner.ts";
import { httpProbe } from "../../supervisor/runtime/probe.ts";

const initPath = fileURLToPath(new URL("../../init/build/podd-init", import.meta.url));
const skip = !existsSync(initPath) ? "init/build/podd-init missing: run npm ci" : false;
const rootSkip = skip || (process.getuid?.() !== 0 ? "podd-init exec joins another process's namespaces: needs root" : false);
const runner = new ProbeRunner(initPath);
after(() => runner.close());

async function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

/** A process to exec into: a sleep of our own, ended by pid. */
async function withTarget<T>(fn: (pid: number) => Promise<T>): Promise<T> {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  try {
    return await fn(child.pid!);
  } finally {
    child.kill("SIGKILL");
  }
}

test("exec: the exit code and both streams; output beyond 10 KiB dropped; many at once, each answered as its own", { skip: rootSkip }, () =>
  withTarget(async (pid) => {
    const exec = (cmd: string, ms = 5000) => runner.exec(["--pid", String(pid), "--", "sh", "-c", cmd], ms);
    const a = await exec("echo out; echo err >&2; exit 3");
    assert.equal(a.result, "exit:3");
    assert.equal(a.bytes.toString(), "out\nerr\n");
    const big = await exec("head -c 100000 /dev/zero");
    assert.equal(big.result, "exit:0");
    assert.equal(big.bytes.length, 10 * 1024);
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => exec(`echo ${i}; exit ${i % 7}`)));
    many.forEach((m, i) => assert.deepEqual([m.result, m.bytes.toString()], [`exit:${i % 7}`, `${i}\n`]));
    const missing = await runner.exec(["--pid", String(pid), "--", "no-such-command"], 5000);
    assert.equal(missing.result, "exit:127");
    assert.match(missing.bytes.toString(), /no-such-command/);
  }));

test("exec: at its limit the check is killed, its command with it", { skip: rootSkip }, () =>
  withTarget(async (pid) => {
    // A duration no other sleep has: how the command is found in /proc.
    const marker = `59.${process.pid}${Date.now() % 100000}`;
    const t = Date.now();
    const a = await runner.exec(["--pid", String(pid), "--", "sleep", marker], 300);
    assert.equal(a.result, "timeout");
    assert.ok(Date.now() - t < 5000);
    const alive = () =>
      readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8") === `sleep\0${marker}\0`;
        } catch {
          return false; // gone while we looked
        }
      });
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(), false, "the command outlived its check");
  }));

test("http: a response is complete at its Content-Length even when the server keeps the connection; nothing at all is EOF", { skip }, async () => {
  const keeps = createNet((s) => s.once("data", () => s.write("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")));
  const hangsUp = createNet((s) => s.destroy());
  const [keepPort, hangPort] = [await listen(keeps), await listen(hangsUp)];
  try {
    const target = { host: "127.0.0.1", container: {}, transport: runner };
    assert.deepEqual(await httpProbe({ port: keepPort }, target, 2000), { ok: true, output: "" });
    const eof = await httpProbe({ port: hangPort }, target, 2000);
    assert.equal(eof.ok, false);
    assert.match(eof.output, /^Get "http:\/\/127\.0\.0\.1:\d+\/": (EOF|read: connection reset by peer)$/);
  } finally {
    keeps.close();
    hangsUp.close();
  }
});

test("a prober that dies fails the checks it ran; the next check starts another", { skip: rootSkip }, () =>
  withTarget(async (pid) => {
    const own = new ProbeRunner(initPath);
    try {
      const pending = own.exec(["--pid", String(pid), "--", "sleep", "30"], 60_000);
      await new Promise((r) => setTimeout(r, 200));
      const prober = own.pid;
      assert.ok(prober !== undefined && readFileSync(`/proc/${prober}/cmdline`, "utf8").endsWith("\0prober\0"), "the prober runs");
      process.kill(prober, "SIGKILL");
      await assert.rejects(pending, /the prober was killed by SIGKILL/);
      const next = await own.exec(["--pid", String(pid), "--", "true"], 5000);
      assert.equal(next.result, "exit:0");
    } finally {
      own.close();
    }
  }));
