// Pods end to end against their peers: `podd run` of a one-container pod against `podman kube
// play` of the same manifest and `runc run` of an equivalent bundle; podd's container start
// (decided → exec'd, from PODD_TRACE=1), a process's first and a warm one, against runc's
// whole run; and 50 pods of 2 containers:
// time until all run, supervisor and per-container memory against podman's conmon, and the stop.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Env } from "../e2e/harness.ts";
import { childrenOf, comm, memoryOf, median, ratio, table } from "./lib.ts";
import { benchEnv, cleanEnv, describeLeftovers, ensureBuilt, importBusybox, Podman, poddMain, runcBundle, runTimed, type Ran } from "./peers.ts";

const runs = Number(process.env.BENCH_POD_RUNS ?? 20);

const trueManifest = (image: string, securityContext = "") => `apiVersion: v1
kind: Pod
metadata:
  name: bench-true
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: ${image}
      command: ["true"]
${securityContext ? `      securityContext: ${securityContext}\n` : ""}`;

/**
 * The same container after two init containers in one pod: its start runs code the process has
 * run twice already, as every start but a daemon's first does (the first pays V8's lazy
 * compilation of that code).
 */
const warmManifest = (image: string, securityContext = "") =>
  trueManifest(image, securityContext).replace(
    "  containers:\n",
    `  initContainers:\n${["i1", "i2"].map((n) => `    - name: ${n}\n      image: ${image}\n      command: ["true"]\n`).join("")}  containers:\n`,
  );

interface Traced {
  decided: number;
  spawned: number;
  execd: number;
  finished: number;
}

/** The podd-trace lines of one container (the last decision before its spawn counts). */
function parseTrace(stderr: string): Traced {
  const t: Partial<Traced> = {};
  for (const line of stderr.split("\n")) {
    const m = /^podd-trace (\d+\.\d+) (\w+) /.exec(line);
    if (m) (t as Record<string, number>)[m[2]!] = Number(m[1]);
  }
  for (const k of ["decided", "spawned", "execd", "finished"] as const) {
    if (t[k] === undefined) throw new Error(`podd run printed no ${k} trace; is dist/ built from a tree with PODD_TRACE?\n${stderr}`);
  }
  return t as Traced;
}

