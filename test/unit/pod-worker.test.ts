// The pod worker and the supervisor over a scripted runtime, on a fake clock, without root:
// what a pod's life asks of the runtime (in order), what it shows (status, events), and what a
// daemon restart takes over. The end-to-end suites check the same against the kernel; these
// check the decisions between, which need neither root nor seconds of waiting.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "../../pod-specs/types.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import type { PodEvent } from "../../supervisor/daemon/events.ts";
import { Supervisor } from "../../supervisor/daemon/supervisor.ts";
import { backOffConfig } from "../../supervisor/pod/restart-policy.ts";
import { ConfigError, CreateError } from "../../supervisor/runtime/launch.ts";
import { FakeRuntime } from "./fake-runtime.ts";

const START = Date.parse("2026-12-01T10:00:00Z");

function pod(name: string, spec: Partial<Pod["spec"]> = {}, containers: Pod["spec"]["containers"] = [{ name: "app", image: "host", command: ["app"] }]): Pod {
  return { apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers, ...spec } } as Pod;
}

function world() {
  const clock = new FakeClock(START);
  const rt = new FakeRuntime(clock);
  const events: PodEvent[] = [];
  const open = () => {
    const sup = Supervisor.over(rt, { backOff: backOffConfig(), clock });
    sup.events.on("event", (e) => events.push(e));
    return sup;
  };
  const reasons = (container?: string) => events.filter((e) => container === undefined || e.container === container).map((e) => e.reason);
  return { clock, rt, events, open, sup: open(), reasons };
}

const state = (s: { state: object } | undefined) => Object.keys(s?.state ?? {})[0];

test("a pod that runs to completion: sandbox, start, exit, sandbox stopped; Succeeded with the kubelet's events", async () => {
  const w = world();
  w.rt.scripts.set("app", { runsForMs: 1000, exitCode: 0 });
  const worker = w.sup.add(pod("once", { restartPolicy: "Never" }));
  await w.clock.advance(0);
  assert.equal(worker.toObject().status.phase, "Running");
  assert.equal(state(worker.toObject().status.containerStatuses[0]), "running");
  await w.clock.advance(1000);
  await worker.done;
  assert.deepEqual(w.rt.calls, ["createSandbox once", "start once/app", "finish once/app", "stopSandbox once"]);
  const status = worker.toObject().status;
  assert.equal(status.phase, "Succeeded");
  assert.deepEqual(status.containerStatuses[0]!.state, { terminated: { exitCode: 0, reason: "Completed", startedAt: "2026-12-01T10:00:00Z", finishedAt: "2026-12-01T10:00:01Z", containerID: status.containerStatuses[0]!.state.terminated!.containerID } });
  assert.deepEqual(w.reasons("app"), ["Created", "Started", "Completed"]);
  assert.ok(w.rt.records.ended.has(worker.pod.metadata.uid), "the ended pod is recorded in the state root");
});

test("a crash loop restarts at once, then after the kubelet's back-off, doubling, and shows CrashLoopBackOff in between", async () => {
  const w = world();
  w.rt.scripts.set("app", { runsForMs: 100, exitCode: 3 });
  const worker = w.sup.add(pod("crash"));
  const runs = () => w.rt.runsOf("crash", "app").length;
  await w.clock.advance(100);
  assert.equal(runs(), 2, "the first restart is immediate, as the kubelet's");
  await w.clock.advance(100);
  const waiting = worker.toObject().status.containerStatuses[0]!;
  assert.equal(waiting.state.waiting?.reason, "CrashLoopBackOff");
  assert.match(waiting.state.waiting?.message ?? "", /back-off 10s restarting failed container=app/);
  assert.equal(waiting.lastState.terminated?.exitCode, 3);
  await w.clock.advance(9_800);
  assert.equal(runs(), 2, "not restarted before the back-off ends");
  await w.clock.advance(200);
  assert.equal(runs(), 3, "restarted once it ends");
  assert.equal(w.rt.last("crash", "app").restartCount, 2);
  await w.clock.advance(100); // the third run ends: the next window is 20 s
  await w.clock.advance(19_800);
  assert.equal(runs(), 3);
  await w.clock.advance(200);
  assert.equal(runs(), 4);
  assert.equal(worker.toObject().status.containerStatuses[0]!.restartCount, 3);
  assert.ok(w.reasons("app").includes("BackOff"));
  worker.delete(0);
  await w.clock.advance(2_000);
  await worker.done;
});

