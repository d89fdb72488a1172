// Helpers for the lifecycle and cgroup end-to-end tests: run a pod with `podd run -o json`
// while watching its events on stderr as they come, read the final Pod, the CRI logs of each
// container run and the container cgroups under the env's own parent. Built on harness.ts.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerState, ContainerStateTerminated, ContainerStatus } from "../../supervisor/status/types.ts";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, podd, waitFor, writeManifest, type Env, type Ran } from "./harness.ts";

export { fixture, hostFixture, hostFixtureMount, hostFixtureVolume } from "./harness.ts";

/** Back-off shortened so that crash loops show in seconds (the kubelet's are 10 s … 300 s). */
export const FAST_BACKOFF = ["--backoff-initial", "200ms", "--backoff-max", "1s"];

/** One line podd run printed on stderr: "HH:MM:SS pod/P [container/C] Reason[: message]". */
export interface EventLine {
  pod: string;
  container?: string;
  reason: string;
  message?: string;
  /** position among all stderr lines: the order events happened in */
  seq: number;
}

const EVENT = /^\d\d:\d\d:\d\d pod\/(\S+)(?: container\/(\S+))? (\w+)(?:: (.*))?$/;

export function parseEvents(stderr: string): EventLine[] {
  const out: EventLine[] = [];
  stderr.split("\n").forEach((line, seq) => {
    const m = EVENT.exec(line);
    if (!m) return;
    const e: EventLine = { pod: m[1]!, reason: m[3]!, seq };
    if (m[2] !== undefined) e.container = m[2];
    if (m[4] !== undefined) e.message = m[4];
    out.push(e);
  });
  return out;
}

// ---- the Kubernetes objects podd run -o json prints (only what the tests read) ---------------

// The shapes podd prints are the ones supervisor/status/types.ts builds.
export type Terminated = ContainerStateTerminated;
export type State = ContainerState;
export type ContainerStatusJson = ContainerStatus;

export interface PodJson {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; creationTimestamp: string };
  spec: Record<string, unknown> & { containers: Record<string, unknown>[]; restartPolicy: string };
  status: {
    phase: string;
    reason?: string;
    message?: string;
    conditions: { type: string; status: string; reason?: string }[];
    startTime?: string;
    containerStatuses: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
    qosClass: string;
  };
}

export interface ListJson {
  apiVersion: string;
  kind: string;
  items: PodJson[];
}

/** The status of container `name`, app or init. */
export function statusOf(pod: PodJson, name: string): ContainerStatusJson {
  const s = [...(pod.status.initContainerStatuses ?? []), ...pod.status.containerStatuses].find((c) => c.name === name);
  assert.ok(s, `no status for container ${name} in ${JSON.stringify(pod.status)}`);
  return s;
}

// ---- running a pod ---------------------------------------------------------------------------

export interface RunningPod {
  /** the podd run process */
  pid: number;
  /** stderr so far */
  stderr(): string;
  events(): EventLine[];
  /** waits until pred matches `count` events (default 1); returns the last of them */
  waitEvent(what: string, pred: (e: EventLine) => boolean, count?: number, ms?: number): Promise<EventLine>;
  /** waitFor that gives up at once, with podd's stderr, when podd run has exited */
  until<T>(what: string, cond: () => T | undefined | false, ms?: number): Promise<T>;
  signal(sig: NodeJS.Signals): void;
  /** resolves when podd run exited, with the parsed -o json List (when it printed one) */
  done: Promise<Finished>;
}

export interface Finished extends Ran {
  list?: ListJson;
  pod?: PodJson;
  events: EventLine[];
}

/**
 * Starts `podd run -f <manifest> -o json` in the env with the short back-off; `flags` come
 * after the env's own. Does not wait: await `.done`.
 */
