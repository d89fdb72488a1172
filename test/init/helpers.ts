// Shared helpers for the podd-init tests: the binaries, a cleanup scope, polling with a
// deadline, /proc readers, and starters for the roles. Every test makes its own temp
// dirs, cgroups and mount namespaces and ends only the processes it started, by PID.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ExitRecord, StartRecord } from "../../supervisor/runtime/records.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
// PODD_INIT overrides the binary under test, e.g. to check that a deliberately broken build fails the tests.
export const INIT = process.env.PODD_INIT ?? path.join(repoRoot, "init/build/podd-init");
// The fixture also runs as other users (uid 1000, 1234). A checkout in a directory only root
// can enter (under /root, or a mode-0700 temporary directory) would hide it from them, so the
// tests run a copy that build() puts in a directory every user can reach.
const fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), "podd-fixture-"));
fs.chmodSync(fixtureDir, 0o755);
process.on("exit", () => fs.rmSync(fixtureDir, { recursive: true, force: true }));
export const FIXTURE = path.join(fixtureDir, "podd-fixture");

/** Reason to skip, or false: these tests create namespaces, mounts and cgroups. */
export const needsRoot: string | false = process.getuid?.() !== 0 ? "needs root" : false;

/** Builds init/build/* if stale (cheap when up to date; the Makefile renames into place,
 * so parallel test files may call it at once). */
export function build(): void {
  const r = spawnSync("make", ["-s", "-C", path.join(repoRoot, "init")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`make -C init failed:\n${r.stdout}${r.stderr}`);
  fs.copyFileSync(path.join(repoRoot, "init/build/podd-fixture"), FIXTURE);
  fs.chmodSync(FIXTURE, 0o755);
}

/** Polls `check` until it returns something other than undefined/false, or throws after the deadline. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends a signal to a pid; ESRCH (already gone) is an expected outcome, anything else is not. */
export function signalPid(pid: number, sig: NodeJS.Signals | number): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

// ---- /proc ----

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  startTime: number;
}

export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).trim().split(" ");
  // fields[0] is field 3 (state); field N is fields[N - 3]
  return {
    pid: Number(text.slice(0, text.indexOf(" "))),
    state: fields[0] ?? "?",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

export function procStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ESRCH") return undefined;
    throw e;
  }
}

export function allPids(): number[] {
  return fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
}

