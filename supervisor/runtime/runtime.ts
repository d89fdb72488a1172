// The effects a pod needs, gathered behind one object the pod worker drives: sandbox, volumes,
// cgroups, images, and starting, signalling and killing containers. Decisions stay in
// pod/lifecycle.ts; this module only does what it is told and reports what happened.
import { pullSecretCredentials } from "./images/auth.ts";
import type { CredentialsOf } from "./images/registry.ts";
import { rfc3339Millis, systemClock, type Clock } from "../base/time.ts";
import { availableParallelism, hostname, release, totalmem } from "node:os";
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerCgroupResources } from "../../pod-specs/cgroup-conversions.ts";
import { allocatableOf, parseMemTotal, sysctlAllowlist, type Requests, type SysctlAllowlist } from "../pod/admission.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import type { Container, HTTPGetAction, Pod, Probe } from "../../pod-specs/types.ts";
import { compileProbe, execInContainer, httpProbe, type ProbeOutcome, type ProbeTarget } from "./probe.ts";
import { encodeExec, ProbeRunner, type EncodedCheck } from "./probe-runner.ts";
import { DEFAULT_DEVICE_RULES } from "../cgroups/index.ts";
import type { CgroupLimits, CgroupManager } from "../cgroups/index.ts";
import { adoptMonitor, launch, type MonitorHandle } from "./container.ts";
import { PodRecords, readExitRecord, readMonitorLog, readRunRecord, readStartRecord, writeRunRecord, type ExitRecord } from "./records.ts";
import { runChecked } from "../base/exec-file.ts";
import { isSameProcess, lowestOOMScoreAdj, readProcStat } from "../base/proc.ts";
import { recordedUsernsBase, releaseUsernsBase, usernsBase, UsernsRegistry } from "./userns.ts";
import { containerOOMScoreAdj } from "../status/qos.ts";
import { Images } from "./images/service.ts";
import type { Image } from "./images/store.ts";
import type { Reference } from "./images/reference.ts";
import type { ImageSource } from "./images/source.ts";
import { readLayeredEtcFile } from "./passwd.ts";
import { stopSignalName } from "./images/config.ts";
import { AppArmor, type AppArmorPaths } from "./apparmor.ts";
import { hostRootTakesFile, planLaunch, SECCOMP_FILE } from "./launch.ts";
import { SeccompFilters } from "./seccomp/container-filter.ts";
import { readGroup, readPasswd } from "./passwd.ts";
import { appArmorProfileName, execIdentityArgs, execSecurity, processSecurity, securityWidenings } from "../../pod-specs/security.ts";
import { Layout, type PodRef, type Roots } from "../base/paths.ts";
import { SandboxError, SandboxManager, usernsArgs, type Sandbox } from "./sandbox.ts";
import { boundLogRoot, removeStaleRunLogs } from "./logs.ts";
import { createTerminationLog, LOG_TAIL_READ_BYTES, logTailMessage, MAX_TERMINATION_MESSAGE_BYTES, readTail, terminationMessage } from "./termination-message.ts";
import type { Sys } from "../sys/index.ts";
import { VolumeManager } from "./volumes.ts";
import { NO_OBJECTS, type PodObjects } from "./config-volumes.ts";
import { PodNetwork, resultIPs, type PortMapping } from "./network/network.ts";
import { hostAddress } from "./network/host-address.ts";
import { formatResolvConf, parseResolvConf, podDnsConfig } from "./network/dns.ts";
import { hostsFile, type HostsEntry } from "./network/hosts.ts";
import { hostPortsOf } from "../pod/admission.ts";
import type { PodEvent } from "../daemon/events.ts";

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
  /** where the host's AppArmor is looked for (HOST_APPARMOR) */
  appArmorPaths?: AppArmorPaths;
  /** --userns-registry: where every podd on the host claims user namespace ranges (DEFAULT_USERNS_REGISTRY) */
  usernsRegistry?: string;
  /** what the runtime stamps on what it records itself (an exit nobody recorded); default the system's */
  clock?: Clock;
  /** where images of a registry come from; undefined: nothing is pulled */
  registry?: (ref: Reference, credentials?: CredentialsOf) => ImageSource;
  /**
   * pod networking; unset fields: podd's own network, Debian's plugin directory then
   * /opt/cni/bin, 60 s per plugin call. none: no CNI at all, pods have only their loopback.
   */
  network?: { none?: boolean; confDir?: string; binDirs?: string[]; timeoutMs?: number };
}

