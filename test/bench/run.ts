// npm run bench: every benchmark, printed as tables with ratios against peers measured in the
// same run. Nothing here passes or fails on a time.
import { adopt, apply, daemonScale } from "./daemon.bench.ts";
import { memory, startOverhead } from "./init.bench.ts";
import { podStart, scale } from "./pod.bench.ts";

const only = process.argv.slice(2);
const benches: [string, () => string | Promise<string>][] = [
  ["init-start", startOverhead],
  ["init-memory", memory],
  ["pod-start", podStart],
  ["scale", scale],
  ["apply", apply],
  ["daemon-scale", daemonScale],
  ["adopt", adopt],
];
if (process.getuid?.() !== 0) {
  console.error("benchmarks need root (namespaces, cgroups)");
  process.exit(1);
}
for (const [name, bench] of benches) {
  if (only.length && !only.includes(name)) continue;
  console.log(await bench());
}
