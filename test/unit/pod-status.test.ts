import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import type { ContainerLifecycle, ContainerRecord, ObservedPod, Termination } from "../../supervisor/pod/lifecycle.ts";
import { buildPodStatus, type PodStatusSource } from "../../supervisor/status/pod-status.ts";
import { qosClass } from "../../supervisor/status/qos.ts";
import { age, kubectlStatus, readyColumn, restartsColumn, type KubectlPod } from "../../supervisor/cli/lib/pod-columns.ts";
import { byNamespaceAndName } from "../../supervisor/base/paths.ts";
import type { ContainerStatus, PodStatus } from "../../supervisor/status/types.ts";
import { humanDuration, rfc3339, shortHumanDuration } from "../../supervisor/base/time.ts";

const T0 = Date.UTC(2026, 10, 22, 4, 45, 19);
const S = 1000;

const exited = (exitCode: number, reason = exitCode === 0 ? "Completed" : "Error", at = T0 + 5 * S): Termination => ({
  exitCode,
  reason,
  startedAtMs: T0,
  finishedAtMs: at,
});
const L = {
  waiting: { state: "Waiting" } as ContainerLifecycle,
  running: { state: "Running", startedAtMs: T0 } as ContainerLifecycle,
  starting: { state: "Starting", sinceMs: T0 } as ContainerLifecycle,
  backoff: { state: "Waiting", backOff: { delayMs: 20 * S, retryAtMs: T0 + 30 * S, message: "back-off 20s restarting failed container=a pod=web_default(u1)" } } as ContainerLifecycle,
  done: (code: number, reason?: string): ContainerLifecycle => ({ state: "Terminated", termination: exited(code, reason) }),
};
const rec = (lifecycle: ContainerLifecycle, more: Partial<ContainerRecord> = {}): ContainerRecord => ({ lifecycle, restartCount: 0, ...more });

type Spec = PodStatusSource["spec"];
const oneApp: Spec = { containers: [{ name: "a", image: "busybox" }] };
const twoInits: Spec = { initContainers: [{ name: "i1" }, { name: "i2" }], containers: [{ name: "a" }] };

function observed(containers: Record<string, ContainerRecord>, more: Partial<ObservedPod> = {}): ObservedPod {
  return { sandboxReady: true, startTimeMs: T0, containers, ...more };
}

function view(spec: Spec, status: PodStatus, deletion?: string): KubectlPod {
  return { metadata: { creationTimestamp: rfc3339(T0), ...(deletion ? { deletionTimestamp: deletion } : {}) }, spec, status };
}

function cond(status: PodStatus, type: string) {
  const c = status.conditions.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  const { lastProbeTime: _p, lastTransitionTime: _t, type: _type, ...rest } = c;
  return rest;
}

