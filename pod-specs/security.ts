// How a container's processes run, as the kubelet and its runtime resolve it from the pod's
// and the container's securityContext (the container's field wins): the same for the command,
// its hooks and `podd exec`, so that nothing run in a container has more than the container.
import type { Container, Pod, SeccompProfile } from "./types.ts";

/** capabilities(7) without the CAP_ prefix, indexed by capability number. */
export const CAPABILITIES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** What containerd's CRI and Docker give a container that asks for nothing else. */
export const DEFAULT_CAPABILITIES: readonly Capability[] = [
  "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
  "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
];

/** A manifest's capability name (NET_ADMIN, CAP_NET_ADMIN, any case) as podd knows it, or undefined. */
export function capabilityName(name: string): Capability | undefined {
  const bare = name.toUpperCase().replace(/^CAP_/, "");
  return (CAPABILITIES as readonly string[]).includes(bare) ? (bare as Capability) : undefined;
}

/**
 * The capability set of a container, as containerd's CRI builds it: privileged gets all;
 * otherwise the default set, all of them for `add: [ALL]`, none for `drop: [ALL]`, then the
 * named additions and removals. Names podd does not know are refused by validation before this.
 */
export function containerCapabilities(container: Pick<Container, "securityContext">): Capability[] {
  const sc = container.securityContext ?? {};
  if (sc.privileged === true) return [...CAPABILITIES];
  const add = sc.capabilities?.add ?? [];
  const drop = sc.capabilities?.drop ?? [];
  const isAll = (n: string) => n.toUpperCase() === "ALL";
  let set = new Set<Capability>(DEFAULT_CAPABILITIES);
  if (add.some(isAll)) set = new Set(CAPABILITIES);
  if (drop.some(isAll)) set.clear();
  for (const n of add) if (!isAll(n)) set.add(capabilityName(n)!);
  for (const n of drop) if (!isAll(n)) set.delete(capabilityName(n)!);
  return CAPABILITIES.filter((c) => set.has(c));
}

/** The mask podd-init takes (--caps): bit N for capability N. */
export function capabilityMask(caps: readonly Capability[]): bigint {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(CAPABILITIES.indexOf(c));
  return mask;
}

/**
 * The container's seccomp profile: its own, else the pod's, else RuntimeDefault, which podd
 * applies to every container (the kubelet does so only with --seccomp-default; without it
 * Kubernetes leaves pods Unconfined). A privileged container is never filtered, as in Kubernetes.
 */
export function containerSeccomp(pod: Pick<Pod, "spec">, container: Pick<Container, "securityContext">): SeccompProfile {
  if (container.securityContext?.privileged === true) return { type: "Unconfined" };
  return container.securityContext?.seccompProfile ?? pod.spec.securityContext?.seccompProfile ?? { type: "RuntimeDefault" };
}

/** What RuntimeDefault means for AppArmor under podd: its own profile, loaded by the daemon. */
export const APPARMOR_DEFAULT_PROFILE = "podd-default";
/** The deprecated per-container annotation the kubelet still reads for static pods. */
export const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";

/** An annotation's value ("runtime/default", "localhost/NAME", "unconfined") as a profile; undefined: not one of these. */
export function appArmorFromAnnotation(value: string): SeccompProfile | undefined {
  if (value === "runtime/default") return { type: "RuntimeDefault" };
  if (value === "unconfined") return { type: "Unconfined" };
  if (value.startsWith("localhost/") && value.length > "localhost/".length) return { type: "Localhost", localhostProfile: value.slice("localhost/".length) };
  return undefined;
}

/**
 * The AppArmor profile asked for, in the kubelet's order: the container's field, then its
 * annotation (static pods keep those), then the pod's field; undefined: none asked.
 */
