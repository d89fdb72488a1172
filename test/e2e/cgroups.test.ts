// The cgroup drivers against the real cgroup filesystem of this host (v1 hybrid here, v2
// unified in test/vm), as root, under a parent of our own (podd-test-<random>) that after()
// removes even when a test fails. Real processes join container cgroups and meet the limits:
// each property comes with a control that shows the same workload behaves differently
// without the limit.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { statfsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { nodeCgroupFs, openCgroups } from "../../supervisor/cgroups/index.ts";
import type { CgroupLimits, CgroupManager } from "../../supervisor/cgroups/index.ts";

const CGROUP2_SUPER_MAGIC = 0x63677270;
const skip = process.getuid?.() !== 0 ? "needs root: creates cgroups and moves processes into them" : false;

const parent = `podd-test-${randomBytes(4).toString("hex")}`;
let mgr: CgroupManager;
const started: ChildProcess[] = [];

/** Starts argv with its process in every dir (what podd-init --cgroup does for PID 1). */
function startIn(dirs: string[], argv: string[]): ChildProcess {
  const child = spawn(
    "/bin/sh",
    ["-c", 'for d in $PODD_CGROUP_DIRS; do echo 0 > "$d/cgroup.procs" || exit 97; done; exec "$@"', "sh", ...argv],
    { env: { ...process.env, PODD_CGROUP_DIRS: dirs.join(" ") }, stdio: ["ignore", "ignore", "pipe"] },
  );
  started.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Polls cond until it returns true; fails after timeoutMs. */
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Process state letter from /proc/<pid>/stat, or undefined once the pid is gone. */
async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined; // ENOENT: exited and reaped
  }
}

async function procField(pid: number, index: number): Promise<number> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after "comm)": state is field 3, so field n is at n - 3.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[index - 3]);
}

async function commOf(pid: number): Promise<string | undefined> {
  return fsp.readFile(`/proc/${pid}/comm`, "utf8").then((s) => s.trim(), () => undefined);
}

/** Waits until the child has exec'd into command inside its cgroups. */
async function running(mgrPod: string, name: string, child: ChildProcess, command: string): Promise<void> {
  const pid = child.pid!;
  await until(`${command} (pid ${pid}) in ${name}`, async () => (await mgr.pids(mgrPod, name)).includes(pid) && (await commOf(pid)) === command);
}

const read = (dir: string, file: string) => fsp.readFile(join(dir, file), "utf8").then((s) => s.trim());

async function container(pod: string, name: string, limits?: CgroupLimits): Promise<string[]> {
  await mgr.createContainer(pod, name, limits);
  return mgr.containerDirs(pod, name);
}

