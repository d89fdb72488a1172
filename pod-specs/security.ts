// How a container's processes run, as the kubelet resolves it from the pod's and the
// container's securityContext (the container's field wins): the same for the command, its
// hooks and `podd exec`, so that nothing run in a container has more than the container.
import type { Container, Pod } from "./types.ts";

export interface ProcessSecurity {
  uid: number;
  gid: number;
  runAsNonRoot: boolean;
  /** allowPrivilegeEscalation: false: the no_new_privs bit, so setuid files and file capabilities grant nothing */
  noNewPrivs: boolean;
  /** the supplementary groups (setgroups(2)), see supplementalGroupsOf */
  supplementalGroups: number[];
}

/**
 * `imageGroups` gives the groups the container's /etc/group lists for a uid's user (see
 * supervisor/runtime/passwd.ts); without it, none.
 */
export function processSecurity(pod: Pick<Pod, "spec">, container: Pick<Container, "securityContext">, imageGroups?: (uid: number) => readonly number[]): ProcessSecurity {
  const sc = container.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser ?? 0;
  const gid = sc.runAsGroup ?? psc.runAsGroup ?? 0;
  return {
    uid,
    gid,
    runAsNonRoot: (sc.runAsNonRoot ?? psc.runAsNonRoot) === true,
    noNewPrivs: sc.allowPrivilegeEscalation === false,
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
export function execSecurity(pod: Pick<Pod, "spec">, container: Pick<Container, "securityContext">, started?: { supplementalGroups?: number[] }): ProcessSecurity {
  const s = processSecurity(pod, container);
  return started?.supplementalGroups ? { ...s, supplementalGroups: [...started.supplementalGroups] } : s;
}

/** The podd-init options that make an exec'd process (a hook, podd exec) run as the container's do. */
export function execIdentityArgs(s: ProcessSecurity): string[] {
  return ["--uid", String(s.uid), "--gid", String(s.gid), ...(s.noNewPrivs ? ["--no-new-privs"] : []), ...groupsArgs(s)];
}

/** podd-init's --groups for the supplementary groups (without it, a process has none). */
export function groupsArgs(s: Pick<ProcessSecurity, "supplementalGroups">): string[] {
  return s.supplementalGroups.length > 0 ? ["--groups", s.supplementalGroups.join(",")] : [];
}
