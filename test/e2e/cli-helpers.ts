// Helpers for the CLI end-to-end tests (test/e2e/cli-*.test.ts), on top of harness.ts and
// daemon-helpers.ts: a fresh env with busybox imported and its own daemon, `podd VERB` pointed
// at that daemon's socket, and a background `podd` (get -w, logs -f) whose output is read while
// it runs and which is ended by its pid.
import { type ChildProcess } from "node:child_process";
import { destroyEnv, importBusybox, makeEnv, podd, waitFor, writeManifest, type Env, type Ran } from "./harness.ts";
import { getPod, startDaemon, stopDaemon, type Daemon } from "./daemon-helpers.ts";

export interface Cli {
  env: Env;
  d: Daemon;
  /** `podd VERB --socket <the daemon's> ARGS…` (the socket flag goes before any `--`) */
  run(verb: string, args?: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Ran>;
  /** writes a manifest into the env dir and `podd apply -f`s it; asserts nothing */
  apply(name: string, yaml: string, args?: string[]): Promise<Ran>;
  /** a podd that keeps running (get -w, logs -f): its output so far, and its end */
  background(verb: string, args?: string[]): Background;
}

export interface Background {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<Ran>;
  /** SIGKILLs it by pid (if still running) and waits for it to end */
  kill(): Promise<Ran>;
}

/**
 * A fresh env, busybox imported, a daemon on it; the daemon is SIGKILLed and the env destroyed
 * afterwards (every process of the env ended by pid, mounts and cgroups removed), even when fn
 * fails.
 */
export async function withCli<T>(fn: (c: Cli) => Promise<T>, daemonArgs: string[] = []): Promise<T> {
  const env = makeEnv();
  let d: Daemon | undefined;
  const children: ChildProcess[] = [];
  try {
    await importBusybox(env);
    d = await startDaemon(env, daemonArgs);
    const daemon = d;
    const run: Cli["run"] = (verb, args = [], opts = {}) => podd([verb, "--socket", daemon.socket, ...args], opts);
    const c: Cli = {
      env,
      d: daemon,
      run,
      apply: (name, yaml, args = []) => run("apply", ["-f", writeManifest(env, name, yaml), ...args]),
      background(verb, args = []) {
        const p = podd([verb, "--socket", daemon.socket, ...args], { timeoutMs: 600_000 });
        const child = p.child;
        children.push(child);
        let out = "";
        let err = "";
        child.stdout!.on("data", (s: string) => (out += s));
        child.stderr!.on("data", (s: string) => (err += s));
        return {
          child,
          stdout: () => out,
          stderr: () => err,
          done: p,
          async kill() {
            if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
            return p;
          },
        };
      },
    };
    return await fn(c);
  } finally {
    for (const ch of children) {
      if (ch.exitCode === null && ch.signalCode === null) {
        try {
          process.kill(ch.pid!, "SIGKILL");
        } catch {
          // it ended between the check and the kill
        }
      }
    }
    await stopDaemon(d, "SIGKILL");
    destroyEnv(env);
  }
}

/** The pod's status as the API has it (undefined while it does not exist). */
export async function podStatus(c: Cli, name: string): Promise<any> {
  return (await getPod(c.d, name))?.status;
}

/** Polls `podd get pods NAME` until its STATUS cell is `status`; returns the whole output. */
export async function waitStatusCell(c: Cli, name: string, status: string, ms = 30_000): Promise<Ran> {
  let last = "";
  try {
    return await waitFor(
      `podd get pods ${name} to show ${status}`,
      async () => {
        const r = await c.run("get", ["pods", name]);
        last = r.stdout + r.stderr;
        return statusCell(r.stdout) === status ? r : undefined;
      },
      ms,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; it last printed:\n${last}`);
  }
}

/** The STATUS cell of the first row of `podd get pods` output. */
export function statusCell(table: string): string | undefined {
  return rows(table)[1]?.[2];
}

/** The rows of a table printed by podd, split on runs of 2+ spaces. */
export function rows(table: string): string[][] {
  return table
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.trim().split(/\s{2,}/));
}

export function busybox(name: string, container: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: "c", image: "busybox:local", ...container }], ...extra } });
}
