import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { PoddError } from "../../supervisor/base/errors.ts";
import {
  backOffConfig,
  checkActiveDeadline,
  containerRole,
  decide,
  DEADLINE_EXCEEDED_MESSAGE,
  formatPodRef,
  KUBELET_BACKOFF,
  podRestartPolicy,
  shouldRestart,
  type BackOffConfig,
  type BackOffEntry,
  type ContainerRole,
  type DecideInput,
  type RestartPolicy,
} from "../../supervisor/pod/restart-policy.ts";
import { goDuration, rfc3339 } from "../../supervisor/base/time.ts";

const T0 = Date.UTC(2026, 10, 22, 4, 45, 19);
const S = 1000;
const POD = "web_default(1234)";

function input(over: Partial<DecideInput>): DecideInput {
  return {
    container: "app",
    podRef: POD,
    role: "app",
    restartPolicy: "Always",
    last: { kind: "never-started" },
    backOff: undefined,
    now: T0,
    ...over,
  };
}

describe("restart policy matrix", () => {
  const table: [ContainerRole, RestartPolicy, number, boolean][] = [
    ["app", "Always", 0, true],
    ["app", "Always", 1, true],
    ["app", "OnFailure", 0, false],
    ["app", "OnFailure", 1, true],
    ["app", "Never", 0, false],
    ["app", "Never", 1, false],
    ["init", "Always", 0, false],
    ["init", "Always", 1, true],
    ["init", "OnFailure", 0, false],
    ["init", "OnFailure", 1, true],
    ["init", "Never", 0, false],
    ["init", "Never", 1, false],
    ["sidecar", "Always", 0, true],
    ["sidecar", "Always", 1, true],
    ["sidecar", "OnFailure", 0, true],
    ["sidecar", "Never", 0, true],
    ["sidecar", "Never", 1, true],
  ];
  for (const [role, policy, code, restart] of table) {
    it(`${role} under ${policy}, exit ${code}: ${restart ? "restarted" : "left exited"}`, () => {
      assert.equal(shouldRestart(role, policy, code), restart);
      const d = decide(input({ role, restartPolicy: policy, last: { kind: "exited", exitCode: code, finishedAtMs: T0 } }));
      if (restart) {
        // First exit: no back-off entry yet, so the restart is immediate.
        assert.deepEqual(d, { action: "restart", backOff: { delayMs: 10 * S, lastUpdateMs: T0 } });
      } else {
        assert.deepEqual(d, { action: "none", why: code === 0 ? "succeeded" : "failed" });
      }
    });
  }

  it("never-started → start, running → none, pod terminating → none", () => {
    assert.deepEqual(decide(input({})), { action: "start" });
    assert.deepEqual(decide(input({ last: { kind: "running", startedAtMs: T0 } })), { action: "none", why: "running" });
    assert.deepEqual(
      decide(input({ podTerminating: true, last: { kind: "exited", exitCode: 1, finishedAtMs: T0 } })),
      { action: "none", why: "pod-terminating" },
    );
    assert.deepEqual(decide(input({ podTerminating: true })), { action: "none", why: "pod-terminating" });
  });

  it("a start error counts as a failure (exit 128) and is backed off like one", () => {
    const last = { kind: "start-error" as const, finishedAtMs: T0, message: "exec: not found" };
    assert.equal(decide(input({ restartPolicy: "OnFailure", last })).action, "restart");
    assert.deepEqual(decide(input({ restartPolicy: "Never", last })), { action: "none", why: "failed" });
    const held = decide(input({ last, backOff: { delayMs: 10 * S, lastUpdateMs: T0 - S }, now: T0 + S }));
    assert.equal(held.action, "wait");
  });

  it("restartPolicy defaults to Always and rejects anything else", () => {
    assert.equal(podRestartPolicy(undefined), "Always");
    assert.equal(podRestartPolicy("Never"), "Never");
    assert.throws(() => podRestartPolicy("Sometimes"), (e: unknown) => e instanceof PoddError && e.code === "Invalid");
  });

  it("roles: an init container with restartPolicy Always is a sidecar", () => {
    assert.equal(containerRole("containers"), "app");
    assert.equal(containerRole("containers", "Always"), "app");
    assert.equal(containerRole("initContainers"), "init");
    assert.equal(containerRole("initContainers", "Always"), "sidecar");
  });
});

/**
 * Drives decide() for a container that runs `runMs` each time and then fails, and returns the
 * wait before each restart (restart time - exit time).
 */
function crashLoop(runs: number[], cfg: BackOffConfig = KUBELET_BACKOFF): { waits: number[]; messages: string[] } {
  let now = T0;
  let backOff: BackOffEntry | undefined;
  const waits: number[] = [];
  const messages: string[] = [];
  for (const runMs of runs) {
    now += runMs;
    const finishedAtMs = now;
    for (;;) {
      const d = decide(input({ last: { kind: "exited", exitCode: 1, finishedAtMs }, backOff, now, config: cfg }));
      if (d.action === "restart") {
        backOff = d.backOff;
        break;
      }
      assert.equal(d.action, "wait");
      if (d.action !== "wait") return { waits, messages };
      assert.ok(d.retryAtMs > now, "a wait is in the future");
      messages.push(d.message);
      // One ms before the retry time it still waits.
      const early = decide(input({ last: { kind: "exited", exitCode: 1, finishedAtMs }, backOff, now: d.retryAtMs - 1, config: cfg }));
      assert.equal(early.action, "wait");
      now = d.retryAtMs;
    }
    waits.push(now - finishedAtMs);
  }
  return { waits, messages };
}

