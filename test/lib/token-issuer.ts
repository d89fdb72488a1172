// The token service a registry with `auth.token` sends its clients to: it checks Basic
// credentials (or lets anonymous clients pull, when told to), and signs ES256 JWTs that the
// registry verifies against a CA bundle. It records every request, so a test can see which
// scopes a client asked for and how many tokens it took (that a client caches them).
//
// What the registry checks in a token: `iss` is its configured issuer, `aud` its service, `exp`
// and `nbf` (with 60 s of leeway each way), the signature, by the key of the first certificate
// of the `x5c` header, whose chain must reach the configured root bundle, and that `access`
// lists every action the request needs ({type, name, actions}). A client is told `expires_in`;
// the token protocol lets clients treat anything under 60 s as 60 s.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { randomUUID, sign, X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { TestCert } from "./pki.ts";

export interface TokenRequest {
  method: "GET" | "POST";
  service?: string;
  /** the requested scopes as one space-separated string, as the OAuth2 form carries them */
  scope: string;
  scopes: string[];
  /** who asked: the Basic user, the form's username, or the `account` parameter */
  account?: string;
  /** whether a token was handed out; false for bad credentials or a refused anonymous client */
  issued: boolean;
}

export interface TokenIssuerOptions {
  user: string;
  password: string;
  /** the registry's `auth.token.service`: the token's audience */
  service: string;
  /** the registry's `auth.token.issuer` */
  issuer: string;
  /** the key tokens are signed with, and its certificate (sent as x5c) */
  signing: TestCert;
  /** serve over TLS with this certificate; plain HTTP otherwise */
  tls?: TestCert;
  ttlSeconds: number;
  /** hand clients without credentials a token for pull (only) */
  anonymousPull: boolean;
}

export interface TokenIssuer {
  /** the `auth.token.realm`: where clients fetch tokens */
  realm: string;
  requests: TokenRequest[];
  /** how many tokens were handed out */
  readonly issued: number;
  stop(): Promise<void>;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** type:name:actions, where a name may itself hold ':' (a registry host with a port). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const actions = scope.slice(last + 1).split(",").filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function signJwt(key: KeyObject, certDer: Buffer, claims: object): string {
  const header = { typ: "JWT", alg: "ES256", x5c: [certDer.toString("base64")] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s of ES256, not the DER that node signs by default.
  const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(sig)}`;
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon < 0 ? { user: text, password: "" } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** A request body of at most 64 KiB: a token form is a few hundred bytes. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
      if (body.length > 65536) req.destroy(new Error("token request body over 64 KiB"));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const key = createPrivateKey(readFileSync(opts.signing.keyFile));
  const certDer = new X509Certificate(readFileSync(opts.signing.certFile)).raw;
  const requests: TokenRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://issuer");
    if (url.pathname !== "/token" || (req.method !== "GET" && req.method !== "POST")) return reply(res, 404, { details: "not found" });
    let params = url.searchParams;
    let user: string | undefined;
    let password: string | undefined;
    const basic = basicCredentials(req);
    if (req.method === "POST") {
      // The OAuth2 password grant some clients use instead of GET with Basic.
      params = new URLSearchParams(await readBody(req));
      if (params.get("grant_type") !== "password") return reply(res, 400, { error: "unsupported_grant_type" });
      user = params.get("username") ?? undefined;
      password = params.get("password") ?? undefined;
    } else if (basic) {
      ({ user, password } = basic);
    }
    const account = user ?? params.get("account") ?? undefined;
    const service = params.get("service") ?? undefined;
    const scopes = params.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    const record: TokenRequest = {
      method: req.method,
      scope: scopes.join(" "),
      scopes,
      issued: false,
      ...(service !== undefined ? { service } : {}),
      ...(account !== undefined ? { account } : {}),
    };
    requests.push(record);
    const anonymous = user === undefined;
    if (anonymous ? !opts.anonymousPull : user !== opts.user || password !== opts.password) {
      return reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, { "www-authenticate": 'Basic realm="podd-test-token"' });
    }
    const access = scopes
      .map(parseScope)
      .filter((a): a is Access => a !== undefined)
      .map((a) => (anonymous ? { ...a, actions: a.actions.filter((x) => x === "pull") } : a));
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(key, certDer, {
      iss: opts.issuer,
      sub: user ?? "",
      aud: opts.service,
      exp: now + opts.ttlSeconds,
      nbf: now,
      iat: now,
      jti: randomUUID(),
      access,
    });
    record.issued = true;
    reply(res, 200, { token, access_token: token, expires_in: opts.ttlSeconds, issued_at: new Date(now * 1000).toISOString() });
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: Error) => reply(res, 500, { details: err.message }));
  };
  const server: Server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, listener)
    : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}/token`,
    requests,
    get issued() {
      return requests.filter((r) => r.issued).length;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
