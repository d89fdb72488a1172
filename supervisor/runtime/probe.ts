// Running one probe, from outside the container as the kubelet does: HTTP(S), TCP and gRPC
// from the daemon to the pod's address (the host's with hostNetwork), exec through
// `podd-init exec` in the container. Nothing is needed inside the image. The outcome's output
// is what the kubelet's events say, in its words.
import { connect as tcpConnect } from "node:net";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as http2Connect, constants as h2 } from "node:http2";
import type { Container, HTTPGetAction, Probe } from "../../pod-specs/types.ts";
import { run } from "../base/exec-file.ts";

export interface ProbeOutcome {
  ok: boolean;
  /** the failure's description, or an exec probe's output; empty on a plain success */
  output: string;
  /** a success the kubelet warns about (a redirect to another host) */
  warning?: string;
}

export interface ProbeTarget {
  /** the pod's address (the host's with hostNetwork) */
  host: string;
  container: Pick<Container, "ports">;
  /** runs argv in the container, killed at the limit: its exit code and its output */
  exec(argv: string[], timeoutMs: number): Promise<{ code: number; output: string; timedOut: boolean }>;
}

/** The kubelet reads at most this much of a probe's output or a response body (maxReadLength). */
export const MAX_PROBE_OUTPUT = 10 * 1024;
const MAX_REDIRECTS = 10;
/** The User-Agent the kubelet's HTTP probes send, with the Kubernetes version podd's schema follows. */
const USER_AGENT = "kube-probe/1.37";
const HOOK_USER_AGENT = "kube-lifecycle/1.37";

/** A port given by number, or by the name of one of the container's ports. */
export function resolvePort(port: number | string, c: Pick<Container, "ports">): number | undefined {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

const NO_ADDRESS = "the pod has no address the daemon can reach (no network attachment, or --pod-network none): use an exec probe, or give the probe a host";

export async function runProbe(p: Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  if (p.exec?.command) return execProbe(p.exec.command, target, timeoutMs);
  if (!target.host && !p.httpGet?.host && !p.tcpSocket?.host) return { ok: false, output: NO_ADDRESS };
  if (p.httpGet) return httpProbe(p.httpGet, target, timeoutMs);
  if (p.tcpSocket) {
    const port = resolvePort(p.tcpSocket.port, target.container);
    if (port === undefined) return { ok: false, output: `unknown port "${p.tcpSocket.port}": no containerPort of that name` };
    return tcpProbe(p.tcpSocket.host || target.host, port, timeoutMs);
  }
  if (p.grpc) return grpcProbe(target.host, p.grpc.port, p.grpc.service ?? "", timeoutMs);
  return { ok: false, output: "the probe has no handler" };
}

async function execProbe(argv: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const r = await target.exec(argv, timeoutMs);
  if (r.timedOut) return { ok: false, output: `command ${JSON.stringify(argv.join(" "))} timed out` };
  return { ok: r.code === 0, output: r.output.slice(0, MAX_PROBE_OUTPUT) };
}

/**
 * An HTTP GET, 200–399 a success; redirects followed to the same host only, as the kubelet
 * does. As a lifecycle hook (hook: true) any answer is a success, as the kubelet's hook
 * handler only fails when there is none, and it says so in its User-Agent.
 */
export async function httpProbe(a: HTTPGetAction, target: Pick<ProbeTarget, "host" | "container">, timeoutMs: number, hook = false): Promise<ProbeOutcome> {
  const port = resolvePort(a.port, target.container);
  if (port === undefined) return { ok: false, output: `unknown port "${a.port}": no containerPort of that name` };
  const scheme = (a.scheme ?? "HTTP").toLowerCase();
  const host = a.host || target.host;
  const path = a.path ? (a.path.startsWith("/") ? a.path : `/${a.path}`) : "/";
  let url = new URL(`${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${path}`);
  const headers: Record<string, string> = { "User-Agent": hook ? HOOK_USER_AGENT : USER_AGENT, Accept: "*/*" };
  for (const h of a.httpHeaders ?? []) headers[h.name] = h.value;
  // A budget for real network I/O, as the sockets' own timers are: the wall clock, not the
  // daemon's injected one, which schedules the probes.
  const deadline = Date.now() + timeoutMs;
  for (let hop = 0; ; hop++) {
    let res: { status: number; body: string; location?: string };
    try {
      res = await get(url, headers, Math.max(1, deadline - Date.now()));
    } catch (err) {
      return { ok: false, output: `Get "${url.href}": ${(err as Error).message}` };
    }
    if (res.status >= 300 && res.status < 400 && res.location && hop < MAX_REDIRECTS) {
      const next = new URL(res.location, url);
      if (next.hostname !== url.hostname) {
        return { ok: true, output: "", warning: `Probe terminated redirects, Response body: ${res.body}` };
      }
      url = next;
      continue;
    }
    if (hook || (res.status >= 200 && res.status < 400)) return { ok: true, output: "" };
    return { ok: false, output: `HTTP probe failed with statuscode: ${res.status}` };
  }
}

function get(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    // HTTPS probes do not check the certificate, as the kubelet's do not.
    const req = send(url, { method: "GET", headers, agent: false, ...(url.protocol === "https:" ? { rejectUnauthorized: false } : {}) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (d: Buffer) => {
        if (size < MAX_PROBE_OUTPUT) chunks.push(d);
        size += d.length;
        // A body this long says nothing more: the connection goes, not the verdict.
        if (size >= MAX_PROBE_OUTPUT) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_PROBE_OUTPUT).toString("utf8"), ...(location ? { location } : {}) });
      };
      res.on("end", done);
      res.on("close", done);
    });
    const timer = setTimeout(() => req.destroy(new Error("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")), timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(dialError(err, url.hostname, Number(url.port))));
    });
    req.end();
  });
}

