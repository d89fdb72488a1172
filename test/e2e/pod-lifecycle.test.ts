// Kubernetes pod lifecycle semantics through `podd run -o json`: the restart matrix, crash-loop
// back-off, init containers, sidecars, graceful stop (SIGINT, SIGTERM, --timeout, the grace
// period, daemonised grandchildren), activeDeadlineSeconds, postStart/preStop hooks, the
// Terminated reasons and the shape of the printed objects. Expected outcomes are what the
// kubelet does (kubelet_pods.go getPhase, kuberuntime doBackOff, status_manager), checked
// from the final Pod, the events podd prints on stderr as they happen, the containers' logs
// and files they leave in a hostPath directory of the test's env. Every wait is on a
// condition; time is only ever checked as a lower bound (a restart never comes before its
// back-off, a kill never before the grace period ends).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Env } from "./harness.ts";
import {
  cmdlineOf,
  containerLogs,
  containerPids,
  isGone,
  ms,
  outDir,
  podOf,
  readIfExists,
  runPod,
  skip,
  startPod,
  startTimeOf,
  statusOf,
  stdoutOf,
  withEnv,
  type EventLine,
  type Finished,
  type RunningPod,
} from "./lifecycle-helpers.ts";

const F = "/bin/podd-fixture"; // in the busybox image

/** A one-container pod on the busybox image. */
function pod(name: string, restartPolicy: string, command: string[], extra = ""): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${restartPolicy}
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:local
    command: ${JSON.stringify(command)}
${extra}`;
}

const is = (container: string, reason: string) => (e: EventLine) => e.container === container && e.reason === reason;

/** Index of the first event matching, for ordering checks; fails when there is none. */
function at(r: Finished | EventLine[], container: string, reason: string, nth = 1): number {
  const events = Array.isArray(r) ? r : r.events;
  const hits = events.filter(is(container, reason));
  const e = hits[nth - 1];
  assert.ok(e, `no event #${nth} ${reason} for ${container} in:\n${events.map((x) => `${x.container ?? "-"} ${x.reason}`).join("\n")}`);
  return e.seq;
}

/** Stops a crash-looping pod once it has begun its `n`th back-off wait. */
async function stopAtBackOff(run: RunningPod, container: string, n: number): Promise<Finished> {
  await run.waitEvent(`${container}'s BackOff #${n}`, is(container, "BackOff"), n);
  run.signal("SIGTERM");
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  return r;
}

const backOffMessage = (delay: string, container: string, p: { metadata: { name: string; namespace: string; uid: string } }) =>
  `back-off ${delay} restarting failed container=${container} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})`;

describe("restart policy × exit code", { skip }, () => {
  // The pod runs to a terminal phase by itself.
  for (const [policy, code, phase, reason] of [
    ["Never", 0, "Succeeded", "Completed"],
    ["Never", 1, "Failed", "Error"],
    ["OnFailure", 0, "Succeeded", "Completed"],
  ] as const) {
    test(`${policy} + exit ${code}: ${phase}, no restart`, () =>
      withEnv(async (env) => {
        const r = await runPod(env, pod("m", policy, [F, "exit", String(code)]));
        assert.equal(r.code, code === 0 ? 0 : 1, r.stderr);
        const p = podOf(r);
        assert.equal(p.status.phase, phase);
        const c = statusOf(p, "c");
        assert.equal(c.restartCount, 0);
        assert.equal(c.state.terminated?.exitCode, code);
        assert.equal(c.state.terminated?.reason, reason);
        assert.deepEqual(c.lastState, {});
        assert.equal(r.events.filter(is("c", "Started")).length, 1);
      }, { busybox: true }));
  }

  // The pod keeps restarting its container until stopped; stopped during its third back-off
  // wait (windows 200ms, 400ms, 800ms), it has restarted 3 times. The stopped pod is Failed:
  // podd keeps showing the container Waiting in CrashLoopBackOff, and getPhase counts a waiting
  // container's previous exit as stopped, never as succeeded, whatever its exit code.
  for (const [policy, code, phase] of [
    ["OnFailure", 1, "Failed"],
    ["Always", 0, "Failed"],
    ["Always", 1, "Failed"],
  ] as const) {
    test(`${policy} + exit ${code}: restarted with back-off until stopped (then ${phase})`, () =>
      withEnv(async (env) => {
        const r = await stopAtBackOff(startPod(env, pod("m", policy, [F, "exit", String(code)])), "c", 3);
        const p = podOf(r);
        const c = statusOf(p, "c");
        assert.equal(c.restartCount, 3);
        assert.deepEqual(c.state, { waiting: { reason: "CrashLoopBackOff", message: backOffMessage("800ms", "c", p) } });
        assert.equal(c.lastState.terminated?.exitCode, code);
        assert.equal(c.lastState.terminated?.reason, code === 0 ? "Completed" : "Error");
        assert.equal(r.events.filter(is("c", "Started")).length, 4);
        assert.equal(p.status.phase, phase);
      }, { busybox: true }));
  }
});

