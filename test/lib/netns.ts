// Network namespaces of a test's own, pinned by a bind mount on a file under the test's
// directory (so destroyEnv's unmount of everything under it frees them): the "host" a
// networking daemon runs in, and a "world" beyond it. Nothing is created in the network
// namespace the tests themselves run in.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A new network namespace pinned at path, with lo up. */
export function makeNetns(path: string): string {
  writeFileSync(path, "");
  const r = spawnSync("unshare", [`--net=${path}`, "true"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`unshare --net=${path}: ${r.stderr}`);
  inNetns(path, "ip", ["link", "set", "lo", "up"], true);
  return path;
}

/** Runs a command in the namespace; with check, throws unless it exits 0. */
export function inNetns(path: string, cmd: string, args: string[], check = false): Ran {
  const r = spawnSync("nsenter", [`--net=${path}`, cmd, ...args], { encoding: "utf8", timeout: 30_000 });
  const ran = { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (check && ran.status !== 0) throw new Error(`in ${path}: ${cmd} ${args.join(" ")}: exit ${ran.status}: ${ran.stderr}`);
  return ran;
}

/** Unpins the namespace; it goes once nothing else (a process, an interface's peer) holds it. */
export function removeNetns(path: string): void {
  spawnSync("umount", ["-l", path]);
  rmSync(path, { force: true });
}

/**
 * A veth pair between two namespaces with an address on each end (both in one /24): the
 * "world" is reachable from the host namespace, and through its masquerade from the pods.
 */
export function connect(hostNs: string, hostAddr: string, worldNs: string, worldAddr: string, prefix = 24): void {
  inNetns(hostNs, "ip", ["link", "add", "podd-t-h", "type", "veth", "peer", "name", "podd-t-w"], true);
  inNetns(hostNs, "ip", ["link", "set", "podd-t-w", "netns", worldNs], true);
  inNetns(hostNs, "ip", ["addr", "add", `${hostAddr}/${prefix}`, "dev", "podd-t-h"], true);
  inNetns(hostNs, "ip", ["link", "set", "podd-t-h", "up"], true);
  inNetns(worldNs, "ip", ["addr", "add", `${worldAddr}/${prefix}`, "dev", "podd-t-w"], true);
  inNetns(worldNs, "ip", ["link", "set", "podd-t-w", "up"], true);
}