test("a missing image holds the container in ErrImagePull and is tried again; it starts once the image is there", async () => {
  const w = world();
  w.rt.failingImages.set("registry.example/app:1", "connection refused");
  const worker = w.sup.add(pod("pull", {}, [{ name: "app", image: "registry.example/app:1" }]));
  await w.clock.advance(0);
  assert.deepEqual(w.rt.calls, ["createSandbox pull"]);
  assert.deepEqual(worker.toObject().status.containerStatuses[0]!.state, { waiting: { reason: "ErrImagePull", message: "connection refused" } });
  w.rt.failingImages.clear();
  await w.clock.advance(9_000);
  assert.deepEqual(w.rt.calls, ["createSandbox pull"], "not tried before its retry time");
  await w.clock.advance(1_000);
  assert.deepEqual(w.rt.calls, ["createSandbox pull", "start pull/app"]);
  assert.equal(state(worker.toObject().status.containerStatuses[0]), "running");
});

test("a configuration error holds the container in CreateContainerConfigError, warned once, and retryHeld tries again at once", async () => {
  const w = world();
  w.rt.scripts.set("app", { startThrows: new ConfigError('configmap "settings" not found') });
  const worker = w.sup.add(pod("config"));
  await w.clock.advance(0);
  assert.equal(worker.toObject().status.containerStatuses[0]!.state.waiting?.reason, "CreateContainerConfigError");
  await w.clock.advance(10_000);
  assert.equal(w.rt.calls.filter((c) => c === "start config/app").length, 2, "retried after 10 s");
  assert.equal(w.reasons("app").filter((r) => r === "CreateContainerConfigError").length, 1, "the same message is warned of once");
  w.rt.scripts.delete("app");
  worker.retryHeld();
  await w.clock.advance(0);
  assert.equal(state(worker.toObject().status.containerStatuses[0]), "running");
});

test("a container the runtime cannot create (a Localhost AppArmor profile not loaded) waits in CreateContainerError with a Failed event", async () => {
  const w = world();
  w.rt.scripts.set("app", { startThrows: new CreateError('AppArmor profile "mine" is not loaded on this host') });
  const worker = w.sup.add(pod("create"));
  await w.clock.advance(0);
  const waiting = worker.toObject().status.containerStatuses[0]!.state.waiting;
  assert.equal(waiting?.reason, "CreateContainerError");
  assert.match(waiting?.message ?? "", /"mine" is not loaded/);
  assert.deepEqual(w.reasons("app"), ["Failed"]);
});

test("a pod that names an AppArmor profile on a host without AppArmor is refused as the kubelet refuses it; Unconfined is admitted", async () => {
  const w = world();
  const confined = w.sup.add(pod("confined", { securityContext: { appArmorProfile: { type: "RuntimeDefault" } } }));
  const annotated = w.sup.add({ ...pod("annotated"), metadata: { name: "annotated", annotations: { "container.apparmor.security.beta.kubernetes.io/app": "localhost/mine" } } });
  const free = w.sup.add(pod("free", { securityContext: { appArmorProfile: { type: "Unconfined" } } }));
  const plain = w.sup.add(pod("plain"));
  await settle();
  for (const p of [confined, annotated]) {
    const status = p.toObject().status;
    assert.equal(status.phase, "Failed");
    assert.equal(status.reason, "AppArmor");
    assert.equal(status.message, "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host");
  }
  assert.ok(!w.rt.calls.some((c) => /confined|annotated/.test(c)), `nothing of theirs is created: ${w.rt.calls.join(", ")}`);
  for (const p of [free, plain]) assert.equal(state(p.toObject().status.containerStatuses[0]), "running");
  // Where the host has AppArmor, the same pod is admitted.
  w.rt.appArmorUnavailable = undefined;
  const later = w.sup.add(pod("later", { securityContext: { appArmorProfile: { type: "RuntimeDefault" } } }));
  await settle();
  assert.equal(state(later.toObject().status.containerStatuses[0]), "running");
});

