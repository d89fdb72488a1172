// Pure parsers and version detection on samples: this machine's hybrid v1 boot, a pure v2
// boot, and a legacy boot with co-mounted cpu,cpuacct.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PoddError } from "../../supervisor/base/errors.ts";
import { detectCgroupLayout, parseCgroupStat, parseMountInfo, parseProcCgroup } from "../../supervisor/cgroups/index.ts";
import { parseControllerList, parsePids } from "../../supervisor/cgroups/parse.ts";

// /proc/self/mountinfo of the development machine (kernel 6.18, v1 hybrid).
const hybrid = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// A systemd distribution booted unified (Fedora, Ubuntu 22.04+): optional fields present.
const unified = `22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
40 24 0:35 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:14 - bpf bpf rw,mode=700
`;

// Legacy systemd boot (CentOS 7 / Ubuntu 18.04): co-mounted hierarchies, extra super options.
const legacy = `25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
32 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
33 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
34 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
35 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children
`;

test("parseMountInfo reads every field of the hybrid sample", () => {
  const mounts = parseMountInfo(hybrid);
  assert.equal(mounts.length, 14);
  const memory = mounts.find((m) => m.mountPoint === "/sys/fs/cgroup/memory");
  assert.deepEqual(memory, {
    mountId: 35,
    parentId: 31,
    device: "0:32",
    root: "/",
    mountPoint: "/sys/fs/cgroup/memory",
    mountOptions: ["rw", "relatime"],
    fsType: "cgroup",
    source: "cgroup",
    superOptions: ["rw", "memory"],
  });
});

test("parseMountInfo finds the separator past optional fields and unescapes octal", () => {
  const [m] = parseMountInfo("99 1 0:50 /a\\040b /mnt/with\\040space rw shared:3 master:1 - tmpfs none rw,size=4k\n");
  assert.equal(m?.root, "/a b");
  assert.equal(m?.mountPoint, "/mnt/with space");
  assert.equal(m?.fsType, "tmpfs");
  assert.deepEqual(m?.superOptions, ["rw", "size=4k"]);
  const cg = parseMountInfo(unified).find((x) => x.fsType === "cgroup2");
  assert.deepEqual(cg?.superOptions, ["rw", "nsdelegate", "memory_recursiveprot"]);
});

test("parseMountInfo skips malformed lines", () => {
  assert.deepEqual(parseMountInfo("garbage\n1 2 3\n\n"), []);
});

test("detectCgroupLayout: hybrid boot is v1, each controller at its own mount, unified tree ignored", () => {
  const layout = detectCgroupLayout(parseMountInfo(hybrid), "/sys/fs/cgroup");
  assert.equal(layout.version, 1);
  assert.ok(layout.version === 1);
  assert.equal(layout.mounts["memory"], "/sys/fs/cgroup/memory");
  assert.equal(layout.mounts["cpu"], "/sys/fs/cgroup/cpu");
  assert.equal(layout.mounts["cpuacct"], "/sys/fs/cgroup/cpuacct");
  assert.equal(layout.mounts["freezer"], "/sys/fs/cgroup/freezer");
  assert.equal(layout.mounts["pids"], "/sys/fs/cgroup/pids");
  assert.equal(layout.mounts["name=systemd"], undefined);
  assert.equal(layout.mounts["systemd"], undefined);
});

test("detectCgroupLayout: cgroup2 on the root is v2", () => {
  assert.deepEqual(detectCgroupLayout(parseMountInfo(unified), "/sys/fs/cgroup/"), { version: 2, root: "/sys/fs/cgroup" });
});

test("detectCgroupLayout: co-mounted cpu,cpuacct share one mount point; flags are not controllers", () => {
  const layout = detectCgroupLayout(parseMountInfo(legacy), "/sys/fs/cgroup");
  assert.ok(layout.version === 1);
  assert.equal(layout.mounts["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
  assert.equal(layout.mounts["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
  assert.equal(layout.mounts["net_prio"], "/sys/fs/cgroup/net_cls,net_prio");
  assert.deepEqual(Object.keys(layout.mounts).sort(), ["cpu", "cpuacct", "cpuset", "freezer", "memory", "net_cls", "net_prio", "pids"]);
});

test("detectCgroupLayout: a controller visible twice prefers the mount under the cgroup root", () => {
  const text = `50 1 0:40 / /var/lib/other/memory rw - cgroup cgroup rw,memory\n` + hybrid;
  const layout = detectCgroupLayout(parseMountInfo(text), "/sys/fs/cgroup");
  assert.ok(layout.version === 1);
  assert.equal(layout.mounts["memory"], "/sys/fs/cgroup/memory");
});

test("detectCgroupLayout: the root given as a parameter decides, and no cgroups is an error", () => {
  // The hybrid unified tree is cgroup2, so naming it as the root selects v2 there.
  assert.deepEqual(detectCgroupLayout(parseMountInfo(hybrid), "/sys/fs/cgroup/unified"), { version: 2, root: "/sys/fs/cgroup/unified" });
  assert.throws(
    () => detectCgroupLayout(parseMountInfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n"), "/sys/fs/cgroup"),
    (e: unknown) => e instanceof PoddError && e.code === "NotFound" && /no cgroup hierarchy found/.test(e.message),
  );
});

test("parseProcCgroup reads v1 lines, the v2 line and paths containing ':'", () => {
  const text = "9:name=systemd:/\n4:memory:/process_api/feb1894c\n2:cpu,cpuacct:/a:b\n0::/user.slice/user-0.slice\n";
  assert.deepEqual(parseProcCgroup(text), [
    { hierarchyId: 9, controllers: ["name=systemd"], path: "/" },
    { hierarchyId: 4, controllers: ["memory"], path: "/process_api/feb1894c" },
    { hierarchyId: 2, controllers: ["cpu", "cpuacct"], path: "/a:b" },
    { hierarchyId: 0, controllers: [], path: "/user.slice/user-0.slice" },
  ]);
});

test("parseCgroupStat reads memory.stat, cpu.stat, memory.events and memory.oom_control", () => {
  const memStat = parseCgroupStat("anon 1056768\nfile 8192\ninactive_file 4096\nactive_file 4096\n");
  assert.equal(memStat.get("inactive_file"), 4096);
  assert.equal(memStat.get("anon"), 1056768);
  const cpu = parseCgroupStat("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n");
  assert.equal(cpu.get("usage_usec"), 1500);
  const events = parseCgroupStat("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  assert.equal(events.get("oom_kill"), 1);
  assert.equal(events.get("max"), 12);
  const oom = parseCgroupStat("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  assert.equal(oom.get("oom_kill"), 3);
  assert.equal(parseCgroupStat("populated 1\nfrozen 0\n").get("frozen"), 0);
  assert.equal(parseCgroupStat("x max\n").get("x"), Infinity);
  assert.equal(parseCgroupStat("").size, 0);
});

test("parsePids and parseControllerList", () => {
  assert.deepEqual(parsePids("12\n345\n\n"), [12, 345]);
  assert.deepEqual(parsePids(""), []);
  assert.deepEqual(parseControllerList("cpuset cpu io memory pids\n"), ["cpuset", "cpu", "io", "memory", "pids"]);
  assert.deepEqual(parseControllerList("\n"), []);
});
