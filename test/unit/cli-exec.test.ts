// podd exec against the daemon over the fake runtime: the podd-init command line it builds from
// the daemon's exec target, and when it asks for a terminal (-it on a terminal only, as kubectl).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { execMain, type ExecDeps } from "../../supervisor/cli/exec.ts";
import { PoddClient } from "../../supervisor/api/client.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon } from "./fake-daemon.ts";

let api: FakeDaemon;
/** what the daemon says podd-init exec needs: the container's PID 1 and identity */
let target: { pid1: number; identity: string[] };
before(async () => {
  api = await FakeDaemon.start(NOW);
  await api.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: one}\nspec: {containers: [{name: app, image: host, securityContext: {runAsUser: 1000}}]}\n");
  target = await new PoddClient(api.socket).json("GET", "/api/v1/namespaces/default/pods/one/exec-target");
});
after(() => api.close());

/** podd-init exec's arguments for the pod's container, with what follows --pid and the identity */
const initArgs = (...tail: string[]) => ["exec", "--pid", String(target.pid1), ...target.identity, ...tail];

test("the exec target is the running container's PID 1 and its identity", () => {
  assert.equal(target.pid1, api.rt.last("one", "app").start!.pid1);
  assert.deepEqual(target.identity.slice(0, 2), ["--uid", "1000"]);
});

/** runs `podd exec ARGV` with stdin a terminal or not; returns what podd-init was given */
async function exec(argv: string[], terminal: boolean) {
  const runs: { args: string[]; stdin: boolean }[] = [];
  const deps: ExecDeps = {
    run: async (_path, args, stdin) => (runs.push({ args, stdin }), 0),
    stdinIsTerminal: () => terminal,
  };
  const r = await capture((io) => execMain(["--socket", api.socket, ...argv], io, deps));
  return { ...r, runs };
}

test("-it on a terminal: podd-init exec --tty, with stdin", async () => {
  const r = await exec(["-it", "one", "--", "sh"], true);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  assert.deepEqual(r.runs, [{ args: initArgs("--tty", "--", "sh"), stdin: true }]);
});

test("-it when stdin is no terminal: kubectl's warning, and no --tty", async () => {
  const r = await exec(["-it", "one", "--", "sh"], false);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: initArgs("--", "sh"), stdin: true }]);
});

test("-t without -i: no terminal, without stdin", async () => {
  const r = await exec(["-t", "one", "--", "sh"], true);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: initArgs("--", "sh"), stdin: false }]);
});

test("without -t: no terminal, even when stdin is one", async () => {
  const r = await exec(["-i", "one", "--", "sh"], true);
  assert.equal(r.stderr, "");
  assert.deepEqual(r.runs, [{ args: initArgs("--", "sh"), stdin: true }]);
});