export function containerAppArmor(pod: Pick<Pod, "metadata" | "spec">, container: Pick<Container, "name" | "securityContext">): SeccompProfile | undefined {
  const annotation = pod.metadata.annotations?.[APPARMOR_ANNOTATION_PREFIX + container.name];
  return container.securityContext?.appArmorProfile ?? (annotation !== undefined ? appArmorFromAnnotation(annotation) : undefined) ?? pod.spec.securityContext?.appArmorProfile;
}

/**
 * The profile a container's processes are confined to on a host with AppArmor, as containerd
 * chooses it: the named one for Localhost; none for Unconfined, or for a privileged container
 * that names none; podd's default otherwise, asked for or not. undefined: unconfined.
 */
export function appArmorProfileName(pod: Pick<Pod, "metadata" | "spec">, container: Pick<Container, "name" | "securityContext">): string | undefined {
  const p = containerAppArmor(pod, container);
  if (p?.type === "Localhost") return p.localhostProfile;
  if (p?.type === "Unconfined" || container.securityContext?.privileged === true) return undefined;
  return APPARMOR_DEFAULT_PROFILE;
}

/**
 * Whether the pod asks for an AppArmor profile, as the kubelet decides it before refusing the
 * pod on a host without AppArmor: any field or annotation that is not Unconfined.
 */
export function needsAppArmor(pod: Pick<Pod, "metadata" | "spec">): boolean {
  const confining = (p: SeccompProfile | undefined) => p !== undefined && p.type !== "Unconfined";
  if (confining(pod.spec.securityContext?.appArmorProfile)) return true;
  if ([...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((c) => confining(c.securityContext?.appArmorProfile))) return true;
  return Object.entries(pod.metadata.annotations ?? {}).some(([k, v]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX) && v !== "unconfined");
}

export interface ProcessSecurity {
  uid: number;
  gid: number;
  runAsNonRoot: boolean;
  /** allowPrivilegeEscalation: false: the no_new_privs bit, so setuid files and file capabilities grant nothing */
  noNewPrivs: boolean;
  /** privileged: true; nothing limits its capabilities */
  privileged: boolean;
  /** the bounding set; root holds it effective, another uid only what file capabilities grant within it */
  capabilities: Capability[];
  seccomp: SeccompProfile;
  /** the supplementary groups (setgroups(2)), see supplementalGroupsOf */
  supplementalGroups: number[];
}

/**
 * `imageGroups` gives the groups the container's /etc/group lists for a uid's user (see
 * supervisor/runtime/passwd.ts); without it, none.
 */
export function processSecurity(
  pod: Pick<Pod, "spec">,
  container: Pick<Container, "securityContext">,
  imageGroups?: (uid: number) => readonly number[],
  /** the image's User, resolved in its /etc/passwd (gid: the user's group there, when known) */
  imageUser?: { uid: number; gid?: number },
): ProcessSecurity {
  const sc = container.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  const explicit = sc.runAsUser ?? psc.runAsUser;
  const uid = explicit ?? imageUser?.uid ?? 0;
  // The image's group goes with the image's user only: a runAsUser of the manifest takes gid 0
  // unless runAsGroup says otherwise.
  const gid = sc.runAsGroup ?? psc.runAsGroup ?? (explicit === undefined ? imageUser?.gid : undefined) ?? 0;
  return {
    uid,
    gid,
    runAsNonRoot: (sc.runAsNonRoot ?? psc.runAsNonRoot) === true,
    noNewPrivs: sc.allowPrivilegeEscalation === false,
    privileged: sc.privileged === true,
    capabilities: containerCapabilities(container),
    seccomp: containerSeccomp(pod, container),
    supplementalGroups: supplementalGroupsOf(pod, gid, imageGroups?.(uid) ?? []),
  };
}

/**
 * A container's supplementary groups as the kubelet and its CRI runtime make them: the primary
 * gid, then (supplementalGroupsPolicy Merge, the default) the groups the image's /etc/group
 * lists for the user, then fsGroup, then supplementalGroups; each once, in ascending order, the
 * order the kernel keeps them in and containerd reports them.
 */
export function supplementalGroupsOf(pod: Pick<Pod, "spec">, gid: number, imageGroups: readonly number[]): number[] {
  const psc = pod.spec.securityContext ?? {};
  const strict = psc.supplementalGroupsPolicy === "Strict";
  const all = [gid, ...(strict ? [] : imageGroups), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : []), ...(psc.supplementalGroups ?? [])];
  return [...new Set(all)].sort((a, b) => a - b);
}

