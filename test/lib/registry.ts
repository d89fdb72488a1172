// A real OCI/Docker registry for the image tests: the distribution registry (`docker-registry
// serve`, v2.8) on 127.0.0.1, with a config and storage of its own in a temporary directory.
//
//   "none"   plain HTTP, no auth
//   "basic"  TLS with a CA the test made, htpasswd Basic auth
//   "token"  TLS, `auth.token` with a token issuer the harness runs (see token-issuer.ts)
//
// The registry is killed by PID on stop(), when the test process exits, and by the kernel
// (parent-death signal) when the test process is killed outright.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { htpasswdLine } from "./htpasswd.ts";
import { issueCert, makeCa } from "./pki.ts";
import { startTokenIssuer, type TokenIssuer, type TokenRequest } from "./token-issuer.ts";
import { missingTool } from "./tool.ts";

export type RegistryAuth = "none" | "basic" | "token";

export interface RegistryOptions {
  auth: RegistryAuth;
  /** default "podd" */
  user?: string;
  /** default: a random one */
  password?: string;
  /**
   * lifetime of the token variant's tokens (their exp and expires_in); default 300. The
   * registry accepts a token up to 60 s past its exp, so an expired token still works for a
   * minute: a test of renewal counts token requests instead of waiting for a refusal.
   */
  tokenTtlSeconds?: number;
  /** token variant: clients without credentials get pull-only tokens; default false (they get 401) */
  anonymousPull?: boolean;
  /** serve TLS; default true for "basic" and "token", false for "none" */
  tls?: boolean;
}

/** One line of the registry's access log. */
export interface RegistryRequest {
  method: string;
  /** the request target as sent: path and query */
  path: string;
  status: number;
}

export interface TestRegistry {
  auth: RegistryAuth;
  /** "127.0.0.1:PORT": what goes before the repository in an image reference */
  host: string;
  /** "http(s)://127.0.0.1:PORT" */
  url: string;
  tls: boolean;
  /** the registry process */
  pid: number;
  /** the CA certificate that signed the registry's (and the token issuer's) TLS certificate */
  caFile?: string;
  /** a directory holding only ca.crt: what skopeo's --cert-dir and Docker's certs.d take */
  certDir?: string;
  user: string;
  password: string;
  /** token variant: the realm, the service the registry names in its challenges */
  realm?: string;
  service?: string;
  /** token variant: every request the issuer saw, in order (empty for the other variants) */
  tokenRequests: TokenRequest[];
  /** token variant: how many tokens were handed out */
  readonly tokensIssued: number;
  /** the temporary directory with the config, storage, certificates; removed by stop() */
  dir: string;
  /**
   * Every request the registry has answered so far, from its access log. The registry writes
   * a log line just before the end of its response, and the line then crosses a pipe: this
   * sends a marker request and waits for its line, so every response the caller has already
   * seen is in the list (the marker is left out).
   */
  requests(): Promise<RegistryRequest[]>;
  /** How many answered requests match method and path (a string is a prefix of the path without its query). */
  countRequests(method: string, path: string | RegExp): Promise<number>;
  /** Kills the registry (and stops the token issuer) and removes dir. */
  stop(): Promise<void>;
}

export const registryBinary = "/usr/bin/docker-registry";

/** Why the registry harness cannot run here, or false. */
export function registrySkip(): string | false {
  if (process.getuid?.() !== 0) return "needs root: builds images with umoci as root";
  const missing = missingTool(["docker-registry", "umoci", "skopeo", "openssl", "zstd", "setpriv", "unshare", "tar"]);
  if (missing) return `${missing} missing: apt-get install docker-registry umoci skopeo openssl zstd`;
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET url; resolves with the status, or rejects when nothing answers. */
function get(url: string, ca: Buffer | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, { method: "GET", agent: false, ...(ca ? { ca } : {}), timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on("error", reject);
    req.end();
  });
}

// The combined log format: host - user [time] "METHOD target HTTP/x" status bytes "referer" "agent".
const accessLine = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /;

export function parseAccessLog(text: string): RegistryRequest[] {
  const out: RegistryRequest[] = [];
  for (const line of text.split("\n")) {
    const m = accessLine.exec(line);
    if (m) out.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
  }
  return out;
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<void>;
}

