// Registry credentials in the file `docker login` and `podman login` write, so that a user who
// logged in with either is logged in for podd too:
//   {"auths": {"registry.lan:5000": {"auth": "<base64 of user:password>"}}}
// An entry may instead have "username" and "password", and may carry an "identitytoken" (an
// OAuth2 refresh token a registry's token service handed out at login). Docker keys Docker Hub
// as "https://index.docker.io/v1/", and older files key other registries by URL; every key is
// read as the host it names. Credential helpers (credsStore, credHelpers) are programs podd
// does not run; a registry whose credentials live there needs a `podd login`.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../../base/atomic.ts";
import { hasErrno, PoddError } from "../../base/errors.ts";
import { DOCKER_HUB, isRegistryHost } from "./reference.ts";
import { canonicalHost } from "./registries.ts";

export interface Credentials {
  username: string;
  password: string;
  /** a refresh token, traded at the token service instead of the password */
  identityToken?: string;
}

/** The host → credentials of one auth file. */
export type AuthEntries = ReadonlyMap<string, Credentials>;

/** The key Docker writes for Docker Hub; `docker login` reads no other. */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";
const MAX_AUTH_FILE_BYTES = 4 * 1024 * 1024;

/** The auth file: the one --authfile names, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function findAuthFile(env: NodeJS.ProcessEnv, home: string, explicit?: string): string {
  if (explicit !== undefined && explicit !== "") return explicit;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  return join(home, ".docker", "config.json");
}

/** The host an auths key names: "https://index.docker.io/v1/" → "docker.io", "https://h:5000/v2" → "h:5000". */
export function authKeyHost(key: string): string {
  const bare = key.replace(/^https?:\/\//i, "");
  const slash = bare.indexOf("/");
  return canonicalHost(slash < 0 ? bare : bare.slice(0, slash));
}

/** Every entry with credentials in the text of an auth file, by host. */
export function parseAuthFile(text: string, fileName: string): AuthEntries {
  const auths = authsOf(parseJsonObject(text, fileName), fileName);
  const out = new Map<string, Credentials>();
  // A key spelled exactly as the host wins over a URL form of it, whatever the order in the file.
  const keys = Object.keys(auths).sort((a, b) => Number(a !== authKeyHost(a)) - Number(b !== authKeyHost(b)));
  for (const key of keys) {
    const host = authKeyHost(key);
    if (out.has(host)) continue;
    const creds = parseEntry(auths[key], `${fileName}: auths[${JSON.stringify(key)}]`);
    if (creds) out.set(host, creds);
  }
  return out;
}

/**
 * The credentials of a pod's image pull secrets, by host, as the kubelet reads them: a
 * kubernetes.io/dockerconfigjson secret holds an auth file in ".dockerconfigjson"; an older
 * kubernetes.io/dockercfg one holds only what would be its "auths" in ".dockercfg". The first
 * secret (in the pod's order) with an entry for a host gives that host's credentials. A secret
 * that cannot be read is skipped and told to `skipped`, as the kubelet warns and pulls on.
 */
export function pullSecretCredentials(
  secrets: readonly { name: string; type?: string; data?: Readonly<Record<string, string>> }[],
  skipped: (name: string, why: string) => void,
): (host: string) => Credentials | undefined {
  const byHost = new Map<string, Credentials>();
  for (const s of secrets) {
    // As the kubelet: the key counts only in a secret of its type.
    const json = s.type === "kubernetes.io/dockerconfigjson" ? s.data?.[".dockerconfigjson"] : undefined;
    const legacy = s.type === "kubernetes.io/dockercfg" ? s.data?.[".dockercfg"] : undefined;
    const text = json ?? legacy;
    if (text === undefined) {
      skipped(s.name, `it is of type ${s.type ?? "Opaque"}; a pull secret is of type kubernetes.io/dockerconfigjson (key .dockerconfigjson) or kubernetes.io/dockercfg (key .dockercfg)`);
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(text, "base64").toString("utf8"));
    } catch {
      // Not the parser's message: it quotes the text, and the text is a secret.
      skipped(s.name, `its ${json !== undefined ? ".dockerconfigjson" : ".dockercfg"} is not valid JSON`);
      continue;
    }
    let entries: AuthEntries;
    try {
      entries = parseAuthFile(JSON.stringify(json !== undefined ? doc : { auths: doc }), `secret ${s.name}`);
    } catch (err) {
      skipped(s.name, (err as Error).message);
      continue;
    }
    for (const [host, creds] of entries) if (!byHost.has(host)) byHost.set(host, creds);
  }
  return (host) => byHost.get(canonicalHost(host));
}