export function startPod(env: Env, yaml: string, flags: string[] = [], opts: { timeoutMs?: number; file?: string; backOff?: string[] } = {}): RunningPod {
  const path = writeManifest(env, opts.file ?? "pod.yaml", yaml);
  const p = podd(["run", "-f", path, "-o", "json", ...env.flags, ...(opts.backOff ?? FAST_BACKOFF), ...flags], { timeoutMs: opts.timeoutMs ?? 180_000 });
  running.set(env, [...(running.get(env) ?? []), p.child]);
  let err = "";
  let exited = false;
  p.child.stderr!.on("data", (d: string) => (err += d));
  p.child.on("exit", () => (exited = true));
  const events = () => parseEvents(err);
  const until = <T>(what: string, cond: () => T | undefined | false, ms = 60_000): Promise<T> =>
    waitFor(what, () => {
      const v = cond();
      if (v !== undefined && v !== false) return v;
      if (exited) throw new Error(`podd run exited while waiting for ${what}`);
      return undefined;
    }, ms).catch((e: Error) => {
      throw new Error(`${e.message}\nstderr so far:\n${err}`);
    });
  return {
    pid: p.child.pid!,
    stderr: () => err,
    events,
    until,
    waitEvent: (what, pred, count = 1, ms = 60_000) =>
      until(what, () => {
        const hits = events().filter(pred);
        return hits.length >= count ? hits[count - 1] : undefined;
      }, ms),
    signal: (sig) => {
      p.child.kill(sig);
    },
    done: p.then((r) => {
      const f: Finished = { ...r, events: parseEvents(r.stderr) };
      if (r.stdout.trim()) {
        try {
          f.list = JSON.parse(r.stdout) as ListJson;
          f.pod = f.list.items[0];
        } catch (e) {
          throw new Error(`podd run printed no JSON List: ${(e as Error).message}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        }
      }
      return f;
    }),
  };
}

/** Runs a pod to its end; `flags` are extra podd run flags (--timeout …). */
export function runPod(env: Env, yaml: string, flags: string[] = []): Promise<Finished> {
  return startPod(env, yaml, flags).done;
}

/** The final pod, or a failure that shows what podd said. */
export function podOf(f: Finished): PodJson {
  assert.ok(f.pod, `podd run exited ${f.code} without a pod:\n${f.stderr}`);
  return f.pod;
}

/** Asserts podd left nothing: no mounts, cgroups, processes or pin dirs of the env. */
export function assertClean(env: Env): void {
  assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] });
}

/**
 * A test body with its own env (and the busybox image when asked), destroyed afterwards even
 * when the body fails; the hygiene check runs only when the body passed (its failure says more).
 */
export async function withEnv(fn: (env: Env) => Promise<void>, opts: { busybox?: boolean } = {}): Promise<void> {
  const env = makeEnv();
  let failure: unknown;
  try {
    if (opts.busybox) await importBusybox(env);
    await fn(env);
    assertClean(env);
  } catch (err) {
    failure = err;
  }
  // A podd run the body left running (it failed before podd ended) goes first, by pid: it
  // holds the env's mounts and would recreate what destroyEnv removes.
  for (const child of running.get(env) ?? []) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  running.delete(env);
  try {
    destroyEnv(env);
  } catch (err) {
    // The body's failure is the one to see; a cleanup failure after it is its consequence.
    if (failure === undefined) throw err;
    (failure as Error).message += `\n(and cleaning up failed: ${(err as Error).message})`;
  }
  if (failure !== undefined) throw failure;
}

const running = new Map<Env, ChildProcess[]>();

export const skip = e2eSkip();

/** A directory of the env for hostPath volumes: what containers leave there, the test reads. */
export function outDir(env: Env, name = "out"): string {
  const dir = join(env.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

// ---- logs ------------------------------------------------------------------------------------

export interface LogRun {
  /** the restart number (N of N.log) */
  run: number;
  lines: { timeMs: number; time: string; stream: string; message: string }[];
}

/** Every run's CRI log of one container, in run order (logs stay after the pod is removed). */
export function containerLogs(env: Env, pod: string, container: string): LogRun[] {
  const pods = join(env.log, "pods");
  if (!existsSync(pods)) return [];
  const podDir = readdirSync(pods).find((d) => d.startsWith(`default_${pod}_`));
  if (!podDir) return [];
  const dir = join(pods, podDir, container);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d+\.log$/.test(f))
    .map((f) => ({
      run: Number(f.slice(0, -4)),
      lines: readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const [time = "", stream = "", , ...rest] = l.split(" ");
          return { time, timeMs: Date.parse(time), stream, message: rest.join(" ") };
        }),
    }))
    .sort((a, b) => a.run - b.run);
}

/** stdout lines of all runs of a container, in order. */
export function stdoutOf(env: Env, pod: string, container: string): string[] {
  return containerLogs(env, pod, container).flatMap((r) => r.lines.filter((l) => l.stream === "stdout").map((l) => l.message));
}

// ---- cgroups and processes -------------------------------------------------------------------

export const cgroupV2 = existsSync("/sys/fs/cgroup/cgroup.controllers");

function hierarchyRoots(): string[] {
  return cgroupV2 ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c));
}

/** The pod cgroup directory (of the only pod in the env) that holds `file`, if it exists now. */
export function podCgroupWith(env: Env, file: string): string | undefined {
  for (const r of hierarchyRoots()) {
    const parent = join(r, env.cgroupParent);
    if (!existsSync(parent)) continue;
    for (const e of readdirSync(parent, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(parent, e.name, file))) return join(parent, e.name);
    }
  }
  return undefined;
}

/** The container's cgroup directory that holds `file` (cpuacct.usage on v1, cpu.stat on v2). */
export function containerCgroupWith(env: Env, container: string, file: string): string | undefined {
  for (const r of hierarchyRoots()) {
    const parent = join(r, env.cgroupParent);
    if (!existsSync(parent)) continue;
    for (const e of readdirSync(parent, { withFileTypes: true })) {
      const dir = join(parent, e.name, container);
      if (e.isDirectory() && existsSync(join(dir, file))) return dir;
    }
  }
  return undefined;
}

/** Host pids in the container's cgroup (cgroup.procs), [] while it does not exist. */
export function containerPids(env: Env, container: string): number[] {
  const dir = containerCgroupWith(env, container, "cgroup.procs");
  if (!dir) return [];
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // removed while we read
  }
}

/** CPU time the container's cgroup has used, in ns, or undefined when it does not exist now. */
export function cpuUsageNs(env: Env, container: string): number | undefined {
  try {
    if (cgroupV2) {
      const dir = containerCgroupWith(env, container, "cpu.stat");
      if (!dir) return undefined;
      const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(dir, "cpu.stat"), "utf8"));
      return m ? Number(m[1]) * 1000 : undefined;
    }
    const dir = containerCgroupWith(env, container, "cpuacct.usage");
    return dir ? Number(readFileSync(join(dir, "cpuacct.usage"), "utf8").trim()) : undefined;
  } catch {
    return undefined; // removed while we read
  }
}

/** Field 22 of /proc/<pid>/stat (start time in ticks), or undefined once the pid is gone. */
export function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** The process is gone: no such pid, or the pid now belongs to a process started later. */
export function isGone(p: { pid: number; startTime: number }): boolean {
  const t = startTimeOf(p.pid);
  return t === undefined || t !== p.startTime;
}

export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** Milliseconds of an RFC 3339 time. */
export const ms = (t: string): number => Date.parse(t);
