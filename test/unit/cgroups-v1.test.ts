// The v1 driver against a fake cgroupfs in a temp dir: which files get which values, in which
// order, in which hierarchies, and how kill/remove behave. Layout of the fake: a legacy boot
// with cpu,cpuacct co-mounted, plus cpuset and name=systemd, which podd must leave alone.
// The device allow-list: devices.deny and devices.allow of the container, before anyone joins.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { PoddError } from "../../supervisor/base/errors.ts";
import { createCgroupManager, openCgroups } from "../../supervisor/cgroups/index.ts";
import type { CgroupManager, Signaller } from "../../supervisor/cgroups/index.ts";
import { FakeCgroupFs } from "../../supervisor/cgroups/fake.ts";
import { DEFAULT_DEVICE_RULES } from "../../supervisor/cgroups/devices.ts";
import type { DeviceRule } from "../../supervisor/cgroups/devices.ts";

const UNLIMITED = "9223372036854771712";

function v1Files(dir: string): Record<string, string> {
  const common = { "cgroup.procs": "", tasks: "", "notify_on_release": "0" };
  // The hierarchy is the path component right under <tmp>/caseN/cg.
  const hierarchy = dir.split("/cg/")[1]?.split("/")[0] ?? "";
  switch (hierarchy) {
    case "memory":
      return {
        ...common,
        "memory.limit_in_bytes": UNLIMITED,
        "memory.memsw.limit_in_bytes": UNLIMITED,
        "memory.swappiness": "60",
        "memory.usage_in_bytes": "0",
        "memory.stat": "cache 0\ninactive_file 0\ntotal_inactive_file 0\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
      };
    case "cpu,cpuacct":
      return { ...common, "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.shares": "1024", "cpuacct.usage": "0" };
    case "pids":
      return { ...common, "pids.max": "max", "pids.current": "0" };
    case "freezer":
      return { ...common, "freezer.state": "THAWED" };
    case "cpuset":
      return { ...common, "cpuset.cpus": "", "cpuset.mems": "" };
    case "devices":
      return { ...common, "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" };
    default:
      return common;
  }
}

let tmp: string;
let cg: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "podd-cgroups-v1-"));
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

interface Setup {
  fake: FakeCgroupFs;
  mgr: CgroupManager;
  signals: Array<[number, string]>;
}

let n = 0;
async function setup(opts: Partial<ConstructorParameters<typeof FakeCgroupFs>[0]> = {}, mounts?: string[]): Promise<Setup> {
  cg = join(tmp, `case${n++}`, "cg");
  const fake = new FakeCgroupFs({ files: v1Files, ...opts });
  const hierarchies = mounts ?? ["memory", "cpu,cpuacct", "pids", "freezer", "devices", "cpuset", "systemd"];
  const lines = [`31 23 0:28 / ${cg} rw,relatime - tmpfs tmpfs rw,mode=755`];
  for (const [i, h] of hierarchies.entries()) {
    await fake.seed(join(cg, h));
    const opt = h === "systemd" ? "xattr,name=systemd" : h;
    lines.push(`${40 + i} 31 0:${40 + i} / ${join(cg, h)} rw,relatime - cgroup cgroup rw,${opt}`);
  }
  const proc = join(dirname(cg), "proc");
  await fsp.mkdir(join(proc, "self"), { recursive: true });
  await fsp.writeFile(join(proc, "self", "mountinfo"), lines.join("\n") + "\n");
  const signals: Array<[number, string]> = [];
  const signal: Signaller = (pid, sig) => {
    signals.push([pid, sig]);
    // The fake kernel: a SIGKILLed process leaves every cgroup.
    fake.exit(pid);
    return "sent";
  };
  const mgr = await openCgroups({
    procRoot: proc,
    cgroupRoot: cg,
    parent: "podd-test",
    fs: fake,
    signal,
    // Deadlines the passing tests never reach: each round of remove's retries walks six
    // hierarchies of the fake, which under an emulated CPU (test/vm) takes a good part of a
    // second. Tests of a deadline that passes set their own.
    timeouts: { freezeMs: 200, emptyMs: 2000, removeMs: 5000 },
  });
  return { fake, mgr, signals };
}

const read = (p: string) => fsp.readFile(p, "utf8");
const isDir = (p: string) => fsp.stat(p).then((s) => s.isDirectory(), () => false);

