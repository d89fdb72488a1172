// Images against their peers, all from one local registry (the distribution registry, plain
// HTTP on 127.0.0.1): `podd image pull` next to `podman pull` and `skopeo copy docker:// oci:`
// of a ~52 MB image of four layers, cold (an empty store each run) and warm (the same pull
// again, every layer present); where podd's cold pull spends its time; `podd image load` next
// to `podman load` of the same image as a docker-archive; and the daemon's peak RSS over the
// pull of one ~200 MB layer of random data, next to the peak RSS of each pulling command.
//
// Every timed command runs in a mount namespace of its own where /var/lib is read-only: as root,
// podman and skopeo would otherwise write their blob-info cache into the machine's
// /var/lib/containers (and podman's overlay driver bind-mounts its store onto itself, which
// then goes with the namespace). podd runs the same way, so all pay the same few milliseconds.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestOn } from "../e2e/daemon-helpers.ts";
import type { Env } from "../e2e/harness.ts";
import { largeImage, pushImage, readManifest, saveArchive, type OciImage } from "../lib/images.ts";
import { registrySkip, startRegistry, type TestRegistry } from "../lib/registry.ts";
import { hostPlatform } from "../../supervisor/runtime/images/platform.ts";
import { storeImage } from "../../supervisor/runtime/images/pull.ts";
import { parseReference, pullTarget, withDefaultTag } from "../../supervisor/runtime/images/reference.ts";
import { Registry } from "../../supervisor/runtime/images/registry.ts";
import { imageKey, ImageStore } from "../../supervisor/runtime/images/store.ts";
import { median, ratio, table, which } from "./lib.ts";
import { benchEnv, cleanEnv, describeLeftovers, ensureBuilt, Podman, poddMain, repo } from "./peers.ts";

/** Timed runs of each command (after WARMUPS untimed ones); with these the bench takes about 70 s on 2 cores. */
const RUNS = 5;
const WARMUPS = 1;
/** podd at most this times podman's time, for pull and load */
const TIME_GOAL = 0.5;
/** the daemon's VmHWM may grow this much over a pull, whatever the layer size */
const RSS_GOAL_MB = 20;
const BIG_BYTES = 50 * 1024 * 1024;
const BIG_SMALL_FILES = 2000;
const HUGE_LAYER_BYTES = 200 * 1000 * 1000;
const INIT = join(repo, "init/build/podd-init");

const node = process.execPath;
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const r1 = (x: number) => Math.round(x * 10) / 10;

/** argv in a mount namespace of its own with /var/lib read-only (see the top of the file). */
function privateVarLib(argv: string[]): string[] {
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind -o ro /var/lib /var/lib && exec "$@"', "bench", ...argv];
}

