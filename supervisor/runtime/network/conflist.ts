// CNI network configuration lists (the CNI spec's "network configuration list"): which one a
// pod network uses, read as libcni reads a configuration directory, and podd's own network
// when the user names none. Pure but for the directory listing and the file reads.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/atomic.ts";
import { hasErrno, PoddError } from "../../base/errors.ts";

/** The CNI version podd speaks: the newest that Debian 12's plugins (1.1.1) implement. */
export const CNI_VERSION = "1.0.0";

/** One plugin of a list as the file has it; everything but `type` and `capabilities` is the plugin's own. */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
  /** the spec's disableCheck: the runtime must not call CHECK for this network */
  disableCheck: boolean;
  /** the bytes it was read from, kept in the result cache as libcni keeps them */
  bytes: Buffer;
  /** where it was read from */
  source: string;
}

/** A network name as libcni accepts it (it becomes part of a file name and of iptables comments). */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A plugin type names an executable in a plugin directory: never a path. */
const PLUGIN_TYPE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A configuration list this large is no configuration: refused before it is parsed. */
const MAX_CONF_BYTES = 1 << 20;

/**
 * A .conflist, or a single-plugin .conf/.json turned into a list of one (as libcni's
 * ConfListFromConf does). Throws with the file's path and what is wrong.
 */
export function parseConfList(bytes: Buffer, source: string): NetworkConfList {
  const bad = (what: string) => new PoddError(`CNI configuration ${source}: ${what}`, { code: "Invalid", path: source });
  if (bytes.length > MAX_CONF_BYTES) throw bad(`larger than ${MAX_CONF_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw bad(`not JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad("not a JSON object");
  const o = doc as Record<string, unknown>;
  const single = !("plugins" in o);
  const plugins = single ? [Object.fromEntries(Object.entries(o).filter(([k]) => k !== "name" && k !== "cniVersion"))] : o.plugins;
  if (typeof o.name !== "string" || !NETWORK_NAME.test(o.name)) throw bad(`"name" must be a network name of letters, digits, '_', '.' and '-', got ${JSON.stringify(o.name)}`);
  if (typeof o.cniVersion !== "string") throw bad(`"cniVersion" is missing`);
  if (!supportedVersion(o.cniVersion)) throw bad(`cniVersion ${o.cniVersion} is not one podd speaks (0.3.0 up to ${CNI_VERSION})`);
  if (!Array.isArray(plugins) || plugins.length === 0) throw bad(`"plugins" must be a non-empty list`);
  plugins.forEach((p: unknown, i) => {
    const at = single ? "" : `plugins[${i}]: `;
    if (!p || typeof p !== "object" || Array.isArray(p)) throw bad(`${at}not a JSON object`);
    const type = (p as Record<string, unknown>).type;
    if (typeof type !== "string" || !PLUGIN_TYPE.test(type)) throw bad(`${at}"type" must name a plugin executable, got ${JSON.stringify(type)}`);
    const caps = (p as Record<string, unknown>).capabilities;
    if (caps !== undefined && (typeof caps !== "object" || caps === null || Array.isArray(caps))) throw bad(`${at}"capabilities" must be an object`);
  });
  if (o.disableCheck !== undefined && typeof o.disableCheck !== "boolean") throw bad(`"disableCheck" must be true or false`);
  return { cniVersion: o.cniVersion, name: o.name, plugins: plugins as PluginConf[], disableCheck: o.disableCheck === true, bytes, source };
}

/** 0.3.0 and later: results with interfaces and ips, the format podd reads. */
function supportedVersion(v: string): boolean {
  return ["0.3.0", "0.3.1", "0.4.0", "1.0.0"].includes(v);
}

/** Whether the list's version has CHECK (0.4.0 and later). */
export function hasCheck(list: Pick<NetworkConfList, "cniVersion">): boolean {
  return list.cniVersion === "0.4.0" || list.cniVersion === "1.0.0";
}

/**
 * The configuration files of a directory in libcni's order: by name, .conf, .conflist and
 * .json, hidden files skipped.
 */
export function confFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (hasErrno(err, "ENOENT")) return [];
    throw PoddError.wrap(`read CNI configuration directory ${dir}`, err);
  }
  return names
    .filter((n) => !n.startsWith(".") && /\.(conf|conflist|json)$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** The first list of the directory, as containerd picks its pod network; undefined when it has none. */
export function firstConfList(dir: string): NetworkConfList | undefined {
  const [first] = confFiles(dir);
  if (first === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = readFileSync(first);
  } catch (err) {
    throw PoddError.wrap(`read CNI configuration ${first}`, err);
  }
  return parseConfList(bytes, first);
}

export interface DefaultNetwork {
  /** the bridge's name on the host */
  bridge: string;
  /** IPv4 subnet the pods' addresses come from */
  subnet: string;
  /** host-local's lease directory: podd's own, under its state root */
  leaseDir: string;
}

/** The file podd writes when its configuration directory has no list. */
export const DEFAULT_CONFLIST_NAME = "10-podd.conflist";

/**
 * podd's own network. 10.87.0.0/16 is neither podman's (cni-podman0, 10.88.0.0/16; netavark's
 * further networks from 10.89.0.0/24), CRI-O's (10.85.0.0/16) nor Docker's (172.17.0.0/16 and
 * up). The bridge masquerades egress; portmap with snat makes a hostPort reachable from the
 * host itself (127.0.0.1 included) and from the pods of the same bridge; firewall opens the
 * FORWARD chain for the pods where another tool set its policy to DROP; tuning takes the
 * sysctl and interface settings a user may add. No loopback plugin: podd-init brings lo up
 * when it makes the namespace, before anything can use it.
 */
export function defaultConfList(net: DefaultNetwork): string {
  const list = {
    cniVersion: CNI_VERSION,
    name: "podd",
    plugins: [
      {
        type: "bridge",
        bridge: net.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: net.subnet }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: net.leaseDir },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall" },
      { type: "tuning" },
    ],
  };
  return JSON.stringify(list, null, 2) + "\n";
}

/**
 * The list pods use: the first of confDir; when confDir is podd's own (no --cni-conf-dir) and
 * has none yet, podd's default network, written there first so that a user sees and may edit it.
 */
export function loadConfList(confDir: string, ownDir: boolean, net: DefaultNetwork): NetworkConfList {
  const found = firstConfList(confDir);
  if (found) return found;
  if (!ownDir) {
    throw new PoddError(`no CNI network configuration (*.conflist, *.conf, *.json) in ${confDir}; add one, or leave --cni-conf-dir out for podd's own network`, { code: "NotFound", path: confDir });
  }
  if (!existsSync(confDir)) mkdirSync(confDir, { recursive: true, mode: 0o755 });
  const path = join(confDir, DEFAULT_CONFLIST_NAME);
  writeFileAtomic(path, defaultConfList(net), 0o644);
  return parseConfList(readFileSync(path), path);
}
