// From a pod spec to a LaunchPlan: which root filesystem, which mounts, which environment and
// command — the decisions the kubelet and its runtime make before a container starts. Pure:
// everything it needs (image, sandbox, volume sources, cgroup dirs) is handed in.
import { isObjectVolume } from "./config-volumes.ts";
import { imageVolumeAsLinks } from "./volumes.ts";
import { posix } from "node:path";
import { containerEnv as resolveEnv, EnvReferenceError, expandCommandAndArgs, type EnvInputs } from "../../pod-specs/env.ts";
import type { Container, Pod } from "../../pod-specs/types.ts";
import { processSecurity } from "../../pod-specs/security.ts";
import type { BindPlan, LaunchPlan, TmpfsPlan } from "./container.ts";
import { PoddError } from "../base/errors.ts";
import { containerArgv, DEFAULT_IMAGE_ENV, resolveImageUser } from "./images/config.ts";
import type { Image } from "./images/store.ts";
import type { Roots } from "../base/paths.ts";
import { homeOf, imageGroupsOf } from "./passwd.ts";
import type { Sandbox } from "./sandbox.ts";
import { outsideBlock } from "./userns.ts";

export interface LaunchContext {
  pod: Pod & { metadata: { uid: string; namespace: string } };
  container: Container;
  /** undefined for `image: host` */
  image: Image | undefined;
  sandbox: Sandbox;
  /** host path of each volume, by name (prepared by the runtime) */
  volumes: ReadonlyMap<string, string>;
  cgroupDirs: string[];
  roots: Roots;
  stateDir: string;
  logPath: string;
  logMaxSize: number;
  logMaxFiles: number;
  /** an empty directory to mount the container's root on */
  rootfsMountPoint: string;
  /** the container's writable layer (image containers) */
  upperDir: string;
  /** where the links to the image's layers go (image containers) */
  layersDir: string;
  workDir: string;
  /** the container's compiled seccomp filter; undefined: none */
  seccompFile?: string;
  /** the AppArmor profile its processes run under; undefined: none */
  appArmor?: string;
  /** the oom_score_adj of the container's processes */
  oomScoreAdj: number;
  /** the host file bound on the container's terminationMessagePath; undefined: none */
  terminationLog: string | undefined;
  node: { name: string; hostIP: string; allocatable: { milliCpu: bigint; memoryBytes: bigint } };
  /** the pod's addresses (status.podIPs), the primary first */
  podIPs: readonly string[];
  /** the text of the container's /etc/passwd (the image's, the host's for `image: host`),
   * undefined when it has none: where HOME comes from when nothing sets it */
  passwd?: string;
  /** the text of the container's /etc/group, likewise: the groups its user is a member of */
  group?: string;
  /** the data of a ConfigMap or Secret (decoded) of the pod's namespace, for env and envFrom */
  lookup?: EnvInputs["lookup"];
  /** told of envFrom keys left out because they are not variable names */
  skipped?: EnvInputs["skipped"];
}

/** The container's compiled seccomp filter, in its run dir: podd exec and hooks install it too. */
export const SECCOMP_FILE = "seccomp.bpf";

/** podd-init's limit on supplementary groups (MAX_GROUPS in init/podd-init.h). */
export const MAX_SUPPLEMENTARY_GROUPS = 64;

/** A container that cannot be configured: Kubernetes' CreateContainerConfigError. */
export class ConfigError extends PoddError {
  constructor(message: string) {
    super(message, { code: "Invalid" });
  }
}

/** A container the runtime cannot create as configured: Kubernetes' CreateContainerError. */
export class CreateError extends PoddError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "Invalid", ...(cause !== undefined ? { cause } : {}) });
  }
}

const hostTmpfs: TmpfsPlan[] = [
  { target: "/tmp", options: "mode=1777" },
  { target: "/var/tmp", options: "mode=1777" },
  { target: "/run", options: "mode=755" },
];

/**
 * Whether a file can be bound at target in a container on the host's root: the host root is
 * read-only there, so the mount point must be on one of the container's own tmpfs mounts (/dev
 * and the scratch dirs) or be a file the host already has. Elsewhere no mount point can be made,
 * and the container starts without a termination log rather than not at all (the kubelet, too,
 * only logs a termination log it cannot make).
 */
