// podd top, events, version and completion against a real daemon: a busy loop shows non-zero
// CPU millicores and a container holding memory shows it in Mi; events lists Created/Started
// for the pod's containers and -w prints new ones; version prints the client's and the
// server's; the bash completion script parses and completes verbs and pod names.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, e2eSkip, makeEnv, destroyEnv, podd, repo, waitFor } from "./harness.ts";
import { socketOf, waitRunning } from "./daemon-helpers.ts";
import { rows, withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

describe("podd top, events, version, completion", { skip, timeout: 120_000 }, () => {
  test("top pod: a busy loop uses CPU, a container holding 24 MiB shows it; --containers per container", () =>
    withCli(async (c) => {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "busy" },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            { name: "spin", image: "busybox:local", command: ["podd-fixture", "spin"] },
            { name: "mem", image: "busybox:local", command: ["podd-fixture", "eat-memory", "24"] },
          ],
        },
      };
      assert.equal((await c.apply("busy.yaml", JSON.stringify(pod))).code, 0);
      await waitRunning(c.d, "busy", "spin");
      await waitRunning(c.d, "busy", "mem");
      await waitFor("mem to have eaten its memory", async () => (await c.run("logs", ["busy", "-c", "mem"])).stdout === "ate 24\n");

      const perPod = await waitFor("top to show CPU in use", async () => {
        const r = await c.run("top", ["pod"]);
        const row = rows(r.stdout)[1];
        return row && parseInt(row[1]!, 10) > 0 ? r : undefined;
      });
      const [header, row] = rows(perPod.stdout);
      assert.deepEqual(header, ["NAME", "CPU(cores)", "MEMORY(bytes)"]);
      assert.equal(row![0], "busy");
      assert.match(row![1]!, /^[1-9]\d*m$/);
      assert.match(row![2]!, /^\d+Mi$/);
      assert.ok(parseInt(row![2]!, 10) >= 24, perPod.stdout);

      const perContainer = await waitFor("top --containers to show the spinner's CPU", async () => {
        const r = await c.run("top", ["pod", "busy", "--containers"]);
        const spin = rows(r.stdout).find((x) => x[1] === "spin");
        return spin && parseInt(spin[2]!, 10) > 0 ? r : undefined;
      });
      const table = rows(perContainer.stdout);
      assert.deepEqual(table[0], ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
      assert.deepEqual(table.slice(1).map((x) => x.slice(0, 2)), [["busy", "spin"], ["busy", "mem"]]);
      const mem = table.find((x) => x[1] === "mem")!;
      assert.match(mem[3]!, /^\d+Mi$/);
      assert.ok(parseInt(mem[3]!, 10) >= 24, perContainer.stdout);

      const missing = await c.run("top", ["pod", "nope"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Error from server \(NotFound\): .*nope.* not found\n$/);
    }));

  test("events: Created and Started for the pod's containers; -w prints new events", () =>
    withCli(async (c) => {
      const none = await c.run("events", []);
      assert.equal(none.code, 0);
      assert.equal(none.stderr, "No events found in default namespace.\n");

      const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "e" }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: "one", image: "busybox:local", command: ["sleep", "1000"] }, { name: "two", image: "busybox:local", command: ["sleep", "1000"] }] } };
      assert.equal((await c.apply("e.yaml", JSON.stringify(pod))).code, 0);
      await waitRunning(c.d, "e", "one");
      await waitRunning(c.d, "e", "two");
      const r = await c.run("events", []);
      assert.equal(r.code, 0, r.stderr);
      const table = rows(r.stdout);
      assert.deepEqual(table[0], ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
      const seen = table.slice(1).map((x) => x.slice(1).join(" | "));
      for (const cname of ["one", "two"]) {
        assert.ok(seen.includes(`Normal | Created | Pod/e | Created container ${cname}`), r.stdout);
        assert.ok(seen.includes(`Normal | Started | Pod/e | Started container ${cname}`), r.stdout);
      }
      const all = rows((await c.run("events", ["-A"])).stdout);
      assert.deepEqual(all[0]!.slice(0, 2), ["NAMESPACE", "LAST SEEN"]);
      assert.ok(all.slice(1).every((x) => x[0] === "default"));

      const w = c.background("events", ["-w"]);
      await waitFor("events -w to list what happened so far", () => rows(w.stdout()).length >= table.length);
      const del = await c.run("delete", ["pod", "e", "--wait=false"]);
      assert.equal(del.code, 0, del.stderr);
      await waitFor("events -w to print the Killing events", () => rows(w.stdout()).filter((x) => x[2] === "Killing" && x[3] === "Pod/e").length === 2);
      assert.equal(w.child.exitCode, null);
      await w.kill();
    }));

  test("version prints the client's and the server's; without a daemon, the client's and an error", () =>
    withCli(async (c) => {
      const r = await c.run("version", []);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `Client Version: v${version} (node ${process.version})\nServer Version: v${version}\n`);
      const client = await c.run("version", ["--client"]);
      assert.equal(client.stdout, `Client Version: v${version} (node ${process.version})\n`);

      const env = makeEnv();
      try {
        const alone = await podd(["version", "--socket", socketOf(env)]);
        assert.equal(alone.code, 1);
        assert.equal(alone.stdout, `Client Version: v${version} (node ${process.version})\n`);
        assert.match(alone.stderr, /^cannot reach podd at .*: no daemon is running/);
      } finally {
        destroyEnv(env);
      }
    }));

  test("completion bash: a script bash accepts, completing verbs, flags and the daemon's pod names", () =>
    withCli(async (c) => {
      const r = await podd(["completion", "bash"]);
      assert.equal(r.code, 0, r.stderr);
      const script = r.stdout;
      const n = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
      assert.equal(n.status, 0, n.stderr);

      assert.equal((await c.apply("web.yaml", JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "web" }, spec: { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] } }))).code, 0);
      // `podd` on PATH is this checkout, pointed at the test daemon by PODD_SOCKET.
      const bin = join(c.env.dir, "bin");
      mkdirSync(bin);
      writeFileSync(join(bin, "podd"), `#!/bin/sh\nexec '${process.execPath}' --import tsx '${cli}' "$@"\n`);
      chmodSync(join(bin, "podd"), 0o755);
      const file = join(c.env.dir, "completion.bash");
      writeFileSync(file, script);
      const complete = (words: string[]): string[] => {
        const prog = `source '${file}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _podd; printf '%s\\n' "\${COMPREPLY[@]}"`;
        const out = spawnSync("bash", ["-c", prog], { cwd: repo, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PODD_SOCKET: c.d.socket } });
        assert.equal(out.status, 0, out.stderr);
        return out.stdout.split("\n").filter(Boolean);
      };
      assert.deepEqual(complete(["podd", "ap"]), ["apply"]);
      assert.deepEqual(complete(["podd", "logs", "--ta"]), ["--tail"]);
      assert.deepEqual(complete(["podd", "logs", "w"]), ["web"]);
      assert.deepEqual(complete(["podd", "get", "pods", ""]), ["web"]);
    }));
});