describe("cgroup v1 driver", () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  test("is detected from mountinfo and creates the parent only in the hierarchies it joins", async () => {
    assert.equal(s.mgr.version, 1);
    assert.equal(s.mgr.parent, "podd-test");
    await s.mgr.ensureParent();
    await s.mgr.ensureParent(); // idempotent
    for (const h of ["memory", "cpu,cpuacct", "pids", "freezer", "devices"]) assert.ok(await isDir(join(cg, h, "podd-test")), h);
    for (const h of ["cpuset", "systemd"]) assert.equal(await isDir(join(cg, h, "podd-test")), false, h);
    assert.deepEqual(s.fake.writes, []);
  });

  test("containerDirs: one per hierarchy, co-mounted cpu,cpuacct once", () => {
    assert.deepEqual(s.mgr.containerDirs("uid1", "app"), [
      join(cg, "memory/podd-test/uid1/app"),
      join(cg, "cpu,cpuacct/podd-test/uid1/app"),
      join(cg, "pids/podd-test/uid1/app"),
      join(cg, "freezer/podd-test/uid1/app"),
      join(cg, "devices/podd-test/uid1/app"),
    ]);
  });

  test("createPod and createContainer write the limits, memsw equal to the limit (no swap)", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1", { memoryMax: 256 << 20, cpuQuotaUs: 50_000, cpuPeriodUs: 100_000, cpuShares: 512, pidsMax: 100 });
    await s.mgr.createContainer("uid1", "app", {
      memoryMax: 32 << 20,
      cpuQuotaUs: 20_000,
      cpuPeriodUs: 100_000,
      cpuShares: 204,
      cpuWeight: 8, // v2's field: not written on v1
      pidsMax: 64,
    });
    const c = (h: string, f: string) => read(join(cg, h, "podd-test/uid1/app", f));
    const p = (h: string, f: string) => read(join(cg, h, "podd-test/uid1", f));
    assert.equal(await p("memory", "memory.limit_in_bytes"), String(256 << 20));
    assert.equal(await p("memory", "memory.memsw.limit_in_bytes"), String(256 << 20));
    assert.equal(await c("memory", "memory.limit_in_bytes"), String(32 << 20));
    assert.equal(await c("memory", "memory.memsw.limit_in_bytes"), String(32 << 20));
    assert.equal(await c("memory", "memory.swappiness"), "60"); // untouched: memsw is what forbids swap
    assert.equal(await c("cpu,cpuacct", "cpu.cfs_period_us"), "100000");
    assert.equal(await c("cpu,cpuacct", "cpu.cfs_quota_us"), "20000");
    assert.equal(await c("cpu,cpuacct", "cpu.shares"), "204");
    assert.equal(await c("pids", "pids.max"), "64");
    assert.equal(await p("pids", "pids.max"), "100");
    // Exactly these limit writes for the container, period before quota (devices: tests below).
    const mine = s.fake.writes.filter(([path]) => path.includes("/uid1/app/") && !path.includes("/devices/")).map(([path, v]) => `${basename(path)}=${v}`);
    // A new cgroup starts unlimited, so setting a limit lowers it: memory first, then memsw.
    assert.deepEqual(mine, [
      `memory.limit_in_bytes=${32 << 20}`,
      `memory.memsw.limit_in_bytes=${32 << 20}`,
      "cpu.cfs_period_us=100000",
      "cpu.cfs_quota_us=20000",
      "cpu.shares=204",
      "pids.max=64",
    ]);
    // Nothing in hierarchies podd does not join.
    assert.equal(s.fake.writes.some(([path]) => path.includes("/cpuset/") || path.includes("/systemd/")), false);
  });

  test("memory: raising writes memsw first, lowering writes memory first (memory <= memsw at all times)", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app", { memoryMax: 1000 * 4096 });
    const memoryWrites = () => s.fake.writes.filter(([path]) => path.includes("/memory/")).map(([path]) => basename(path));
    s.fake.writes.length = 0;
    await s.mgr.createContainer("uid1", "app", { memoryMax: 10 * 4096 });
    assert.deepEqual(memoryWrites(), ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
    s.fake.writes.length = 0;
    await s.mgr.createContainer("uid1", "app", { memoryMax: 20 * 4096 });
    assert.deepEqual(memoryWrites(), ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
  });

  test("a quota without a period writes only the quota; a period alone writes quota -1", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "a", { cpuQuotaUs: 30_000 });
    await s.mgr.createContainer("uid1", "b", { cpuPeriodUs: 50_000 });
    assert.deepEqual(s.fake.written("/a/cpu.cfs_quota_us"), ["30000"]);
    assert.deepEqual(s.fake.written("/a/cpu.cfs_period_us"), []);
    assert.deepEqual(s.fake.written("/b/cpu.cfs_period_us"), ["50000"]);
    assert.deepEqual(s.fake.written("/b/cpu.cfs_quota_us"), ["-1"]);
  });

  test("a refused write is a PoddError naming the path and errno", async () => {
    const t = await setup({ failWrite: (path) => (path.endsWith("/app/memory.limit_in_bytes") ? "EBUSY" : undefined) });
    await t.mgr.ensureParent();
    await t.mgr.createPod("uid1");
    const path = join(cg, "memory/podd-test/uid1/app/memory.limit_in_bytes");
    await assert.rejects(t.mgr.createContainer("uid1", "app", { memoryMax: 4096 }), (e: unknown) => {
      assert.ok(e instanceof PoddError);
      assert.equal(e.message, `write ${path}: EBUSY`);
      assert.equal(e.errno, "EBUSY");
      assert.equal(e.path, path);
      assert.equal(e.code, "Syscall");
      return true;
    });
  });

  test("names that could escape the tree or collide with control files are refused", async () => {
    for (const bad of ["", "..", ".", "a/b", "memory.max", "cgroup.procs", "tasks", "x\ny"]) {
      await assert.rejects(s.mgr.createPod(bad), (e: unknown) => e instanceof PoddError && e.code === "Invalid", JSON.stringify(bad));
    }
    assert.throws(() => createCgroupManager({ version: 1, mounts: {} }, { parent: "../x" }), PoddError);
  });

  test("a limit for a controller that is not mounted is a NotFound error; without limits it is fine", async () => {
    const t = await setup({}, ["memory", "cpu,cpuacct", "freezer"]);
    await t.mgr.ensureParent();
    await t.mgr.createPod("uid1");
    await t.mgr.createContainer("uid1", "app", {}, "all");
    assert.equal(t.mgr.containerDirs("uid1", "app").length, 3);
    await assert.rejects(t.mgr.createContainer("uid1", "app", { pidsMax: 5 }, "all"), (e: unknown) => e instanceof PoddError && e.code === "NotFound" && /pids/.test(e.message));
    // Without a devices hierarchy an allow-list cannot be enforced: refused, not ignored.
    await assert.rejects(t.mgr.createContainer("uid1", "app"), (e: unknown) => {
      assert.ok(e instanceof PoddError);
      assert.equal(e.code, "NotFound");
      assert.equal(e.message, "cgroup v1 controller devices is not mounted; it is needed for the device allow-list");
      return true;
    });
  });

  test("kill freezes, SIGKILLs every pid of every hierarchy, thaws, and waits until empty", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    const [memory, cpu, pids, freezer] = s.mgr.containerDirs("uid1", "app") as [string, string, string, string];
    for (const d of [memory, cpu, pids, freezer]) await s.fake.setProcs(d, [101, 102]);
    await s.fake.setProcs(memory, [101, 102, 103]); // one only the memory hierarchy lists
    await s.mgr.kill("uid1", "app");
    assert.deepEqual(s.fake.written("freezer.state"), ["FROZEN", "THAWED"]);
    const killed = new Set(s.signals.map(([pid, sig]) => (assert.equal(sig, "SIGKILL"), pid)));
    assert.deepEqual([...killed].sort(), [101, 102, 103]);
    // Signals went out between freeze and thaw: the thaw is the last write.
    assert.equal(s.fake.writes.at(-1)?.[1], "THAWED");
    assert.deepEqual(await s.mgr.pids("uid1", "app"), []);
  });

  test("kill of a pod freezes the pod and kills the processes of all its containers", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "a");
    await s.mgr.createContainer("uid1", "b");
    await s.fake.setProcs(s.mgr.containerDirs("uid1", "a")[0]!, [201]);
    await s.fake.setProcs(s.mgr.containerDirs("uid1", "b")[3]!, [202]);
    await s.mgr.kill("uid1");
    assert.deepEqual(s.fake.writes.filter(([p]) => p.endsWith("freezer.state")).map(([p, v]) => [p, v]), [
      [join(cg, "freezer/podd-test/uid1/freezer.state"), "FROZEN"],
      [join(cg, "freezer/podd-test/uid1/freezer.state"), "THAWED"],
    ]);
    assert.deepEqual(s.signals.map(([pid]) => pid).sort(), [201, 202]);
  });

  test("kill when freezing never settles: thaws again and still kills", async () => {
    const t = await setup({ readOverride: (p) => (p.endsWith("freezer.state") ? "FREEZING\n" : undefined) });
    await t.mgr.ensureParent();
    await t.mgr.createPod("uid1");
    await t.mgr.createContainer("uid1", "app");
    await t.fake.setProcs(t.mgr.containerDirs("uid1", "app")[0]!, [301]);
    await t.mgr.kill("uid1", "app");
    const states = t.fake.written("freezer.state");
    assert.equal(states[0], "FROZEN");
    assert.equal(states.at(-1), "THAWED");
    assert.deepEqual(t.signals.map(([pid]) => pid), [301]);
  });

  test("kill fails with the pids left when processes do not leave within the deadline", async () => {
    const t = await setup();
    const stubborn = createCgroupManager(
      { version: 1, mounts: { memory: join(cg, "memory"), freezer: join(cg, "freezer") } },
      { parent: "podd-test", fs: t.fake, signal: () => "sent", timeouts: { freezeMs: 100, emptyMs: 100, removeMs: 200 } },
    );
    await stubborn.ensureParent();
    await stubborn.createPod("uid1");
    await stubborn.createContainer("uid1", "app", {}, "all");
    await t.fake.setProcs(stubborn.containerDirs("uid1", "app")[0]!, [401]);
    await assert.rejects(stubborn.kill("uid1", "app"), (e: unknown) => e instanceof PoddError && /1 processes still in the cgroup.*pids 401/.test(e.message));
    // remove meets EBUSY, kills, and reports why the kill did not empty the cgroup.
    await assert.rejects(stubborn.remove("uid1", "app"), (e: unknown) => e instanceof PoddError && /pids 401/.test(e.message));
  });

  test("kill and remove of cgroups that do not exist succeed", async () => {
    await s.mgr.ensureParent();
    await s.mgr.kill("nope", "app");
    await s.mgr.kill("nope");
    await s.mgr.remove("nope", "app");
    await s.mgr.remove("nope");
    assert.deepEqual(s.signals, []);
  });

  test("remove: containers before the pod in every hierarchy; EBUSY kills and retries", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "a");
    await s.mgr.createContainer("uid1", "b");
    await s.fake.setProcs(s.mgr.containerDirs("uid1", "b")[2]!, [501]);
    await s.mgr.remove("uid1", "a");
    assert.equal(await isDir(join(cg, "memory/podd-test/uid1/a")), false);
    assert.ok(await isDir(join(cg, "memory/podd-test/uid1/b")));
    await s.mgr.remove("uid1");
    assert.deepEqual(s.signals, [[501, "SIGKILL"]]);
    for (const h of ["memory", "cpu,cpuacct", "pids", "freezer", "devices"]) {
      const left = await fsp.readdir(join(cg, h, "podd-test"), { withFileTypes: true });
      assert.deepEqual(left.filter((e) => e.isDirectory()).map((e) => e.name), [], h);
    }
    const order = s.fake.rmdirs.filter((p) => p.includes("/memory/")).map((p) => p.slice(p.indexOf("uid1")));
    assert.deepEqual(order, ["uid1/a", "uid1/b", "uid1"]);
  });

  test("listPods unions the hierarchies; removeParent removes everything", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createPod("uid2");
    await s.fake.mkdir(join(cg, "pids/podd-test/uid3")); // left half-created by a crash
    assert.deepEqual(await s.mgr.listPods(), ["uid1", "uid2", "uid3"]);
    await s.mgr.removeParent();
    for (const h of ["memory", "cpu,cpuacct", "pids", "freezer", "devices"]) assert.equal(await isDir(join(cg, h, "podd-test")), false, h);
    assert.deepEqual(await s.mgr.listPods(), []);
  });

  test("stats: cpuacct.usage, usage minus total_inactive_file, oom_kill, pids.current", async () => {
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    const d = (h: string) => join(cg, h, "podd-test/uid1/app");
    await fsp.writeFile(join(d("cpu,cpuacct"), "cpuacct.usage"), "123456789\n");
    await fsp.writeFile(join(d("memory"), "memory.usage_in_bytes"), "10485760\n");
    await fsp.writeFile(join(d("memory"), "memory.stat"), "cache 4096\ninactive_file 1\ntotal_cache 4096\ntotal_inactive_file 2097152\n");
    await fsp.writeFile(join(d("memory"), "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    await fsp.writeFile(join(d("pids"), "pids.current"), "7\n");
    assert.deepEqual(await s.mgr.stats("uid1", "app"), {
      cpuUsageNs: 123456789,
      memoryUsageBytes: 10485760,
      memoryWorkingSetBytes: 10485760 - 2097152,
      oomKills: 2,
      pids: 7,
    });
  });

  test("prepareJoin re-joins the daemon's own cgroup, and only the one that lists it", async () => {
    const proc = join(dirname(cg), "proc");
    const own = join(cg, "memory", "user.slice", "cgroup.procs");
    const joined = [own, String(process.pid)];
    await fsp.writeFile(join(proc, "self", "cgroup"), "12:pids:/elsewhere\n9:memory:/user.slice\n1:name=systemd:/user.slice\n0::/\n");
    await s.fake.mkdir(join(cg, "memory", "user.slice"));
    await fsp.writeFile(own, `1\n${process.pid}\n`);
    await s.mgr.prepareJoin();
    assert.deepEqual(s.fake.writes, [joined]);
    await fsp.writeFile(own, "1\n");
    await s.mgr.prepareJoin(); // the file stays open: no second look at the list
    assert.deepEqual(s.fake.writes, [joined, joined]);
    // Calls while a write is in flight share it.
    await Promise.all([s.mgr.prepareJoin(), s.mgr.prepareJoin(), s.mgr.prepareJoin()]);
    assert.deepEqual(s.fake.writes, [joined, joined, joined]);

    // Moved to a cgroup that does not list us (or the mount shows another part of the tree): no write.
    await fsp.writeFile(join(proc, "self", "cgroup"), "9:memory:/\n");
    await fsp.writeFile(join(cg, "memory", "cgroup.procs"), "1\n");
    await s.mgr.prepareJoin();
    // A missing /proc/self/cgroup: nothing, and no error.
    await fsp.rm(join(proc, "self", "cgroup"));
    await s.mgr.prepareJoin();
    assert.deepEqual(s.fake.writes, [joined, joined, joined], "nothing after");
  });
});

