// podd exec against the fake API: the podd-init command line it builds, and when it asks for a
// terminal (-it on a terminal only, as kubectl).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { execMain, type ExecDeps } from "../../supervisor/cli/exec.ts";
import { capture, FakeApi, makePod } from "./fake-api.ts";

let api: FakeApi;
before(async () => {
  api = await FakeApi.start();
  api.add(makePod("one"));
  api.execTargets.set("default/one", { pid1: 4242, container: "app", identity: ["--uid", "0", "--gid", "0", "--groups", "0", "--caps", "a80425fb"] });
});
after(() => api.close());

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
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--caps", "a80425fb", "--tty", "--", "sh"], stdin: true }]);
});

test("-it when stdin is no terminal: kubectl's warning, and no --tty", async () => {
  const r = await exec(["-it", "one", "--", "sh"], false);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--caps", "a80425fb", "--", "sh"], stdin: true }]);
});

test("-t without -i: no terminal, without stdin", async () => {
  const r = await exec(["-t", "one", "--", "sh"], true);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--caps", "a80425fb", "--", "sh"], stdin: false }]);
});

test("without -t: no terminal, even when stdin is one", async () => {
  const r = await exec(["-i", "one", "--", "sh"], true);
  assert.equal(r.stderr, "");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--caps", "a80425fb", "--", "sh"], stdin: true }]);
});