describe("crash-loop back-off", { skip }, () => {
  test("restarts wait 0, initial, 2×, 4× … capped at max; the message and event say so", () =>
    withEnv(async (env) => {
      const run = startPod(env, pod("loop", "Always", ["sh", "-c", "echo run; exit 1"]));
      // Windows: 200ms, 400ms, 800ms, 1s, 1s (capped at --backoff-max).
      const r = await stopAtBackOff(run, "c", 5);
      const p = podOf(r);
      const c = statusOf(p, "c");
      assert.equal(c.restartCount, 5);
      assert.deepEqual(c.state, { waiting: { reason: "CrashLoopBackOff", message: backOffMessage("1s", "c", p) } });
      const backOffs = r.events.filter(is("c", "BackOff"));
      assert.equal(backOffs.length, 5);
      assert.equal(backOffs[0]?.message, `Back-off restarting failed container c in pod loop_default(${p.metadata.uid})`);
      // Every BackOff follows an exit and precedes the next start.
      for (let i = 1; i <= 5; i++) {
        assert.ok(at(r, "c", "Error", i + 1) < at(r, "c", "BackOff", i));
        if (i < 5) assert.ok(at(r, "c", "BackOff", i) < at(r, "c", "Created", i + 2));
      }
      // The logs of the running instance and of the last one that ended are kept (older runs'
      // go, as with the kubelet's container GC). Each run logs "run" at its start, stamped by the
      // monitor from the same clock the exit times come from: the gap between the two is at
      // least the back-off between them (capped at 1s).
      const runs = containerLogs(env, "loop", "c");
      assert.deepEqual(runs.map((x) => x.run), [4, 5]);
      const starts = runs.map((x) => {
        assert.equal(x.lines[0]?.message, "run");
        return x.lines[0]!.timeMs;
      });
      const gap = starts[1]! - starts[0]!;
      assert.ok(gap >= 1000 - 1, `run 5 started ${gap} ms after run 4, before its 1000 ms back-off`);
      // lastState is the previous run; its finish time is no later than the last run's log.
      assert.ok(ms(c.lastState.terminated!.finishedAt) <= starts[1]!);
    }, { busybox: true }));
});

/** A pod with a shared emptyDir at /work and the env's out dir at /out. */
function volumes(env: Env): string {
  return `  volumes:
  - {name: work, emptyDir: {}}
  - {name: out, hostPath: {path: ${outDir(env)}, type: Directory}}
`;
}
const mounts = `    volumeMounts: [{name: work, mountPath: /work}, {name: out, mountPath: /out}]\n`;

function container(name: string, script: string, extra = ""): string {
  return `  - name: ${name}
    image: busybox:local
    command: ["sh", "-c", ${JSON.stringify(script)}]
${mounts}${extra}`;
}