function check(what: string, r: Ran): Ran {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code ?? r.signal}: ${r.stderr.trim().split("\n").slice(-5).join("\n")}`);
  return r;
}

const ms = (x: number) => Math.round(x * 100) / 100;

export async function podStart(): Promise<string> {
  const built = ensureBuilt();
  const env = benchEnv("start");
  let baseEnv: ReturnType<typeof benchEnv> | undefined;
  const podman = Podman.open();
  try {
    const rootfs = importBusybox(env);
    const manifest = join(env.dir, "pod.yaml");
    writeFileSync(manifest, trueManifest("busybox:local"));
    const podd = [process.execPath, poddMain, "run", "-f", manifest, ...env.flags];
    // The same container without a seccomp filter: what the filter costs a start.
    const unconfinedManifest = join(env.dir, "unconfined.yaml");
    writeFileSync(unconfinedManifest, trueManifest("busybox:local", "{seccompProfile: {type: Unconfined}}"));
    const poddUnconfined = [process.execPath, poddMain, "run", "-f", unconfinedManifest, ...env.flags];
    const poddWarm = (unconfined: boolean) => {
      const path = join(env.dir, `warm${unconfined ? "-unconfined" : ""}.yaml`);
      writeFileSync(path, warmManifest("busybox:local", unconfined ? "{seccompProfile: {type: Unconfined}}" : ""));
      return [process.execPath, poddMain, "run", "-f", path, ...env.flags];
    };
    const warm = [poddWarm(false), poddWarm(true)] as const;
    // BENCH_BASELINE=DIR: another checkout of podd (built), run interleaved with this one, so a
    // change's cost is measured in the same run as the code before it. On roots of its own,
    // with the image imported by its own CLI: an older tree may not read this tree's store,
    // and one from before pod networking has no --pod-network (nor a network to turn off).
    const baseline = process.env.BENCH_BASELINE;
    let poddBaseline: string[] | undefined;
    if (baseline) {
      const main = join(baseline, "dist/podd.js");
      importBusybox((baseEnv = benchEnv("start-baseline")), main);
      const networkless = !readFileSync(main, "utf8").includes("--pod-network");
      const flags = networkless ? baseEnv.flags.filter((f, i, all) => f !== "--pod-network" && all[i - 1] !== "--pod-network") : baseEnv.flags;
      poddBaseline = [process.execPath, main, "run", "-f", manifest, ...flags];
    }
    const poddEnv = { ...process.env, PODD_TRACE: "1" };
    const runc = runcBundle(env.dir, rootfs, env.cgroupParent);

    let play: string[] | undefined;
    let podmanManifest = "";
    if (podman) {
      const image = podman.importImage(rootfs);
      podmanManifest = join(podman.dir, "pod.yaml");
      writeFileSync(podmanManifest, trueManifest(image));
      // --network none: the pod gets a network namespace with only lo, no host interface.
      play = podman.argv("kube", "play", "--replace", "--network", "none", podmanManifest);
    }

    const s = {
      poddExited: [] as number[],
      poddDone: [] as number[],
      ctrStart: [] as number[],
      toSpawn: [] as number[],
      spawnToExec: [] as number[],
      unconfinedStart: [] as number[],
      warmStart: [] as number[],
      warmToSpawn: [] as number[],
      warmUnconfinedStart: [] as number[],
      baselineStart: [] as number[],
      runc: [] as number[],
      pmExited: [] as number[],
      pmPlay: [] as number[],
      pmDown: [] as number[],
    };
    let round = 0;
    const once = async (record: boolean) => {
      // The baseline runs before this tree every other round: whichever runs first after the
      // peers' teardown starts a little slower, and a fixed order would put that on one side.
      const baselineFirst = poddBaseline !== undefined && round++ % 2 === 1;
      const runBaseline = async () => {
        if (!poddBaseline) return;
        const b = parseTrace(check("podd run (baseline)", await runTimed(poddBaseline, { env: poddEnv })).stderr);
        if (record) s.baselineStart.push(b.execd - b.decided);
      };
      if (baselineFirst) await runBaseline();
      const r = check("podd run", await runTimed(podd, { env: poddEnv }));
      const t = parseTrace(r.stderr);
      const u = parseTrace(check("podd run (Unconfined)", await runTimed(poddUnconfined, { env: poddEnv })).stderr);
      if (record) s.unconfinedStart.push(u.execd - u.decided);
      // parseTrace keeps the last of each: the app container, started after the init containers.
      const w = parseTrace(check("podd run (warm)", await runTimed(warm[0], { env: poddEnv })).stderr);
      const wu = parseTrace(check("podd run (warm, Unconfined)", await runTimed(warm[1], { env: poddEnv })).stderr);
      if (record) {
        s.warmStart.push(w.execd - w.decided);
        s.warmToSpawn.push(w.spawned - w.decided);
        s.warmUnconfinedStart.push(wu.execd - wu.decided);
      }
      if (!baselineFirst) await runBaseline();
      if (runc) {
        const rr = check("runc run", await runTimed(runc.argv(`podd-bench-${process.pid}`)));
        if (record) s.runc.push(rr.endMs - rr.startMs);
      }
      if (podman && play) {
        const p = check("podman kube play", await runTimed(play, { env: podman.env }));
        // kube play returns once the containers were started; `true` has usually ended by then.
        podman.run("wait", "--interval", "5ms", "bench-true-c");
        const finishedNs = BigInt(podman.run("container", "inspect", "--format", "{{.State.FinishedAt.UnixNano}}", "bench-true-c").trim());
        const d = check("podman kube down", await runTimed(podman.argv("kube", "down", podmanManifest), { env: podman.env }));
        if (record) {
          s.pmExited.push(Number(finishedNs / 1000n) / 1000 - p.startMs);
          s.pmPlay.push(p.endMs - p.startMs);
          s.pmDown.push(p.endMs - p.startMs + (d.endMs - d.startMs));
        }
      }
      if (record) {
        s.poddExited.push(t.finished - r.startMs);
        s.poddDone.push(r.endMs - r.startMs);
        s.ctrStart.push(t.execd - t.decided);
        s.toSpawn.push(t.spawned - t.decided);
        s.spawnToExec.push(t.execd - t.spawned);
      }
    };
    // Warm-up (page cache, podman's pause image), then interleaved runs so that drift in the
    // machine's load hits every peer alike.
    for (let i = 0; i < 3; i++) await once(false);
    for (let i = 0; i < runs; i++) await once(true);

    const m = (xs: number[]) => ms(median(xs));
    const rows: (string | number)[][] = [];
    const pmExited = s.pmExited.length ? m(s.pmExited) : undefined;
    const pmDone = s.pmDown.length ? m(s.pmDown) : undefined;
    const vs = (x: number, base: number | undefined) => (base === undefined ? "-" : ratio(x, base));
    rows.push(["podd run (dist/, node)", m(s.poddExited), m(s.poddDone), vs(m(s.poddExited), pmExited), vs(m(s.poddDone), pmDone)]);
    if (podman) rows.push(["podman kube play --network none", pmExited!, pmDone!, "1.00×", "1.00×"]);
    else rows.push(["podman kube play", "not installed", "-", "-", "-"]);
    if (runc) rows.push(["runc run (no pod, no image store)", "-", m(s.runc), "-", vs(m(s.runc), pmDone)]);
    else rows.push(["runc run", "not installed", "-", "-", "-"]);
    const whole = table(
      `Pod start, one container running \`true\` (busybox image, restartPolicy Never; ${runs} runs each, interleaved; median ms). ` +
        `"exited": from spawning the CLI to the container's recorded exit (podd: the monitor's exit record; podman: State.FinishedAt). ` +
        `"done": until everything is torn down (podd run exits after removing the pod; podman: kube play returns + kube down; runc run: create, start, wait, delete). Goal: podd ≤ 0.33× podman`,
      ["command", "exited ms", "done ms", "exited vs podman", "done vs podman"],
      rows,
    );

    const startRows: (string | number)[][] = [];
    const runcMedian = runc ? m(s.runc) : undefined;
    startRows.push(["podd: decided → command exec'd", m(s.ctrStart), vs(m(s.ctrStart), runcMedian)]);
    startRows.push(["  decided → monitor spawned (node)", m(s.toSpawn), vs(m(s.toSpawn), runcMedian)]);
    startRows.push(["  monitor spawned → exec'd (podd-init)", m(s.spawnToExec), vs(m(s.spawnToExec), runcMedian)]);
    startRows.push(["podd, seccompProfile Unconfined: decided → exec'd", m(s.unconfinedStart), vs(m(s.unconfinedStart), runcMedian)]);
    startRows.push(["  the default seccomp filter's share (difference of medians)", ms(m(s.ctrStart) - m(s.unconfinedStart)), "-"]);
    startRows.push(["warm: the app container after two init containers: decided → exec'd", m(s.warmStart), vs(m(s.warmStart), runcMedian)]);
    startRows.push(["  decided → monitor spawned (node)", m(s.warmToSpawn), vs(m(s.warmToSpawn), runcMedian)]);
    startRows.push(["warm, seccompProfile Unconfined: decided → exec'd", m(s.warmUnconfinedStart), vs(m(s.warmUnconfinedStart), runcMedian)]);
    startRows.push(["  the default seccomp filter's share, warm (difference of medians)", ms(m(s.warmStart) - m(s.warmUnconfinedStart)), "-"]);
    if (baseline) {
      startRows.push([`podd at BENCH_BASELINE (${baseline}): decided → exec'd`, m(s.baselineStart), vs(m(s.baselineStart), runcMedian)]);
      startRows.push(["  this tree minus the baseline (difference of medians)", ms(m(s.ctrStart) - m(s.baselineStart)), "-"]);
    }
    startRows.push(runc ? ["runc run, whole (create, start, wait, delete)", runcMedian!, "1.00×"] : ["runc run", "not installed", "-"]);
    const start = table(
      `Container start (${runs} runs; median ms): podd's worker decides to start (StartContainer) → the monitor's startedAt (exec of the command), from PODD_TRACE=1. Goal: ≤ 0.25× runc run`,
      ["phase", "median ms", "vs runc run"],
      startRows,
    );
    const baseLeft = baseEnv ? `; ${describeLeftovers(cleanEnv(baseEnv))} after the baseline` : "";
    return `${whole}\n${start}\n(${built}; ${describeLeftovers(cleanEnv(env))} after podd${baseLeft})`;
  } finally {
    cleanEnv(env);
    if (baseEnv) cleanEnv(baseEnv);
    podman?.destroy();
  }
}