export function hostRootTakesFile(target: string, isHostFile: (path: string) => boolean): boolean {
  const p = posix.normalize(target);
  if (["/dev", ...hostTmpfs.map((t) => t.target)].some((dir) => p.startsWith(`${dir}/`))) return true;
  return isHostFile(p);
}

export function planLaunch(ctx: LaunchContext): LaunchPlan {
  const { pod, container, image } = ctx;
  const env = containerEnv(ctx);
  const { command, args } = expandCommandAndArgs(container, env.map((kv) => ({ name: kv.slice(0, kv.indexOf("=")), value: kv.slice(kv.indexOf("=") + 1) })));
  const argv = containerArgv(container.command === undefined ? undefined : command, container.args === undefined ? undefined : args, image?.config);
  if (argv.length === 0) {
    throw new ConfigError(`container ${container.name}: no command specified; set command or args${image ? ` (image ${image.name} has neither Entrypoint nor Cmd)` : ""}`);
  }

  const sc = container.securityContext ?? {};
  const imageUser = imageUserOf(ctx);
  const security = processSecurity(pod, container, (id) => imageGroupsOf(ctx.passwd ?? "", ctx.group ?? "", id), imageUser);
  const explicitUser = (sc.runAsUser ?? pod.spec.securityContext?.runAsUser) !== undefined;
  if (security.runAsNonRoot && !explicitUser && imageUser?.byName) {
    throw new ConfigError(`container has runAsNonRoot and image has non-numeric user (${image!.config.user.split(":")[0]}), cannot verify user is non-root`);
  }
  if (security.runAsNonRoot && security.uid === 0) {
    throw new ConfigError("container has runAsNonRoot and image will run as root");
  }
  for (const id of [security.uid, security.gid, ...security.supplementalGroups]) {
    const outside = outsideBlock(pod.spec.hostUsers === false, id, "id");
    if (outside) throw new ConfigError(`container ${container.name}: ${outside}`);
  }
  if (security.supplementalGroups.length > MAX_SUPPLEMENTARY_GROUPS) {
    throw new ConfigError(`container ${container.name}: ${security.supplementalGroups.length} supplementary groups; podd supports at most ${MAX_SUPPLEMENTARY_GROUPS}`);
  }

  const mounts: BindPlan[] = [
    { source: ctx.sandbox.hosts, target: "/etc/hosts", readOnly: false },
    { source: ctx.sandbox.hostname, target: "/etc/hostname", readOnly: false },
    { source: ctx.sandbox.resolvConf, target: "/etc/resolv.conf", readOnly: false },
  ];
  // As the kubelet does for every container with a path (the API defaults it): the container
  // writes why it ended there, and podd reads it into the terminated state's message.
  if (container.terminationMessagePath && ctx.terminationLog) mounts.push({ source: ctx.terminationLog, target: container.terminationMessagePath, readOnly: false });
  for (const vm of container.volumeMounts ?? []) {
    const source = ctx.volumes.get(vm.name);
    if (source === undefined) throw new ConfigError(`volume "${vm.name}" of container ${container.name} was not prepared`);
    // Image, configMap, secret, downwardAPI and projected volumes are read-only whatever the
    // mount says, as the kubelet mounts them; a claim is when its volume source says so.
    const v = pod.spec.volumes?.find((x) => x.name === vm.name);
    const readOnlyVolume = v !== undefined && (v.image !== undefined || isObjectVolume(v) || v.persistentVolumeClaim?.readOnly === true);
    // A subPath is resolved by podd-init beneath the volume, never through a symlink the
    // container may have put there that leaves it.
    // A claim outlives its pods, and each hostUsers: false pod has ids of its own on the host:
    // idmapped, its files keep the ids the containers gave them, whichever pod mounts it next.
    const idmap = pod.spec.hostUsers === false && v?.persistentVolumeClaim !== undefined;
    const imageLayers = v?.image !== undefined && imageVolumeAsLinks(pod);
    mounts.push({ source, target: vm.mountPath, readOnly: readOnlyVolume || (vm.readOnly ?? false), ...(vm.subPath ? { subPath: vm.subPath } : {}), ...(idmap ? { idmap } : {}), ...(imageLayers ? { imageLayers } : {}) });
  }
  // Parents before children, so that a volume inside another volume's mount stays visible.
  const depth = (p: string) => posix.normalize(p).split("/").filter(Boolean).length;
  const binds = [...mounts].sort((a, b) => depth(a.target) - depth(b.target));

  const rootfs = image
    ? { kind: "image" as const, mountPoint: ctx.rootfsMountPoint, layers: image.layerDirs, layersDir: ctx.layersDir, upper: ctx.upperDir, work: ctx.workDir, readOnly: sc.readOnlyRootFilesystem ?? false }
    : { kind: "host" as const, mountPoint: ctx.rootfsMountPoint };
  return {
    stateDir: ctx.stateDir,
    logPath: ctx.logPath,
    logMaxSize: ctx.logMaxSize,
    logMaxFiles: ctx.logMaxFiles,
    ns: ctx.sandbox.ns,
    usernsBase: ctx.sandbox.usernsBase,
    hostPid: pod.spec.hostPID === true,
    cgroupDirs: ctx.cgroupDirs,
    rootfs,
    binds,
    tmpfs: image ? [] : hostTmpfs,
    hide: image ? [] : [ctx.roots.state, ctx.roots.run, ctx.roots.log],
    // hostIPC shares the host's IPC namespace, and POSIX shared memory lives in /dev/shm:
    // such a pod gets the host's (as Docker's --ipc=host does), not a private one per container.
    shm: ctx.sandbox.shm ?? (pod.spec.hostIPC ? "/dev/shm" : undefined),
    argv,
    env,
    cwd: container.workingDir || image?.config.workingDir || "/",
    security,
    seccompFile: ctx.seccompFile,
    appArmor: ctx.appArmor,
    oomScoreAdj: ctx.oomScoreAdj,
  };
}

