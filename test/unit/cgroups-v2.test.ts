// The v2 driver against a fake unified tree in a temp dir. The fake gives a new cgroup the
// interface files of the controllers its parent enabled in cgroup.subtree_control, as the
// kernel does, so a missing "+memory" shows up as a missing memory.max. The device allow-list
// goes through a fake Sys whose bpf(2) keeps programs and attachments per directory.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { PoddError } from "../../supervisor/base/errors.ts";
import { openCgroups } from "../../supervisor/cgroups/index.ts";
import type { CgroupManager, Signaller } from "../../supervisor/cgroups/index.ts";
import { FakeCgroupFs } from "../../supervisor/cgroups/fake.ts";
import type { FakeCgroupFsOptions } from "../../supervisor/cgroups/fake.ts";
import { parseControllerList, parsePids } from "../../supervisor/cgroups/parse.ts";
import { DEFAULT_DEVICE_RULES } from "../../supervisor/cgroups/devices.ts";
import { deviceProgram, encodeProgram } from "../../supervisor/cgroups/device-bpf.ts";
import { FakeSys } from "../../supervisor/sys/fake.ts";
import { BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_ATTACH, BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE } from "../../supervisor/sys/index.ts";

const ROOT_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc";

function v2Files(withKill: boolean) {
  return (dir: string): Record<string, string> => {
    let enabled: string[] = [];
    try {
      enabled = parseControllerList(readFileSync(join(dirname(dir), "cgroup.subtree_control"), "utf8"));
    } catch {
      // The root: its parent is not a cgroup. It gets the controllers the test seeds.
    }
    const files: Record<string, string> = {
      "cgroup.controllers": enabled.join(" "),
      "cgroup.subtree_control": "",
      "cgroup.procs": "",
      "cgroup.events": "populated 0\nfrozen 0\n",
      "cgroup.freeze": "0",
      "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    };
    if (withKill) files["cgroup.kill"] = "";
    if (enabled.includes("cpu")) Object.assign(files, { "cpu.max": "max 100000", "cpu.weight": "100" });
    if (enabled.includes("memory")) {
      Object.assign(files, {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.current": "0",
        "memory.stat": "anon 0\nfile 0\ninactive_file 0\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
      });
    }
    if (enabled.includes("pids")) Object.assign(files, { "pids.max": "max", "pids.current": "0" });
    return files;
  };
}

// "+a -b" applied to the current list, as the kernel does for cgroup.subtree_control.
function store(path: string, value: string, previous: string): string {
  if (!path.endsWith("cgroup.subtree_control")) return value;
  const set = new Set(parseControllerList(previous));
  for (const tok of parseControllerList(value)) {
    if (tok.startsWith("+")) set.add(tok.slice(1));
    else if (tok.startsWith("-")) set.delete(tok.slice(1));
  }
  return [...set].join(" ");
}

let tmp: string;
before(async () => {
  tmp = await fsp.mkdtemp(join(tmpdir(), "podd-cgroups-v2-"));
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

interface Setup {
  root: string;
  fake: FakeCgroupFs;
  mgr: CgroupManager;
  signals: number[];
  sys: FakeSys;
}

let n = 0;
async function setup(o: { withKill?: boolean; parent?: string; rootControllers?: string; fake?: Partial<FakeCgroupFsOptions> } = {}): Promise<Setup> {
  const base = join(tmp, `case${n++}`);
  const root = join(base, "sys/fs/cgroup");
  const signals: number[] = [];
  const withKill = o.withKill ?? true;
  const fake: FakeCgroupFs = new FakeCgroupFs({
    files: v2Files(withKill),
    store,
    async onWrite(path, value, f) {
      const dir = dirname(path);
      if (basename(path) === "cgroup.kill" && value === "1") {
        // The kernel kills the whole subtree; the processes leave their cgroups.
        const walk = async (d: string): Promise<void> => {
          for (const pid of parsePids(await f.readFile(join(d, "cgroup.procs")))) f.exit(pid);
          for (const c of await f.subdirs(d)) await walk(join(d, c));
        };
        await walk(dir);
      }
      if (basename(path) === "cgroup.freeze") {
        await fsp.writeFile(join(dir, "cgroup.events"), `populated 1\nfrozen ${value.trim()}\n`);
      }
    },
    ...o.fake,
  });
  await fake.seed(root, { "cgroup.controllers": o.rootControllers ?? ROOT_CONTROLLERS });
  await fsp.mkdir(join(base, "proc/self"), { recursive: true });
  await fsp.writeFile(
    join(base, "proc/self/mountinfo"),
    `22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/root rw\n35 24 0:30 / ${root} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n`,
  );
  const signal: Signaller = (pid) => {
    signals.push(pid);
    fake.exit(pid);
    return "sent";
  };
  const sys = new FakeSys();
  const mgr = await openCgroups({
    procRoot: join(base, "proc"),
    cgroupRoot: root,
    parent: o.parent ?? "podd-test",
    fs: fake,
    sys,
    signal,
    timeouts: { freezeMs: 200, emptyMs: 500, removeMs: 1000 },
  });
  return { root, fake, mgr, signals, sys };
}

const read = (p: string) => fsp.readFile(p, "utf8");

describe("cgroup v2 driver", () => {
  test("ensureParent enables cpu, memory and pids from the root down to the parent", async () => {
    const s = await setup({ parent: "a/podd" });
    assert.equal(s.mgr.version, 2);
    await s.mgr.ensureParent();
    assert.deepEqual(
      s.fake.writes.map(([p, v]) => [p.slice(s.root.length), v]),
      [
        ["/cgroup.subtree_control", "+cpu +memory +pids"],
        ["/a/cgroup.subtree_control", "+cpu +memory +pids"],
        ["/a/podd/cgroup.subtree_control", "+cpu +memory +pids"],
      ],
    );
    s.fake.writes.length = 0;
    await s.mgr.ensureParent(); // already enabled: nothing to write
    assert.deepEqual(s.fake.writes, []);
  });

  test("ensureParent enables only what the root offers", async () => {
    const s = await setup({ rootControllers: "cpu pids" });
    await s.mgr.ensureParent();
    assert.deepEqual(s.fake.written("cgroup.subtree_control"), ["+cpu +pids", "+cpu +pids"]);
  });

  test("createPod enables controllers for its containers; containers enable nothing", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    assert.equal(await read(join(s.root, "podd-test/uid1/cgroup.subtree_control")), "cpu memory pids");
    assert.equal(await read(join(s.root, "podd-test/uid1/app/cgroup.subtree_control")), "");
    assert.deepEqual(s.mgr.containerDirs("uid1", "app"), [join(s.root, "podd-test/uid1/app")]);
    await s.mgr.createPod("uid1"); // idempotent
    await s.mgr.createContainer("uid1", "app");
  });

  test("limits: memory.max, memory.swap.max 0, cpu.max, cpu.weight, pids.max", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1", { memoryMax: 64 << 20, cpuQuotaUs: 50_000, cpuPeriodUs: 100_000, cpuWeight: 20 });
    await s.mgr.createContainer("uid1", "app", {
      memoryMax: 32 << 20,
      cpuQuotaUs: 20_000,
      cpuPeriodUs: 100_000,
      cpuWeight: 8,
      cpuShares: 204, // v1's field: not written on v2
      pidsMax: 64,
    });
    const mine = s.fake.writes.filter(([p]) => p.includes("/uid1/app/")).map(([p, v]) => `${basename(p)}=${v}`);
    assert.deepEqual(mine, [`memory.max=${32 << 20}`, "memory.swap.max=0", "cpu.max=20000 100000", "cpu.weight=8", "pids.max=64"]);
    assert.equal(await read(join(s.root, "podd-test/uid1/memory.max")), String(64 << 20));
    assert.equal(await read(join(s.root, "podd-test/uid1/cpu.max")), "50000 100000");
  });

  test("cpu.max: a period alone is 'max PERIOD', a quota alone uses the default period", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "a", { cpuPeriodUs: 50_000 });
    await s.mgr.createContainer("uid1", "b", { cpuQuotaUs: 30_000 });
    assert.deepEqual(s.fake.written("/a/cpu.max"), ["max 50000"]);
    assert.deepEqual(s.fake.written("/b/cpu.max"), ["30000 100000"]);
    // No limits: only "no swap" is written.
    await s.mgr.createContainer("uid1", "c");
    assert.deepEqual(s.fake.writes.filter(([p]) => p.includes("/c/")).map(([p, v]) => `${basename(p)}=${v}`), ["memory.swap.max=0"]);
  });

  test("a limit whose controller is not enabled fails with ENOENT and says so", async () => {
    const s = await setup({ rootControllers: "cpu pids" });
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    const path = join(s.root, "podd-test/uid1/app/memory.max");
    await assert.rejects(s.mgr.createContainer("uid1", "app", { memoryMax: 4096 }), (e: unknown) => {
      assert.ok(e instanceof PoddError);
      assert.equal(e.errno, "ENOENT");
      assert.equal(e.path, path);
      assert.match(e.message, new RegExp(`^write ${path}: ENOENT \\(is the memory controller enabled`));
      return true;
    });
  });

  test("EBUSY from subtree_control explains the no-internal-process rule", async () => {
    const s = await setup({ parent: "busy/podd", fake: { failWrite: (p) => (p.includes("/busy/cgroup.subtree_control") ? "EBUSY" : undefined) } });
    await assert.rejects(s.mgr.ensureParent(), (e: unknown) => e instanceof PoddError && e.errno === "EBUSY" && /without processes of its own/.test(e.message));
  });

  test("kill writes 1 to cgroup.kill and waits until the cgroup is empty", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    await s.mgr.createContainer("uid1", "side");
    await s.fake.setProcs(join(s.root, "podd-test/uid1/app"), [11, 12]);
    await s.fake.setProcs(join(s.root, "podd-test/uid1/side"), [13]);
    await s.mgr.kill("uid1", "app");
    assert.deepEqual(s.fake.written("cgroup.kill"), ["1"]);
    assert.deepEqual(await s.mgr.pids("uid1", "app"), []);
    assert.deepEqual(await s.mgr.pids("uid1", "side"), [13]);
    assert.deepEqual(s.signals, []); // cgroup.kill did it all
    await s.mgr.kill("uid1"); // the pod: one write at the pod level kills the subtree
    assert.equal(s.fake.writes.filter(([p]) => p.endsWith("cgroup.kill")).at(-1)?.[0], join(s.root, "podd-test/uid1/cgroup.kill"));
    assert.deepEqual(await s.mgr.pids("uid1", "side"), []);
  });

  test("kill without cgroup.kill (before 5.14): freeze, SIGKILL each pid, thaw", async () => {
    const s = await setup({ withKill: false });
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    await s.fake.setProcs(join(s.root, "podd-test/uid1/app"), [21, 22]);
    await s.mgr.kill("uid1", "app");
    assert.deepEqual(s.fake.written("cgroup.freeze"), ["1", "0"]);
    assert.deepEqual(s.signals, [21, 22]);
    assert.equal(basename(s.fake.writes.at(-1)?.[0] ?? ""), "cgroup.freeze");
  });

  test("kill and remove of cgroups that do not exist succeed", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.kill("nope");
    await s.mgr.kill("nope", "app");
    await s.mgr.remove("nope");
    await s.mgr.remove("nope", "app");
    assert.deepEqual(s.fake.writes.filter(([p]) => p.includes("nope")), []);
  });

  test("remove kills what is left, then removes containers before the pod", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "a");
    await s.mgr.createContainer("uid1", "b");
    await s.fake.setProcs(join(s.root, "podd-test/uid1/b"), [31]);
    await s.mgr.remove("uid1");
    assert.deepEqual(s.fake.written("cgroup.kill"), ["1"]);
    assert.deepEqual(s.fake.rmdirs.map((p) => p.slice(s.root.length)), ["/podd-test/uid1/a", "/podd-test/uid1/b", "/podd-test/uid1"]);
    assert.deepEqual(await s.mgr.listPods(), []);
    await s.mgr.removeParent();
    assert.equal(await s.fake.exists(join(s.root, "podd-test")), false);
  });

  test("stats: usage_usec in ns, memory.current minus inactive_file, memory.events oom_kill, pids.current", async () => {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    await s.mgr.createContainer("uid1", "app");
    const d = join(s.root, "podd-test/uid1/app");
    await fsp.writeFile(join(d, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    await fsp.writeFile(join(d, "memory.current"), "10485760\n");
    await fsp.writeFile(join(d, "memory.stat"), "anon 8388608\nfile 2097152\ninactive_file 1048576\n");
    await fsp.writeFile(join(d, "memory.events"), "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n");
    await fsp.writeFile(join(d, "pids.current"), "3\n");
    assert.deepEqual(await s.mgr.stats("uid1", "app"), {
      cpuUsageNs: 1_500_000,
      memoryUsageBytes: 10485760,
      memoryWorkingSetBytes: 10485760 - 1048576,
      oomKills: 1,
      pids: 3,
    });
  });
});

