import { strict as assert } from "node:assert";
import { test } from "node:test";

import { containerOOMScoreAdj } from "../../supervisor/status/qos.ts";
import { parseEffectiveCapabilities } from "../../supervisor/base/proc.ts";
import type { ContainerLike } from "../../supervisor/status/pod-status.ts";

const GI = 1073741824n;
const pod = (containers: ContainerLike[], more: { initContainers?: ContainerLike[]; priorityClassName?: string } = {}) => ({ spec: { containers, ...more } });
const c = (name: string, requests?: Record<string, string>, limits?: Record<string, string>): ContainerLike => ({
  name,
  ...(requests || limits ? { resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } } : {}),
});

test("oom_score_adj: Guaranteed -997, BestEffort 1000, as the kubelet's qos policy", () => {
  const guaranteed = c("a", undefined, { cpu: "1", memory: "1Gi" });
  assert.equal(containerOOMScoreAdj(pod([guaranteed]), guaranteed, 8n * GI), -997);
  const bare = c("a");
  assert.equal(containerOOMScoreAdj(pod([bare]), bare, 8n * GI), 1000);
});

test("oom_score_adj: a node-critical pod is scored as Guaranteed whatever it requests; a cluster-critical one is not", () => {
  const bare = c("a");
  assert.equal(containerOOMScoreAdj(pod([bare], { priorityClassName: "system-node-critical" }), bare, 8n * GI), -997);
  assert.equal(containerOOMScoreAdj(pod([bare], { priorityClassName: "system-cluster-critical" }), bare, 8n * GI), 1000);
});

test("oom_score_adj: Burstable is 1000 less the memory request in thousandths of the machine, within 3..999", () => {
  const quarter = c("a", { memory: "2Gi" });
  assert.equal(containerOOMScoreAdj(pod([quarter]), quarter, 8n * GI), 750);
  // A limit alone is the request too (the API server's defaulting).
  const limited = c("a", undefined, { memory: "2Gi" });
  assert.equal(containerOOMScoreAdj(pod([limited]), limited, 8n * GI), 750);
  // Above the machine: still above every Guaranteed container.
  const huge = c("a", { memory: "16Gi" });
  assert.equal(containerOOMScoreAdj(pod([huge]), huge, 8n * GI), 3);
  // A cpu request only: Burstable, and still below every BestEffort container.
  const cpuOnly = c("a", { cpu: "100m" });
  assert.equal(containerOOMScoreAdj(pod([cpuOnly]), cpuOnly, 8n * GI), 999);
  // Each container by its own request.
  const big = c("big", { memory: "4Gi" });
  assert.equal(containerOOMScoreAdj(pod([big, cpuOnly]), big, 8n * GI), 500);
  assert.equal(containerOOMScoreAdj(pod([big, cpuOnly]), cpuOnly, 8n * GI), 999);
});

test("oom_score_adj: a sidecar is never scored above the app container with the smallest request", () => {
  const app = c("app", { memory: "4Gi" });
  const sidecar = { ...c("log", { memory: "1Gi" }), restartPolicy: "Always" };
  const init = c("setup", { memory: "1Gi" });
  const p = pod([app], { initContainers: [sidecar, init] });
  assert.equal(containerOOMScoreAdj(p, sidecar, 8n * GI), 500);
  // A plain init container keeps its own.
  assert.equal(containerOOMScoreAdj(p, init, 8n * GI), 875);
  // A sidecar that asks for more than the apps keeps its own, lower, score.
  const heavy = { ...c("log", { memory: "6Gi" }), restartPolicy: "Always" };
  assert.equal(containerOOMScoreAdj(pod([app], { initContainers: [heavy] }), heavy, 8n * GI), 250);
});

test("parseEffectiveCapabilities reads CapEff of /proc/PID/status", () => {
  const status = "Name:\tbash\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n";
  const caps = parseEffectiveCapabilities(status);
  assert.equal((caps >> 24n) & 1n, 0n, "CAP_SYS_RESOURCE is bit 24, clear here");
  assert.equal((caps >> 21n) & 1n, 1n);
  assert.equal(parseEffectiveCapabilities("Name:\tx\n"), 0n);
});
