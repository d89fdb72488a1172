// HTTP(S) to registries, their token services and the object stores they redirect blob
// downloads to: one keep-alive agent per origin, so the layers of a pull share connections,
// TLS checked against the certificates the machine trusts (tls.ts) and the registry's settings,
// a connect timeout and an idle timeout so that a registry that stalls cannot hang a pull, and
// redirects that never carry a registry's Authorization header to any other origin.
// node:http rather than fetch: a CA per host and a body handed on as a stream are plain here.
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { SecureContext } from "node:tls";
import { urlToHttpOptions } from "node:url";
import { PoddError } from "../../base/errors.ts";
import { canonicalHost, REGISTRIES_FILE, settingsFor, type RegistrySettings } from "./registries.ts";
import { trustContext } from "./tls.ts";

export interface TransportOptions {
  settings: RegistrySettings;
  /** from the start of a connection to the end of its TLS handshake */
  connectTimeoutMs: number;
  /** the longest a request or a body being read may go without a byte */
  idleTimeoutMs: number;
  /** connections kept per origin; the caller fetches a few blobs at once */
  maxSocketsPerOrigin: number;
  /** the system store of CA certificates (tls.ts); a parameter so tests can name their own */
  systemCAFile?: string;
  /** name resolution, as net.connect takes it; tests give a loopback server a name that is not */
  lookup?: LookupFunction;
  userAgent: string;
}

/**
 * The registry a request is made on behalf of: its `ca` is trusted for every host it sends
 * podd to (its token service, its redirects), and its `insecure` covers every port of its host.
 */
export interface Via {
  /** the registry's settings key: "docker.io", "registry.lan:5000" */
  name: string;
  /** the host name connected to: "registry-1.docker.io" */
  hostname: string;
}

export interface RequestInit {
  via: Via;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

// Errors of certificate verification; anything else from TLS is a protocol failure.
const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** True when err (or what it wraps) is a failed certificate check, not a failed connection. */
export function isCertificateError(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (CERTIFICATE_ERRORS.has((e as NodeJS.ErrnoException).code ?? "")) return true;
  }
  return false;
}

/** "127.0.0.1:5000", "[::1]:443": what connection errors name. */
export function hostPort(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** localhost, 127.0.0.0/8 and ::1: where plain HTTP crosses no network, as Docker allows it. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(h);
}

/** The host name of a registry host "name[:port]" or "[v6]:port", brackets kept as URLs keep them. */
export function hostnameOf(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
}

export class Transport {
  private readonly agents = new Map<string, http.Agent>();
  private readonly contexts = new Map<string, SecureContext>();

  constructor(private readonly opts: TransportOptions) {}

  /** Where the settings live, for messages that tell the user to change them. */
  settingsFile(): string {
    return this.opts.settings.file ?? `${REGISTRIES_FILE} in podd's state root`;
  }

  /** True when plain HTTP to url's host is allowed: a loopback address, or insecure: true. */
  plainHttpAllowed(url: URL, via: Via): boolean {
    return isLoopback(url.hostname) || this.insecure(url, via);
  }

  private insecure(url: URL, via: Via): boolean {
    if (settingsFor(this.opts.settings, url.host).insecure) return true;
    return settingsFor(this.opts.settings, via.name).insecure && url.hostname === via.hostname;
  }

