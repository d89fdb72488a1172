// A container's /etc/passwd and /etc/group, for what podd needs from them: the home directory of
// the uid a container runs as, which becomes its HOME when neither the image nor the manifest
// sets one (runc and the CRI runtimes do the same), and the groups /etc/group gives that uid's
// user, which supplementalGroupsPolicy Merge adds to its supplementary groups (containerd's
// WithAdditionalGIDs). Parsing is pure; reading the files of an image (which the image's author
// shaped) is readPasswd's and readGroup's, bounded and never following a symlink.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";

/** Larger than any real passwd or group file; a bigger one is read this far. */
export const PASSWD_MAX_BYTES = 1024 * 1024;

/**
 * The home directory of `uid` in the text of a passwd(5) file: the first entry with that
 * numeric uid and at least six fields, as getpwuid(3) finds it; undefined when there is none
 * or its home is empty. init/exec.c's default_home parses the same way for `podd exec`.
 */
export function homeOf(passwd: string, uid: number): string | undefined {
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 6 || !/^\d+$/.test(fields[2]!) || Number(fields[2]) !== uid) continue;
    return fields[5] || undefined;
  }
  return undefined;
}

/** The name of the first passwd(5) entry with numeric uid `uid` (as getpwuid(3) finds it). */
export function userNameOf(passwd: string, uid: number): string | undefined {
  for (const line of passwd.split("\n")) {
    const fields = line.replace(/\r$/, "").split(":");
    if (fields.length < 3 || !/^\d+$/.test(fields[2]!) || Number(fields[2]) !== uid) continue;
    return fields[0] || undefined;
  }
  return undefined;
}

/**
 * The gids of the group(5) entries that list `uid`'s user (by its name in passwd) as a member,
 * leaving out a group named like the user (its own group, which is the primary gid's business);
 * none when the uid has no passwd entry. Lines that are no entry (a comment, a bad gid) are
 * skipped.
 */
export function imageGroupsOf(passwd: string, group: string, uid: number): number[] {
  const user = userNameOf(passwd, uid);
  if (user === undefined) return [];
  const out: number[] = [];
  for (const line of group.split("\n")) {
    const fields = line.replace(/\r$/, "").split(":");
    if (line.startsWith("#") || fields.length < 4 || fields[0] === user || !/^\d+$/.test(fields[2]!)) continue;
    const gid = Number(fields[2]);
    if (gid > 0xfffffffe) continue;
    if (fields[3]!.split(",").some((m) => m.trim() === user)) out.push(gid);
  }
  return out;
}

/** The text of `<root>/etc/passwd`: see readEtcFile. */
export function readPasswd(root: string): string | undefined {
  return readEtcFile(root, "passwd");
}

/** The text of `<root>/etc/group`: see readEtcFile. */
export function readGroup(root: string): string | undefined {
  return readEtcFile(root, "group");
}

/** Whether a layer's directory hides the layers below (overlayfs's trusted.overlay.opaque). */
export type IsOpaque = (dir: string) => boolean;

/**
 * `/etc/<name>` of an image of layers (directories, bottom first) as its overlay will show
 * it: the topmost layer that has the file, unless a layer above deleted it (a whiteout, a 0:0
 * character device) or made /etc opaque.
 */
export function readLayeredEtcFile(layers: readonly string[], name: string, isOpaque: IsOpaque): string | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const etc = join(layers[i]!, "etc");
    const st = lstatOrUndefined(etc);
    if (!st) continue;
    if (!st.isDirectory()) return undefined; // a whiteout of /etc, or a file in its place
    const file = lstatOrUndefined(join(etc, name));
    if (file) return file.isCharacterDevice() && file.rdev === 0 ? undefined : readEtcFile(layers[i]!, name);
    if (isOpaque(etc)) return undefined;
  }
  return undefined;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw PoddError.wrap(`stat ${path}`, err);
  }
}

/**
 * The text of `<root>/etc/<name>`, or undefined when there is none, when it is no regular file
 * or when `etc` or the file is a symlink: an image's symlink would point into the host's
 * filesystem here, outside the container's root it was meant for.
 */
function readEtcFile(root: string, name: string): string | undefined {
  const etc = join(root, "etc");
  const path = join(etc, name);
  let fd: number;
  try {
    if (!lstatSync(etc).isDirectory()) return undefined;
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No file, or a symlink (ELOOP from O_NOFOLLOW), or a name that is no directory: no entries.
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") return undefined;
    throw PoddError.wrap(`read ${path}`, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, PASSWD_MAX_BYTES));
    let len = 0;
    for (let n; len < buf.length && (n = readSync(fd, buf, len, buf.length - len, null)) > 0; ) len += n;
    return buf.subarray(0, len).toString("utf8");
  } catch (err) {
    throw PoddError.wrap(`read ${path}`, err);
  } finally {
    closeSync(fd);
  }
}
