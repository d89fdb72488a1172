// The node's address (status.hostIP), found as the kubelet finds it without --node-ip: the
// address of the interface that holds the default route, else the first global IPv4 address,
// else loopback. parseDefaultRouteInterface is pure, on /proc/net/route's text.
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hasErrno, PoddError } from "../../base/errors.ts";

/** The interface of the IPv4 default route (destination and mask 0) with the lowest metric. */
export function parseDefaultRouteInterface(text: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const up = (parseInt(flags, 16) & 1) === 1;
    if (!up || dest !== "00000000" || mask !== "00000000") continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

export function hostAddress(procRoot = "/proc", interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  let routes = "";
  try {
    routes = readFileSync(join(procRoot, "net", "route"), "utf8");
  } catch (err) {
    if (!hasErrno(err, "ENOENT")) throw PoddError.wrap(`read ${join(procRoot, "net", "route")}`, err);
  }
  const iface = parseDefaultRouteInterface(routes);
  const v4 = (list: NetworkInterfaceInfo[] | undefined) => list?.find((a) => a.family === "IPv4" && !a.internal)?.address;
  const onRoute = iface ? v4(interfaces[iface]) : undefined;
  if (onRoute) return onRoute;
  for (const list of Object.values(interfaces)) {
    const a = v4(list);
    if (a) return a;
  }
  return "127.0.0.1";
}
