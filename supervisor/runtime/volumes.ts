// A pod's volumes on the host: emptyDir (a directory under the pod's state dir, or a tmpfs for
// medium Memory), hostPath with Kubernetes' type checks. Every hostPath use is reported, since
// it is the one way a pod reaches the host's files.
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { bytesOf } from "../../pod-specs/cgroup-conversions.ts";
import type { Pod, Volume } from "../../pod-specs/types.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import type { Layout, PodRef } from "../base/paths.ts";
import { MNT_DETACH, MS_NODEV, MS_NOSUID, type Sys } from "../sys/index.ts";

/** A volume that cannot be set up: the kubelet's FailedMount. */
export class MountError extends PoddError {
  constructor(message: string) {
    super(message, { code: "Invalid" });
  }
}

export function hostPathCheck(path: string, type: string): void {
  const want: Record<string, [string, (s: Stats) => boolean]> = {
    Directory: ["a directory", (s) => s.isDirectory()],
    File: ["a file", (s) => s.isFile()],
    Socket: ["a socket", (s) => s.isSocket()],
    CharDevice: ["a character device", (s) => s.isCharacterDevice()],
    BlockDevice: ["a block device", (s) => s.isBlockDevice()],
  };
  if (type === "" || type === undefined) return;
  if (type === "DirectoryOrCreate") {
    if (!existsSync(path)) mkdirSync(path, { recursive: true, mode: 0o755 });
    type = "Directory";
  } else if (type === "FileOrCreate") {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      closeSync(openSync(path, "a", 0o644));
    }
    type = "File";
  }
  const [what, ok] = want[type] ?? ["", () => true];
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (hasErrno(err, "ENOENT")) throw new MountError(`hostPath type check failed: ${path} does not exist`);
    throw PoddError.wrap(`hostPath ${path}`, err);
  }
  if (!ok(st)) throw new MountError(`hostPath type check failed: ${path} is not ${what}`);
}

export class VolumeManager {
  constructor(
    private readonly sys: Sys,
    private readonly layout: Layout,
    private readonly onHostPath: (pod: PodRef, volume: string, path: string) => void = () => {},
  ) {}

  /** hostPath uses already reported, as "<pod uid>/<volume>" */
  private readonly reported = new Set<string>();

  private memoryDir(pod: PodRef, name: string): string {
    return join(this.layout.podRunDir(pod), "volumes", name);
  }

  /** Host paths of the pod's volumes, creating emptyDirs; idempotent, so a restart can redo it. */
  prepare(ref: PodRef, pod: Pod): Map<string, string> {
    const out = new Map<string, string>();
    for (const v of pod.spec.volumes ?? []) out.set(v.name, this.prepareOne(ref, v));
    return out;
  }

  private prepareOne(ref: PodRef, v: Volume): string {
    if (v.emptyDir) {
      if (v.emptyDir.medium === "Memory") {
        const dir = this.memoryDir(ref, v.name);
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true, mode: 0o777 });
          const size = v.emptyDir.sizeLimit ? `,size=${bytesOf(v.emptyDir.sizeLimit)}` : "";
          this.sys.mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, `mode=777${size}`);
        }
        return dir;
      }
      const dir = this.layout.volumeDir(ref, v.name);
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      return dir;
    }
    if (v.hostPath) {
      hostPathCheck(v.hostPath.path, v.hostPath.type ?? "");
      // prepare() runs again before every container start (the check is redone, as the
      // kubelet does on each mount); the use is reported once per pod.
      const key = `${ref.uid}/${v.name}`;
      if (!this.reported.has(key)) {
        this.reported.add(key);
        this.onHostPath(ref, v.name, v.hostPath.path);
      }
      return v.hostPath.path;
    }
    throw new MountError(`volume ${v.name}: this volume type is not supported yet by podd`);
  }

  /**
   * Unmounts and removes the Memory emptyDirs. They live in the pod's run dir, so this must
   * come before the sandbox removes that dir: a mount point cannot be removed (EBUSY).
   * Idempotent.
   */
  removeMemory(ref: PodRef, pod: Pod): void {
    for (const v of pod.spec.volumes ?? []) {
      if (v.emptyDir?.medium === "Memory") {
        const dir = this.memoryDir(ref, v.name);
        try {
          this.sys.umount2(dir, MNT_DETACH);
        } catch (err) {
          // not mounted (EINVAL) or already gone (ENOENT): the goal state
          if (!hasErrno(err, "EINVAL") && !hasErrno(err, "ENOENT")) throw err;
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  /** Removes emptyDirs (disk and memory); hostPaths are the host's and stay. Idempotent. */
  remove(ref: PodRef, pod: Pod): void {
    this.removeMemory(ref, pod);
    for (const v of pod.spec.volumes ?? []) this.reported.delete(`${ref.uid}/${v.name}`);
    rmSync(join(this.layout.podStateDir(ref), "volumes"), { recursive: true, force: true });
  }
}
