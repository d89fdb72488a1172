// /proc, parsed as text: pure parsers, and one-line readers with the /proc root as a parameter.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** field 22: clock ticks after boot when the process started; with the pid, its identity */
  startTime: number;
}

/** Parses /proc/PID/stat. The command name may contain spaces and parentheses: it ends at the last ")". */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field N is rest[N - 3]
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "",
    ppid: Number(rest[1]),
    startTime: Number(rest[19]),
  };
}

/** The stat of a live process, or undefined once it is gone (ENOENT/ESRCH are values here). */
export function readProcStat(pid: number, procRoot = "/proc"): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(join(procRoot, String(pid), "stat"), "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw err;
  }
}

/** True when pid is alive and is still the process that started at startTime (not a reused pid). */
export function isSameProcess(pid: number, startTime: number, procRoot = "/proc"): boolean {
  const st = readProcStat(pid, procRoot);
  return st !== undefined && st.startTime === startTime && st.state !== "Z";
}
