// podd's local-path storage class: a claim's volume is a directory under the state root, made
// when the first pod that uses the claim starts (WaitForFirstConsumer, as k3s's local-path
// provisioner binds), kept when the pod goes, removed with the claim (reclaim policy Delete) or
// left for the operator (Retain). A directory has no size of its own: the request is checked
// against the filesystem it lives on, and not enforced beyond that, as with local-path.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
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

/** Removes the claim's directory and everything in it (reclaim policy Delete). */
export function deleteLocalPath(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