  private agentFor(url: URL, via: Via): http.Agent {
    // Closed: a pull still running must end, not fall back to a new connection.
    if (this.closed) throw new PoddError(`${url.host}: the registry client was closed`, { code: "Internal" });
    const own = settingsFor(this.opts.settings, url.host);
    const ca = own.ca ?? settingsFor(this.opts.settings, via.name).ca;
    const insecure = this.insecure(url, via);
    const key = `${url.origin} ${ca ?? ""} ${insecure}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const common = { keepAlive: true, maxSockets: this.opts.maxSocketsPerOrigin, timeout: this.opts.idleTimeoutMs, ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}) };
    if (url.protocol === "http:") {
      agent = new http.Agent(common);
    } else {
      const what = ca === undefined ? undefined : `ca: of ${own.ca !== undefined ? canonicalHost(url.host) : via.name} in ${this.settingsFile()}`;
      agent = new https.Agent({ ...common, secureContext: this.context(ca, what), rejectUnauthorized: !insecure });
    }
    this.agents.set(key, agent);
    return agent;
  }

  private context(caFile: string | undefined, what: string | undefined): SecureContext {
    const key = caFile ?? "";
    let ctx = this.contexts.get(key);
    if (!ctx) {
      ctx = trustContext({ ...(this.opts.systemCAFile ? { systemFile: this.opts.systemCAFile } : {}), ...(caFile !== undefined ? { caFile } : {}), ...(what ? { what } : {}) });
      this.contexts.set(key, ctx);
    }
    return ctx;
  }

  /**
   * One request, no redirects. Resolves once the status line and headers are in; the body is
   * the caller's to read (or to resume). Failures are PoddErrors that name host and port and,
   * for TLS, the setting that would fix them.
   */
  request(url: URL, init: RequestInit): Promise<IncomingMessage> {
    return this.requestOnce(url, init, false);
  }

  private requestOnce(url: URL, init: RequestInit, retried: boolean): Promise<IncomingMessage> {
    const tls = url.protocol === "https:";
    const agent = this.agentFor(url, init.via);
    const headers: Record<string, string> = { "user-agent": this.opts.userAgent, ...init.headers };
    if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
    return new Promise((resolve, reject) => {
      const req = (tls ? https : http).request({ ...urlToHttpOptions(url), method: init.method ?? "GET", headers, agent });
      let response: IncomingMessage | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      const stopConnectTimer = () => {
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        connectTimer = undefined;
      };
      req.on("socket", (socket) => {
        if (req.reusedSocket) return;
        connectTimer = setTimeout(() => {
          req.destroy(new PoddError(`connect ${hostPort(url)}: no answer within ${seconds(this.opts.connectTimeoutMs)}`, { code: "Internal" }));
        }, this.opts.connectTimeoutMs);
        socket.once(tls ? "secureConnect" : "connect", stopConnectTimer);
      });
      req.setTimeout(this.opts.idleTimeoutMs, () => {
        const err = new PoddError(`${hostPort(url)} sent nothing for ${seconds(this.opts.idleTimeoutMs)}`, { code: "Internal" });
        if (response) response.destroy(err);
        else req.destroy(err);
      });
      req.on("response", (res) => {
        stopConnectTimer();
        response = res;
        resolve(res);
      });
      // Also after the response: a broken connection errors the request as well as the body,
      // and the body's reader hears of it; this listener keeps it from being unhandled.
      req.on("error", (err) => {
        stopConnectTimer();
        if (response) return;
        // A keep-alive connection the server closed just as it was reused: the request never
        // reached the server, so sending it again on a new connection is safe.
        if (req.reusedSocket && !retried && (err as NodeJS.ErrnoException).code === "ECONNRESET") resolve(this.requestOnce(url, init, true));
        else reject(this.connectionError(err, url, init.via));
      });
      req.end(init.body);
    });
  }

  /**
   * A request that follows redirects (registries send blob downloads to object storage), at
   * most MAX_REDIRECTS of them. The Authorization header goes to the origin of url only: once a
   * redirect leaves it, no later hop gets it, whatever host that is. A redirect from HTTPS to
   * plain HTTP is followed only where plain HTTP is allowed.
   */
  async fetch(url: URL, init: RequestInit & { authorization?: string }): Promise<{ res: IncomingMessage; url: URL }> {
    let current = url;
    let sameOrigin = true;
    for (let hops = 0; ; hops++) {
      const headers = { ...init.headers };
      if (init.authorization !== undefined && sameOrigin) headers.authorization = init.authorization;
      const res = await this.request(current, { via: init.via, headers, ...(init.method ? { method: init.method } : {}), ...(init.body !== undefined ? { body: init.body } : {}) });
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return { res, url: current };
      res.resume();
      if (hops === MAX_REDIRECTS) throw new PoddError(`${hostPort(url)}: more than ${MAX_REDIRECTS} redirects`, { code: "Internal" });
      let next: URL;
      try {
        next = new URL(location, current);
      } catch (err) {
        throw PoddError.wrap(`${hostPort(current)} redirects to "${location}", which is no URL`, err, "Internal");
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") throw new PoddError(`${hostPort(current)} redirects to ${next.protocol} URL, not HTTP(S)`, { code: "Internal" });
      if (current.protocol === "https:" && next.protocol === "http:" && !this.plainHttpAllowed(next, init.via)) {
        throw new PoddError(`${hostPort(current)} redirects to plain HTTP at ${hostPort(next)}; podd follows it only for a loopback address or a host with insecure: true in ${this.settingsFile()}`, { code: "Invalid" });
      }
      if (next.origin !== url.origin) sameOrigin = false;
      // 303 turns any request into a GET; the registry's requests are GETs but the token POST.
      if (res.statusCode === 303) init = { ...init, method: "GET" };
      current = next;
    }
  }

  private connectionError(err: Error, url: URL, via: Via): PoddError {
    if (err instanceof PoddError) return err;
    const e = err as NodeJS.ErrnoException;
    const where = hostPort(url);
    const code = e.code ?? "";
    const settingsKey = canonicalHost(url.host);
    if (code === "ECONNREFUSED") return new PoddError(`connect ${where}: connection refused; is a registry listening there?`, { code: "Internal", errno: code, cause: err });
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new PoddError(`connect ${where}: cannot resolve ${url.hostname}`, { code: "Internal", errno: code, cause: err });
    if (code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENETUNREACH") return new PoddError(`connect ${where}: ${e.message}`, { code: "Internal", errno: code, cause: err });
    if (CERTIFICATE_ERRORS.has(code)) {
      const key = settingsFor(this.opts.settings, settingsKey).ca === undefined && settingsFor(this.opts.settings, via.name).ca !== undefined ? via.name : settingsKey;
      return new PoddError(
        `TLS with ${where}: ${e.message}; if the registry's certificate is signed by a CA of its own, name that CA with ca: under ${key} in ${this.settingsFile()}, or set insecure: true there`,
        { code: "Invalid", cause: err },
      );
    }
    if (url.protocol === "https:" && /wrong version number|packet length too long|http request/i.test(e.message)) {
      return new PoddError(
        `TLS with ${where}: the server answers plain HTTP, not HTTPS; podd speaks plain HTTP only to a loopback address or to a registry with insecure: true under ${settingsKey} in ${this.settingsFile()}`,
        { code: "Invalid", cause: err },
      );
    }
    if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code === "EPROTO") return new PoddError(`TLS with ${where}: ${e.message}`, { code: "Invalid", cause: err });
    return new PoddError(`${where}: ${e.message}`, { code: "Internal", ...(code ? { errno: code } : {}), cause: err });
  }

  /** Closes every kept connection. */
  private closed = false;

  close(): void {
    this.closed = true;
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

/** The body of res, refused past limit bytes (what: for the message). */
export async function readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new PoddError(`${what}: ${declared} bytes, more than the ${limit} podd reads`, { code: "Invalid" });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res) {
    n += (chunk as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new PoddError(`${what}: more than the ${limit} bytes podd reads`, { code: "Invalid" });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