describe("init containers", { skip }, () => {
  test("run one at a time in order, each to exit 0 before the next, then the app", () =>
    withEnv(async (env) => {
      const r = await runPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: inits}
spec:
  restartPolicy: Never
${volumes(env)}  initContainers:
${container("first", "echo first-start >> /work/order; sleep 0.3; echo first-end >> /work/order")}
${container("second", "echo second-start >> /work/order; echo second-end >> /work/order")}
  containers:
${container("app", "echo app-start >> /work/order; cat /work/order")}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Succeeded");
      assert.deepEqual(stdoutOf(env, "inits", "app"), ["first-start", "first-end", "second-start", "second-end", "app-start"]);
      assert.ok(at(r, "first", "Completed") < at(r, "second", "Created"));
      assert.ok(at(r, "second", "Completed") < at(r, "app", "Created"));
      for (const n of ["first", "second"]) {
        const s = statusOf(p, n);
        assert.equal(s.state.terminated?.reason, "Completed");
        assert.equal(s.restartCount, 0);
        assert.equal(s.ready, true);
      }
      assert.ok(ms(statusOf(p, "first").state.terminated!.finishedAt) <= ms(statusOf(p, "second").state.terminated!.startedAt));
      assert.equal(p.status.conditions.find((c) => c.type === "Initialized")?.status, "True");
    }, { busybox: true }));

  test("a failing one under restartPolicy Never fails the pod; nothing after it ever starts", () =>
    withEnv(async (env) => {
      const r = await runPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
${volumes(env)}  initContainers:
${container("bad", "exit 3")}
${container("later", "true")}
  containers:
${container("app", "true")}`,
      );
      assert.equal(r.code, 1, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Failed");
      const bad = statusOf(p, "bad");
      assert.equal(bad.state.terminated?.exitCode, 3);
      assert.equal(bad.state.terminated?.reason, "Error");
      assert.equal(bad.restartCount, 0);
      assert.deepEqual(statusOf(p, "later").state, { waiting: { reason: "PodInitializing" } });
      assert.deepEqual(statusOf(p, "app").state, { waiting: { reason: "PodInitializing" } });
      assert.ok(!r.events.some((e) => e.container === "app" || e.container === "later"), "app and later never started");
      assert.deepEqual(containerLogs(env, "initfail", "app"), []);
    }, { busybox: true }));

  test("a failing one under OnFailure is retried until it succeeds, then the app runs", () =>
    withEnv(async (env) => {
      const r = await runPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: initretry}
spec:
  restartPolicy: OnFailure
${volumes(env)}  initContainers:
${container("flaky", "echo try >> /work/tries; [ $(wc -l < /work/tries) -ge 3 ]")}
  containers:
${container("app", "cat /work/tries")}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Succeeded");
      const flaky = statusOf(p, "flaky");
      assert.equal(flaky.restartCount, 2);
      assert.equal(flaky.state.terminated?.reason, "Completed");
      assert.equal(flaky.lastState.terminated?.exitCode, 1);
      assert.deepEqual(stdoutOf(env, "initretry", "app"), ["try", "try", "try"]);
      assert.ok(at(r, "flaky", "Completed") < at(r, "app", "Created"));
      assert.equal(r.events.filter(is("app", "Started")).length, 1);
    }, { busybox: true }));

  test("a failing one under Always is retried with back-off; the app waits in PodInitializing", () =>
    withEnv(async (env) => {
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: initloop}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 2
${volumes(env)}  initContainers:
${container("bad", "exit 2")}
  containers:
${container("app", "true")}`,
        [],
        // Windows of 1s then 2s: the stop lands in the second even in a slow VM.
        { backOff: ["--backoff-initial", "1s", "--backoff-max", "4s"] },
      );
      const r = await stopAtBackOff(run, "bad", 2);
      const p = podOf(r);
      const bad = statusOf(p, "bad");
      assert.equal(bad.restartCount, 2);
      assert.deepEqual(bad.state, { waiting: { reason: "CrashLoopBackOff", message: backOffMessage("2s", "bad", p) } });
      assert.equal(bad.lastState.terminated?.exitCode, 2);
      assert.deepEqual(statusOf(p, "app").state, { waiting: { reason: "PodInitializing" } });
      assert.ok(!r.events.some((e) => e.container === "app"));
      // Stopped before it ever initialised: the kubelet's TerminatePod marks such a pod Failed.
      assert.equal(p.status.phase, "Failed");
    }, { busybox: true }));
});

