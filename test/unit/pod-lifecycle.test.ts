import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { PoddError } from "../../supervisor/base/errors.ts";
import {
  canTransition,
  newContainerRecord,
  planPod,
  recordBackOff,
  recordExit,
  recordRunning,
  recordStarting,
  recordStopping,
  transition,
  type ContainerLifecycle,
  type ContainerRecord,
  type ObservedPod,
  type PodAction,
  type PodLike,
} from "../../supervisor/pod/lifecycle.ts";
import { buildPodStatus, type PodStatusSource } from "../../supervisor/status/pod-status.ts";
import { kubectlStatus, readyColumn } from "../../supervisor/cli/lib/pod-columns.ts";
import { backOffConfig, type BackOffConfig } from "../../supervisor/pod/restart-policy.ts";
import { terminatedReason, type PodStatus } from "../../supervisor/status/types.ts";
import { rfc3339 } from "../../supervisor/base/time.ts";

const T0 = Date.UTC(2026, 10, 22, 4, 45, 19);
const S = 1000;

type Pod = PodLike & PodStatusSource;

/** How a container behaves in the fake runtime: per instance (the last one repeats). */
interface Behaviour {
  /** Run time before exiting on its own; Infinity: runs until stopped. */
  runMs: number;
  exitCode?: number;
  oomKilled?: boolean;
}

interface Script {
  [container: string]: Behaviour | Behaviour[];
}

interface LogEntry {
  at: number; // seconds since T0
  action: string;
}

/**
 * A fake runtime: applies each plan's actions the way the real one must (through the record*
 * helpers), starts are instant, a stopped container exits after stopMs with 143, and time jumps
 * to the next exit or plan.wakeAtMs. Stops at `untilMs` or when nothing is left to happen.
 */