describe("cgroup v2 device allow-list", () => {
  async function ready(): Promise<Setup> {
    const s = await setup();
    await s.mgr.ensureParent();
    await s.mgr.createPod("uid1");
    return s;
  }
  const dirOf = (s: Setup, name: string) => join(s.root, "podd-test/uid1", name);

  test("the default rules: one program loaded per manager, attached to each container's cgroup with ALLOW_MULTI", async () => {
    const s = await ready();
    await s.mgr.createContainer("uid1", "a");
    await s.mgr.createContainer("uid1", "b", {}, DEFAULT_DEVICE_RULES);
    assert.deepEqual(s.sys.bpfCalls(), [
      "BPF_PROG_LOAD #1",
      "BPF_OBJ_GET_INFO_BY_FD",
      `BPF_PROG_QUERY ${dirOf(s, "a")}`,
      `BPF_PROG_ATTACH ${dirOf(s, "a")} #1`,
      // The second container: the same program, no second load.
      `BPF_PROG_QUERY ${dirOf(s, "b")}`,
      `BPF_PROG_ATTACH ${dirOf(s, "b")} #1`,
    ]);
    const [prog] = s.sys.loaded();
    assert.equal(prog?.type, BPF_PROG_TYPE_CGROUP_DEVICE);
    assert.deepEqual(prog?.insns, encodeProgram(deviceProgram(DEFAULT_DEVICE_RULES)));
    assert.deepEqual(s.sys.attached.get(dirOf(s, "a")), [1]);
    // The attach flags and type as the kernel gets them.
    const attach = s.sys.calls.filter((c) => c.call === "bpf BPF_PROG_ATTACH");
    assert.deepEqual(attach.map((c) => [c.attachType, c.flags]), [[BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI], [BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI]]);
    // Every directory fd is closed again; the program fd is kept for the next container.
    assert.deepEqual([...s.fake.openFds], []);
    assert.equal(s.sys.openProgramFds().length, 1);
  });

  test("the program is attached before createContainer returns and before any limit is written", async () => {
    const s = await ready();
    let writesAtAttach = -1;
    s.sys.fail = (c) => {
      if (c.call === "bpf BPF_PROG_ATTACH") writesAtAttach = s.fake.writes.filter(([p]) => p.startsWith(dirOf(s, "app") + "/")).length;
      return undefined;
    };
    await s.mgr.createContainer("uid1", "app", { pidsMax: 5 });
    assert.equal(writesAtAttach, 0);
    assert.deepEqual(s.fake.written("/app/pids.max"), ["5"]);
  });

  test("a privileged container (all) gets no program; a list holding a *:* rwm is the same", async () => {
    const s = await ready();
    await s.mgr.createContainer("uid1", "p", {}, "all");
    await s.mgr.createContainer("uid1", "q", {}, [{ type: "a", major: "*", minor: "*", access: "rwm" }]);
    assert.deepEqual(s.sys.bpfCalls(), [`BPF_PROG_QUERY ${dirOf(s, "p")}`, `BPF_PROG_QUERY ${dirOf(s, "q")}`]);
    assert.deepEqual(s.sys.loaded(), []);
  });

  test("a reused cgroup: our program is not attached twice, another one is detached", async () => {
    const s = await ready();
    await s.mgr.createContainer("uid1", "app");
    // Created again (a start after a crash): without the query this attach would be EINVAL.
    assert.equal(await s.mgr.createContainer("uid1", "app"), false);
    assert.deepEqual(s.sys.attached.get(dirOf(s, "app")), [1]);

    // A program a previous daemon attached (other rules) to a cgroup it left behind.
    const old = s.sys.bpf({ cmd: BPF_PROG_LOAD, progType: BPF_PROG_TYPE_CGROUP_DEVICE, insns: encodeProgram(deviceProgram([])), license: "x", what: "old" });
    const dir = dirOf(s, "left");
    await fsp.mkdir(dir);
    const dirFd = s.fake.openDirectory(dir);
    s.sys.bpf({ cmd: BPF_PROG_ATTACH, targetFd: dirFd, progFd: old, attachType: BPF_CGROUP_DEVICE, flags: BPF_F_ALLOW_MULTI, what: "old" });
    s.fake.closeFd(dirFd);
    s.sys.close(old);
    s.sys.calls.length = 0;
    await s.mgr.createContainer("uid1", "left");
    assert.deepEqual(s.sys.bpfCalls(), [`BPF_PROG_QUERY ${dir}`, "BPF_PROG_GET_FD_BY_ID #2", `BPF_PROG_DETACH ${dir} #2`, `BPF_PROG_ATTACH ${dir} #1`]);
    assert.deepEqual(s.sys.attached.get(dir), [1]);
    assert.deepEqual(s.sys.openProgramFds().length, 1, "the fd of the detached program is closed");

    // Privileged now: every device program goes, ours included.
    s.sys.calls.length = 0;
    await s.mgr.createContainer("uid1", "left", {}, "all");
    assert.deepEqual(s.sys.attached.get(dir), []);
    assert.deepEqual(s.sys.bpfCalls(), [`BPF_PROG_QUERY ${dir}`, "BPF_PROG_GET_FD_BY_ID #1", `BPF_PROG_DETACH ${dir} #1`]);
    assert.deepEqual([...s.fake.openFds], []);
  });

  test("a refused attach names the command, the cgroup and the errno, and leaves no fd open", async () => {
    const s = await ready();
    s.sys.fail = (c) => (c.call === "bpf BPF_PROG_ATTACH" ? "EPERM" : undefined);
    await assert.rejects(s.mgr.createContainer("uid1", "app"), (e: unknown) => {
      assert.ok(e instanceof PoddError);
      assert.equal(e.message, `bpf BPF_PROG_ATTACH cgroup ${dirOf(s, "app")}: EPERM`);
      assert.equal(e.errno, "EPERM");
      return true;
    });
    assert.deepEqual([...s.fake.openFds], []);
  });

  test("a refused load is not remembered: the next container loads again", async () => {
    const s = await ready();
    let refuse = true;
    s.sys.fail = (c) => (c.call === "bpf BPF_PROG_LOAD" && refuse ? "EINVAL" : undefined);
    await assert.rejects(s.mgr.createContainer("uid1", "app"), /^PoddError: bpf BPF_PROG_LOAD device allow-list \(9 rules\): EINVAL/);
    refuse = false;
    await s.mgr.createContainer("uid1", "app");
    assert.equal(s.sys.calls.filter((c) => c.call === "bpf BPF_PROG_LOAD").length, 2);
    assert.equal(s.sys.loaded().length, 1);
    assert.deepEqual(s.sys.attached.get(dirOf(s, "app")), [1]);
    assert.deepEqual([...s.fake.openFds], []);
  });
});
