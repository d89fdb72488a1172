// Volumes made of objects: configMap, secret, downwardAPI and projected. Their files are written
// the kubelet's way (its AtomicWriter), so that a container reading them while they change sees
// the old set or the new, never a mix: the files go into a fresh directory named by the time,
// then one rename swaps the "..data" symlink to it; the names a container sees are symlinks
// through "..data". An update therefore reaches a running container's mount, except through a
// subPath, which binds one file of one version (as in Kubernetes).
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ConfigMapProjection, DownwardAPIVolumeFile, KeyToPath, Pod, Volume } from "../../pod-specs/types.ts";
import { podFieldValue, resourceFieldValue } from "../../pod-specs/env.ts";
import type { PodRef } from "../base/paths.ts";
import { PoddError } from "../base/errors.ts";

/** The objects a pod's volumes and env are made from, as the daemon's store has them now. */
export interface PodObjects {
  configMap(namespace: string, name: string): { data?: Record<string, string>; binaryData?: Record<string, string> } | undefined;
  /** its data base64, as stored */
  secret(namespace: string, name: string): { data?: Record<string, string> } | undefined;
  /** the directory of the claim's volume, made on first use; throws a MountError when the claim cannot be used */
  claim(pod: PodRef, claimName: string): string;
}

/** What `podd run` has: no objects. */
export const NO_OBJECTS: PodObjects = {
  configMap: () => undefined,
  secret: () => undefined,
  claim: (_pod, name) => {
    throw new ObjectVolumeError(`persistentvolumeclaim "${name}" not found`);
  },
};

/** A volume whose object or key is missing: the kubelet's FailedMount, retried. */
export class ObjectVolumeError extends PoddError {
  constructor(message: string) {
    super(message, { code: "NotFound" });
  }
}

export const DEFAULT_FILE_MODE = 0o644;

export interface PayloadFile {
  data: Buffer;
  mode: number;
}

export type Payload = Map<string, PayloadFile>;

export function isObjectVolume(v: Volume): boolean {
  return v.configMap !== undefined || v.secret !== undefined || v.downwardAPI !== undefined || v.projected !== undefined;
}

/** Secrets and projections (which may hold secrets) are kept in memory only, as the kubelet's. */
export function isMemoryBacked(v: Volume): boolean {
  return v.secret !== undefined || v.projected !== undefined;
}

interface Source {
  kind: "configmap" | "secret";
  ref: ConfigMapProjection;
}

function objectFiles(pod: Pod, objects: PodObjects, src: Source, defaultMode: number, out: Payload): void {
  const ns = pod.metadata.namespace ?? "default";
  const name = src.ref.name ?? "";
  const data = new Map<string, Buffer>();
  if (src.kind === "configmap") {
    const cm = objects.configMap(ns, name);
    if (cm === undefined) {
      if (src.ref.optional === true) return;
      throw new ObjectVolumeError(`configmap "${name}" not found`);
    }
    for (const [k, v] of Object.entries(cm.data ?? {})) data.set(k, Buffer.from(v, "utf8"));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) data.set(k, Buffer.from(v, "base64"));
  } else {
    const s = objects.secret(ns, name);
    if (s === undefined) {
      if (src.ref.optional === true) return;
      throw new ObjectVolumeError(`secret "${name}" not found`);
    }
    for (const [k, v] of Object.entries(s.data ?? {})) data.set(k, Buffer.from(v, "base64"));
  }
  const items: readonly KeyToPath[] = src.ref.items ?? [...data.keys()].map((key) => ({ key, path: key }));
  for (const item of items) {
    const bytes = data.get(item.key);
    if (bytes === undefined) {
      if (src.ref.optional === true) continue;
      throw new ObjectVolumeError(`${src.kind} references non-existent ${src.kind === "configmap" ? "config" : "secret"} key: ${item.key}`);
    }
    out.set(item.path, { data: bytes, mode: item.mode ?? defaultMode });
  }
}

/** The kubelet's form of a whole map in one file: key="value" lines, sorted, quoted as Go's %q. */
export function formatMap(m: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join("\n");
}

function downwardFiles(pod: Pod, items: readonly DownwardAPIVolumeFile[], defaultMode: number, allocatable: { cpu?: string; memory?: string }, out: Payload): void {
  for (const item of items) {
    let value = "";
    const f = item.fieldRef?.fieldPath;
    if (f === "metadata.labels") value = formatMap(pod.metadata.labels);
    else if (f === "metadata.annotations") value = formatMap(pod.metadata.annotations);
    else if (f !== undefined) value = podFieldValue(pod, f) ?? "";
    else if (item.resourceFieldRef) {
      const c = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((x) => x.name === item.resourceFieldRef!.containerName);
      value = (c && resourceFieldValue(pod, c, item.resourceFieldRef, allocatable)) ?? "";
    }
    out.set(item.path, { data: Buffer.from(value, "utf8"), mode: item.mode ?? defaultMode });
  }
}