function simulate(
  pod: Pod,
  script: Script,
  opts: { untilMs?: number; stopMs?: number; backOff?: BackOffConfig; deleteAtMs?: number; statusAtMs?: number[] } = {},
) {
  const untilMs = opts.untilMs ?? T0 + 3600 * S;
  const stopMs = opts.stopMs ?? 500;
  let now = T0;
  const containers: Record<string, ContainerRecord> = {};
  const observed: ObservedPod & { containers: Record<string, ContainerRecord> } = {
    sandboxReady: false,
    startTimeMs: T0,
    containers,
  };
  const instances = new Map<string, number>();
  const exits = new Map<string, { atMs: number; exitCode: number; oom: boolean; startedAtMs: number }>();
  const log: LogEntry[] = [];
  const statuses = new Map<number, PodStatus>();
  const snapshots = [...(opts.statusAtMs ?? [])].sort((a, b) => a - b);
  let sandboxStopped = false;
  let previous: PodStatus | undefined;

  const behaviour = (name: string, n: number): Behaviour => {
    const b = script[name] ?? { runMs: Infinity };
    if (!Array.isArray(b)) return b;
    return b[Math.min(n, b.length - 1)] ?? { runMs: Infinity };
  };
  const rec = (name: string): ContainerRecord => containers[name] ?? newContainerRecord();

  const apply = (a: PodAction): void => {
    const at = (now - T0) / S;
    switch (a.type) {
      case "CreateSandbox":
        observed.sandboxReady = true;
        log.push({ at, action: "sandbox" });
        return;
      case "StopSandbox":
        observed.sandboxReady = false;
        sandboxStopped = true;
        log.push({ at, action: "sandbox-stop" });
        return;
      case "FailPod":
        observed.terminal = { phase: "Failed", ...(a.reason ? { reason: a.reason } : {}), ...(a.message ? { message: a.message } : {}) };
        log.push({ at, action: `fail${a.reason ? ` ${a.reason}` : ""}` });
        return;
      case "SucceedPod":
        observed.terminal = { phase: "Succeeded" };
        log.push({ at, action: "succeed" });
        return;
      case "BackOff":
        containers[a.container] = recordBackOff(a.container, rec(a.container), a);
        log.push({ at, action: `backoff ${a.container} ${a.delayMs / S}s` });
        return;
      case "StartContainer": {
        const n = instances.get(a.container) ?? 0;
        instances.set(a.container, n + 1);
        let r = recordStarting(a.container, rec(a.container), now, a.backOff);
        r = recordRunning(a.container, r, now, { containerID: `${a.container}-${n}` });
        containers[a.container] = r;
        const b = behaviour(a.container, n);
        if (Number.isFinite(b.runMs)) exits.set(a.container, { atMs: now + b.runMs, exitCode: b.exitCode ?? 0, oom: b.oomKilled ?? false, startedAtMs: now });
        log.push({ at, action: `${a.restart ? "restart" : "start"} ${a.container}` });
        return;
      }
      case "StopContainer": {
        containers[a.container] = recordStopping(a.container, rec(a.container), now);
        const l = rec(a.container).lifecycle;
        const startedAtMs = l.state === "Stopping" ? l.startedAtMs : now;
        const prior = exits.get(a.container);
        if (!prior || prior.atMs > now + stopMs) exits.set(a.container, { atMs: now + stopMs, exitCode: 143, oom: false, startedAtMs });
        log.push({ at, action: `stop ${a.container} (${a.reason})` });
        return;
      }
    }
  };

  for (let guard = 0; guard < 10_000; guard++) {
    if (opts.deleteAtMs !== undefined && now >= opts.deleteAtMs && observed.deletionRequestedAtMs === undefined) {
      observed.deletionRequestedAtMs = opts.deleteAtMs;
    }
    const plan = planPod(pod, observed, now, opts.backOff ? { backOff: opts.backOff } : {});
    if (plan.actions.length > 0) {
      for (const a of plan.actions) apply(a);
      continue; // plan again at the same time: the world changed
    }
    previous = buildPodStatus(pod, observed, now, previous ? { previous } : {});
    const nextExit = Math.min(...[...exits.values()].map((e) => e.atMs));
    const candidates = [nextExit, plan.wakeAtMs ?? Infinity, opts.deleteAtMs !== undefined && observed.deletionRequestedAtMs === undefined ? opts.deleteAtMs : Infinity];
    const next = Math.min(...candidates);
    // Status snapshots between events.
    while (snapshots.length > 0 && (snapshots[0] ?? Infinity) < Math.min(next, untilMs + 1)) {
      const t = snapshots.shift() ?? 0;
      if (t >= now) statuses.set(t, buildPodStatus(pod, observed, t, previous ? { previous } : {}));
    }
    if (!Number.isFinite(next) || next > untilMs) break;
    now = next;
    for (const [name, e] of exits) {
      if (e.atMs !== now) continue;
      exits.delete(name);
      containers[name] = recordExit(name, rec(name), {
        exitCode: e.exitCode,
        reason: terminatedReason(e.exitCode, e.oom),
        startedAtMs: e.startedAtMs,
        finishedAtMs: now,
        containerID: `${name}-${(instances.get(name) ?? 1) - 1}`,
      });
      log.push({ at: (now - T0) / S, action: `exit ${name} ${e.exitCode}` });
    }
  }
  const status = buildPodStatus(pod, observed, now, previous ? { previous } : {});
  return { observed, log, status, now, sandboxStopped, statuses };
}

function pod(spec: Partial<Pod["spec"]> & { containers: Pod["spec"]["containers"] }): Pod {
  return { metadata: { name: "web", namespace: "default", uid: "u1" }, spec };
}

const actions = (log: LogEntry[]): string[] => log.map((e) => `${e.at} ${e.action}`);

