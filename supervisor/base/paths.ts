// Where podd keeps things. Every root is a parameter; names are validated by pod-specs before
// they get here, and checked again as path segments so nothing can leave its root.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "./errors.ts";

export interface Roots {
  /** desired state, images, emptyDir volumes, static manifests; survives reboots */
  state: string;
  /** API socket, namespace pins, container runtime records; empty after a reboot */
  run: string;
  /** CRI container logs */
  log: string;
}

export const defaultRoots: Roots = { state: "/var/lib/podd", run: "/run/podd", log: "/var/log/podd" };

/**
 * The roots a command uses where no flag names them: PODD_ROOT, PODD_RUN_ROOT and PODD_LOG_ROOT,
 * else the defaults. With these set once in a shell (or a unit file), every verb, the daemon
 * that apply starts and the client's socket agree without repeating the flags.
 */
export function rootsFromEnv(env: NodeJS.ProcessEnv): Roots {
  return { state: env.PODD_ROOT || defaultRoots.state, run: env.PODD_RUN_ROOT || defaultRoots.run, log: env.PODD_LOG_ROOT || defaultRoots.log };
}

/** The API socket: PODD_SOCKET, else podd.sock in the run root (the environment's, unless a flag named one). */
export function socketFromEnv(env: NodeJS.ProcessEnv, runRoot = rootsFromEnv(env).run): string {
  return env.PODD_SOCKET || join(runRoot, "podd.sock");
}

const segment = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function checkSegment(kind: string, value: string): string {
  if (!segment.test(value) || value.includes("..") || value.length > 253) {
    throw new PoddError(`invalid ${kind} "${value}": not usable as a path segment`, { code: "Invalid" });
  }
  return value;
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** The directory name Kubernetes nodes use for a pod's logs: <namespace>_<name>_<uid>. */
export function podKey(p: PodRef): string {
  return `${checkSegment("namespace", p.namespace)}_${checkSegment("pod name", p.name)}_${checkSegment("pod uid", p.uid)}`;
}

/** The pod a <namespace>_<name>_<uid> directory names, or undefined for another name. */
export function parsePodKey(dir: string): PodRef | undefined {
  const parts = dir.split("_");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  const [namespace, name, uid] = parts as [string, string, string];
  return { namespace, name, uid };
}

export class Layout {
  constructor(readonly roots: Roots) {}

  /** The pods that have a run dir, whatever the daemon knows of them. */
  runPods(): PodRef[] {
    return podDirs(join(this.roots.run, "pods"));
  }
  /** The pods that have a log dir. */
  logPods(): PodRef[] {
    return podDirs(join(this.roots.log, "pods"));
  }

  podRunDir(p: PodRef): string {
    return join(this.roots.run, "pods", podKey(p));
  }
  /** What a pod's worker observed (restart counts, back-off), for a restarted daemon to go on from. */
  podObservedPath(p: PodRef): string {
    return join(this.podRunDir(p), "observed.json");
  }
  podNsDir(p: PodRef): string {
    return join(this.podRunDir(p), "ns");
  }
  containerRunDir(p: PodRef, container: string): string {
    return join(this.podRunDir(p), "containers", checkSegment("container name", container));
  }
  podStateDir(p: PodRef): string {
    return join(this.roots.state, "pods", podKey(p));
  }
  volumeDir(p: PodRef, volume: string): string {
    return join(this.podStateDir(p), "volumes", checkSegment("volume name", volume));
  }
  containerLayerDir(p: PodRef, container: string): string {
    return join(this.podStateDir(p), "layers", checkSegment("container name", container));
  }
  podLogDir(p: PodRef): string {
    return join(this.roots.log, "pods", podKey(p));
  }
  /** The host file bound on the container's terminationMessagePath: on disk beside the
   * container's writable layer (not in the run root, a tmpfs a container could fill), made
   * afresh for each run and removed with the pod. */
  terminationLogPath(p: PodRef, container: string): string {
    return join(this.containerLayerDir(p, container), "termination-log");
  }
  containerLogDir(p: PodRef, container: string): string {
    return join(this.podLogDir(p), checkSegment("container name", container));
  }
  imagesDir(): string {
    return join(this.roots.state, "images");
  }
  /** the objects that are not pods: namespaces, config maps, secrets, claims */
  objectsDir(): string {
    return join(this.roots.state, "objects");
  }
  /**
   * A claim's volume, made by the local-path storage class: pvc-<namespace>_<name>_<claim uid>,
   * so that an operator can tell which claim it was, and a claim made again gets a new one.
   */
  claimDir(claim: PodRef): string {
    return join(this.roots.state, "claims", `pvc-${podKey(claim)}`);
  }
  claimsDir(): string {
    return join(this.roots.state, "claims");
  }
  /** the CNI attachments' intents, podd's own network list and its leases */
  cniStateDir(): string {
    return join(this.roots.state, "cni");
  }
  /** the CNI results, in libcni's cache layout */
  cniRunDir(): string {
    return join(this.roots.run, "cni");
  }
  /** Localhost seccomp profiles, as the kubelet's <root>/seccomp: localhostProfile is relative to it. */
  seccompDir(): string {
    return join(this.roots.state, "seccomp");
  }
}

/** A pod's key in the daemon's maps and the API: "<namespace>/<name>". */
export function podKeyOf(p: { metadata: { namespace?: string; name: string } }): string {
  return `${p.metadata.namespace ?? "default"}/${p.metadata.name}`;
}

/**
 * The order the API server lists objects in: by namespace, then name, as plain strings (the
 * etcd key order). Not localeCompare: names are ASCII, and its first call loads ICU's collator,
 * ~10 ms of a `podd get`.
 */
export function byNamespaceAndName(a: { metadata: { namespace: string; name: string } }, b: { metadata: { namespace: string; name: string } }): number {
  const x = a.metadata.namespace, y = b.metadata.namespace;
  if (x !== y) return x < y ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function podDirs(dir: string): PodRef[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => parsePodKey(d) ?? []);
}