/** Starts the registry; resolves once /v2/ answers, rejects when it exits first or takes over 20 s. */
async function spawnRegistry(configFile: string, url: string, ca: Buffer | undefined): Promise<Started> {
  // setpriv gives the registry a parent-death signal: if the test process is killed (SIGKILL,
  // which no exit handler sees) the kernel kills the registry too. The environment is empty
  // but PATH because the registry reads every REGISTRY_* variable as a config override.
  const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", registryBinary, "serve", configFile], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: false,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  // The registry's own log (JSON lines) is kept for error messages only, so only its tail.
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-65536)));
  let exitedEarly: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exitedEarly = `docker-registry exited (${signal ?? code}) before it answered:\n${stderr.trim()}`;
      resolve();
    });
    child.on("error", (err) => {
      exitedEarly = `docker-registry: ${err.message}`;
      resolve();
    });
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exitedEarly) throw new Error(exitedEarly);
    let answer: string;
    try {
      const status = await get(`${url}/v2/`, ca);
      if (status === 200 || status === 401) break;
      answer = `HTTP ${status}`;
    } catch (err) {
      // Refused until the registry listens: that is what this loop waits out.
      answer = (err as Error).message;
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not answer /v2/ on ${url} in 20 s (last: ${answer})\n${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export async function startRegistry(opts: RegistryOptions): Promise<TestRegistry> {
  const tls = opts.tls ?? opts.auth !== "none";
  const user = opts.user ?? "podd";
  const password = opts.password ?? randomBytes(9).toString("base64url");
  const dir = mkdtempSync(join(tmpdir(), "podd-registry-"));
  let issuer: TokenIssuer | undefined;
  let started: Started | undefined;
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // If the test process ends without stop() (a failed assertion before it, a crash), the
  // registry must not outlive it, nor its directory stay behind.
  const onExit = () => {
    started?.child.kill("SIGKILL");
    removeDir();
  };
  process.on("exit", onExit);
  try {
    const ca = tls || opts.auth === "token" ? await makeCa(join(dir, "pki")) : undefined;
    const server = tls && ca ? await issueCert(ca, "server", "server") : undefined;
    const certDir = ca ? join(dir, "certs") : undefined;
    if (ca && certDir) {
      mkdirSync(certDir);
      copyFileSync(ca.certFile, join(certDir, "ca.crt"));
    }
    const caPem = ca ? readFileSync(ca.certFile) : undefined;

    let auth: object | undefined;
    const service = "podd-test-registry";
    if (opts.auth === "basic") {
      const file = join(dir, "htpasswd");
      writeFileSync(file, htpasswdLine(user, password));
      auth = { htpasswd: { realm: "podd-test", path: file } };
    } else if (opts.auth === "token") {
      const signing = await issueCert(ca!, "token-signer", "signing");
      issuer = await startTokenIssuer({
        user,
        password,
        service,
        issuer: "podd-test-issuer",
        signing,
        ...(server ? { tls: server } : {}),
        ttlSeconds: opts.tokenTtlSeconds ?? 300,
        anonymousPull: opts.anonymousPull ?? false,
      });
      auth = { token: { realm: issuer.realm, service, issuer: "podd-test-issuer", rootcertbundle: ca!.certFile } };
    }

    // A port can be taken between freePort() and the registry's bind: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
      const config = {
        version: "0.1",
        log: { level: "info", formatter: "json", accesslog: { disabled: false } },
        storage: {
          filesystem: { rootdirectory: join(dir, "storage") },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
          addr: `127.0.0.1:${port}`,
          secret: randomBytes(16).toString("hex"),
          headers: { "X-Content-Type-Options": ["nosniff"] },
          ...(server ? { tls: { certificate: server.certFile, key: server.keyFile } } : {}),
        },
        ...(auth ? { auth } : {}),
      };
      // JSON is YAML: the registry reads this as its config.yml.
      const configFile = join(dir, "config.yml");
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      try {
        started = await spawnRegistry(configFile, url, caPem);
      } catch (err) {
        if (attempt < 5 && /address already in use/.test((err as Error).message)) continue;
        throw err;
      }
      const s = started;
      let marker = 0;
      const requests = async (): Promise<RegistryRequest[]> => {
        const path = `/podd-harness-log-marker/${process.pid}-${++marker}`;
        await get(`${url}${path}`, caPem);
        const deadline = Date.now() + 10_000;
        for (;;) {
          const all = parseAccessLog(s.stdout());
          if (all.some((r) => r.path === path)) return all.filter((r) => !r.path.startsWith("/podd-harness-log-marker/"));
          if (Date.now() > deadline) throw new Error(`the registry's access log did not show ${path} in 10 s`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const tokenIssuer = issuer;
      return {
        auth: opts.auth,
        host: `127.0.0.1:${port}`,
        url,
        tls,
        pid: s.child.pid!,
        ...(ca && certDir ? { caFile: join(certDir, "ca.crt"), certDir } : {}),
        user,
        password,
        ...(tokenIssuer ? { realm: tokenIssuer.realm, service } : {}),
        tokenRequests: tokenIssuer?.requests ?? [],
        get tokensIssued() {
          return tokenIssuer?.issued ?? 0;
        },
        dir,
        requests,
        countRequests: async (method, path) => {
          const match = (p: string) => (typeof path === "string" ? p.split("?")[0]!.startsWith(path) : path.test(p));
          return (await requests()).filter((r) => r.method === method && match(r.path)).length;
        },
        stop: async () => {
          if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
          await s.exited;
          await tokenIssuer?.stop();
          removeDir();
          process.off("exit", onExit);
        },
      };
    }
  } catch (err) {
    started?.child.kill("SIGKILL");
    if (started) await started.exited;
    await issuer?.stop();
    removeDir();
    process.off("exit", onExit);
    throw err;
  }
}