describe("restart matrix: one container that runs 1 s, for 30 minutes", () => {
  // Restarts at 1, 12, 33, 74, 155, 316, 617, 918, 1219, 1520 s: 10 within 30 minutes.
  const table = [
    { policy: "Always", code: 0, restarts: 10, phase: "Running", kubectl: "CrashLoopBackOff" },
    { policy: "Always", code: 1, restarts: 10, phase: "Running", kubectl: "CrashLoopBackOff" },
    { policy: "OnFailure", code: 0, restarts: 0, phase: "Succeeded", kubectl: "Completed" },
    { policy: "OnFailure", code: 1, restarts: 10, phase: "Running", kubectl: "CrashLoopBackOff" },
    { policy: "Never", code: 0, restarts: 0, phase: "Succeeded", kubectl: "Completed" },
    { policy: "Never", code: 1, restarts: 0, phase: "Failed", kubectl: "Error" },
  ] as const;
  for (const t of table) {
    it(`${t.policy}, exit ${t.code}: ${t.restarts} restarts, ${t.phase}`, () => {
      const p = pod({ restartPolicy: t.policy, containers: [{ name: "app", image: "busybox" }] });
      const r = simulate(p, { app: { runMs: S, exitCode: t.code } }, { untilMs: T0 + 1800 * S });
      const cs = r.status.containerStatuses[0];
      assert.equal(cs?.restartCount, t.restarts);
      assert.equal(r.status.phase, t.phase);
      assert.equal(kubectlStatus({ metadata: {}, spec: p.spec, status: r.status }), t.kubectl);
      if (t.restarts > 0) {
        const restarts = r.log.filter((e) => e.action === "restart app").map((e) => e.at);
        assert.deepEqual(restarts, [1, 12, 33, 74, 155, 316, 617, 918, 1219, 1520]);
        assert.equal(cs?.state.waiting?.reason, "CrashLoopBackOff");
        assert.equal(cs?.state.waiting?.message, "back-off 5m0s restarting failed container=app pod=web_default(u1)");
        assert.equal(cs?.lastState.terminated?.exitCode, t.code);
      } else {
        // Terminal: the sandbox is released.
        assert.equal(r.sandboxStopped, true);
        assert.ok(r.log.some((e) => e.action === (t.phase === "Succeeded" ? "succeed" : "fail")));
      }
    });
  }

  it("a back-off is recorded once, not on every plan", () => {
    const p = pod({ containers: [{ name: "app" }] });
    const r = simulate(p, { app: { runMs: S, exitCode: 1 } }, { untilMs: T0 + 100 * S });
    assert.deepEqual(
      actions(r.log).filter((a) => a.includes("backoff")),
      ["2 backoff app 10s", "13 backoff app 20s", "34 backoff app 40s", "75 backoff app 80s"],
    );
  });
});

describe("init containers", () => {
  const spec = {
    initContainers: [{ name: "i1" }, { name: "i2" }],
    containers: [{ name: "a" }, { name: "b" }],
  };

  it("run one at a time in order, each after the previous exited 0; then all apps at once", () => {
    const r = simulate(pod(spec), { i1: { runMs: 2 * S }, i2: { runMs: 3 * S } }, { untilMs: T0 + 60 * S, statusAtMs: [T0 + S, T0 + 3 * S, T0 + 6 * S] });
    assert.deepEqual(actions(r.log), ["0 sandbox", "0 start i1", "2 exit i1 0", "2 start i2", "5 exit i2 0", "5 start a", "5 start b"]);
    const at = (t: number) => {
      const status = r.statuses.get(t);
      assert.ok(status);
      return { phase: status.phase, kubectl: kubectlStatus({ metadata: {}, spec, status }) };
    };
    assert.deepEqual(at(T0 + S), { phase: "Pending", kubectl: "Init:0/2" });
    assert.deepEqual(at(T0 + 3 * S), { phase: "Pending", kubectl: "Init:1/2" });
    assert.deepEqual(at(T0 + 6 * S), { phase: "Running", kubectl: "Running" });
  });

  it("a failed init container is retried with back-off under OnFailure and Always", () => {
    for (const policy of ["OnFailure", "Always"] as const) {
      const p = pod({ ...spec, restartPolicy: policy });
      const r = simulate(p, { i1: [{ runMs: S, exitCode: 1 }, { runMs: S, exitCode: 1 }, { runMs: S }], i2: { runMs: S } }, { untilMs: T0 + 60 * S });
      assert.deepEqual(actions(r.log).slice(0, 9), [
        "0 sandbox",
        "0 start i1",
        "1 exit i1 1",
        "1 restart i1",
        "2 exit i1 1",
        "2 backoff i1 10s",
        "12 restart i1",
        "13 exit i1 0",
        "13 start i2",
      ]);
      assert.equal(r.status.initContainerStatuses?.[0]?.restartCount, 2);
      assert.equal(r.status.phase, "Running");
    }
  });

  it("under Never a failed init container fails the pod; the apps never start", () => {
    const p = pod({ ...spec, restartPolicy: "Never" });
    const r = simulate(p, { i1: { runMs: S, exitCode: 1 } });
    assert.deepEqual(actions(r.log), ["0 sandbox", "0 start i1", "1 exit i1 1", "1 fail", "1 sandbox-stop"]);
    assert.equal(r.status.phase, "Failed");
    assert.equal(kubectlStatus({ metadata: {}, spec: p.spec, status: r.status }), "Init:Error");
  });

  it("regular init containers do not run again once the apps have run", () => {
    const r = simulate(pod(spec), { i1: { runMs: S }, i2: { runMs: S }, a: { runMs: 5 * S, exitCode: 1 } }, { untilMs: T0 + 30 * S });
    assert.equal(r.log.filter((e) => e.action === "start i1").length, 1);
    assert.ok(r.log.some((e) => e.action === "restart a"));
  });
});

