// What hostile or large manifests cost to accept or refuse: CPU time and peak memory of one
// loadManifests call, each input in a fresh node process (so that its peak RSS is its own),
// next to an empty input in the same run; and, as the peer measured in the same run, `podman
// kube play` of the same text (its whole process, less its own refusal of a one-line manifest).
// kube-apiserver's limits are given for comparison.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Podman, repo } from "./peers.ts";
import { median, table } from "./lib.ts";

function yamlPod(bytes: number): string {
  let s = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n";
  for (let i = 0; s.length < bytes; i++) s += `    k${i}: "${"v".repeat(80)}"\n`;
  return s + "spec:\n  containers: [{name: c, image: host}]\n";
}

function jsonPod(bytes: number): string {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "x", annotations: {} as Record<string, string> }, spec: { containers: [{ name: "c", image: "host" }] } };
  for (let i = 0; JSON.stringify(pod).length < bytes; i++) pod.metadata.annotations[`k${i}`] = "v".repeat(80);
  return JSON.stringify(pod);
}

function aliasBomb(levels: number): string {
  const lines = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: x", "  annotations:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < levels; i++) lines.push(`    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
  return lines.join("\n") + "\n";
}

const nest = (n: number) => `apiVersion: v1\nkind: Pod\nmetadata: {name: x, annotations: {a: ${"[".repeat(n)}${"]".repeat(n)}}}\n`;

// One load in a child: CPU ms of the call and the process's peak RSS before and after it.
const child = `
import { readFileSync } from "node:fs";
import { loadManifests } from ${JSON.stringify(join(repo, "pod-specs/index.ts"))};
const hwm = () => Number(/^VmHWM:\\s+(\\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))[1]);
const text = readFileSync(process.argv[2], "utf8");
const before = hwm();
const t = process.cpuUsage();
const r = loadManifests(text, "input");
const u = process.cpuUsage(t);
console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, peakKb: hwm() - before, verdict: r.errors.length ? r.errors[0].message : "accepted" }));
`;

// One podman kube play in a child of python's, for the child's CPU time and peak RSS (rusage).
const rusage = `
import resource, subprocess, sys, json
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpuMs": (r.ru_utime + r.ru_stime) * 1000, "peakKb": r.ru_maxrss, "status": p.returncode, "stderr": p.stderr.strip()[:200]}))
`;

/** podman kube play of the file: CPU ms and peak RSS of its process, median of 3. */
function podmanPlay(podman: Podman, file: string): { cpuMs: number; peakKb: number; verdict: string } {
  const runs = Array.from({ length: 3 }, () => {
    const r = spawnSync("python3", ["-c", rusage, ...podman.argv("kube", "play", "--network", "none", file)], { encoding: "utf8", env: podman.env });
    if (r.status !== 0) throw new Error(`podman kube play: ${r.stderr}`);
    return JSON.parse(r.stdout) as { cpuMs: number; peakKb: number; status: number; stderr: string };
  });
  const last = runs[runs.length - 1]!;
  return { cpuMs: median(runs.map((r) => r.cpuMs)), peakKb: median(runs.map((r) => r.peakKb)), verdict: last.status === 0 ? "accepted" : last.stderr.replace(/^Error: /, "") };
}

export function inputs(): string {
  const dir = mkdtempSync(join(tmpdir(), "podd-bench-input-"));
  const podman = Podman.open();
  try {
    const script = join(dir, "load.mts");
    writeFileSync(script, child);
    const cases: [string, string][] = [
      // podman's baseline is a one-line manifest it refuses (kind Foo), so that it creates nothing.
      ["empty pod (baseline)", yamlPod(0)],
      ["YAML, 100 kB", yamlPod(100 << 10)],
      ["YAML, 1 MiB", yamlPod(1 << 20)],
      ["JSON, 1 MiB (what API clients send)", jsonPod(1 << 20)],
      ["YAML, 3 MiB (one document)", yamlPod(3 << 20)],
      ["alias bomb, 12 levels (1 kB)", aliasBomb(12)],
      ["flow nesting, 100 000 levels (195 kB)", nest(100_000)],
    ];
    const baselineFile = join(dir, "baseline");
    writeFileSync(baselineFile, "apiVersion: v1\nkind: Foo\nmetadata: {name: podd-bench-input}\n");
    const podmanBase = podman ? podmanPlay(podman, baselineFile) : undefined;
    const rows = cases.map(([name, text], k) => {
      const file = join(dir, `input-${k}`);
      // One name podman refuses to reuse, so that an accepted manifest could never collide.
      writeFileSync(file, text.replace("name: x", `name: podd-bench-input-${k}`));
      const runs = Array.from({ length: 5 }, () => {
        const r = spawnSync(process.execPath, ["--import", "tsx", script, file], { encoding: "utf8", cwd: repo });
        if (r.status !== 0) throw new Error(`load of ${name} failed: ${r.stderr}`);
        return JSON.parse(r.stdout) as { cpuMs: number; peakKb: number; verdict: string };
      });
      const mb = text.length / (1 << 20);
      const cpu = median(runs.map((r) => r.cpuMs));
      const peer = podman && podmanBase && k > 0 ? podmanPlay(podman, file) : undefined;
      const podmanCpu = peer ? Math.max(0, peer.cpuMs - podmanBase!.cpuMs) : undefined;
      return [
        name,
        `${(text.length / 1024).toFixed(0)} kB`,
        cpu.toFixed(0),
        mb >= 0.05 ? (cpu / mb).toFixed(0) : "",
        (median(runs.map((r) => r.peakKb)) / 1024).toFixed(1),
        runs[0]!.verdict.slice(0, 60),
        podmanCpu === undefined ? "" : podmanCpu.toFixed(0),
        peer ? (Math.max(0, peer.peakKb - podmanBase!.peakKb) / 1024).toFixed(1) : "",
        podmanCpu ? `${(cpu / podmanCpu).toFixed(2)}×` : "",
        peer ? peer.verdict.slice(0, 50) : "",
      ];
    });
    return table(
      "Accepting or refusing a manifest (loadManifests in a fresh process, median of 5; podman kube play of the same file, its process less its refusal of a one-line manifest, median of 3; kube-apiserver refuses requests over 3 MiB and objects over 1.5 MiB)",
      ["input", "size", "CPU ms", "ms per MiB (goal ≤ 100)", "peak RSS growth MiB (goal ≤ 50)", "verdict", "podman CPU ms", "podman RSS growth MiB", "CPU vs podman", "podman's verdict"],
      rows,
    );
  } finally {
    podman?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
