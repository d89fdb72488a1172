// What the pod benchmarks share: podd from the compiled dist/ (rebuilt when stale), a private
// environment (roots, cgroup parent) that is always cleaned up, the busybox image, and the peers
// podman and runc set up so that they leave nothing on the host.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxRootfs, destroyEnv, ensureBuilt, leftovers, NO_POD_NETWORK, poddMain, type Env, type Leftovers } from "../e2e/harness.ts";

export { ensureBuilt, poddMain };

export const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** A private environment: roots under one temp dir and a cgroup parent of its own. */
export function benchEnv(tag: string): Env {
  const dir = mkdtempSync(join(tmpdir(), `podd-bench-${tag}-`));
  const env = {
    dir,
    state: join(dir, "state"),
    run: join(dir, "run"),
    log: join(dir, "log"),
    cgroupParent: `podd-bench-${process.pid}-${tag}`,
  };
  for (const d of [env.state, env.run, env.log]) mkdirSync(d);
  // Pods with nothing but loopback, as the tests' (harness.ts): podd's own network would make a
  // bridge and firewall rules in this machine's network namespace. The network benchmark makes
  // a namespace of its own for that.
  return { ...env, flags: ["--root", env.state, "--run-root", env.run, "--log-root", env.log, "--cgroup-parent", env.cgroupParent, ...NO_POD_NETWORK] };
}

/** Removes everything the environment holds (processes by pid, mounts, cgroups, files); what it found. */
export function cleanEnv(env: Env): Leftovers {
  const found = leftovers(env);
  destroyEnv(env);
  return found;
}

export function describeLeftovers(l: Leftovers): string {
  const parts = [
    l.processes.length && `${l.processes.length} processes`,
    l.mounts.length && `${l.mounts.length} mounts`,
    l.cgroups.length && `${l.cgroups.length} cgroups`,
    l.pins.length && `${l.pins.length} pod run dirs`,
  ].filter(Boolean);
  return parts.length ? `left ${parts.join(", ")}` : "nothing left";
}

/**
 * The busybox image in podd's store of env (PATH=/bin like the podman import), imported by the
 * podd at main (default: this tree's); one from before images had a config imports it bare.
 */
export function importBusybox(env: Env, main = poddMain): string {
  const rootfs = busyboxRootfs(env.dir);
  const run = (extra: string[]) => spawnSync(process.execPath, [main, "image", "import", "busybox:local", rootfs, "--root", env.state, ...extra], { encoding: "utf8" });
  let r = run(["--env", "PATH=/bin"]);
  if (r.status !== 0 && /--env/.test(r.stderr)) r = run([]);
  if (r.status !== 0) throw new Error(`${main} image import: ${r.stderr}`);
  return rootfs;
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** epoch ms when the process was spawned and when it had exited */
  startMs: number;
  endMs: number;
}

/** Runs a command to its end, timing it on the wall clock (epoch ms, like the records). */
export function runTimed(argv: string[], opts: { env?: NodeJS.ProcessEnv; onStderrLine?: (line: string, pid: number) => void } = {}): Promise<Ran> & { pid: number } {
  const startMs = Date.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: opts.env ?? process.env });
  let stderr = "";
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    if (!opts.onStderrLine) return;
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    for (const l of lines) opts.onStderrLine(l, child.pid!);
  });
  const p = new Promise<Ran>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stderr, startMs, endMs: Date.now() }));
  }) as Promise<Ran> & { pid: number };
  p.pid = child.pid!;
  return p;
}

// ---- runc -------------------------------------------------------------------------------------

export interface Runc {
  bin: string;
  argv(id: string): string[];
}

