// A container's /etc/passwd, for the one thing podd needs from it: the home directory of the
// uid a container runs as, which becomes its HOME when neither the image nor the manifest sets
// one (runc and the CRI runtimes do the same). Parsing is pure; reading the file of an image
// (which the image's author shaped) is readPasswd's, bounded and never following a symlink.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";

/** Larger than any real passwd file; a bigger one is read this far. */
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

/**
 * The text of `<root>/etc/passwd`, or undefined when there is none, when it is no regular file
 * or when `etc` or `passwd` is a symlink: an image's symlink would point into the host's
 * filesystem here, outside the container's root it was meant for.
 */
export function readPasswd(root: string): string | undefined {
  const etc = join(root, "etc");
  const path = join(etc, "passwd");
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
