// Helpers for the daemon end-to-end tests (test/e2e/daemon-*.test.ts), on top of harness.ts:
// start `podd daemon` from source on an env's roots with its socket under the env's run root,
// talk to it over the unix socket with node:http, stop it (SIGTERM) or crash it (SIGKILL),
// and read what a pod's containers did from the API.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { cli, destroyEnv, makeEnv, repo, waitFor, type Env } from "./harness.ts";

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the body parsed as JSON (undefined when it is not JSON) */
  json: any;
}

/** One HTTP request over a unix socket. */
export function requestOn(socket: string, method: string, path: string, body?: unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = httpRequest(
      { socketPath: socket, method, path, headers: data === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined; // a log or a plain-text answer
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

export interface Daemon {
  child: ChildProcess;
  socket: string;
  /** everything the daemon wrote to stdout and stderr so far */
  output(): string;
  /** resolves when the daemon process has exited */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  request(method: string, path: string, body?: unknown): Promise<Response>;
}

export function socketOf(env: Env): string {
  return join(env.run, "podd.sock");
}

/**
 * Starts `podd daemon` on env and waits until it answers /healthz; with netns, in that network
 * namespace (nsenter execs the daemon: its pid is the daemon's).
 */
export async function startDaemon(env: Env, extraArgs: string[] = [], socket = socketOf(env), netns?: string): Promise<Daemon> {
  // hostUsers: false pods claim their ids in a registry of the test's own, not the host's.
  const argv = [process.execPath, "--import", "tsx", cli, "daemon", ...env.flags, "--userns-registry", join(env.dir, "userns-registry"), "--socket", socket, ...extraArgs];
  if (netns) argv.unshift("nsenter", `--net=${netns}`);
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const d: Daemon = {
    child,
    socket,
    output: () => out,
    exited,
    request: (method, path, body) => requestOn(socket, method, path, body),
  };
  try {
    await waitFor("the daemon to answer /healthz", async () => {
      if (gone) throw new Error(`the daemon exited before it served:\n${out}`);
      if (!existsSync(socket)) return false;
      try {
        return (await d.request("GET", "/healthz")).status === 200;
      } catch {
        return false; // not listening yet (a stale socket file of a killed daemon)
      }
    }, 30_000);
  } catch (err) {
    if (!gone) child.kill("SIGKILL");
    throw err;
  }
  return d;
}

/** SIGTERM (or the given signal) and wait for the daemon to exit. */
export async function stopDaemon(d: Daemon | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  if (!d) return undefined;
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill(signal);
  return d.exited;
}

/** kill -9 of the daemon, waiting until it is gone. */
export function crashDaemon(d: Daemon): Promise<unknown> {
  return stopDaemon(d, "SIGKILL");
}

/** A pod manifest as JSON (the API takes JSON; it is YAML too). */
export function podManifest(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, ...metadata }, spec };
}

export const podPath = (name: string, ns = "default") => `/api/v1/namespaces/${ns}/pods/${name}`;

/** PUT a pod; asserts nothing, returns the response. */
export function putPod(d: Daemon, pod: Record<string, unknown>, ns = "default"): Promise<Response> {
  return d.request("PUT", podPath((pod.metadata as { name: string }).name, ns), pod);
}

export async function getPod(d: Daemon, name: string, ns = "default"): Promise<any> {
  const r = await d.request("GET", podPath(name, ns));
  return r.status === 200 ? r.json : undefined;
}

/** The status of one container of a pod, or undefined. */
export function containerStatus(pod: any, container: string): any {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])].find((s: any) => s.name === container);
}

/** Waits until the container runs (state.running), returning its status. */
export function waitRunning(d: Daemon, pod: string, container: string, ms?: number): Promise<any> {
  return waitFor(`${pod}/${container} running`, async () => {
    const s = containerStatus(await getPod(d, pod), container);
    return s?.state?.running ? s : undefined;
  }, ms);
}

/** Waits until the pod is gone (404). */
export function waitGone(d: Daemon, pod: string, ns = "default", ms?: number): Promise<boolean> {
  return waitFor(`pod ${ns}/${pod} gone`, async () => (await d.request("GET", podPath(pod, ns))).status === 404, ms);
}

/** Desired files left in <state>/desired, as "ns/name.json". */
export function desiredFiles(env: Env): string[] {
  const dir = join(env.state, "desired");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((ns) => readdirSync(join(dir, ns)).map((f) => `${ns}/${f}`));
}

/** Kills a process by pid; false when it was gone already. */
export function killPid(pid: number, signal: NodeJS.Signals = "SIGKILL"): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh env and a slot for its daemon; the daemon is SIGKILLed (if still running) and the
 * env destroyed afterwards, even when fn fails.
 */
export async function withDaemonEnv<T>(fn: (env: Env, daemons: { current?: Daemon }) => Promise<T>, envFactory: () => Env = makeEnv): Promise<T> {
  const env = envFactory();
  const daemons: { current?: Daemon } = {};
  try {
    return await fn(env, daemons);
  } finally {
    await stopDaemon(daemons.current, "SIGKILL");
    destroyEnv(env);
  }
}
