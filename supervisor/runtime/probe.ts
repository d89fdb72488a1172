// Running one probe, from outside the container as the kubelet does: HTTP(S), TCP and gRPC
// from the daemon to the pod's address (the host's with hostNetwork), exec through
// `podd-init exec` in the container. Nothing is needed inside the image. The outcome's output
// is what the kubelet's events say, in its words.
import { connect as tcpConnect, isIP } from "node:net";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as http2Connect, constants as h2 } from "node:http2";
import type { Container, HTTPGetAction, Probe } from "../../pod-specs/types.ts";
import { encodeHttp, encodeTcp, type CheckAnswer, type EncodedCheck, type ProbeTransport } from "./probe-runner.ts";

export interface ProbeOutcome {
  ok: boolean;
  /** the failure's description, or an exec probe's output; empty on a plain success */
  output: string;
  /** a success the kubelet warns about (a redirect to another host) */
  warning?: string;
  /** the probe could not be run (podd's trouble, not the container's): the kubelet throws such a result away */
  error?: true;
}

/** A check that could not be run: the prober gone, or refusing it. */
class CheckError extends Error {}

/** errnos of the prober that say nothing of the container: podd could not run the check. */
const NOT_THE_CONTAINERS = new Set(["EAGAIN", "E2BIG", "EINVAL", "ENOMEM", "EMFILE", "ENFILE"]);

function isInternal(a: CheckAnswer): boolean {
  return a.result.startsWith("error:") && NOT_THE_CONTAINERS.has(a.result.slice("error:".length));
}

function internalOutcome(why: string): ProbeOutcome {
  return { ok: false, output: why, error: true };
}

export interface ProbeTarget {
  /** the pod's address (the host's with hostNetwork) */
  host: string;
  container: Pick<Container, "ports">;
  /** runs argv in the container, killed at the limit: its exit code and its output (error: it could not be run) */
  exec(argv: string[], timeoutMs: number): Promise<ExecResult>;
  /** podd-init prober, for TCP and plain HTTP to an address; undefined: Node's sockets */
  transport?: ProbeTransport;
}

/** The outcome of every probe that succeeded without a word (shared: probes run often). */
const PASSED: ProbeOutcome = Object.freeze({ ok: true, output: "" });

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
    return tcpProbe(p.tcpSocket.host || target.host, port, timeoutMs, target.transport);
  }
  if (p.grpc) return grpcProbe(target.host, p.grpc.port, p.grpc.service ?? "", timeoutMs);
  return { ok: false, output: "the probe has no handler" };
}

/**
 * The probe made ready to run again and again: what does not change between runs (the port,
 * the request's bytes) is worked out once, so that a run costs the daemon little more than
 * its message to the prober.
 */
export function compileProbe(p: Probe, target: ProbeTarget, timeoutMs: number): () => Promise<ProbeOutcome> {
  const t = target.transport;
  if (t && p.tcpSocket) {
    const host = p.tcpSocket.host || target.host;
    const port = resolvePort(p.tcpSocket.port, target.container);
    if (port !== undefined && isIP(host)) {
      const check = encodeTcp(host, port);
      return () => t.send(check, timeoutMs).then((a) => tcpOutcome(a, host, port), (err: Error) => internalOutcome(err.message));
    }
  }
  if (t && p.httpGet && !p.exec) {
    const plan = httpPlan(p.httpGet, target, false);
    if (!("error" in plan) && plan.check) return () => httpRun(plan, target, timeoutMs, false);
  }
  return () => runProbe(p, target, timeoutMs);
}

async function execProbe(argv: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const r = await target.exec(argv, timeoutMs);
  if (r.error) return internalOutcome(r.output);
  if (r.timedOut) return { ok: false, output: `command ${JSON.stringify(argv.join(" "))} timed out` };
  if (r.code === 0 && r.output === "") return PASSED;
  return { ok: r.code === 0, output: r.output.slice(0, MAX_PROBE_OUTPUT) };
}

