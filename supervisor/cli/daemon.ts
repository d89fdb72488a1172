// podd daemon: the supervisor with durable desired state, serving the API on a unix socket.
// SIGTERM stops the daemon and leaves the pods running, as the kubelet does (their monitors
// live in their own sessions); --stop-pods-on-exit stops them first.
import { loadEncryptionConfig } from "../daemon/encryption.ts";
import { socketFromEnv } from "../base/paths.ts";
import { setOwnOOMScoreAdj } from "../base/proc.ts";
import { DAEMON_OOM_SCORE_ADJ } from "../status/qos.ts";
import { mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { ApiServer } from "../api/server.ts";
import { Daemon } from "../daemon/daemon.ts";
import { PoddError } from "../base/errors.ts";
import { createLogger } from "../daemon/log.ts";
import { requireRoot, supervisorFlags, supervisorOptions } from "./lib/supervisor-flags.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";
import { poddVersion } from "./version.ts";
import { defaultRegistry, registryFlags } from "./lib/registry-access.ts";

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    return Number(execFileSync("getent", ["group", name], { encoding: "utf8" }).split(":")[2]);
  } catch {
    throw new PoddError(`group "${name}" not found`, { code: "Invalid" });
  }
}

function oomScoreFlag(v: string | undefined): number {
  if (v === undefined) return DAEMON_OOM_SCORE_ADJ;
  if (!/^-?\d+$/.test(v) || Math.abs(Number(v)) > 1000) throw new PoddError(`invalid --oom-score-adj "${v}": an integer from -1000 to 1000`, { code: "Invalid" });
  return Number(v);
}

