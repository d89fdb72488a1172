// Starting one container: a `podd-init container` monitor per container run, started in its
// own session so that a daemon crash, restart or Ctrl-C does not touch it. The monitor records
// start and exit atomically in the container's run dir (start.json, exit.json) and writes the
// CRI log; this module launches it (and takes over one an earlier daemon launched), and
// records.ts reads those records back.
import { usernsArgs } from "./sandbox.ts";
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { constants as osConstants } from "node:os";
import { PoddError } from "../base/errors.ts";
import type { Sys } from "../sys/index.ts";
import { monitorLogPath, readMonitorLog, readStartRecord, type StartRecord } from "./records.ts";
import { execIdentityArgs, type ProcessSecurity } from "../../pod-specs/security.ts";

/** Everything podd-init needs to start a container; built by launch.ts from the pod spec. */
export interface LaunchPlan {
  /** container run dir: start.json, exit.json */
  stateDir: string;
  logPath: string;
  logMaxSize: number;
  logMaxFiles: number;
  ns: { net?: string; ipc?: string; uts?: string; pid?: string; user?: string };
  /** hostUsers: false: the host id of root in the user namespace ns.user */
  usernsBase?: number;
  /** hostPID: the host's PID namespace instead of one of the container's own */
  hostPid: boolean;
  cgroupDirs: string[];
  rootfs: RootfsPlan;
  binds: BindPlan[];
  tmpfs: TmpfsPlan[];
  /** paths of the host to hide from a host-rootfs container (podd's own roots) */
  hide: string[];
  /** the pod's shared /dev/shm; undefined gives the container a private one */
  shm: string | undefined;
  argv: string[];
  env: string[];
  cwd: string;
  /** user, capabilities, no_new_privs, seccomp profile */
  security: ProcessSecurity;
  /** the compiled seccomp filter in the run dir; undefined: none (Unconfined) */
  seccompFile: string | undefined;
  /** the AppArmor profile of the command; undefined: none */
  appArmor: string | undefined;
  /** the oom_score_adj of the command, which its children inherit */
  oomScoreAdj: number;
}

export type RootfsPlan =
  | { kind: "host"; mountPoint: string }
  /** layersDir holds entries 0..N-1, links to the image's layers, top first (linkLayers makes them) */
  | { kind: "image"; mountPoint: string; layers: string[]; layersDir: string; upper: string; work: string; readOnly: boolean };

export interface BindPlan {
  source: string;
  target: string;
  readOnly: boolean;
  /** a path inside source (the volume's subPath), which podd-init resolves beneath it */
  subPath?: string;
  /** idmapped to the pod's user namespace: ids on disk are the container's ids (a claim's, with hostUsers: false) */
  idmap?: boolean;
  /** source is a directory of links to an image's layers, for podd-init to stack idmapped (an image volume, with hostUsers: false) */
  imageLayers?: boolean;
}

export interface TmpfsPlan {
  target: string;
  options: string;
}

/** Turns a plan into podd-init's command line (configuration as arguments, not JSON). */
export function initArgs(plan: LaunchPlan, notifyFd: number): string[] {
  for (const p of [...plan.binds.flatMap((b) => [b.source, b.target, ...(b.subPath ? [b.subPath] : [])]), ...plan.tmpfs.map((t) => t.target)]) {
    if (p.includes(":")) throw new PoddError(`path "${p}" contains ":", which podd cannot mount`, { code: "Invalid" });
  }
  const a = ["container", "--state-dir", plan.stateDir, "--notify-fd", String(notifyFd)];
  a.push("--log", plan.logPath, "--log-max-size", String(plan.logMaxSize), "--log-max-files", String(plan.logMaxFiles));
  for (const kind of ["net", "ipc", "uts", "pid"] as const) {
    const pin = plan.ns[kind];
    if (pin) a.push(`--${kind}`, pin);
  }
  if (plan.hostPid) a.push("--host-pid");
  // hostUsers: false: the command joins the pod's user namespace; the image's layers are idmapped to it.
  a.push(...usernsArgs(plan));
  for (const dir of plan.cgroupDirs) a.push("--cgroup", dir);
  a.push("--rootfs", plan.rootfs.mountPoint);
  if (plan.rootfs.kind === "host") {
    a.push("--host-rootfs");
  } else {
    a.push("--image-layers", plan.rootfs.layersDir, "--upper", plan.rootfs.upper, "--work", plan.rootfs.work);
    if (plan.rootfs.readOnly) a.push("--readonly-rootfs");
  }
  if (plan.security.privileged) a.push("--privileged");
  for (const h of plan.hide) a.push("--hide", h);
  if (plan.shm) a.push("--shm", plan.shm);
  // podd-init mounts in argument order, and a tmpfs replaces whatever is under its target:
  // the host root's /tmp, /run and /var/tmp go first, so that volumes can be mounted in them.
  for (const t of plan.tmpfs) a.push("--tmpfs", t.options ? `${t.target}:${t.options}` : t.target);
  for (const b of plan.binds) a.push(b.imageLayers ? "--image-volume" : b.idmap ? "--idmap-bind" : "--bind", `${b.source}:${b.target}${b.subPath ? `:${b.readOnly ? "ro" : "rw"}:${b.subPath}` : b.readOnly ? ":ro" : ""}`);
  a.push("--cwd", plan.cwd, ...execIdentityArgs(plan.security, plan.seccompFile, plan.appArmor), "--oom-score-adj", String(plan.oomScoreAdj));
  a.push("--", ...plan.argv);
  return a;
}

