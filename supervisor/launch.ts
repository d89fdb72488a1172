// From a pod spec to a LaunchPlan: which root filesystem, which mounts, which environment and
// command — the decisions the kubelet and its runtime make before a container starts. Pure:
// everything it needs (image, sandbox, volume sources, cgroup dirs) is handed in.
import { join, posix } from "node:path";
import { expand, mappingOf } from "../pod-specs/expand.ts";
import { milliCpuOf, bytesOf } from "../pod-specs/cgroup-conversions.ts";
import type { Container, EnvVar, Pod } from "../pod-specs/types.ts";
import type { BindPlan, LaunchPlan, TmpfsPlan } from "./container.ts";
import { PoddError } from "./errors.ts";
import { defaultImageEnv, type Image } from "./images.ts";
import type { Roots } from "./paths.ts";
import type { Sandbox } from "./sandbox.ts";

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
  workDir: string;
  node: { name: string; cpus: number; memoryBytes: bigint; hostIP: string };
}

/** A container that cannot be configured: Kubernetes' CreateContainerConfigError. */
export class ConfigError extends PoddError {
  constructor(message: string) {
    super(message, { code: "Invalid" });
  }
}

const hostTmpfs: TmpfsPlan[] = [
  { target: "/tmp", options: "mode=1777" },
  { target: "/var/tmp", options: "mode=1777" },
  { target: "/run", options: "mode=755" },
];

export function planLaunch(ctx: LaunchContext): LaunchPlan {
  const { pod, container, image } = ctx;
  const env = containerEnv(ctx);
  const mapping = mappingOf(new Map(env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])));
  const command = (container.command ?? []).map((s) => expand(s, mapping));
  const args = (container.args ?? []).map((s) => expand(s, mapping));
  const argv = [...command, ...args];
  if (argv.length === 0) throw new ConfigError(`container ${container.name}: no command specified; set command or args (podd images have no entrypoint)`);

  const sc = container.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser ?? 0;
  const gid = sc.runAsGroup ?? psc.runAsGroup ?? 0;
  if ((sc.runAsNonRoot ?? psc.runAsNonRoot) && uid === 0) {
    throw new ConfigError("container has runAsNonRoot and image will run as root");
  }

  const mounts: BindPlan[] = [
    { source: ctx.sandbox.hosts, target: "/etc/hosts", readOnly: false },
    { source: ctx.sandbox.hostname, target: "/etc/hostname", readOnly: false },
    { source: ctx.sandbox.resolvConf, target: "/etc/resolv.conf", readOnly: false },
  ];
  for (const vm of container.volumeMounts ?? []) {
    const source = ctx.volumes.get(vm.name);
    if (source === undefined) throw new ConfigError(`volume "${vm.name}" of container ${container.name} was not prepared`);
    mounts.push({ source: vm.subPath ? join(source, vm.subPath) : source, target: vm.mountPath, readOnly: vm.readOnly ?? false });
  }
  // Parents before children, so that a volume inside another volume's mount stays visible.
  const depth = (p: string) => posix.normalize(p).split("/").filter(Boolean).length;
  const binds = [...mounts].sort((a, b) => depth(a.target) - depth(b.target));

  const rootfs = image
    ? { kind: "image" as const, mountPoint: ctx.rootfsMountPoint, lower: image.rootfs, upper: ctx.upperDir, work: ctx.workDir, readOnly: sc.readOnlyRootFilesystem ?? false }
    : { kind: "host" as const, mountPoint: ctx.rootfsMountPoint };
  return {
    stateDir: ctx.stateDir,
    logPath: ctx.logPath,
    logMaxSize: ctx.logMaxSize,
    logMaxFiles: ctx.logMaxFiles,
    ns: ctx.sandbox.ns,
    cgroupDirs: ctx.cgroupDirs,
    rootfs,
    binds,
    tmpfs: image ? [] : hostTmpfs,
    hide: image ? [] : [ctx.roots.state, ctx.roots.run, ctx.roots.log],
    shm: ctx.sandbox.shm,
    argv,
    env,
    cwd: container.workingDir ?? image?.workingDir ?? "/",
    uid,
    gid,
  };
}

/**
 * The container's environment as "NAME=value" strings: the image's, then HOSTNAME, then the
 * container's own env in order, each value $(VAR)-expanded against the variables defined
 * before it, as the kubelet does (a later definition of a name replaces the earlier one).
 */
export function containerEnv(ctx: Pick<LaunchContext, "pod" | "container" | "image" | "node">): string[] {
  const { pod, container } = ctx;
  const out = new Map<string, string>();
  for (const kv of ctx.image?.env ?? defaultImageEnv) {
    const eq = kv.indexOf("=");
    if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  out.set("HOSTNAME", pod.spec.hostNetwork ? ctx.node.name : (pod.spec.hostname ?? pod.metadata.name));
  const defined = new Map<string, string>();
  for (const e of container.env ?? []) {
    const value = e.valueFrom ? valueFrom(e, ctx) : expand(e.value ?? "", mappingOf(defined));
    defined.set(e.name, value);
    out.set(e.name, value);
  }
  return [...out].map(([k, v]) => `${k}=${v}`);
}

function valueFrom(e: EnvVar, ctx: Pick<LaunchContext, "pod" | "container" | "node">): string {
  const { pod } = ctx;
  const f = e.valueFrom!.fieldRef;
  if (f) {
    const path = f.fieldPath;
    const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
    if (sub) return (sub[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[sub[2]!] ?? "";
    switch (path) {
      case "metadata.name":
        return pod.metadata.name;
      case "metadata.namespace":
        return pod.metadata.namespace;
      case "metadata.uid":
        return pod.metadata.uid;
      case "spec.nodeName":
        return ctx.node.name;
      case "spec.serviceAccountName":
        return "default";
      case "status.hostIP":
      case "status.hostIPs":
        return ctx.node.hostIP;
      case "status.podIP":
      case "status.podIPs":
        return pod.spec.hostNetwork ? ctx.node.hostIP : "";
      default:
        throw new ConfigError(`env ${e.name}: unsupported fieldRef ${path}`);
    }
  }
  const r = e.valueFrom!.resourceFieldRef;
  if (r) {
    const target = r.containerName ? [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].find((c) => c.name === r.containerName) : ctx.container;
    if (!target) throw new ConfigError(`env ${e.name}: resourceFieldRef names unknown container "${r.containerName}"`);
    const [kind, resource] = r.resource.split(".") as ["limits" | "requests", string];
    const set = target.resources?.[kind] ?? {};
    // Without a limit the kubelet reports the node's allocatable capacity.
    if (resource === "cpu") {
      const milli = milliCpuOf(set.cpu) || (kind === "limits" ? ctx.node.cpus * 1000 : 0);
      const divisor = milliCpuOf(r.divisor ?? "1");
      return String(Math.ceil(milli / divisor));
    }
    if (resource === "memory" || resource === "ephemeral-storage") {
      const bytes = bytesOf(set[resource]) || (kind === "limits" && resource === "memory" ? ctx.node.memoryBytes : 0n);
      const divisor = bytesOf(r.divisor ?? "1");
      return String((bytes + divisor - 1n) / divisor);
    }
    throw new ConfigError(`env ${e.name}: unsupported resourceFieldRef ${r.resource}`);
  }
  throw new ConfigError(`env ${e.name}: valueFrom source not supported yet`);
}