/**
 * An HTTP GET, 200–399 a success; redirects followed to the same host only, as the kubelet
 * does. As a lifecycle hook (hook: true) any answer is a success, as the kubelet's hook
 * handler only fails when there is none, and it says so in its User-Agent.
 */
export async function httpProbe(a: HTTPGetAction, target: Pick<ProbeTarget, "host" | "container" | "transport">, timeoutMs: number, hook = false): Promise<ProbeOutcome> {
  const plan = httpPlan(a, target, hook);
  if ("error" in plan) return { ok: false, output: plan.error };
  return httpRun(plan, target, timeoutMs, hook);
}

interface HttpPlan {
  url: URL;
  headers: Record<string, string>;
  /** the first request, encoded for the prober; undefined when it goes through Node (HTTPS, a name) */
  check?: EncodedCheck;
}

function httpPlan(a: HTTPGetAction, target: Pick<ProbeTarget, "host" | "container" | "transport">, hook: boolean): HttpPlan | { error: string } {
  const port = resolvePort(a.port, target.container);
  if (port === undefined) return { error: `unknown port "${a.port}": no containerPort of that name` };
  const scheme = (a.scheme ?? "HTTP").toLowerCase();
  const host = a.host || target.host;
  const path = a.path ? (a.path.startsWith("/") ? a.path : `/${a.path}`) : "/";
  const url = new URL(`${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${path}`);
  const headers = requestHeaders(hook ? HOOK_USER_AGENT : USER_AGENT, a.httpHeaders ?? []);
  const check = target.transport ? proberRequest(url, headers) : undefined;
  return { url, headers, ...(check ? { check } : {}) };
}

async function httpRun(plan: HttpPlan, target: Pick<ProbeTarget, "transport">, timeoutMs: number, hook: boolean): Promise<ProbeOutcome> {
  let url = plan.url;
  // A budget for real network I/O, as the sockets' own timers are: the wall clock, not the
  // daemon's injected one, which schedules the probes.
  const deadline = Date.now() + timeoutMs;
  for (let hop = 0; ; hop++) {
    let res: { status: number; body: string; location?: string };
    try {
      const left = Math.max(1, deadline - Date.now());
      // Plain HTTP to an address goes through the prober; HTTPS and names through Node's client.
      const check = hop === 0 ? plan.check : target.transport && proberRequest(url, plan.headers);
      res = check && target.transport ? await proberGet(target.transport, check, url, left) : await get(url, plan.headers, left);
    } catch (err) {
      if (err instanceof CheckError) return internalOutcome(err.message);
      return { ok: false, output: `Get "${url.href}": ${(err as Error).message}` };
    }
    if (res.status >= 300 && res.status < 400 && res.location) {
      const next = new URL(res.location, url);
      // Go's client follows a redirect to the same host, up to ten; the kubelet's stops at one
      // to another host and takes that response (a warned success).
      if (next.hostname === url.hostname) {
        if (hop + 1 >= MAX_REDIRECTS) return { ok: false, output: `Get "${next.href}": stopped after ${MAX_REDIRECTS} redirects` };
        url = next;
        continue;
      }
    }
    if (hook) return PASSED;
    if (res.status >= 300 && res.status < 400) return { ok: true, output: "", warning: `Probe terminated redirects, Response body: ${res.body}` };
    if (res.status >= 200 && res.status < 400) return PASSED;
    return { ok: false, output: `HTTP probe failed with statuscode: ${res.status}` };
  }
}

/** The kubelet's headers, then the probe's own, which replace them by name whatever their case. */
function requestHeaders(userAgent: string, own: readonly { name: string; value: string }[]): Record<string, string> {
  const headers: Record<string, string> = { "User-Agent": userAgent, Accept: "*/*" };
  for (const h of own) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === h.name.toLowerCase()) delete headers[k];
    headers[h.name] = h.value;
  }
  return headers;
}

