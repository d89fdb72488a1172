// The pod sandbox: the network, IPC and UTS namespaces a pod's containers share, created by a
// short-lived `podd-init sandbox` and kept alive only by bind mounts of their ns files (no pause
// process), plus the pod's /etc/hostname and /dev/shm, and the files its /etc/hosts and
// /etc/resolv.conf are bound from (their text is the network's: runtime/network/).
// The pod's sysctls are set inside those namespaces by `podd-init sysctl` once the pod's
// network is set up (setSysctls), so that they win over what the CNI plugins set.
//
// Mount propagation: the pod's ns directory is a bind mount of itself made *shared*. A mount
// namespace created later by a host service, which keeps its propagation, holds copies of the
// pins as peers or slaves, so unmounting a pin here unmounts those too and the namespace is
// really freed. A container's PID 1 makes its copy private at once (so nothing it mounts leaks
// out) and then drops the copies itself: with the old root after pivot_root, or by detaching
// podd's roots on a host-root container.
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { constants as os } from "node:os";
import { isSameProcess } from "../base/proc.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import { runChecked } from "../base/exec-file.ts";
import type { Layout, PodRef } from "../base/paths.ts";
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_SHARED, type Sys } from "../sys/index.ts";

export type SharedNs = "net" | "ipc" | "uts" | "pid" | "user";

export interface SandboxSpec {
  pod: PodRef;
  hostname: string;
  hostNetwork: boolean;
  hostIPC: boolean;
  /** shareProcessNamespace: one PID namespace for the pod, its PID 1 a podd-init that reaps */
  sharePid: boolean;
  /** hostUsers: false: the first host id of the pod's user namespace, which owns its other namespaces */
  usernsBase?: number;
  /** the cgroup dirs that podd-init joins (with sharePid), so that the pod's cgroup kill ends it */
  podInitCgroups?: string[];
  /** /dev/shm size in bytes for the pod (shared by its containers) */
  shmSize: number;
  /** spec.securityContext.sysctls, admitted: each of a namespace the pod has of its own */
  sysctls?: readonly { name: string; value: string }[];
}

/** A sandbox that could not be made: the kubelet's FailedCreatePodSandBox. */
export class SandboxError extends PoddError {}

export interface Sandbox {
  /** pin file per namespace the pod owns; absent kinds are the host's */
  ns: Partial<Record<SharedNs, string>>;
  /** hostUsers: false: the host id of root in the pod's user namespace (ns.user) */
  usernsBase?: number;
  hosts: string;
  hostname: string;
  resolvConf: string;
  /** the pod's /dev/shm, or undefined to use the host's (hostIPC) */
  shm: string | undefined;
}

/** podd-init's options for the pod's user namespace (hostUsers: false): its pin, and the host id of its root. */
export function usernsArgs(sb: Pick<Sandbox, "ns" | "usernsBase">): string[] {
  return sb.ns.user !== undefined && sb.usernsBase !== undefined ? ["--userns", sb.ns.user, "--userns-base", String(sb.usernsBase)] : [];
}

export interface HostFiles {
  resolvConf: string;
  /** used when resolvConf points at a local stub resolver unreachable from a pod network */
  resolvedUpstream: string;
  hosts: string;
}

export const defaultHostFiles: HostFiles = {
  resolvConf: "/etc/resolv.conf",
  resolvedUpstream: "/run/systemd/resolve/resolv.conf",
  hosts: "/etc/hosts",
};

export class SandboxManager {
  constructor(
    private readonly sys: Sys,
    private readonly layout: Layout,
    private readonly initPath: string,
    private readonly hostFiles: HostFiles = defaultHostFiles,
  ) {}

  paths(spec: Pick<SandboxSpec, "pod" | "hostNetwork" | "hostIPC" | "sharePid" | "usernsBase">): Sandbox {
    const dir = this.layout.podRunDir(spec.pod);
    const nsDir = this.layout.podNsDir(spec.pod);
    const ns: Partial<Record<SharedNs, string>> = {};
    // A hostNetwork pod keeps the host's hostname too, as on a Kubernetes node.
    if (!spec.hostNetwork) {
      ns.net = join(nsDir, "net");
      ns.uts = join(nsDir, "uts");
    }
    if (!spec.hostIPC) ns.ipc = join(nsDir, "ipc");
    if (spec.sharePid) ns.pid = join(nsDir, "pid");
    if (spec.usernsBase !== undefined) ns.user = join(nsDir, "user");
    return {
      ns,
      usernsBase: spec.usernsBase,
      hosts: join(dir, "etc", "hosts"),
      hostname: join(dir, "etc", "hostname"),
      resolvConf: join(dir, "etc", "resolv.conf"),
      shm: spec.hostIPC ? undefined : join(dir, "shm"),
    };
  }