// ---- scale ------------------------------------------------------------------------------------

const scalePods = Number(process.env.BENCH_SCALE_PODS ?? 50);
const podmanContainers = 10;

function scaleManifest(pods: number): string {
  const docs: string[] = [];
  for (let i = 0; i < pods; i++) {
    docs.push(`apiVersion: v1
kind: Pod
metadata:
  name: scale-${i}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 5
  containers:
    - name: a
      image: busybox:local
      command: ["sleep", "3600"]
    - name: b
      image: busybox:local
      command: ["sleep", "3600"]
`);
  }
  return docs.join("---\n");
}

type Mem = ReturnType<typeof memoryOf>;
const avg = (xs: Mem[]): Mem => ({
  rssKb: Math.round(xs.reduce((a, x) => a + x.rssKb, 0) / xs.length),
  privateKb: Math.round(xs.reduce((a, x) => a + x.privateKb, 0) / xs.length),
  anonKb: Math.round(xs.reduce((a, x) => a + x.anonKb, 0) / xs.length),
});
const sum = (a: Mem, b: Mem): Mem => ({ rssKb: a.rssKb + b.rssKb, privateKb: a.privateKb + b.privateKb, anonKb: a.anonKb + b.anonKb });

async function scalePodd(env: Env): Promise<{ rows: (string | number)[][] }> {
  const manifest = join(env.dir, "scale.yaml");
  writeFileSync(manifest, scaleManifest(scalePods));
  const want = scalePods * 2;
  let started = 0;
  let allRunning: (() => void) | undefined;
  const running = new Promise<void>((r) => (allRunning = r));
  const proc = runTimed([process.execPath, poddMain, "run", "-f", manifest, ...env.flags], {
    onStderrLine: (line) => {
      if (/ container\/\S+ Started$/.test(line) && ++started === want) allRunning!();
    },
  });
  const failed = proc.then((r) => {
    throw new Error(`podd run ended before all ${want} containers ran (${started} started): ${r.code ?? r.signal}\n${r.stderr.split("\n").slice(-10).join("\n")}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${started}/${want} containers started in 120 s`)), 120_000)));
  const t0 = Date.now();
  try {
    await Promise.race([running, failed, timeout]);
  } finally {
    clearTimeout(timer);
  }
  const toRunning = Date.now() - t0;

  const supervisor = memoryOf(proc.pid);
  const monitors = childrenOf(proc.pid).filter((p) => comm(p) === "podd-init");
  const monMem: Mem[] = [];
  const pid1Mem: Mem[] = [];
  for (const m of monitors) {
    monMem.push(memoryOf(m));
    const pid1 = childrenOf(m)[0];
    if (pid1 !== undefined) pid1Mem.push(memoryOf(pid1));
  }
  if (monitors.length !== want || pid1Mem.length !== want) throw new Error(`found ${monitors.length} monitors and ${pid1Mem.length} PID 1s for ${want} containers`);

  const tStop = Date.now();
  process.kill(proc.pid, "SIGTERM");
  const ended = await proc;
  const toStop = ended.endMs - tStop;
  const left = cleanEnv(env);
  const monitor = avg(monMem);
  const pid1 = avg(pid1Mem);
  const perContainer = sum(monitor, pid1);
  const rows: (string | number)[][] = [
    [`podd run: spawn → all ${want} containers Started`, `${toRunning} ms`, "", "", ""],
    ["supervisor (node) at that point", supervisor.rssKb, supervisor.privateKb, supervisor.anonKb, "-"],
    ["  per container (supervisor / containers)", Math.round(supervisor.rssKb / want), Math.round(supervisor.privateKb / want), Math.round(supervisor.anonKb / want), "-"],
    ["podd-init monitor (mean)", monitor.rssKb, monitor.privateKb, monitor.anonKb, ""],
    ["podd-init PID 1 (mean)", pid1.rssKb, pid1.privateKb, pid1.anonKb, ""],
    ["podd per container: monitor + PID 1", perContainer.rssKb, perContainer.privateKb, perContainer.anonKb, ""],
    [`SIGTERM → podd run exited (exit ${ended.code ?? ended.signal})`, `${toStop} ms`, "", "", describeLeftovers(left)],
  ];
  return { rows };
}