describe("sidecars (init containers with restartPolicy Always)", () => {
  const spec = {
    restartPolicy: "Never",
    initContainers: [{ name: "s1", restartPolicy: "Always" }, { name: "i1" }, { name: "s2", restartPolicy: "Always" }],
    containers: [{ name: "a" }, { name: "b" }],
  };

  it("start in order, each once the one before runs; do not hold the pod from completing; stop after the apps in reverse order", () => {
    const p = pod(spec);
    const r = simulate(p, { i1: { runMs: S }, a: { runMs: 5 * S }, b: { runMs: 10 * S } }, { statusAtMs: [T0 + 7 * S, T0 + 11.7 * S] });
    assert.deepEqual(actions(r.log), [
      "0 sandbox",
      "0 start s1",
      "0 start i1",
      "1 exit i1 0",
      "1 start s2",
      "1 start a",
      "1 start b",
      "6 exit a 0",
      "11 exit b 0",
      "11 stop s2 (PodCompleted)",
      "11.5 exit s2 143",
      "11.5 stop s1 (PodCompleted)",
      "12 exit s1 143",
      "12 succeed",
      "12 sandbox-stop",
    ]);
    assert.equal(r.status.phase, "Succeeded");
    // While s1 is still stopping the pod is Running, as getPhase counts a running sidecar.
    const mid = r.statuses.get(T0 + 11.7 * S);
    assert.equal(mid?.phase, "Running");
    const during = r.statuses.get(T0 + 7 * S);
    assert.ok(during);
    assert.equal(readyColumn({ metadata: {}, spec, status: during }), "3/4");
  });

  it("are restarted under restartPolicy Never, with back-off, without blocking what comes after", () => {
    const p = pod(spec);
    const r = simulate(
      p,
      { s1: [{ runMs: 500, exitCode: 1 }, { runMs: 200, exitCode: 0 }, { runMs: Infinity }], i1: { runMs: S }, a: { runMs: 30 * S }, b: { runMs: 30 * S } },
      { untilMs: T0 + 20 * S },
    );
    assert.deepEqual(actions(r.log), [
      "0 sandbox",
      "0 start s1",
      "0 start i1",
      "0.5 exit s1 1",
      "0.5 restart s1",
      "0.7 exit s1 0",
      "0.7 backoff s1 10s",
      "1 exit i1 0",
      "1 start s2",
      "1 start a",
      "1 start b",
      "10.7 restart s1",
    ]);
    assert.equal(r.status.initContainerStatuses?.[0]?.restartCount, 2);
    assert.equal(r.status.phase, "Running");
  });

  it("a sidecar that never starts holds back the init containers after it", () => {
    // s1 fails to come up: it exits at once, again and again; i1 still waits for its first run.
    const observed: ObservedPod = { sandboxReady: true, startTimeMs: T0, containers: {} };
    let plan = planPod(pod(spec), observed, T0);
    assert.deepEqual(plan.actions, [{ type: "StartContainer", container: "s1", role: "sidecar", restart: false }]);
    let s1 = recordStarting("s1", newContainerRecord(), T0);
    plan = planPod(pod(spec), { ...observed, containers: { s1 } }, T0);
    assert.deepEqual(plan.actions, [], "waits while s1 is starting");
    s1 = recordRunning("s1", s1, T0 + 10);
    // Running but its startup probe has not succeeded: not started yet, i1 still waits.
    plan = planPod(pod(spec), { ...observed, containers: { s1 } }, T0 + 10, { notStarted: new Set(["s1"]) });
    assert.deepEqual(plan.actions, [], "waits for s1's startup probe");
    plan = planPod(pod(spec), { ...observed, containers: { s1 } }, T0 + 10);
    assert.deepEqual(plan.actions, [{ type: "StartContainer", container: "i1", role: "init", restart: false }]);
  });

  it("on deletion: apps first, then sidecars in reverse order; no phase is forced", () => {
    const p = pod({ ...spec, restartPolicy: "Always", terminationGracePeriodSeconds: 10 });
    const r = simulate(p, { i1: { runMs: S } }, { deleteAtMs: T0 + 5 * S });
    assert.deepEqual(actions(r.log).slice(7), [
      "5 stop a (PodDeleted)",
      "5 stop b (PodDeleted)",
      "5.5 exit a 143",
      "5.5 exit b 143",
      "5.5 stop s2 (PodDeleted)",
      "6 exit s2 143",
      "6 stop s1 (PodDeleted)",
      "6.5 exit s1 143",
      "6.5 sandbox-stop",
    ]);
    assert.equal(r.observed.terminal, undefined);
  });

  it("sidecars share the grace period the apps left", () => {
    const p = pod({ ...spec, restartPolicy: "Always", terminationGracePeriodSeconds: 10 });
    const rec = (l: ContainerLifecycle): ContainerRecord => ({ lifecycle: l, restartCount: 0 });
    const observed: ObservedPod = {
      sandboxReady: true,
      startTimeMs: T0,
      deletionRequestedAtMs: T0,
      containers: {
        s1: rec({ state: "Running", startedAtMs: T0 }),
        i1: rec({ state: "Terminated", termination: { exitCode: 0, reason: "Completed", finishedAtMs: T0 } }),
        s2: rec({ state: "Running", startedAtMs: T0 }),
        a: rec({ state: "Terminated", termination: { exitCode: 143, reason: "Error", finishedAtMs: T0 + 7 * S } }),
        b: rec({ state: "Terminated", termination: { exitCode: 143, reason: "Error", finishedAtMs: T0 + 7 * S } }),
      },
    };
    assert.deepEqual(planPod(p, observed, T0 + 7 * S).actions, [
      { type: "StopContainer", container: "s2", role: "sidecar", gracePeriodMs: 3 * S, reason: "PodDeleted" },
    ]);
    // Never less than the kubelet's 2 s minimum.
    assert.equal((planPod(p, observed, T0 + 9.5 * S).actions[0] as { gracePeriodMs: number }).gracePeriodMs, 2 * S);
  });
});

