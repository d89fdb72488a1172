// The effects a pod needs, gathered behind one object the pod worker drives: sandbox, volumes,
// cgroups, images, and starting, signalling and killing containers. Decisions stay in
// pod/lifecycle.ts; this module only does what it is told and reports what happened.
import { rfc3339Millis, systemClock, type Clock } from "../base/time.ts";
import { availableParallelism, hostname, release, totalmem } from "node:os";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerCgroupResources } from "../../pod-specs/cgroup-conversions.ts";
import { allocatableOf, parseMemTotal, sysctlAllowlist, type Requests, type SysctlAllowlist } from "../pod/admission.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import type { Container, Pod } from "../../pod-specs/types.ts";
import { DEFAULT_DEVICE_RULES } from "../cgroups/index.ts";
import type { CgroupLimits, CgroupManager } from "../cgroups/index.ts";
import { launch, readExitRecord, type ExitRecord, type MonitorHandle } from "./container.ts";
import { runChecked } from "../base/exec-file.ts";
import { Images } from "./images/service.ts";
import type { Image } from "./images/store.ts";
import type { Reference } from "./images/reference.ts";
import type { ImageSource } from "./images/source.ts";
import { readLayeredEtcFile } from "./passwd.ts";
import { stopSignalName } from "./images/config.ts";
import { hostRootTakesFile, planLaunch, SECCOMP_FILE } from "./launch.ts";
import { SeccompFilters } from "./seccomp/container-filter.ts";
import { readGroup, readPasswd } from "./passwd.ts";
import { execIdentityArgs, execSecurity, processSecurity, securityWidenings } from "../../pod-specs/security.ts";
import { Layout, type PodRef, type Roots } from "../base/paths.ts";
import { SandboxManager, type Sandbox } from "./sandbox.ts";
import { createTerminationLog, LOG_TAIL_READ_BYTES, logTailMessage, MAX_TERMINATION_MESSAGE_BYTES, readTail, terminationMessage } from "./termination-message.ts";
import type { Sys } from "../sys/index.ts";
import { VolumeManager } from "./volumes.ts";

/** A Pod whose identity is settled: namespace defaulted, uid assigned. */
export type BoundPod = Pod & { metadata: { namespace: string; uid: string; deletionTimestamp?: string; deletionGracePeriodSeconds?: number } };

export interface RuntimeOptions {
  roots: Roots;
  initPath: string;
  podPidsLimit: number;
  logMaxSize: number;
  logMaxFiles: number;
  /** the size of a pod's /dev/shm (Docker's and CRI-O's default is 64 MiB) */
  shmSize: number;
  /** where processes are looked up (start times of monitors to adopt, the cgroup of our own);
   * default /proc */
  procRoot?: string;
  /** --system-reserved and --kube-reserved: taken off the machine before pods are admitted */
  systemReserved?: Requests;
  kubeReserved?: Requests;
  /** --allowed-unsafe-sysctls: namespaced sysctls beyond the safe set that pods may set */
  allowedUnsafeSysctls?: readonly string[];
  /** what the runtime stamps on what it records itself (an exit nobody recorded); default the system's */
  clock?: Clock;
  /** where images of a registry come from; undefined: nothing is pulled */
  registry?: (ref: Reference) => ImageSource;
}

export interface NodeInfo {
  name: string;
  hostIP: string;
  /** the machine: the CPUs this process may run on, MemTotal */
  capacity: Requests;
  /** what pods may request: the capacity less the reservations */
  allocatable: Requests;
}

/**
 * The machine as the kubelet's node status sees it. CPUs are those the daemon may run on (its
 * affinity, which a cpuset cgroup narrows), not every CPU the kernel knows.
 */
export function hostNode(procRoot = "/proc", reserved: readonly Requests[] = []): NodeInfo {
  const capacity: Requests = { milliCpu: BigInt(availableParallelism()) * 1000n, memoryBytes: memTotal(procRoot) };
  return { name: hostname(), hostIP: "127.0.0.1", capacity, allocatable: allocatableOf(capacity, reserved) };
}

function memTotal(procRoot: string): bigint {
  const path = join(procRoot, "meminfo");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw PoddError.wrap(`read ${path}`, err);
  }
  // A kernel always has the line; without it, what libuv reads through sysinfo(2).
  return parseMemTotal(text) ?? BigInt(totalmem());
}