  /** Creates the sandbox; on any failure undoes what it did and throws. */
  async create(spec: SandboxSpec): Promise<Sandbox> {
    const sb = this.paths(spec);
    const nsDir = this.layout.podNsDir(spec.pod);
    try {
      mkdirSync(nsDir, { recursive: true, mode: 0o700 });
      mkdirSync(join(this.layout.podRunDir(spec.pod), "etc"), { mode: 0o755 });
      this.sys.mount(nsDir, nsDir, null, MS_BIND, null);
      this.sys.mount(null, nsDir, null, MS_SHARED, null);
      // The hostname is the pod's only in a UTS namespace of its own (not with hostNetwork).
      const args = ["sandbox", ...(sb.ns.uts ? ["--hostname", spec.hostname] : [])];
      for (const kind of ["net", "ipc", "uts", "pid"] as const) {
        const pin = sb.ns[kind];
        if (pin) args.push(`--${kind}`, pin);
      }
      args.push(...usernsArgs(sb));
      if (sb.ns.pid) {
        args.push("--pid-record", this.podInitRecord(spec.pod));
        for (const dir of spec.podInitCgroups ?? []) args.push("--pid-cgroup", dir);
      }
      if (sb.ns.net || sb.ns.ipc || sb.ns.uts || sb.ns.pid) {
        try {
          await runChecked(`create sandbox for pod ${spec.pod.name}`, this.initPath, args);
        } catch (err) {
          throw new SandboxError((err as Error).message, { cause: err });
        }
      }
      if (sb.shm) {
        mkdirSync(sb.shm, { mode: 0o1777 });
        this.sys.mount("shm", sb.shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${spec.shmSize}`);
      }
      writeFileSync(sb.hostname, spec.hostNetwork ? readFileSync("/proc/sys/kernel/hostname", "utf8") : `${spec.hostname}\n`);
      return sb;
    } catch (err) {
      await this.destroy(spec).catch((cleanupErr: unknown) => {
        throw new PoddError(`${(err as Error).message}; cleaning up also failed: ${(cleanupErr as Error).message}`, { cause: err });
      });
      throw err;
    }
  }

  /**
   * The pod's sysctls, set by `podd-init sysctl` in its network and IPC namespaces. Admission
   * let through only those of a namespace the pod has of its own; podd-init refuses any other,
   * which would be the host's.
   */
  async setSysctls(spec: SandboxSpec, sb: Sandbox): Promise<void> {
    const sysctls = spec.sysctls ?? [];
    if (sysctls.length === 0) return;
    const args = ["sysctl", ...(sb.ns.net ? ["--net", sb.ns.net] : []), ...(sb.ns.ipc ? ["--ipc", sb.ns.ipc] : []), ...sysctls.map((s) => `${s.name}=${s.value}`)];
    try {
      await runChecked(`set the sysctls of pod ${spec.pod.name}`, this.initPath, args);
    } catch (err) {
      throw new SandboxError((err as Error).message, { cause: err });
    }
  }

  /** Ends the pod's init, unmounts pins, /dev/shm and the ns directory and removes the pod's run dir. Idempotent. */
  async destroy(spec: Pick<SandboxSpec, "pod" | "hostNetwork" | "hostIPC" | "sharePid" | "usernsBase">): Promise<void> {
    const sb = this.paths(spec);
    // Whatever the spec says now: a record means a pod init was started.
    await this.endPodInit(spec.pod);
    // Whatever the spec says now, too: a user namespace pin is there or it is not.
    const user = join(this.layout.podNsDir(spec.pod), "user");
    for (const target of [sb.ns.net, sb.ns.ipc, sb.ns.uts, sb.ns.pid, user, sb.shm, this.layout.podNsDir(spec.pod)]) {
      if (target) this.unmountAll(target);
    }
    rmSync(this.layout.podRunDir(spec.pod), { recursive: true, force: true });
  }

  /**
   * Tears down the sandbox of a pod nothing describes any more (an orphan found in the run
   * root): which namespaces it owns is read from the pins it has.
   */
  async destroyFound(pod: PodRef): Promise<void> {
    const nsDir = this.layout.podNsDir(pod);
    await this.destroy({
      pod,
      hostNetwork: !existsSync(join(nsDir, "net")),
      hostIPC: !existsSync(join(nsDir, "ipc")),
      sharePid: existsSync(join(nsDir, "pid")),
    });
  }

  /** Where `podd-init sandbox` records the pod init: "PID STARTTIME". */
  private podInitRecord(pod: PodRef): string {
    return join(this.layout.podNsDir(pod), "pod-init");
  }

  /**
   * SIGKILL to the pod's init, which ends its PID namespace and all left in it, and waits for
   * its exit. Checked by start time, so a reused pid is never signalled; gone already is done.
   */
  private async endPodInit(pod: PodRef): Promise<void> {
    let text: string;
    try {
      text = readFileSync(this.podInitRecord(pod), "utf8");
    } catch (err) {
      if (hasErrno(err, "ENOENT")) return;
      throw PoddError.wrap(`read ${this.podInitRecord(pod)}`, err);
    }
    const [pid, startTime] = text.trim().split(" ").map(Number);
    if (!pid || startTime === undefined) return;
    const pidfd = this.sys.pidfdOpen(pid);
    if (pidfd === null) return;
    // Checked after the pidfd was opened: it then names the pod init or a process that reused
    // its pid, and only the first is signalled or waited for.
    if (!isSameProcess(pid, startTime)) {
      this.sys.close(pidfd);
      return;
    }
    let watch: { stop(): void } | undefined;
    const exited = new Promise<void>((resolve) => (watch = this.sys.watchExit(pidfd, resolve)));
    try {
      this.sys.pidfdSendSignal(pidfd, os.signals.SIGKILL);
    } catch (err) {
      watch?.stop();
      throw err;
    }
    await exited;
  }

  /** Unmounts every mount stacked on target; "not mounted" and "gone" are the goal, not errors. */
  private unmountAll(target: string): void {
    for (;;) {
      try {
        this.sys.umount2(target, MNT_DETACH);
      } catch (err) {
        if (hasErrno(err, "EINVAL") || hasErrno(err, "ENOENT")) return;
        throw err;
      }
    }
  }

  /** The host's resolver configuration as a pod network can use it. */
  hostResolvConf(): string {
    const text = readFileSync(this.hostFiles.resolvConf, "utf8");
    // A stub resolver on the host's loopback is unreachable from the pod's own network
    // namespace; the kubelet reads systemd-resolved's upstream list in that case.
    if (/^\s*nameserver\s+127\.0\.0\.53\b/m.test(text) && existsSync(this.hostFiles.resolvedUpstream)) {
      return readFileSync(this.hostFiles.resolvedUpstream, "utf8");
    }
    return text;
  }

  hostHosts(): string {
    return readFileSync(this.hostFiles.hosts, "utf8");
  }

  /**
   * The pod's /etc/hosts or /etc/resolv.conf. Rewritten in place once containers have it
   * bound (a rename would leave their bind mounts on the old file): one write from offset 0,
   * then the file is cut to length; a shorter text is padded to the old length first, so a
   * reader sees the old text or the new one, never a fragment of an old line.
   */
  writeFile(path: string, text: string, create = true): void {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | (create ? constants.O_CREAT : 0), 0o644);
    } catch (err) {
      // A rewrite of a file whose sandbox went meanwhile: nothing is left to update.
      if (!create && hasErrno(err, "ENOENT")) return;
      throw PoddError.wrap(`open ${path}`, err);
    }
    try {
      let data = Buffer.from(text);
      // Shorter than before: padded to the old length with a comment, so that a reader between
      // the write and the cut never sees a fragment of an old line as an entry.
      const old = fstatSync(fd).size;
      if (data.length < old) data = Buffer.concat([data, Buffer.from(old - data.length >= 2 ? `#${" ".repeat(old - data.length - 2)}\n` : "\n")]);
      writeSync(fd, data, 0, data.length, 0);
      ftruncateSync(fd, data.length);
    } catch (err) {
      throw PoddError.wrap(`write ${path}`, err);
    } finally {
      closeSync(fd);
    }
  }
}