const CLIENT_TIMEOUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";

/** The URL's port; a URL leaves out the scheme's own (80, 443). */
function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/**
 * The GET as the kubelet's client sends it (no keep-alive, no compression), encoded for the
 * prober; undefined when the prober cannot send it (HTTPS, a host name). A header that could
 * not be sent throws, as Go's client refuses it.
 */
function proberRequest(url: URL, headers: Record<string, string>): EncodedCheck | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (url.protocol !== "http:" || !isIP(host)) return undefined;
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
  if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) lines.push(`Host: ${url.host}`);
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n\0]/.test(k) || /[\r\n\0]/.test(v)) return undefined; // Node's client says why
    lines.push(`${k}: ${v}`);
  }
  lines.push("Connection: close", "", "");
  return encodeHttp(host, portOf(url), Buffer.from(lines.join("\r\n"), "utf8"));
}

async function proberGet(transport: ProbeTransport, check: EncodedCheck, url: URL, timeoutMs: number): Promise<{ status: number; body: string; location?: string }> {
  let a: CheckAnswer;
  try {
    a = await transport.send(check, timeoutMs);
  } catch (err) {
    throw new CheckError((err as Error).message);
  }
  if (isInternal(a)) throw new CheckError(a.bytes.toString("utf8") || a.result);
  if (a.result === "timeout") throw new Error(CLIENT_TIMEOUT);
  if (a.result !== "ok") throw new Error(answerError(a, url.hostname.replace(/^\[|\]$/g, ""), portOf(url)));
  return parseHttpResponse(a.bytes);
}

/**
 * A response as the prober read it: the status, Location and at most MAX_PROBE_OUTPUT of the
 * body (unchunked); Go's words for one that is not a response.
 */
export function parseHttpResponse(bytes: Buffer): { status: number; body: string; location?: string } {
  if (bytes.length === 0) throw new Error("EOF");
  // Interim 1xx responses (101 excepted) come before the one that counts, as Go's client
  // reads them; header lines may end in CRLF or a bare LF.
  let from = 0;
  for (;;) {
    const first = bytes.toString("latin1", from, Math.min(bytes.length, from + 64)).split(/\r?\n/, 1)[0]!;
    const m = /^HTTP\/\d\.\d (\d{3})(?: |$)/.exec(first);
    if (!m) throw new Error(`malformed HTTP response ${JSON.stringify(first)}`);
    const status = Number(m[1]);
    const end = headEnd(bytes, from);
    if (end < 0) throw new Error("unexpected EOF");
    if (status >= 100 && status < 200 && status !== 101) {
      from = end;
      if (from >= bytes.length) throw new Error("unexpected EOF");
      continue;
    }
    // Only a redirect's Location and body are ever used.
    if (status < 300 || status >= 400) return { status, body: "" };
    const fields = new Map<string, string>();
    for (const line of bytes.toString("latin1", from, end).split(/\r?\n/).slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let body = bytes.subarray(end);
    if (/\bchunked\b/i.test(fields.get("transfer-encoding") ?? "")) body = unchunk(body);
    const location = fields.get("location");
    return { status, body: body.subarray(0, MAX_PROBE_OUTPUT).toString("utf8"), ...(location ? { location } : {}) };
  }
}

/** Just past the empty line that ends the header block starting at from; -1 when it has not come. */
function headEnd(b: Buffer, from: number): number {
  for (let i = b.indexOf(10, from); i >= 0; i = b.indexOf(10, i + 1)) {
    if (b[i + 1] === 10) return i + 2;
    if (b[i + 1] === 13 && b[i + 2] === 10) return i + 3;
  }
  return -1;
}

function unchunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const nl = b.indexOf("\r\n", at);
    if (nl < 0) break;
    const size = parseInt(b.subarray(at, nl).toString("latin1"), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    parts.push(b.subarray(nl + 2, Math.min(b.length, nl + 2 + size)));
    at = nl + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A prober's failed answer in Go's words, as a failed dial of the kubelet's says it. */
function answerError(a: CheckAnswer, host: string, port: number): string {
  const code = a.result.startsWith("error:") ? a.result.slice("error:".length) : a.result;
  return dialMessage(code, a.bytes.toString("utf8") || code, host, port);
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
    const timer = setTimeout(() => req.destroy(new Error(CLIENT_TIMEOUT)), timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(dialMessage(err.code, err.message, url.hostname, portOf(url))));
    });
    req.end();
  });
}

