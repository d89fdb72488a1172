// Opt-in timing trace for benchmarks and profiling: with PODD_TRACE=1 in the environment, the
// moments a benchmark cannot see from outside (a start decided, a monitor spawned, the exec and
// the exit the monitor recorded) go to stderr as
// `podd-trace <epoch ms with µs> <what> <namespace>/<pod>/<container>`, on the same clock
// (CLOCK_REALTIME) as the monitor's start.json startedAt, so the two can be subtracted.
import { performance } from "node:perf_hooks";

const enabled = process.env.PODD_TRACE === "1";

/** Traces now, or the given RFC 3339 time with nanoseconds (a record written by podd-init). */
export function trace(what: string, subject: string, at?: string): void {
  if (!enabled) return;
  const ms = at === undefined ? performance.timeOrigin + performance.now() : rfc3339Ms(at);
  process.stderr.write(`podd-trace ${ms.toFixed(3)} ${what} ${subject}\n`);
}

/** Date.parse keeps milliseconds only; the fraction is added back to microseconds. */
function rfc3339Ms(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (!m) return Date.parse(text);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}