/**
 * The identity of a process started in a running container (a hook, `podd exec`): the
 * container's, with the supplementary groups its processes were started with when they are
 * known (status.containerStatuses[].user.linux): the image's share of them is known only to the
 * runtime that read the image.
 */
export function execSecurity(pod: Pick<Pod, "spec">, container: Pick<Container, "securityContext">, started?: { uid?: number; gid?: number; supplementalGroups?: number[] }): ProcessSecurity {
  // The uid and gid the container was started with: an image's User is known only to the runtime that read the image.
  const s = processSecurity(pod, container, undefined, started?.uid === undefined ? undefined : { uid: started.uid, ...(started.gid !== undefined ? { gid: started.gid } : {}) });
  return started?.supplementalGroups ? { ...s, supplementalGroups: [...started.supplementalGroups] } : s;
}

/**
 * The podd-init options that make a process (the command, a hook, podd exec) run as the
 * container's do; seccompFile is the container's compiled filter, undefined for Unconfined;
 * appArmor the profile its processes run under, undefined for none.
 */
export function execIdentityArgs(s: ProcessSecurity, seccompFile?: string, appArmor?: string): string[] {
  const args = ["--uid", String(s.uid), "--gid", String(s.gid)];
  if (s.noNewPrivs) args.push("--no-new-privs");
  args.push(...groupsArgs(s));
  if (!s.privileged) args.push("--caps", capabilityMask(s.capabilities).toString(16));
  if (seccompFile !== undefined) args.push("--seccomp", seccompFile);
  if (appArmor !== undefined) args.push("--apparmor", appArmor);
  return args;
}

/** podd-init's --groups for the supplementary groups (without it, a process has none). */
export function groupsArgs(s: Pick<ProcessSecurity, "supplementalGroups">): string[] {
  return s.supplementalGroups.length > 0 ? ["--groups", s.supplementalGroups.join(",")] : [];
}

/**
 * What the container may do beyond podd's defaults, one sentence each, for the daemon to
 * report as it reports every hostPath: privileged, added capabilities, no seccomp filter.
 */
export function securityWidenings(pod: Pick<Pod, "spec">, container: Pick<Container, "name" | "securityContext">): { reason: string; message: string }[] {
  const out: { reason: string; message: string }[] = [];
  if (pod.spec.hostPID === true) {
    out.push({ reason: "HostPID", message: `container ${container.name} is in the host's PID namespace (hostPID): it sees every process of the host` });
  }
  if (pod.spec.hostNetwork === true) {
    out.push({ reason: "HostNetwork", message: `container ${container.name} is in the host's network namespace (hostNetwork)` });
  }
  if (pod.spec.hostIPC === true) {
    out.push({ reason: "HostIPC", message: `container ${container.name} is in the host's IPC namespace (hostIPC)` });
  }
  if (container.securityContext?.privileged === true) {
    out.push({
      reason: "Privileged",
      message: `container ${container.name} is privileged: every capability and host device, no seccomp filter, /sys writable and /proc unmasked`,
    });
    return out;
  }
  const added = containerCapabilities(container).filter((c) => !DEFAULT_CAPABILITIES.includes(c));
  if (added.length > 0) out.push({ reason: "CapabilitiesAdded", message: `container ${container.name} adds capabilities ${added.join(", ")}` });
  if (containerSeccomp(pod, container).type === "Unconfined") {
    out.push({ reason: "SeccompUnconfined", message: `container ${container.name} runs without a seccomp filter (seccompProfile Unconfined)` });
  }
  return out;
}
