// Admission against the machine, as a user meets it: the docs' pods that ask for more than the
// machine has (memory-request-limit-3.yaml, 1000Gi; cpu-request-limit-2.yaml, 100 CPUs) end
// Failed with the kubelet's OutOfmemory / OutOfcpu, its message and a Warning event, and
// nothing of them is created; two pods that each fit but not together: the second is refused,
// stays refused when the first goes, and runs once applied again; --system-reserved and
// --kube-reserved take their share off the machine; `podd run` refuses the same way. On a host
// without AppArmor, the docs' AppArmor pod is refused as the kubelet refuses it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { AppArmor } from "../../supervisor/runtime/apparmor.ts";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, podd, waitFor, writeManifest } from "./harness.ts";
import { withCli, type Cli } from "./cli-helpers.ts";
import { getPod, podPath, putPod, startDaemon, stopDaemon, waitGone, waitRunning, withDaemonEnv } from "./daemon-helpers.ts";
import { parse } from "yaml";

const skip = e2eSkip();

// The machine as podd counts it: the CPUs this process may run on, MemTotal.
const machineMilliCpu = availableParallelism() * 1000;
const machineMemory = BigInt(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]!) * 1024n;

// The Kubernetes docs' examples, as they are published.
const memoryDemo3 = `apiVersion: v1
kind: Pod
metadata:
  name: memory-demo-3
  namespace: mem-example
spec:
  containers:
  - name: memory-demo-3-ctr
    image: polinux/stress
    resources:
      requests:
        memory: "1000Gi"
      limits:
        memory: "1000Gi"
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "150M", "--vm-hang", "1"]
`;
const cpuDemo2 = `apiVersion: v1
kind: Pod
metadata:
  name: cpu-demo-2
  namespace: cpu-example
spec:
  containers:
  - name: cpu-demo-ctr-2
    image: vish/stress
    resources:
      limits:
        cpu: "100"
      requests:
        cpu: "100"
    args:
    - -cpus
    - "2"
`;

function sleeper(name: string, cpuMilli: number): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:local
    command: [sleep, "1000"]
    resources: {requests: {cpu: ${cpuMilli}m}}
