// Pod networking against podman's: `podd apply --wait` of a one-container pod on podd's own CNI
// network and on a loopback-only list (what the network adds to a start), against `podman kube
// play` of the same manifest with its default network and with --network none; then 100 pods
// on the network until all run. Everything runs in a network namespace the benchmark makes:
// bridges, addresses and firewall rules never touch this machine's own. BENCH_NET_RUNS,
// BENCH_NET_PODS size it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inNetns, makeNetns, removeNetns } from "../lib/netns.ts";
import { deleteAll, killDaemon, mustExec, sleepPod, startDaemon, watchRunning, type RunningDaemon } from "./daemon.bench.ts";
import { median, ratio, table } from "./lib.ts";
import { benchEnv, cleanEnv, describeLeftovers, ensureBuilt, importBusybox, Podman, poddMain } from "./peers.ts";

const runs = Number(process.env.BENCH_NET_RUNS ?? 20);
const scalePods = Number(process.env.BENCH_NET_PODS ?? 100);
const podd = (...args: string[]) => [process.execPath, poddMain, ...args];
const r2 = (x: number) => Math.round(x * 100) / 100;

export async function network(): Promise<string> {
  const built = ensureBuilt();
  const bare = benchEnv("net-lo");
  const bench = benchEnv("net");
  // podd's own network for this one: without --pod-network none.
  const net = { ...bench, flags: bench.flags.filter((f) => f !== "--pod-network" && f !== "none") };
  const ns = makeNetns(join(net.dir, "host.net"));
  const podman = Podman.open();
  const daemons: RunningDaemon[] = [];
  try {
    const rootfs = importBusybox(bare);
    importBusybox(net);
    const dBare = await startDaemon(bare, {}, ns);
    daemons.push(dBare);
    const dNet = await startDaemon(net, {}, ns);
    daemons.push(dNet);
    const manifest = join(net.dir, "pod.yaml");
    writeFileSync(manifest, sleepPod("bench-net", "busybox:local", ["c"]));
    let pmManifest = "";
    if (podman) {
      const image = podman.importImage(rootfs);
      pmManifest = join(podman.dir, "pod.yaml");
      writeFileSync(pmManifest, sleepPod("bench-net", image, ["c"]));
    }
    const inNs = (argv: string[]) => ["nsenter", `--net=${ns}`, ...argv];

    const s = { bare: [] as number[], net: [] as number[], pmNone: [] as number[], pmNet: [] as number[] };
    const poddOnce = async (d: RunningDaemon) => {
      const r = await mustExec("podd apply --wait", podd("apply", "-f", manifest, "--wait", "--socket", d.socket));
      await deleteAll(d.socket, 0);
      return r.ms;
    };
    const podmanOnce = async (network: string[]) => {
      const t0 = Date.now();
      await mustExec("podman kube play", inNs(podman!.argv("kube", "play", "--replace", ...network, pmManifest)), podman!.env);
      // kube play returns once it has started the containers; count until podman says running
      for (;;) {
        const st = await mustExec("podman inspect", podman!.argv("container", "inspect", "--format", "{{.State.Running}}", "bench-net-c"), podman!.env);
        if (st.stdout.trim() === "true") break;
      }
      const ms = Date.now() - t0;
      await mustExec("podman kube down", inNs(podman!.argv("kube", "down", pmManifest)), podman!.env);
      return ms;
    };
    const round = async (record: boolean) => {
      const b = await poddOnce(dBare);
      const n = await poddOnce(dNet);
      const pn = podman ? await podmanOnce(["--network", "none"]) : undefined;
      const pd = podman ? await podmanOnce([]) : undefined;
      if (!record) return;
      s.bare.push(b);
      s.net.push(n);
      if (pn !== undefined) s.pmNone.push(pn);
      if (pd !== undefined) s.pmNet.push(pd);
    };
    for (let i = 0; i < 3; i++) await round(false);
    for (let i = 0; i < runs; i++) await round(true);
    const m = (xs: number[]) => r2(median(xs));
    const pm = s.pmNet.length ? m(s.pmNet) : undefined;
    const vs = (x: number) => (pm === undefined ? "-" : ratio(x, pm));
    const rows: (string | number)[][] = [
      ["podd apply --wait, podd's CNI network", m(s.net), vs(m(s.net))],
      ["podd apply --wait, --pod-network none", m(s.bare), vs(m(s.bare))],
      ["  what the network adds to a podd pod start", r2(m(s.net) - m(s.bare)), "-"],
    ];
    if (podman) {
      rows.push(["podman kube play → running, its default network", pm!, "1.00×"]);
      rows.push(["podman kube play --network none → running", m(s.pmNone), vs(m(s.pmNone))]);
      rows.push(["  what the network adds to a podman pod start", r2(pm! - m(s.pmNone)), "-"]);
    } else rows.push(["podman kube play", "not installed", "-"]);
    const startTable = table(
      `Network: one pod, one busybox \`sleep\` container, until Running; both daemons and podman in one network namespace of the benchmark's; pod deleted between runs (not timed); ${runs} runs each, interleaved; median ms. Goals: the network adds ≤ 15 ms to a podd pod start; the start with a network ≤ 0.5× podman's with its network`,
      ["what", "median ms", "vs podman (network)"],
      rows,
    );

    // Many pods on the network: the plugins run once per pod, several pods at a time.
    const scale = async (d: RunningDaemon, env: typeof net) => {
      const file = join(env.dir, "scale.yaml");
      writeFileSync(file, Array.from({ length: scalePods }, (_, i) => sleepPod(`net-${String(i).padStart(3, "0")}`, "busybox:local", ["c"])).join("---\n"));
      const w = watchRunning(d.socket);
      try {
        const t0 = Date.now();
        await mustExec("podd apply", podd("apply", "-f", file, "--socket", d.socket));
        const at = await w.until(scalePods, 600_000);
        return at - t0;
      } finally {
        w.close();
        await deleteAll(d.socket, 0);
      }
    };
    const scaleNet = await scale(dNet, net);
    const scaleBare = await scale(dBare, bare);
    const leases = inNetns(ns, "ls", [join(net.state, "cni", "networks", "podd")]).stdout.split("\n").filter((f) => f && !f.startsWith("last_reserved") && f !== "lock");
    const scaleTable = table(
      `Network scale: ${scalePods} one-container pods applied in one file to a running daemon, until all run; ms (one run each)`,
      ["what", "ms", "per pod"],
      [
        ["podd, podd's CNI network", scaleNet, r2(scaleNet / scalePods)],
        ["podd, --pod-network none", scaleBare, r2(scaleBare / scalePods)],
        ["  what the network adds", scaleNet - scaleBare, r2((scaleNet - scaleBare) / scalePods)],
      ],
    );
    for (const d of daemons.splice(0)) await killDaemon(d);
    // The benchmark's own namespace pin is a mount under net's directory: not a leftover of podd's.
    removeNetns(ns);
    const left = `${describeLeftovers(cleanEnv(bare))}; ${describeLeftovers(cleanEnv(net))}; leases left after deleting every pod: ${leases.length}`;
    return `${startTable}\n${scaleTable}\n(${built}; ${left})`;
  } finally {
    for (const d of daemons) await killDaemon(d);
    podman?.destroy();
    removeNetns(ns);
    cleanEnv(bare);
    cleanEnv(net);
  }
}
