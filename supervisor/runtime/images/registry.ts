// The network side of pulling: an ImageSource per repository that speaks the OCI distribution
// API to the registry a reference names, or to the mirrors registries.yaml lists for it first.
// Per host, GET /v2/ is asked once and its answer kept: the scheme that works (HTTPS, and plain
// HTTP only for loopback or insecure hosts, tried after HTTPS as Docker does) and the auth
// challenge. Requests then carry a Bearer token for the repository's pull scope, or Basic
// credentials, and a 401 renews the token once. Manifests are read whole (bounded) and hashed;
// blobs are handed on as streams, which the store verifies as it reads them.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { PassThrough, type Readable } from "node:stream";
import { PoddError } from "../../base/errors.ts";
import { systemClock, type Clock } from "../../base/time.ts";
import type { Credentials } from "./auth.ts";
import { DOCKER_HUB, isRegistryHost, repositoryName, type Reference } from "./reference.ts";
import { canonicalHost, DEFAULT_REGISTRY_SETTINGS, settingsFor, type Mirror, type RegistrySettings } from "./registries.ts";
import { MANIFEST_MEDIA_TYPES, MediaType, type Descriptor, type ImageSource, type ManifestBlob } from "./source.ts";
import { parseTokenResponse, pickChallenge, TokenCache, type Challenge, type Token } from "./token.ts";
import { hostnameOf, hostPort, isCertificateError, isLoopback, readBody, Transport, type Via } from "./transport.ts";

export interface RegistryOptions {
  settings?: RegistrySettings;
  /** the credentials for a registry host ("docker.io", "registry.lan:5000"); asked each time a token or Basic header is made, so a new login is seen at once */
  credentials?: (host: string) => Credentials | undefined;
  /** when tokens expire */
  clock?: Pick<Clock, "now">;
  /** default 30 s */
  connectTimeoutMs?: number;
  /** default 30 s: the longest any request or download may go without a byte */
  idleTimeoutMs?: number;
  /** connections kept open per origin; default 8 */
  maxSocketsPerOrigin?: number;
  /** the system's CA bundle; default /etc/ssl/certs/ca-certificates.crt */
  systemCAFile?: string;
  /** name resolution, as net.connect takes it */
  lookup?: LookupFunction;
  userAgent?: string;
}

/** Docker Hub is named docker.io and served from here. */
export const DOCKER_HUB_ADDRESS = "registry-1.docker.io";
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
const MAX_TOKEN_BYTES = 1024 * 1024;
// Docker's registry answers 404 to a manifest whose type the Accept header leaves out. The
// schema 1 types come last so that an image that exists only as schema 1 is recognised and
// refused by name rather than reported missing.
const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, MediaType.dockerSchema1Signed, MediaType.dockerSchema1].join(", ");
const SCHEMA1 = new Set<string>([MediaType.dockerSchema1, MediaType.dockerSchema1Signed]);
// Types that say nothing about which manifest a body is; its own mediaType field then does.
const GENERIC_TYPES = new Set(["", "application/json", "text/plain", "application/octet-stream"]);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** One host a request can go to: a registry, or a mirror of one. */
interface Endpoint {
  /** as settings and credentials name it: "docker.io", "mirror.lan:5000" */
  name: string;
  /** host[:port] connected to: "registry-1.docker.io" */
  address: string;
  /** in the order tried */
  schemes: Array<"https" | "http">;
  /** the registry this one mirrors */
  mirrorOf?: string;
}

interface Pinged {
  base: URL;
  /** the last challenge the host answered with; undefined: it asked for none */
  challenge: Challenge | undefined;
}

type Kind = "manifest" | "blob";

interface SendOptions {
  kind: Kind;
  what: string;
  scope: string;
  accept?: string;
  /** appended to the path: which upstream a mirror is asked about */
  query?: string;
}

type Send = (ep: Endpoint, path: string, opts: SendOptions) => Promise<IncomingMessage>;

/** The credentials for a registry host, if there are any. */
export type CredentialsOf = (host: string) => Credentials | undefined;

/** Who credentials are, for a cache key: the user and a digest of the secret, never the secret. */
function credentialsId(creds: Credentials | undefined): string {
  if (!creds) return "";
  return `${creds.username}:${createHash("sha256").update(creds.identityToken ?? creds.password).digest("hex").slice(0, 32)}`;
}

