// podd-init against its peers: start overhead (plain init and the container role with new PID
// and mount namespaces) and memory while the command sleeps.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childrenOf, median, memoryOf, ratio, table, timeInterleaved, which } from "./lib.ts";

const root = new URL("../..", import.meta.url).pathname;
const init = join(root, "init/build/podd-init");
const runs = Number(process.env.BENCH_RUNS ?? 200);

export function startOverhead(): string {
  const peers = [
    { name: "/bin/true", argv: ["/bin/true"] },
    { name: "podd-init -- true", argv: [init, "--", "/bin/true"] },
  ];
  const tini = which("/usr/bin/tini");
  if (tini) peers.push({ name: "tini -- true", argv: [tini, "-s", "--", "/bin/true"] });
  const catatonit = which("/usr/bin/catatonit");
  if (catatonit) peers.push({ name: "catatonit -- true", argv: [catatonit, "--", "/bin/true"] });
  const samples = timeInterleaved(peers, runs);
  const base = samples.find((s) => s.name.startsWith("tini")) ?? samples[0]!;
  const out = table(
    `Start overhead, plain init (${runs} runs each, interleaved; median wall time)`,
    ["command", "median ms", "vs tini"],
    samples.map((s) => [s.name, median(s.runs), ratio(median(s.runs), median(base.runs))]),
  );

  const state = mkdtempSync(join(tmpdir(), "podd-bench-"));
  try {
    const ns = timeInterleaved(
      [
        { name: "unshare --pid --mount --fork true", argv: ["unshare", "--pid", "--mount", "--fork", "/bin/true"] },
        { name: "podd-init container -- true", argv: [init, "container", "--state-dir", state, "--", "/bin/true"] },
      ],
      runs,
    );
    const unshare = ns[0]!;
    return (
      out +
      "\n" +
      table(
        `Start overhead, new PID + mount namespaces (${runs} runs each; container role writes start/exit records)`,
        ["command", "median ms", "vs unshare"],
        ns.map((s) => [s.name, median(s.runs), ratio(median(s.runs), median(unshare.runs))]),
      )
    );
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Memory of the init process(es) while `sleep` runs under them. */
async function measure(argv: string[], depth: number): Promise<{ rssKb: number; privateKb: number; anonKb: number }[]> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", detached: true });
  try {
    const chain = [child.pid!];
    for (let i = 1; i < depth; i++) chain.push(await waitFor("child", () => childrenOf(chain[i - 1]!)[0]));
    // wait until the sleep itself exists under the last process
    await waitFor("command", () => (childrenOf(chain[depth - 1]!).length ? true : undefined));
    return chain.map(memoryOf);
  } finally {
    process.kill(-child.pid!, "SIGKILL");
  }
}

export async function memory(): Promise<string> {
  const rows: (string | number)[][] = [];
  const add = (name: string, m: { rssKb: number; privateKb: number; anonKb: number }) => rows.push([name, m.rssKb, m.privateKb, m.anonKb]);
  const [plain] = await measure([init, "--", "sleep", "60"], 1);
  add("podd-init (plain)", plain!);
  const state = mkdtempSync(join(tmpdir(), "podd-bench-"));
  try {
    const [monitor, pid1] = await measure([init, "container", "--state-dir", state, "--log", join(state, "0.log"), "--", "sleep", "60"], 2);
    add("podd-init monitor", monitor!);
    add("podd-init PID 1", pid1!);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
  const tiniStatic = which("/usr/bin/tini-static");
  if (tiniStatic) add("tini-static", (await measure([tiniStatic, "-s", "--", "sleep", "60"], 1))[0]!);
  const tini = which("/usr/bin/tini");
  if (tini) add("tini (dynamic)", (await measure([tini, "-s", "--", "sleep", "60"], 1))[0]!);
  const catatonit = which("/usr/bin/catatonit");
  if (catatonit) add("catatonit", (await measure([catatonit, "--", "sleep", "60"], 1))[0]!);
  const base = rows.find((r) => r[0] === "tini-static");
  return table(
    "Memory while the command sleeps (kB, from /proc/PID/smaps_rollup)",
    ["process", "RSS", "private", "anonymous", "RSS vs tini-static"],
    rows.map((r) => [...r, base ? ratio(r[1] as number, base[1] as number) : "-"]),
  );
}