/** Where the CNI plugins are looked for: Debian's package, then the upstream tarball's place. */
export const DEFAULT_CNI_BIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"];
/** Where every podd on the host claims the user namespace ranges of its hostUsers: false pods. */
export const DEFAULT_USERNS_REGISTRY = "/var/lib/podd-userns";

/** podd's own network (conflist.ts says why this subnet) */
const DEFAULT_BRIDGE = "podd0";
const DEFAULT_SUBNET = "10.87.0.0/16";
/** the limit of one plugin call, as containerd's CNI setup has none shorter than the kubelet's 2 min request */
const DEFAULT_CNI_TIMEOUT_MS = 60_000;

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
  return { name: nodeName(), hostIP: hostAddress(procRoot), capacity, allocatable: allocatableOf(capacity, reserved) };
}

/** The node's name as the kubelet takes it from the hostname: trimmed and lower-case (a DNS subdomain). */
export function nodeName(): string {
  return hostname().trim().toLowerCase();
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

/** A pod uid as podd assigns them (randomUUID), whether it runs them for the daemon or podd run. */
const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class Runtime {
  readonly layout: Layout;
  /** observed.json and ended.json of every pod */
  readonly records: PodRecords;
  readonly sandboxes: SandboxManager;
  readonly volumes: VolumeManager;
  readonly images: Images;
  private readonly seccomp: SeccompFilters;
  readonly node: NodeInfo;
  /** every probe's exec, TCP and plain HTTP check, in one podd-init prober */
  readonly checks: ProbeRunner;
  /** the lowest oom_score_adj podd can give a container (lowestOOMScoreAdj) */
  readonly oomScoreFloor: number;
  /** the sysctls pods may set: the kubelet's safe set for this kernel and --allowed-unsafe-sysctls */
  readonly sysctls: SysctlAllowlist;
  /** why the host cannot confine containers with AppArmor; undefined: it can */
  readonly appArmorUnavailable: string | undefined;
  private readonly appArmor: AppArmor | undefined;
  readonly network: PodNetwork;
  /** the pods with a sandbox, by uid: what the /etc/hosts of the pods of their namespace list */
  private readonly addressed = new Map<string, { pod: BoundPod; ips: readonly string[] }>();

  constructor(
    readonly sys: Sys,
    readonly cgroups: CgroupManager,
    readonly opts: RuntimeOptions,
    /** what the runtime tells about a pod: a widening (a hostPath, privileged, …), a DNS warning */
    private readonly report: (pod: PodRef, type: PodEvent["type"], reason: string, message: string) => void = () => {},
  ) {
    const onWidening = (pod: PodRef, reason: string, message: string) => report(pod, "Normal", reason, message);
    this.onWidening = onWidening;
    this.layout = new Layout(opts.roots);
    this.records = new PodRecords(this.layout);
    const cni = this.layout.cniStateDir();
    this.network = new PodNetwork({
      confDir: opts.network?.confDir ?? join(cni, "net.d"),
      ownConfDir: opts.network?.confDir === undefined,
      binDirs: opts.network?.binDirs ?? DEFAULT_CNI_BIN_DIRS,
      stateDir: cni,
      runDir: this.layout.cniRunDir(),
      timeoutMs: opts.network?.timeoutMs ?? DEFAULT_CNI_TIMEOUT_MS,
      defaults: { bridge: DEFAULT_BRIDGE, subnet: DEFAULT_SUBNET, leaseDir: join(cni, "networks") },
    });
    this.sandboxes = new SandboxManager(sys, this.layout, opts.initPath);
    this.node = hostNode(opts.procRoot, [opts.systemReserved, opts.kubeReserved].filter((r) => r !== undefined));
    this.oomScoreFloor = lowestOOMScoreAdj(opts.procRoot);
    this.checks = new ProbeRunner(opts.initPath);
    const clock = opts.clock ?? systemClock;
    this.volumes = new VolumeManager(
      sys,
      this.layout,
      (pod, volume, path) => onWidening(pod, "HostPathMounted", `hostPath volume ${volume} uses host path ${path}`),
      { cpu: `${this.node.allocatable.milliCpu}m`, memory: String(this.node.allocatable.memoryBytes) },
      () => clock.now(),
    );
    this.images = new Images({ dir: this.layout.imagesDir(), initPath: opts.initPath, clock: opts.clock ?? systemClock, ...(opts.registry ? { registry: opts.registry } : {}) });
    this.seccomp = new SeccompFilters(this.layout.seccompDir());
    this.volumes.idBase = (ref) => this.idBases.get(ref.uid) ?? recordedUsernsBase(this.layout, ref) ?? 0;
    this.sysctls = sysctlAllowlist(release(), opts.allowedUnsafeSysctls);
    const appArmor = AppArmor.probe(opts.appArmorPaths);
    this.appArmor = appArmor instanceof AppArmor ? appArmor : undefined;
    this.appArmorUnavailable = appArmor instanceof AppArmor ? undefined : appArmor.unavailable;
    this.usernsRegistry = new UsernsRegistry(opts.usernsRegistry ?? DEFAULT_USERNS_REGISTRY, sys);
  }

  private readonly onWidening: (pod: PodRef, reason: string, message: string) => void;

  private objects: PodObjects = NO_OBJECTS;

  /** Where configMaps, secrets and claims come from: the daemon's store (podd run has none). */
  setObjects(objects: PodObjects): void {
    this.objects = objects;
    this.volumes.objects = objects;
  }

  /** A ConfigMap's or a Secret's data as a container's env reads it: text, decoded. */
  private envData(namespace: string, kind: "ConfigMap" | "Secret", name: string): Record<string, string> | undefined {
    if (kind === "ConfigMap") return this.objects.configMap(namespace, name)?.data ?? (this.objects.configMap(namespace, name) ? {} : undefined);
    const s = this.objects.secret(namespace, name);
    if (!s) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
    return out;
  }

  /**
   * The credentials of the pod's image pull secrets, before the daemon's own; undefined when it
   * names none. A secret that is missing or unusable is warned of, and the pull goes on without
   * it, as the kubelet's does.
   */
  pullCredentials(pod: BoundPod): CredentialsOf | undefined {
    const names = (pod.spec.imagePullSecrets ?? []).map((s) => s.name ?? "").filter((n) => n !== "");
    if (names.length === 0) return undefined;
    const ref = podRef(pod);
    const found = names.flatMap((name) => {
      const s = this.objects.secret(ref.namespace, name) as { type?: string; data?: Record<string, string> } | undefined;
      return s ? [{ name, ...(s.type !== undefined ? { type: s.type } : {}), ...(s.data ? { data: s.data } : {}) }] : [];
    });
    const missing = names.filter((n) => !found.some((f) => f.name === n));
    if (missing.length) this.report(ref, "Warning", "FailedToRetrieveImagePullSecret", `Unable to retrieve some image pull secrets (${missing.join(", ")}); attempting to pull the image may not succeed.`);
    return pullSecretCredentials(found, (name, why) => this.report(ref, "Warning", "FailedToRetrieveImagePullSecret", `image pull secret ${name} is not used: ${why}`));
  }

  /** Writes the object volumes of a pod with a sandbox again; the volumes that changed. */
  refreshVolumes(pod: BoundPod): string[] {
    return this.volumes.refresh(podRef(pod), pod);
  }

  sandboxSpec(pod: BoundPod) {
    return {
      pod: podRef(pod),
      hostname: pod.spec.hostname ?? pod.metadata.name,
      hostNetwork: pod.spec.hostNetwork ?? false,
      hostIPC: pod.spec.hostIPC ?? false,
      sharePid: pod.spec.shareProcessNamespace === true,
      shmSize: this.opts.shmSize,
      sysctls: pod.spec.securityContext?.sysctls ?? [],
      ...(pod.spec.hostUsers === false ? { usernsBase: this.idBaseOf(pod) } : {}),
    };
  }

  /** The host id of the pod's root: 0, or with hostUsers: false its user namespace's first id. */
  idBaseOf(pod: BoundPod): number {
    if (pod.spec.hostUsers !== false) return 0;
    let base = this.idBases.get(pod.metadata.uid);
    if (base === undefined) this.idBases.set(pod.metadata.uid, (base = usernsBase(this.layout, podRef(pod), this.usernsRegistry)));
    return base;
  }

  /** every podd's claims of user namespace ranges on this host */
  private readonly usernsRegistry: UsernsRegistry;
  /** the user namespace ranges of the pods, by uid (userns.ts keeps them on disk) */
  private readonly idBases = new Map<string, number>();

  /**
   * Namespaces, pod cgroup, volumes and the pod's network; undone whole if any step fails.
   * Resolves with the pod's addresses.
   */
  async createSandbox(pod: BoundPod): Promise<{ podIPs: string[] }> {
    const ref = podRef(pod);
    // A daemon that crashed while creating this sandbox left part of it in the run dir (the
    // etc dir, pins bound or not) and perhaps a network attachment: start from nothing, or
    // mkdir fails with EEXIST, pins would stack and an address would leak. Nothing runs in a
    // pod whose sandbox is not ready, so nothing is lost.
    this.volumes.removeMemory(ref, pod);
    await this.detachNetwork(pod);
    await this.sandboxes.destroy(this.sandboxSpec(pod));
    await this.cgroups.ensureParent();
    await this.cgroups.createPod(ref.uid, this.podLimits(pod));
    // Not awaited: the containers' cgroup joins come soon after (see prepareJoin).
    void this.cgroups.prepareJoin();
    // Runs while the sandbox's podd-init works, not before it: the first start of each
    // capability set then finds its seccomp program compiled.
    const warm = setImmediate(() => this.seccomp.prepare([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => processSecurity(pod, c))));
    const spec = this.sandboxSpec(pod);
    try {
      this.volumes.prepare(ref, pod);
      // The pod's init is in a cgroup of its own inside the pod's, as the sandbox of the CRI
      // runtimes is: counted against the pod, ended by the pod's cgroup kill.
      if (spec.sharePid) await this.cgroups.createContainer(ref.uid, POD_INIT_CGROUP);
      const sb = await this.sandboxes.create(spec.sharePid ? { ...spec, podInitCgroups: this.cgroups.containerDirs(ref.uid, POD_INIT_CGROUP) } : spec);
      try {
        const podIPs = await this.connect(pod, sb);
        await this.sandboxes.setSysctls(spec, sb);
        // The pod's own files are its root's, as they are root's in a pod of the host's ids.
        const base = this.idBaseOf(pod);
        if (base !== 0) for (const f of [sb.hosts, sb.hostname, sb.resolvConf]) chownSync(f, base, base);
        return { podIPs };
      } catch (err) {
        await this.detachNetwork(pod).catch((delErr: unknown) => {
          throw new PoddError(`${(err as Error).message}; tearing the network down also failed: ${(delErr as Error).message}`, { cause: err });
        });
        await this.sandboxes.destroy(spec);
        throw err;
      }
    } catch (err) {
      clearImmediate(warm);
      await this.cgroups.remove(ref.uid);
      throw err;
    }
  }

  /**
   * ADD to the CNI network (not with hostNetwork), then the pod's /etc/resolv.conf and
   * /etc/hosts, which name what the network gave it. A failed ADD has been undone by the network.
   */
  private async connect(pod: BoundPod, sb: Sandbox): Promise<string[]> {
    const ref = podRef(pod);
    const dns = podDnsConfig(pod, parseResolvConf(this.sandboxes.hostResolvConf()));
    for (const w of dns.warnings) this.report(ref, "Warning", w.reason, w.message);
    let ips = [this.node.hostIP];
    if (sb.ns.net && this.opts.network?.none) {
      ips = [];
      const ports = portMappingsOf(pod);
      if (ports.length > 0) {
        throw new SandboxError(`pod ${ref.namespace}/${ref.name} publishes hostPort ${ports[0]!.hostPort}/${ports[0]!.protocol.toUpperCase()}, which needs a pod network; this podd runs with --pod-network none`);
      }
    } else if (sb.ns.net) {
      try {
        const attached = await this.network.attach({
          pod: ref,
          netns: sb.ns.net,
          portMappings: portMappingsOf(pod),
          dns: { servers: dns.config.servers, searches: dns.config.searches, options: dns.config.options },
        });
        ips = podAddresses(attached.result);
      } catch (err) {
        throw new SandboxError(`set up the network of pod ${ref.namespace}/${ref.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.sandboxes.writeFile(sb.resolvConf, formatResolvConf(dns.config));
    this.addressed.set(ref.uid, { pod, ips });
    this.writeHosts(pod, true);
    // The other pods of the namespace learn of this one (its own file is rewritten too: harmless).
    this.refreshHosts(ref.namespace);
    return ips;
  }

  /**
   * A sandbox a previous daemon made: its addresses from the network's records, its place in
   * the hosts files of its namespace, and CHECK of its attachment; the failure of CHECK, or
   * undefined when the attachment is as it was made.
   */
  async adoptSandbox(pod: BoundPod): Promise<{ podIPs: string[]; checkFailed?: string }> {
    // Its ids claimed in the host's registry again (a podd that ran before the registry did
    // never claimed them): a conflict is the pod's error, as it is at a start.
    if (pod.spec.hostUsers === false) this.idBaseOf(pod);
    const ref = podRef(pod);
    const hostNetwork = pod.spec.hostNetwork === true;
    const ips = hostNetwork ? [this.node.hostIP] : podAddresses(this.network.completeOf(ref.uid)?.result);
    this.addressed.set(ref.uid, { pod, ips });
    this.refreshHosts(ref.namespace);
    // Nothing to check: no network namespace of its own, or one made with --pod-network none.
    if (hostNetwork || (this.opts.network?.none && !this.network.completeOf(ref.uid))) return { podIPs: ips };
    const checkFailed = await this.network.check(ref.uid);
    return { podIPs: ips, ...(checkFailed ? { checkFailed } : {}) };
  }

  /** The pod's addresses while it has a sandbox (for status.podIP in its containers' env). */
  podIPs(pod: BoundPod): readonly string[] {
    return this.addressed.get(pod.metadata.uid)?.ips ?? [];
  }

  /** DEL of the pod's attachments; throws while one fails (its records stay, for the next try). */
  private async detachNetwork(pod: Pick<BoundPod, "metadata">): Promise<void> {
    const { uid, namespace } = pod.metadata;
    if (this.addressed.delete(uid)) this.refreshHosts(namespace);
    try {
      await this.network.detachPod(uid);
    } catch (err) {
      throw new SandboxError(`tear down the network of pod ${namespace}/${pod.metadata.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  private writeHosts(pod: BoundPod, create: boolean): void {
    const self = this.addressed.get(pod.metadata.uid);
    if (!self) return;
    const { namespace, uid } = pod.metadata;
    const peers: HostsEntry[] = [];
    for (const [other, a] of this.addressed) {
      if (other === uid || a.pod.metadata.namespace !== namespace) continue;
      peers.push(hostsEntry(a.pod, a.ips));
    }
    const text = hostsFile({
      ...hostsEntry(pod, self.ips),
      hostAliases: (pod.spec.hostAliases ?? []).map((a) => ({ ip: a.ip, hostnames: a.hostnames ?? [] })),
      ...(pod.spec.hostNetwork ? { hostFile: this.sandboxes.hostHosts() } : {}),
      peers,
    });
    const path = this.sandboxes.paths(this.sandboxSpec(pod)).hosts;
    this.sandboxes.writeFile(path, text, create);
  }

  /** namespaces whose hosts files are to be rewritten, once the current burst of changes is over */
  private readonly staleHosts = new Set<string>();
  private hostsTimer: NodeJS.Immediate | undefined;

  /** Rewrites the hosts files of the namespace's pods soon, once for a burst of changes. */
  private refreshHosts(namespace: string): void {
    this.staleHosts.add(namespace);
    this.hostsTimer ??= setImmediate(() => {
      this.hostsTimer = undefined;
      const namespaces = [...this.staleHosts];
      this.staleHosts.clear();
      for (const a of this.addressed.values()) {
        if (!namespaces.includes(a.pod.metadata.namespace)) continue;
        try {
          this.writeHosts(a.pod, false);
        } catch (err) {
          this.report(podRef(a.pod), "Warning", "FailedSync", `update /etc/hosts: ${(err as Error).message}`);
        }
      }
    });
  }

  /**
   * Releases the namespaces, the network attachment and the pod cgroup. Disk emptyDirs stay
   * until removePod; Memory emptyDirs are mounts in the pod's run dir, which goes with the
   * sandbox, so they go now. A DEL that fails stops here, the namespaces still pinned (the
   * plugins are given them again), and the caller retries.
   */
  async stopSandbox(pod: BoundPod): Promise<void> {
    const ref = podRef(pod);
    await this.cgroups.kill(ref.uid);
    this.volumes.removeMemory(ref, pod);
    await this.detachNetwork(pod);
    await this.sandboxes.destroy(this.sandboxSpec(pod));
    await this.cgroups.remove(ref.uid);
  }

  /** Everything of the pod but its logs. */
  async removePod(pod: BoundPod): Promise<void> {
    await this.stopSandbox(pod);
    this.idBases.delete(pod.metadata.uid);
    releaseUsernsBase(this.layout, podRef(pod), this.usernsRegistry);
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
    // A DEL that fails keeps the attachment's records; the rest goes all the same (DEL works
    // without the namespace), and the next daemon start tries the DEL again.
    let netErr: unknown;
    await this.detachNetwork({ metadata: pod }).catch((err: unknown) => (netErr = err));
    await this.sandboxes.destroyFound(pod);
    await this.cgroups.remove(pod.uid);
    rmSync(this.layout.podStateDir(pod), { recursive: true, force: true });
    if (netErr) throw netErr;
  }

  /** The containers of a pod that have processes in their cgroups. */
  async containersWithProcesses(pod: BoundPod): Promise<string[]> {
    const out: string[] = [];
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      if ((await this.cgroups.pids(pod.metadata.uid, c.name)).length > 0) out.push(c.name);
    }
    return out;
  }

  /**
   * The cgroups of pods not kept (a teardown a crash cut short): what runs in them is killed, and
   * they go. Pod cgroups are named by the pods' uids, which podd makes (UUIDs): anything else
   * under the parent (another podd's parent nested in ours, a cgroup someone made) is not ours.
   */
  async removeOrphanCgroups(keep: ReadonlySet<string>): Promise<void> {
    for (const uid of await this.cgroups.listPods()) {
      if (keep.has(uid) || !POD_UID.test(uid)) continue;
      await this.cgroups.kill(uid);
      await this.cgroups.remove(uid);
    }
  }

  /** Cumulative CPU and working set of a running container; a PoddError with errno ENOENT once it has gone. */
  async usage(podUid: string, container: string): Promise<{ cpuNs: number; memoryBytes: number }> {
    const s = await this.cgroups.stats(podUid, container);
    return { cpuNs: s.cpuUsageNs, memoryBytes: s.memoryWorkingSetBytes };
  }

  /** Keeps the log root within maxBytes (logs.ts boundLogRoot), never removing a file in writing. */
  boundLogRoot(writing: ReadonlySet<string>, maxBytes: number): ReturnType<typeof boundLogRoot> {
    return boundLogRoot(join(this.layout.roots.log, "pods"), writing, maxBytes);
  }

  /** Ends what the runtime runs beside the pods (the prober); the pods keep running. */
  close(): void {
    this.checks.close();
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
    const appArmor = this.appArmorOf(pod, container);
    if (appArmor !== undefined) await this.appArmor!.ready(appArmor);
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
      ...(appArmor !== undefined ? { appArmor } : {}),
      oomScoreAdj: this.oomScoreAdj(pod, container),
      node: this.node,
      podIPs: this.podIPs(pod),
      // The image's own files, as its overlay starts; the host's for `image: host`.
      ...this.etcFiles(image),
      layersDir: join(runDir, "layers"),
      lookup: (kind, name) => this.envData(ref.namespace, kind, name),
      skipped: (message) => this.report(ref, "Warning", "InvalidEnvironmentVariableNames", message),
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
    // A fresh run: the previous run's records and writable layer go (its log stays, for
    // logs --previous; the logs of older runs go).
    removeStaleRunLogs(this.layout.containerLogDir(ref, container.name), restartCount);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(layer, { recursive: true, force: true });
    mkdirSync(rootfsMountPoint, { recursive: true, mode: 0o700 });
    if (filter && seccompFile) writeFileSync(seccompFile, filter, { mode: 0o600 });
    const base = this.idBaseOf(pod);
    if (image !== "host") {
      mkdirSync(upperDir, { recursive: true, mode: 0o755 });
      mkdirSync(workDir, { recursive: true, mode: 0o700 });
      // The root of the container's filesystem is its upper layer's: the pod's root owns it.
      if (base !== 0) chownSync(upperDir, base, base);
    }
    if (terminationLog) {
      mkdirSync(layer, { recursive: true, mode: 0o700 });
      createTerminationLog(terminationLog);
      if (base !== 0) chownSync(terminationLog, base, base);
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
   * Records which run this is (its container ID, log and monitor, with the monitor's start
   * time), so that a successor daemon can take it over (adoptContainer).
   */
  recordRun(run: ContainerRun, containerID: string): void {
    const monitor = readProcStat(run.monitor.monitorPid, this.opts.procRoot);
    writeRunRecord(run.stateDir, { containerID, logPath: run.logPath, monitorPid: run.monitor.monitorPid, monitorStartTime: monitor?.startTime ?? 0 });
  }

  /**
   * The run an earlier daemon recorded for the container: its monitor, by pid checked against
   * its start time and then watched by pidfd; or, when the monitor is gone, a handle that has
   * ended already, whose exit record (or its absence) finishContainer reads.
   */
  adoptContainer(pod: BoundPod, name: string): { run: ContainerRun; containerID: string; running: boolean } {
    const stateDir = this.layout.containerRunDir(podRef(pod), name);
    const rec = readRunRecord(stateDir);
    const monitor = rec && isSameProcess(rec.monitorPid, rec.monitorStartTime, this.opts.procRoot) ? adoptMonitor(this.sys, stateDir, rec.monitorPid) : undefined;
    const handle: MonitorHandle = monitor ?? {
      monitorPid: rec?.monitorPid ?? 0,
      started: Promise.resolve(readStartRecord(stateDir)),
      ended: Promise.resolve(),
      stderr: () => readMonitorLog(stateDir),
      signal: () => false,
    };
    return { run: { monitor: handle, stateDir, logPath: rec?.logPath ?? "" }, containerID: rec?.containerID ?? "", running: monitor !== undefined };
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
    const userns = usernsArgs(this.sandboxes.paths(this.sandboxSpec(pod)));
    return [...execIdentityArgs(execSecurity(pod, container, started), this.seccompFile(pod, container), this.appArmorOf(pod, container)), "--oom-score-adj", String(this.oomScoreAdj(pod, container)), ...userns];
  }

  /** The kubelet's score for the container's processes, raised to what podd can set (oomScoreFloor). */
  oomScoreAdj(pod: BoundPod, container: Container): number {
    return Math.max(containerOOMScoreAdj(pod, container, this.node.capacity.memoryBytes), this.oomScoreFloor);
  }

  /** The AppArmor profile of the container's processes: none on a host without AppArmor (admission refused the pods that ask for one). */
  private appArmorOf(pod: BoundPod, container: Container): string | undefined {
    return this.appArmor ? appArmorProfileName(pod, container) : undefined;
  }

  /** Where the container's run keeps its compiled filter; undefined when it has none (Unconfined). */
  private seccompFile(pod: BoundPod, container: Container): string | undefined {
    if (processSecurity(pod, container).seccomp.type === "Unconfined") return undefined;
    return join(this.layout.containerRunDir(podRef(pod), container.name), SECCOMP_FILE);
  }

  /**
   * The probes of one running container, from outside it: at the pod's address, or in it
   * through podd-init exec. What each probe sends is worked out at its first run and kept.
   */
  prober(pod: BoundPod, container: Container, pid1: number, started: ContainerUser | undefined): (probe: Probe, timeoutMs: number) => Promise<ProbeOutcome> {
    // A pod without an address (--pod-network none) cannot be reached from the daemon: its
    // network probes fail and say why (runProbe), unless they name a host.
    const host = pod.spec.hostNetwork ? this.node.hostIP : (this.podIPs(pod)[0] ?? "");
    const identity = ["--pid", String(pid1), ...this.execIdentity(pod, container, started), "--"];
    const execs = new Map<readonly string[], EncodedCheck>();
    const target: ProbeTarget = {
      host,
      container,
      exec: (argv, ms) => {
        let check = execs.get(argv);
        if (!check) execs.set(argv, (check = encodeExec([...identity, ...argv])));
        return execInContainer(this.checks, check, ms);
      },
      transport: this.checks,
    };
    const compiled = new Map<Probe, () => Promise<ProbeOutcome>>();
    return (probe, timeoutMs) => {
      let run = compiled.get(probe);
      if (!run) compiled.set(probe, (run = compileProbe(probe, target, timeoutMs)));
      return run();
    };
  }

  /** An httpGet lifecycle hook: the HTTP probe's GET; a failure throws, with what the probe would say. */
  async httpHook(pod: BoundPod, container: Container, action: HTTPGetAction, timeoutMs: number): Promise<void> {
    const host = pod.spec.hostNetwork ? this.node.hostIP : (this.podIPs(pod)[0] ?? "");
    if (!host && !action.host) throw new PoddError(`HTTP lifecycle hook (${action.path ?? "/"}): the pod has no address the daemon can reach; give the hook a host`);
    const r = await httpProbe(action, { host: host || action.host!, container, transport: this.checks }, Math.max(1, timeoutMs), true);
    if (!r.ok) throw new PoddError(`HTTP lifecycle hook (${action.path ?? "/"}) failed: ${r.output}`);
  }

  /** Runs a command inside a running container (hooks) as its processes run, killed when the time limit passes. */
  async execIn(pid1: number, identity: string[], argv: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // podd-init exec's command dies with it (PR_SET_PDEATHSIG): killing it at an abort ends both.
    await runChecked(`exec ${argv.join(" ")}`, this.opts.initPath, ["exec", "--pid", String(pid1), ...identity, "--", ...argv], { timeoutMs: Math.max(1, timeoutMs), ...(signal ? { signal } : {}) });
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

/** The CNI form of the pod's host ports; none with hostNetwork, whose containers listen on the host. */
function portMappingsOf(pod: BoundPod): PortMapping[] {
  if (pod.spec.hostNetwork === true) return [];
  return hostPortsOf(pod.spec).map((p) => ({
    hostPort: p.hostPort,
    containerPort: p.containerPort,
    protocol: p.protocol.toLowerCase() as PortMapping["protocol"],
    ...(p.hostIP ? { hostIP: p.hostIP } : {}),
  }));
}

/** A pod's addresses from its CNI result: never a loopback one (a loopback-only list gives the pod none). */
function podAddresses(result: Record<string, unknown> | undefined): string[] {
  return result ? resultIPs(result).filter((ip) => !ip.startsWith("127.") && ip !== "::1") : [];
}

function hostsEntry(pod: BoundPod, ips: readonly string[]): HostsEntry {
  return { hostname: pod.spec.hostname ?? pod.metadata.name, namespace: pod.metadata.namespace, ips, ...(pod.spec.subdomain ? { subdomain: pod.spec.subdomain } : {}) };
}
