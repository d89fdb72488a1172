// podd apply -f: validates every manifest locally first (file:line:col; one bad pod rejects the
// lot, before anything reaches the daemon), then PUTs each pod, which the daemon creates or
// replaces, and prints kubectl's `pod/x created|configured|unchanged`. With no daemon running
// it starts one in the background, on the roots and cgroup parent given to apply (the daemon's
// own flags, passed on). --wait then follows the pods until they run and are ready, or end.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDuration } from "../base/time.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import { ApiError, UnreachableError, type ApiPod, type PoddClient } from "../api/client.ts";
import { rootsFromEnv } from "../base/paths.ts";
import { kubectlStatus, readyColumn } from "./lib/pod-columns.ts";
import { parseValidateMode, readManifests, recursiveFlag } from "./lib/manifests.ts";
import { OBJECT_KINDS } from "../../pod-specs/index.ts";
import { clientFor, pause, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { Progress } from "./lib/spinner.ts";
import { packageRoot } from "./version.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

/** How long apply waits for a daemon it started to answer /healthz. */
const DAEMON_START_TIMEOUT_MS = 30_000;
function isConnectionLost(err: unknown): boolean {
  return hasErrno(err, "ECONNRESET") || hasErrno(err, "EPIPE") || (err as Error | undefined)?.message === "aborted";
}

/** --wait watches a pod again this long after its watch ended (a daemon restart). */
const WATCH_AGAIN_MS = 100;
/** --wait without --timeout gives up after this long. */
const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;

export interface StartedDaemon {
  pid: number;
  logPath: string;
  stateRoot: string;
  /** resolves with the exit code if the daemon exits (it should not) */
  exited: Promise<number | null>;
}

/** The daemon's own flags that apply passes on to a daemon it starts; unset means the default. */
export interface DaemonPlace {
  root?: string | undefined;
  "run-root"?: string | undefined;
  "log-root"?: string | undefined;
  "cgroup-parent"?: string | undefined;
  "pod-network"?: string | undefined;
  "cni-conf-dir"?: string | undefined;
  "cni-bin-dir"?: string | undefined;
}

const daemonPlaceFlags = {
  root: { type: "string" },
  "run-root": { type: "string" },
  "log-root": { type: "string" },
  "cgroup-parent": { type: "string" },
  "pod-network": { type: "string" },
  "cni-conf-dir": { type: "string" },
  "cni-bin-dir": { type: "string" },
} as const;

export interface ApplyDeps {
  startDaemon(socket: string, place: DaemonPlace): Promise<StartedDaemon>;
}

/**
 * This CLI's entry, run the way this process runs: from source through tsx, or built. In the
 * bundle this module is a chunk under dist/chunks/, so the entry is found from the package
 * root, not next to this file.
 */
export function cliCommand(moduleUrl = import.meta.url): string[] {
  const here = fileURLToPath(moduleUrl);
  const root = packageRoot(here);
  return here.endsWith(".ts") ? ["--import", "tsx", join(root, "supervisor", "cli", "main.ts")] : [join(root, "dist", "podd.js")];
}

/** Starts `podd daemon` detached on the given roots (else the defaults), its output appended to <log root>/daemon.log. */
export const spawnDaemon: ApplyDeps["startDaemon"] = async (socket, place) => {
  if (process.getuid?.() !== 0) {
    throw new PoddError(`no podd daemon is running at ${socket}, and starting one needs root: run "sudo podd apply …", or start "podd daemon" yourself`, { code: "Invalid" });
  }
  const defaults = rootsFromEnv(process.env);
  const logRoot = resolve(place["log-root"] ?? defaults.log);
  const logPath = join(logRoot, "daemon.log");
  mkdirSync(logRoot, { recursive: true });
  const fd = openSync(logPath, "a");
  // Paths resolved here: the daemon's working directory need not stay this one's.
  const passOn = (["root", "run-root", "log-root", "cni-conf-dir"] as const).flatMap((f) => (place[f] === undefined ? [] : [`--${f}`, resolve(place[f])]));
  if (place["cgroup-parent"] !== undefined) passOn.push("--cgroup-parent", place["cgroup-parent"]);
  if (place["pod-network"] !== undefined) passOn.push("--pod-network", place["pod-network"]);
  if (place["cni-bin-dir"] !== undefined) passOn.push("--cni-bin-dir", place["cni-bin-dir"].split(/[:,]/).filter((d) => d !== "").map((d) => resolve(d)).join(":"));
  // --socket always: with another --run-root the daemon's default socket is not the one we wait on.
  const args = [...cliCommand(), "daemon", ...passOn, "--socket", resolve(socket)];
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(PoddError.wrap(`start ${process.execPath} ${args.join(" ")}`, err)));
  });
  // The daemon outlives this command: nothing here may keep it (or us) waiting on the other.
  child.unref();
  return { pid: child.pid!, logPath, stateRoot: resolve(place.root ?? defaults.state), exited };
};

function lastLines(path: string, n: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return ""; // no log to quote: the error message says where it would be
  }
}