describe("cgroups on the real cgroup filesystem", { skip }, () => {
  before(async () => {
    mgr = await openCgroups({ parent });
    await mgr.ensureParent();
  });

  after(async () => {
    try {
      for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    } finally {
      if (mgr !== undefined) await mgr.removeParent();
    }
  });

  test("detects the version the kernel booted", async () => {
    const v2 = statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC;
    assert.equal(mgr.version, v2 ? 2 : 1);
    assert.equal(mgr.parent, parent);
    const dirs = mgr.containerDirs("p", "c");
    if (v2) assert.deepEqual(dirs, [`/sys/fs/cgroup/${parent}/p/c`]);
    else assert.ok(dirs.length >= 4 && dirs.every((d) => d.endsWith(`/${parent}/p/c`)), dirs.join(" "));
  });

  test("prepareJoin leaves this process in the cgroups it was in", async () => {
    const before = await fsp.readFile("/proc/self/cgroup", "utf8");
    await mgr.prepareJoin();
    await mgr.prepareJoin();
    assert.equal(await fsp.readFile("/proc/self/cgroup", "utf8"), before);
  });

  test("limits are visible in the kernel's files", async () => {
    const pod = "limits";
    await mgr.createPod(pod, { memoryMax: 256 << 20, cpuQuotaUs: 100_000, cpuPeriodUs: 100_000, cpuShares: 1024, cpuWeight: 40, pidsMax: 200 });
    await mgr.createPod(pod); // idempotent
    const dirs = await container(pod, "app", { memoryMax: 32 << 20, cpuQuotaUs: 20_000, cpuPeriodUs: 100_000, cpuShares: 204, cpuWeight: 8, pidsMax: 64 });
    await mgr.createContainer(pod, "app", { memoryMax: 32 << 20 }); // idempotent
    const byFile = async (file: string) => {
      for (const d of dirs) {
        const v = await fsp.readFile(join(d, file), "utf8").catch(() => undefined);
        if (v !== undefined) return v.trim();
      }
      return undefined;
    };
    if (mgr.version === 2) {
      assert.equal(await byFile("memory.max"), String(32 << 20));
      const swap = await byFile("memory.swap.max");
      if (swap !== undefined) assert.equal(swap, "0");
      assert.equal(await byFile("cpu.max"), "20000 100000");
      assert.equal(await byFile("cpu.weight"), "8");
      assert.equal(await byFile("pids.max"), "64");
      assert.equal(await read(`/sys/fs/cgroup/${parent}/${pod}`, "cgroup.subtree_control"), "cpu memory pids");
    } else {
      assert.equal(await byFile("memory.limit_in_bytes"), String(32 << 20));
      const memsw = await byFile("memory.memsw.limit_in_bytes");
      if (memsw !== undefined) assert.equal(memsw, String(32 << 20));
      assert.equal(await byFile("cpu.cfs_quota_us"), "20000");
      assert.equal(await byFile("cpu.cfs_period_us"), "100000");
      assert.equal(await byFile("cpu.shares"), "204");
      assert.equal(await byFile("pids.max"), "64");
    }
  });

  test("the memory limit OOM-kills a process allocating past 32Mi, and stats counts it", async () => {
    const pod = "oom";
    await mgr.createPod(pod);
    const limit = { memoryMax: 32 << 20 };
    // Control: 8Mi fits under the limit, so dd itself works here.
    const small = startIn(await container(pod, "small", limit), ["dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1"]);
    assert.deepEqual(await exited(small), { code: 0, signal: null });
    assert.equal((await mgr.stats(pod, "small")).oomKills, 0);
    // dd fills a 128Mi buffer from /dev/zero: every page is touched, no swap to escape to.
    const big = startIn(await container(pod, "big", limit), ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]);
    assert.deepEqual(await exited(big), { code: null, signal: "SIGKILL" });
    const stats = await mgr.stats(pod, "big");
    assert.ok(stats.oomKills >= 1, `oomKills ${stats.oomKills}`);
    await mgr.remove(pod);
  });

  test("pids.max stops a fork bomb at the limit", async () => {
    const pod = "forks";
    await mgr.createPod(pod);
    // A bounded bomb: 30 background sleeps; dash gives up at the first fork that fails.
    const bomb = ["sh", "-c", 'i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done; echo spawned $i; exec sleep 1000'];
    const limitedDirs = await container(pod, "limited", { pidsMax: 10 });
    const freeDirs = await container(pod, "free");
    const limited = startIn(limitedDirs, bomb);
    const free = startIn(freeDirs, bomb);
    // Control: without a limit all 30 sleeps run, plus the shell that exec'd into sleep.
    await until("31 processes in the unlimited container", async () => (await mgr.pids(pod, "free")).length === 31);
    // With pids.max=10 the shell fails to fork and exits; at most 10 tasks ever ran.
    const end = await exited(limited);
    assert.notEqual(end.code, 0);
    const left = await mgr.pids(pod, "limited");
    assert.ok(left.length >= 1 && left.length <= 9, `${left.length} processes left`);
    assert.ok((await mgr.stats(pod, "limited")).pids <= 10);
    const events = await fsp.readFile(join(limitedDirs.find((d) => d.includes("pids")) ?? limitedDirs[0]!, "pids.events"), "utf8");
    assert.match(events, /^max [1-9]/m, "pids.events counts forks refused at the limit");
    await mgr.kill(pod);
    assert.deepEqual(await exited(free), { code: null, signal: "SIGKILL" });
    await mgr.remove(pod);
  });

  test("a 200m cpu quota holds a busy loop near 20% of a core", async (t) => {
    const pod = "cpu";
    await mgr.createPod(pod);
    const loop = ["sh", "-c", "while :; do :; done"];
    const limited = startIn(await container(pod, "limited", { cpuQuotaUs: 20_000, cpuPeriodUs: 100_000 }), loop);
    const free = startIn(await container(pod, "free"), loop);
    await running(pod, "limited", limited, "sh");
    await running(pod, "free", free, "sh");
    // Measure both over the same window, so both see the same machine load. The window is a
    // measurement interval, not a wait for some event.
    const t0 = performance.now();
    const [l0, f0] = [(await mgr.stats(pod, "limited")).cpuUsageNs, (await mgr.stats(pod, "free")).cpuUsageNs];
    await delay(2_000);
    const [l1, f1] = [(await mgr.stats(pod, "limited")).cpuUsageNs, (await mgr.stats(pod, "free")).cpuUsageNs];
    const wallNs = (performance.now() - t0) * 1e6;
    const limitedShare = (l1 - l0) / wallNs;
    const freeShare = (f1 - f0) / wallNs;
    t.diagnostic(`cgroup v${mgr.version}: limited ${(limitedShare * 100).toFixed(1)}%, unlimited ${(freeShare * 100).toFixed(1)}% of a core`);
    assert.ok(limitedShare >= 0.1 && limitedShare <= 0.35, `limited loop used ${(limitedShare * 100).toFixed(1)}% of a core`);
    // Control: the same loop without the quota gets more than the band allows.
    assert.ok(freeShare > 0.35, `unlimited loop used only ${(freeShare * 100).toFixed(1)}% of a core`);
    await mgr.remove(pod);
    assert.equal((await exited(limited)).signal, "SIGKILL");
    assert.equal((await exited(free)).signal, "SIGKILL");
  });

  test("kill ends every process in the cgroup, a daemonised one included", async () => {
    const pod = "kill";
    await mgr.createPod(pod);
    const dirs = await container(pod, "app");
    // PID "1" here is sleep 1002; a child sleep 1000; and sleep 1003 behind a double fork and
    // setsid, reparented away from us into its own session.
    const child = startIn(dirs, ["sh", "-c", '(setsid sh -c "exec sleep 1003" &); sleep 1000 & exec sleep 1002']);
    let pids: number[] = [];
    await until("three sleeps in the container", async () => {
      pids = await mgr.pids(pod, "app");
      const comms = await Promise.all(pids.map(commOf));
      return pids.length === 3 && comms.every((c) => c === "sleep");
    });
    let daemonised: number | undefined;
    for (const p of pids) {
      if (p === child.pid) continue;
      if ((await procField(p, 6)) === p) daemonised = p; // session id == pid: setsid'd
    }
    assert.ok(daemonised !== undefined, "a setsid'd process runs in the container");
    assert.notEqual(await procField(daemonised, 4), process.pid, "the daemon is not our child");
    // Control: alive before the kill.
    // (A process just exec'd into sleep can still be R for a moment on a slow machine: wait for it.)
    await until("every sleep to be asleep", async () => (await Promise.all(pids.map(procState))).every((st) => st === "S"));

    await mgr.kill(pod, "app");
    assert.deepEqual(await mgr.pids(pod, "app"), []);
    for (const p of pids) {
      const state = await procState(p);
      // Gone, or dead and waiting for its parent (host init for the daemon) to reap it.
      assert.ok(state === undefined || state === "Z" || state === "X", `pid ${p} is ${state} after kill`);
    }
    assert.deepEqual(await exited(child), { code: null, signal: "SIGKILL" });
    await mgr.kill(pod, "app"); // again: nothing left, still fine
  });

  test("kill without cgroup.kill (the pre-5.14 v2 path; v1's only path) freezes, kills and thaws", async () => {
    // The same parent, seen through a filesystem that hides cgroup.kill, as a kernel older
    // than 5.14 would.
    const old = await openCgroups({
      parent,
      fs: { ...nodeCgroupFs, exists: (p) => (p.endsWith("/cgroup.kill") ? Promise.resolve(false) : nodeCgroupFs.exists(p)) },
    });
    const pod = "freeze";
    await old.createPod(pod);
    await old.createContainer(pod, "app");
    const child = startIn(old.containerDirs(pod, "app"), ["sh", "-c", "sleep 1000 & sleep 1001 & exec sleep 1002"]);
    await until("three sleeps", async () => (await old.pids(pod, "app")).length === 3);
    const pids = await old.pids(pod, "app");
    await old.kill(pod);
    assert.deepEqual(await old.pids(pod, "app"), []);
    for (const p of pids) assert.ok([undefined, "Z", "X"].includes(await procState(p)), `pid ${p} survived`);
    assert.deepEqual(await exited(child), { code: null, signal: "SIGKILL" });
    // Thawed again: a cgroup left frozen would stop whatever joins it later.
    const state = old.version === 2 ? await read(join(old.containerDirs(pod, "app")[0]!, ".."), "cgroup.freeze") : await read(old.containerDirs(pod, "app").find((d) => d.includes("freezer"))!, "freezer.state");
    assert.ok(state === "0" || state === "THAWED", state);
    await old.remove(pod);
  });

  test("kill of a pod ends all its containers; remove leaves nothing under the parent", async () => {
    const pod = "whole";
    await mgr.createPod(pod);
    const a = startIn(await container(pod, "a"), ["sleep", "1000"]);
    const b = startIn(await container(pod, "b"), ["sleep", "1000"]);
    await running(pod, "a", a, "sleep");
    await running(pod, "b", b, "sleep");
    // remove on a busy pod: EBUSY, kill, retry.
    await mgr.remove(pod);
    assert.equal((await exited(a)).signal, "SIGKILL");
    assert.equal((await exited(b)).signal, "SIGKILL");
    await mgr.remove(pod); // already gone: fine
    assert.ok(!(await mgr.listPods()).includes(pod));

    for (const p of await mgr.listPods()) await mgr.remove(p);
    assert.deepEqual(await mgr.listPods(), []);
    for (const d of mgr.containerDirs("x", "y")) {
      const parentDir = join(d, "..", "..");
      const entries = await fsp.readdir(parentDir, { withFileTypes: true });
      assert.deepEqual(entries.filter((e) => e.isDirectory()).map((e) => e.name), [], parentDir);
    }
  });
});