export interface MonitorHandle {
  monitorPid: number;
  /** resolves with the start record once the command was exec'd, or undefined if it never was */
  started: Promise<StartRecord | undefined>;
  /** resolves when the monitor has ended (the exit record is then on disk) */
  ended: Promise<void>;
  /** the monitor's own complaints (one line when a container cannot start) */
  stderr(): string;
  /** Signals the monitor, which relays to the container's PID 1; false once it has ended. */
  signal(sig: NodeJS.Signals): boolean;
}

/**
 * The image's layers as layersDir/0 (the top one), 1, …: podd-init names them relative to
 * layersDir in the overlay's mount options, which must fit in one page however deep the image.
 */
export function linkLayers(layersDir: string, layers: readonly string[]): void {
  mkdirSync(layersDir, { recursive: true, mode: 0o700 });
  [...layers].reverse().forEach((dir, i) => symlinkSync(dir, join(layersDir, String(i))));
}

/** Starts the monitor. It detaches into its own session; we only keep a pipe for its start notice. */
export function launch(initPath: string, plan: LaunchPlan): MonitorHandle {
  mkdirSync(plan.stateDir, { recursive: true, mode: 0o700 });
  if (plan.rootfs.kind === "image") linkLayers(plan.rootfs.layersDir, plan.rootfs.layers);
  mkdirSync(join(plan.logPath, ".."), { recursive: true, mode: 0o755 });
  const notifyFd = 3;
  // The monitor's own complaints go to a file beside its records, not to a pipe: they outlive
  // this daemon (a successor reads them), and a pipe per container would hold a stream and
  // its buffers in the daemon for the container's whole life.
  const stderrFd = openSync(monitorLogPath(plan.stateDir), "a", 0o600);
  let child;
  try {
    child = spawn(initPath, initArgs(plan, notifyFd), {
      detached: true,
      stdio: ["ignore", "ignore", stderrFd, "pipe"],
      env: Object.fromEntries(plan.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
    });
  } finally {
    closeSync(stderrFd);
  }
  if (child.pid === undefined) throw new PoddError(`start ${initPath}: spawn failed`);
  const monitorPid = child.pid;
  const notice = child.stdio[3] as NodeJS.ReadableStream;
  const started = new Promise<StartRecord | undefined>((resolve) => {
    let text = "";
    notice.setEncoding("utf8");
    notice.on("data", (d: string) => (text += d));
    notice.on("end", () => {
      try {
        resolve(text.trim() ? (JSON.parse(text) as StartRecord) : undefined);
      } catch {
        // A torn notice can only come from a monitor that died while writing it; the
        // start record on disk is authoritative then.
        resolve(readStartRecord(plan.stateDir));
      }
    });
    notice.on("error", () => resolve(readStartRecord(plan.stateDir)));
  });
  const ended = new Promise<void>((resolve) => child.on("close", () => resolve()));
  // ChildProcess.kill never signals a pid after Node reaped it, so a reused pid is safe.
  const signal = (sig: NodeJS.Signals) => child.exitCode === null && child.signalCode === null && child.kill(sig);
  return { monitorPid, started, ended, stderr: () => readMonitorLog(plan.stateDir), signal };
}

/**
 * Takes over a monitor started by an earlier daemon: watched by pidfd (no polling, and a
 * signal can never hit a reused pid). The caller has checked the pid against its start time;
 * undefined when it has exited since.
 */
export function adoptMonitor(sys: Sys, stateDir: string, monitorPid: number): MonitorHandle | undefined {
  const pidfd = sys.pidfdOpen(monitorPid);
  if (pidfd === null) return undefined;
  let exited = false;
  const ended = new Promise<void>((resolve) =>
    sys.watchExit(pidfd, () => {
      exited = true;
      resolve();
    }),
  );
  return {
    monitorPid,
    // Adopted while starting (the daemon died between spawn and exec): start.json says whether
    // it got there; if not, the exit record will tell.
    started: Promise.resolve(readStartRecord(stateDir)),
    ended,
    stderr: () => readMonitorLog(stateDir),
    signal: (sig) => !exited && sys.pidfdSendSignal(pidfd, osConstants.signals[sig]),
  };
}