describe("sidecars (init containers with restartPolicy Always)", { skip }, () => {
  test("start in order before the app, keep running, restart under Never, do not hold the pod, stop in reverse", () =>
    withEnv(async (env) => {
      // sc1 fails its first start (and is restarted although the pod says Never); the app
      // waits for sc1's second start, checks sc2 is up, and exits 0.
      const r = await runPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: sidecars}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
${volumes(env)}  initContainers:
${container("sc1", `echo sc1 >> /work/order; [ $(grep -c sc1 /work/order) -ge 2 ] || exit 1; exec ${F} sleep-forever`, "    restartPolicy: Always\n")}
${container("sc2", `echo sc2 >> /work/order; exec ${F} sleep-forever`, "    restartPolicy: Always\n")}
  containers:
${container("app", "until [ $(grep -c sc1 /work/order) -ge 2 ]; do sleep 0.05; done; echo app >> /work/order; cat /work/order")}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Succeeded");
      // In order: sc1 runs before sc2 is created, sc2 runs before the app is created.
      assert.ok(at(r, "sc1", "Started") < at(r, "sc2", "Created"));
      assert.ok(at(r, "sc2", "Started") < at(r, "app", "Created"));
      // sc1's restart may come before or after sc2's start; both come before the app.
      const order = stdoutOf(env, "sidecars", "app");
      assert.equal(order.length, 4, order.join(" "));
      assert.equal(order[0], "sc1");
      assert.deepEqual(order.slice(1, 3).sort(), ["sc1", "sc2"]);
      assert.equal(order[3], "app");
      // Restarted under Never; still running when the app finished: stopped, not exited.
      const sc1 = statusOf(p, "sc1");
      const sc2 = statusOf(p, "sc2");
      assert.equal(sc1.restartCount, 1);
      assert.equal(sc1.lastState.terminated?.exitCode, 1);
      assert.equal(sc2.restartCount, 0);
      for (const s of [sc1, sc2]) {
        assert.equal(s.state.terminated?.exitCode, 143, `${s.name} was stopped by SIGTERM`);
        assert.equal(s.state.terminated?.signal, 15);
      }
      assert.equal(statusOf(p, "app").state.terminated?.reason, "Completed");
      // Stopped after the app exited, in reverse order; the app itself was never stopped.
      assert.ok(at(r, "app", "Completed") < at(r, "sc2", "Killing"));
      assert.ok(at(r, "sc2", "Killing") < at(r, "sc1", "Killing"));
      assert.ok(at(r, "sc2", "Error") < at(r, "sc1", "Killing"), "sc1 is stopped once sc2 has exited");
      assert.ok(!r.events.some(is("app", "Killing")));
    }, { busybox: true }));
});

/** The host pid and start time of the process running `argv` in the container's cgroup. */
function findInContainer(env: Env, name: string, argv: string[]): { pid: number; startTime: number } | undefined {
  for (const pid of containerPids(env, name)) {
    if (cmdlineOf(pid).join(" ") === argv.join(" ")) {
      const startTime = startTimeOf(pid);
      if (startTime !== undefined) return { pid, startTime };
    }
  }
  return undefined;
}