interface Ran {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs argv to its end without blocking the event loop (the registry's log pipe keeps draining). */
function run(what: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-8192)));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${what}: ${argv.join(" ")} exited ${code ?? signal}: ${stderr.trim()}`));
      else resolve({ ms, stdout, stderr });
    });
  });
}

/** A command that fills a store: each cold run gets a new, empty one. */
interface Filler {
  name: string;
  /** an empty store, and how to get rid of it (neither is timed) */
  fresh(): Promise<string>;
  drop(store: string): Promise<void>;
  argv(store: string): string[];
  env?: NodeJS.ProcessEnv;
  /** throws when the output shows the run did not do what it is timed for */
  check?(ran: Ran, warm: boolean): void;
}

/** A new directory under parent for each store, removed whole. */
function dirStores(parent: string, prefix: string): Pick<Filler, "fresh" | "drop"> {
  return {
    fresh: async () => mkdtempSync(join(parent, prefix)),
    drop: async (store) => rmSync(store, { recursive: true, force: true }),
  };
}

/** podd's answer to a pull says what it fetched: everything when cold, nothing when warm. */
function checkFetched(ran: Ran, warm: boolean): void {
  const fetched = /fetched (\S+ \S+)/.exec(ran.stdout)?.[1];
  if (warm ? fetched !== "0 B" : fetched === undefined || fetched === "0 B") throw new Error(`podd image pull (${warm ? "warm" : "cold"}) fetched ${fetched ?? "?"}: ${ran.stdout}`);
}

function fill(f: Filler, store: string, wrap: (argv: string[]) => string[] = (a) => a): Promise<Ran> {
  return run(f.name, privateVarLib(wrap(f.argv(store))), f.env);
}

const vs = (x: number, base: number | undefined) => (base === undefined ? "-" : ratio(x, base));
const verdict = (x: number, goal: number) => (x <= goal ? "met" : "not met");

// ---- pull -------------------------------------------------------------------------------------

function pullers(work: string, ref: string, podman: Podman | undefined, daemon?: Daemon): Filler[] {
  const out: Filler[] = [
    {
      name: "podd image pull --root (in-process, no daemon)",
      ...dirStores(work, "podd-store-"),
      argv: (store) => [node, poddMain, "image", "pull", ref, "--root", store],
      check: checkFetched,
    },
  ];
  if (daemon) {
    out.push({
      name: "podd image pull --socket (the daemon pulls)",
      // The daemon's one store, emptied between runs: the image removed, its layers collected.
      fresh: async () => daemon.state,
      drop: async () => {
        await run("podd image rm", [node, poddMain, "image", "rm", ref, "--socket", daemon.socket]);
        await run("podd image prune", [node, poddMain, "image", "prune", "--socket", daemon.socket]);
        const left = readdirSync(join(daemon.state, "images", "layers"));
        if (left.length) throw new Error(`podd image prune left ${left.length} layers in ${daemon.state}`);
      },
      argv: () => [node, poddMain, "image", "pull", ref, "--socket", daemon.socket],
      check: checkFetched,
    });
  }
  if (podman) {
    out.push({
      name: "podman pull --tls-verify=false (overlay)",
      ...dirStores(podman.dir, "store-"),
      argv: (store) => podman.argv("--root", join(store, "root"), "--runroot", join(store, "runroot"), "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref),
      env: podman.env,
    });
  }
  if (which("/usr/bin/skopeo")) {
    out.push({
      name: "skopeo copy docker:// oci:DIR (no unpacking)",
      ...dirStores(work, "skopeo-store-"),
      argv: (store) => ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "--src-no-creds", `docker://${ref}`, `oci:${join(store, "layout")}:1`],
    });
  }
  return out;
}

/** Cold and warm times of each command, interleaved run by run. */
async function coldAndWarm(fillers: Filler[]): Promise<{ cold: number[]; warm: number[] }[]> {
  const samples = fillers.map(() => ({ cold: [] as number[], warm: [] as number[] }));
  for (let i = -WARMUPS; i < RUNS; i++) {
    for (const [j, f] of fillers.entries()) {
      const store = await f.fresh();
      try {
        const cold = await fill(f, store);
        f.check?.(cold, false);
        const warm = await fill(f, store);
        f.check?.(warm, true);
        if (i >= 0) {
          samples[j]!.cold.push(cold.ms);
          samples[j]!.warm.push(warm.ms);
        }
      } finally {
        await f.drop(store);
      }
    }
  }
  return samples;
}

/** "4 layers, 52.5 MB gzip: 3 × 15.7 MB of random data, 2000 small files" */
function describeImage(image: OciImage, smallFiles: number): string {
  const layers = readManifest(image).manifest.layers;
  const total = layers.reduce((n, l) => n + l.size, 0);
  const random = layers.slice(0, smallFiles > 0 ? -1 : undefined);
  const parts = [`${random.length} × ${mb(random[0]!.size)} MB of random data in 4 files`, ...(smallFiles > 0 ? [`${smallFiles} small files`] : [])];
  return `${layers.length} layer${layers.length > 1 ? "s" : ""}, ${mb(total)} MB gzip: ${parts.join(", ")}`;
}

