// The CLI as a user runs it (node --import tsx supervisor/cli/main.ts …) against the daemon over
// the fake runtime:
// dispatch, exec's hand-over to podd-init with the exit code passed through, completion, version.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { UnreachableError } from "../../supervisor/api/client.ts";
import { PoddClient } from "../../supervisor/api/client.ts";
import { NOW } from "./cli-capture.ts";
import { FakeDaemon } from "./fake-daemon.ts";

const main = fileURLToPath(new URL("../../supervisor/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "podd-cli-main-"));

function podd(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let api: FakeDaemon;
/** what the daemon says podd-init exec needs for web's container */
let target: { pid1: number; identity: string[] };
before(async () => {
  api = await FakeDaemon.start(NOW);
  api.rt.scripts.set("done", { runsForMs: 10 });
  await api.apply(`apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: app, image: host, workingDir: /srv}]}
---
apiVersion: v1
kind: Pod
metadata: {name: stopped}
spec: {restartPolicy: Never, containers: [{name: done, image: host}]}
`);
  await api.advance(10);
  target = await new PoddClient(api.socket).json("GET", "/api/v1/namespaces/default/pods/web/exec-target");
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  return api.close();
});

test("exec: asks for the exec target, runs podd-init exec with the pid and cwd, passes the exit code through", async () => {
  const fakeInit = join(dir, "podd-init");
  writeFileSync(fakeInit, `#!/bin/sh\necho "args: $*"\nexit 7\n`);
  chmodSync(fakeInit, 0o755);
  const r = await podd(["exec", "web", "--socket", api.socket, "--", "ls", "-l", "/"], { PODD_INIT: fakeInit });
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, `args: exec --pid ${target.pid1} --cwd /srv ${target.identity.join(" ")} -- ls -l /\n`);
  assert.equal(r.code, 7);
  assert.ok(api.paths().includes("GET /api/v1/namespaces/default/pods/web/exec-target?container=app"), "the default container, named");
});

test("exec into a container that is not running: the daemon's Conflict", async () => {
  const r = await podd(["exec", "stopped", "-c", "done", "--socket", api.socket, "--", "true"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "Error from server (Conflict): unable to upgrade connection: container done not found in pod stopped: it is not running\n");
});

test("get pods through main, with PODD_SOCKET instead of --socket", async () => {
  const r = await podd(["get", "pods", "-o", "name"], { PODD_SOCKET: api.socket });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "pod/stopped\npod/web\n");
});

test("version: client, and server when a daemon answers", async () => {
  const r = await podd(["version", "--socket", api.socket]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Client Version: v\d+\.\d+\.\d+ \(node v[\d.]+\)\nServer Version: v0\.0\.0-test\n$/);
});

test("completion bash: a script bash accepts, completing verbs and flags", async () => {
  const r = await podd(["completion", "bash"]);
  assert.equal(r.code, 0);
  const script = join(dir, "completion.bash");
  writeFileSync(script, r.stdout);
  const words = await new Promise<string>((resolve, reject) => {
    const sh = spawn("bash", ["-c", `source ${script}; COMP_WORDS=(podd lo); COMP_CWORD=1; _podd; echo "\${COMPREPLY[@]}"; COMP_WORDS=(podd logs --ta); COMP_CWORD=2; _podd; echo "\${COMPREPLY[@]}"`]);
    let out = "";
    sh.stdout.on("data", (d: Buffer) => (out += d.toString()));
    sh.on("error", reject);
    sh.on("close", () => resolve(out));
  });
  assert.equal(words, "login logout logs\n--tail\n");
});

test("the unreachable-socket messages", () => {
  assert.equal(
    new UnreachableError("/run/podd/podd.sock", "no-daemon", Object.assign(new Error("x"), { code: "ENOENT" })).message,
    'cannot reach podd at /run/podd/podd.sock: no daemon is running (start one with "podd daemon", or run "podd apply", which starts one)',
  );
  assert.match(new UnreachableError("/run/podd/podd.sock", "permission", Object.assign(new Error("x"), { code: "EACCES" })).message, /permission denied; the socket belongs to root .*--group/);
});
