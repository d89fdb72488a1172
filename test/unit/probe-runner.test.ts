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

for (const user of [[], ["--uid", "65534", "--gid", "65534"]]) test(`exec: at its limit the check is killed, its command with it${user.length ? " (one that changed its uid, which loses the parent-death signal)" : ""}`, { skip: rootSkip }, () =>
  withTarget(async (pid) => {
    // A duration no other sleep has: how the command is found in /proc.
    const marker = `59.${process.pid}${Date.now() % 100000}${user.length}`;
    const t = Date.now();
    const a = await runner.exec(["--pid", String(pid), ...user, "--", "sleep", marker], 300);
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

test("a check larger than the prober takes is answered as such, and the prober goes on", { skip }, async () => {
  const big = await runner.exec(["--pid", "1", "--", "echo", "x".repeat(300_000)], 1000);
  assert.equal(big.result, "error:E2BIG");
  // The prober itself refuses one too, skipping its bytes, and answers the next request.
  const raw = spawn(initPath, ["prober"], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    let out = "";
    raw.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
    const payload = Buffer.alloc(300_000, "x");
    raw.stdin.write(`1 tcp 1000 ${payload.length}\n`);
    raw.stdin.write(payload);
    raw.stdin.write("2 bogus 1000 0\n");
    for (let i = 0; i < 50 && !out.includes("\n2 "); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /^1 error:EINVAL \d+\n.*\n?2 error:EINVAL \d+\nKIND is exec, tcp or http/s);
  } finally {
    raw.kill("SIGKILL");
  }
});

test("http: interim 1xx responses are read past; a response with bare LF line ends is one", { skip }, async () => {
  const early = createNet((s) => s.once("data", () => s.end("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")));
  const bare = createNet((s) => s.once("data", () => s.end("HTTP/1.0 200 OK\n\n")));
  const [earlyPort, barePort] = [await listen(early), await listen(bare)];
  try {
    const target = { host: "127.0.0.1", container: {}, transport: runner };
    assert.deepEqual(await httpProbe({ port: earlyPort }, target, 2000), { ok: true, output: "" });
    assert.deepEqual(await httpProbe({ port: barePort }, target, 2000), { ok: true, output: "" });
  } finally {
    early.close();
    bare.close();
  }
});

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
    // A probe run on a prober that died is podd's error, which the prober's verdicts ignore.
      const next = await own.exec(["--pid", String(pid), "--", "true"], 5000);
      assert.equal(next.result, "exit:0");
    } finally {
      own.close();
    }
  }));
