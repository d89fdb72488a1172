// Helpers for the pod end-to-end tests (test/e2e/pod-*.test.ts), on top of harness.ts: run a
// manifest with `podd run` while recording the pod's namespaces, pick a container's output
// out of the prefixed stdout, find a running container's processes, and assert that nothing
// of a finished pod is left.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { destroyEnv, leftovers, makeEnv, podd, writeManifest, type Env, type Ran } from "./harness.ts";

export interface PodRun extends Ran {
  /** every namespace id ("net:[…]") pinned by any pod of the env while podd ran */
  namespaces: string[];
}

export interface Watch {
  /** namespace ids seen so far, by pod directory name (<namespace>_<name>_<uid>) */
  readonly seen: Map<string, Set<string>>;
  stop(): void;
}

/** Records the pins of every pod of env every few milliseconds until stopped. */
export function watchNamespaces(env: Env): Watch {
  const seen = new Map<string, Set<string>>();
  const look = () => {
    const pods = join(env.run, "pods");
    let dirs: string[];
    try {
      dirs = readdirSync(pods);
    } catch {
      return; // no pod yet
    }
    for (const p of dirs) {
      for (const kind of ["net", "ipc", "uts"]) {
        try {
          const st = statSync(join(pods, p, "ns", kind));
          // Before the sandbox binds the namespace, the pin is an empty file of the run
          // root's filesystem; a bound pin lives on nsfs, whose device is not the run root's.
          if (st.dev === statSync(pods).dev) continue;
          if (!seen.has(p)) seen.set(p, new Set());
          seen.get(p)!.add(`${kind}:[${st.ino}]`);
        } catch {
          // not pinned (hostNetwork, hostIPC), not yet, or already gone
        }
      }
    }
  };
  look();
  const timer = setInterval(look, 5);
  return {
    seen,
    stop() {
      clearInterval(timer);
      look();
    },
  };
}

/** All ids a watch saw, over every pod. */
export function allSeen(w: Watch): string[] {
  return [...w.seen.values()].flatMap((s) => [...s]);
}

/** `podd run -f FILE… <env flags> ARGS…`, recording the pods' namespaces while it runs. */
export async function runPods(env: Env, files: string[], args: string[] = [], timeoutMs?: number): Promise<PodRun> {
  const w = watchNamespaces(env);
  try {
    const r = await podd(["run", ...files.flatMap((f) => ["-f", f]), ...env.flags, ...args], timeoutMs ? { timeoutMs } : {});
    return { ...r, namespaces: (w.stop(), allSeen(w)) };
  } finally {
    w.stop();
  }
}

/** Writes the manifest into the env dir and runs it. */
export function runManifest(env: Env, name: string, yaml: string, args: string[] = []): Promise<PodRun> {
  return runPods(env, [writeManifest(env, name, yaml)], args);
}

/** The lines a container printed (stdout and stderr), from podd run's "[pod/container] " prefix. */
export function linesOf(r: Pick<Ran, "stdout" | "stderr">, pod: string, container: string): string[] {
  const prefix = `[${pod}/${container}] `;
  return (r.stdout + r.stderr)
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

/** `key=value` lines of a container's output as a map (later lines win). */
export function valuesOf(r: Pick<Ran, "stdout" | "stderr">, pod: string, container: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of linesOf(r, pod, container)) {
    const eq = l.indexOf("=");
    if (eq > 0) out.set(l.slice(0, eq), l.slice(eq + 1));
  }
  return out;
}

/** Namespace ids printed by `podd-fixture ns-ids` ("net 4026…" lines), as "net:[4026…]". */
export function fixtureNs(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const m = /^(\w+) (\d+)$/.exec(l);
    if (m) out[m[1]!] = `${m[1]}:[${m[2]}]`;
  }
  return out;
}

/** Context for a failed assertion: what podd said. */
export function said(r: Pick<Ran, "stdout" | "stderr" | "code">): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** Asserts that a finished run left nothing behind and that its namespaces are freed. */
export function assertNothingLeft(env: Env, namespaces: string[]): void {
  assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] }, "leftovers after the pods ended");
  assert.deepEqual(ownReferences(env, namespaces), [], "references to the pods' namespaces after they ended");
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback; // the process exited while we looked
  }
}

/**
 * harness.ts's namespaceReferences without what belongs to other test runs. The kernel reuses
 * a freed namespace's inode number at once, so when tests run concurrently an id of our
 * finished pod can be the id of another run's live pod: its pin, mounted in that run's root,
 * and the processes that joined it, which name that run's pins or cgroup parent. Those are
 * set aside; any other process or mount holding one of the ids counts.
 */
