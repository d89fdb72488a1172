// Opt-in timing trace for benchmarks and profiling: with PODD_TRACE=1 in the environment, the
// moments a benchmark cannot see from outside (a start decided, a monitor spawned, the exec and
// the exit the monitor recorded) go to stderr as
// `podd-trace <epoch ms with µs> <what> <namespace>/<pod>/<container>`, on the same clock
// (CLOCK_REALTIME) as the monitor's start.json startedAt, so the two can be subtracted.
import { performance } from "node:perf_hooks";
import { parsePreciseTimestamp } from "./time.ts";

const enabled = process.env.PODD_TRACE === "1";

/** Traces now, or the given RFC 3339 time with nanoseconds (a record written by podd-init). */
export function trace(what: string, subject: string, at?: string): void {
  if (!enabled) return;
  const ms = at === undefined ? performance.timeOrigin + performance.now() : parsePreciseTimestamp(at);
  process.stderr.write(`podd-trace ${ms.toFixed(3)} ${what} ${subject}\n`);
}
