// The daemon's own lifecycle and the pods' across it: SIGTERM leaves pods running and a new
// daemon adopts them; --stop-pods-on-exit stops them; a reboot (run root emptied, cgroups gone,
// state root kept) brings every desired pod back; a PUT with a changed spec replaces the pod
// gracefully, an unchanged one changes nothing.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { cgroupsUnder, destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, mountsUnder, processesOf, waitFor, type Env } from "./harness.ts";
import { alive, containerStatus, getPod, killPid, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, waitRunning, type Daemon } from "./daemon-helpers.ts";
import { pid1Of } from "./pod-helpers.ts";

const skip = e2eSkip();
const nothing = { mounts: [], cgroups: [], processes: [], pins: [] };

function sleeper(name: string, extra: Record<string, unknown> = {}) {
  return podManifest(name, { terminationGracePeriodSeconds: 2, containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }], ...extra });
}

async function deleteAll(d: Daemon, env: Env, names: string[]): Promise<void> {
  for (const n of names) assert.equal((await d.request("DELETE", `${podPath(n)}?gracePeriodSeconds=0`)).status, 200);
  for (const n of names) await waitGone(d, n);
  assert.deepEqual(leftovers(env), nothing);
  assert.deepEqual(readdirSync(join(env.state, "desired", "default")), []);
}

describe("daemon lifecycle", { skip, timeout: 120_000 }, () => {
  const envs: Env[] = [];
  const daemons: (Daemon | undefined)[] = [];
  after(async () => {
    for (const d of daemons) await stopDaemon(d, "SIGKILL");
    for (const e of envs) destroyEnv(e);
  });
  async function setup(args: string[] = []): Promise<{ env: Env; d: Daemon }> {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    const d = await startDaemon(env, args);
    daemons.push(d);
    return { env, d };
  }

  test("SIGTERM stops the daemon and leaves pods running; the next daemon adopts them", async () => {
    const { env } = await setup();
    let d = daemons.at(-1)!;
    await putPod(d, sleeper("a"));
    const s = await waitRunning(d, "a", "c");
    const pid1 = pid1Of(env, "a", "c")!;
    const r = await stopDaemon(d);
    assert.equal(r?.code, 0, d.output());
    assert.ok(alive(pid1), "the container died with the daemon");
    d = await startDaemon(env);
    daemons.push(d);
    const again = containerStatus(await getPod(d, "a"), "c");
    assert.equal(again.containerID, s.containerID);
    assert.equal(again.restartCount, 0);
    assert.equal(pid1Of(env, "a", "c"), pid1);
    await deleteAll(d, env, ["a"]);
    await stopDaemon(d);
  });

  test("--stop-pods-on-exit stops every pod on SIGTERM", async () => {
    const { env, d } = await setup(["--stop-pods-on-exit"]);
    await putPod(d, sleeper("a"));
    await putPod(d, sleeper("b"));
    await waitRunning(d, "a", "c");
    await waitRunning(d, "b", "c");
    assert.notDeepEqual(processesOf(env), []);
    const r = await stopDaemon(d);
    assert.equal(r?.code, 0, d.output());
    assert.deepEqual(processesOf(env), [], "pods still run after the daemon stopped them");
    assert.deepEqual(cgroupsUnder(env), []);
    assert.deepEqual(mountsUnder(env), []);
    // They are still desired: the next daemon starts them again.
    const d2 = await startDaemon(env);
    daemons.push(d2);
    await waitRunning(d2, "a", "c");
    await waitRunning(d2, "b", "c");
    await deleteAll(d2, env, ["a", "b"]);
    await stopDaemon(d2);
  });

  test("reboot: with the run root empty and the state root intact, every desired pod comes back Running", async () => {
    const { env } = await setup();
    let d = daemons.at(-1)!;
    const names = ["a", "b", "c"];
    for (const n of names) await putPod(d, sleeper(n, n === "b" ? { volumes: [{ name: "v", emptyDir: {} }] } : {}));
    const uids = new Map<string, string>();
    for (const n of names) {
      await waitRunning(d, n, "c");
      uids.set(n, (await getPod(d, n)).metadata.uid);
    }
    await stopDaemon(d);
    // The "reboot": every process podd started ends (containers' cgroups and monitors, by
    // pid), everything under the run root is unmounted and removed, and the cgroups go.
    for (const pid of processesOf(env)) killPid(pid);
    await waitFor("every process of the env gone", () => processesOf(env).length === 0);
    for (const m of mountsUnder(env).filter((m) => m.startsWith(env.run + "/")).reverse()) {
      const r = spawnSync("umount", ["-l", m]);
      assert.equal(r.status, 0, `umount ${m}: ${r.stderr}`);
    }
    for (const e of readdirSync(env.run)) rmSync(join(env.run, e), { recursive: true, force: true });
    for (const cg of cgroupsUnder(env)) spawnSync("sh", ["-c", `find "${cg}" -depth -type d -exec rmdir {} +`]);
    assert.deepEqual(leftovers(env), nothing);

    d = await startDaemon(env);
    daemons.push(d);
    for (const n of names) {
      const s = await waitRunning(d, n, "c");
      assert.equal(s.restartCount, 0);
      assert.equal((await getPod(d, n)).metadata.uid, uids.get(n), "a pod got a new identity");
      assert.equal((await getPod(d, n)).status.phase, "Running");
    }
    await deleteAll(d, env, names);
    await stopDaemon(d);
  });

  test("PUT with a changed spec replaces the pod gracefully; an unchanged spec restarts nothing", async () => {
    const { env, d } = await setup();
    // On SIGTERM the container writes its V to a hostPath file, so the test sees which
    // container got it.
    const marks = join(env.dir, "marks");
    mkdirSync(marks);
    const marker = join(marks, "got-term");
    const spec = (v: string) =>
      podManifest("web", {
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: "marks", hostPath: { path: marks } }],
        containers: [{ name: "c", image: "busybox:local", env: [{ name: "V", value: v }], volumeMounts: [{ name: "marks", mountPath: "/marks" }], command: ["sh", "-c", "trap 'echo $$V > /marks/got-term; exit 0' TERM; while true; do sleep 0.05; done"] }],
      });
    const r1 = await putPod(d, spec("one"));
    assert.equal(r1.status, 201);
    assert.equal(r1.headers["x-podd-result"], "created");
    const s1 = await waitRunning(d, "web", "c");
    const uid1 = (await getPod(d, "web")).metadata.uid;

    const same = await putPod(d, spec("one"));
    assert.equal(same.status, 200);
    assert.equal(same.headers["x-podd-result"], "unchanged");
    const s1b = containerStatus(await getPod(d, "web"), "c");
    assert.equal(s1b.containerID, s1.containerID);
    assert.equal(s1b.restartCount, 0);
    assert.equal((await getPod(d, "web")).metadata.uid, uid1);

    const r2 = await putPod(d, spec("two"));
    assert.equal(r2.status, 200);
    assert.equal(r2.headers["x-podd-result"], "configured");
    assert.notEqual(r2.json.metadata.uid, uid1);
    const s2 = await waitRunning(d, "web", "c");
    assert.notEqual(s2.containerID, s1.containerID);
    assert.equal((await getPod(d, "web")).metadata.uid, r2.json.metadata.uid);
    assert.equal(readFileSync(marker, "utf8").trim(), "one", "the old container did not get SIGTERM");
    // Nothing of the old pod is left: one pod run dir, one pod cgroup.
    assert.deepEqual(readdirSync(join(env.run, "pods")), [`default_web_${r2.json.metadata.uid}`]);
    await deleteAll(d, env, ["web"]);
    await stopDaemon(d);
  });
});