export class Registry {
  private readonly transport: Transport;
  private readonly pings = new Map<string, Promise<Pinged>>();
  private readonly tokens: TokenCache;
  private readonly settings: RegistrySettings;
  private readonly clock: Pick<Clock, "now">;

  constructor(private readonly opts: RegistryOptions = {}) {
    this.settings = opts.settings ?? DEFAULT_REGISTRY_SETTINGS;
    this.clock = opts.clock ?? systemClock;
    this.tokens = new TokenCache(this.clock);
    this.transport = new Transport({
      settings: this.settings,
      connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
      maxSocketsPerOrigin: opts.maxSocketsPerOrigin ?? 8,
      userAgent: opts.userAgent ?? "podd",
      ...(opts.systemCAFile ? { systemCAFile: opts.systemCAFile } : {}),
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
    });
  }

  /**
   * The ImageSource for ref's repository: its mirrors in order, then the registry itself.
   * `credentials` (a pod's image pull secrets) go before the daemon's own for the hosts they name.
   */
  source(ref: Reference, credentials?: CredentialsOf): ImageSource {
    const domain = canonicalHost(ref.domain);
    const mirrors = settingsFor(this.settings, domain).mirrors.map((m) => this.endpoint(m.host, m, domain));
    const creds: CredentialsOf = (host) => credentials?.(host) ?? this.opts.credentials?.(host);
    return new RegistrySource(ref, [...mirrors, this.endpoint(domain)], (ep, path, o) => this.send(ep, path, o, creds));
  }

  /**
   * Resolves when user and password are good for host, as `podd login` needs before it stores
   * them: the registry (or its token service) is asked with them and must accept them.
   */
  async checkLogin(host: string, user: string, password: string): Promise<void> {
    const name = canonicalHost(host);
    const what = `login ${name}`;
    if (!isRegistryHost(name)) throw new PoddError(`${what}: not a registry host: a host name or [IPv6 address] with an optional port`, { code: "Invalid" });
    const ep = this.endpoint(name);
    const creds: Credentials = { username: user, password };
    const pinged = await this.ping(ep, what);
    // A registry that asks nobody for credentials accepts any, as `docker login` finds too.
    if (!pinged.challenge) return;
    let authorization: string;
    if (pinged.challenge.scheme === "basic") authorization = basic(creds);
    else authorization = `Bearer ${(await this.fetchToken(ep, pinged, pinged.challenge, undefined, creds, what, true)).token}`;
    const { res, url } = await this.fetchOrWrap(new URL("/v2/", pinged.base), { via: via(ep), authorization }, what);
    if (res.statusCode === 200) {
      res.resume();
      return;
    }
    const failure = await readFailure(res, url);
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(what, failure, ep, true);
    throw statusError(what, failure);
  }

  /** Closes every connection kept open. */
  close(): void {
    this.transport.close();
  }

  private endpoint(name: string, mirror?: Mirror, mirrorOf?: string): Endpoint {
    const address = name === DOCKER_HUB ? DOCKER_HUB_ADDRESS : name;
    const plainAllowed = isLoopback(hostnameOf(address)) || settingsFor(this.settings, name).insecure;
    const schemes: Endpoint["schemes"] = mirror?.scheme ? [mirror.scheme] : plainAllowed ? ["https", "http"] : ["https"];
    const ep: Endpoint = { name, address, schemes };
    if (mirrorOf !== undefined) ep.mirrorOf = mirrorOf;
    return ep;
  }

  /** GET /v2/ once per host and schemes; a failure is not kept, so the next pull asks again. */
  private ping(ep: Endpoint, what: string): Promise<Pinged> {
    const key = `${ep.schemes.join("+")} ${ep.address}`;
    let p = this.pings.get(key);
    if (!p) {
      p = this.pingNow(ep);
      this.pings.set(key, p);
      p.catch(() => {
        if (this.pings.get(key) === p) this.pings.delete(key);
      });
    }
    return p.catch((err: unknown) => {
      throw PoddError.wrap(what, err);
    });
  }

  private async pingNow(ep: Endpoint): Promise<Pinged> {
    let failed: unknown;
    for (const scheme of ep.schemes) {
      const base = new URL(`${scheme}://${ep.address}/`);
      let res: IncomingMessage;
      try {
        res = await this.transport.request(new URL("/v2/", base), { via: via(ep) });
      } catch (err) {
        // When HTTPS failed its certificate check, that is what the user must hear about,
        // not that plain HTTP found nobody listening either.
        if (!isCertificateError(failed)) failed = err;
        continue;
      }
      if (res.statusCode === 200 || res.statusCode === 401) {
        res.resume();
        return { base, challenge: res.statusCode === 401 ? pickChallenge(res.headers["www-authenticate"]) : undefined };
      }
      const failure = await readFailure(res, base);
      throw new PoddError(`${hostPort(base)} answers GET /v2/ with ${failure.detail}; is it a registry (the OCI distribution API)?`, { code: failure.status >= 500 ? "Internal" : "Invalid" });
    }
    throw failed;
  }

