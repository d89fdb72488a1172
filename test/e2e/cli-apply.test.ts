// podd apply against a real daemon: created / unchanged / configured (a real replacement, new
// uid), --wait until Running or a failure, --dry-run=client with no daemon, an invalid manifest
// rejected locally with file:line:col, and, with no daemon running, apply starting one on the
// roots and cgroup parent it was given.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cgroupsUnder, destroyEnv, e2eSkip, importBusybox, makeEnv, podd, waitFor, writeManifest } from "./harness.ts";
import { alive, getPod, killPid, requestOn, socketOf, waitRunning } from "./daemon-helpers.ts";
import { busybox, withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

const sleeper = (name: string, seconds = "1000") => busybox(name, { command: ["sleep", seconds] });

describe("podd apply", { skip, timeout: 120_000 }, () => {
  test("created, then unchanged, then configured with a changed spec: the pod is replaced (new uid)", () =>
    withCli(async (c) => {
      const r1 = await c.apply("a.yaml", sleeper("a"));
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(r1.stdout, "pod/a created\n");
      const first = await waitRunning(c.d, "a", "c");
      const uid1 = (await getPod(c.d, "a")).metadata.uid;

      const r2 = await c.apply("a.yaml", sleeper("a"));
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(r2.stdout, "pod/a unchanged\n");
      assert.equal((await getPod(c.d, "a")).metadata.uid, uid1);

      const r3 = await c.apply("a.yaml", sleeper("a", "2000"));
      assert.equal(r3.code, 0, r3.stderr);
      assert.equal(r3.stdout, "pod/a configured\n");
      const again = await waitFor("the replacement pod running", async () => {
        const p = await getPod(c.d, "a");
        const s = p?.status?.containerStatuses?.[0];
        return p?.metadata?.uid !== uid1 && s?.state?.running ? p : undefined;
      });
      assert.notEqual(again.metadata.uid, uid1);
      assert.notEqual(again.status.containerStatuses[0].containerID, first.containerID);
      assert.deepEqual(again.spec.containers[0].command, ["sleep", "2000"]);
    }));

  test("a directory and stdin are manifests too", () =>
    withCli(async (c) => {
      mkdirSync(join(c.env.dir, "manifests"));
      writeManifest(c.env, "manifests/one.yaml", sleeper("one"));
      writeManifest(c.env, "manifests/two.yaml", sleeper("two"));
      const dir = await c.run("apply", ["-f", join(c.env.dir, "manifests")]);
      assert.equal(dir.code, 0, dir.stderr);
      assert.equal(dir.stdout, "pod/one created\npod/two created\n");
      const r = await c.run("apply", ["-f", "-"], { input: sleeper("from-stdin") });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "pod/from-stdin created\n");
      const names = await c.run("get", ["pods", "-o", "name"]);
      assert.equal(names.stdout, "pod/from-stdin\npod/one\npod/two\n");
    }));

  test("--wait returns once the pod runs (0) and fails for a pod that fails (1)", () =>
    withCli(async (c) => {
      const ok = await c.apply("ok.yaml", sleeper("ok"), ["--wait"]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^pod\/ok created\npod\/ok ready\n$/);
      const s = (await getPod(c.d, "ok")).status;
      assert.equal(s.phase, "Running");
      assert.ok(s.containerStatuses[0].state.running);

      // The failing container is an init container: an app container that exits 1 is Running
      // and Ready for an instant first, and --wait may rightly return at that instant.
      const bad = await c.apply(
        "bad.yaml",
        busybox("bad", { command: ["sleep", "1000"] }, { restartPolicy: "Never", initContainers: [{ name: "setup", image: "busybox:local", command: ["sh", "-c", "exit 1"] }] }),
        ["--wait"],
      );
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^pod\/bad created\npod\/bad failed: Init:Error/m);
      assert.equal((await getPod(c.d, "bad")).status.phase, "Failed");
    }));

  test("an invalid manifest prints file:line:col and sends nothing, not even its valid pods", () =>
    withCli(async (c) => {
      const yaml = [
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: good\nspec:\n  containers:\n  - name: c\n    image: busybox:local\n    command: [sleep, '100']\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n    image: busybox:local\n    resources:\n      limits:\n        memory: 12XB\n",
      ].join("---\n");
      const file = writeManifest(c.env, "bad.yaml", yaml);
      const r = await c.run("apply", ["-f", file]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, new RegExp(`^${file.replace(/[.]/g, "\\.")}:21:17: spec\\.containers\\[0\\]\\.resources\\.limits\\.memory: `));
      const list = await c.run("get", ["pods"]);
      assert.equal(list.code, 0);
      assert.equal(list.stdout, "");
      assert.equal(list.stderr, "No resources found in default namespace.\n");
    }));

  test("--dry-run=client needs no daemon and creates nothing", async () => {
    const env = makeEnv();
    try {
      const file = writeManifest(env, "dry.yaml", sleeper("dry"));
      const r = await podd(["apply", "-f", file, "--dry-run=client", "--socket", socketOf(env), ...env.flags]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "pod/dry created (dry run)\n");
      assert.equal(r.stderr, "");
      assert.equal(existsSync(socketOf(env)), false, "a daemon was started");
      assert.deepEqual(readdirSync(env.state), []);
      assert.deepEqual(readdirSync(env.run), []);
    } finally {
      destroyEnv(env);
    }
  });

  test("with no daemon running, apply starts one on the given roots and cgroup parent, and says where its log and state are", async () => {
    const env = makeEnv();
    let pid: number | undefined;
    try {
      await importBusybox(env);
      const socket = socketOf(env);
      const file = writeManifest(env, "auto.yaml", sleeper("auto"));
      const r = await podd(["apply", "-f", file, "--socket", socket, ...env.flags]);
      const m = /^no podd daemon was running: started one \(pid (\d+)\); its log is (.*), its state (.*)\n$/.exec(r.stderr);
      assert.ok(m, `stderr: ${r.stderr}`);
      pid = Number(m[1]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "pod/auto created\n");
      assert.equal(m[2], join(env.log, "daemon.log"));
      assert.equal(m[3], env.state);
      assert.ok(alive(pid), "the daemon apply started is gone");
      assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), new RegExp(`\\0--cgroup-parent\\0${env.cgroupParent}\\0`));
      // It serves on the socket asked for, keeps the pod in the given state root, runs it under
      // the given cgroup parent and logs to the given log root.
      await waitFor("the pod running", async () => {
        const res = await requestOn(socket, "GET", "/api/v1/namespaces/default/pods/auto");
        return res.json?.status?.containerStatuses?.[0]?.state?.running;
      });
      assert.ok(existsSync(join(env.state, "desired", "default", "auto.json")));
      assert.notDeepEqual(cgroupsUnder(env), []);
      assert.match(readFileSync(join(env.log, "daemon.log"), "utf8"), /serving on/);

      const again = await podd(["apply", "-f", file, "--socket", socket, ...env.flags]);
      assert.equal(again.stderr, "", "a second apply started another daemon");
      assert.equal(again.stdout, "pod/auto unchanged\n");
      const del = await podd(["delete", "pod", "auto", "--now", "--socket", socket]);
      assert.equal(del.stdout, 'pod "auto" deleted\n');
    } finally {
      if (pid !== undefined && killPid(pid, "SIGTERM")) await waitFor("the daemon apply started to exit", () => !alive(pid!));
      destroyEnv(env);
    }
  });
});
