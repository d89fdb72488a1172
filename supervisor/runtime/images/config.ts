// The image config (OCI image-spec config.json, or Docker's image JSON, which has the same
// fields) and what a container takes from it, as the CRI runtimes apply it: the command, the
// environment, the working directory, the user and the stop signal. Pure.
import { constants } from "node:os";
import { PoddError } from "../../base/errors.ts";
import type { Platform } from "./source.ts";

export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  created?: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  /** "uid", "uid:gid", "name", "name:group", or "" (root) */
  user: string;
  stopSignal?: string;
  labels: Record<string, string>;
  /** the uncompressed layers' digests, bottom first */
  diffIds: string[];
}

/** What an image made by hand (`podd image import`) gets unless told otherwise. */
export const DEFAULT_IMAGE_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function bad(what: string, why: string): PoddError {
  return new PoddError(`image config ${what}: ${why}`, { code: "Invalid" });
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad(what, "must be a list of strings");
  return v as string[];
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw bad(what, "must be a string");
  return v;
}

/** Reads an image config; fields podd does not use (history, healthcheck, volumes) are ignored, as by every runtime. */
export function parseImageConfig(body: Buffer | string): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString());
  } catch (err) {
    throw bad("", `not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("", "not a JSON object");
  const d = doc as Record<string, unknown>;
  const c = (d.config ?? {}) as Record<string, unknown>;
  if (typeof c !== "object" || Array.isArray(c)) throw bad("config", "must be an object");
  const rootfs = d.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || rootfs.type !== "layers") throw bad("rootfs", 'must be {"type": "layers", "diff_ids": [...]}');
  const diffIds = strings(rootfs.diff_ids, "rootfs.diff_ids");
  for (const id of diffIds) if (!DIGEST.test(id)) throw bad("rootfs.diff_ids", `"${id}" is not a sha256 digest`);
  const labels: Record<string, string> = {};
  if (c.Labels && typeof c.Labels === "object") {
    for (const [k, v] of Object.entries(c.Labels as object)) if (typeof v === "string") labels[k] = v;
  }
  const cfg: ImageConfig = {
    os: str(d.os, "os") ?? "",
    architecture: str(d.architecture, "architecture") ?? "",
    entrypoint: strings(c.Entrypoint, "config.Entrypoint"),
    cmd: strings(c.Cmd, "config.Cmd"),
    env: strings(c.Env, "config.Env"),
    workingDir: str(c.WorkingDir, "config.WorkingDir") ?? "",
    user: str(c.User, "config.User") ?? "",
    labels,
    diffIds,
  };
  const variant = str(d.variant, "variant");
  if (variant) cfg.variant = variant;
  const created = str(d.created, "created");
  if (created) cfg.created = created;
  const stop = str(c.StopSignal, "config.StopSignal");
  if (stop) cfg.stopSignal = stop;
  return cfg;
}

/** An OCI image config for a root filesystem imported by hand: one layer, no command. */
export function importedImageConfig(platform: Platform, diffId: string, env: string[], workingDir: string, created: string): string {
  return JSON.stringify({
    created,
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: { Env: env, WorkingDir: workingDir },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created, created_by: "podd image import" }],
  });
}

/**
 * The command line of a container, as the CRI builds it from the manifest and the image:
 * `command` replaces the image's Entrypoint and drops its Cmd; `args` alone follow the
 * Entrypoint; neither takes Entrypoint + Cmd.
 */
export function containerArgv(command: readonly string[] | undefined, args: readonly string[] | undefined, image: Pick<ImageConfig, "entrypoint" | "cmd"> | undefined): string[] {
  if (command && command.length > 0) return [...command, ...(args ?? [])];
  const entrypoint = image?.entrypoint ?? [];
  if (args && args.length > 0) return [...entrypoint, ...args];
  return [...entrypoint, ...(image?.cmd ?? [])];
}

/** The environment: the image's, each variable replaced by a later one of the same name. */
export function mergeEnv(...lists: readonly (readonly string[])[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list) {
      const eq = kv.indexOf("=");
      if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  }
  return out;
}

export interface ImageUser {
  uid: number;
  /** undefined: the uid's primary group in /etc/passwd, else 0 */
  gid?: number;
  /** the user was given by name, so runAsNonRoot cannot be checked by the kubelet's rule */
  byName: boolean;
}

function lookup(file: string | undefined, name: string, idField: number): { id: number; gid?: number } | undefined {
  for (const line of (file ?? "").split("\n")) {
    const f = line.replace(/\r$/, "").split(":");
    if (line.startsWith("#") || f.length < 3 || f[0] !== name || !/^\d+$/.test(f[idField]!)) continue;
    const out: { id: number; gid?: number } = { id: Number(f[idField]) };
    if (f.length >= 4 && /^\d+$/.test(f[3]!)) out.gid = Number(f[3]);
    return out;
  }
  return undefined;
}

const MAX_ID = 0xfffffffe;

/**
 * The image's User resolved against its own /etc/passwd and /etc/group, as runc does for the
 * CRI: numbers stay numbers, names are looked up, a missing name is an error that holds the
 * container (CreateContainerConfigError).
 */
export function resolveImageUser(user: string, passwd: string | undefined, group: string | undefined): ImageUser | undefined {
  if (user === "") return undefined;
  const colon = user.indexOf(":");
  const u = colon < 0 ? user : user.slice(0, colon);
  const g = colon < 0 ? undefined : user.slice(colon + 1);
  let uid: number;
  let gid: number | undefined;
  let byName = false;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    if (uid > MAX_ID) throw new PoddError(`image user "${user}": uid out of range`, { code: "Invalid" });
    gid = passwdGidOf(passwd, uid);
  } else {
    const e = lookup(passwd, u, 2);
    if (!e) throw new PoddError(`unable to find user ${u}: no matching entries in passwd file`, { code: "Invalid" });
    uid = e.id;
    gid = e.gid;
    byName = true;
  }
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const e = lookup(group, g, 2);
      if (!e) throw new PoddError(`unable to find group ${g}: no matching entries in group file`, { code: "Invalid" });
      gid = e.id;
    }
    if (gid > MAX_ID) throw new PoddError(`image user "${user}": gid out of range`, { code: "Invalid" });
  }
  const out: ImageUser = { uid, byName };
  if (gid !== undefined) out.gid = gid;
  return out;
}

function passwdGidOf(passwd: string | undefined, uid: number): number | undefined {
  for (const line of (passwd ?? "").split("\n")) {
    const f = line.replace(/\r$/, "").split(":");
    if (f.length >= 4 && /^\d+$/.test(f[2]!) && Number(f[2]) === uid && /^\d+$/.test(f[3]!)) return Number(f[3]);
  }
  return undefined;
}

/** An image's StopSignal ("SIGQUIT", "QUIT", "3") as Node names it; undefined for one it does not know. */
export function stopSignalName(text: string | undefined): NodeJS.Signals | undefined {
  if (!text) return undefined;
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(text)) return Object.keys(signals).find((k) => signals[k] === Number(text)) as NodeJS.Signals | undefined;
  const name = text.toUpperCase().startsWith("SIG") ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  return name in signals ? (name as NodeJS.Signals) : undefined;
}