/** Makes sure a daemon answers on the client's socket, starting one when nobody listens. */
export async function ensureDaemon(client: PoddClient, io: Io, deps: ApplyDeps, place: DaemonPlace = {}): Promise<void> {
  try {
    await client.healthz();
    return;
  } catch (err) {
    if (!(err instanceof UnreachableError) || err.why !== "no-daemon") throw err;
  }
  const d = await deps.startDaemon(client.socket, place);
  io.stderr.write(`no podd daemon was running: started one (pid ${d.pid}); its log is ${d.logPath}, its state ${d.stateRoot}\n`);
  let exitCode: number | null | undefined;
  void d.exited.then((c) => (exitCode = c));
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  for (;;) {
    try {
      if (await client.healthz()) return;
    } catch (err) {
      if (!(err instanceof UnreachableError) || err.why !== "no-daemon") throw err;
    }
    if (exitCode !== undefined) {
      const tail = lastLines(d.logPath, 10);
      throw new PoddError(`podd daemon exited (code ${exitCode}) before it answered on ${client.socket}; see ${d.logPath}${tail ? `:\n${tail}` : ""}`, { code: "Internal" });
    }
    if (Date.now() > deadline) throw new PoddError(`podd daemon (pid ${d.pid}) did not answer on ${client.socket} within ${DAEMON_START_TIMEOUT_MS / 1000}s; see ${d.logPath}`, { code: "Internal" });
    await pause(100);
  }
}

/** Where a pod stands for --wait: still going, there (running and ready, or succeeded), or failed. */
export function waitState(pod: ApiPod): "waiting" | "ready" | "failed" {
  const st = pod.status;
  if (st.phase === "Succeeded") return "ready";
  if (st.phase === "Failed") return "failed";
  const ready = st.conditions.some((c) => c.type === "Ready" && c.status === "True");
  return st.phase === "Running" && ready && st.containerStatuses.every((c) => c.ready) ? "ready" : "waiting";
}

/**
 * What a waiting pod is held by, for --wait to show as it changes: the pod's status cell and
 * READY count, then the first container (init containers first) that waits or ended with a
 * reason and a message, so that a state only the user can end (ErrImageNeverPull,
 * CreateContainerConfigError, InvalidImageName) says so at once instead of at the timeout.
 */
export function describeStep(pod: ApiPod): string {
  const head = `pod/${pod.metadata.name} ${kubectlStatus(pod)} (${readyColumn(pod)} ready)`;
  const st = pod.status;
  for (const c of [...(st.initContainerStatuses ?? []), ...st.containerStatuses]) {
    const held = c.state.waiting ?? (c.state.terminated && c.state.terminated.exitCode !== 0 ? c.state.terminated : undefined);
    if (held?.reason && held.message) return `${head}: container ${c.name}: ${held.reason}: ${held.message}`;
  }
  return head;
}

/**
 * Follows each pod with a watch of it alone (fieldSelector=metadata.name), as `kubectl wait`
 * does: the daemon sends the pod's state at once and again at each change, so a pod is
 * reported the moment it is ready, without polling.
 */