describe("kubectl STATUS column", () => {
  const handmade = (spec: Spec, containerStatuses: ContainerStatus[], more: Partial<PodStatus> = {}): PodStatus => ({
    phase: "Running",
    conditions: [],
    containerStatuses,
    qosClass: "BestEffort",
    ...more,
  });
  const cs = (name: string, state: ContainerStatus["state"], more: Partial<ContainerStatus> = {}): ContainerStatus => ({
    name,
    state,
    lastState: {},
    ready: false,
    restartCount: 0,
    image: "",
    imageID: "",
    started: false,
    ...more,
  });
  const term = (exitCode: number, reason: string, signal?: number) => ({
    terminated: { exitCode, reason, startedAt: rfc3339(T0), finishedAt: rfc3339(T0 + S), ...(signal ? { signal } : {}) },
  });

  const derived: [string, Spec, Record<string, ContainerRecord>, Partial<ObservedPod>, string][] = [
    ["Running", oneApp, { a: rec(L.running) }, {}, "Running"],
    ["Completed", { ...oneApp, restartPolicy: "Never" }, { a: rec(L.done(0)) }, {}, "Completed"],
    ["CrashLoopBackOff", oneApp, { a: rec(L.backoff, { restartCount: 2, lastTermination: exited(1) }) }, {}, "CrashLoopBackOff"],
    ["OOMKilled", { ...oneApp, restartPolicy: "Never" }, { a: rec(L.done(137, "OOMKilled")) }, {}, "OOMKilled"],
    ["Error", { ...oneApp, restartPolicy: "Never" }, { a: rec(L.done(1)) }, {}, "Error"],
    ["ContainerCreating (no init containers, not started)", oneApp, {}, { sandboxReady: false }, "ContainerCreating"],
    ["ContainerCreating (starting)", oneApp, { a: rec(L.starting) }, {}, "ContainerCreating"],
    ["Init:0/2", twoInits, { i1: rec(L.running) }, {}, "Init:0/2"],
    ["Init:0/2 before anything runs", twoInits, {}, { sandboxReady: false }, "Init:0/2"],
    ["Init:1/2", twoInits, { i1: rec(L.done(0)), i2: rec(L.running) }, {}, "Init:1/2"],
    ["Init:CrashLoopBackOff", twoInits, { i1: rec(L.backoff, { restartCount: 1, lastTermination: exited(1) }) }, {}, "Init:CrashLoopBackOff"],
    ["Init:Error", { ...twoInits, restartPolicy: "Never" }, { i1: rec(L.done(1)) }, { terminal: { phase: "Failed" } }, "Init:Error"],
    ["PodInitializing", twoInits, { i1: rec(L.done(0)), i2: rec(L.done(0)), a: rec(L.starting) }, {}, "PodInitializing"],
    // a (first) completed, b still running: Ready is False because a is not ready → NotReady.
    ["NotReady", { restartPolicy: "OnFailure", containers: [{ name: "a" }, { name: "b" }] }, { a: rec(L.done(0)), b: rec(L.running) }, {}, "NotReady"],
  ];
  for (const [name, spec, containers, more, want] of derived) {
    it(name, () => {
      const status = buildPodStatus({ spec }, observed(containers, more), T0 + 10 * S);
      assert.equal(kubectlStatus(view(spec, status)), want);
    });
  }

  it("Terminating: deletion requested and the phase is not terminal", () => {
    const status = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.running) }), T0);
    assert.equal(kubectlStatus(view(oneApp, status, rfc3339(T0 + S))), "Terminating");
    const done = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.done(0)) }, { terminal: { phase: "Succeeded" } }), T0);
    assert.equal(kubectlStatus(view(oneApp, done, rfc3339(T0 + S))), "Completed");
  });

  it("Pending: nothing reported yet", () => {
    assert.equal(kubectlStatus(view(oneApp, handmade(oneApp, [], { phase: "Pending" }))), "Pending");
  });

  it("reasonless terminations: ExitCode:N, Signal:N, Init:ExitCode:N, Init:Signal:N", () => {
    assert.equal(kubectlStatus(view(oneApp, handmade(oneApp, [cs("a", term(3, ""))]))), "ExitCode:3");
    assert.equal(kubectlStatus(view(oneApp, handmade(oneApp, [cs("a", term(137, "", 9))]))), "Signal:9");
    const init = (state: ContainerStatus["state"]) =>
      handmade(twoInits, [cs("a", { waiting: { reason: "PodInitializing" } })], { phase: "Pending", initContainerStatuses: [cs("i1", state), cs("i2", { waiting: { reason: "PodInitializing" } })] });
    assert.equal(kubectlStatus(view(twoInits, init(term(2, "")))), "Init:ExitCode:2");
    assert.equal(kubectlStatus(view(twoInits, init(term(143, "", 15)))), "Init:Signal:15");
  });

  it("Running again when a completed container sits next to a running one and the pod is Ready", () => {
    const status = handmade(oneApp, [cs("a", term(0, "Completed")), cs("b", { running: { startedAt: rfc3339(T0) } }, { ready: true })], {
      conditions: [{ type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: rfc3339(T0) }],
    });
    assert.equal(kubectlStatus(view({ containers: [{ name: "a" }, { name: "b" }] }, status)), "Running");
  });

  it("a deadline failure shows its reason while containers still run", () => {
    const status = buildPodStatus(
      { spec: oneApp },
      observed({ a: rec(L.running) }, { terminal: { phase: "Failed", reason: "DeadlineExceeded", message: "m" } }),
      T0,
    );
    assert.equal(kubectlStatus(view(oneApp, status)), "DeadlineExceeded");
  });
});