describe("cgroup v1 device allow-list", () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
  });
  const devicesDir = () => join(cg, "devices/podd-test/uid1/app");
  /** The container's devices writes as "file value", in order. */
  const deviceWrites = () => s.fake.writes.filter(([p]) => dirname(p) === devicesDir()).map(([p, v]) => `${basename(p)} ${v}`);

  const defaultWrites = [
    "devices.deny a",
    "devices.allow c 1:3 rwm",
    "devices.allow c 1:5 rwm",
    "devices.allow c 1:7 rwm",
    "devices.allow c 1:8 rwm",
    "devices.allow c 1:9 rwm",
    "devices.allow c 5:0 rwm",
    "devices.allow c 5:1 rwm",
    "devices.allow c 5:2 rwm",
    "devices.allow c 136:* rwm",
  ];

  test("by default: deny everything, then allow each default rule, in the container's devices cgroup only", async () => {
    await s.mgr.createContainer("uid1", "app", { pidsMax: 10 });
    assert.deepEqual(deviceWrites(), defaultWrites);
    // Nothing at the pod or parent level, nothing in other hierarchies.
    const devices = s.fake.writes.filter(([p]) => basename(p).startsWith("devices."));
    assert.equal(devices.length, defaultWrites.length);
    assert.ok(devices.every(([p]) => dirname(p) === devicesDir()));
    // The allow-list is in place before createContainer returns, i.e. before PID 1 can join, and
    // before the limits (a limit that fails then leaves no wider list behind).
    const firstLimit = s.fake.writes.findIndex(([p]) => p.endsWith("/pids.max"));
    const lastDevice = s.fake.writes.map(([p]) => basename(p).startsWith("devices.")).lastIndexOf(true);
    assert.ok(lastDevice < firstLimit, JSON.stringify(s.fake.writes));
    assert.ok(s.mgr.containerDirs("uid1", "app").includes(devicesDir()), "PID 1 joins the devices cgroup");
  });

  test("the same rules given explicitly are the same writes; a reused cgroup is reset the same way", async () => {
    await s.mgr.createContainer("uid1", "app", {}, DEFAULT_DEVICE_RULES);
    assert.equal(await s.mgr.createContainer("uid1", "app", {}, DEFAULT_DEVICE_RULES), false);
    assert.deepEqual(deviceWrites(), [...defaultWrites, ...defaultWrites]);
  });

  test("other rules: kernel format with access in rwm order; block devices and wildcards", async () => {
    const rules: DeviceRule[] = [
      { type: "b", major: 7, minor: "*", access: "r" },
      { type: "c", major: 10, minor: 200, access: "wr" },
      { type: "c", major: "*", minor: "*", access: "m" },
    ];
    await s.mgr.createContainer("uid1", "app", {}, rules);
    assert.deepEqual(deviceWrites(), ["devices.deny a", "devices.allow b 7:* r", "devices.allow c 10:200 rw", "devices.allow c *:* m"]);
  });

  test("a privileged container (all) gets every device: a to devices.allow, nothing denied", async () => {
    await s.mgr.createContainer("uid1", "app", {}, "all");
    assert.deepEqual(deviceWrites(), ["devices.allow a"]);
    s.fake.writes.length = 0;
    await s.mgr.createContainer("uid1", "app", {}, [{ type: "a", major: "*", minor: "*", access: "rwm" }]);
    assert.deepEqual(deviceWrites(), ["devices.allow a"], "a list holding a *:* rwm is the same as all");
    // Still in a devices cgroup: the same joins, kills and removal as any container.
    assert.ok(s.mgr.containerDirs("uid1", "app").includes(devicesDir()));
  });

  test("an empty list denies every device", async () => {
    await s.mgr.createContainer("uid1", "app", {}, []);
    assert.deepEqual(deviceWrites(), ["devices.deny a"]);
  });

  test("an invalid rule is refused before any cgroup is made", async () => {
    const bad: DeviceRule[][] = [
      [{ type: "x" as "c", major: 1, minor: 3, access: "rwm" }],
      [{ type: "c", major: 1, minor: 3, access: "" }],
      [{ type: "c", major: 1, minor: 3, access: "rwx" }],
      [{ type: "c", major: 1, minor: 3, access: "rr" }],
      [{ type: "c", major: -1, minor: 3, access: "r" }],
      [{ type: "c", major: 4096, minor: 3, access: "r" }],
      [{ type: "c", major: 1, minor: 1.5, access: "r" }],
      [{ type: "a", major: 1, minor: "*", access: "rwm" }],
      [{ type: "a", major: "*", minor: "*", access: "r" }],
    ];
    for (const rules of bad) {
      await assert.rejects(s.mgr.createContainer("uid1", "app", {}, rules), (e: unknown) => e instanceof PoddError && e.code === "Invalid" && /invalid device rule/.test(e.message), JSON.stringify(rules));
    }
    assert.equal(await isDir(join(cg, "memory/podd-test/uid1/app")), false);
    assert.deepEqual(s.fake.writes, []);
  });

  test("a refused allow names the file, the errno and the parent's list as the likely cause", async () => {
    const t = await setup({ failWrite: (p, v) => (p.endsWith("/app/devices.allow") && v.startsWith("c 136") ? "EPERM" : undefined) });
    await t.mgr.ensureParent();
    await t.mgr.createPod("uid1");
    await assert.rejects(t.mgr.createContainer("uid1", "app"), (e: unknown) => {
      assert.ok(e instanceof PoddError);
      assert.equal(e.errno, "EPERM");
      assert.equal(e.path, join(cg, "devices/podd-test/uid1/app/devices.allow"));
      assert.match(e.message, /^write .*devices\.allow: EPERM \(the devices list of a cgroup cannot be wider than its parent's/);
      return true;
    });
  });
});
