// The daemon against its peers: `podd apply --wait` of a one-container pod against `podman kube
// play` of the same manifest; 100 pods of 2 containers on one daemon (time until all run, the
// daemon's memory and idle CPU, `podd get pods` latency, per-container memory against conmon);
// and a daemon restart under those 100 pods (SIGKILL, new daemon, time until every pod is
// adopted, nothing restarted). Sizes come from the environment so that a quick run is possible:
// BENCH_APPLY_RUNS, BENCH_DAEMON_PODS, BENCH_DAEMON_IDLE_S, BENCH_GET_RUNS, BENCH_ADOPT_RUNS.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Env } from "../e2e/harness.ts";
import { requestOn } from "../e2e/daemon-helpers.ts";
import { childrenOf, comm, memoryOf, median, ratio, table } from "./lib.ts";
import { benchEnv, cleanEnv, describeLeftovers, ensureBuilt, importBusybox, Podman, poddMain } from "./peers.ts";

const applyRuns = Number(process.env.BENCH_APPLY_RUNS ?? 20);
const daemonPods = Number(process.env.BENCH_DAEMON_PODS ?? 100);
const idleSeconds = Number(process.env.BENCH_DAEMON_IDLE_S ?? 60);
const getRuns = Number(process.env.BENCH_GET_RUNS ?? 30);
const adoptRuns = Number(process.env.BENCH_ADOPT_RUNS ?? 5);
const podmanContainers = 10;

const podd = (...args: string[]) => [process.execPath, poddMain, ...args];
const r2 = (x: number) => Math.round(x * 100) / 100;
const vs = (x: number, base: number | undefined) => (base === undefined ? "-" : ratio(x, base));

// ---- a daemon of our own -----------------------------------------------------------------------

interface Line {
  at: number;
  text: string;
}

export interface RunningDaemon {
  pid: number;
  socket: string;
  child: ChildProcess;
  /** every line of output with the epoch ms it arrived */
  lines: Line[];
  exited: Promise<void>;
  /** epoch ms of the spawn and of the first /healthz answered */
  spawnedAt: number;
  servingAt: number;
}

/**
 * Starts `podd daemon` from dist/ on env's roots, and waits until it answers /healthz; with
 * netns, in that network namespace (nsenter execs it: the pid is the daemon's).
 */
export async function startDaemon(env: Env, extraEnv: NodeJS.ProcessEnv = {}, netns?: string): Promise<RunningDaemon> {
  const socket = join(env.run, "podd.sock");
  const spawnedAt = Date.now();
  const argv = [process.execPath, poddMain, "daemon", ...env.flags, "--socket", socket];
  if (netns) argv.unshift("nsenter", `--net=${netns}`);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...extraEnv } });
  const lines: Line[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    let partial = "";
    s.setEncoding("utf8").on("data", (d: string) => {
      const at = Date.now();
      const parts = (partial + d).split("\n");
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at, text });
    });
  }
  let gone = false;
  const exited = new Promise<void>((resolve) => child.on("exit", () => ((gone = true), resolve())));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`podd daemon exited before it served:\n${lines.map((l) => l.text).join("\n")}`);
    try {
      if ((await requestOn(socket, "GET", "/healthz")).status === 200) break;
    } catch {
      // not listening yet, or a stale socket file of a killed daemon
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("podd daemon did not answer /healthz within 30 s");
    }
    await sleep(2);
  }
  return { pid: child.pid!, socket, child, lines, exited, spawnedAt, servingAt: Date.now() };
}

export async function killDaemon(d: RunningDaemon | undefined): Promise<void> {
  if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
  process.kill(d.pid, "SIGKILL");
  await d.exited;
}

