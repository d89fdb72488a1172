// Per-registry settings: which mirrors to try first, whether a registry may be reached without
// verified TLS, and which CA signs its certificate. Read from <state root>/registries.yaml, or
// from the file --registries names. A missing file means every registry gets the defaults:
// HTTPS with the certificates the machine trusts, plain HTTP only for a registry on a loopback
// address. The file is small and written by the machine's owner, but it is still parsed within
// limits, and every problem names the file, the line and the field.
//
//   registries:
//     docker.io:                 # the registry as image names spell it
//       mirrors:                 # tried in order, then the registry itself
//         - mirror.lan:5000      # HTTPS, with the fallback to HTTP mirror.lan's own entry allows
//         - https://other.lan    # only this scheme
//     registry.lan:5000:
//       insecure: true           # plain HTTP, or HTTPS without certificate checks
//       ca: /etc/podd/lan-ca.pem # PEM, trusted for this registry on top of the machine's CAs
//
// How this maps onto the files other runtimes read:
// - a key under `registries` is containerd's certs.d/<host>/hosts.toml, and podman's
//   [[registry]] location = "<host>" in registries.conf;
// - `mirrors` are containerd's [host."…"] entries, tried in order before `server`, and podman's
//   [[registry.mirror]] location = "…" entries; as in containerd, a mirror written with a scheme
//   is reached with that scheme only. A mirror's own `insecure` and `ca` are those of its entry
//   here, as they are a host of their own in both;
// - `insecure: true` is podman's insecure = true (plain HTTP allowed, certificates unchecked),
//   which containerd spells as an http:// server plus skip_verify = true;
// - `ca` is containerd's ca = "…"; podman reads it from certs.d/<host>/*.crt instead.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { hasErrno, PoddError } from "../../base/errors.ts";
import { DOCKER_HUB, isRegistryHost } from "./reference.ts";

export interface Mirror {
  /** host[:port], as a registry is named */
  host: string;
  /** the one scheme the file named; undefined: HTTPS, with the fallback the host's settings allow */
  scheme?: "https" | "http";
}

export interface RegistryHostSettings {
  /** tried in order before the registry itself */
  mirrors: readonly Mirror[];
  /** plain HTTP, or HTTPS without certificate checks */
  insecure: boolean;
  /** absolute path of a PEM file of CA certificates trusted for this host */
  ca?: string;
}

export interface RegistrySettings {
  /** the file they were read from, for messages; undefined when there was none */
  file?: string;
  /** by registry host as image names spell it ("docker.io", "registry.lan:5000") */
  hosts: ReadonlyMap<string, RegistryHostSettings>;
}

export const REGISTRIES_FILE = "registries.yaml";
const MAX_FILE_BYTES = 256 * 1024;
const HOST_KEYS = new Set(["mirrors", "insecure", "ca"]);
const NO_SETTINGS: RegistryHostSettings = { mirrors: [], insecure: false };

/** Where the daemon reads the settings when --registries does not say. */
export function registrySettingsPath(stateRoot: string): string {
  return join(stateRoot, REGISTRIES_FILE);
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = { hosts: new Map() };

/** The settings of one host; a host the file does not name has none. */
export function settingsFor(settings: RegistrySettings, host: string): RegistryHostSettings {
  return settings.hosts.get(canonicalHost(host)) ?? NO_SETTINGS;
}

/** Docker Hub has more than one name; settings and credentials are kept under "docker.io". */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase();
  return h === "index.docker.io" || h === "registry-1.docker.io" ? DOCKER_HUB : h;
}

/**
 * Reads the settings at path. No path, or a file that does not exist, gives the defaults,
 * unless mustExist (a file the user named on the command line, where a typo must not pass).
 */
export function loadRegistrySettings(path: string | undefined, opts: { mustExist?: boolean } = {}): RegistrySettings {
  if (path === undefined) return DEFAULT_REGISTRY_SETTINGS;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (hasErrno(err, "ENOENT") && !opts.mustExist) return DEFAULT_REGISTRY_SETTINGS;
    throw PoddError.wrap(`read registry settings ${path}`, err, hasErrno(err, "ENOENT") ? "NotFound" : undefined);
  }
  return parseRegistrySettings(text, path);
}