/** The image's User, looked up in its own /etc/passwd and /etc/group; a name it lacks holds the container. */
function imageUserOf(ctx: Pick<LaunchContext, "image" | "passwd" | "group">): ReturnType<typeof resolveImageUser> {
  if (!ctx.image) return undefined;
  try {
    return resolveImageUser(ctx.image.config.user, ctx.passwd, ctx.group);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/**
 * The container's environment as "NAME=value" strings: the image's, then HOSTNAME, then the
 * container's own env resolved as the kubelet does (pod-specs/env.ts); a container's variable
 * replaces the image's of the same name. HOME, when none of them sets it, is the home of the
 * container's uid in its /etc/passwd, else "/", as runc sets it for the CRI runtimes.
 */
export function containerEnv(ctx: Pick<LaunchContext, "pod" | "container" | "image" | "node" | "passwd" | "group" | "podIPs" | "lookup" | "skipped">): string[] {
  const { pod, container, node } = ctx;
  const out = new Map<string, string>();
  for (const kv of ctx.image?.config.env ?? DEFAULT_IMAGE_ENV) {
    const eq = kv.indexOf("=");
    if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  out.set("HOSTNAME", pod.spec.hostNetwork ? node.name : (pod.spec.hostname ?? pod.metadata.name));
  const fields = new Map([
    ["spec.nodeName", node.name],
    ["status.hostIP", node.hostIP],
    ["status.hostIPs", node.hostIP],
    ["status.podIP", ctx.podIPs[0] ?? ""],
    // The kubelet's form of a list in one variable: comma-separated.
    ["status.podIPs", ctx.podIPs.join(",")],
  ]);
  let env;
  try {
    env = resolveEnv(pod, container, {
      fields: (path) => fields.get(path),
      // The kubelet's default for a limit the container does not set: the node's allocatable.
      allocatable: { cpu: `${node.allocatable.milliCpu}m`, memory: String(node.allocatable.memoryBytes) },
      ...(ctx.lookup ? { lookup: ctx.lookup } : {}),
      ...(ctx.skipped ? { skipped: ctx.skipped } : {}),
    });
  } catch (err) {
    if (err instanceof EnvReferenceError) throw new ConfigError(err.message);
    throw err;
  }
  for (const e of env) out.set(e.name, e.value);
  if (!out.has("HOME")) {
    const uid = processSecurity(pod, container, undefined, ctx.image ? safeImageUser(ctx) : undefined).uid;
    out.set("HOME", (ctx.passwd === undefined ? undefined : homeOf(ctx.passwd, uid)) ?? "/");
  }
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/** The image's user for HOME: a name the image lacks is planLaunch's error to report, not this one's. */
function safeImageUser(ctx: Pick<LaunchContext, "image" | "passwd" | "group">): ReturnType<typeof resolveImageUser> {
  try {
    return imageUserOf(ctx);
  } catch {
    return undefined; // planLaunch refuses the container with this very error
  }
}
