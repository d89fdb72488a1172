import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { PoddError } from "../../supervisor/base/errors.ts";
import { admitPod, allocatableOf, parseMemTotal, parseReservation, podRequests, rejectedMessage, type Requests } from "../../supervisor/pod/admission.ts";
import type { Container, PodSpec } from "../../pod-specs/types.ts";

const Mi = 1024n * 1024n;
const Gi = 1024n * Mi;
const req = (milliCpu: bigint, memoryBytes: bigint): Requests => ({ milliCpu, memoryBytes });
const c = (name: string, cpu?: string, memory?: string, extra: Partial<Container> = {}): Container => ({
  name,
  image: "busybox",
  resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
  ...extra,
});

describe("podRequests: the pod's effective request", () => {
  const table: { name: string; spec: Pick<PodSpec, "containers" | "initContainers" | "resources">; want: Requests }[] = [
    { name: "nothing requested", spec: { containers: [{ name: "a", image: "busybox" }] }, want: req(0n, 0n) },
    { name: "app containers add up", spec: { containers: [c("a", "100m", "64Mi"), c("b", "250m", "1Gi")] }, want: req(350n, Gi + 64n * Mi) },
    { name: "1000Gi", spec: { containers: [c("a", undefined, "1000Gi")] }, want: req(0n, 1000n * Gi) },
    { name: "cpu rounds up to the millicore", spec: { containers: [c("a", "0.0001")] }, want: req(1n, 0n) },
    { name: "an init container larger than the app: it wins", spec: { initContainers: [c("i", "2", "10Mi")], containers: [c("a", "100m", "64Mi")] }, want: req(2000n, 64n * Mi) },
    { name: "init containers run one at a time: the largest, not the sum", spec: { initContainers: [c("i1", "500m"), c("i2", "700m")], containers: [c("a", "100m")] }, want: req(700n, 0n) },
    {
      name: "a sidecar runs beside the app and beside later init containers",
      spec: { initContainers: [c("side", "200m", "32Mi", { restartPolicy: "Always" }), c("i", "1", "16Mi")], containers: [c("a", "100m", "64Mi")] },
      // cpu: max(200 + 100, 200 + 1000); memory: max(32 + 64, 32 + 16)
      want: req(1200n, 96n * Mi),
    },
    {
      name: "an init container before the sidecar does not run beside it",
      spec: { initContainers: [c("i", "1"), c("side", "200m", undefined, { restartPolicy: "Always" })], containers: [c("a", "100m")] },
      want: req(1000n, 0n),
    },
    { name: "pod-level requests replace the sum", spec: { resources: { requests: { cpu: "1", memory: "1Gi" } }, containers: [c("a", "100m", "64Mi"), c("b", "100m")] }, want: req(1000n, Gi) },
    { name: "pod-level cpu only: memory still from the containers", spec: { resources: { requests: { cpu: "1" } }, containers: [c("a", "100m", "64Mi")] }, want: req(1000n, 64n * Mi) },
  ];
  for (const t of table) it(t.name, () => assert.deepEqual(podRequests(t.spec), t.want));
});

describe("admitPod: the kubelet's fit", () => {
  const alloc = req(2000n, 4n * Gi);
  const table: { name: string; request: Requests; used: Requests; want: ReturnType<typeof admitPod> }[] = [
    { name: "fits in an empty node", request: req(500n, Gi), used: req(0n, 0n), want: { admit: true } },
    { name: "exactly what is left fits", request: req(1500n, 3n * Gi), used: req(500n, Gi), want: { admit: true } },
    { name: "a pod that requests nothing fits even a full node", request: req(0n, 0n), used: req(2000n, 4n * Gi), want: { admit: true } },
    { name: "a memory-only pod is not refused for cpu", request: req(0n, Gi), used: req(2500n, 0n), want: { admit: true } },
    {
      name: "100 CPUs",
      request: req(100_000n, 0n),
      used: req(200n, 0n),
      want: { admit: false, reason: "OutOfcpu", message: "Node didn't have enough resource: cpu, requested: 100000, used: 200, capacity: 2000" },
    },
    {
      name: "1000Gi",
      request: req(0n, 1000n * Gi),
      used: req(0n, 0n),
      want: { admit: false, reason: "OutOfmemory", message: `Node didn't have enough resource: memory, requested: ${1000n * Gi}, used: 0, capacity: ${4n * Gi}` },
    },
    {
      name: "one millicore over what the others leave",
      request: req(1001n, 0n),
      used: req(1000n, 0n),
      want: { admit: false, reason: "OutOfcpu", message: "Node didn't have enough resource: cpu, requested: 1001, used: 1000, capacity: 2000" },
    },
    {
      name: "both short: cpu is named, as the kubelet names the first",
      request: req(3000n, 5n * Gi),
      used: req(0n, 0n),
      want: { admit: false, reason: "OutOfcpu", message: "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000" },
    },
  ];
  for (const t of table) it(t.name, () => assert.deepEqual(admitPod(t.request, t.used, alloc), t.want));

  it("the 111th pod is OutOfpods, as the kubelet's --max-pods 110 refuses it, before any resource is looked at", () => {
    assert.deepEqual(admitPod(req(0n, 0n), req(0n, 0n), alloc, 109), { admit: true });
    assert.deepEqual(admitPod(req(3000n, 0n), req(0n, 0n), alloc, 110), { admit: false, reason: "OutOfpods", message: "Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110" });
  });

  it("the status message says the pod was rejected", () => {
    assert.equal(rejectedMessage("Node didn't have enough resource: cpu"), "Pod was rejected: Node didn't have enough resource: cpu");
  });
});

describe("allocatable and reservations", () => {
  it("capacity less every reservation, never below zero", () => {
    assert.deepEqual(allocatableOf(req(2000n, 8n * Gi), []), req(2000n, 8n * Gi));
    assert.deepEqual(allocatableOf(req(2000n, 8n * Gi), [req(100n, 256n * Mi), req(500n, Gi)]), req(1400n, 8n * Gi - 256n * Mi - Gi));
    assert.deepEqual(allocatableOf(req(2000n, Gi), [req(3000n, 2n * Gi)]), req(0n, 0n));
  });

  it("parses the kubelet's flag syntax", () => {
    assert.deepEqual(parseReservation("system-reserved", "cpu=100m,memory=256Mi"), req(100n, 256n * Mi));
    assert.deepEqual(parseReservation("system-reserved", "memory=1Gi"), req(0n, Gi));
    assert.deepEqual(parseReservation("kube-reserved", " cpu = 1 "), req(1000n, 0n));
    assert.deepEqual(parseReservation("kube-reserved", ""), req(0n, 0n));
  });

  it("refuses other resources and bad quantities, naming the flag", () => {
    assert.throws(() => parseReservation("system-reserved", "pid=1000"), (e: unknown) => e instanceof PoddError && /^invalid --system-reserved "pid=1000": unknown resource "pid"/.test(e.message));
    assert.throws(() => parseReservation("kube-reserved", "cpu=lots"), (e: unknown) => e instanceof PoddError && /^invalid --kube-reserved "cpu=lots": cpu "lots" is not a non-negative quantity/.test(e.message));
    assert.throws(() => parseReservation("kube-reserved", "memory=-1Gi"), PoddError);
    assert.throws(() => parseReservation("kube-reserved", "cpu"), PoddError);
  });

  it("MemTotal from /proc/meminfo, in bytes", () => {
    assert.equal(parseMemTotal("MemTotal:        8029876 kB\nMemFree:         1234 kB\n"), 8029876n * 1024n);
    assert.equal(parseMemTotal("MemFree: 1 kB\n"), undefined);
  });
});