export const daemon: Verb = {
  summary: "Run the podd daemon: keeps pods running and serves the API",
  usage: "[--root DIR] [--run-root DIR] [--log-root DIR] [--cgroup-parent NAME] [--system-reserved cpu=Q,memory=Q] [--kube-reserved cpu=Q,memory=Q] [--allowed-unsafe-sysctls 'kernel.msg*,net.core.somaxconn'] [--socket PATH] [--group NAME] [--manifests DIR] [--image-import DIR] [--image-gc-high-threshold 85] [--image-gc-low-threshold 80] [--registries FILE] [--authfile FILE] [--pod-network cni|none] [--cni-conf-dir DIR] [--cni-bin-dir DIR[:DIR…]] [--cni-timeout DURATION] [--node-labels K=V,…] [--register-with-taints K=V:EFFECT,…] [--encryption-provider-config FILE] [--oom-score-adj=-999] [--log-max-size BYTES] [--log-max-files N] [--log-root-max-size BYTES] [--userns-registry DIR] [--log-format text|json] [--stop-pods-on-exit]",
  async run(argv) {
    const { values } = parseFlags(argv, {
      ...supervisorFlags,
      socket: { type: "string" },
      group: { type: "string" },
      manifests: { type: "string" },
      "image-import": { type: "string" },
      "image-gc-high-threshold": { type: "string" },
      "image-gc-low-threshold": { type: "string" },
      ...registryFlags,
      "log-format": { type: "string" },
      "stop-pods-on-exit": { type: "boolean" },
      "encryption-provider-config": { type: "string" },
      "oom-score-adj": { type: "string" },
    });
    const format = values["log-format"] ?? "text";
    if (format !== "text" && format !== "json") throw new PoddError(`invalid --log-format "${format}": text or json`, { code: "Invalid" });
    requireRoot("daemon");
    const log = createLogger(format);
    const ownScore = oomScoreFlag(values["oom-score-adj"]);
    const opts = supervisorOptions(values);
    const socket = resolve(values.socket ?? socketFromEnv(process.env, opts.roots.run));
    for (const dir of [opts.roots.state, opts.roots.run, opts.roots.log, dirname(socket)]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const manifestsDir = resolve(values.manifests ?? join(opts.roots.state, "manifests"));
    mkdirSync(manifestsDir, { recursive: true, mode: 0o700 });

    const imageImportDir = resolve(values["image-import"] ?? join(opts.roots.state, "image-import"));
    mkdirSync(imageImportDir, { recursive: true, mode: 0o700 });
    const registry = defaultRegistry(opts.roots.state, process.env, values);
    const percent = (flag: string, v: string | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!/^\d+$/.test(v) || Number(v) > 100) throw new PoddError(`invalid --${flag} "${v}": a percentage, 0 to 100`, { code: "Invalid" });
      return Number(v);
    };
    const imageGc = { high: percent("image-gc-high-threshold", values["image-gc-high-threshold"], 85), low: percent("image-gc-low-threshold", values["image-gc-low-threshold"], 80) };
    if (imageGc.low > imageGc.high) throw new PoddError(`--image-gc-low-threshold ${imageGc.low} is above --image-gc-high-threshold ${imageGc.high}`, { code: "Invalid" });
    // Read before anything starts: a key file that cannot be used must stop the daemon, not
    // leave secrets written in plain.
    const keyFile = values["encryption-provider-config"];
    const secretStorage = keyFile === undefined ? undefined : loadEncryptionConfig(resolve(keyFile));
    // Before the first spawn: what the daemon starts inherits it, and its own score is the
    // floor of what it can give a container (lowestOOMScoreAdj).
    try {
      setOwnOOMScoreAdj(ownScore);
    } catch (err) {
      log.warn(`cannot set the daemon's oom_score_adj to ${ownScore} (${(err as Error).message}): when memory runs out the kernel may kill it before the pods`);
    }
    const d = await Daemon.start({ ...opts, manifestsDir, imageImportDir, registry, imageGc, version: poddVersion(), ...(secretStorage ? { secretStorage } : {}) }, log);
    const floor = d.sup.runtime.oomScoreFloor;
    if (floor > -997) log.warn(`without CAP_SYS_RESOURCE podd cannot give a container an oom_score_adj below ${floor}: Guaranteed and node-critical pods get ${floor} instead of -997`);
    if (secretStorage) log.info(`secrets are stored encrypted (${secretStorage.writes}), as ${keyFile} says`);
    const api = new ApiServer(d, { socket, version: poddVersion(), ...(values.group ? { gid: groupId(values.group) } : {}) });
    try {
      await api.listen();
    } catch (err) {
      // The pods just taken up hold the event loop open (see the end of this verb): a daemon
      // that cannot serve exits here, leaving them running for the one that can.
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(1);
    }
    api.guardSocket((lost) => log.error(`the API socket ${lost} was removed (with the run root?): listening on a new one`));
    log.info(`podd ${poddVersion()} serving on ${socket}`, { state: opts.roots.state, run: opts.roots.run, log: opts.roots.log, manifests: manifestsDir, cgroups: `${d.sup.runtime.cgroups.version === 2 ? "v2" : "v1"} ${opts.cgroupParent}`, allocatable: `cpu=${d.sup.runtime.node.allocatable.milliCpu}m,memory=${d.sup.runtime.node.allocatable.memoryBytes}` });

    await new Promise<void>((done) => {
      const stop = (sig: string) => {
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onInt);
        log.info(`${sig}: stopping${values["stop-pods-on-exit"] ? " every pod, then the daemon" : " the daemon; pods keep running"}`);
        void api
          .close()
          .then(() => d.close(values["stop-pods-on-exit"] ?? false))
          .then(done, (err: unknown) => {
            log.error(`stopping: ${(err as Error).message}`);
            done();
          });
      };
      const onTerm = () => stop("SIGTERM");
      const onInt = () => stop("SIGINT");
      process.on("SIGTERM", onTerm);
      process.on("SIGINT", onInt);
    });
    // Pods left running still hold the event loop open: each monitor we spawned keeps a
    // ChildProcess handle and its pipes, each adopted one a pidfd watch, and back-off timers
    // wait. They are meant to outlive us, so exit rather than wait for them. winston's console
    // transport has written synchronously by now (stdout and stderr are files or pipes).
    process.exit(0);
  },
};
