// npm run bench: every benchmark, printed as tables with ratios against peers measured in the
// same run. Nothing here passes or fails on a time.
import { adopt, apply, daemonScale } from "./daemon.bench.ts";
import { memory, startOverhead } from "./init.bench.ts";
import { podStart, scale } from "./pod.bench.ts";
import { inputs } from "./input.bench.ts";
import { unpackLayer } from "./unpack.bench.ts";
import { images } from "./images.bench.ts";
import { network } from "./network.bench.ts";
import { probes } from "./probes.bench.ts";
import { median, timeCommand } from "./lib.ts";

const only = process.argv.slice(2);
const benches: [string, () => string | Promise<string>][] = [
  ["init-start", startOverhead],
  ["init-memory", memory],
  ["pod-start", podStart],
  ["scale", scale],
  ["apply", apply],
  ["daemon-scale", daemonScale],
  ["adopt", adopt],
  ["input", inputs],
  ["unpack", unpackLayer],
  ["images", images],
  ["network", network],
  ["probes", probes],
];
if (process.getuid?.() !== 0) {
  console.error("benchmarks need root (namespaces, cgroups)");
  process.exit(1);
}
// Some machines set NODE_EXTRA_CA_CERTS for every process, and Node 20 then parses that CA
// bundle at each start, before any JavaScript runs. podd opens no TLS connection, and few
// machines set it, so the benchmarks run without it, and say what it would have cost.
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
if (extraCa !== undefined) {
  const runs = 15;
  const without = { ...process.env };
  delete without.NODE_EXTRA_CA_CERTS;
  const withIt = median(timeCommand("node -e 0", [process.execPath, "-e", "0"], runs).runs);
  const plain = median(timeCommand("node -e 0", [process.execPath, "-e", "0"], runs, without).runs);
  delete process.env.NODE_EXTRA_CA_CERTS;
  console.log(
    `NODE_EXTRA_CA_CERTS=${extraCa} is set here: removed for every measured command. With it, each node start ` +
      `(podd's CLI, daemon and podd run) costs ${(withIt - plain).toFixed(0)} ms more: node -e 0 takes ${withIt.toFixed(1)} ms with it, ${plain.toFixed(1)} ms without (median of ${runs}).\n`,
  );
}
for (const [name, bench] of benches) {
  if (only.length && !only.includes(name)) continue;
  console.log(await bench());
}