export function ownReferences(env: Env, ids: string[]): string[] {
  const found: string[] = [];
  if (ids.length === 0) return found;
  const foreignPin = (p: string) => /\/pods\/[^/ ]+\/ns\/(net|ipc|uts)$/.test(p) && !p.includes(env.dir + "/");
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const cmdline = readOr(`/proc/${pid}/cmdline`, "").replace(/\0/g, " ");
    const cgroup = readOr(`/proc/${pid}/cgroup`, "");
    const ours = cmdline.includes(env.dir) || cgroup.includes(`/${env.cgroupParent}/`);
    const foreign = !ours && (/\/pods\/[^/ ]+\/ns\//.test(cmdline) || /:\/podd[^/\n]*\//.test(cgroup));
    for (const kind of ["net", "ipc", "uts"]) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/ns/${kind}`);
      } catch {
        continue; // exited, or a kernel thread without that link
      }
      if (ids.includes(link) && !foreign) found.push(`pid ${pid} is in ${link}`);
    }
    for (const line of readOr(`/proc/${pid}/mountinfo`, "").split("\n")) {
      const f = line.split(" ");
      // fields: id parent major:minor root mount-point …; an nsfs mount's root is its ns id
      if (ids.includes(f[3] ?? "") && !foreignPin(unescapeOctal(f[4] ?? ""))) found.push(`pid ${pid} has a mount of ${f[3]} on ${f[4]}`);
    }
  }
  return found;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The run dir of a pod of env by pod name (the first one found), or undefined. */
export function podRunDir(env: Env, pod: string): string | undefined {
  const pods = join(env.run, "pods");
  if (!existsSync(pods)) return undefined;
  const d = readdirSync(pods).find((p) => p.split("_")[1] === pod);
  return d ? join(pods, d) : undefined;
}

/** The host pid of a running container's PID 1 (from its start record), or undefined. */
export function pid1Of(env: Env, pod: string, container: string): number | undefined {
  const dir = podRunDir(env, pod);
  if (!dir) return undefined;
  try {
    return (JSON.parse(readFileSync(join(dir, "containers", container, "start.json"), "utf8")) as { pid1: number }).pid1;
  } catch {
    return undefined; // not started yet, or gone
  }
}

export interface Proc {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

export function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const rest = stat.slice(close + 2).split(" ");
    return { pid, comm: stat.slice(stat.indexOf("(") + 1, close), state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return undefined; // exited and reaped
  }
}

/** root and every process descending from it (a zombie keeps its parent, so it is found too). */
export function processTree(root: number): Proc[] {
  const all = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => readProc(Number(p)))
    .filter((p): p is Proc => p !== undefined);
  const inTree = new Set([root]);
  // Parents can have higher pids than their children after pid wrap: iterate to a fixpoint.
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!inTree.has(p.pid) && inTree.has(p.ppid)) (inTree.add(p.pid), (grew = true));
  }
  return all.filter((p) => inTree.has(p.pid));
}

/** The namespace link of a host pid ("mnt:[…]"), or undefined once it is gone. */
export function nsOf(pid: number, kind: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined; // exited
  }
}

/** Runs fn in a fresh env of its own, destroyed afterwards even when fn fails. */
export async function inEnv<T>(fn: (env: Env) => Promise<T>): Promise<T> {
  const env = makeEnv();
  try {
    return await fn(env);
  } finally {
    destroyEnv(env);
  }
}

/**
 * A fresh env whose roots live under base instead of the system temp dir: a host-root
 * container gets a private /tmp, which would hide roots under /tmp whether or not podd hides
 * them. base must be a directory of the host that containers do not get a tmpfs on.
 */
export async function inEnvUnder<T>(base: string, fn: (env: Env) => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = base;
  let env: Env;
  try {
    env = makeEnv(); // os.tmpdir() reads TMPDIR on every call
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  try {
    return await fn(env);
  } finally {
    destroyEnv(env);
  }
}

/**
 * A shell script as a manifest's command, in YAML flow style: ["sh", "-c", "…"], with every $
 * doubled, as a Pod manifest writes a literal $ (Kubernetes expands $(VAR) itself).
 */
export function shCommand(script: string): string {
  return JSON.stringify(["sh", "-c", script.replace(/\$/g, () => "$$")]);
}