  private async send(ep: Endpoint, path: string, opts: SendOptions, credentials: CredentialsOf): Promise<IncomingMessage> {
    const pinged = await this.ping(ep, opts.what);
    const url = new URL(path + (opts.query ?? ""), pinged.base);
    const headers: Record<string, string> = opts.accept ? { accept: opts.accept } : {};
    for (let retried = false; ; retried = true) {
      const challenge = pinged.challenge;
      const auth = await this.authorize(ep, pinged, challenge, opts.scope, opts.what, credentials(ep.name));
      const { res, url: at } = await this.fetchOrWrap(url, { via: via(ep), headers, ...(auth.header ? { authorization: auth.header } : {}) }, opts.what);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return res;
      const failure = await readFailure(res, at);
      if (status === 401 && !retried) {
        // The host's challenge may have changed (or it asked none at /v2/ and does for this
        // repository); the next request of any pull starts from what it says now.
        const fresh = pickChallenge(res.headers["www-authenticate"]);
        if (fresh) pinged.challenge = fresh;
        if (auth.token && auth.key) this.tokens.invalidate(auth.key, auth.token);
        if (pinged.challenge) continue;
      }
      if (status === 401 || status === 403) throw unauthorized(opts.what, failure, ep, false);
      throw statusError(opts.what, failure, opts.kind);
    }
  }

  private async fetchOrWrap(url: URL, init: Parameters<Transport["fetch"]>[1], what: string): Promise<{ res: IncomingMessage; url: URL }> {
    try {
      return await this.transport.fetch(url, init);
    } catch (err) {
      throw PoddError.wrap(what, err);
    }
  }

  private async authorize(ep: Endpoint, pinged: Pinged, challenge: Challenge | undefined, scope: string, what: string, creds: Credentials | undefined): Promise<{ header?: string; token?: Token; key?: string }> {
    if (!challenge) return {};
    if (challenge.scheme === "basic") return creds && !creds.identityToken ? { header: basic(creds) } : {};
    // A token is the credentials' that got it: one pod's pull secret must not lend its token
    // to another pod's pull, so the cache key names whose credentials they were.
    const key = [ep.name, challenge.realm, challenge.service, scope, credentialsId(creds)].join("\n");
    const token = await this.tokens.get(key, () => this.fetchToken(ep, pinged, challenge, scope, creds, what, false));
    return { header: `Bearer ${token.token}`, token, key };
  }

  /**
   * A token from the realm of a Bearer challenge: anonymous without credentials, with Basic
   * credentials on a GET, or, for an identity token, the OAuth2 refresh-token POST.
   */
  private async fetchToken(ep: Endpoint, pinged: Pinged, challenge: Challenge, scope: string | undefined, creds: Credentials | undefined, what: string, login: boolean): Promise<Token> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm ?? "");
      if (realm.protocol !== "https:" && realm.protocol !== "http:") throw new Error(`${realm.protocol} is not HTTP(S)`);
    } catch (err) {
      throw new PoddError(`${what}: ${hostPort(pinged.base)} names token service "${challenge.realm ?? ""}", which is no HTTP(S) URL: ${(err as Error).message}`, { code: "Internal" });
    }
    if (realm.protocol === "http:" && pinged.base.protocol === "https:" && !this.transport.plainHttpAllowed(realm, via(ep))) {
      throw new PoddError(`${what}: ${hostPort(pinged.base)} names token service ${realm.href} over plain HTTP; podd asks a token service over plain HTTP only at a loopback address or a host with insecure: true in ${this.transport.settingsFile()}`, { code: "Invalid" });
    }
    const form = new URLSearchParams();
    if (challenge.service !== undefined) form.set("service", challenge.service);
    if (scope !== undefined) form.set("scope", scope);
    const init: Parameters<Transport["fetch"]>[1] = { via: via(ep) };
    if (creds?.identityToken) {
      form.set("grant_type", "refresh_token");
      form.set("refresh_token", creds.identityToken);
      form.set("client_id", "podd");
      init.method = "POST";
      init.headers = { "content-type": "application/x-www-form-urlencoded" };
      init.body = form.toString();
    } else {
      if (creds && (creds.username !== "" || creds.password !== "")) {
        form.set("account", creds.username);
        init.authorization = basic(creds);
      }
      for (const [k, v] of form) realm.searchParams.append(k, v);
    }
    const { res, url } = await this.fetchOrWrap(realm, init, `${what}: token service ${hostPort(realm)}`);
    if (res.statusCode !== 200) {
      const failure = await readFailure(res, url);
      if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(what, failure, ep, login);
      throw new PoddError(`${what}: token service ${hostPort(realm)}: ${failure.detail}`, { code: "Internal" });
    }
    const body = await readBody(res, MAX_TOKEN_BYTES, `${what}: token service ${hostPort(realm)}`);
    return parseTokenResponse(body, this.clock.now(), `${what}: token service ${hostPort(realm)}`);
  }
}