async function pullTable(work: string, ref: string, podman: Podman | undefined, image: string): Promise<string> {
  const env = benchEnv("images-pull");
  let daemon: Daemon | undefined;
  let samples: { cold: number[]; warm: number[] }[];
  let fillers: Filler[];
  try {
    daemon = await startDaemon(env);
    fillers = pullers(work, ref, podman, daemon);
    samples = await coldAndWarm(fillers);
  } finally {
    await daemon?.stop();
    cleanEnv(env);
  }
  const med = samples.map((s) => ({ cold: r1(median(s.cold)), warm: r1(median(s.warm)) }));
  const at = (prefix: string) => {
    const j = fillers.findIndex((f) => f.name.startsWith(prefix));
    return j >= 0 ? med[j] : undefined;
  };
  const pm = at("podman");
  const so = at("skopeo");
  const rows = fillers.map((f, j) => [f.name, med[j]!.cold, vs(med[j]!.cold, pm?.cold), vs(med[j]!.cold, so?.cold), med[j]!.warm, vs(med[j]!.warm, pm?.warm), vs(med[j]!.warm, so?.warm)]);
  if (!podman) rows.push(["podman", "not installed", "-", "-", "-", "-", "-"]);
  const goalOf = (label: string, m: { cold: number; warm: number } | undefined) =>
    m && pm ? `${label}: cold ${ratio(m.cold, pm.cold)} (${verdict(m.cold / pm.cold, TIME_GOAL)}), warm ${ratio(m.warm, pm.warm)} (${verdict(m.warm / pm.warm, TIME_GOAL)})` : undefined;
  const goals = [goalOf("--root", at("podd image pull --root")), goalOf("--socket", at("podd image pull --socket"))].filter(Boolean);
  const goal = pm ? `goal podd ≤ ${TIME_GOAL.toFixed(2)}× podman: ${goals.join("; ")}` : `goal podd ≤ ${TIME_GOAL.toFixed(2)}× podman: not measured (no podman)`;
  return (
    table(
      `Image pull of ${ref.replace(/^[^/]+\//, "")} (${image}) from a local registry over plain HTTP on 127.0.0.1 ` +
        `(median of ${RUNS} runs each after ${WARMUPS} warm-up, interleaved; ms). cold: into an empty store; warm: the same pull again into that store, every layer present. Ratios are this row / the peer. ` +
        `The daemon row is one daemon whose store is emptied (image rm, image prune) between runs`,
      ["command", "cold ms", "cold vs podman", "cold vs skopeo", "warm ms", "warm vs podman", "warm vs skopeo"],
      rows,
    ) + `\n${goal}`
  );
}

// ---- where podd's cold pull goes ----------------------------------------------------------------

/**
 * The same cold pull in this process (podd's code from source), timed by its progress events:
 * when each layer starts streaming (download → gunzip → podd-init unpack, all at once) and ends.
 */
interface Stages {
  /** ms since the pull began */
  firstLayerAt: number;
  layers: { start: number; end: number }[];
  total: number;
}