test("a delete stops with the stop signal and kills at the grace period's end; a second delete shortens it, never lengthens it", async () => {
  const w = world();
  w.rt.scripts.set("app", { ignoresStop: true });
  const worker = w.sup.add(pod("stop", { terminationGracePeriodSeconds: 30 }));
  await w.clock.advance(0);
  const run = w.rt.last("stop", "app");
  worker.delete();
  await w.clock.advance(0);
  assert.deepEqual(run.signals, ["SIGTERM"]);
  assert.equal(worker.toObject().status.containerStatuses[0]!.state.running !== undefined, true, "still running in its grace period");
  worker.delete(60);
  await w.clock.advance(10_000);
  assert.ok(run.running, "a longer grace period is ignored");
  worker.delete(5);
  await w.clock.advance(4_900);
  assert.ok(run.running);
  await w.clock.advance(100);
  assert.ok(!run.running, "killed 5 s after the shorter delete");
  assert.equal(w.rt.calls.filter((c) => c === "kill stop/app").length, 1);
  await worker.done;
  assert.deepEqual(run.signals, ["SIGTERM"], "the stop signal is sent once");
  assert.deepEqual(w.reasons("app").slice(0, 3), ["Created", "Started", "Killing"]);
});

test("postStart runs before the container is Running, preStop before the stop signal", async () => {
  const w = world();
  const worker = w.sup.add(
    pod("hooks", {}, [{ name: "app", image: "host", lifecycle: { postStart: { exec: { command: ["warm"] } }, preStop: { exec: { command: ["drain"] } } } }]),
  );
  await w.clock.advance(0);
  const pid1 = w.rt.last("hooks", "app").start!.pid1;
  assert.deepEqual(w.rt.calls, ["createSandbox hooks", "start hooks/app", `exec ${pid1} warm`]);
  worker.delete();
  await w.clock.advance(0);
  assert.deepEqual(w.rt.calls.slice(3), [`exec ${pid1} drain`, "finish hooks/app", "stopSandbox hooks"]);
  await worker.done;
});

test("a pod deleted while a postStart hook hangs is stopped at once with its grace period; the hook ends with it, reported as the kubelet does", async () => {
  const w = world();
  w.rt.scripts.set("app", { ignoresStop: true });
  w.rt.hangingExecs.add("wait-forever");
  const worker = w.sup.add(pod("hung", { terminationGracePeriodSeconds: 5 }, [{ name: "app", image: "host", lifecycle: { postStart: { exec: { command: ["wait-forever"] } } } }]));
  await w.clock.advance(1_000);
  const run = w.rt.last("hung", "app");
  assert.equal(worker.record("app").lifecycle.state, "Starting", "held in its postStart hook");
  worker.delete();
  await w.clock.advance(0);
  assert.deepEqual(run.signals, ["SIGTERM"], "the stop signal at once, not after the hook's 5 s");
  assert.equal(worker.record("app").lifecycle.state, "Stopping");
  const shown = worker.toObject().status.containerStatuses[0]!;
  assert.equal(state(shown), "waiting", "it never was Running, and is not shown so while it stops");
  assert.equal(shown.ready, false);
  await w.clock.advance(4_900);
  assert.ok(run.running, "it ignores SIGTERM: it runs until the grace period ends");
  await w.clock.advance(100);
  assert.ok(!run.running, "killed when the grace period ended");
  await worker.done;
  assert.ok(!w.reasons("app").includes("Started"), "it never was Running");
  assert.deepEqual(w.reasons("app").slice(0, 3), ["Created", "Killing", "FailedPostStartHook"]);
  assert.ok(w.rt.calls.includes(`exec ${run.start!.pid1} wait-forever cancelled`), "the hook was cancelled at the stop");
  assert.equal(w.rt.calls.filter((c) => c === "kill hung/app").length, 1, "killed once, at the end of the grace period");
});

test("a postStart sleep is cut short by a stop; a stop asked for before the exec waits for it, and then no postStart runs", async () => {
  const w = world();
  const sleeper = w.sup.add(pod("nap", { terminationGracePeriodSeconds: 30 }, [{ name: "app", image: "host", lifecycle: { postStart: { sleep: { seconds: 20 } } } }]));
  await w.clock.advance(1_000);
  assert.equal(sleeper.record("app").lifecycle.state, "Starting");
  sleeper.delete();
  await w.clock.advance(0);
  await sleeper.done;
  assert.equal(w.rt.last("nap", "app").signals.length, 1, "stopped at once, not after the sleep");

  w.rt.scripts.set("late", { startsAfterMs: 1_000 });
  const late = w.sup.add(pod("late", {}, [{ name: "late", image: "host", lifecycle: { postStart: { exec: { command: ["warm"] } } } }]));
  await w.clock.advance(100);
  const run = w.rt.last("late", "late");
  late.delete();
  await w.clock.advance(100);
  assert.deepEqual(run.signals, [], "no signal before the exec: the monitor takes them from then on");
  await w.clock.advance(1_000);
  await late.done;
  assert.deepEqual(run.signals, ["SIGTERM"], "stopped once it had started");
  assert.ok(!w.rt.calls.some((c) => c.endsWith(" warm")), "no postStart for a container already being stopped");
});