describe("crash-loop back-off", () => {
  it("0, 10s, 20s, 40s, 80s, 160s, 300s, 300s measured from the exit", () => {
    const { waits, messages } = crashLoop(Array(9).fill(S));
    assert.deepEqual(waits.map((w) => w / S), [0, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert.equal(messages[0], "back-off 10s restarting failed container=app pod=web_default(1234)");
    assert.equal(messages[1], "back-off 20s restarting failed container=app pod=web_default(1234)");
    assert.equal(messages[5], "back-off 5m0s restarting failed container=app pod=web_default(1234)");
  });

  it("the window counts from the exit, not from the restart", () => {
    // 100 s of run time after a 10 s window has been earned: the next wait is 20 s after the exit.
    const { waits } = crashLoop([S, S, 100 * S]);
    assert.deepEqual(waits.map((w) => w / S), [0, 10, 20]);
  });

  it("resets after more than 10 minutes of running since the last restart", () => {
    const { waits } = crashLoop([S, S, S, S, 601 * S, S, S]);
    assert.deepEqual(waits.map((w) => w / S), [0, 10, 20, 40, 0, 10, 20]);
  });

  it("exactly 10 minutes is not more than 10: the entry survives until the GC one ms later", () => {
    // Exit at lastUpdate + 600 s: not expired, in back-off (window 80 s); housekeeping GC deletes the
    // entry once now - lastUpdate > 600 s, so the restart comes 1 ms after the exit, fresh.
    const { waits } = crashLoop([S, S, S, S, 600 * S, S]);
    assert.deepEqual(waits, [0, 10 * S, 20 * S, 40 * S, 1, 10 * S]);
  });

  it("GC can end a long window early after a long run", () => {
    // Window is 300 s; the container ran 500 s: GC at lastUpdate + 600 s cuts the wait to 100 s + 1 ms.
    const { waits } = crashLoop([S, S, S, S, S, S, S, 500 * S, S]);
    assert.deepEqual(waits.map((w) => Math.round(w / S)), [0, 10, 20, 40, 80, 160, 300, 100, 10]);
  });

  it("--backoff-initial and --backoff-max shorten the windows; the reset stays 600 s", () => {
    const cfg = backOffConfig({ initialMs: 100, maxMs: 1000 });
    assert.equal(cfg.resetAfterMs, 600_000);
    const { waits, messages } = crashLoop(Array(7).fill(10), cfg);
    assert.deepEqual(waits, [0, 100, 200, 400, 800, 1000, 1000]);
    assert.equal(messages[0], "back-off 100ms restarting failed container=app pod=web_default(1234)");
    assert.equal(messages[4], "back-off 1s restarting failed container=app pod=web_default(1234)");
  });

  it("a max below the initial window lowers the initial window (kubelet KubeletCrashLoopBackOffMax)", () => {
    assert.deepEqual(backOffConfig({ maxMs: 2000 }), { initialMs: 2000, maxMs: 2000, resetAfterMs: 600_000 });
    assert.throws(() => backOffConfig({ maxMs: 0 }), PoddError);
    assert.throws(() => backOffConfig({ initialMs: -1 }), PoddError);
  });

  it("a shortened reset is honoured for tests", () => {
    const cfg = backOffConfig({ initialMs: 100, maxMs: 1000, resetAfterMs: 2000 });
    const { waits } = crashLoop([10, 10, 10, 2500, 10], cfg);
    assert.deepEqual(waits, [0, 100, 200, 0, 100]);
  });
});

describe("activeDeadlineSeconds", () => {
  it("exceeded once now - startTime >= deadline", () => {
    assert.deepEqual(checkActiveDeadline(undefined, T0, T0 + 1e9), { exceeded: false });
    assert.deepEqual(checkActiveDeadline(30, undefined, T0), { exceeded: false });
    assert.deepEqual(checkActiveDeadline(30, T0, T0 + 29_999), { exceeded: false, deadlineAtMs: T0 + 30 * S });
    assert.deepEqual(checkActiveDeadline(30, T0, T0 + 30 * S), {
      exceeded: true,
      deadlineAtMs: T0 + 30 * S,
      reason: "DeadlineExceeded",
      message: "Pod was active on the node longer than the specified deadline",
    });
    assert.equal(DEADLINE_EXCEEDED_MESSAGE, "Pod was active on the node longer than the specified deadline");
  });
});

describe("formatting", () => {
  it("Go time.Duration strings", () => {
    const table: [number, string][] = [
      [0, "0s"],
      [1, "1ms"],
      [100, "100ms"],
      [1500, "1.5s"],
      [1250, "1.25s"],
      [10 * S, "10s"],
      [59 * S, "59s"],
      [60 * S, "1m0s"],
      [80 * S, "1m20s"],
      [300 * S, "5m0s"],
      [3600 * S, "1h0m0s"],
      [3723 * S, "1h2m3s"],
      [-1500, "-1.5s"],
    ];
    for (const [ms, want] of table) assert.equal(goDuration(ms), want, `${ms} ms`);
  });

  it("RFC 3339 in seconds, the fraction dropped", () => {
    assert.equal(rfc3339(T0), "2026-11-22T04:45:19Z");
    assert.equal(rfc3339(T0 + 999), "2026-11-22T04:45:19Z");
  });

  it("pod ref as the kubelet's format.Pod", () => {
    assert.equal(formatPodRef({ name: "web", namespace: "prod", uid: "u-1" }), "web_prod(u-1)");
    assert.equal(formatPodRef({ name: "web" }), "web_default()");
  });
});