describe("activeDeadlineSeconds", () => {
  it("fails the pod with DeadlineExceeded and stops everything, sidecars last", () => {
    const spec = {
      activeDeadlineSeconds: 10,
      initContainers: [{ name: "log", restartPolicy: "Always" }],
      containers: [{ name: "app" }],
    };
    const r = simulate(pod(spec), {});
    assert.deepEqual(actions(r.log), [
      "0 sandbox",
      "0 start log",
      "0 start app",
      "10 fail DeadlineExceeded",
      "10 stop app (DeadlineExceeded)",
      "10.5 exit app 143",
      "10.5 stop log (DeadlineExceeded)",
      "11 exit log 143",
      "11 sandbox-stop",
    ]);
    assert.equal(r.status.phase, "Failed");
    assert.equal(r.status.reason, "DeadlineExceeded");
    assert.equal(r.status.message, "Pod was active on the node longer than the specified deadline");
  });

  it("the plan asks to be woken at the deadline", () => {
    const observed: ObservedPod = { sandboxReady: true, startTimeMs: T0, containers: { app: { lifecycle: { state: "Running", startedAtMs: T0 }, restartCount: 0 } } };
    const plan = planPod(pod({ activeDeadlineSeconds: 30, containers: [{ name: "app" }] }), observed, T0 + S);
    assert.deepEqual(plan, { actions: [], wakeAtMs: T0 + 30 * S });
  });
});

