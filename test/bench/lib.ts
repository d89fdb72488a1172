// Benchmark helpers: time commands in the same run as their peers and print tables with ratios.
// Benchmarks never fail on a time; they report.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

export interface Sample {
  name: string;
  /** per-run milliseconds */
  runs: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Runs argv n times (after a warm-up) and returns per-run wall times; throws if it fails. */
export function timeCommand(name: string, argv: string[], n: number, env?: NodeJS.ProcessEnv): Sample {
  const runOnce = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: env ?? process.env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${name}: ${argv.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr?.toString().trim()}`);
    return ms;
  };
  for (let i = 0; i < Math.min(5, n); i++) runOnce();
  const runs: number[] = [];
  for (let i = 0; i < n; i++) runs.push(runOnce());
  return { name, runs };
}

/** Interleaves the commands run by run so that drift in machine load hits all of them alike. */
export function timeInterleaved(cmds: { name: string; argv: string[] }[], n: number): Sample[] {
  const samples = cmds.map((c) => ({ name: c.name, runs: [] as number[] }));
  for (const c of cmds) timeCommand(c.name, c.argv, 3);
  for (let i = 0; i < n; i++) {
    cmds.forEach((c, j) => samples[j]!.runs.push(timeCommand(c.name, c.argv, 1).runs[0]!));
  }
  return samples;
}

export function table(title: string, header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: (string | number)[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("  ");
  return [`\n${title}`, line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function ratio(x: number, base: number): string {
  return `${(x / base).toFixed(2)}×`;
}

/** First existing path of the candidates, or undefined (a peer that is not installed). */
export function which(...candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c));
}

/** RSS and private (anonymous + private file) memory of a process, in kB, from /proc. */
export function memoryOf(pid: number): { rssKb: number; privateKb: number; anonKb: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
  return {
    rssKb: field("Rss"),
    privateKb: field("Private_Clean") + field("Private_Dirty"),
    anonKb: field("Anonymous"),
  };
}

/** The children of a process, from each of its tasks' children file in /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

/** A process's command name (/proc/PID/comm). */
export function comm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}