/** Go's words for a failed dial, which the kubelet's messages carry. */
function dialError(err: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `dial tcp ${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (err.code === "ECONNREFUSED") return `${where}: connect: connection refused`;
  if (err.code === "EHOSTUNREACH") return `${where}: connect: no route to host`;
  if (err.code === "ENETUNREACH") return `${where}: connect: network is unreachable`;
  if (err.code === "ECONNRESET") return "read: connection reset by peer";
  return err.message;
}

/** A TCP connection that opens is a success; it is closed at once. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` });
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok: true, output: "" });
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, output: dialError(err, host, port) });
    });
  });
}

const GRPC_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/**
 * The standard gRPC health check (grpc.health.v1.Health/Check) over plaintext HTTP/2; its one
 * request and response field are encoded by hand: no gRPC package is needed for them.
 */
export function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const seconds = `${timeoutMs / 1000}s`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(o);
    };
    let connected = false;
    const session = http2Connect(`http://${host.includes(":") ? `[${host}]` : host}:${port}`);
    const timer = setTimeout(() => finish({ ok: false, output: connected ? `timeout: health rpc did not complete within ${seconds}` : `timeout: failed to connect service "${host}:${port}" within ${seconds}` }), timeoutMs);
    session.once("connect", () => (connected = true));
    const notConnected = (err: Error) => `timeout: failed to connect service "${host}:${port}" within ${seconds}: ${dialError(err as NodeJS.ErrnoException, host, port)}`;
    session.once("error", (err) => finish({ ok: false, output: notConnected(err) }));
    const name = Buffer.from(service, "utf8");
    // HealthCheckRequest { string service = 1; }: field 1, wire type 2 (length-delimited).
    const message = name.length ? Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]) : Buffer.alloc(0);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: "/grpc.health.v1.Health/Check",
      [h2.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
      "user-agent": USER_AGENT,
    });
    const chunks: Buffer[] = [];
    let headerStatus: string | undefined;
    req.on("response", (headers) => {
      const s = headers["grpc-status"];
      if (s !== undefined) headerStatus = String(s);
    });
    req.on("data", (d: Buffer) => {
      if (Buffer.concat(chunks).length < MAX_PROBE_OUTPUT) chunks.push(d);
    });
    req.on("trailers", (trailers) => {
      if (trailers["grpc-status"] !== undefined) headerStatus = String(trailers["grpc-status"]);
      if (headerStatus !== "0") {
        const msg = trailers["grpc-message"] ? decodeURIComponent(String(trailers["grpc-message"])) : "";
        finish({ ok: false, output: `rpc error: code = ${grpcCodeName(Number(headerStatus))} desc = ${msg}` });
      }
    });
    req.on("end", () => {
      if (headerStatus !== undefined && headerStatus !== "0") {
        finish({ ok: false, output: `rpc error: code = ${grpcCodeName(Number(headerStatus))} desc = ` });
        return;
      }
      const status = parseHealthStatus(Buffer.concat(chunks));
      if (status === 1) finish({ ok: true, output: "" });
      else finish({ ok: false, output: `service unhealthy (responded with ${JSON.stringify(GRPC_STATUS[status ?? 0] ?? "UNKNOWN")})` });
    });
    req.on("error", (err) => finish({ ok: false, output: connected ? `rpc error: code = Unavailable desc = ${err.message}` : notConnected((err as Error & { cause?: Error }).cause ?? err) }));
    req.end(frame);
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** HealthCheckResponse { ServingStatus status = 1; } from one gRPC frame; undefined when it is not one. */
export function parseHealthStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const len = body.readUInt32BE(1);
  const msg = body.subarray(5, 5 + len);
  // An empty message is the default: status 0, UNKNOWN.
  if (msg.length === 0) return 0;
  if (msg[0] !== 0x08) return undefined;
  let value = 0;
  for (let i = 1, shift = 0; i < msg.length && shift < 35; i++, shift += 7) {
    value |= (msg[i]! & 0x7f) << shift;
    if ((msg[i]! & 0x80) === 0) break;
  }
  return value;
}

const GRPC_CODES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

function grpcCodeName(code: number): string {
  return GRPC_CODES[code] ?? `Code(${code})`;
}

/** A command run in the container for an exec probe: podd-init exec, killed at the time limit. */
export async function execInContainer(initPath: string, pid1: number, identity: string[], argv: string[], timeoutMs: number): Promise<{ code: number; output: string; timedOut: boolean }> {
  try {
    // The kubelet judges by the exit code and keeps the first 10 KiB of what the check printed.
    const r = await run(initPath, ["exec", "--pid", String(pid1), ...identity, "--", ...argv], { timeoutMs, keepOutputBytes: MAX_PROBE_OUTPUT });
    return { code: r.code, output: (r.stdout + r.stderr).slice(0, MAX_PROBE_OUTPUT), timedOut: false };
  } catch (err) {
    if (/timed out/.test((err as Error).message)) return { code: -1, output: "", timedOut: true };
    return { code: -1, output: (err as Error).message, timedOut: false };
  }
}
