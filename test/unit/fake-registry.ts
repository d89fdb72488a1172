// An in-process registry for the registry client's tests: node:http (or https) on 127.0.0.1,
// the OCI distribution paths for manifests and blobs, a token service at /token, Basic or
// Bearer auth, and a record of every request so a test can check what the client sent. A
// manifest whose type the Accept header leaves out is answered 404, as Docker's registry does.
import { createHash } from "node:crypto";
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeOptions {
  auth?: "bearer" | "basic";
  /** user → password */
  users?: Record<string, string>;
  /** refresh tokens the token service takes in an OAuth2 POST */
  refreshTokens?: string[];
  /** what the token service says; undefined leaves expires_in out */
  expiresIn?: number;
  tokenField?: "token" | "access_token";
  tls?: { key: string; cert: string };
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => boolean;

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

export class FakeRegistry {
  readonly log: Recorded[] = [];
  readonly manifests = new Map<string, { type: string; body: Buffer }>();
  readonly blobs = new Map<string, Buffer>();
  /** live tokens and the scope each was issued for; clearing it makes the registry refuse them */
  readonly tokens = new Map<string, string>();
  connections = 0;
  /** a blob answered with a redirect to this location, when it gives one */
  blobLocation?: (digest: string) => string | undefined;
  /** runs first; true when it answered */
  handler?: Handler;
  private issued = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly opts: FakeOptions,
  ) {}

  static async start(opts: FakeOptions = {}): Promise<FakeRegistry> {
    let fake!: FakeRegistry;
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => fake.handle(req, res, Buffer.concat(chunks).toString("utf8")));
    };
    const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
    fake = new FakeRegistry(server, opts);
    server.on(opts.tls ? "secureConnection" : "connection", () => fake.connections++);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** "127.0.0.1:PORT", as an image name spells the registry */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get origin(): string {
    return `${this.opts.tls ? "https" : "http"}://${this.host}`;
  }

  /** Stores a manifest under tag (when given) and under its digest; returns the digest. */
  putManifest(repo: string, tag: string | undefined, type: string, body: string | Buffer): string {
    const b = Buffer.from(body);
    const digest = sha256(b);
    this.manifests.set(`${repo}@${digest}`, { type, body: b });
    if (tag !== undefined) this.manifests.set(`${repo}:${tag}`, { type, body: b });
    return digest;
  }

  putBlob(data: string | Buffer): string {
    const b = Buffer.from(data);
    const digest = sha256(b);
    this.blobs.set(digest, b);
    return digest;
  }

  /** Requests whose path starts with prefix (query included). */
  requests(prefix: string): Recorded[] {
    return this.log.filter((r) => r.path.startsWith(prefix));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const path = req.url ?? "/";
    this.log.push({ method: req.method ?? "", path, headers: req.headers, body });
    if (this.handler?.(req, res, body)) return;
    const url = new URL(path, "http://x");
    if (url.pathname === "/token") return this.token(req, res, url, body);
    if (url.pathname === "/v2/") {
      if (!this.authorized(req, undefined)) return this.challenge(res, undefined);
      return json(res, 200, {});
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return json(res, 404, { errors: [{ code: "NOT_FOUND", message: "no such path" }] });
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (!this.authorized(req, repo)) return this.challenge(res, repo);
    if (kind === "manifests") {
      const stored = this.manifests.get(`${repo}${ref.includes(":") ? "@" : ":"}${ref}`);
      const accept = (req.headers.accept ?? "").split(",").map((s) => s.trim());
      if (!stored || !accept.includes(stored.type)) return json(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: ref } }] });
      res.writeHead(200, { "content-type": stored.type, "content-length": stored.body.length, "docker-content-digest": sha256(stored.body) });
      res.end(stored.body);
      return;
    }
    const location = this.blobLocation?.(ref);
    if (location) {
      res.writeHead(307, { location, "content-length": 0 });
      res.end();
      return;
    }
    const blob = this.blobs.get(ref);
    if (!blob) return json(res, 404, { errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry" }] });
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": blob.length });
    res.end(blob);
  }

  private basicUser(req: IncomingMessage): string | undefined | null {
    const h = req.headers.authorization;
    if (!h?.startsWith("Basic ")) return undefined;
    const [user, ...rest] = Buffer.from(h.slice(6), "base64").toString("utf8").split(":");
    return this.opts.users?.[user!] === rest.join(":") ? user! : null;
  }

  private authorized(req: IncomingMessage, repo: string | undefined): boolean {
    if (this.opts.auth === "basic") return typeof this.basicUser(req) === "string";
    if (this.opts.auth !== "bearer") return true;
    const h = req.headers.authorization;
    if (!h?.startsWith("Bearer ")) return false;
    const scope = this.tokens.get(h.slice(7));
    if (scope === undefined) return false;
    return repo === undefined || scope === `repository:${repo}:pull`;
  }

  private challenge(res: ServerResponse, repo: string | undefined): void {
    const header =
      this.opts.auth === "basic"
        ? `Basic realm="fake"`
        : `Bearer realm="${this.origin}/token",service="fake-registry"${repo ? `,scope="repository:${repo}:pull"` : ""}`;
    res.setHeader("www-authenticate", header);
    json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
  }

  private token(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void {
    let scope = url.searchParams.get("scope") ?? "";
    if (req.method === "POST") {
      const form = new URLSearchParams(body);
      if (form.get("grant_type") !== "refresh_token" || !this.opts.refreshTokens?.includes(form.get("refresh_token") ?? "")) {
        return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad refresh token" }] });
      }
      scope = form.get("scope") ?? "";
    } else if (this.basicUser(req) === null) {
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "incorrect username or password" }] });
    }
    const token = `tok-${++this.issued}`;
    this.tokens.set(token, scope);
    const answer: Record<string, unknown> = { [this.opts.tokenField ?? "token"]: token };
    if (this.opts.expiresIn !== undefined) answer.expires_in = this.opts.expiresIn;
    json(res, 200, answer);
  }
}

function json(res: ServerResponse, status: number, doc: unknown): void {
  const b = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { "content-type": "application/json", "content-length": b.length });
  res.end(b);
}
