// Runs the command-line tools the image tests build and move images with (openssl, umoci,
// skopeo, zstd, tar) and turns a failure into an error that carries the tool's own words.
// Independent of podd's code on purpose: the tests check podd against what these tools make.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface ToolOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** written to the tool's stdin, which is then closed */
  input?: string | Buffer;
  /** the tool is killed (SIGKILL) and the run fails when this passes; default 120 s */
  timeoutMs?: number;
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs file with args and resolves with how it ended, whatever that was. */
export function tryTool(file: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    // A tool that fails before it reads its input closes the pipe: EPIPE here is that failure,
    // which its exit status reports better.
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(err);
    });
    child.stdin.end(opts.input ?? "");
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs file with args; rejects unless it exits 0. Resolves with its stdout. */
export async function tool(file: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  const r = await tryTool(file, args, opts);
  if (r.code !== 0) {
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    throw new Error(`${file} ${args.join(" ")}: ${how}\n${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** The first of names not found in /usr/bin or /usr/sbin, or undefined when all are there. */
export function missingTool(names: string[]): string | undefined {
  return names.find((n) => !["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => existsSync(`${d}/${n}`)));
}