class RegistrySource implements ImageSource {
  /** the endpoint the last manifest came from */
  private served: Endpoint | undefined;
  /** mirrors that failed once: this pull does not wait on them again */
  private readonly failedMirrors = new Set<Endpoint>();

  constructor(
    private readonly ref: Reference,
    private readonly endpoints: readonly Endpoint[],
    private readonly send: Send,
  ) {}

  get name(): string {
    const ep = this.served ?? this.endpoints[this.endpoints.length - 1]!;
    return ep.mirrorOf ? `registry ${ep.name} (mirror of ${ep.mirrorOf})` : `registry ${ep.name}`;
  }

  async getManifest(reference: string): Promise<ManifestBlob> {
    const byDigest = reference.includes(":");
    const what = `pull ${repositoryName(this.ref)}${byDigest ? "@" : ":"}${reference}`;
    if (byDigest ? !DIGEST.test(reference) : !TAG.test(reference)) throw new PoddError(`${what}: not a tag or a digest`, { code: "Invalid" });
    return this.each(what, async (ep) => {
      const res = await this.send(ep, `/v2/${this.ref.path}/manifests/${reference}`, { kind: "manifest", what, scope: this.scope(), accept: MANIFEST_ACCEPT, query: this.query(ep) });
      const body = await readBody(res, MAX_MANIFEST_BYTES, `${what}: manifest`);
      const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
      if (byDigest && reference.startsWith("sha256:") && digest !== reference) {
        throw new PoddError(`${what}: the manifest served has digest ${digest}, not the one asked for`, { code: "Invalid" });
      }
      const mediaType = manifestType(res.headers["content-type"], body);
      if (mediaType.schema1) throw new PoddError(`${what}: this is a Docker schema 1 image, which podd cannot run; push it again with a current tool`, { code: "Invalid" });
      this.served = ep;
      return { mediaType: mediaType.type, digest, body };
    });
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    const what = `pull ${repositoryName(this.ref)}: blob ${desc.digest}`;
    if (desc.urls?.length) {
      throw new PoddError(`${what}: foreign layer ${desc.digest} is not distributed by the registry; podd does not fetch foreign layers`, { code: "Invalid" });
    }
    if (!DIGEST.test(desc.digest)) throw new PoddError(`${what}: not a sha256 or sha512 digest`, { code: "Invalid" });
    return this.each(what, async (ep) => {
      const res = await this.send(ep, `/v2/${this.ref.path}/blobs/${desc.digest}`, { kind: "blob", what, scope: this.scope(), query: this.query(ep) });
      // The body's errors (a connection lost, the idle timeout) reach the reader named; a
      // reader that stops early closes the download.
      const out = new PassThrough();
      res.on("error", (err) => out.destroy(PoddError.wrap(what, err)));
      out.on("close", () => {
        if (!res.readableEnded) res.destroy();
      });
      res.pipe(out);
      return out;
    });
  }

  private scope(): string {
    return `repository:${this.ref.path}:pull`;
  }

  /** Tells a mirror which registry is meant, as containerd does, so one mirror can serve many. */
  private query(ep: Endpoint): string {
    return ep.mirrorOf ? `?ns=${encodeURIComponent(ep.mirrorOf)}` : "";
  }

