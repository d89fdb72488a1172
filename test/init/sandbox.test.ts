// Role 2, `podd-init sandbox`: namespaces that outlive their creator through pin files,
// each with its hostname and lo up, really freed when unpinned, and undone on failure.
// Everything happens inside a holder's private mount namespace (see helpers.ts).
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { FIXTURE, INIT, allPids, build, makeSandbox, needsRoot, nsInode, run, startHolder, waitFor, withCleanup } from "./helpers.ts";

const IFF_UP = 0x1;
const KINDS = ["net", "ipc", "uts"] as const;

/** Every place a namespace inode can still be seen: the ns links of every process, and every mount table. */
function whereSeen(ino: number): string[] {
  const seen: string[] = [];
  const mountTables = new Set<number>();
  for (const pid of allPids()) {
    try {
      for (const kind of KINDS) if (nsInode(pid, kind) === ino) seen.push(`/proc/${pid}/ns/${kind}`);
      const mnt = nsInode(pid, "mnt");
      if (mountTables.has(mnt)) continue;
      mountTables.add(mnt);
      if (fs.readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(`:[${ino}]`)) seen.push(`/proc/${pid}/mountinfo`);
    } catch (e) {
      // ENOENT/ESRCH: the process exited while we looked, it holds nothing any more.
      // EACCES: a process even root may not inspect here (this machine's own PID 1
      // lives outside our capability set); it did not come from this test.
      if (!["ENOENT", "ESRCH", "EACCES"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
  }
  return seen;
}

describe("podd-init sandbox", { skip: needsRoot }, () => {
  before(build);

  test("two sandboxes get their own net, IPC and UTS namespaces, hostname and lo up, usable after the creator exited", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const dirA = c.tmpdir();
      const a = makeSandbox(holder, dirA, "pod-a");
      const b = makeSandbox(holder, c.tmpdir(), "pod-b");
      for (const kind of KINDS) {
        const ia = fs.statSync(a[kind]).ino;
        const ib = fs.statSync(b[kind]).ino;
        assert.notEqual(ia, ib, kind);
        assert.notEqual(ia, nsInode("self", kind), kind);
        assert.equal(fs.statSync(path.join(dirA, kind)).mode & 0o777, 0o444, `${kind} pin file mode`);
      }
      // The sandbox process has exited (spawnSync returned); the pins alone keep the namespaces.
      for (const [pins, name] of [[a, "pod-a"], [b, "pod-b"]] as const) {
        assert.equal(run("nsenter", [`--uts=${pins.uts}`, FIXTURE, "hostname"]).stdout, `${name}\n`);
        const flags = Number(run("nsenter", [`--net=${pins.net}`, FIXTURE, "lo-flags"]).stdout);
        assert.equal(flags & IFF_UP, IFF_UP, "lo is up");
      }
      // The host's hostname is untouched.
      assert.equal(run(FIXTURE, ["hostname"]).stdout, `${(await import("node:os")).hostname()}\n`);
    }));

  test("unmounting the pins frees the namespaces: their inodes are seen nowhere", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const dir = c.tmpdir();
      const pins = makeSandbox(holder, dir, "pod-gone");
      const inodes = KINDS.map((k) => fs.statSync(pins[k]).ino);
      // Negative control: while pinned, the check finds them in the holder's mount table.
      for (const ino of inodes) assert.deepEqual(whereSeen(ino), [`/proc/${holder.pid}/mountinfo`]);
      for (const kind of KINDS) {
        const r = holder.run(["umount", path.join(dir, kind)]);
        assert.equal(r.status, 0, r.stderr);
      }
      for (const ino of inodes) await waitFor(`namespace ${ino} to be gone`, () => whereSeen(ino).length === 0);
    }));

  test("a failing step is reported on one line and undone", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const dir = c.tmpdir();
      // uts fails at `create` (no such directory), after net and ipc were pinned.
      const missing = path.join(dir, "no-such-dir", "uts");
      const r = holder.run([INIT, "sandbox", "--hostname", "x", "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, "--uts", missing]);
      assert.notEqual(r.status, 0);
      assert.equal(r.stderr, `podd-init sandbox: create ${missing}: No such file or directory\n`);
      assert.deepEqual(fs.readdirSync(dir), [], "the pin files it created are removed");
      const mounts = fs.readFileSync(`/proc/${holder.pid}/mountinfo`, "utf8");
      assert.ok(!mounts.includes(dir), "and unmounted");

      // A directory as the target: creating is fine (it exists), mounting a file on it is not.
      fs.mkdirSync(path.join(dir, "net"));
      const m = holder.run([INIT, "sandbox", "--ipc", `${dir}/ipc`, "--net", `${dir}/net`]);
      assert.equal(m.stderr, `podd-init sandbox: mount ${dir}/net: Not a directory\n`);
      assert.deepEqual(fs.readdirSync(dir), ["net"]);
      assert.ok(!fs.readFileSync(`/proc/${holder.pid}/mountinfo`, "utf8").includes(dir));
    }));

  test("podd-init sysctl sets each sysctl in the pinned namespaces, dotted or slashed; the host's stay as they were", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const dir = c.tmpdir();
      const read = (p: string) => fs.readFileSync(p, "utf8").trim().split(/\s+/).join(" ");
      const hostRange = read("/proc/sys/net/ipv4/ip_local_port_range");
      const hostMsgmax = read("/proc/sys/kernel/msgmax");
      // Values the host does not have (nor a fresh namespace), so that reading them proves they were set.
      const range = hostRange === "20000 20999" ? "21000 21999" : "20000 20999";
      const msgmax = String(Number(hostMsgmax) + 1024);
      const made = holder.run([INIT, "sandbox", "--hostname", "s", "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, "--uts", `${dir}/uts`]);
      assert.equal(made.status, 0, made.stderr);
      const r = holder.run([INIT, "sysctl", "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, `net/ipv4/ip_local_port_range=${range}`, `kernel.msgmax=${msgmax}`]);
      assert.equal(r.status, 0, r.stderr);
      const inside = run("nsenter", [`--net=${holder.view(`${dir}/net`)}`, `--ipc=${holder.view(`${dir}/ipc`)}`, "cat", "/proc/sys/net/ipv4/ip_local_port_range", "/proc/sys/kernel/msgmax"]);
      assert.equal(inside.status, 0, inside.stderr);
      assert.deepEqual(inside.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" ")), [range, msgmax]);
      assert.equal(read("/proc/sys/net/ipv4/ip_local_port_range"), hostRange);
      assert.equal(read("/proc/sys/kernel/msgmax"), hostMsgmax);
    }));

  test("a sysctl the kernel refuses: podd-init sysctl names it, the step, the path and the errno", () =>
    withCleanup(async (c) => {
      const holder = await startHolder(c);
      const dir = c.tmpdir();
      const made = holder.run([INIT, "sandbox", "--hostname", "s", "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, "--uts", `${dir}/uts`]);
      assert.equal(made.status, 0, made.stderr);
      const refused: [string, string][] = [
        ["net.core.somaxconn=many", "write /proc/sys/net/core/somaxconn: Invalid argument"],
        ["net.ipv4.no_such_sysctl=1", "open /proc/sys/net/ipv4/no_such_sysctl: No such file or directory"],
      ];
      for (const [sysctl, why] of refused) {
        const r = holder.run([INIT, "sysctl", "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, "kernel.shm_rmid_forced=1", sysctl]);
        assert.equal(r.status, 1);
        assert.equal(r.stderr, `podd-init sysctl: sysctl ${sysctl}: ${why}\n`);
      }
      const r = holder.run([INIT, "sysctl", "--net", `${dir}/none`, "net.core.somaxconn=1"]);
      assert.equal(r.stderr, `podd-init sysctl: open ${dir}/none: No such file or directory\n`);
    }));

  test("a sysctl of no namespace, or of one not given, is refused: it would be the host's", () => {
    const hostSwappiness = fs.readFileSync("/proc/sys/vm/swappiness", "utf8");
    const cases: [string[], RegExp][] = [
      [["--net", "/nonexistent/net", "vm.swappiness=7"], /vm\.swappiness: not a namespaced sysctl/],
      [["--net", "/nonexistent/net", "kernel.shm_rmid_forced=1"], /kernel\.shm_rmid_forced needs --ipc/],
      [["--ipc", "/nonexistent/ipc", "net.core.somaxconn=1"], /net\.core\.somaxconn needs --net/],
      [["--ipc", "/nonexistent/ipc", "kernel/../../sys=1"], /expected NAME=VALUE/],
      [["--ipc", "/nonexistent/ipc", "kernel.msgmax"], /expected NAME=VALUE/],
      [["--ipc", "/nonexistent/ipc"], /nothing to do/],
    ];
    for (const [args, why] of cases) {
      const r = run(INIT, ["sysctl", ...args]);
      assert.equal(r.status, 2, args.join(" "));
      assert.match(r.stderr, why);
    }
    assert.equal(fs.readFileSync("/proc/sys/vm/swappiness", "utf8"), hostSwappiness);
  });

  test("--hostname without --uts is refused: it would rename the host", () => {
    const r = run(INIT, ["sandbox", "--hostname", "oops", "--net", "/nonexistent/net"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--hostname needs --uts/);
  });
});
