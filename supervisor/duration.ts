// Durations as kubectl and Go write them: "200ms", "2s", "1m30s", "1.5h", "0".
import { PoddError } from "./errors.ts";

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
