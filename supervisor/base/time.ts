// Time as podd shows and reads it, in one place: RFC 3339 timestamps (metav1.Time's seconds, the
// fraction where a record keeps one), Go durations (flags such as --timeout 1m30s, and the
// kubelet's messages), and kubectl's human durations (AGE, "2m ago"). Pure: every function takes
// the time it formats; reading the clock is the caller's.
import { PoddError } from "./errors.ts";

/** RFC 3339 in seconds precision, UTC, as metav1.Time marshals: "2026-11-22T04:45:19Z". */
export type Timestamp = string;

/**
 * Milliseconds since the epoch → RFC 3339 at seconds precision. metav1.Time drops the fraction
 * (it formats with time.RFC3339), so this floors rather than rounds: a container that started at
 * .999 did not start in the next second.
 */
export function rfc3339(ms: number): Timestamp {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses a Timestamp back to milliseconds; NaN when it is not one. */
export function parseTimestamp(t: Timestamp): number {
  return Date.parse(t);
}

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;

/**
 * A duration in milliseconds as Go's time.Duration.String() prints it: "0s", "100ms", "1.5s",
 * "10s", "1m20s", "5m0s", "1h0m0s". Used in the CrashLoopBackOff message, which the kubelet
 * formats with %s of a Duration. Sub-millisecond precision is rounded away (podd's clock is ms).
 */
export function goDuration(ms: number): string {
  let d = Math.round(ms);
  if (d === 0) return "0s";
  const sign = d < 0 ? "-" : "";
  d = Math.abs(d);
  if (d < MS_PER_SECOND) return `${sign}${d}ms`;
  const h = Math.floor(d / MS_PER_HOUR);
  const m = Math.floor((d % MS_PER_HOUR) / MS_PER_MINUTE);
  const restMs = d % MS_PER_MINUTE;
  const whole = Math.floor(restMs / MS_PER_SECOND);
  const frac = restMs % MS_PER_SECOND;
  const seconds = frac === 0 ? `${whole}` : `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
  if (h > 0) return `${sign}${h}h${m}m${seconds}s`;
  if (m > 0) return `${sign}${m}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** Milliseconds since the epoch → RFC 3339 with milliseconds: "2026-11-22T04:45:19.123Z" (image configs). */
export function rfc3339Millis(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * An RFC 3339 time in UTC with up to nanoseconds (what podd-init records) → milliseconds with
 * the sub-millisecond fraction kept: Date.parse keeps milliseconds only, so the fraction is
 * added back. Any other form goes to Date.parse (NaN when it is not a time).
 */
export function parsePreciseTimestamp(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (!m) return Date.parse(text);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

// Durations as kubectl and Go write them: "200ms", "2s", "1m30s", "1.5h", "0".
const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration into milliseconds; throws an Invalid PoddError naming the input. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) break;
    ms += Number(m[1]) * unitMs[m[2]!]!;
    at = re.lastIndex;
  }
  if (s.length === 0 || at !== s.length) {
    throw new PoddError(`invalid duration "${text}": write it as kubectl does, e.g. 200ms, 2s, 1m30s`, { code: "Invalid" });
  }
  return ms;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** apimachinery duration.HumanDuration: "45s", "5m30s", "2d3h", "3y20d", ~2-3 significant figures. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** apimachinery duration.ShortHumanDuration: one unit, "45s", "5m", "3h", "2d", "1y". */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(ms / HOUR / 24 / 365)}y`;
}

/** The clock decisions and timers run on: the system's, or a test's that moves when told. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
