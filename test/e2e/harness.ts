// End-to-end test harness: every test gets its own state, run and log roots and its own cgroup
// parent, runs podd from source, and checks afterwards that nothing was left behind — no
// mounts under its roots, no cgroups under its parent, no processes, and no reference anywhere
// to the namespaces its pods had.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeNetns } from "../lib/netns.ts";

export const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const cli = join(repo, "supervisor/cli/main.ts");
export const fixture = join(repo, "init/build/podd-fixture");
export const poddMain = join(repo, "dist/podd.js");

/**
 * Inside an `image: host` container the fixture is reached through a hostPath volume: the
 * checkout may lie under /tmp, /run or /var/tmp (a CI clone can be anywhere), which such a
 * container replaces with its own. Add hostFixtureVolume to spec.volumes and
 * hostFixtureMount to the container's volumeMounts, and run hostFixture.
 */
export const hostFixture = "/run/podd-fixture";
export const hostFixtureVolume = `{name: podd-fixture, hostPath: {path: "${fixture}", type: File}}`;
export const hostFixtureMount = `{name: podd-fixture, mountPath: ${hostFixture}, readOnly: true}`;

/** Whether the filesystem the tests' roots live on can be idmapped (tmpfs only from Linux 6.3; 9p and overlay never). */
export function idmapSkip(): string | false {
  const type = statfsSync(tmpdir()).type;
  const [major, minor] = release().split(".").map(Number) as [number, number];
  const TMPFS = 0x01021994;
  const IDMAPPABLE = [0xef53 /* ext4 */, 0x58465342 /* xfs */, 0x9123683e /* btrfs */];
  if (IDMAPPABLE.includes(type) || (type === TMPFS && (major > 6 || (major === 6 && minor >= 3)))) return false;
  return `${tmpdir()} is on a filesystem this kernel cannot idmap (statfs type 0x${type.toString(16)}, Linux ${major}.${minor})`;
}

/** Why end-to-end tests cannot run here, or false. */
export function e2eSkip(): string | false {
  if (process.getuid?.() !== 0) return "needs root: creates namespaces, mounts and cgroups";
  if (!existsSync(join(repo, "init/build/podd-init"))) return "init/build/podd-init missing: run npm ci";
  return false;
}

export interface Env {
  dir: string;
  state: string;
  run: string;
  log: string;
  cgroupParent: string;
  /** the flags that point podd at this environment */
  flags: string[];
}

export const NO_POD_NETWORK = ["--pod-network", "none"];

/**
 * An env whose pods get podd's own network (without the tests' --pod-network none), with a
 * network namespace of its own at hostNs for the daemon to run in (startDaemon's netns).
 */
export function networkEnv(): Env & { hostNs: string } {
  const env = makeEnv();
  return { ...env, flags: env.flags.slice(0, -NO_POD_NETWORK.length), hostNs: makeNetns(join(env.dir, "host.net")) };
}

export function makeEnv(): Env {
  const dir = mkdtempSync(join(tmpdir(), "podd-e2e-"));
  const env = {
    dir,
    state: join(dir, "state"),
    run: join(dir, "run"),
    log: join(dir, "log"),
    cgroupParent: `podd-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
  };
  for (const d of [env.state, env.run, env.log]) mkdirSync(d);
  return {
    ...env,
    // Pods of these tests get no network beyond their loopback: podd's own network would make a
    // bridge, addresses and firewall rules in the host's network namespace. The network tests
    // run their daemons in network namespaces of their own instead (test/lib/netns.ts).
    flags: ["--root", env.state, "--run-root", env.run, "--log-root", env.log, "--cgroup-parent", env.cgroupParent, ...NO_POD_NETWORK],
  };
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs podd from source (in the network namespace netns, when given); resolves when it exits. */
export function podd(args: string[], opts: { input?: string; timeoutMs?: number; netns?: string } = {}): Promise<Ran> & { child: ChildProcess } {
  const argv = [process.execPath, "--import", "tsx", cli, ...args];
  if (opts.netns) argv.unshift("nsenter", `--net=${opts.netns}`);
  const child = spawn(argv[0]!, argv.slice(1), { cwd: repo, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  // podd may exit before it reads its input (an error): EPIPE on its stdin is no failure.
  child.stdin!.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
  child.stdin!.end(opts.input ?? "");
  const limit = opts.timeoutMs ?? 120_000;
  const p = new Promise<Ran>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`podd ${args.join(" ")} did not finish in ${limit} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, limit);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  }) as Promise<Ran> & { child: ChildProcess };
  p.child = child;
  return p;
}