/** The credentials the file at path has for host; undefined when it has none or does not exist. */
export function readCredentials(path: string, host: string): Credentials | undefined {
  const text = readAuthText(path);
  return text === undefined ? undefined : parseAuthFile(text, path).get(canonicalHost(host));
}

/** Credentials as a Registry asks for them: the file is read at each ask, so a new login counts at once. */
export function credentialsFromFile(path: string): (host: string) => Credentials | undefined {
  return (host) => readCredentials(path, host);
}

/**
 * Stores user and password for host in the auth file, replacing what it had for that host and
 * keeping everything else in it. The file is replaced atomically and is readable by its owner only.
 */
export function writeAuth(file: string, host: string, user: string, password: string): void {
  const h = checkedHost(host);
  if (user === "" || user.includes(":")) throw new PoddError(`login ${host}: the user name must be non-empty and without ":"`, { code: "Invalid" });
  const doc = readDoc(file);
  const auths = withoutHost(authsOf(doc, file), h);
  auths[h === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : h] = { auth: Buffer.from(`${user}:${password}`, "utf8").toString("base64") };
  doc.auths = auths;
  save(file, doc);
}

/** Forgets the credentials for host; false when the file had none. */
export function removeAuth(file: string, host: string): boolean {
  const h = checkedHost(host);
  if (readAuthText(file) === undefined) return false;
  const doc = readDoc(file);
  const before = authsOf(doc, file);
  const after = withoutHost(before, h);
  if (Object.keys(after).length === Object.keys(before).length) return false;
  doc.auths = after;
  save(file, doc);
  return true;
}

function checkedHost(host: string): string {
  const h = canonicalHost(host);
  if (!isRegistryHost(h)) throw new PoddError(`"${host}" is not a registry host: a host name or [IPv6 address] with an optional port`, { code: "Invalid" });
  return h;
}

function withoutHost(auths: Record<string, unknown>, host: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(auths).filter(([k]) => authKeyHost(k) !== host));
}

function save(file: string, doc: Record<string, unknown>): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileAtomic(file, `${JSON.stringify(doc, null, "\t")}\n`, 0o600);
  } catch (err) {
    throw PoddError.wrap(`write ${file}`, err);
  }
}

function readAuthText(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (hasErrno(err, "ENOENT")) return undefined;
    throw PoddError.wrap(`read auth file ${path}`, err);
  }
  if (text.length > MAX_AUTH_FILE_BYTES) throw new PoddError(`auth file ${path}: larger than ${MAX_AUTH_FILE_BYTES} bytes`, { code: "Invalid", path });
  return text;
}

function readDoc(file: string): Record<string, unknown> {
  const text = readAuthText(file);
  return text === undefined ? {} : parseJsonObject(text, file);
}

function parseJsonObject(text: string, fileName: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    throw new PoddError(`auth file ${fileName}: not valid JSON: ${(err as Error).message}; fix it or log in again`, { code: "Invalid", path: fileName });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new PoddError(`auth file ${fileName}: not a JSON object`, { code: "Invalid", path: fileName });
  return doc as Record<string, unknown>;
}

function authsOf(doc: Record<string, unknown>, fileName: string): Record<string, unknown> {
  const auths = doc.auths;
  if (auths === undefined || auths === null) return {};
  if (typeof auths !== "object" || Array.isArray(auths)) throw new PoddError(`auth file ${fileName}: auths is not a JSON object`, { code: "Invalid", path: fileName });
  return { ...(auths as Record<string, unknown>) };
}

function parseEntry(entry: unknown, what: string): Credentials | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new PoddError(`${what}: not a JSON object`, { code: "Invalid" });
  const e = entry as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const v = e[k];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw new PoddError(`${what}.${k}: not a string`, { code: "Invalid" });
    return v;
  };
  let username = str("username");
  let password = str("password");
  const auth = str("auth");
  if (auth !== undefined) {
    const plain = Buffer.from(auth, "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || colon < 0) throw new PoddError(`${what}.auth: not the base64 of user:password; log in again`, { code: "Invalid" });
    username = plain.slice(0, colon);
    password = plain.slice(colon + 1);
  }
  const identityToken = str("identitytoken");
  if (username === undefined && password === undefined && identityToken === undefined) return undefined;
  const creds: Credentials = { username: username ?? "", password: password ?? "" };
  if (identityToken !== undefined) creds.identityToken = identityToken;
  return creds;
}