async function stagesOnce(work: string, ref: string, parallel?: number): Promise<Stages> {
  const parsed = withDefaultTag(parseReference(ref));
  // A new client each run, as each `podd image pull` has: its ping and TLS setup are included.
  const registry = new Registry({});
  const dir = mkdtempSync(join(work, "stages-"));
  const t0 = performance.now();
  const layers: Stages["layers"] = [];
  try {
    const store = new ImageStore(join(dir, "images"), INIT);
    await storeImage(store, registry.source(parsed), {
      name: imageKey(ref),
      reference: pullTarget(parsed),
      platform: hostPlatform(),
      now: () => new Date().toISOString(),
      ...(parallel ? { parallel } : {}),
      onProgress: (ls) => {
        const at = performance.now() - t0;
        ls.forEach((l, i) => {
          const s = (layers[i] ??= { start: NaN, end: NaN });
          if (l.state === "fetching" && Number.isNaN(s.start)) s.start = at;
          if (l.state === "done" && Number.isNaN(s.end)) s.end = at;
        });
      },
    });
    const total = performance.now() - t0;
    return { firstLayerAt: Math.min(...layers.map((l) => l.start)), layers, total };
  } finally {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function stagesTable(work: string, ref: string, image: OciImage, blobsUrl: string): Promise<string> {
  const { manifest } = readManifest(image);
  const n = manifest.layers.length;
  const runs3: Stages[] = [];
  const runsAll: number[] = [];
  const lastAlone: number[] = [];
  const shellRandom: number[] = [];
  // The random-data layers by shell pipelines, all at once: the same work without Node in the path.
  const curl = which("/usr/bin/curl");
  const random = manifest.layers.slice(0, -1);
  const pipelines = random.map((l, k) => `(mkdir "$1/${k}" && curl -sf ${blobsUrl}/${l.digest} | gzip -dc | "$2" unpack "$1/${k}" > /dev/null) &`).join(" ") + " wait";
  // The last layer's files alone, from its blob on disk: what creating them costs this file system.
  const last = manifest.layers[n - 1]!;
  const lastBlob = join(image.layout, "blobs", "sha256", last.digest.slice(7));
  for (let i = -WARMUPS; i < RUNS; i++) {
    const a = await stagesOnce(work, ref);
    const b = await stagesOnce(work, ref, n);
    const dir = mkdtempSync(join(work, "alone-"));
    try {
      mkdirSync(join(dir, "last"));
      const r = await run("gzip -dc | podd-init unpack", ["sh", "-c", 'gzip -dc < "$1" | "$2" unpack "$3" > /dev/null', "bench", lastBlob, INIT, join(dir, "last")]);
      if (i >= 0) lastAlone.push(r.ms);
      if (curl) {
        const p = await run("curl | gzip -dc | podd-init unpack", ["sh", "-c", pipelines, "bench", dir, INIT]);
        // `wait` reports no pipeline's failure: what they unpacked shows it.
        random.forEach((_, k) => {
          if (readdirSync(join(dir, String(k), "random", `layer${k}`)).length !== 4) throw new Error(`shell pipeline ${k} did not unpack layer ${k + 1}`);
        });
        if (i >= 0) shellRandom.push(p.ms);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (i >= 0) {
      runs3.push(a);
      runsAll.push(b.total);
    }
  }
  const m = (f: (r: Stages) => number) => r1(median(runs3.map(f)));
  const total = m((r) => r.total);
  const rows: (string | number)[][] = [["GET /v2/ (HTTPS tried first, then HTTP), manifest, config", 0, m((r) => r.firstLayerAt), m((r) => r.firstLayerAt)]];
  for (let i = 0; i < n; i++) {
    const what = i === n - 1 ? `${BIG_SMALL_FILES} small files` : "4 files of random data";
    rows.push([`layer ${i + 1} (${mb(manifest.layers[i]!.size)} MB gzip, ${what})`, m((r) => r.layers[i]!.start), m((r) => r.layers[i]!.end), m((r) => r.layers[i]!.end - r.layers[i]!.start)]);
  }
  rows.push(["config, manifest and the image record written", m((r) => Math.max(...r.layers.map((l) => l.end))), total, m((r) => r.total - Math.max(...r.layers.map((l) => l.end)))]);
  rows.push([`the same pull with all ${n} layers at once (parallel: ${n}, the default is up to 8)`, 0, r1(median(runsAll)), `${ratio(median(runsAll), total)} of the default`]);
  const podRandom = m((r) => Math.max(...r.layers.slice(0, -1).map((l) => l.end)) - Math.min(...r.layers.slice(0, -1).map((l) => l.start)));
  rows.push([`podd: layers 1-${n - 1} (at once), first start to last end`, "-", "-", podRandom]);
  if (curl) rows.push([`layers 1-${n - 1} by ${n - 1} shell pipelines at once: curl | gzip -dc | podd-init unpack`, "-", "-", `${r1(median(shellRandom))} (podd ${ratio(podRandom, median(shellRandom))})`]);
  rows.push([`layer ${n}'s files alone from its blob on disk: gzip -dc | podd-init unpack`, "-", "-", r1(median(lastAlone))]);
  return table(
    `Where podd's cold pull goes: the pull of the table above in-process (supervisor/ from source, no CLI start), from its layer progress (median of ${RUNS}; ms since the pull began). ` +
      `A layer streams download → sha256 → gunzip → sha256 → podd-init unpack; up to 8 at once`,
    ["stage", "starts at ms", "ends at ms", "takes ms"],
    rows,
  );
}

// ---- load -------------------------------------------------------------------------------------

async function loadTable(work: string, archive: string, podman: Podman | undefined): Promise<string> {
  const fillers: Filler[] = [
    {
      name: "podd image load -i FILE --root",
      ...dirStores(work, "podd-load-"),
      argv: (store) => [node, poddMain, "image", "load", "-i", archive, "--root", store],
      check: (ran) => {
        if (!/Loaded image: /.test(ran.stdout)) throw new Error(`podd image load printed no image: ${ran.stdout}`);
      },
    },
  ];
  if (podman) {
    fillers.push({
      name: "podman load -i FILE (overlay)",
      ...dirStores(podman.dir, "load-"),
      argv: (store) => podman.argv("--root", join(store, "root"), "--runroot", join(store, "runroot"), "--storage-driver", "overlay", "load", "-q", "-i", archive),
      env: podman.env,
    });
  }
  const samples = fillers.map(() => [] as number[]);
  for (let i = -WARMUPS; i < RUNS; i++) {
    for (const [j, f] of fillers.entries()) {
      const store = await f.fresh();
      try {
        const ran = await fill(f, store);
        f.check?.(ran, false);
        if (i >= 0) samples[j]!.push(ran.ms);
      } finally {
        await f.drop(store);
      }
    }
  }
  const med = samples.map((s) => r1(median(s)));
  const pm = podman ? med[1] : undefined;
  const rows: (string | number)[][] = fillers.map((f, j) => [f.name, med[j]!, vs(med[j]!, pm)]);
  if (!podman) rows.push(["podman", "not installed", "-"]);
  const size = readFileSync(archive).length;
  const goal = pm ? `goal podd ≤ ${TIME_GOAL.toFixed(2)}× podman: ${ratio(med[0]!, pm)} (${verdict(med[0]! / pm, TIME_GOAL)})` : `goal podd ≤ ${TIME_GOAL.toFixed(2)}× podman: not measured (no podman)`;
  return (
    table(
      `Image load of the same image saved as a docker-archive (${mb(size)} MB, layers as bare tars), into an empty store each run (median of ${RUNS} runs each after ${WARMUPS} warm-up, interleaved; ms)`,
      ["command", "ms", "vs podman"],
      rows,
    ) + `\n${goal}`
  );
}

// ---- memory -----------------------------------------------------------------------------------

function statusKb(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

interface Daemon {
  pid: number;
  socket: string;
  state: string;
  /** SIGTERM, then SIGKILL after 10 s */
  stop(): Promise<void>;
}

/** `podd daemon` from dist/ on env's roots (node started with nodeFlags), once it answers /healthz. */
async function startDaemon(env: Env, nodeFlags: string[] = []): Promise<Daemon> {
  const socket = join(env.run, "podd.sock");
  const child = spawn(node, [...nodeFlags, poddMain, "daemon", ...env.flags, "--socket", socket], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  for (const s of [child.stdout!, child.stderr!]) s.setEncoding("utf8").on("data", (d: string) => (output = (output + d).slice(-8192)));
  let gone = false;
  const exited = new Promise<void>((resolve) => child.on("exit", () => ((gone = true), resolve())));
  const stop = async () => {
    if (gone) return;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, 10_000)));
    await Promise.race([exited, late]);
    clearTimeout(timer);
    if (!gone) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (gone) throw new Error(`podd daemon exited before it served:\n${output}`);
      try {
        if ((await requestOn(socket, "GET", "/healthz")).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`podd daemon did not answer /healthz within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, socket, state: env.state, stop };
}

/** A new daemon on roots of its own, one pull through its socket; its VmRSS and VmHWM around it. */
async function daemonOverPull(ref: string, nodeFlags: string[] = []): Promise<{ before: { rss: number; hwm: number }; after: { rss: number; hwm: number }; leftovers: string }> {
  const env = benchEnv("images-rss");
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon(env, nodeFlags);
    const before = statusKb(daemon.pid);
    checkFetched(await run("podd image pull --socket", [node, poddMain, "image", "pull", ref, "--socket", daemon.socket]), false);
    const after = statusKb(daemon.pid);
    await daemon.stop();
    return { before, after, leftovers: describeLeftovers(cleanEnv(env)) };
  } finally {
    await daemon?.stop();
    cleanEnv(env);
  }
}

/** Peak RSS (kB) of one cold pull by each command, from /usr/bin/time. */
async function peakRss(work: string, ref: string, podman: Podman | undefined): Promise<{ name: string; kb: number }[]> {
  const out: { name: string; kb: number }[] = [];
  for (const f of pullers(work, ref, podman)) {
    const store = await f.fresh();
    try {
      const ran = await fill(f, store, (argv) => ["/usr/bin/time", "-f", "peak-rss-kb %M", ...argv]);
      out.push({ name: f.name, kb: Number(/peak-rss-kb (\d+)/.exec(ran.stderr)?.[1] ?? NaN) });
    } finally {
      await f.drop(store);
    }
  }
  return out;
}

export async function images(): Promise<string> {
  const skip = registrySkip();
  if (skip) return `\nimages: ${skip}; not measured`;
  const built = ensureBuilt();
  const work = mkdtempSync(join(tmpdir(), "podd-bench-images-"));
  let registry: TestRegistry | undefined;
  const podman = Podman.open();
  try {
    registry = await startRegistry({ auth: "none" });
    const big = await largeImage(join(work, "layout"), "big", { sizeBytes: BIG_BYTES, smallFiles: BIG_SMALL_FILES });
    const bigRef = (await pushImage(big, registry, "bench/big:1")).reference;
    const archive = await saveArchive(big, join(work, "big.tar"), "docker-archive", { name: "bench/big:1" });
    // One layer of HUGE_LAYER_BYTES: largeImage puts 90% of sizeBytes into its random layers.
    const huge = await largeImage(join(work, "layout"), "huge", { sizeBytes: Math.ceil(HUGE_LAYER_BYTES / 0.9), randomLayers: 1, smallFiles: 0 });
    const hugeRef = (await pushImage(huge, registry, "bench/huge:1")).reference;
    const hugeLayer = readManifest(huge).manifest.layers[0]!.size;
    const bigWhat = describeImage(big, BIG_SMALL_FILES);

    const out: string[] = [];
    out.push(await pullTable(work, bigRef, podman, bigWhat));
    out.push(await stagesTable(work, bigRef, big, `${registry.url}/v2/bench/big/blobs`));
    out.push(await loadTable(work, archive, podman));

    const memRows: (string | number)[][] = [];
    let left = "";
    const hugeWhat = `1 layer, ${mb(hugeLayer)} MB gzip of random data`;
    // The last row says how much of the growth is V8's young generation, which grows its
    // semi-spaces (up to 16 MB each by default) while Buffers are allocated fast.
    for (const [what, ref, flags] of [
      [hugeWhat, hugeRef, []],
      [`the image above: ${bigWhat.replace(/:.*/, "")}`, bigRef, []],
      [`${hugeWhat}, daemon under node --max-semi-space-size=1`, hugeRef, ["--max-semi-space-size=1"]],
    ] as const) {
      const d = await daemonOverPull(ref, [...flags]);
      const growth = (d.after.hwm - d.before.hwm) / 1024;
      memRows.push([what, r1(d.before.rss / 1024), r1(d.before.hwm / 1024), r1(d.after.hwm / 1024), r1(d.after.rss / 1024), r1(growth), growth < RSS_GOAL_MB ? "met" : "not met"]);
      left = d.leftovers;
    }
    out.push(
      table(
        `The podd daemon's memory over one pull through its socket (a new daemon on empty roots each; MB from /proc/PID/status, read after /healthz first answered and after \`podd image pull\` returned). ` +
          `VmHWM is the peak RSS since the process started; it cannot be reset, so the growth is VmHWM after the pull - VmHWM after start. Goal: growth < ${RSS_GOAL_MB} MB whatever the layer size`,
        ["image pulled", "VmRSS start", "VmHWM start", "VmHWM after pull", "VmRSS after pull", "VmHWM growth", `goal < ${RSS_GOAL_MB} MB`],
        memRows,
      ) + `\n(${built}; ${left} after the daemons)`,
    );
    if (which("/usr/bin/time")) {
      const peaks = await peakRss(work, hugeRef, podman);
      const pm = peaks.find((p) => p.name.startsWith("podman"));
      out.push(
        table(
          `Peak RSS of the whole pulling process over one cold pull of the ${mb(hugeLayer)} MB layer (one run each; MB, /usr/bin/time %M: the largest of the process and the children it waited for). podd here is the CLI on --root, which hosts the pull itself`,
          ["command", "peak RSS MB", "vs podman"],
          peaks.map((p) => [p.name, r1(p.kb / 1024), vs(p.kb, pm?.kb)]),
        ),
      );
    }
    return out.join("\n");
  } finally {
    await registry?.stop();
    podman?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