/** A runc bundle running `true` in the same busybox rootfs with new pid/mount/net/ipc/uts namespaces. */
export function runcBundle(dir: string, rootfs: string, cgroupParent: string, args = ["true"]): Runc | undefined {
  const bin = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"].find(existsSync);
  if (!bin) return undefined;
  const bundle = join(dir, "runc-bundle");
  const state = join(dir, "runc-state");
  mkdirSync(bundle, { recursive: true });
  mkdirSync(state, { recursive: true });
  const r = spawnSync(bin, ["spec", "--bundle", bundle], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`);
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.process.env = ["PATH=/bin"];
  spec.root = { path: rootfs, readonly: true };
  spec.hostname = "bench";
  const kinds = (spec.linux.namespaces as { type: string }[]).map((n) => n.type).sort().join(",");
  if (kinds !== "ipc,mount,network,pid,uts") throw new Error(`runc spec namespaces changed: ${kinds}`);
  spec.linux.cgroupsPath = `/${cgroupParent}/runc`;
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return { bin, argv: (id) => [bin, "--root", state, "run", "--bundle", bundle, id] };
}

// ---- podman -----------------------------------------------------------------------------------

/** Host paths podman 4 creates outside its configured storage even so; removed if we created them. */
const podmanHostPaths = [
  "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
  "/var/lib/containers/cache",
  "/var/lib/containers",
  "/run/containers/networks",
  "/run/containers",
  ...cgroupRoots().map((r) => join(r, "libpod_parent")),
];

function cgroupRoots(): string[] {
  return existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c));
}

export class Podman {
  readonly env: NodeJS.ProcessEnv;
  private readonly preexisting: Set<string>;

  private constructor(
    readonly bin: string,
    readonly dir: string,
  ) {
    this.preexisting = new Set(podmanHostPaths.filter((p) => existsSync(p)));
    for (const d of ["root", "runroot", "tmp", "networks"]) mkdirSync(join(dir, d));
    // As the issue sets podman up on this machine: runc, fixed ulimits; and all of its state in
    // our temp dir, no journald events, cgroupfs (there is no systemd to ask for scopes).
    writeFileSync(
      join(dir, "containers.conf"),
      [
        "[containers]",
        'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
        'log_driver = "k8s-file"',
        "[engine]",
        'runtime = "runc"',
        `tmp_dir = "${join(dir, "tmp")}"`,
        // where pulls and loads stage blobs; /var/tmp otherwise
        `image_copy_tmp_dir = "${join(dir, "tmp")}"`,
        'events_logger = "none"',
        'cgroup_manager = "cgroupfs"',
        "[network]",
        `network_config_dir = "${join(dir, "networks")}"`,
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "storage.conf"), ["[storage]", 'driver = "overlay"', `graphroot = "${join(dir, "root")}"`, `runroot = "${join(dir, "runroot")}"`, ""].join("\n"));
    this.env = { ...process.env, CONTAINERS_CONF: join(dir, "containers.conf"), CONTAINERS_STORAGE_CONF: join(dir, "storage.conf") };
  }

  static open(): Podman | undefined {
    const bin = ["/usr/bin/podman", "/usr/local/bin/podman"].find(existsSync);
    if (!bin) return undefined;
    return new Podman(bin, mkdtempSync(join(tmpdir(), "podd-bench-podman-")));
  }

  argv(...args: string[]): string[] {
    return [this.bin, ...args];
  }

  run(...args: string[]): string {
    const r = spawnSync(this.bin, args, { env: this.env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`podman ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** The busybox rootfs as localhost/podd-bench-busybox, as the issue imports it. */
  importImage(rootfs: string): string {
    const tar = join(this.dir, "busybox.tar");
    const r = spawnSync("tar", ["-C", rootfs, "-cf", tar, "."], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
    this.run("import", "--change", "ENV=PATH=/bin", tar, "localhost/podd-bench-busybox");
    return "localhost/podd-bench-busybox";
  }

  /** Everything in our private storage is ours: remove it all, then the storage and host paths. */
  destroy(): void {
    const quiet = (...args: string[]) => spawnSync(this.bin, args, { env: this.env, encoding: "utf8" });
    quiet("pod", "rm", "-a", "-f", "-t", "0");
    quiet("rm", "-a", "-f", "-t", "0");
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
      .filter((p) => p.startsWith(this.dir + "/"));
    for (const m of mounts.reverse()) spawnSync("umount", ["-l", m]);
    rmSync(this.dir, { recursive: true, force: true });
    for (const p of podmanHostPaths) {
      if (this.preexisting.has(p) || !existsSync(p)) continue;
      try {
        if (statSync(p).isDirectory()) {
          // a cgroup directory or one podman made for us: children first, and only if empty
          spawnSync("sh", ["-c", `find "${p}" -depth -type d -exec rmdir {} + 2>/dev/null; true`]);
          if (existsSync(p)) rmdirSync(p);
        } else {
          rmSync(p);
        }
      } catch {
        // not empty: something else uses it now, so it is not ours to remove
      }
    }
  }
}