/** Runs a command to its end without blocking our event loop (the daemon's output keeps draining). */
function exec(argv: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

export async function mustExec(what: string, argv: string[], env?: NodeJS.ProcessEnv) {
  const r = await exec(argv, env);
  if (r.code !== 0) throw new Error(`${what}: ${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

// ---- pods --------------------------------------------------------------------------------------

export const sleepPod = (name: string, image: string, containers: string[]) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 5
  containers:
${containers.map((c) => `    - name: ${c}\n      image: ${image}\n      command: ["sleep", "3600"]\n`).join("")}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ApiPod = any;

function allRunning(p: ApiPod): boolean {
  const cs = p?.status?.containerStatuses ?? [];
  return p?.status?.phase === "Running" && cs.length === p.spec.containers.length && cs.every((c: ApiPod) => c.state?.running);
}

async function listPods(socket: string): Promise<ApiPod[]> {
  const r = await requestOn(socket, "GET", "/api/v1/pods");
  if (r.status !== 200) throw new Error(`GET /api/v1/pods: ${r.status} ${r.text}`);
  return r.json.items;
}

/**
 * Follows the daemon's pod watch stream; `until(n)` resolves with the epoch ms when n pods have
 * had every container running at the same time.
 */
export function watchRunning(socket: string): { until(n: number, ms: number): Promise<number>; close(): void } {
  const running = new Set<string>();
  let waiter: { n: number; resolve: (at: number) => void } | undefined;
  let failure: Error | undefined;
  const req = httpRequest({ socketPath: socket, method: "GET", path: "/api/v1/pods?watch=true" }, (res) => {
    let partial = "";
    res.setEncoding("utf8").on("data", (d: string) => {
      const at = Date.now();
      const parts = (partial + d).split("\n");
      partial = parts.pop()!;
      for (const l of parts) {
        if (!l) continue;
        const e = JSON.parse(l);
        const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
        if (e.type !== "DELETED" && allRunning(e.object)) running.add(key);
        else running.delete(key);
      }
      if (waiter && running.size >= waiter.n) waiter.resolve(at);
    });
  });
  req.on("error", (err) => (failure = err));
  req.end();
  return {
    async until(n, ms) {
      if (failure) throw failure;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await new Promise<number>((resolve, reject) => {
          waiter = { n, resolve };
          if (running.size >= n) resolve(Date.now());
          timer = setTimeout(() => reject(new Error(`only ${running.size}/${n} pods running after ${ms / 1000} s`)), ms);
        });
      } finally {
        clearTimeout(timer);
        waiter = undefined;
      }
    },
    close: () => req.destroy(),
  };
}

/** Deletes every pod through the API and waits until none is listed; the ms it took. */
export async function deleteAll(socket: string, grace?: number): Promise<number> {
  const t0 = Date.now();
  const pods = await listPods(socket);
  await Promise.all(
    pods.map((p) => requestOn(socket, "DELETE", `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}${grace === undefined ? "" : `?gracePeriodSeconds=${grace}`}`)),
  );
  const deadline = Date.now() + 60_000;
  while ((await listPods(socket)).length > 0) {
    if (Date.now() > deadline) throw new Error("pods still listed 60 s after their delete");
    await sleep(5);
  }
  return Date.now() - t0;
}

/** Deletes what runs, stops the daemon and removes the env; says what a graceful delete left. */
async function teardown(env: Env, d: RunningDaemon | undefined): Promise<string> {
  let note = "";
  if (d && d.child.exitCode === null) {
    try {
      const ms = await deleteAll(d.socket, 0);
      note = `deleting every pod took ${ms} ms`;
    } catch (err) {
      note = `delete failed: ${(err as Error).message}`;
    }
  }
  await killDaemon(d);
  const left = describeLeftovers(cleanEnv(env));
  return note ? `${note}; ${left}` : left;
}

// ---- /proc -------------------------------------------------------------------------------------

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime + stime of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
}

type Mem = ReturnType<typeof memoryOf>;
const avg = (xs: Mem[]): Mem => ({
  rssKb: Math.round(xs.reduce((a, x) => a + x.rssKb, 0) / xs.length),
  privateKb: Math.round(xs.reduce((a, x) => a + x.privateKb, 0) / xs.length),
  anonKb: Math.round(xs.reduce((a, x) => a + x.anonKb, 0) / xs.length),
});

/** hyperfine's per-run times (ms) of each command, run the way users run them (no shell). */
async function hyperfine(cmds: { name: string; argv: string[] }[], runs: number, env?: NodeJS.ProcessEnv): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const json = join("/tmp", `podd-bench-hyperfine-${process.pid}.json`);
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  await mustExec("hyperfine", ["hyperfine", "-N", "--warmup", "3", "--runs", String(runs), "--export-json", json, ...cmds.flatMap((c) => ["-n", c.name, c.argv.map(quote).join(" ")])], env);
  const results = JSON.parse(readFileSync(json, "utf8")).results as { command: string; times: number[] }[];
  spawnSync("rm", ["-f", json]);
  for (const r of results) out.set(r.command, r.times.map((t) => t * 1000));
  return out;
}

// ---- 1. apply --wait ---------------------------------------------------------------------------

export async function apply(): Promise<string> {
  const built = ensureBuilt();
  const env = benchEnv("apply");
  const podman = Podman.open();
  let d: RunningDaemon | undefined;
  let cleanup = "";
  try {
    const rootfs = importBusybox(env);
    const manifest = join(env.dir, "pod.yaml");
    writeFileSync(manifest, sleepPod("bench-sleep", "busybox:local", ["c"]));
    d = await startDaemon(env, { PODD_TRACE: "1" });
    const socket = d.socket;
    const applyArgv = podd("apply", "-f", manifest, "--wait", "--socket", socket);

    let pmManifest = "";
    if (podman) {
      const image = podman.importImage(rootfs);
      pmManifest = join(podman.dir, "pod.yaml");
      writeFileSync(pmManifest, sleepPod("bench-sleep", image, ["c"]));
    }

    const s = { apply: [] as number[], execd: [] as number[], put: [] as number[], pm: [] as number[], pmPlay: [] as number[] };
    const once = async (record: boolean) => {
      const from = d!.lines.length;
      const t0 = Date.now();
      await mustExec("podd apply --wait", applyArgv);
      const t1 = Date.now();
      // the daemon's trace: the monitor's exec of the command, and the start decision
      const traced = (what: string) => {
        const l = d!.lines.slice(from).find((x) => x.text.startsWith("podd-trace ") && x.text.includes(` ${what} default/bench-sleep/c`));
        return l ? Number(l.text.split(" ")[1]) : NaN;
      };
      if (record) {
        s.apply.push(t1 - t0);
        s.execd.push(traced("execd") - t0);
        s.put.push(traced("decided") - t0);
      }
      await deleteAll(socket, 0);

      if (podman) {
        const p0 = Date.now();
        await mustExec("podman kube play", podman.argv("kube", "play", "--replace", "--network", "none", pmManifest), podman.env);
        const p1 = Date.now();
        // kube play returns once it has started the containers; count until podman says running
        let running = p1;
        for (;;) {
          const st = await mustExec("podman inspect", podman.argv("container", "inspect", "--format", "{{.State.Running}}", "bench-sleep-c"), podman.env);
          if (st.stdout.trim() === "true") break;
          running = Date.now();
        }
        if (record) {
          s.pm.push(running - p0);
          s.pmPlay.push(p1 - p0);
        }
        await mustExec("podman kube down", podman.argv("kube", "down", pmManifest), podman.env);
      }
    };
    for (let i = 0; i < 3; i++) await once(false);
    for (let i = 0; i < applyRuns; i++) await once(true);

    // What a CLI call costs before it does anything: node's start and the bundle's load.
    const floor = await hyperfine([{ name: "podd version --client", argv: podd("version", "--client") }], 20);
    const floorMs = median(floor.get("podd version --client")!);

    const m = (xs: number[]) => r2(median(xs));
    const pm = s.pm.length ? m(s.pm) : undefined;
    const rows: (string | number)[][] = [
      ["podd apply --wait (daemon running)", m(s.apply), vs(m(s.apply), pm)],
      ["  spawn → start decided (CLI start, PUT, desired file, sandbox)", m(s.put), vs(m(s.put), pm)],
      ["  spawn → command exec'd (monitor's startedAt)", m(s.execd), vs(m(s.execd), pm)],
      ["  exec'd → apply --wait returned (status poll, CLI exit)", r2(m(s.apply) - m(s.execd)), vs(m(s.apply) - m(s.execd), pm)],
      ["  podd version --client (node start + bundle load)", r2(floorMs), vs(floorMs, pm)],
    ];
    if (podman) {
      rows.push(["podman kube play --network none → running", pm!, "1.00×"]);
      rows.push(["  of which kube play returned", m(s.pmPlay), vs(m(s.pmPlay), pm)]);
    } else rows.push(["podman kube play", "not installed", "-"]);
    cleanup = await teardown(env, d);
    d = undefined;
    return (
      table(
        `Apply: one pod, one busybox \`sleep\` container (restartPolicy Always), until Running; daemon started once, pod deleted between runs (not timed); ${applyRuns} runs each, interleaved; median ms. Goal: podd ≤ 0.25× podman`,
        ["what", "median ms", "vs podman"],
        rows,
      ) + `\n(${built}; ${cleanup})`
    );
  } finally {
    if (d) await teardown(env, d);
    else cleanEnv(env);
    podman?.destroy();
  }
}