async function waitForPods(client: PoddClient, io: Io, pods: { namespace: string; name: string }[], timeoutMs: number): Promise<number> {
  const progress = new Progress(io.stderr);
  const abort = new AbortController();
  const steps = new Map<string, string>();
  let failed = false;
  let timedOut = false;
  const showSteps = () => progress.update([...steps.values()].join(io.stderr.isTTY ? ", " : "\n"));
  const unfinished = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
  const follow = async (p: { namespace: string; name: string }): Promise<void> => {
    const key = `${p.namespace}/${p.name}`;
    const done = new AbortController();
    let report: Promise<void> | undefined;
    const onAbort = () => done.abort();
    abort.signal.addEventListener("abort", onAbort);
    done.signal.addEventListener("abort", () => {
      if (!abort.signal.aborted) unfinished.delete(key);
    });
    const gone = () => {
      progress.print(`pod/${p.name} was deleted while waiting for it`, io.stderr);
      failed = true;
      steps.delete(key);
      done.abort();
    };
    try {
      // A daemon that restarts ends the stream (or refuses the connection for a moment): watch
      // again, and the new daemon sends the pod's state at once. The deadline still holds.
      for (;;) {
        try {
          await client.watch<ApiPod>(
            "pods",
            p.namespace,
            (e) => {
              // (A daemon from before fieldSelector sends every pod of the namespace.)
              if (done.signal.aborted || e.object.metadata.name !== p.name) return;
              if (e.type === "DELETED") return gone();
              const pod = e.object;
              const state = waitState(pod);
              if (state === "waiting") {
                steps.set(key, describeStep(pod));
                return showSteps();
              }
              steps.delete(key);
              done.abort();
              // A pod that runs to completion can be ready for an instant and have ended by the
              // time its watch event is read: report what the pod is now, not that instant.
              report = (state === "ready" && pod.status.phase === "Running" ? client.getPod(p.namespace, p.name).catch(() => pod) : Promise.resolve(pod)).then((now) => {
                const final = waitState(now) === "waiting" ? pod : now;
                if (waitState(final) === "failed") failed = true;
                progress.print(
                  waitState(final) === "ready"
                    ? `pod/${p.name} ${final.status.phase === "Succeeded" ? "completed" : "ready"}`
                    : `pod/${p.name} failed: ${kubectlStatus(final)}${final.status.message ? `: ${final.status.message}` : ""}`,
                  io.stdout,
                );
              });
            },
            done.signal,
            { fieldSelector: `metadata.name=${p.name}` },
          );
        } catch (err) {
          // No daemon for a moment, or one killed mid-stream (the connection reset): again.
          if (!(err instanceof UnreachableError && err.why === "no-daemon") && !isConnectionLost(err)) throw err;
        }
        if (done.signal.aborted) return await report;
        await pause(WATCH_AGAIN_MS);
        // A watch of a pod that is not there sends nothing: ask for it once before watching.
        try {
          await client.getPod(p.namespace, p.name);
        } catch (err) {
          if (err instanceof ApiError && err.reason === "NotFound") return gone();
          if (!(err instanceof UnreachableError && err.why === "no-daemon") && !isConnectionLost(err)) throw err;
        }
      }
    } finally {
      abort.signal.removeEventListener("abort", onAbort);
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    // One watch failing ends the others, and the error is the answer.
    await Promise.all(pods.map((p) => follow(p).catch((err: unknown) => {
      abort.abort();
      throw err;
    })));
  } finally {
    clearTimeout(timer);
    progress.done();
  }
  if (timedOut) {
    for (const key of unfinished) {
      const name = key.slice(key.indexOf("/") + 1);
      const step = steps.get(key);
      io.stderr.write(`error: timed out waiting for pod/${name} to be ready or to end: ${step === undefined ? "no answer from the daemon" : step.slice(`pod/${name} `.length)}\n`);
    }
    return 1;
  }
  return failed ? 1 : 0;
}

export async function applyMain(argv: string[], io: Io, deps: ApplyDeps = { startDaemon: spawnDaemon }): Promise<number> {
  const { values } = parseFlags(argv.map((a) => (a === "--wait" ? "--wait=true" : a)), {
    ...socketFlag,
    ...daemonPlaceFlags,
    filename: { type: "string", short: "f", multiple: true },
    ...recursiveFlag,
    wait: { type: "string" },
    timeout: { type: "string" },
    "dry-run": { type: "string" },
    validate: { type: "string" },
  });
  const dryRun = values["dry-run"] ?? "none";
  if (dryRun !== "none" && dryRun !== "client") {
    throw new PoddError(`invalid --dry-run "${dryRun}": podd supports --dry-run=client (validate only) and none`, { code: "Invalid" });
  }
  const wait = values.wait === undefined ? false : values.wait === "true" ? true : values.wait === "false" ? false : undefined;
  if (wait === undefined) throw new PoddError(`invalid argument "${values.wait}" for "--wait" flag: true or false`, { code: "Invalid" });
  const timeoutMs = values.timeout === undefined ? DEFAULT_WAIT_TIMEOUT_MS : parseDuration(values.timeout);

  const set = readManifests(values.filename ?? [], parseValidateMode(values.validate), { verb: "apply", recursive: values.recursive === true });
  for (const w of set.warnings) io.stderr.write(`warning: ${w}\n`);
  if (set.errors.length) {
    for (const e of set.errors) io.stderr.write(`${e}\n`);
    return 1;
  }
  if (dryRun === "client") {
    for (const o of set.objects) io.stdout.write(`${o.kind.toLowerCase()}/${o.metadata.name} created (dry run)\n`);
    for (const pod of set.pods) io.stdout.write(`pod/${pod.metadata.name} created (dry run)\n`);
    return 0;
  }

  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    await ensureDaemon(client, io, deps, values);
    const applied: { namespace: string; name: string }[] = [];
    let failed = false;
    // Namespaces, then what pods refer to, then the pods: a pod never waits on an object of
    // the same file that is still to come.
    for (const o of set.objects) {
      try {
        const { result } = await client.putObject(OBJECT_KINDS[o.kind].resource, o);
        io.stdout.write(`${o.kind.toLowerCase()}/${o.metadata.name} ${result}\n`);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    for (const pod of set.pods) {
      try {
        const { result } = await client.putPod(pod);
        io.stdout.write(`pod/${pod.metadata.name} ${result}\n`);
        applied.push({ namespace: pod.metadata.namespace ?? "default", name: pod.metadata.name });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    if (wait && applied.length > 0) {
      const code = await waitForPods(client, io, applied, timeoutMs);
      if (code !== 0) failed = true;
    }
    return failed ? 1 : 0;
  });
}

export const apply: Verb = {
  summary: "Create or update pods from manifests, starting the daemon if needed (kubectl apply)",
  usage: "-f FILE|DIR|- [-f …] [-R] [--wait] [--timeout DURATION] [--dry-run=client] [--validate=strict|warn|ignore] [--socket PATH] [--root DIR] [--run-root DIR] [--log-root DIR] [--cgroup-parent NAME] [--pod-network cni|none] [--cni-conf-dir DIR] [--cni-bin-dir DIR] (the last seven for a daemon apply starts)",
  run: (argv) => applyMain(argv, processIo()),
};