test("a restarted supervisor takes over what runs, goes on from the saved restart count, and restarts what ended while it was away", async () => {
  const w = world();
  w.rt.scripts.set("app", { runsForMs: 100, exitCode: 1 });
  const first = w.sup.add(pod("keep", {}, [{ name: "app", image: "host" }, { name: "side", image: "host" }]));
  await w.clock.advance(100); // app restarted once, at once
  assert.equal(first.record("app").restartCount, 1);
  w.rt.scripts.delete("app");
  const bound = first.pod;
  const sideRun = w.rt.last("keep", "side");
  const appRun = w.rt.last("keep", "app");
  // The daemon dies here: its worker is dropped, the runtime (monitors, records) stays.
  appRun.end(2); // app ends while nobody watches
  w.rt.calls.length = 0;
  const sup = w.open();
  const worker = sup.restore(bound);
  await w.clock.advance(0);
  assert.ok(w.rt.calls.includes("adopt keep/side") && w.rt.calls.includes("adopt keep/app") && w.rt.calls.includes("adoptSandbox keep"));
  assert.ok(!w.rt.calls.includes("start keep/side"), "a running container is not started again");
  assert.equal(w.rt.last("keep", "side"), sideRun);
  assert.ok(w.reasons("side").includes("Adopted"));
  assert.ok(w.reasons("app").includes("Lost"));
  // app's exit while away is answered by the restart policy, with the count going on.
  await w.clock.advance(20_000);
  assert.ok(w.rt.calls.includes("start keep/app"));
  assert.equal(w.rt.last("keep", "app").restartCount, 2);
  const app = worker.toObject().status.containerStatuses.find((s) => s.name === "app")!;
  assert.equal(app.lastState.terminated?.exitCode, 2);
  worker.delete(0);
  await w.clock.advance(2_000);
  await worker.done;
});

test("an ended pod stays ended for a restarted supervisor; one never started is admitted afresh", async () => {
  const w = world();
  w.rt.scripts.set("app", { runsForMs: 10, exitCode: 4 });
  const failed = w.sup.add(pod("failed", { restartPolicy: "Never" }));
  await w.clock.advance(10);
  await failed.done;
  assert.equal(failed.toObject().status.phase, "Failed");
  w.rt.calls.length = 0;
  const sup = w.open();
  const again = sup.restore(failed.pod);
  await w.clock.advance(0);
  assert.equal(again.toObject().status.phase, "Failed");
  assert.equal(again.toObject().status.containerStatuses[0]!.state.terminated?.exitCode, 4);
  assert.ok(!w.rt.calls.some((c) => c.startsWith("start") || c.startsWith("createSandbox")), `nothing is started again: ${w.rt.calls.join(", ")}`);
  const fresh = sup.restore({ ...failed.pod, metadata: { ...failed.pod.metadata, name: "fresh", uid: "uid-fresh" } });
  await settle();
  assert.ok(w.rt.calls.includes("createSandbox fresh"));
  fresh.delete(0);
  await w.clock.advance(2_000);
});

test("admission refuses what the node cannot give: Failed with the kubelet's reason, nothing created", async () => {
  const w = world();
  const big = w.sup.add(pod("big", {}, [{ name: "app", image: "host", resources: { requests: { cpu: "64" } } }]));
  await settle();
  const status = big.toObject().status;
  assert.equal(status.phase, "Failed");
  assert.equal(status.reason, "OutOfcpu");
  assert.deepEqual(w.rt.calls, []);
  assert.deepEqual(w.reasons(), ["OutOfcpu"]);
});

test("the node takes 110 pods: the next is refused OutOfpods; once one has ended, a new one is admitted", async () => {
  const w = world();
  w.rt.scripts.set("app", { runsForMs: 1000 });
  const first = w.sup.add(pod("p0", { restartPolicy: "Never" }));
  for (let i = 1; i < 110; i++) w.sup.add(pod(`p${i}`));
  await settle();
  const over = w.sup.add(pod("over"));
  assert.equal(over.toObject().status.reason, "OutOfpods");
  assert.equal(over.toObject().status.message, "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110");
  await w.clock.advance(1000); // p0 ends, and holds no more room
  await first.done;
  w.sup.add(pod("next"));
  await settle();
  assert.ok(w.rt.calls.includes("createSandbox next"), "admitted and started");
});