// ---- 2. 100 pods on one daemon -----------------------------------------------------------------

function scaleManifest(pods: number): string {
  return Array.from({ length: pods }, (_, i) => sleepPod(`scale-${String(i).padStart(3, "0")}`, "busybox:local", ["a", "b"])).join("---\n");
}

/** A daemon on env with `pods` pods of 2 containers running; the ms from the apply to all running. */
async function daemonWithPods(env: Env, pods: number): Promise<{ d: RunningDaemon; toRunning: number; applyMs: number }> {
  const manifest = join(env.dir, "scale.yaml");
  writeFileSync(manifest, scaleManifest(pods));
  const d = await startDaemon(env);
  const w = watchRunning(d.socket);
  try {
    const t0 = Date.now();
    const applied = mustExec("podd apply", podd("apply", "-f", manifest, "--socket", d.socket));
    const at = await Promise.race([w.until(pods, 300_000), applied.then(() => new Promise<number>(() => undefined))]);
    const { ms } = await applied;
    return { d, toRunning: at - t0, applyMs: ms };
  } catch (err) {
    await killDaemon(d);
    throw err;
  } finally {
    w.close();
  }
}

export async function daemonScale(): Promise<string> {
  const built = ensureBuilt();
  const env = benchEnv("dscale");
  const podman = Podman.open();
  let d: RunningDaemon | undefined;
  const pmNames: string[] = [];
  try {
    const rootfs = importBusybox(env);
    const image = podman?.importImage(rootfs);
    const want = daemonPods * 2;
    const started = await daemonWithPods(env, daemonPods);
    d = started.d;
    const daemonPid = d.pid;

    // Memory once everything runs, after the start's garbage has had a moment to be collected.
    await sleep(2000);
    const daemonMem = memoryOf(daemonPid);
    const monitors = childrenOf(daemonPid).filter((p) => comm(p) === "podd-init");
    const pid1s = monitors.map((m) => childrenOf(m)[0]).filter((p): p is number => p !== undefined);
    if (monitors.length !== want || pid1s.length !== want) throw new Error(`found ${monitors.length} monitors and ${pid1s.length} PID 1s for ${want} containers`);
    const monMem = avg(monitors.map(memoryOf));
    const pid1Mem = avg(pid1s.map(memoryOf));

    // Idle CPU: nothing is asked of the daemon; every container sleeps.
    const before = { d: cpuMs(daemonPid), mon: monitors.reduce((a, p) => a + cpuMs(p), 0), pid1: pid1s.reduce((a, p) => a + cpuMs(p), 0) };
    const i0 = process.hrtime.bigint();
    await sleep(idleSeconds * 1000);
    const wallMs = Number(process.hrtime.bigint() - i0) / 1e6;
    const after = { d: cpuMs(daemonPid), mon: monitors.reduce((a, p) => a + cpuMs(p), 0), pid1: pid1s.reduce((a, p) => a + cpuMs(p), 0) };
    const idleMem = memoryOf(daemonPid);
    const pct = (x: number) => `${((x / wallMs) * 100).toFixed(3)} %`;

    // podman's side: conmon per container, and `podman ps` of its containers as the list peer.
    let conmon: Mem | undefined;
    if (podman) {
      for (let i = 0; i < podmanContainers; i++) {
        const name = `podd-bench-sleep-${i}`;
        podman.run("run", "-d", "--network", "none", "--name", name, image!, "sleep", "3600");
        pmNames.push(name);
      }
      conmon = avg(pmNames.map((n) => memoryOf(Number(podman.run("inspect", "--format", "{{.State.ConmonPid}}", n).trim()))));
    }
    const listCmds = [
      { name: "podd get pods", argv: podd("get", "pods", "--socket", d.socket) },
      { name: "podd get pods -o json", argv: podd("get", "pods", "-o", "json", "--socket", d.socket) },
      { name: "podd version --client", argv: podd("version", "--client") },
    ];
    if (podman) listCmds.push({ name: "podman ps", argv: podman.argv("ps") });
    const times = await hyperfine(listCmds, getRuns, podman?.env);
    // The API alone, without a CLI process: GET /api/v1/pods from here.
    const apiRuns: number[] = [];
    for (let i = 0; i < getRuns; i++) {
      const t0 = process.hrtime.bigint();
      await listPods(d.socket);
      apiRuns.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const pmPs = times.has("podman ps") ? median(times.get("podman ps")!) : undefined;

    // One more pod while the others run: a start must not grow with what else runs (image:
    // host containers copy the host's mount table, which holds every pod's mounts).
    const beside = new Map<string, number[]>();
    for (const img of ["busybox:local", "host"]) {
      const file = join(env.dir, `beside-${img}.yaml`);
      writeFileSync(file, sleepPod("beside", img, ["c"]));
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        runs.push((await mustExec("podd apply --wait", podd("apply", "-f", file, "--wait", "--socket", d.socket))).ms);
        await mustExec("podd delete", podd("delete", "pod", "beside", "--socket", d.socket));
      }
      beside.set(img, runs);
    }

    const stopMs = await deleteAll(d.socket);
    await killDaemon(d);
    d = undefined;
    const left = describeLeftovers(cleanEnv(env));

    const per = (x: Mem, base: Mem | undefined) => (base ? `${vs(x.rssKb, base.rssKb)} / ${vs(x.privateKb, base.privateKb)}` : "-");
    const perContainer: Mem = { rssKb: monMem.rssKb + pid1Mem.rssKb, privateKb: monMem.privateKb + pid1Mem.privateKb, anonKb: monMem.anonKb + pid1Mem.anonKb };
    const scaleT = table(
      `Daemon scale: ${daemonPods} pods × 2 containers (busybox sleep), \`podd apply -f\` of one file to a running daemon; memory in kB from /proc/PID/smaps_rollup. Goals: daemon RSS ≤ 80 MB, idle CPU ≤ 0.5 % of a core`,
      ["what", "value", "private kB", "anonymous kB", "vs goal / conmon (RSS / private)"],
      [
        [`apply spawn → all ${want} containers running (API watch)`, `${started.toRunning} ms`, "", "", ""],
        ["  of which podd apply ran", `${Math.round(started.applyMs)} ms`, "", "", ""],
        [`one more pod beside them: apply --wait (busybox / image: host, median of 5)`, `${Math.round(median(beside.get("busybox:local")!))} / ${Math.round(median(beside.get("host")!))} ms`, "", "", ""],
        ["daemon (node) RSS, all running", `${daemonMem.rssKb} kB`, daemonMem.privateKb, daemonMem.anonKb, `${ratio(daemonMem.rssKb, 80 * 1024)} of 80 MB`],
        [`  the same after ${idleSeconds} s idle`, `${idleMem.rssKb} kB`, idleMem.privateKb, idleMem.anonKb, `${ratio(idleMem.rssKb, 80 * 1024)} of 80 MB`],
        [`daemon CPU over ${idleSeconds} s idle (utime+stime)`, `${r2(after.d - before.d)} ms`, "", "", `${pct(after.d - before.d)} of a core`],
        [`  ${want} monitors together, same ${idleSeconds} s`, `${r2(after.mon - before.mon)} ms`, "", "", pct(after.mon - before.mon)],
        [`  ${want} PID 1s together, same ${idleSeconds} s`, `${r2(after.pid1 - before.pid1)} ms`, "", "", pct(after.pid1 - before.pid1)],
        ["podd-init monitor (mean)", `${monMem.rssKb} kB`, monMem.privateKb, monMem.anonKb, per(monMem, conmon)],
        ["podd-init PID 1 (mean)", `${pid1Mem.rssKb} kB`, pid1Mem.privateKb, pid1Mem.anonKb, per(pid1Mem, conmon)],
        ["podd per container: monitor + PID 1", `${perContainer.rssKb} kB`, perContainer.privateKb, perContainer.anonKb, per(perContainer, conmon)],
        ["  daemon's share per container (RSS / containers)", `${Math.round(daemonMem.rssKb / want)} kB`, Math.round(daemonMem.privateKb / want), Math.round(daemonMem.anonKb / want), ""],
        conmon ? [`podman conmon (mean of ${podmanContainers}, runc, sleep)`, `${conmon.rssKb} kB`, conmon.privateKb, conmon.anonKb, "1.00× / 1.00×"] : ["podman conmon", "not installed", "", "", ""],
        [`delete all ${daemonPods} pods → none listed`, `${stopMs} ms`, "", "", left],
      ],
    );
    const listRows: (string | number)[][] = [...times].map(([name, runs]) => [name === "podman ps" ? `podman ps (${podmanContainers} containers)` : name, r2(median(runs)), r2(Math.max(...runs)), vs(median(runs), pmPs), ratio(median(runs), 100)]);
    listRows.push(["GET /api/v1/pods (in-process client, no CLI)", r2(median(apiRuns)), r2(Math.max(...apiRuns)), vs(median(apiRuns), pmPs), ratio(median(apiRuns), 100)]);
    const listT = table(`Listing ${daemonPods} pods (hyperfine -N, ${getRuns} runs; ms). Goal: podd get pods ≤ 100 ms`, ["command", "median ms", "max ms", "vs podman ps", "vs goal"], listRows);
    return `${scaleT}\n${listT}\n(${built})`;
  } finally {
    await killDaemon(d);
    cleanEnv(env);
    if (podman && pmNames.length) spawnSync(podman.bin, ["rm", "-f", "-t", "0", ...pmNames], { env: podman.env });
    podman?.destroy();
  }
}

