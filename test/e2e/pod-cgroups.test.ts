// Pods meeting their cgroup limits, through `podd run`, on whichever cgroup version this host
// boots (v1 hybrid here, v2 in test/vm): a memory limit ends in OOMKilled and a crash-loop
// back-off, a CPU limit holds a busy loop near its quota, and the pod pids limit stops a fork
// bomb while the host and podd stay usable. Each limit comes with a control in the same pod
// that behaves differently without it. Nothing here waits on a time: every wait is a condition
// (an event on podd's stderr, a cgroup file), except the CPU measurement window itself.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  cgroupV2,
  containerCgroupWith,
  containerPids,
  cpuUsageNs,
  hostFixture,
  hostFixtureMount,
  hostFixtureVolume,
  podCgroupWith,
  podOf,
  skip,
  startPod,
  statusOf,
  stdoutOf,
  withEnv,
} from "./lifecycle-helpers.ts";

describe("pod cgroups", { skip }, () => {
  test("a container past its 32Mi limit is OOMKilled (137) and restarted with back-off; one within it runs on", () =>
    withEnv(async (env) => {
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 2
  volumes: [${hostFixtureVolume}]
  containers:
  - name: eater
    image: host
    volumeMounts: [${hostFixtureMount}]
    command: ["${hostFixture}", "eat-memory", "64"]
    resources: {limits: {memory: 32Mi}}
  - name: fits
    image: host
    volumeMounts: [${hostFixtureMount}]
    command: ["${hostFixture}", "eat-memory", "8"]
    resources: {limits: {memory: 32Mi}}
`,
        [],
        { backOff: ["--backoff-initial", "500ms", "--backoff-max", "4s"] },
      );
      // Runs 0 and 1 go at once, then back-off windows of 500ms, 1s, 2s: the third BackOff
      // begins the 2s wait, long enough for the stop to arrive within it even in a slow VM.
      await run.waitEvent("eater's third BackOff", (e) => e.container === "eater" && e.reason === "BackOff", 3);
      await run.until("fits to have eaten", () => stdoutOf(env, "oom", "fits").includes("ate 8"));
      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      const pod = podOf(r);
      const eater = statusOf(pod, "eater");
      assert.equal(eater.restartCount, 3);
      assert.deepEqual(eater.state, {
        waiting: {
          reason: "CrashLoopBackOff",
          message: `back-off 2s restarting failed container=eater pod=oom_default(${pod.metadata.uid})`,
        },
      });
      assert.equal(eater.lastState.terminated?.reason, "OOMKilled");
      assert.equal(eater.lastState.terminated?.exitCode, 137);
      const ooms = r.events.filter((e) => e.container === "eater" && e.reason === "OOMKilled");
      assert.equal(ooms.length, 4, "every run of eater was OOM-killed");
      assert.equal(ooms[0]?.message, "Container eater was OOM-killed (exit code 137)");
      assert.equal(r.events.filter((e) => e.container === "eater" && e.reason === "BackOff").length, 3);
      // The control: the same program under the same limit, asking for less, is never killed.
      const fits = statusOf(pod, "fits");
      assert.equal(fits.restartCount, 0);
      assert.equal(fits.state.terminated?.reason, "Error", "fits ran until the stop (SIGTERM)");
      assert.equal(fits.state.terminated?.exitCode, 143);
      assert.ok(!r.events.some((e) => e.container === "fits" && e.reason === "OOMKilled"));
    }));

  test("a busy loop under a 200m CPU limit uses about a fifth of a core; one without a limit uses more", () =>
    withEnv(async (env) => {
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: cpu}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  volumes: [${hostFixtureVolume}]
  containers:
  - name: limited
    image: host
    volumeMounts: [${hostFixtureMount}]
    command: ["${hostFixture}", "spin"]
    resources: {limits: {cpu: 200m}}
  - name: free
    image: host
    volumeMounts: [${hostFixtureMount}]
    command: ["${hostFixture}", "spin"]
`,
      );
      for (const c of ["limited", "free"]) {
        await run.waitEvent(`${c} started`, (e) => e.container === c && e.reason === "Started");
        await run.until(`${c}'s cgroup with its process`, () => containerPids(env, c).length > 0 && cpuUsageNs(env, c) !== undefined);
      }
      // The quota as the kernel has it: 20ms per 100ms period.
      if (cgroupV2) {
        const dir = containerCgroupWith(env, "limited", "cpu.max")!;
        assert.equal(readFileSync(join(dir, "cpu.max"), "utf8").trim(), "20000 100000");
      } else {
        const dir = containerCgroupWith(env, "limited", "cpu.cfs_quota_us")!;
        assert.equal(readFileSync(join(dir, "cpu.cfs_quota_us"), "utf8").trim(), "20000");
        assert.equal(readFileSync(join(dir, "cpu.cfs_period_us"), "utf8").trim(), "100000");
      }
      const sample = () => ({ t: process.hrtime.bigint(), limited: cpuUsageNs(env, "limited")!, free: cpuUsageNs(env, "free")! });
      const a = sample();
      await delay(3000); // the measurement window, not a synchronisation
      const b = sample();
      const wall = Number(b.t - a.t);
      const limited = (b.limited - a.limited) / wall;
      const free = (b.free - a.free) / wall;
      assert.ok(limited >= 0.1 && limited <= 0.35, `limited used ${(limited * 100).toFixed(1)}% of a core, expected about 20%`);
      // The control only has to show the quota is what holds the limited one back; on a loaded
      // machine the free loop gets less than a whole core, so the margin is not tight.
      assert.ok(free > 0.25 && free > 1.5 * limited, `free used ${(free * 100).toFixed(1)}% of a core, limited ${(limited * 100).toFixed(1)}%`);

      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      const pod = podOf(r);
      for (const c of ["limited", "free"]) assert.equal(statusOf(pod, c).state.terminated?.exitCode, 143);
    }));

  test("a fork bomb stops at the pod pids limit; the host can still fork and podd still stops and cleans up", () =>
    withEnv(async (env) => {
      const run = startPod(
        env,
        `apiVersion: v1
kind: Pod
metadata: {name: bomb}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  volumes: [${hostFixtureVolume}]
  containers:
  - name: bomb
    image: host
    volumeMounts: [${hostFixtureMount}]
    command: ["${hostFixture}", "fork-bomb"]
`,
        ["--pod-pids-limit", "64"],
      );
      // Once the container has started, its pod's cgroup has its limits (a look before could
      // catch the directory between its mkdir and the write of pids.max).
      await run.waitEvent("bomb started", (e) => e.container === "bomb" && e.reason === "Started");
      const pod = podCgroupWith(env, "pids.max")!;
      assert.ok(pod, "the pod has a pids cgroup");
      assert.equal(readFileSync(join(pod, "pids.max"), "utf8").trim(), "64");
      // The bomb reaches the limit and stays there: forks fail, and pids.events counts them —
      // in the pod cgroup whose limit was hit (v2), or in the cgroup the fork came from (v1
      // since Linux 6.12), so both are read.
      const failedForks = (dir: string) => Number(/^max (\d+)$/m.exec(readFileSync(join(dir, "pids.events"), "utf8"))?.[1] ?? 0);
      await run.until("the fork bomb to hit the pids limit", () => {
        const current = Number(readFileSync(join(pod, "pids.current"), "utf8").trim());
        const ctr = join(pod, "bomb");
        return current === 64 && failedForks(pod) + failedForks(ctr) > 0;
      }, 60_000);
      assert.ok(containerPids(env, "bomb").length <= 64);
      // Meanwhile the host forks as usual.
      const t = spawnSync("true");
      assert.equal(t.status, 0, `the host could not run true: ${t.error?.message}`);

      run.signal("SIGTERM");
      const r = await run.done;
      assert.equal(r.code, 143, r.stderr);
      const st = statusOf(podOf(r), "bomb");
      assert.equal(st.state.terminated?.exitCode, 143);
      assert.equal(podOf(r).status.phase, "Failed");
      assert.ok(r.events.some((e) => e.container === "bomb" && e.reason === "Killing"));
    }));
});
