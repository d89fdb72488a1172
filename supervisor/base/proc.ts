// /proc, parsed as text: pure parsers, and one-line readers with the /proc root as a parameter.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "./errors.ts";

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

/** CapEff of /proc/PID/status: the capabilities the process holds, bit N for capability N. */
export function parseEffectiveCapabilities(statusText: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const CAP_SYS_RESOURCE = 24n;

/**
 * The lowest oom_score_adj this process can give a child: anything (-1000) with
 * CAP_SYS_RESOURCE, else no lower than its own, since the kernel refuses a process without it a
 * value below the one it inherited (some containers and sandboxes run root without it).
 */
export function lowestOOMScoreAdj(procRoot = "/proc"): number {
  const caps = parseEffectiveCapabilities(readFileSync(join(procRoot, "self", "status"), "utf8"));
  if ((caps >> CAP_SYS_RESOURCE) & 1n) return -1000;
  return Number(readFileSync(join(procRoot, "self", "oom_score_adj"), "utf8").trim());
}

/** Sets this process's oom_score_adj; the error names the file and the errno. */
export function setOwnOOMScoreAdj(value: number, procRoot = "/proc"): void {
  const path = join(procRoot, "self", "oom_score_adj");
  try {
    writeFileSync(path, String(value));
  } catch (err) {
    throw PoddError.syscall("write", path, (err as NodeJS.ErrnoException).code ?? "EIO");
  }
}
