// A pod's volumes on the host: emptyDir (a directory under the pod's state dir, or a tmpfs for
// medium Memory), hostPath with Kubernetes' type checks. Every hostPath use is reported, since
// it is the one way a pod reaches the host's files. With the pod's fsGroup an emptyDir is made
// the group's as it is created (the kubelet's SetVolumeOwnership); a hostPath is the host's and
// is never changed. An image volume is the image's layers as a read-only overlay in the pod's run
// dir, mounted once its image is in the store (the worker pulls it first).
import { chmodSync, chownSync, closeSync, existsSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { bytesOf } from "../../pod-specs/cgroup-conversions.ts";
import type { FSGroupChangePolicy, Pod, Volume } from "../../pod-specs/types.ts";
import { hasErrno, PoddError } from "../base/errors.ts";
import type { Layout, PodRef } from "../base/paths.ts";
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT, type Sys } from "../sys/index.ts";
import { outsideBlock } from "./userns.ts";
import { hasPayload, isMemoryBacked, isObjectVolume, NO_OBJECTS, ObjectVolumeError, volumePayload, writePayload, type PodObjects } from "./config-volumes.ts";

/**
 * Whether the pod's image volumes are handed to podd-init as links to their layers, for it to
 * stack in the container from layers idmapped to the pod's user namespace (hostUsers: false; an
 * overlay itself cannot be idmapped), rather than mounted here.
 */
export function imageVolumeAsLinks(pod: Pod): boolean {
  return pod.spec.hostUsers === false;
}

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

// What SetVolumeOwnership grants the group: read and write, and search on directories.
const GROUP_RW = 0o660;
const GROUP_X = 0o110;
const SETGID = 0o2000;

/**
 * Whether OnRootMismatch may leave the volume as it is: its root is a directory of the group,
 * with the setgid bit and at least group read, write and search (the kubelet's
 * requiresPermissionChange).
 */
export function ownershipMatches(root: Pick<Stats, "gid" | "mode" | "isDirectory">, fsGroup: number): boolean {
  if (root.gid !== fsGroup || !root.isDirectory()) return false;
  const want = GROUP_RW | GROUP_X;
  return (root.mode & want) === want && (root.mode & SETGID) !== 0;
}

/**
 * The kubelet's SetVolumeOwnership: every file and directory of the volume (symlinks not
 * followed) gets group fsGroup and group read and write; directories also group search and the
 * setgid bit, so that what is created in them later is the group's too. A symlink's group is
 * changed but not its mode, which would be its target's. With OnRootMismatch nothing is done
 * when the root already matches (ownershipMatches); Always (or none) walks the whole volume.
 */
