// kill -9 of the daemon while pods run: the containers keep running (their monitors live in
// their own sessions), a new daemon adopts them without restarting any, resolves the ones that
// ended meanwhile from their exit records (and restarts them per policy, counting on from the
// old restart count), and the log of a container printing a sequence is gapless and
// duplicate-free across the crash. A container whose monitor vanished without an exit record
// is reported as the kubelet does: terminated, ContainerStatusUnknown, exit code 137.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, waitFor, type Env } from "./harness.ts";
import { alive, containerStatus, crashDaemon, getPod, killPid, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, waitRunning, type Daemon } from "./daemon-helpers.ts";
import { podRunDir } from "./pod-helpers.ts";

const skip = e2eSkip();
const backOff = ["--backoff-initial", "200ms", "--backoff-max", "1s"];

interface Start {
  monitorPid: number;
  pid1: number;
  pid: number;
}

function startRecord(env: Env, pod: string, container: string): Start | undefined {
  const dir = podRunDir(env, pod);
  try {
    return JSON.parse(readFileSync(join(dir!, "containers", container, "start.json"), "utf8")) as Start;
  } catch {
    return undefined; // not started yet
  }
}

function exitPath(env: Env, pod: string, container: string): string {
  return join(podRunDir(env, pod)!, "containers", container, "exit.json");
}

/** The numbers of a sequence log, checked to be 0, 1, 2, … without gap or repeat. */
function assertSequence(text: string): number {
  const lines = text.split("\n").filter(Boolean);
  assert.ok(lines.length > 0, "the log is empty");
  lines.forEach((l, i) => assert.equal(l, String(i), `line ${i} of the log is ${JSON.stringify(l)} (a lost or doubled line)\n${text}`));
  return lines.length;
}

/** Deletes every pod through the API and checks that nothing is left. */
async function deleteAll(d: Daemon, env: Env, names: string[]): Promise<void> {
  for (const n of names) assert.equal((await d.request("DELETE", `${podPath(n)}?gracePeriodSeconds=0`)).status, 200);
  for (const n of names) await waitGone(d, n);
  assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] });
}