export function writeManifest(env: Env, name: string, yaml: string): string {
  const path = join(env.dir, name);
  writeFileSync(path, yaml);
  return path;
}

/** Polls cond until it returns a value, or throws after ms. Not a sleep: it checks a condition. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- the built CLI ---------------------------------------------------------------------------

function newestMtime(dir: string, ext: string[]): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (ext.some((x) => e.name.endsWith(x))) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** podd as users run it, from dist/ (no tsx), for the benchmarks and the README tour; builds first when dist is stale. */
export function ensureBuilt(): string {
  const sources = Math.max(newestMtime(join(repo, "supervisor"), [".ts"]), newestMtime(join(repo, "pod-specs"), [".ts"]));
  const init = join(repo, "init/build/podd-init");
  const initSrc = newestMtime(join(repo, "init"), [".c", ".h"]);
  const stale = !existsSync(poddMain) || newestMtime(join(repo, "dist"), [".js"]) < sources || !existsSync(init) || statSync(init).mtimeMs < initSrc;
  if (!stale) return "dist/ is up to date";
  const r = spawnSync("npm", ["run", "build"], { cwd: repo, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  return "dist/ was stale: rebuilt with npm run build";
}

// ---- images -----------------------------------------------------------------------------------

/** A tiny root filesystem: Debian's static busybox with its applets, plus the test fixture. */
export function busyboxRootfs(dir: string): string {
  const rootfs = join(dir, "busybox-rootfs");
  if (existsSync(rootfs)) return rootfs;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p) && isStatic(p));
  if (!busybox) throw new Error("a static busybox is needed: apt-get install busybox-static");
  for (const d of ["bin", "sbin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "usr/bin"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(busybox, join(rootfs, "bin/busybox"));
  spawnSync("chmod", ["755", join(rootfs, "bin/busybox")]);
  const applets = spawnSync(busybox, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  for (const a of applets) if (a !== "busybox") symlinkSync("busybox", join(rootfs, "bin", a));
  copyFileSync(fixture, join(rootfs, "bin/podd-fixture"));
  spawnSync("chmod", ["755", join(rootfs, "bin/podd-fixture")]);
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  return rootfs;
}

function isStatic(path: string): boolean {
  return !spawnSync("ldd", [path], { encoding: "utf8" }).stdout.includes("=>");
}

export async function importBusybox(env: Env, name = "busybox:local"): Promise<void> {
  const r = await podd(["image", "import", name, busyboxRootfs(env.dir), "--root", env.state, "--env", "PATH=/bin:/sbin:/usr/bin"]);
  if (r.code !== 0) throw new Error(`image import failed: ${r.stderr}`);
}

// ---- hygiene ----------------------------------------------------------------------------------

function mountinfoOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, "utf8");
  } catch {
    return ""; // the process exited while we looked
  }
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points under any of the env's roots, in our mount namespace. */
export function mountsUnder(env: Env): string[] {
  return mountinfoOf("self")
    .split("\n")
    .map((l) => unescape(l.split(" ")[4] ?? ""))
    .filter((p) => p.startsWith(env.dir + "/"));
}

/** The cgroup v2 root, or every v1 hierarchy's. */
function cgroupRoots(): string[] {
  return existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c));
}

