// podd's local-path storage class: a claim's volume is a directory under the state root, made
// when the first pod that uses the claim starts (WaitForFirstConsumer, as k3s's local-path
// provisioner binds), kept when the pod goes, removed with the claim (reclaim policy Delete) or
// left for the operator (Retain). A directory has no size of its own: the request is checked
// against the filesystem it lives on, and not enforced beyond that, as with local-path.
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ObjectVolumeError } from "./config-volumes.ts";

/** Makes the claim's directory if it is not there; the request must fit the filesystem. */
export function provisionLocalPath(dir: string, requestBytes: bigint, className: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const fs = statfsSync(parent, { bigint: true });
  const size = fs.blocks * fs.bsize;
  if (requestBytes > size) {
    throw new ObjectVolumeError(`failed to provision volume with StorageClass "${className}": the claim requests ${requestBytes} bytes, more than the ${size} bytes of the filesystem of ${parent}`);
  }
  // Made whole under another name and renamed into place: a crash never leaves half of it.
  const fresh = `${dir}.new`;
  rmSync(fresh, { recursive: true, force: true });
  // Any user of any container may write it, as local-path makes its directories.
  mkdirSync(fresh, { mode: 0o777 });
  chmodSync(fresh, 0o777); // past the umask
  renameSync(fresh, dir);
}

const DELETED = ".deleted";

/**
 * Removes the claim's directory and everything in it (reclaim policy Delete): at once from its
 * place, by a rename, then its content in the background, so that a claim of a million files
 * never holds up the daemon. What a crash left half removed goes with removeDeletedLocalPaths.
 */
export function deleteLocalPath(dir: string): Promise<void> {
  if (!existsSync(dir)) return Promise.resolve();
  const doomed = `${dir}${DELETED}`;
  rmSync(doomed, { recursive: true, force: true });
  renameSync(dir, doomed);
  return rm(doomed, { recursive: true, force: true });
}

/** The claims' directories that a deletion left (the daemon stopped during one). */
export function removeDeletedLocalPaths(claimsDir: string): Promise<void> {
  if (!existsSync(claimsDir)) return Promise.resolve();
  const left = readdirSync(claimsDir).filter((n) => n.endsWith(DELETED));
  return Promise.all(left.map((n) => rm(join(claimsDir, n), { recursive: true, force: true }))).then(() => {});
}
