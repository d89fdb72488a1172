// Runs a short-lived helper (podd-init's sandbox role, tar, …) and turns a failure into a
// PoddError carrying the helper's own one-line reason.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { PoddError } from "./errors.ts";

const osSignals = constants.signals as Record<string, number>;

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** a time limit: the helper is killed (SIGKILL) and the run fails when it passes */
  timeoutMs?: number;
  /** a limit on what the helper may print (stdout and stderr each): past it, it is killed and the run fails */
  maxOutputBytes?: number;
  /** what is kept of each of stdout and stderr; the rest is read and dropped (the helper goes on) */
  keepOutputBytes?: number;
  /** aborted: the helper is killed (SIGKILL) and the run fails with the abort's reason */
  signal?: AbortSignal;
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs, killSignal: "SIGKILL" as const } : {}),
    });
    let stdout = "";
    let stderr = "";
    let tooMuch = false;
    const limit = opts.maxOutputBytes ?? Infinity;
    const over = () => {
      if (tooMuch) return;
      tooMuch = true;
      child.kill("SIGKILL");
      reject(new PoddError(`${file}: printed more than ${limit} bytes; it was killed`));
    };
    const keep = opts.keepOutputBytes ?? Infinity;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < keep) stdout += d.slice(0, keep - stdout.length);
      else if (keep === Infinity) stdout += d;
      if (stdout.length > limit) over();
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < keep) stderr += d.slice(0, keep - stderr.length);
      else if (keep === Infinity) stderr += d;
      if (stderr.length > limit) over();
    });
    child.on("error", (err) => reject(PoddError.wrap(`run ${file}`, err)));
    const aborted = () => {
      child.kill("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      const why = opts.signal?.reason instanceof Error ? opts.signal.reason.message : "cancelled";
      reject(new PoddError(`${file}: ${why}`));
    };
    if (opts.signal?.aborted) aborted();
    else opts.signal?.addEventListener("abort", aborted, { once: true });
    child.on("exit", () => opts.signal?.removeEventListener("abort", aborted));
    // A monotonic clock: a wall clock stepped back during the run must not hide the time limit.
    const started = performance.now();
    const timedOut = (signal: NodeJS.Signals | null) => opts.timeoutMs !== undefined && signal === "SIGKILL" && performance.now() - started >= opts.timeoutMs;
    // A helper killed at its time limit is done with at its exit, not at "close": "close" waits
    // for the end of its stdout and stderr, which whatever it started (an exec'd command's
    // children) may hold open for ever, and the time limit would then limit nothing.
    child.on("exit", (_code, signal) => {
      if (!timedOut(signal)) return;
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new PoddError(`${file}: timed out after ${opts.timeoutMs} ms`));
    });
    child.on("close", (code, signal) => {
      if (timedOut(signal)) return; // rejected at exit
      resolve({ code: code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0), stdout, stderr });
    });
    // A helper that reads no input (podd-init sandbox) can exit before the end of its stdin is
    // written, and that write then fails with EPIPE. Its exit code is what counts, so EPIPE
    // is not an error here; anything else still is.
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(PoddError.wrap(`write stdin of ${file}`, err));
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs and throws unless the exit code is 0; the message is the helper's last stderr line. */
export async function runChecked(what: string, file: string, args: string[], opts: RunOptions = {}): Promise<Ran> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const reason = r.stderr.trim().split("\n").pop() || `exit code ${r.code}`;
    throw new PoddError(`${what}: ${reason}`);
  }
  return r;
}