describe("kubectl READY, RESTARTS and AGE columns", () => {
  const spec: Spec = { initContainers: [{ name: "log", restartPolicy: "Always" }, { name: "i1" }], containers: [{ name: "a" }, { name: "b" }] };

  it("READY counts sidecars as containers, regular init containers not", () => {
    const status = buildPodStatus({ spec }, observed({ log: rec(L.running), i1: rec(L.done(0)), a: rec(L.running), b: rec(L.backoff, { lastTermination: exited(1) }) }), T0);
    assert.equal(readyColumn(view(spec, status)), "2/3");
  });

  it("RESTARTS: sum, with the age of the latest previous termination", () => {
    const status = buildPodStatus(
      { spec },
      observed({
        log: rec(L.running, { restartCount: 1, lastTermination: exited(1, "Error", T0 + 60 * S) }),
        i1: rec(L.done(0)),
        a: rec(L.running, { restartCount: 2, lastTermination: exited(1, "Error", T0 + 100 * S) }),
        b: rec(L.running),
      }),
      T0,
    );
    assert.equal(restartsColumn(view(spec, status), T0 + 220 * S), "3 (2m ago)");
    const fresh = buildPodStatus({ spec }, observed({ log: rec(L.running), i1: rec(L.done(0)), a: rec(L.running), b: rec(L.running) }), T0);
    assert.equal(restartsColumn(view(spec, fresh), T0 + 220 * S), "0");
  });

  it("AGE and kubectl's human durations", () => {
    const table: [number, string, string][] = [
      [-3 * S, "<invalid>", "<invalid>"],
      [-1500, "0s", "0s"],
      [0, "0s", "0s"],
      [59 * S, "59s", "59s"],
      [119 * S, "119s", "1m"],
      [120 * S, "2m", "2m"],
      [330 * S, "5m30s", "5m"],
      [45 * 60 * S, "45m", "45m"],
      [179 * 60 * S, "179m", "2h"],
      [3 * 3600 * S, "3h", "3h"],
      [(5 * 3600 + 20 * 60) * S, "5h20m", "5h"],
      [30 * 3600 * S, "30h", "1d"],
      [51 * 3600 * S, "2d3h", "2d"],
      [10 * 86400 * S, "10d", "10d"],
      [800 * 86400 * S, "2y70d", "2y"],
      [9 * 365 * 86400 * S, "9y", "9y"],
    ];
    for (const [ms, human, short] of table) {
      assert.equal(humanDuration(ms), human, `HumanDuration ${ms}`);
      assert.equal(shortHumanDuration(ms), short, `ShortHumanDuration ${ms}`);
    }
    assert.equal(age(rfc3339(T0), T0 + 5 * 60 * S), "5m");
    assert.equal(age(undefined, T0), "<unknown>");
  });
});