/** Cgroup directories under the env's parent, in every hierarchy. */
export function cgroupsUnder(env: Env): string[] {
  const out: string[] = [];
  const roots = cgroupRoots();
  for (const r of roots) {
    const dir = join(r, env.cgroupParent);
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(join(dir, e.name));
  }
  return out;
}

/** Processes whose command line names the env's directory (monitors, PID 1s, containers). */
export function processesOf(env: Env, withCli = false): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const cg = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if ((cmd.includes(env.dir) && (withCli || !cmd.includes(cli))) || cg.includes(`/${env.cgroupParent}/`)) out.push(Number(pid));
    } catch {
      // exited while we looked: not a leftover
    }
  }
  return out;
}

/** Namespace ids ("net:[4026532...]") of a pod's pin files, read while the pod runs. */
export function pinnedNamespaces(env: Env): string[] {
  const out: string[] = [];
  const pods = join(env.run, "pods");
  if (!existsSync(pods)) return out;
  for (const p of readdirSync(pods)) {
    for (const kind of ["net", "ipc", "uts"]) {
      const pin = join(pods, p, "ns", kind);
      try {
        out.push(`${kind}:[${statSync(pin).ino}]`);
      } catch {
        // not pinned (hostNetwork, hostIPC) or already gone
      }
    }
  }
  return out;
}

/** Where any of the given namespaces is still referenced: a process's ns link or a mount. */
export function namespaceReferences(ids: string[]): string[] {
  const found: string[] = [];
  if (ids.length === 0) return found;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    for (const kind of ["net", "ipc", "uts"]) {
      try {
        const link = readlinkSync(`/proc/${pid}/ns/${kind}`);
        if (ids.includes(link)) found.push(`pid ${pid} is in ${link}`);
      } catch {
        // exited, or a kernel thread without that link
      }
    }
    const info = mountinfoOf(pid);
    for (const id of ids) if (info.includes(id)) found.push(`pid ${pid} has a mount of ${id}`);
  }
  return found;
}

export interface Leftovers {
  mounts: string[];
  cgroups: string[];
  processes: number[];
  pins: string[];
}

export function leftovers(env: Env): Leftovers {
  return {
    mounts: mountsUnder(env),
    cgroups: cgroupsUnder(env),
    processes: processesOf(env),
    pins: existsSync(join(env.run, "pods")) ? readdirSync(join(env.run, "pods")) : [],
  };
}

/**
 * Cleans up whatever a failed test left, so the next test and the host are unaffected:
 * kills leftover processes by pid, unmounts under the roots, removes the cgroup parent.
 */
export function destroyEnv(env: Env): void {
  // podd's own CLI processes too: a test that failed half-way can leave its `podd run` or
  // daemon behind, which would go on creating files under the roots after they are removed.
  const killed = processesOf(env, true);
  for (const pid of killed) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  // A killed task leaves its cgroup only once it has exited; until then rmdir is EBUSY and the
  // cgroup would be left behind. Wait (polling, with a deadline) until none of them runs.
  pollSync(() => killed.every((pid) => !isRunning(pid)), 10_000);
  for (const m of mountsUnder(env).reverse()) spawnSync("umount", ["-l", m]);
  const roots = cgroupRoots();
  pollSync(() => {
    for (const r of roots) {
      const dir = join(r, env.cgroupParent);
      if (!existsSync(dir)) continue;
      // children first: rmdir of a cgroup with children fails
      spawnSync("sh", ["-c", `find "${dir}" -depth -type d -exec rmdir {} + 2>/dev/null; true`]);
    }
    return roots.every((r) => !existsSync(join(r, env.cgroupParent)));
  }, 10_000);
  rmSync(env.dir, { recursive: true, force: true });
}

/** Alive and not a zombie (a zombie has left its cgroups already). */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0] !== "Z";
  } catch {
    return false; // gone
  }
}

/** Polls cond every 10 ms until it holds or ms pass; for synchronous clean-up only. */
function pollSync(cond: () => boolean, ms: number): void {
  const end = Date.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!cond() && Date.now() < end) Atomics.wait(cell, 0, 0, 10);
}