  /** Mirrors in order, then the registry; the registry's failure is the one reported. */
  private async each<T>(what: string, attempt: (ep: Endpoint) => Promise<T>): Promise<T> {
    const mirrorFailures: string[] = [];
    for (const ep of this.endpoints) {
      if (ep.mirrorOf && this.failedMirrors.has(ep)) continue;
      try {
        return await attempt(ep);
      } catch (err) {
        if (!ep.mirrorOf) {
          if (mirrorFailures.length === 0) throw err;
          const e = err instanceof PoddError ? err : PoddError.wrap(what, err);
          throw new PoddError(`${e.message} (mirrors asked first: ${mirrorFailures.join("; ")})`, { code: e.code, cause: err });
        }
        this.failedMirrors.add(ep);
        const message = err instanceof Error ? err.message : String(err);
        mirrorFailures.push(`${ep.name}: ${message.startsWith(`${what}: `) ? message.slice(what.length + 2) : message}`);
      }
    }
    throw new PoddError(`${what}: no registry to ask`, { code: "Internal" });
  }
}

function via(ep: Endpoint): Via {
  return { name: ep.name, hostname: hostnameOf(ep.address) };
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64")}`;
}

function manifestType(contentType: string | undefined, body: Buffer): { type: string; schema1: boolean } {
  const header = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  let doc: { mediaType?: unknown; schemaVersion?: unknown } = {};
  try {
    const d = JSON.parse(body.toString("utf8")) as unknown;
    if (typeof d === "object" && d !== null) doc = d as typeof doc;
  } catch {
    // Not JSON: the type is the header's, and the caller's parse reports the body.
  }
  const type = GENERIC_TYPES.has(header) && typeof doc.mediaType === "string" ? doc.mediaType : header;
  return { type, schema1: SCHEMA1.has(type) || doc.schemaVersion === 1 };
}

interface Failure {
  status: number;
  /** "manifest unknown: …" from the registry's error JSON, else "HTTP 502" */
  detail: string;
  /** the registry's first error code: "MANIFEST_UNKNOWN" */
  code?: string;
}

/** Reads an error answer: the spec's {"errors": [{"code", "message"}]}, or the status. */
async function readFailure(res: IncomingMessage, url: URL): Promise<Failure> {
  const status = res.statusCode ?? 0;
  let body: Buffer;
  try {
    body = await readBody(res, MAX_ERROR_BYTES, hostPort(url));
  } catch {
    // An error body too big or cut short: the status alone still says what went wrong.
    return { status, detail: `HTTP ${status}` };
  }
  const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim();
  let doc: { errors?: Array<{ code?: unknown; message?: unknown }> } | undefined;
  try {
    doc = JSON.parse(body.toString("utf8")) as typeof doc;
  } catch {
    // Not JSON: the text, when it is short text, else the status.
    const text = body.toString("utf8").trim().split("\n")[0] ?? "";
    const plain = type === "text/plain" && text.length > 0 && text.length <= 200;
    return { status, detail: plain ? `HTTP ${status}: ${text}` : `HTTP ${status}` };
  }
  const first = Array.isArray(doc?.errors) ? doc.errors[0] : undefined;
  const code = typeof first?.code === "string" ? first.code : undefined;
  const message = typeof first?.message === "string" ? first.message.trim() : "";
  if (code === undefined) return { status, detail: message ? `HTTP ${status}: ${message}` : `HTTP ${status}` };
  const words = code.toLowerCase().replace(/_/g, " ");
  const detail = message && message.toLowerCase() !== words ? `${words}: ${message}` : words;
  return { status, detail, code };
}

function unauthorized(what: string, f: Failure, ep: Endpoint, login: boolean): PoddError {
  const detail = f.code ? f.detail : `${f.status === 403 ? "denied" : "unauthorized"}${f.detail !== `HTTP ${f.status}` ? ` (${f.detail})` : ""}`;
  const advice = login ? "check the user name and password" : `log in with podd login ${ep.name}`;
  return new PoddError(`${what}: ${detail}; ${advice}`, { code: "Invalid" });
}

function statusError(what: string, f: Failure, kind?: Kind): PoddError {
  if (f.status === 404) {
    const detail = f.code || !kind ? f.detail : `${kind} unknown (HTTP 404)`;
    return new PoddError(`${what}: ${detail}`, { code: "NotFound" });
  }
  if (f.status === 429) return new PoddError(`${what}: ${f.code ? f.detail : "too many requests"}; the registry limits pulls, try again later`, { code: "Internal" });
  return new PoddError(`${what}: ${f.detail}`, { code: f.status >= 500 ? "Internal" : "Invalid" });
}
