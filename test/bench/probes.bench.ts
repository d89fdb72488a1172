// Probes on a small device: 100 pods × 2 busybox containers on podd's network, the first with a
// liveness HTTP probe and a readiness TCP probe on its httpd, the second with an exec liveness
// probe, all every second; the daemon's CPU and RSS over a quiet minute against the same pods
// without probes; and one exec probe's cost (podd-init exec of `true` in a running container)
// against `podman healthcheck run` of the same check, measured in the same run. Everything
// runs in a network namespace of the benchmark's own. The checks run in the daemon's podd-init
// prober: its CPU and its exec children's are shown beside the daemon's own. BENCH_PROBE_PODS, BENCH_PROBE_IDLE_S size it.
import { readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { makeNetns, removeNetns } from "../lib/netns.ts";
import { cpuMs, deleteAll, killDaemon, mustExec, startDaemon, watchRunning, type RunningDaemon } from "./daemon.bench.ts";
import { childrenOf, comm, median, memoryOf, ratio, table } from "./lib.ts";
import { benchEnv, cleanEnv, describeLeftovers, ensureBuilt, importBusybox, Podman, poddMain, repo } from "./peers.ts";

const pods = Number(process.env.BENCH_PROBE_PODS ?? 100);
const idleSeconds = Number(process.env.BENCH_PROBE_IDLE_S ?? 60);
const execRuns = 30;
const podd = (...args: string[]) => [process.execPath, poddMain, ...args];

function manifest(withProbes: boolean): string {
  const probes = (kinds: string) => (withProbes ? kinds : "");
  return Array.from({ length: pods }, (_, i) => `apiVersion: v1
kind: Pod
metadata:
  name: probed-${String(i).padStart(3, "0")}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: web
      image: busybox:local
      command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
${probes(`      livenessProbe: {httpGet: {port: 8080, path: /}, periodSeconds: 1}
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
`)}    - name: worker
      image: busybox:local
      command: ["sleep", "3600"]
${probes(`      livenessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
`)}`).join("---\n");
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** cutime + cstime: the CPU of the children a process has reaped, in ms. */
function childCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks;
}

export async function probes(): Promise<string> {
  const built = ensureBuilt();
  const bench = benchEnv("probes");
  const env = { ...bench, flags: bench.flags.filter((f) => f !== "--pod-network" && f !== "none") };
  const ns = makeNetns(join(env.dir, "host.net"));
  const podman = Podman.open();
  let d: RunningDaemon | undefined;
  try {
    const rootfs = importBusybox(env);
    d = await startDaemon(env, {}, ns);
    const measure = async (withProbes: boolean) => {
      const file = join(env.dir, `pods-${withProbes}.yaml`);
      writeFileSync(file, manifest(withProbes));
      const w = watchRunning(d!.socket);
      try {
        await mustExec("podd apply", podd("apply", "-f", file, "--socket", d!.socket));
        await w.until(pods, 600_000);
      } finally {
        w.close();
      }
      // The start's garbage collected, then a quiet stretch with only the probes working.
      await sleep(5000);
      // The daemon's probes run in its one podd-init prober: its own CPU, and its reaped exec children's.
      const prober = childrenOf(d!.pid).find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").endsWith("\0prober\0"));
      if (withProbes && prober === undefined) throw new Error("no podd-init prober under the daemon");
      const c0 = cpuMs(d!.pid);
      const k0 = childCpuMs(d!.pid);
      const p0 = prober === undefined ? 0 : cpuMs(prober);
      const pk0 = prober === undefined ? 0 : childCpuMs(prober);
      const t0 = Date.now();
      // RSS each second; the lowest is the daemon's footprint once V8 has collected what it
      // could (when it does so is its own choice: a single reading compares garbage).
      let lowestRssKb = Infinity;
      for (let i = 0; i < idleSeconds; i++) {
        await sleep(1000);
        lowestRssKb = Math.min(lowestRssKb, memoryOf(d!.pid).rssKb);
      }
      const cpu = cpuMs(d!.pid) - c0;
      const proberCpu = prober === undefined ? 0 : cpuMs(prober) - p0;
      const children = childCpuMs(d!.pid) - k0 + (prober === undefined ? 0 : childCpuMs(prober) - pk0);
      const wall = Date.now() - t0;
      // One exec probe's path without node's spawn: podd-init exec of `true` in a worker.
      let execMs: number[] = [];
      if (withProbes) {
        const monitor = childrenOf(d!.pid).find((p) => comm(p) === "podd-init");
        const pid1 = monitor === undefined ? undefined : childrenOf(monitor)[0];
        if (pid1 === undefined) throw new Error("no container PID 1 found under the daemon");
        execMs = Array.from({ length: execRuns }, () => {
          const t = process.hrtime.bigint();
          const r = spawnSync(join(repo, "init/build/podd-init"), ["exec", "--pid", String(pid1), "--", "true"]);
          if (r.status !== 0) throw new Error(`podd-init exec: ${r.stderr}`);
          return Number(process.hrtime.bigint() - t) / 1e6;
        });
      }
      // A probe that failed would have restarted containers: the figures would be of restarts.
      const listed = JSON.parse((await mustExec("podd get", podd("get", "pods", "-o", "json", "--socket", d!.socket))).stdout) as { items: { status: { containerStatuses: { restartCount: number }[] } }[] };
      const restarts = listed.items.reduce((a, p) => a + p.status.containerStatuses.reduce((b, c) => b + c.restartCount, 0), 0);
      if (restarts > 0) throw new Error(`${restarts} restarts while measuring: a probe fails`);
      const unhealthy = (await mustExec("podd events", podd("events", "-A", "--socket", d!.socket))).stdout.split("\n").filter((l) => /Unhealthy/.test(l));
      if (unhealthy.length > 0) throw new Error(`${unhealthy.length} kinds of failed probes while measuring, e.g. ${unhealthy[0]}`);
      await deleteAll(d!.socket, 0);
      const proberRssKb = prober === undefined ? 0 : memoryOf(prober).rssKb;
      return { cpuPct: (cpu / wall) * 100, proberPct: (proberCpu / wall) * 100, childPct: (children / wall) * 100, rssKb: lowestRssKb, proberRssKb, execMs, execCpuMs: (children / (wall / 1000)) / pods };
    };
    const without = await measure(false);
    const withP = await measure(true);

    let pmMs: number[] | undefined;
    if (podman) {
      const image = podman.importImage(rootfs);
      podman.run("run", "-d", "--network", "none", "--name", "podd-bench-health", "--health-cmd", "true", "--health-interval", "0", image, "sleep", "3600");
      pmMs = Array.from({ length: execRuns }, () => {
        const t = process.hrtime.bigint();
        podman.run("healthcheck", "run", "podd-bench-health");
        return Number(process.hrtime.bigint() - t) / 1e6;
      });
    }
    await killDaemon(d);
    d = undefined;
    removeNetns(ns);
    const left = describeLeftovers(cleanEnv(env));
    const probesPerSecond = pods * 3;
    const pm = pmMs ? median(pmMs) : undefined;
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return (
      table(
        `Probes: ${pods} pods × 2 busybox containers on podd's network, ${probesPerSecond} probes a second (per pod: liveness HTTP and readiness TCP on httpd, exec liveness on the other), against the same pods without probes; daemon CPU over ${idleSeconds} s and its lowest RSS in that time. Goals: CPU ≤ 5 % of a core, RSS ≤ 20 MB above no probes`,
        ["what", "without probes", "with probes", "difference / goal"],
        [
          ["daemon CPU, % of one core", r1(without.cpuPct), r1(withP.cpuPct), `${r1(withP.cpuPct)} % / 5 %`],
          ["  its podd-init prober (every exec, TCP and HTTP check)", r1(without.proberPct), r1(withP.proberPct), "-"],
          ["  the prober's podd-init exec processes (reaped children)", r1(without.childPct), r1(withP.childPct), "-"],
          ["daemon RSS, MB", r1(without.rssKb / 1024), r1(withP.rssKb / 1024), `${r1((withP.rssKb - without.rssKb) / 1024)} MB / 20 MB`],
          ["  its podd-init prober's RSS, MB", "-", r1(withP.proberRssKb / 1024), "-"],
        ],
      ) +
      "\n" +
      table(
        `One exec check of \`true\` in a running container, ${execRuns} runs each, median ms; and the CPU an exec probe costs in the run above. Goal: podd's no more than one podd-init exec`,
        ["what", "median ms", "vs podman"],
        [
          ["podd-init exec --pid PID1 -- true, spawned alone", r1(median(withP.execMs)), pm === undefined ? "-" : ratio(median(withP.execMs), pm)],
          ["an exec probe in the run above: CPU ms of its podd-init exec", r1(withP.execCpuMs), "-"],
          ["podman healthcheck run (health-cmd true)", pm === undefined ? "not installed" : r1(pm), pm === undefined ? "-" : "1.00×"],
        ],
      ) +
      `\n(${built}; ${left})`
    );
  } finally {
    await killDaemon(d);
    podman?.destroy();
    removeNetns(ns);
    cleanEnv(env);
  }
}
