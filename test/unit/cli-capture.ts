// Running a CLI verb in-process, as main would, with its output captured and "now" fixed, for
// the CLI's unit tests (which talk to the daemon of fake-daemon.ts).

/** A fixed "now" for the tests; their daemons' clocks are set relative to it. */
export const NOW = Date.parse("2026-11-22T05:30:00Z");

/** Runs a verb body in-process with captured output and main's handling of thrown errors. */
export async function capture(
  fn: (io: import("../../supervisor/cli/lib/client-verb.ts").Io) => Promise<number>,
  o: { tty?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (s: string) => (stdout += s), isTTY: o.tty === true },
    stderr: { write: (s: string) => (stderr += s), isTTY: o.tty === true },
    env: {},
    now: () => NOW,
  };
  let code: number;
  try {
    code = await fn(io);
  } catch (err) {
    const e = err as { message: string; code?: string; name?: string };
    if (e.name !== "PoddError") throw err;
    stderr += `error: ${e.message}\n`;
    code = e.code === "Invalid" ? 2 : 1;
  }
  return { code, stdout, stderr };
}
