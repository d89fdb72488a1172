// `sh -c SCRIPT` on a terminal of util-linux's script(1), for the tests that need a terminal
// (podd-init exec --tty, podd exec -it): its status and what the terminal showed. script's stdin
// stays open until the end: at its end of input script would type an EOF character into the
// terminal, which the command's terminal would then echo.
import { spawn } from "node:child_process";

export function onTerminal(script: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", script, "/dev/null"], {
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ["pipe", "pipe", "inherit"],
      timeout: opts.timeoutMs ?? 20_000,
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.on("error", reject);
    child.on("close", (status) => {
      child.stdin.end();
      resolve({ status, out: out.replace(/\r\n/g, "\n") });
    });
  });
}