/** The files of an object volume now; throws ObjectVolumeError when an object or key it needs is missing. */
export function volumePayload(v: Volume, pod: Pod, objects: PodObjects, allocatable: { cpu?: string; memory?: string } = {}): Payload {
  const out: Payload = new Map();
  if (v.configMap) objectFiles(pod, objects, { kind: "configmap", ref: v.configMap }, v.configMap.defaultMode ?? DEFAULT_FILE_MODE, out);
  if (v.secret) {
    const { secretName, ...rest } = v.secret;
    objectFiles(pod, objects, { kind: "secret", ref: { ...rest, ...(secretName !== undefined ? { name: secretName } : {}) } }, v.secret.defaultMode ?? DEFAULT_FILE_MODE, out);
  }
  if (v.downwardAPI) downwardFiles(pod, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE, allocatable, out);
  if (v.projected) {
    const mode = v.projected.defaultMode ?? DEFAULT_FILE_MODE;
    for (const s of v.projected.sources ?? []) {
      if (s.configMap) objectFiles(pod, objects, { kind: "configmap", ref: s.configMap }, mode, out);
      if (s.secret) objectFiles(pod, objects, { kind: "secret", ref: s.secret }, mode, out);
      if (s.downwardAPI) downwardFiles(pod, s.downwardAPI.items ?? [], mode, allocatable, out);
    }
  }
  return out;
}

const DATA = "..data";
const DATA_TMP = "..data_tmp";

/** Whether dir shows a payload: a volume written once (an empty payload included). */
export function hasPayload(dir: string): boolean {
  return isSymlink(join(dir, DATA));
}

/** The payload the volume shows now, read back through "..data"; undefined when it has none. */
function currentPayload(dir: string): Payload | undefined {
  let target: string;
  try {
    target = readlinkSync(join(dir, DATA));
  } catch {
    return undefined; // no "..data" yet: a volume never written
  }
  const out: Payload = new Map();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, target, rel))) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, target, path));
      if (st.isDirectory()) walk(path);
      else out.set(path, { data: readFileSync(join(dir, target, path)), mode: st.mode & 0o7777 });
    }
  };
  walk("");
  return out;
}

function samePayload(a: Payload, b: Payload, fsGroup: number | undefined): boolean {
  if (a.size !== b.size) return false;
  for (const [path, f] of a) {
    const g = b.get(path);
    if (!g || !g.data.equals(f.data) || g.mode !== fileMode(f.mode, fsGroup)) return false;
  }
  return true;
}

// With fsGroup the kubelet's SetVolumeOwnership makes each file the group's and readable by it
// (these volumes are read-only: no write bit is added), and each directory searchable and setgid.
function fileMode(mode: number, fsGroup: number | undefined): number {
  return fsGroup === undefined ? mode : mode | 0o440;
}

function timestampedName(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const ns = `${p(now.getUTCMilliseconds(), 3)}${String(process.hrtime.bigint() % 1_000_000n).padStart(6, "0")}`;
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.${ns}`;
}

/**
 * Makes dir show the payload; does nothing when it already does. Returns whether it changed.
 * The steps are the kubelet's, in its order, so that a crash at any point leaves either the
 * old files or the new ones visible, and the next write cleans up what is left.
 */
export function writePayload(dir: string, payload: Payload, fsGroup: number | undefined, now: Date, idBase = 0): boolean {
  // The files are root's (the pod's root with hostUsers: false, at idBase on the host), their
  // group fsGroup's when there is one.
  const owned = fsGroup !== undefined || idBase !== 0;
  const uid = idBase;
  const gid = idBase + (fsGroup ?? 0);
  const current = currentPayload(dir);
  if (current && samePayload(payload, current, fsGroup)) return false;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fresh = timestampedName(now);
  const freshDir = join(dir, fresh);
  mkdirSync(freshDir, { mode: 0o755 });
  for (const [path, f] of payload) {
    const file = join(freshDir, path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, f.data, { mode: f.mode });
    // writeFileSync's mode is filtered through the umask; the kubelet sets it exactly.
    chmodSync(file, fileMode(f.mode, fsGroup));
    if (owned) lchownSync(file, uid, gid);
  }
  if (owned) ownDirs(freshDir, uid, gid, fsGroup !== undefined);
  const old = current ? readlinkSync(join(dir, DATA)) : undefined;
  rmSync(join(dir, DATA_TMP), { force: true });
  symlinkSync(fresh, join(dir, DATA_TMP));
  if (owned) lchownSync(join(dir, DATA_TMP), uid, gid);
  renameSync(join(dir, DATA_TMP), join(dir, DATA));
  // The names a container sees: one symlink per top-level name, through ..data.
  const top = new Set([...payload.keys()].map((p) => p.split("/")[0]!));
  for (const name of top) {
    const link = join(dir, name);
    if (!existsSync(link) && !isSymlink(link)) symlinkSync(join(DATA, name), link);
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith("..")) {
      // An older version, or what a crash left of an unfinished write.
      if (name !== DATA && name !== fresh) rmSync(join(dir, name), { recursive: true, force: true });
      continue;
    }
    if (!top.has(name)) rmSync(join(dir, name), { force: true });
  }
  if (old && old !== fresh) rmSync(join(dir, old), { recursive: true, force: true });
  return true;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false; // nothing there
  }
}

function ownDirs(dir: string, uid: number, gid: number, groupShared: boolean): void {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return;
  lchownSync(dir, uid, gid);
  if (groupShared) chmodSync(dir, (st.mode & 0o7777) | 0o550 | 0o2000);
  for (const name of readdirSync(dir)) ownDirs(join(dir, name), uid, gid, groupShared);
}