`;
}

async function failed(c: Cli, name: string, ns = "default"): Promise<any> {
  return waitFor(`${ns}/${name} Failed`, async () => {
    const p = await getPod(c.d, name, ns);
    return p?.status?.phase === "Failed" ? p : undefined;
  });
}

async function warnings(c: Cli, ns: string, name: string): Promise<{ reason: string; message: string }[]> {
  const list = (await c.d.request("GET", `/api/v1/namespaces/${ns}/events`)).json;
  return list.items.filter((e: any) => e.involvedObject.name === name && e.type === "Warning").map((e: any) => ({ reason: e.reason, message: e.message }));
}

const nothingLeft = { mounts: [], cgroups: [], processes: [], pins: [] };

describe("admission against the machine", { skip, timeout: 120_000 }, () => {
  test("the docs' 1000Gi and 100-CPU pods: Failed, OutOfmemory / OutOfcpu, an event, nothing created", () =>
    withCli(async (c) => {
      assert.equal((await c.apply("memory-request-limit-3.yaml", memoryDemo3)).code, 0);
      assert.equal((await c.apply("cpu-request-limit-2.yaml", cpuDemo2)).code, 0);
      const mem = await failed(c, "memory-demo-3", "mem-example");
      const cpu = await failed(c, "cpu-demo-2", "cpu-example");
      const memMessage = `Node didn't have enough resource: memory, requested: ${1000n * 1024n ** 3n}, used: 0, capacity: ${machineMemory}`;
      const cpuMessage = `Node didn't have enough resource: cpu, requested: 100000, used: 0, capacity: ${machineMilliCpu}`;
      assert.equal(mem.status.reason, "OutOfmemory");
      assert.equal(mem.status.message, `Pod was rejected: ${memMessage}`);
      assert.equal(cpu.status.reason, "OutOfcpu");
      assert.equal(cpu.status.message, `Pod was rejected: ${cpuMessage}`);
      assert.deepEqual(await warnings(c, "mem-example", "memory-demo-3"), [{ reason: "OutOfmemory", message: memMessage }]);
      assert.deepEqual(await warnings(c, "cpu-example", "cpu-demo-2"), [{ reason: "OutOfcpu", message: cpuMessage }]);
      // kubectl's STATUS column shows the reason.
      const got = await c.run("get", ["pod", "cpu-demo-2", "-n", "cpu-example"]);
      assert.match(got.stdout, /^cpu-demo-2 +0\/1 +OutOfcpu +0 /m, got.stdout);
      const described = await c.run("describe", ["pod", "memory-demo-3", "-n", "mem-example"]);
      assert.equal(described.code, 0, described.stderr);
      assert.match(described.stdout, new RegExp(`^Status: +Failed\nReason: +OutOfmemory\nMessage: +Pod was rejected: ${memMessage}\n`, "m"), described.stdout);
      assert.match(described.stdout, new RegExp(`^ {2}Warning +OutOfmemory +.* +podd +${memMessage}$`, "m"), described.stdout);
      // No sandbox, no cgroup, no run dir: nothing was made for them.
      assert.deepEqual(leftovers(c.env), nothingLeft);
      // Deleting a rejected pod works as for any other.
      assert.equal((await c.run("delete", ["pod", "cpu-demo-2", "-n", "cpu-example"])).code, 0);
      await waitGone(c.d, "cpu-demo-2", "cpu-example");
      assert.deepEqual(leftovers(c.env), nothingLeft);
    }));

  test("the docs' AppArmor pod on a host without AppArmor: Failed, reason AppArmor, nothing created; Unconfined runs", { skip: AppArmor.probe() instanceof AppArmor ? "the host has AppArmor (test/e2e/pod-apparmor.test.ts)" : false }, () =>
    withCli(async (c) => {
      const docs = readFileSync(new URL("../fixtures/k8s-docs-style/security-apparmor-field.yaml", import.meta.url), "utf8").replace("busybox:1.28", "busybox:local");
      assert.equal((await c.apply("hello-apparmor.yaml", docs)).code, 0);
      const name = /^  name: (\S+)$/m.exec(docs)![1]!;
      const pod = await failed(c, name);
      assert.equal(pod.status.reason, "AppArmor");
      assert.equal(pod.status.message, "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host");
      assert.deepEqual(await warnings(c, "default", name), [{ reason: "AppArmor", message: "Cannot enforce AppArmor: AppArmor is not enabled on the host" }]);
      assert.deepEqual(leftovers(c.env), nothingLeft);
      const free = "apiVersion: v1\nkind: Pod\nmetadata: {name: free}\nspec:\n  securityContext: {appArmorProfile: {type: Unconfined}}\n  containers: [{name: c, image: busybox:local, command: [sleep, '3600']}]\n";
      assert.equal((await c.apply("free.yaml", free, ["--wait"])).code, 0);
    }));

  test("two pods that fit alone but not together: the second is refused, and runs once applied again after the first is gone; an ended pod holds nothing", () =>
    withCli(async (c) => {
      const share = Math.floor(machineMilliCpu * 0.6);
      // A pod that has ended holds nothing: "done" completes, then "first" fits beside it.
      const done = sleeper("done", share).replace('command: [sleep, "1000"]', "command: [\"true\"]").replace("spec:\n", "spec:\n  restartPolicy: Never\n");
      assert.equal((await c.apply("done.yaml", done)).code, 0);
      await waitFor("done Succeeded", async () => (await getPod(c.d, "done"))?.status?.phase === "Succeeded");
      assert.equal((await c.apply("first.yaml", sleeper("first", share))).code, 0);
      await waitRunning(c.d, "first", "c");
      assert.equal((await c.apply("second.yaml", sleeper("second", share))).code, 0);
      const second = await failed(c, "second");
      assert.equal(second.status.reason, "OutOfcpu");
      assert.equal(second.status.message, `Pod was rejected: Node didn't have enough resource: cpu, requested: ${share}, used: ${share}, capacity: ${machineMilliCpu}`);

      assert.equal((await c.run("delete", ["pod", "first"])).code, 0);
      await waitGone(c.d, "first");
      // As on a node: a rejected pod stays rejected; the room left does not revive it.
      assert.equal((await getPod(c.d, "second")).status.phase, "Failed");
      assert.equal((await c.run("delete", ["pod", "second"])).code, 0);
      await waitGone(c.d, "second");
      assert.equal((await c.apply("second.yaml", sleeper("second", share))).code, 0);
      await waitRunning(c.d, "second", "c");
    }));

  test("a daemon restart: the pods that run keep their share, a new pod is admitted against them", () =>
    withDaemonEnv(async (env, daemons) => {
      await importBusybox(env);
      const share = Math.floor(machineMilliCpu * 0.6);
      daemons.current = await startDaemon(env);
      // "b-running" runs; "a-late" is refused. The restart takes pods up in name order, so
      // a-late comes first: it must still be judged after b-running, which holds its share.
      const manifest = (name: string) => parse(sleeper(name, share));
      assert.equal((await putPod(daemons.current, manifest("b-running"))).status, 201);
      const running = await waitRunning(daemons.current, "b-running", "c");
      assert.equal((await putPod(daemons.current, manifest("a-late"))).status, 201);
      assert.equal((await getPod(daemons.current, "a-late")).status.reason, "OutOfcpu");

      await stopDaemon(daemons.current);
      daemons.current = await startDaemon(env);
      const adopted = await waitRunning(daemons.current, "b-running", "c");
      assert.equal(adopted.containerID, running.containerID, "b-running was restarted");
      const late = await getPod(daemons.current, "a-late");
      assert.equal(late.status.phase, "Failed", JSON.stringify(late.status));
      assert.equal(late.status.reason, "OutOfcpu", JSON.stringify(late.status));

      // Room again, and one more restart: a rejected pod stays rejected, as on a node.
      assert.equal((await daemons.current.request("DELETE", `${podPath("b-running")}?gracePeriodSeconds=0`)).status, 200);
      await waitGone(daemons.current, "b-running");
      await stopDaemon(daemons.current);
      daemons.current = await startDaemon(env);
      const still = await getPod(daemons.current, "a-late");
      assert.equal(still.status.phase, "Failed", JSON.stringify(still.status));
      assert.equal(still.status.message, late.status.message);
    }));

  test("--system-reserved and --kube-reserved are taken off the machine", () =>
    withCli(
      async (c) => {
        const allocatable = machineMilliCpu - 500;
        assert.equal((await c.apply("over.yaml", sleeper("over", allocatable + 1))).code, 0);
        const over = await failed(c, "over");
        assert.equal(over.status.message, `Pod was rejected: Node didn't have enough resource: cpu, requested: ${allocatable + 1}, used: 0, capacity: ${allocatable}`);
        assert.equal((await c.apply("fits.yaml", sleeper("fits", allocatable))).code, 0);
        await waitRunning(c.d, "fits", "c");
      },
      ["--system-reserved", "cpu=300m,memory=64Mi", "--kube-reserved", "cpu=200m"],
    ));

  test("podd run refuses a pod larger than the machine", async () => {
    const env = makeEnv();
    try {
      const r = await podd(["run", "-f", writeManifest(env, "cpu-request-limit-2.yaml", cpuDemo2), ...env.flags]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /pod\/cpu-demo-2 OutOfcpu: Node didn't have enough resource: cpu, requested: 100000, used: 0, capacity: \d+$/m, r.stderr);
      assert.match(r.stderr, /pod\/cpu-demo-2 Failed$/m, r.stderr);
      assert.deepEqual(leftovers(env), nothingLeft);
    } finally {
      destroyEnv(env);
    }
  });
});