export function setVolumeOwnership(dir: string, fsGroup: number, policy?: FSGroupChangePolicy): void {
  if (policy === "OnRootMismatch" && ownershipMatches(statSync(dir), fsGroup)) return;
  const walk = (path: string): void => {
    const st = lstatSync(path);
    lchownSync(path, -1, fsGroup);
    if (st.isSymbolicLink()) return;
    chmodSync(path, (st.mode & 0o7777) | GROUP_RW | (st.isDirectory() ? GROUP_X | SETGID : 0));
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}

/** The kubelet's event text for a volume that cannot be set up. */
function setUpFailed(volume: string, why: string): MountError {
  return new MountError(`MountVolume.SetUp failed for volume "${volume}" : ${why}`);
}

export class VolumeManager {
  /** where configMap, secret and claim volumes come from; the daemon sets its store here */
  objects: PodObjects = NO_OBJECTS;
  /** the host id of the pod's root: 0, or its user namespace's first id (hostUsers: false) */
  idBase: (pod: PodRef) => number = () => 0;

  constructor(
    private readonly sys: Sys,
    private readonly layout: Layout,
    private readonly onHostPath: (pod: PodRef, volume: string, path: string) => void = () => {},
    private readonly allocatable: { cpu?: string; memory?: string } = {},
    private readonly now: () => number = Date.now,
  ) {}

  /** hostPath uses already reported, as "<pod uid>/<volume>" */
  private readonly reported = new Set<string>();

  private memoryDir(pod: PodRef, name: string): string {
    return join(this.layout.podRunDir(pod), "volumes", name);
  }

  /**
   * Host paths of the pod's volumes, creating emptyDirs; idempotent, so a restart can redo it.
   * Image volumes are mounted when their image is among `images` (by volume name), and left
   * out otherwise.
   */
  prepare(ref: PodRef, pod: Pod, images: ReadonlyMap<string, { layerDirs: string[] }> = new Map()): Map<string, string> {
    const out = new Map<string, string>();
    const fsGroup = pod.spec.securityContext?.fsGroup;
    for (const v of pod.spec.volumes ?? []) {
      if (v.image) {
        const image = images.get(v.name);
        if (image) out.set(v.name, imageVolumeAsLinks(pod) ? this.layerLinks(ref, v.name, image.layerDirs) : this.mountImage(ref, v.name, image.layerDirs));
        continue;
      }
      out.set(v.name, this.prepareOne(ref, v, fsGroup, pod));
    }
    return out;
  }

  /**
   * The image's layers as a read-only overlay (a single layer: a read-only bind of it). The
   * lower directories are named through short links, relative to their directory, so that the
   * options fit in the page the kernel reads them from however deep the image.
   */
  /**
   * The image's layers as links 0, 1, … (top first) in a directory of the pod's run dir, which
   * it returns. Left as they are when they name these layers already: another container of the
   * pod may be reading them to mount the volume. Otherwise made aside and renamed into place.
   */
  private layerLinks(ref: PodRef, name: string, layerDirs: readonly string[]): string {
    const links = `${this.memoryDir(ref, name)}.layers`;
    const want = [...layerDirs].reverse();
    const has = (i: number) => {
      try {
        return readlinkSync(join(links, String(i)));
      } catch {
        return undefined;
      }
    };
    if (want.every((d, i) => has(i) === d) && has(want.length) === undefined) return links;
    const fresh = `${links}.new`;
    rmSync(fresh, { recursive: true, force: true });
    mkdirSync(fresh, { recursive: true, mode: 0o700 });
    want.forEach((d, i) => symlinkSync(d, join(fresh, String(i))));
    rmSync(links, { recursive: true, force: true });
    renameSync(fresh, links);
    return links;
  }

  private mountImage(ref: PodRef, name: string, layerDirs: readonly string[]): string {
    const dir = this.memoryDir(ref, name);
    const links = `${dir}.layers`;
    if (existsSync(dir) && statSync(dir).dev !== statSync(dirname(dir)).dev) return dir; // mounted already
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (layerDirs.length === 1) {
      this.sys.mount(layerDirs[0]!, dir, null, MS_BIND, null);
      this.sys.mount(null, dir, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, null);
      return dir;
    }
    this.layerLinks(ref, name, layerDirs);
    const lower = layerDirs.map((_, i) => String(i)).join(":");
    const cwd = process.cwd();
    process.chdir(links);
    try {
      this.sys.mount("overlay", dir, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, `lowerdir=${lower}`);
    } finally {
      process.chdir(cwd);
    }
    return dir;
  }

  // The kubelet's emptyDir sets its ownership once, when it is set up, and passes no
  // fsGroupChangePolicy (the field is for volumes that outlive a pod): so does podd. What a
  // container later changes in its volume stays changed across its restarts.
  private prepareOne(ref: PodRef, v: Volume, fsGroup: number | undefined, pod: Pod): string {
    if (isObjectVolume(v)) {
      const dir = this.objectVolumeDir(ref, v);
      // Set up once, as the kubelet mounts it once: a container that restarts finds the files
      // as refresh() last wrote them, even when the object has gone since.
      if (!hasPayload(dir)) this.writeObjectVolume(ref, v, dir, fsGroup, pod);
      return dir;
    }
    if (v.persistentVolumeClaim) {
      try {
        return this.objects.claim(ref, v.persistentVolumeClaim.claimName ?? "");
      } catch (err) {
        if (err instanceof ObjectVolumeError) throw setUpFailed(v.name, err.message);
        throw err;
      }
    }
    if (v.emptyDir) {
      if (v.emptyDir.medium === "Memory") {
        const dir = this.memoryDir(ref, v.name);
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true, mode: 0o777 });
          const size = v.emptyDir.sizeLimit ? `,size=${bytesOf(v.emptyDir.sizeLimit)}` : "";
          this.sys.mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, `mode=777${size}`);
          // A crash before this leaves a tmpfs the next sandbox removes first (removeMemory).
          this.ownRoot(ref, v.name, dir, fsGroup);
        }
        return dir;
      }
      const dir = this.layout.volumeDir(ref, v.name);
      if (!existsSync(dir)) {
        // Made whole under another name and renamed into place, so that a crash half-way
        // never leaves a volume without its group. Volume names are DNS labels: no "." in them.
        const fresh = `${dir}.new`;
        rmSync(fresh, { recursive: true, force: true });
        mkdirSync(fresh, { recursive: true, mode: 0o777 });
        this.ownRoot(ref, v.name, fresh, fsGroup);
        renameSync(fresh, dir);
      }
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
   * A secret or projected volume is a tmpfs of its own in the pod's run dir, so that a secret
   * never reaches a disk; a configMap or downwardAPI volume is a directory beside the pod's
   * emptyDirs, as the kubelet keeps them.
   */
  private objectVolumeDir(ref: PodRef, v: Volume): string {
    if (!isMemoryBacked(v)) return this.layout.volumeDir(ref, v.name);
    const dir = this.memoryDir(ref, v.name);
    if (existsSync(dir) && statSync(dir).dev !== statSync(dirname(dir)).dev) return dir; // mounted already
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    // Not noexec: a projected script with defaultMode 0755 runs, as from the kubelet's tmpfs.
    this.sys.mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
    return dir;
  }

  private writeObjectVolume(ref: PodRef, v: Volume, dir: string, fsGroup: number | undefined, pod: Pod): boolean {
    let payload;
    try {
      payload = volumePayload(v, pod, this.objects, this.allocatable);
    } catch (err) {
      if (err instanceof ObjectVolumeError) throw setUpFailed(v.name, err.message);
      throw err;
    }
    const base = this.idBase(ref);
    const outside = fsGroup === undefined ? undefined : outsideBlock(base !== 0, fsGroup, "fsGroup");
    if (outside) throw setUpFailed(v.name, outside);
    try {
      return writePayload(dir, payload, fsGroup, new Date(this.now()), base);
    } catch (err) {
      throw setUpFailed(v.name, `write the files of ${dir}: ${(err as Error).message}`);
    }
  }

  /**
   * Writes again the object volumes of a running pod whose objects changed (the kubelet's
   * periodic sync, done when the change happens); the names of the volumes that changed. A
   * volume whose object has gone keeps its last files, as in Kubernetes.
   */
  refresh(ref: PodRef, pod: Pod): string[] {
    const changed: string[] = [];
    const fsGroup = pod.spec.securityContext?.fsGroup;
    for (const v of pod.spec.volumes ?? []) {
      if (!isObjectVolume(v)) continue;
      const dir = isMemoryBacked(v) ? this.memoryDir(ref, v.name) : this.layout.volumeDir(ref, v.name);
      if (!existsSync(dir)) continue; // not set up yet: its first mount writes it
      try {
        if (this.writeObjectVolume(ref, v, dir, fsGroup, pod)) changed.push(v.name);
      } catch (err) {
        if (!(err instanceof MountError)) throw err;
        // The object or one of its keys is gone: the files stay as they were.
      }
    }
    return changed;
  }

  /** A new emptyDir: root's (the pod's own root, with hostUsers: false), and fsGroup's. */
  private ownRoot(ref: PodRef, volume: string, dir: string, fsGroup: number | undefined): void {
    const base = this.idBase(ref);
    const outside = fsGroup === undefined ? undefined : outsideBlock(base !== 0, fsGroup, "fsGroup");
    if (outside) throw new MountError(`volume ${volume}: ${outside}`);
    try {
      if (base !== 0) chownSync(dir, base, base);
      if (fsGroup !== undefined) setVolumeOwnership(dir, base + fsGroup);
    } catch (err) {
      throw new MountError(`volume ${volume}: set its owner${fsGroup !== undefined ? ` and group fsGroup ${fsGroup}` : ""}: ${(err as Error).message}`);
    }
  }

  /**
   * Unmounts and removes the Memory emptyDirs. They live in the pod's run dir, so this must
   * come before the sandbox removes that dir: a mount point cannot be removed (EBUSY).
   * Idempotent.
   */
  removeMemory(ref: PodRef, pod: Pod): void {
    for (const v of pod.spec.volumes ?? []) {
      if (v.emptyDir?.medium === "Memory" || v.image || isMemoryBacked(v)) {
        const dir = this.memoryDir(ref, v.name);
        try {
          this.sys.umount2(dir, MNT_DETACH);
        } catch (err) {
          // not mounted (EINVAL) or already gone (ENOENT): the goal state
          if (!hasErrno(err, "EINVAL") && !hasErrno(err, "ENOENT")) throw err;
        }
        rmSync(dir, { recursive: true, force: true });
        if (v.image) rmSync(`${dir}.layers`, { recursive: true, force: true });
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