describe("phase and conditions", () => {
  const at = T0 + 10 * S;

  it("before the sandbox: Pending, nothing ready, init containers incomplete", () => {
    const s = buildPodStatus({ spec: twoInits }, observed({}, { sandboxReady: false }), at);
    assert.equal(s.phase, "Pending");
    assert.deepEqual(cond(s, "PodReadyToStartContainers"), { status: "False" });
    assert.deepEqual(cond(s, "Initialized"), { status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [i1 i2]" });
    assert.deepEqual(cond(s, "Ready"), { status: "False", reason: "ContainersNotReady", message: "containers with unready status: [a]" });
    assert.deepEqual(cond(s, "ContainersReady"), { status: "False", reason: "ContainersNotReady", message: "containers with unready status: [a]" });
    assert.deepEqual(cond(s, "PodScheduled"), { status: "True" });
    assert.deepEqual(s.conditions.map((c) => c.type), ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
  });

  it("running: Running, everything True, started and ready", () => {
    const s = buildPodStatus({ spec: twoInits }, observed({ i1: rec(L.done(0)), i2: rec(L.done(0)), a: rec(L.running) }), at);
    assert.equal(s.phase, "Running");
    for (const c of s.conditions) assert.equal(c.status, "True", c.type);
    assert.deepEqual([s.containerStatuses[0]?.ready, s.containerStatuses[0]?.started], [true, true]);
    // A regular init container that exited 0 is ready but not started.
    assert.deepEqual([s.initContainerStatuses?.[0]?.ready, s.initContainerStatuses?.[0]?.started], [true, false]);
  });

  it("succeeded and failed pods: PodCompleted / PodFailed", () => {
    const ok = buildPodStatus({ spec: { ...oneApp, restartPolicy: "Never" } }, observed({ a: rec(L.done(0)) }), at);
    assert.equal(ok.phase, "Succeeded");
    assert.deepEqual(cond(ok, "Initialized"), { status: "True", reason: "PodCompleted" });
    assert.deepEqual(cond(ok, "Ready"), { status: "False", reason: "PodCompleted" });
    assert.deepEqual(cond(ok, "ContainersReady"), { status: "False", reason: "PodCompleted" });
    const bad = buildPodStatus({ spec: { ...oneApp, restartPolicy: "Never" } }, observed({ a: rec(L.done(1)) }), at);
    assert.equal(bad.phase, "Failed");
    assert.deepEqual(cond(bad, "ContainersReady"), { status: "False", reason: "PodFailed" });
    assert.deepEqual(cond(bad, "Initialized"), { status: "True" });
  });

  it("phase by restart policy once every app container exited", () => {
    const table: [string, number, string][] = [
      ["Always", 0, "Running"],
      ["Always", 1, "Running"],
      ["OnFailure", 0, "Succeeded"],
      ["OnFailure", 1, "Running"],
      ["Never", 0, "Succeeded"],
      ["Never", 1, "Failed"],
    ];
    for (const [restartPolicy, code, phase] of table) {
      const s = buildPodStatus({ spec: { ...oneApp, restartPolicy } }, observed({ a: rec(L.done(code)) }), at);
      assert.equal(s.phase, phase, `${restartPolicy} exit ${code}`);
    }
  });

  it("init failure under Never → Failed; under OnFailure → Pending", () => {
    const never = buildPodStatus({ spec: { ...twoInits, restartPolicy: "Never" } }, observed({ i1: rec(L.done(1)) }), at);
    assert.equal(never.phase, "Failed");
    const retry = buildPodStatus({ spec: { ...twoInits, restartPolicy: "OnFailure" } }, observed({ i1: rec(L.backoff, { lastTermination: exited(1) }) }), at);
    assert.equal(retry.phase, "Pending");
  });

  it("sidecars do not decide the phase", () => {
    const spec: Spec = { restartPolicy: "Never", initContainers: [{ name: "log", restartPolicy: "Always" }], containers: [{ name: "a" }] };
    // The app finished; the sidecar still runs: Running (getPhase counts it as running).
    assert.equal(buildPodStatus({ spec }, observed({ log: rec(L.running), a: rec(L.done(0)) }), at).phase, "Running");
    // Sidecar stopped with 143 after the app succeeded: Succeeded, its exit code does not count.
    assert.equal(buildPodStatus({ spec }, observed({ log: rec(L.done(143)), a: rec(L.done(0)) }), at).phase, "Succeeded");
    // Sidecar crashed while the app runs: Running.
    assert.equal(buildPodStatus({ spec }, observed({ log: rec(L.backoff, { lastTermination: exited(1) }), a: rec(L.running) }), at).phase, "Running");
    // A sidecar not yet started keeps the pod Pending; once apps ran, a restarting sidecar does not.
    assert.equal(buildPodStatus({ spec }, observed({ log: rec(L.starting) }), at).phase, "Pending");
  });

  it("Initialized stays True while a sidecar restarts after the apps ran", () => {
    const spec: Spec = { initContainers: [{ name: "log", restartPolicy: "Always" }], containers: [{ name: "a" }] };
    const s = buildPodStatus({ spec }, observed({ log: rec(L.backoff, { lastTermination: exited(1) }), a: rec(L.running) }), at);
    assert.deepEqual(cond(s, "Initialized"), { status: "True" });
    assert.deepEqual(cond(s, "ContainersReady"), { status: "False", reason: "ContainersNotReady", message: "containers with unready status: [log]" });
  });

  it("lastTransitionTime is kept while a condition's status stays, and moves when it changes", () => {
    const first = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.starting) }), T0);
    const second = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.running) }), T0 + 5 * S, { previous: first });
    const third = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.running) }), T0 + 60 * S, { previous: second });
    const ltt = (s: PodStatus, type: string) => s.conditions.find((c) => c.type === type)?.lastTransitionTime;
    assert.equal(ltt(second, "PodScheduled"), rfc3339(T0));
    assert.equal(ltt(second, "Ready"), rfc3339(T0 + 5 * S));
    assert.equal(ltt(third, "Ready"), rfc3339(T0 + 5 * S));
    // Negative control: without the previous status every condition transitions now.
    const fresh = buildPodStatus({ spec: oneApp }, observed({ a: rec(L.running) }), T0 + 60 * S);
    assert.equal(ltt(fresh, "Ready"), rfc3339(T0 + 60 * S));
  });

  it("a terminal phase is never left", () => {
    const previous = buildPodStatus({ spec: { ...oneApp, restartPolicy: "Never" } }, observed({ a: rec(L.done(1)) }), at);
    const later = buildPodStatus({ spec: { ...oneApp, restartPolicy: "Never" } }, observed({ a: rec(L.running) }), at + S, { previous });
    assert.equal(later.phase, "Failed");
  });
});