/** Go's words for a failed dial, which the kubelet's messages carry. */
function dialMessage(code: string | undefined, message: string, host: string, port: number): string {
  const where = `dial tcp ${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (code === "ECONNREFUSED") return `${where}: connect: connection refused`;
  if (code === "EHOSTUNREACH") return `${where}: connect: no route to host`;
  if (code === "ENETUNREACH") return `${where}: connect: network is unreachable`;
  if (code === "ECONNRESET") return "read: connection reset by peer";
  return message;
}

function tcpOutcome(a: CheckAnswer, host: string, port: number): ProbeOutcome {
  if (a.result === "ok") return PASSED;
  if (isInternal(a)) return internalOutcome(a.bytes.toString("utf8") || a.result);
  if (a.result === "timeout") return { ok: false, output: `dial tcp ${host}:${port}: i/o timeout` };
  return { ok: false, output: answerError(a, host, port) };
}

/** A TCP connection that opens is a success; it is closed at once. */
export async function tcpProbe(host: string, port: number, timeoutMs: number, transport?: ProbeTransport): Promise<ProbeOutcome> {
  if (transport && isIP(host)) return transport.send(encodeTcp(host, port), timeoutMs).then((a) => tcpOutcome(a, host, port), (err: Error) => internalOutcome(err.message));
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
      resolve({ ok: false, output: dialMessage(err.code, err.message, host, port) });
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
    const notConnected = (err: Error) => `timeout: failed to connect service "${host}:${port}" within ${seconds}: ${dialMessage((err as NodeJS.ErrnoException).code, err.message, host, port)}`;
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
    let answered = false;
    req.on("response", (headers) => {
      answered = true;
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
    // What grpc-go says of a stream that ends without an answer, or without its status.
    const unanswered = () =>
      finish({ ok: false, output: answered ? "rpc error: code = Internal desc = server closed the stream without sending trailers" : "rpc error: code = Unavailable desc = error reading from server: EOF" });
    req.on("close", () => {
      if (!answered || headerStatus === undefined) unanswered();
    });
    req.on("end", () => {
      if (!answered || headerStatus === undefined) return unanswered();
      if (headerStatus !== "0") {
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
export interface ExecResult {
  code: number;
  output: string;
  timedOut: boolean;
  error?: true;
}

/** An exec probe's command in the container, through the prober's `podd-init exec`, killed at its time limit. */
export async function execInContainer(transport: ProbeTransport, check: EncodedCheck, timeoutMs: number): Promise<ExecResult> {
  let a: CheckAnswer;
  try {
    a = await transport.send(check, timeoutMs);
  } catch (err) {
    return { code: -1, output: (err as Error).message, timedOut: false, error: true };
  }
  if (a.result === "timeout") return { code: -1, output: "", timedOut: true };
  if (isInternal(a)) return { code: -1, output: a.bytes.toString("utf8") || a.result, timedOut: false, error: true };
  // The kubelet judges by the exit code and keeps the first 10 KiB of what the check printed.
  const output = a.bytes.length === 0 ? "" : a.bytes.toString("utf8", 0, MAX_PROBE_OUTPUT);
  if (!a.result.startsWith("exit:")) return { code: -1, output: output || a.result, timedOut: false };
  return { code: a.result === "exit:0" ? 0 : Number(a.result.slice("exit:".length)), output, timedOut: false };
}