describe("graceful stop", { skip }, () => {
  // trap-report writes "ready", then the signals it gets, to a file of the env; a grandchild
  // double-forks and calls setsid, leaving the command's session and process tree.
  const trapPod = (env: Env) => `apiVersion: v1
kind: Pod
metadata: {name: stop}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 10
${volumes(env)}  containers:
${container("c", `(setsid ${F} sleep 1000 </dev/null >/dev/null 2>&1 &); exec ${F} trap-report /out/trap`)}`;

  for (const [how, code] of [["SIGINT", 130], ["SIGTERM", 143], ["--timeout", 124]] as const) {
    test(`${how}: the command gets SIGTERM and finishes its cleanup; a daemonised grandchild is killed; exit ${code}`, () =>
      withEnv(async (env) => {
        const run = startPod(env, trapPod(env), how === "--timeout" ? ["--timeout", "3s"] : []);
        const trap = join(outDir(env), "trap");
        await run.until("trap-report ready", () => readIfExists(trap) === "ready\n");
        const daemon = await run.until("the daemonised grandchild", () => findInContainer(env, "c", [F, "sleep", "1000"]));
        if (how !== "--timeout") run.signal(how);
        const r = await run.done;
        assert.equal(r.code, code, r.stderr);
        assert.equal(readIfExists(trap), "ready\nTERM\n");
        const c = statusOf(podOf(r), "c");
        assert.equal(c.state.terminated?.exitCode, 0, "trap-report exits 0 after SIGTERM");
        assert.equal(c.state.terminated?.reason, "Completed");
        assert.ok(at(r, "c", "Killing") < at(r, "c", "Completed"));
        assert.ok(isGone(daemon), `daemon pid ${daemon.pid} survived`);
      }, { busybox: true }));
  }

  test("a command ignoring SIGTERM is killed when terminationGracePeriodSeconds (2) ends", () =>
    withEnv(async (env) => {
      const run = startPod(env, pod("stubborn", "Always", [F, "ignore", "TERM"]));
      await run.until("ignore ready", () => stdoutOf(env, "stubborn", "c").includes("ready"));
      const t0 = Date.now();
      run.signal("SIGTERM");
      const r = await run.done;
      const took = Date.now() - t0;
      assert.equal(r.code, 143, r.stderr);
      assert.ok(took >= 2000, `killed after ${took} ms, before the 2 s grace period ended`);
      const c = statusOf(podOf(r), "c");
      assert.equal(c.state.terminated?.exitCode, 137);
      assert.equal(c.state.terminated?.signal, 9);
      assert.equal(c.state.terminated?.reason, "Error");
      assert.equal(c.restartCount, 0, "a stopping pod restarts nothing");
    }, { busybox: true }));
});