/** Parses the text of a registries file; fileName is for messages and for relative `ca` paths. */
export function parseRegistrySettings(text: string, fileName: string): RegistrySettings {
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) {
    throw new PoddError(`${fileName}: larger than ${MAX_FILE_BYTES} bytes; a registries file is a few lines per registry`, { code: "Invalid", path: fileName });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const first = syntax.message.split("\n")[0]!;
    fail(syntax.pos[0], "", first.charAt(0).toLowerCase() + first.slice(1));
  }
  const at = (node: YamlNode | null | undefined): number => node?.range?.[0] ?? 0;
  const hosts = new Map<string, RegistryHostSettings>();
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { file: fileName, hosts };
  if (!isMap(root)) fail(at(root), "", "must be a map with the one key registries");
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key !== "registries") fail(at(pair.key as YamlNode), key, `unknown field "${key}"; the file has the one key registries`);
    const registries = pair.value as YamlNode | null;
    if (registries === null || (isScalar(registries) && registries.value === null)) continue;
    if (!isMap(registries)) fail(at(registries), "registries", "must be a map from registry host to its settings");
    for (const entry of registries.items) {
      const hostNode = entry.key as YamlNode;
      const host = isScalar(hostNode) ? String(hostNode.value) : "";
      const field = `registries[${JSON.stringify(host)}]`;
      if (!isRegistryHost(host)) fail(at(hostNode), field, `"${host}" is not a registry host: a host name or [IPv6 address] with an optional port, without a scheme`);
      if (hosts.has(canonicalHost(host))) fail(at(hostNode), field, `${host} is named twice`);
      hosts.set(canonicalHost(host), parseHost(entry.value as YamlNode | null, field));
    }
  }
  return { file: fileName, hosts };

  function fail(pos: number, field: string, message: string): never {
    const lc = lines.linePos(pos);
    throw new PoddError(`${fileName}:${lc.line}:${lc.col}: ${field ? `${field}: ` : ""}${message}`, { code: "Invalid", path: fileName });
  }

  function parseHost(node: YamlNode | null, field: string): RegistryHostSettings {
    const s: { mirrors: Mirror[]; insecure: boolean; ca?: string } = { mirrors: [], insecure: false };
    if (node === null || (isScalar(node) && node.value === null)) return s;
    if (!isMap(node)) fail(at(node), field, "must be a map with mirrors, insecure or ca");
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : "";
      const value = pair.value as YamlNode | null;
      const f = `${field}.${key}`;
      if (!HOST_KEYS.has(key)) fail(at(keyNode), f, `unknown field "${key}"; a registry has mirrors, insecure and ca`);
      if (key === "insecure") {
        if (!isScalar(value) || typeof value.value !== "boolean") fail(at(value ?? keyNode), f, "must be true or false");
        s.insecure = value.value;
      } else if (key === "ca") {
        if (!isScalar(value) || typeof value.value !== "string" || value.value === "") fail(at(value ?? keyNode), f, "must be the path of a PEM file of CA certificates");
        const p = value.value;
        s.ca = isAbsolute(p) ? p : resolve(dirname(fileName), p);
      } else {
        if (!isSeq(value)) fail(at(value ?? keyNode), f, "must be a list of mirrors: host[:port], https://host[:port] or http://host[:port]");
        for (const [i, item] of value.items.entries()) {
          const itemNode = item as YamlNode;
          if (!isScalar(itemNode) || typeof itemNode.value !== "string") fail(at(itemNode), `${f}[${i}]`, "must be a string: host[:port], https://host[:port] or http://host[:port]");
          s.mirrors.push(parseMirror(itemNode.value, at(itemNode), `${f}[${i}]`));
        }
      }
    }
    return s;
  }

  function parseMirror(text: string, pos: number, field: string): Mirror {
    const m = /^(?:(https?):\/\/)?([^/]*)\/?$/.exec(text);
    const host = m?.[2] ?? "";
    if (!m || !isRegistryHost(host)) fail(pos, field, `"${text}" is not a mirror: write host[:port], https://host[:port] or http://host[:port], without a path`);
    const mirror: Mirror = { host: host.toLowerCase() };
    if (m[1] === "https" || m[1] === "http") mirror.scheme = m[1];
    return mirror;
  }
}