export function podRef(pod: BoundPod): PodRef {
  return { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}

/** What a running container run needs kept: the monitor and where its records are. */
export interface ContainerRun {
  monitor: MonitorHandle;
  stateDir: string;
  logPath: string;
  /** the identity its command was started with (status user.linux); unknown for an adopted run */
  user?: ContainerUser;
  /** what stops it: its image's StopSignal, else SIGTERM */
  stopSignal?: NodeJS.Signals;
  /** status imageID, as containerd reports it: the repository digest, else the config's */
  imageID?: string;
}

/** The identity a container's command was started with, as status.containerStatuses[].user.linux reports it. */
export interface ContainerUser {
  uid: number;
  gid: number;
  supplementalGroups: number[];
}

/** The cgroup of a pod's init (shareProcessNamespace): no container can be named so, "_" being no character of a DNS label. */
const POD_INIT_CGROUP = "pod_init";

export class Runtime {
  readonly layout: Layout;
  readonly sandboxes: SandboxManager;
  readonly volumes: VolumeManager;
  readonly images: Images;
  private readonly seccomp: SeccompFilters;
  readonly node: NodeInfo;
  /** the sysctls pods may set: the kubelet's safe set for this kernel and --allowed-unsafe-sysctls */
  readonly sysctls: SysctlAllowlist;

  constructor(
    readonly sys: Sys,
    readonly cgroups: CgroupManager,
    readonly opts: RuntimeOptions,
    /** a pod uses more of the host than podd gives by default: a hostPath, privileged, … */
    private readonly onWidening: (pod: PodRef, reason: string, message: string) => void = () => {},
  ) {
    this.layout = new Layout(opts.roots);
    this.sandboxes = new SandboxManager(sys, this.layout, opts.initPath);
    this.volumes = new VolumeManager(sys, this.layout, (pod, volume, path) => onWidening(pod, "HostPathMounted", `hostPath volume ${volume} uses host path ${path}`));
    this.images = new Images({ dir: this.layout.imagesDir(), initPath: opts.initPath, clock: opts.clock ?? systemClock, ...(opts.registry ? { registry: opts.registry } : {}) });
    this.seccomp = new SeccompFilters(this.layout.seccompDir());
    this.node = hostNode(opts.procRoot, [opts.systemReserved, opts.kubeReserved].filter((r) => r !== undefined));
    this.sysctls = sysctlAllowlist(release(), opts.allowedUnsafeSysctls);
  }

  sandboxSpec(pod: BoundPod) {
    return {
      pod: podRef(pod),
      hostname: pod.spec.hostname ?? pod.metadata.name,
      ...(pod.spec.subdomain ? { subdomain: pod.spec.subdomain } : {}),
      hostNetwork: pod.spec.hostNetwork ?? false,
      hostIPC: pod.spec.hostIPC ?? false,
      sharePid: pod.spec.shareProcessNamespace === true,
      hostAliases: (pod.spec.hostAliases ?? []).map((a) => ({ ip: a.ip, hostnames: a.hostnames ?? [] })),
      shmSize: this.opts.shmSize,
      sysctls: pod.spec.securityContext?.sysctls ?? [],
    };
  }

  /** Namespaces, pod cgroup and volumes; undone whole if any step fails. */
  async createSandbox(pod: BoundPod): Promise<Sandbox> {
    const ref = podRef(pod);
    // A daemon that crashed while creating this sandbox left part of it in the run dir (the
    // etc dir, pins bound or not): start from nothing, or mkdir fails with EEXIST and pins
    // would stack. Nothing runs in a pod whose sandbox is not ready, so nothing is lost.
    this.volumes.removeMemory(ref, pod);
    await this.sandboxes.destroy(this.sandboxSpec(pod));
    await this.cgroups.ensureParent();
    await this.cgroups.createPod(ref.uid, this.podLimits(pod));
    // Not awaited: the containers' cgroup joins come soon after (see prepareJoin).
    void this.cgroups.prepareJoin();
    // Runs while the sandbox's podd-init works, not before it: the first start of each
    // capability set then finds its seccomp program compiled.
    const warm = setImmediate(() => this.seccomp.prepare([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => processSecurity(pod, c))));
    try {
      this.volumes.prepare(ref, pod);
      const spec = this.sandboxSpec(pod);
      if (spec.sharePid) {
        // The pod's init is in a cgroup of its own inside the pod's, as the sandbox of the CRI
        // runtimes is: counted against the pod, ended by the pod's cgroup kill.
        await this.cgroups.createContainer(ref.uid, POD_INIT_CGROUP);
        return await this.sandboxes.create({ ...spec, podInitCgroups: this.cgroups.containerDirs(ref.uid, POD_INIT_CGROUP) });
      }
      return await this.sandboxes.create(spec);
    } catch (err) {
      clearImmediate(warm);
      await this.cgroups.remove(ref.uid);
      throw err;
    }
  }

  /**
   * Releases the namespaces and the pod cgroup. Disk emptyDirs stay until removePod; Memory
   * emptyDirs are mounts in the pod's run dir, which goes with the sandbox, so they go now.
   */
  async stopSandbox(pod: BoundPod): Promise<void> {
    const ref = podRef(pod);
    await this.cgroups.kill(ref.uid);
    this.volumes.removeMemory(ref, pod);
    await this.sandboxes.destroy(this.sandboxSpec(pod));
    await this.cgroups.remove(ref.uid);
  }

  /** Everything of the pod but its logs. */
  async removePod(pod: BoundPod): Promise<void> {
    await this.stopSandbox(pod);
    this.volumes.remove(podRef(pod), pod);
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) this.widened.delete(`${pod.metadata.uid}/${c.name}`);
    rmSync(this.layout.podStateDir(podRef(pod)), { recursive: true, force: true });
  }

  /**
   * Everything of a pod that no desired pod owns (the old half of a replace, or a delete, that
   * a crash interrupted), from what the run root and the cgroup tree still hold: no spec needed.
   */
  async removeOrphan(pod: PodRef): Promise<void> {
    await this.cgroups.kill(pod.uid);
    await this.sandboxes.destroyFound(pod);
    await this.cgroups.remove(pod.uid);
    rmSync(this.layout.podStateDir(pod), { recursive: true, force: true });
  }

  /** The pod's log directory, once nothing can ask for its logs any more (the pod is gone from the API). */
  removeLogs(pod: PodRef): void {
    rmSync(this.layout.podLogDir(pod), { recursive: true, force: true });
  }

  /** The signal that stops a container of this image (an adopted run's, whose start is not known): its StopSignal, else SIGTERM. */
  stopSignalOf(image: string): NodeJS.Signals {
    return (image === "host" ? undefined : stopSignalName(this.images.get(image)?.config.stopSignal)) ?? "SIGTERM";
  }

  /** /etc/passwd and /etc/group of an image as its overlay shows them; the host's for `image: host`. */
  private etcFiles(image: Image | "host"): { passwd: string | undefined; group: string | undefined } {
    if (image === "host") return { passwd: readPasswd("/"), group: readGroup("/") };
    const opaque = (dir: string) => this.sys.lgetxattr(dir, "trusted.overlay.opaque")?.toString() === "y";
    return { passwd: readLayeredEtcFile(image.layerDirs, "passwd", opaque), group: readLayeredEtcFile(image.layerDirs, "group", opaque) };
  }

  async startContainer(pod: BoundPod, container: Container, image: Image | "host", restartCount: number, volumeImages: ReadonlyMap<string, Image> = new Map()): Promise<ContainerRun> {
    const ref = podRef(pod);
    const runDir = this.layout.containerRunDir(ref, container.name);
    const layer = this.layout.containerLayerDir(ref, container.name);
    const upperDir = join(layer, "upper");
    const workDir = join(layer, "work");
    const rootfsMountPoint = join(runDir, "rootfs");
    const messagePath = container.terminationMessagePath;
    const terminationLog =
      messagePath && (image !== "host" || hostRootTakesFile(messagePath, isFile)) ? this.layout.terminationLogPath(ref, container.name) : undefined;
    const sandbox = this.sandboxes.paths(this.sandboxSpec(pod));
    // Before anything is made: a profile that cannot be read holds the container (CreateContainerConfigError).
    const filter = this.seccomp.forContainer(processSecurity(pod, container));
    const seccompFile = this.seccompFile(pod, container);
    const plan = planLaunch({
      pod,
      container,
      image: image === "host" ? undefined : image,
      sandbox,
      volumes: this.volumeSources(pod, volumeImages),
      cgroupDirs: this.cgroups.containerDirs(ref.uid, container.name),
      roots: this.opts.roots,
      stateDir: runDir,
      logPath: join(this.layout.containerLogDir(ref, container.name), `${restartCount}.log`),
      logMaxSize: this.opts.logMaxSize,
      logMaxFiles: this.opts.logMaxFiles,
      rootfsMountPoint,
      upperDir,
      workDir,
      terminationLog,
      ...(seccompFile ? { seccompFile } : {}),
      node: this.node,
      // The image's own files, as its overlay starts; the host's for `image: host`.
      ...this.etcFiles(image),
      layersDir: join(runDir, "layers"),
    });
    this.reportWidenings(pod, container);
    // The device allow-list for every container; a privileged one gets every device, as the kubelet's.
    const devices = container.securityContext?.privileged === true ? "all" : DEFAULT_DEVICE_RULES;
    const fresh = await this.cgroups.createContainer(ref.uid, container.name, containerLimits(container), devices);
    // Not awaited: the kernel's wait before PID 1's join runs beside the work below.
    void this.cgroups.prepareJoin();
    // A run that a daemon started and crashed before recording (between the spawn and the
    // write of observed.json) still runs in this cgroup, unknown to anyone: a start must never
    // put a second copy of the container beside it. Its monitor exits with its PID 1. A cgroup
    // made just now holds nothing.
    if (!fresh) await this.cgroups.kill(ref.uid, container.name);
    // A fresh run: the previous run's records and writable layer go (its log stays).
    rmSync(runDir, { recursive: true, force: true });
    rmSync(layer, { recursive: true, force: true });
    mkdirSync(rootfsMountPoint, { recursive: true, mode: 0o700 });
    if (filter && seccompFile) writeFileSync(seccompFile, filter, { mode: 0o600 });
    if (image !== "host") {
      mkdirSync(upperDir, { recursive: true, mode: 0o755 });
      mkdirSync(workDir, { recursive: true, mode: 0o700 });
    }
    if (terminationLog) {
      mkdirSync(layer, { recursive: true, mode: 0o700 });
      createTerminationLog(terminationLog);
    }
    const monitor = launch(this.opts.initPath, plan);
    const stopSignal = image === "host" ? undefined : stopSignalName(image.config.stopSignal);
    return {
      monitor,
      stateDir: runDir,
      logPath: plan.logPath,
      user: { uid: plan.security.uid, gid: plan.security.gid, supplementalGroups: plan.security.supplementalGroups },
      ...(stopSignal ? { stopSignal } : {}),
      ...(image === "host" ? {} : { imageID: image.record.digest ? `${image.name.replace(/[:@][^/]*$/, "")}@${image.record.digest}` : image.id }),
    };
  }

  /** containers whose widenings were reported, as "<pod uid>/<container>": once per pod, as hostPaths */
  private readonly widened = new Set<string>();

  private reportWidenings(pod: BoundPod, container: Container): void {
    const key = `${pod.metadata.uid}/${container.name}`;
    if (this.widened.has(key)) return;
    this.widened.add(key);
    for (const w of securityWidenings(pod, container)) this.onWidening(podRef(pod), w.reason, w.message);
  }

  private volumeSources(pod: BoundPod, images: ReadonlyMap<string, Image>): Map<string, string> {
    // prepare() is idempotent: it returns the existing paths after the sandbox made them.
    return this.volumes.prepare(podRef(pod), pod, images);
  }

  /**
   * The container's exit as the monitor recorded it, with OOMKilled from the cgroup's OOM-kill
   * counter, then the container cgroup is emptied and removed.
   */
  async finishContainer(pod: BoundPod, name: string, run: ContainerRun): Promise<ExitRecord> {
    const uid = pod.metadata.uid;
    let oomKills = 0;
    try {
      oomKills = (await this.cgroups.stats(uid, name)).oomKills;
    } catch (err) {
      // The cgroup can be gone already when the pod is being torn down: no OOM kill to report.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && (err as { errno?: string }).errno !== "ENOENT") throw err;
    }
    // remove() kills whatever is left first if the cgroup is busy; it is empty as a rule, the
    // PID namespace having ended with its PID 1.
    await this.cgroups.remove(uid, name);
    const rec = readExitRecord(run.stateDir) ?? unknownExit(run.monitor.stderr(), (this.opts.clock ?? systemClock).now());
    if (oomKills > 0 && rec.exitCode !== 0 && rec.reason !== "StartError") rec.reason = "OOMKilled";
    const container = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name);
    if (container && rec.reason !== "ContainerStatusUnknown") rec.message = this.terminationMessage(pod, container, rec, run.logPath);
    return rec;
  }

  /**
   * Read when the container has ended, from files that outlive the daemon (the termination log
   * beside the writable layer, the CRI log), so a container that ended while no daemon ran
   * gets its message from the daemon that adopts it.
   */
  private terminationMessage(pod: BoundPod, container: Container, rec: ExitRecord, logPath: string): string {
    const input = {
      policy: container.terminationMessagePolicy,
      exitCode: rec.exitCode,
      reason: rec.reason,
      runtimeMessage: rec.message,
      logTail: () => {
        if (!logPath) return "";
        try {
          const tail = readTail(logPath, LOG_TAIL_READ_BYTES);
          return tail ? logTailMessage(tail.data.toString("utf8"), tail.whole) : "";
        } catch (err) {
          return `Error on reading termination message from logs: ${(err as Error).message}`;
        }
      },
    };
    if (!container.terminationMessagePath) return terminationMessage({ ...input, file: undefined });
    const path = this.layout.terminationLogPath(podRef(pod), container.name);
    try {
      const tail = readTail(path, MAX_TERMINATION_MESSAGE_BYTES);
      return terminationMessage({ ...input, file: tail?.data.toString("utf8") });
    } catch (err) {
      // What the kubelet reports when the file cannot be read; no fallback then.
      return `Error on reading termination log ${path}: ${(err as Error).message}`;
    }
  }

  /** Every process of the container's cgroup: the end of a grace period. */
  async killContainer(pod: BoundPod, name: string): Promise<void> {
    await this.cgroups.kill(pod.metadata.uid, name);
  }

  /**
   * The podd-init options that make a process run in the container as its own processes do:
   * user, capabilities, no_new_privs and the seccomp filter its run installed.
   */
  execIdentity(pod: BoundPod, container: Container, started?: { uid?: number; gid?: number; supplementalGroups?: number[] }): string[] {
    return execIdentityArgs(execSecurity(pod, container, started), this.seccompFile(pod, container));
  }

  /** Where the container's run keeps its compiled filter; undefined when it has none (Unconfined). */
  private seccompFile(pod: BoundPod, container: Container): string | undefined {
    if (processSecurity(pod, container).seccomp.type === "Unconfined") return undefined;
    return join(this.layout.containerRunDir(podRef(pod), container.name), SECCOMP_FILE);
  }

  /** Runs a command inside a running container (hooks) as its processes run, killed when the time limit passes. */
  async execIn(pid1: number, identity: string[], argv: string[], timeoutMs: number): Promise<void> {
    await runChecked(`exec ${argv.join(" ")}`, this.opts.initPath, ["exec", "--pid", String(pid1), ...identity, "--", ...argv], { timeoutMs: Math.max(1, timeoutMs) });
  }

  private podLimits(pod: BoundPod): CgroupLimits {
    const limits: CgroupLimits = { pidsMax: this.opts.podPidsLimit };
    const r = pod.spec.resources;
    if (r) {
      const res = containerCgroupResources(r);
      if (res.memoryLimitBytes !== null) limits.memoryMax = Number(res.memoryLimitBytes);
      if (res.cpuQuotaUs !== null) {
        limits.cpuQuotaUs = res.cpuQuotaUs;
        limits.cpuPeriodUs = res.cpuPeriodUs;
      }
      limits.cpuShares = res.cpuShares;
      limits.cpuWeight = res.cpuWeight;
    }
    return limits;
  }
}

export function containerLimits(c: Container): CgroupLimits {
  const res = containerCgroupResources(c.resources);
  const limits: CgroupLimits = { cpuShares: res.cpuShares, cpuWeight: res.cpuWeight };
  if (res.memoryLimitBytes !== null) limits.memoryMax = Number(res.memoryLimitBytes);
  if (res.cpuQuotaUs !== null) {
    limits.cpuQuotaUs = res.cpuQuotaUs;
    limits.cpuPeriodUs = res.cpuPeriodUs;
  }
  return limits;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (err) {
    // Not there, or a file where the path needs a directory: nothing to bind onto.
    if (hasErrno(err, "ENOENT") || hasErrno(err, "ENOTDIR")) return false;
    throw PoddError.wrap(`stat ${path}`, err);
  }
}

/** The kubelet's verdict for a container whose end nobody recorded. */
function unknownExit(monitorStderr: string, nowMs: number): ExitRecord {
  const now = rfc3339Millis(nowMs);
  return {
    exitCode: 137,
    signal: 0,
    startedAt: now,
    finishedAt: now,
    reason: "ContainerStatusUnknown",
    message: monitorStderr.trim() || "The container could not be located when the pod was terminated",
  };
}