describe("daemon kill -9 and adoption", { skip, timeout: 120_000 }, () => {
  const envs: Env[] = [];
  const daemons: (Daemon | undefined)[] = [];
  after(async () => {
    for (const d of daemons) await stopDaemon(d, "SIGKILL");
    for (const e of envs) destroyEnv(e);
  });

  test("running containers survive, are adopted unrestarted; ended ones are resolved and restarted; logs stay whole", async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    let d = await startDaemon(env, backOff);
    daemons.push(d);
    // seq prints 0, 1, 2, … every 50 ms; ender exits 3 on SIGTERM (Always: restarted).
    const seq = podManifest("seq", {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", "i=0; while true; do echo $$i; i=$$((i+1)); sleep 0.05; done"] }],
    });
    const ender = podManifest("ender", {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.05; done"] }],
    });
    assert.equal((await putPod(d, seq)).status, 201);
    assert.equal((await putPod(d, ender)).status, 201);
    await waitRunning(d, "seq", "c");
    const first = await waitRunning(d, "ender", "c");
    // One restart under the first daemon, so that the count has something to continue from.
    killPid(startRecord(env, "ender", "c")!.pid, "SIGTERM");
    const once = await waitFor("ender restarted once", async () => {
      const s = containerStatus(await getPod(d, "ender"), "c");
      return s?.restartCount === 1 && s.state.running && s.containerID !== first.containerID ? s : undefined;
    });
    assert.equal(once.lastState.terminated.exitCode, 3);

    const before = containerStatus(await getPod(d, "seq"), "c");
    const seqStart = startRecord(env, "seq", "c")!;
    const enderStart = await waitFor("ender's new start record", () => {
      const s = startRecord(env, "ender", "c");
      return s && alive(s.pid) ? s : undefined;
    });
    const seqLog = join(env.log, "pods", `default_seq_${(await getPod(d, "seq")).metadata.uid}`, "c", "0.log");

    await crashDaemon(d);
    // Without a daemon: seq's PID 1 lives and its log keeps growing.
    assert.ok(alive(seqStart.pid1) && alive(seqStart.monitorPid), "seq's PID 1 or monitor died with the daemon");
    const size = statSync(seqLog).size;
    await waitFor("seq's log to grow without a daemon", () => statSync(seqLog).size > size);
    // ender ends while nobody watches; its monitor records the exit.
    killPid(enderStart.pid, "SIGTERM");
    const exitFile = exitPath(env, "ender", "c");
    const exit = await waitFor("ender's exit record", () => existsSync(exitFile) && (JSON.parse(readFileSync(exitFile, "utf8")) as { exitCode: number; finishedAt: string }));
    assert.equal(exit.exitCode, 3);
    await waitFor("ender's monitor gone", () => !alive(enderStart.monitorPid));

    d = await startDaemon(env, backOff);
    daemons.push(d);
    // seq: adopted, not restarted.
    const adopted = containerStatus(await getPod(d, "seq"), "c");
    assert.ok(adopted.state.running, JSON.stringify(adopted));
    assert.equal(adopted.containerID, before.containerID);
    assert.equal(adopted.state.running.startedAt, before.state.running.startedAt);
    assert.equal(adopted.restartCount, 0);
    assert.equal(startRecord(env, "seq", "c")!.pid1, seqStart.pid1, "seq was restarted");
    // ender: its exit is recorded with the monitor's finish time, and it is restarted once more.
    const again = await waitFor("ender restarted after the crash", async () => {
      const s = containerStatus(await getPod(d, "ender"), "c");
      return s?.restartCount === 2 && s.state.running ? s : undefined;
    });
    assert.equal(again.lastState.terminated.exitCode, 3);
    assert.equal(again.lastState.terminated.finishedAt, new Date(Math.floor(Date.parse(exit.finishedAt) / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z"));
    assert.equal(again.lastState.terminated.containerID, once.containerID);
    assert.notEqual(again.containerID, once.containerID);

    // The log through the API: gapless and duplicate-free, also past the crash.
    const n = assertSequence((await d.request("GET", `${podPath("seq")}/log`)).text);
    await waitFor("seq to print on under the new daemon", async () => (await d.request("GET", `${podPath("seq")}/log`)).text.split("\n").filter(Boolean).length > n + 5);
    assertSequence((await d.request("GET", `${podPath("seq")}/log`)).text);
    // Control: the check does see a doubled line.
    assert.throws(() => assertSequence("0\n1\n1\n2\n"));

    await deleteAll(d, env, ["seq", "ender"]);
    await stopDaemon(d);
  });

  test("an orphan whose container a crashed kill left frozen (cgroup v1) is still removed", { skip: !existsSync("/sys/fs/cgroup/freezer") && "no v1 freezer hierarchy" }, async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    let d = await startDaemon(env, backOff);
    daemons.push(d);
    assert.equal((await putPod(d, podManifest("a", { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] }))).status, 201);
    await waitRunning(d, "a", "c");
    const uid = (await getPod(d, "a")).metadata.uid;
    await crashDaemon(d);
    // What a daemon killed between freezing the container and thawing it leaves behind, and
    // the pod no longer desired (a delete whose file removal was the last thing done).
    writeFileSync(join("/sys/fs/cgroup/freezer", env.cgroupParent, uid, "c", "freezer.state"), "FROZEN");
    rmSync(join(env.state, "desired", "default", "a.json"));
    d = await startDaemon(env, backOff);
    daemons.push(d);
    assert.equal((await d.request("GET", podPath("a"))).status, 404);
    assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] });
    await stopDaemon(d);
  });

  test("a container gone without an exit record is ContainerStatusUnknown, exit code 137", async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    let d = await startDaemon(env, backOff);
    daemons.push(d);
    // Never: the verdict stays in the status instead of being replaced by a restart.
    for (const name of ["lost", "recorded"]) {
      const pod = podManifest(name, { restartPolicy: "Never", terminationGracePeriodSeconds: 1, containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.05; done"] }] });
      assert.equal((await putPod(d, pod)).status, 201);
    }
    await waitRunning(d, "lost", "c");
    await waitRunning(d, "recorded", "c");
    const lost = startRecord(env, "lost", "c")!;
    const recorded = startRecord(env, "recorded", "c")!;
    await crashDaemon(d);

    // lost: the monitor is SIGKILLed (PID 1 follows it by PDEATHSIG), so no exit record exists.
    killPid(lost.monitorPid, "SIGKILL");
    await waitFor("lost's PID 1 gone", () => !alive(lost.pid1) || readFileSync(`/proc/${lost.pid1}/stat`, "utf8").split(") ")[1]!.startsWith("Z"));
    rmSync(exitPath(env, "lost", "c"), { force: true });
    // recorded: ends normally while the daemon is away; its exit record is there.
    killPid(recorded.pid, "SIGTERM");
    await waitFor("recorded's exit record", () => existsSync(exitPath(env, "recorded", "c")));
    await waitFor("recorded's monitor gone", () => !alive(recorded.monitorPid));

    d = await startDaemon(env, backOff);
    daemons.push(d);
    const unknown = await waitFor("lost resolved", async () => containerStatus(await getPod(d, "lost"), "c")?.state?.terminated);
    assert.equal(unknown.reason, "ContainerStatusUnknown");
    assert.equal(unknown.exitCode, 137);
    const known = await waitFor("recorded resolved", async () => containerStatus(await getPod(d, "recorded"), "c")?.state?.terminated);
    assert.equal(known.exitCode, 7);
    assert.equal(known.reason, "Error");
    assert.equal((await getPod(d, "lost")).status.phase, "Failed");

    await deleteAll(d, env, ["lost", "recorded"]);
    await stopDaemon(d);
  });
});