describe("planPod basics", () => {
  it("creates the sandbox before anything else", () => {
    const plan = planPod(pod({ containers: [{ name: "a" }] }), { sandboxReady: false, containers: {} }, T0);
    assert.deepEqual(plan, { actions: [{ type: "CreateSandbox" }] });
  });

  it("a terminal pod starts nothing", () => {
    const observed: ObservedPod = {
      sandboxReady: false,
      terminal: { phase: "Succeeded" },
      containers: { a: { lifecycle: { state: "Terminated", termination: { exitCode: 1, reason: "Error", finishedAtMs: T0 } }, restartCount: 0 } },
    };
    assert.deepEqual(planPod(pod({ containers: [{ name: "a" }] }), observed, T0 + S), { actions: [] });
  });

  it("a deleted pod stops a container that is still starting (its postStart hook runs) with the rest of the grace period", () => {
    const observed: ObservedPod = {
      sandboxReady: true,
      deletionRequestedAtMs: T0,
      containers: {
        a: { lifecycle: { state: "Starting", sinceMs: T0 - S }, restartCount: 0 },
        b: { lifecycle: { state: "Running", startedAtMs: T0 - S }, restartCount: 0 },
      },
    };
    assert.deepEqual(planPod(pod({ terminationGracePeriodSeconds: 10, containers: [{ name: "a" }, { name: "b" }] }), observed, T0 + 2 * S).actions, [
      { type: "StopContainer", container: "a", role: "app", gracePeriodMs: 8 * S, reason: "PodDeleted" },
      { type: "StopContainer", container: "b", role: "app", gracePeriodMs: 8 * S, reason: "PodDeleted" },
    ]);
  });

  it("the restart carries the back-off entry to record", () => {
    const observed: ObservedPod = {
      sandboxReady: true,
      containers: { a: { lifecycle: { state: "Terminated", termination: { exitCode: 1, reason: "Error", finishedAtMs: T0 } }, restartCount: 0 } },
    };
    const cfg = backOffConfig({ initialMs: 100, maxMs: 1000 });
    assert.deepEqual(planPod(pod({ containers: [{ name: "a" }] }), observed, T0, { backOff: cfg }).actions, [
      { type: "StartContainer", container: "a", role: "app", restart: true, backOff: { delayMs: 100, lastUpdateMs: T0 } },
    ]);
  });
});

describe("container lifecycle transitions", () => {
  const t: Record<string, ContainerLifecycle> = {
    waiting: { state: "Waiting" },
    backoff: { state: "Waiting", backOff: { delayMs: 10 * S, retryAtMs: T0 + 10 * S, message: "m" } },
    starting: { state: "Starting", sinceMs: T0 },
    running: { state: "Running", startedAtMs: T0 },
    stopping: { state: "Stopping", startedAtMs: T0, sinceMs: T0 },
    terminated: { state: "Terminated", termination: { exitCode: 0, reason: "Completed", finishedAtMs: T0 } },
  };
  const legal = new Set([
    "waiting→starting",
    "backoff→starting",
    "starting→running",
    "starting→stopping",
    "starting→terminated",
    "running→stopping",
    "running→terminated",
    "stopping→terminated",
    "terminated→starting",
    "terminated→backoff",
  ]);
  for (const [from, a] of Object.entries(t)) {
    for (const [to, b] of Object.entries(t)) {
      const key = `${from}→${to}`;
      const ok = legal.has(key);
      it(`${key} is ${ok ? "legal" : "illegal"}`, () => {
        assert.equal(canTransition(a, b), ok);
        if (ok) assert.equal(transition("c", a, b), b);
        else {
          assert.throws(
            () => transition("c", a, b),
            (e: unknown) => e instanceof PoddError && e.code === "Conflict" && /^container "c": illegal transition /.test(e.message),
          );
        }
      });
    }
  }

  it("record helpers count restarts and keep the previous termination", () => {
    let r = newContainerRecord();
    r = recordStarting("c", r, T0);
    r = recordRunning("c", r, T0, { containerID: "id0" });
    assert.equal(r.restartCount, 0);
    const first = { exitCode: 1, reason: "Error", startedAtMs: T0, finishedAtMs: T0 + S, containerID: "id0" };
    r = recordExit("c", r, first);
    r = recordBackOff("c", r, { delayMs: 10 * S, retryAtMs: T0 + 11 * S, message: "m" });
    assert.deepEqual(r.lastTermination, first);
    r = recordStarting("c", r, T0 + 11 * S, { delayMs: 20 * S, lastUpdateMs: T0 + 11 * S });
    assert.equal(r.restartCount, 1);
    assert.equal(r.containerID, undefined, "a new instance has no ID until it runs");
    assert.deepEqual(r.backOff, { delayMs: 20 * S, lastUpdateMs: T0 + 11 * S });
    // Illegal: a running container cannot be started again, nor a waiting one stopped.
    r = recordRunning("c", r, T0 + 11 * S);
    assert.throws(() => recordStarting("c", r, T0), PoddError);
    assert.throws(() => recordStopping("c", newContainerRecord(), T0), PoddError);
    assert.throws(() => recordBackOff("c", r, { delayMs: 1, retryAtMs: 1, message: "" }), PoddError);
    assert.equal(rfc3339(T0), "2026-11-22T04:45:19Z");
  });
});