/** `pid` and every process below it, as the host sees them. */
export function descendants(pid: number): ProcStat[] {
  const stats = allPids().map(procStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const rootStat = stats.find((s) => s.pid === pid);
  const queue = rootStat ? [rootStat] : [];
  while (queue.length) {
    const s = queue.shift()!;
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

export function childrenOf(pid: number): ProcStat[] {
  return descendants(pid).filter((s) => s.ppid === pid);
}

export function nsInode(pid: number | "self", kind: string): number {
  return fs.statSync(`/proc/${pid}/ns/${kind}`).ino;
}

export function procStatusField(pid: number, field: string): string | undefined {
  const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const line = text.split("\n").find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}

// ---- cleanup ----

/** Undo steps run in reverse order, all of them, even when one fails or the test failed. */
export class Cleanup {
  private steps: Array<() => unknown> = [];

  defer(step: () => unknown): void {
    this.steps.push(step);
  }

  tmpdir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "podd-init-test-"));
    this.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A v1 cgroup of our own under the given controller (or the v2 tree), removed at the end. */
  cgroup(hierarchy: string): string {
    const dir = path.join("/sys/fs/cgroup", hierarchy, `podd-test-${randomBytes(6).toString("hex")}`);
    fs.mkdirSync(dir);
    this.defer(async () => {
      // The processes in it were killed by earlier cleanup steps; they may take a moment to go.
      await waitFor(`${dir} to empty`, () => fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").trim() === "");
      fs.rmdirSync(dir);
    });
    return dir;
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (e) {
        errors.push(e);
      }
    }
    this.steps = [];
    if (errors.length === 1) throw errors[0];
    if (errors.length) throw new AggregateError(errors, "cleanup failed");
  }
}

export async function withCleanup(body: (c: Cleanup) => Promise<void>): Promise<void> {
  const c = new Cleanup();
  try {
    await body(c);
  } finally {
    await c.run();
  }
}

// ---- processes ----

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned child with its output collected and its exit as a promise. Killed at cleanup if still running. */
export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout = "";
  stderr = "";
  /** The process has exited (it may still have output in flight). */
  readonly exited: Promise<Exit>;
  /** It has exited and its stdout and stderr are closed: all its output is in. */
  readonly closed: Promise<Exit>;
  private done = false;

  constructor(c: Cleanup, cmd: string, args: string[], opts: SpawnOptions = {}) {
    this.child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    if (this.child.pid === undefined) throw new Error(`spawn ${cmd} failed`);
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    this.child.stderr?.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      }),
    );
    this.closed = new Promise((resolve) => this.child.on("close", (code, signal) => resolve({ code, signal })));
    c.defer(async () => {
      // Until node reaps it (the exit event), the pid cannot be reused, so this is safe.
      // Its descendants go too: one left behind (say under a subreaper that was not
      // PID 1) would hold our stdout pipe and keep the test process alive.
      if (!this.done) {
        for (const p of descendants(this.pid).reverse()) signalPid(p.pid, "SIGKILL");
        await this.exited;
      }
    });
  }

  get running(): boolean {
    return !this.done;
  }

  async waitOutput(text: string, stream: "stdout" | "stderr" = "stdout", timeoutMs = 5000): Promise<void> {
    await waitFor(`"${text}" on ${stream} of ${this.pid}`, () => this[stream].includes(text), timeoutMs);
  }

  /** Waits for the exit and for all output (pipes closed). */
  async exit(timeoutMs = 5000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`pid ${this.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Role 1 as PID 1 of a new PID namespace. --kill-child makes killing `unshare` end the namespace. */
export async function startPlainInPidNs(c: Cleanup, cmd: string[], withInit = true): Promise<{ proc: Proc; pid1: number }> {
  const args = ["--pid", "--fork", "--kill-child", "--mount-proc", ...(withInit ? [INIT, "--"] : []), ...cmd];
  const proc = new Proc(c, "unshare", args);
  const pid1 = await waitFor("PID 1 of the new namespace", () => {
    const kids = childrenOf(proc.pid);
    // unshare's child runs exec after the fork: wait until it is the program we asked for
    const k = kids[0];
    return k && fs.readlinkSync(`/proc/${k.pid}/exe`) === (withInit ? INIT : cmd[0]) ? k.pid : undefined;
  });
  return { proc, pid1 };
}

/** The one child of `pid` (PID 1's command), once it runs `exe`. */
export async function onlyChild(pid: number, exe = FIXTURE): Promise<number> {
  return waitFor(`the command under ${pid}`, () => {
    const k = childrenOf(pid).find((s) => {
      try {
        return fs.readlinkSync(`/proc/${s.pid}/exe`) === exe;
      } catch {
        return false; // exited between the listing and the readlink: not our command
      }
    });
    return k?.pid;
  });
}

// ---- role 3 ----

// The records podd-init writes, as the supervisor reads them.
export type { ExitRecord, StartRecord };

export class Container extends Proc {
  constructor(
    c: Cleanup,
    readonly stateDir: string,
    readonly logPath: string | undefined,
    options: string[],
    cmd: string[],
    opts: SpawnOptions = {},
  ) {
    super(
      c,
      INIT,
      ["container", "--state-dir", stateDir, ...(logPath ? ["--log", logPath] : []), ...options, "--", ...cmd],
      opts,
    );
  }

  async started(): Promise<StartRecord> {
    const file = path.join(this.stateDir, "start.json");
    return waitFor(`${file}`, () => fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, "utf8")) as StartRecord));
  }

  async finished(timeoutMs = 5000): Promise<{ exit: Exit; record: ExitRecord }> {
    const exit = await this.exit(timeoutMs);
    const record = JSON.parse(fs.readFileSync(path.join(this.stateDir, "exit.json"), "utf8")) as ExitRecord;
    return { exit, record };
  }

  log(): string {
    return this.logPath && fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
  }
}

/** Starts a container with its own state dir and log in a fresh temp dir. */
export function startContainer(c: Cleanup, cmd: string[], options: string[] = [], opts: SpawnOptions = {}): Container {
  const dir = c.tmpdir();
  return new Container(c, dir, path.join(dir, "container.log"), options, cmd, opts);
}

export interface CriRecord {
  time: string;
  stream: "stdout" | "stderr";
  tag: "P" | "F";
  message: string;
}

export function parseCriLog(text: string): CriRecord[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
      if (!m) throw new Error(`not a CRI log record: ${JSON.stringify(line.slice(0, 100))}`);
      return { time: m[1]!, stream: m[2] as "stdout" | "stderr", tag: m[3] as "P" | "F", message: m[4]! };
    });
}

/** Full lines of one stream, partial records joined. */
export function criLines(records: CriRecord[], stream: "stdout" | "stderr"): string[] {
  const lines: string[] = [];
  let partial = "";
  for (const r of records.filter((x) => x.stream === stream)) {
    partial += r.message;
    if (r.tag === "F") {
      lines.push(partial);
      partial = "";
    }
  }
  return lines;
}

// ---- role 2 ----

/**
 * A holder: a process alone in a private mount namespace. Sandboxes are created inside it,
 * so their pin mounts never land in the host's mount table (and so never get copied into
 * the mount namespace of some other test's container). From outside, a pin is reached as
 * /proc/<holder>/root/<path>. Killing the holder frees its mount namespace and the pins.
 */
export interface Holder {
  pid: number;
  /** The host's path to `p` inside the holder's mount namespace. */
  view: (p: string) => string;
  /** Runs a command in the holder's mount namespace. */
  run: (args: string[]) => RunResult;
}

export async function startHolder(c: Cleanup): Promise<Holder> {
  const proc = new Proc(c, "unshare", ["--mount", "--propagation", "private", FIXTURE, "sleep-forever"]);
  await waitFor("holder's own mount namespace", () => nsInode(proc.pid, "mnt") !== nsInode("self", "mnt"));
  return {
    pid: proc.pid,
    view: (p: string) => `/proc/${proc.pid}/root${p}`,
    run: (args: string[]) => run("nsenter", ["-t", String(proc.pid), "-m", "--", ...args]),
  };
}

/** Creates a sandbox inside the holder; returns the pin paths as seen from the host. */
export function makeSandbox(h: Holder, dir: string, hostname: string): { net: string; ipc: string; uts: string } {
  const r = h.run([INIT, "sandbox", "--hostname", hostname, "--net", `${dir}/net`, "--ipc", `${dir}/ipc`, "--uts", `${dir}/uts`]);
  if (r.status !== 0) throw new Error(`sandbox failed (${r.status}): ${r.stderr}`);
  return { net: h.view(`${dir}/net`), ipc: h.view(`${dir}/ipc`), uts: h.view(`${dir}/uts`) };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[]): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