describe("activeDeadlineSeconds", { skip }, () => {
  test("fails the pod with reason DeadlineExceeded and stops its containers", () =>
    withEnv(async (env) => {
      const r = await runPod(env, pod("deadline", "Always", [F, "sleep-forever"], "  activeDeadlineSeconds: 1\n"));
      assert.equal(r.code, 1, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Failed");
      assert.equal(p.status.reason, "DeadlineExceeded");
      assert.equal(p.status.message, "Pod was active on the node longer than the specified deadline");
      const deadline = r.events.find((e) => e.reason === "DeadlineExceeded");
      assert.ok(deadline && deadline.container === undefined);
      assert.ok(deadline.seq < at(r, "c", "Killing"));
      const c = statusOf(p, "c");
      assert.equal(c.state.terminated?.exitCode, 143);
      assert.equal(c.restartCount, 0);
      assert.ok(ms(c.state.terminated!.finishedAt) - ms(p.status.startTime!) >= 1000);
    }, { busybox: true }));
});

describe("lifecycle hooks", { skip }, () => {
  test("postStart runs inside the container; the container is not Started until it finishes", () =>
    withEnv(async (env) => {
      const out = outDir(env);
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: poststart}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
${volumes(env)}  containers:
${container("c", `echo main > /out/main; exec ${F} sleep-forever`, `    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "hostname > /out/hook; cat /proc/1/comm >> /out/hook; until [ -e /out/release ]; do sleep 0.05; done"]
`)}`,
      );
      await run.until("the command and the hook running", () => readIfExists(join(out, "main")) !== "" && readIfExists(join(out, "hook")).split("\n").length >= 3);
      assert.deepEqual(readIfExists(join(out, "hook")).split("\n"), ["poststart", "podd-init", ""], "the hook sees the pod's hostname and the container's PID 1");
      assert.ok(run.events().some(is("c", "Created")));
      assert.ok(!run.events().some(is("c", "Started")), "Started before postStart finished");
      writeFileSync(join(out, "release"), "");
      await run.waitEvent("c Started", is("c", "Started"));
      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      assert.ok(!r.events.some(is("c", "FailedPostStartHook")));
    }, { busybox: true }));

  test("a failing postStart kills the container", () =>
    withEnv(async (env) => {
      const r = await runPod(
        env,
        pod("badhook", "Never", [F, "sleep-forever"], `    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "exit 3"]
`),
      );
      assert.equal(r.code, 1, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Failed");
      const hook = r.events.find(is("c", "FailedPostStartHook"));
      assert.ok(hook, r.stderr);
      const c = statusOf(p, "c");
      assert.equal(c.state.terminated?.exitCode, 137, "killed, not stopped");
      assert.equal(c.restartCount, 0);
    }, { busybox: true }));

  test("a stop during a postStart that never ends: the container is stopped at once, as the kubelet cancels the hook, and the hook ends with it", () =>
    withEnv(async (env) => {
      const out = outDir(env);
      const run = startPod(
        env,
        pod("stuckhook", "Never", [F, "sleep-forever"], `    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo waiting > /out/hook; exec ${F} sleep 1000"]
  volumes:
  - {name: out, hostPath: {path: ${out}, type: Directory}}
`),
      );
      await run.until("the hook running", () => readIfExists(join(out, "hook")) === "waiting\n");
      const hook = await run.until("the hook's process", () => findInContainer(env, "c", [F, "sleep", "1000"]));
      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      // Not waited out: the hook was cut short by the stop, not by its own time limit.
      const failed = r.events.find(is("c", "FailedPostStartHook"))?.message ?? "";
      assert.match(failed, /^PostStartHook failed: /);
      assert.doesNotMatch(failed, /timed out/);
      assert.ok(!r.events.some(is("c", "Started")), "a container stopped in its postStart never was Started");
      const c = statusOf(podOf(r), "c");
      assert.equal(c.state.terminated?.exitCode, 143, "stopped by SIGTERM in its grace period, not killed");
      assert.ok(isGone(hook), `the hook (pid ${hook.pid}) outlived its container`);
    }, { busybox: true }));

  test("preStop runs inside the container before SIGTERM", () =>
    withEnv(async (env) => {
      const out = outDir(env);
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: prestop}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
${volumes(env)}  containers:
${container("c", `exec ${F} trap-report /out/trap`, `    lifecycle:
      preStop:
        exec:
          command: ["sh", "-c", "cat /out/trap > /out/saw; hostname >> /out/saw; cat /proc/1/comm >> /out/saw"]
`)}`,
      );
      await run.until("trap-report ready", () => readIfExists(join(out, "trap")) === "ready\n");
      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      assert.equal(readIfExists(join(out, "saw")), "ready\nprestop\npodd-init\n", "preStop ran in the container before any SIGTERM");
      assert.equal(readIfExists(join(out, "trap")), "ready\nTERM\n");
      assert.equal(statusOf(podOf(r), "c").state.terminated?.reason, "Completed");
      assert.ok(!r.events.some(is("c", "FailedPreStopHook")));
    }, { busybox: true }));

  test("a preStop sleep holds SIGTERM back for its seconds, inside the grace period", () =>
    withEnv(async (env) => {
      const out = outDir(env);
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: presleep}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 10
${volumes(env)}  containers:
${container("c", `exec ${F} trap-report /out/trap`, `    lifecycle:
      preStop:
        sleep: {seconds: 2}
`)}`,
      );
      await run.until("trap-report ready", () => readIfExists(join(out, "trap")) === "ready\n");
      const stopped = Date.now();
      run.signal("SIGTERM");
      await run.until("the TERM", () => readIfExists(join(out, "trap")).includes("TERM"));
      // A lower bound only: the hook's sleep comes first, however slow the machine is.
      assert.ok(Date.now() - stopped >= 2000, `SIGTERM came ${Date.now() - stopped} ms after the stop, before the preStop sleep ended`);
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      assert.equal(statusOf(podOf(r), "c").state.terminated?.reason, "Completed");
      assert.ok(!r.events.some(is("c", "FailedPreStopHook")));
    }, { busybox: true }));
});

describe("terminated reasons and the printed objects", { skip }, () => {
  test("Completed (0), Error (non-zero), StartError (a command that cannot start)", () =>
    withEnv(async (env) => {
      const r = await runPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: reasons}
spec:
  restartPolicy: Never
  containers:
  - {name: ok, image: busybox:local, command: ["${F}", "exit", "0"]}
  - {name: bad, image: busybox:local, command: ["${F}", "exit", "3"]}
  - {name: nx, image: busybox:local, command: ["/nonexistent"]}
`,
      );
      assert.equal(r.code, 1, r.stderr);
      const p = podOf(r);
      assert.equal(p.status.phase, "Failed");
      assert.deepEqual([statusOf(p, "ok").state.terminated?.reason, statusOf(p, "ok").state.terminated?.exitCode], ["Completed", 0]);
      assert.deepEqual([statusOf(p, "bad").state.terminated?.reason, statusOf(p, "bad").state.terminated?.exitCode], ["Error", 3]);
      const nx = statusOf(p, "nx").state.terminated!;
      assert.equal(nx.reason, "StartError");
      assert.match(nx.message ?? "", /^exec: "\/nonexistent": stat \/nonexistent: no such file or directory$/);
      assert.notEqual(nx.exitCode, 0);
      assert.ok(!r.events.some(is("nx", "Started")));
      assert.match(r.events.find(is("nx", "Failed"))?.message ?? "", /^Error: exec: "\/nonexistent": /);
    }, { busybox: true }));

  test("-o json prints a List of Pods shaped as kubectl get pod -o json prints them", () =>
    withEnv(async (env) => {
      // A uid in the file is not kept: podd gives every pod its own, as the API server does.
      const r = await runPod(env, pod("shape", "OnFailure", [F, "exit", "0"]).replace("metadata: {name: shape}", "metadata: {name: shape, uid: mine}"));
      assert.equal(r.code, 0, r.stderr);
      const list = r.list!;
      assert.equal(list.apiVersion, "v1");
      assert.equal(list.kind, "List");
      assert.equal(list.items.length, 1);
      const p = podOf(r);
      assert.equal(p.apiVersion, "v1");
      assert.equal(p.kind, "Pod");
      assert.equal(p.metadata.name, "shape");
      assert.equal(p.metadata.namespace, "default");
      assert.match(p.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(p.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // spec with the API server's defaults
      assert.equal(p.spec.restartPolicy, "OnFailure");
      assert.equal(p.spec["terminationGracePeriodSeconds"], 2);
      assert.equal(p.spec["dnsPolicy"], "ClusterFirst");
      const c0 = p.spec.containers[0]!;
      assert.equal(c0["imagePullPolicy"], "IfNotPresent", "an image with a tag other than latest defaults to IfNotPresent");
      assert.equal(c0["terminationMessagePath"], "/dev/termination-log");
      assert.equal(c0["terminationMessagePolicy"], "File");
      // status
      assert.equal(p.status.phase, "Succeeded");
      assert.match(p.status.startTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(p.status.conditions.map((c) => c.type), ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
      for (const cond of p.status.conditions) {
        assert.ok(["True", "False"].includes(cond.status));
        assert.ok("lastProbeTime" in cond && "lastTransitionTime" in cond);
      }
      assert.equal(p.status.qosClass, "BestEffort");
      const s = statusOf(p, "c");
      assert.deepEqual(Object.keys(s).sort(), ["containerID", "image", "imageID", "lastState", "name", "ready", "restartCount", "started", "state", "user"]);
      // As Kubernetes v1.31+ reports the identity the command was started with.
      assert.deepEqual(s.user, { linux: { uid: 0, gid: 0, supplementalGroups: [0] } });
      assert.equal(s.image, "busybox:local");
      assert.equal(typeof s.imageID, "string");
      assert.match(s.containerID ?? "", /^[a-z]+:\/\/[0-9a-f]{64}$/);
      assert.equal(s.state.terminated?.containerID, s.containerID);
      assert.equal(s.ready, false);
      assert.equal(s.started, false);
      assert.equal(s.restartCount, 0);
      assert.deepEqual(Object.keys(s.state.terminated!).sort(), ["containerID", "exitCode", "finishedAt", "reason", "startedAt"]);
    }, { busybox: true }));
});
