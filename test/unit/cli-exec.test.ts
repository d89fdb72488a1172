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
  api.execTargets.set("default/one", { pid1: 4242, container: "app" });
  // A container started with groups its image's /etc/group gave it: its status says which.
  const started = makePod("grouped");
  started.spec.securityContext = { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000] };
  started.status.containerStatuses[0]!.user = { linux: { uid: 1000, gid: 3000, supplementalGroups: [3000, 4000, 50000] } };
  api.add(started);
  api.execTargets.set("default/grouped", { pid1: 4343, container: "app" });
  // Not started yet, or from a daemon that did not report them: the groups the spec gives.
  const unreported = makePod("unreported");
  unreported.spec.securityContext = { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000], supplementalGroupsPolicy: "Strict" };
  api.add(unreported);
  api.execTargets.set("default/unreported", { pid1: 4444, container: "app" });
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
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--tty", "--", "sh"], stdin: true }]);
});

test("-it when stdin is no terminal: kubectl's warning, and no --tty", async () => {
  const r = await exec(["-it", "one", "--", "sh"], false);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--", "sh"], stdin: true }]);
});

test("-t without -i: no terminal, without stdin", async () => {
  const r = await exec(["-t", "one", "--", "sh"], true);
  assert.equal(r.stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--", "sh"], stdin: false }]);
});

test("without -t: no terminal, even when stdin is one", async () => {
  const r = await exec(["-i", "one", "--", "sh"], true);
  assert.equal(r.stderr, "");
  assert.deepEqual(r.runs, [{ args: ["exec", "--pid", "4242", "--uid", "0", "--gid", "0", "--groups", "0", "--", "sh"], stdin: true }]);
});

test("the command gets the groups the container's command was started with (status user.linux), else the spec's", async () => {
  const started = await exec(["grouped", "--", "id"], false);
  assert.deepEqual(started.runs, [{ args: ["exec", "--pid", "4343", "--uid", "1000", "--gid", "3000", "--groups", "3000,4000,50000", "--", "id"], stdin: false }]);
  const unreported = await exec(["unreported", "--", "id"], false);
  assert.deepEqual(unreported.runs, [{ args: ["exec", "--pid", "4444", "--uid", "1000", "--gid", "3000", "--groups", "2000,3000,4000", "--", "id"], stdin: false }]);
});