describe("status JSON shape", () => {
  it("prints like kubectl get pod -o json", () => {
    const s = buildPodStatus(
      { spec: { containers: [{ name: "a", image: "busybox:1.36" }] } },
      observed({ a: rec(L.running, { restartCount: 1, lastTermination: { ...exited(1), containerID: "old" }, containerID: "abc", imageID: "sha256:1" }) }),
      T0 + 10 * S,
      { hostIP: "192.168.1.2", podIPs: ["10.88.0.5"] },
    );
    const json = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ["phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime", "containerStatuses", "qosClass"]);
    assert.deepEqual(json["containerStatuses"], [
      {
        name: "a",
        state: { running: { startedAt: "2026-11-22T04:45:19Z" } },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            startedAt: "2026-11-22T04:45:19Z",
            finishedAt: "2026-11-22T04:45:24Z",
            containerID: "podd://old",
          },
        },
        ready: true,
        restartCount: 1,
        image: "busybox:1.36",
        imageID: "sha256:1",
        containerID: "podd://abc",
        started: true,
      },
    ]);
    assert.deepEqual((json["conditions"] as unknown[])[0], {
      type: "PodReadyToStartContainers",
      status: "True",
      lastProbeTime: null,
      lastTransitionTime: "2026-11-22T04:45:29Z",
    });
    assert.equal(json["podIP"], "10.88.0.5");
    assert.equal(json["qosClass"], "BestEffort");
  });

  it("a container never started has empty lastState, no containerID", () => {
    const s = buildPodStatus({ spec: oneApp }, observed({}), T0);
    assert.deepEqual(JSON.parse(JSON.stringify(s.containerStatuses[0])), {
      name: "a",
      state: { waiting: { reason: "ContainerCreating" } },
      lastState: {},
      ready: false,
      restartCount: 0,
      image: "busybox",
      imageID: "",
      started: false,
    });
  });
});

describe("QoS class", () => {
  const c = (requests?: Record<string, string>, limits?: Record<string, string>) => ({
    name: "c",
    resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  });
  const table: [string, Spec, string][] = [
    ["no resources", { containers: [{ name: "c" }] }, "BestEffort"],
    ["zero quantities only", { containers: [c({ cpu: "0", memory: "0" })] }, "BestEffort"],
    ["other resources only", { containers: [c({ "ephemeral-storage": "1Gi" }, { "ephemeral-storage": "1Gi" })] }, "BestEffort"],
    ["requests only", { containers: [c({ cpu: "100m" })] }, "Burstable"],
    ["limits on both, requests defaulted", { containers: [c(undefined, { cpu: "500m", memory: "128Mi" })] }, "Guaranteed"],
    ["equal in different units", { containers: [c({ cpu: "1", memory: "1Gi" }, { cpu: "1000m", memory: "1073741824" })] }, "Guaranteed"],
    ["requests below limits", { containers: [c({ cpu: "250m", memory: "64Mi" }, { cpu: "500m", memory: "64Mi" })] }, "Burstable"],
    ["one container without memory limit", { containers: [c(undefined, { cpu: "1", memory: "1Gi" }), c(undefined, { cpu: "1" })] }, "Burstable"],
    ["an init container counts", { initContainers: [c({ cpu: "1" })], containers: [c(undefined, { cpu: "1", memory: "1Gi" })] }, "Burstable"],
    ["init and app both guaranteed", { initContainers: [c(undefined, { cpu: "1", memory: "1Gi" })], containers: [c(undefined, { cpu: "2", memory: "1Gi" })] }, "Guaranteed"],
  ];
  for (const [name, spec, want] of table) it(name, () => assert.equal(qosClass({ spec }), want));

  it("sums are exact: 0.1 + 0.2 CPU equals 300m, 1.5Gi equals 1610612736 bytes", () => {
    const c = (name: string, cpu: string, limitCpu: string, memory: string) => ({
      name,
      image: "i",
      resources: { requests: { cpu, memory }, limits: { cpu: limitCpu, memory } },
    });
    const spec = { containers: [c("a", "0.1", "0.1", "1.5Gi"), c("b", "0.2", "200m", "1610612736")] };
    assert.equal(qosClass({ spec }), "Guaranteed");
    const off = { containers: [c("a", "0.1", "0.1", "1.5Gi"), c("b", "0.2", "201m", "1610612736")] };
    assert.equal(qosClass({ spec: off }), "Burstable", "a limit one milliCPU above its request");
  });
});

describe("list order", () => {
  it("by namespace, then name, in byte order as the API server lists (not the locale's)", () => {
    const o = (namespace: string, name: string) => ({ metadata: { namespace, name } });
    const got = [o("web", "a"), o("default", "p2"), o("default", "p10"), o("default", "B"), o("default", "a.b"), o("default", "a-b"), o("default", "p1")]
      .sort(byNamespaceAndName)
      .map((x) => `${x.metadata.namespace}/${x.metadata.name}`);
    assert.deepEqual(got, ["default/B", "default/a-b", "default/a.b", "default/p1", "default/p10", "default/p2", "web/a"]);
    assert.equal(byNamespaceAndName(o("x", "y"), o("x", "y")), 0);
  });
});