// ---- 3. adoption after a daemon crash ----------------------------------------------------------

interface Identity {
  ids: Map<string, string>;
  restarts: number;
}

function identityOf(pods: ApiPod[]): Identity {
  const ids = new Map<string, string>();
  let restarts = 0;
  for (const p of pods) {
    for (const c of p.status.containerStatuses ?? []) {
      ids.set(`${p.metadata.name}/${c.name}`, c.containerID);
      restarts += c.restartCount;
    }
  }
  return { ids, restarts };
}

export async function adopt(): Promise<string> {
  const built = ensureBuilt();
  const env = benchEnv("adopt");
  let d: RunningDaemon | undefined;
  try {
    importBusybox(env);
    const want = daemonPods * 2;
    const started = await daemonWithPods(env, daemonPods);
    d = started.d;
    const emptyStart = d.servingAt - d.spawnedAt;
    const first = identityOf(await listPods(d.socket));
    if (first.ids.size !== want) throw new Error(`${first.ids.size} containers listed, want ${want}`);
    const monitors = new Set(childrenOf(d.pid).filter((p) => comm(p) === "podd-init"));

    const firstMem = memoryOf(d.pid);
    const s = { serving: [] as number[], takenUp: [] as number[], listed: [] as number[], rssKb: [] as number[] };
    let restarted = 0;
    let changedIds = 0;
    let lostMonitors = 0;
    for (let i = 0; i < adoptRuns; i++) {
      await killDaemon(d);
      d = undefined;
      d = await startDaemon(env);
      // every pod listed with every container running
      let listedAt: number;
      for (;;) {
        const pods = await listPods(d.socket);
        if (pods.length === daemonPods && pods.every(allRunning)) {
          listedAt = Date.now();
          const now = identityOf(pods);
          restarted += now.restarts;
          for (const [k, id] of first.ids) if (now.ids.get(k) !== id) changedIds++;
          break;
        }
        if (Date.now() - d.spawnedAt > 60_000) throw new Error(`after 60 s: ${pods.filter(allRunning).length}/${daemonPods} pods running`);
        await sleep(2);
      }
      const takenUp = d.lines.filter((l) => / pod\/\S+ taken up$/.test(l.text));
      if (takenUp.length !== daemonPods) throw new Error(`the daemon logged ${takenUp.length} pods taken up, want ${daemonPods}`);
      for (const m of monitors) {
        try {
          process.kill(m, 0);
        } catch {
          lostMonitors++;
        }
      }
      s.serving.push(d.servingAt - d.spawnedAt);
      s.takenUp.push(takenUp.at(-1)!.at - d.spawnedAt);
      s.listed.push(listedAt - d.spawnedAt);
      s.rssKb.push(memoryOf(d.pid).rssKb);
    }
    const cleanup = await teardown(env, d);
    d = undefined;
    const m = (xs: number[]) => r2(median(xs));
    return (
      table(
        `Adoption: SIGKILL of the daemon under ${daemonPods} pods × 2 running containers, then a new daemon; ${adoptRuns} restarts; ms from the new daemon's spawn (median / max). Goal: all adopted ≤ 1 s`,
        ["what", "median ms", "max ms", "vs goal", "vs empty daemon start"],
        [
          ["new daemon: spawn → last \"taken up\" logged", m(s.takenUp), r2(Math.max(...s.takenUp)), ratio(median(s.takenUp), 1000), vs(median(s.takenUp), emptyStart)],
          ["new daemon: spawn → /healthz answers", m(s.serving), r2(Math.max(...s.serving)), ratio(median(s.serving), 1000), vs(median(s.serving), emptyStart)],
          [`new daemon: spawn → API lists ${daemonPods} pods, all ${want} containers running`, m(s.listed), r2(Math.max(...s.listed)), ratio(median(s.listed), 1000), vs(median(s.listed), emptyStart)],
          ["daemon with no pods: spawn → /healthz answers (once)", emptyStart, "", ratio(emptyStart, 1000), "1.00×"],
          [`RSS (kB): the daemon that started the pods / one that adopted them`, `${firstMem.rssKb} / ${Math.round(median(s.rssKb))}`, "", "", ""],
          [`restarts over all runs (restartCount sum)`, String(restarted), "", "", ""],
          [`containerIDs changed / monitors gone`, `${changedIds} / ${lostMonitors}`, "", "", ""],
        ],
      ) + `\n(${built}; ${cleanup})`
    );
  } finally {
    if (d) await teardown(env, d);
    else cleanEnv(env);
  }
}