async function scalePodman(podman: Podman, image: string): Promise<Mem | undefined> {
  const names: string[] = [];
  try {
    for (let i = 0; i < podmanContainers; i++) {
      const name = `podd-bench-sleep-${i}`;
      podman.run("run", "-d", "--network", "none", "--name", name, image, "sleep", "3600");
      names.push(name);
    }
    const mems = names.map((n) => memoryOf(Number(podman.run("inspect", "--format", "{{.State.ConmonPid}}", n).trim())));
    return avg(mems);
  } finally {
    if (names.length) podman.run("rm", "-f", "-t", "0", ...names);
  }
}

export async function scale(): Promise<string> {
  const built = ensureBuilt();
  const env = benchEnv("scale");
  const podman = Podman.open();
  try {
    const rootfs = importBusybox(env);
    // imported before the podd part, which removes env.dir (and the rootfs) when it checks cleanup
    const image = podman?.importImage(rootfs);
    const { rows } = await scalePodd(env);
    let conmon: Mem | undefined;
    if (podman) conmon = await scalePodman(podman, image!);
    const vs = (x: number, base: number | undefined) => (base === undefined ? "-" : ratio(x, base));
    for (const r of rows.slice(3, 6)) r[4] = conmon ? `${vs(r[1] as number, conmon.rssKb)} / ${vs(r[2] as number, conmon.privateKb)}` : "-";
    rows.splice(6, 0, conmon ? [`podman conmon (mean of ${podmanContainers}, runc, sleep)`, conmon.rssKb, conmon.privateKb, conmon.anonKb, "1.00× / 1.00×"] : ["podman conmon", "not installed", "-", "-", "-"]);
    return (
      table(
        `Scale: ${scalePods} pods × 2 containers (busybox sleep) in one podd run; memory in kB from /proc/PID/smaps_rollup`,
        ["what", "RSS / time", "private", "anonymous", "RSS / private vs conmon"],
        rows,
      ) + `\n(${built})`
    );
  } finally {
    cleanEnv(env);
    podman?.destroy();
  }
}
