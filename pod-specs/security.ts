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
}

export function processSecurity(pod: Pick<Pod, "spec">, container: Pick<Container, "securityContext">): ProcessSecurity {
  const sc = container.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  return {
    uid: sc.runAsUser ?? psc.runAsUser ?? 0,
    gid: sc.runAsGroup ?? psc.runAsGroup ?? 0,
    runAsNonRoot: (sc.runAsNonRoot ?? psc.runAsNonRoot) === true,
    noNewPrivs: sc.allowPrivilegeEscalation === false,
  };
}

/** The podd-init options that make an exec'd process (a hook, podd exec) run as the container's do. */
export function execIdentityArgs(s: ProcessSecurity): string[] {
  return ["--uid", String(s.uid), "--gid", String(s.gid), ...(s.noNewPrivs ? ["--no-new-privs"] : [])];
}
