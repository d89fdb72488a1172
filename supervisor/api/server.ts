// The daemon's HTTP/JSON API on a unix socket. Paths and objects follow the Kubernetes REST
// API for pods, so kubectl-compatible tooling can come later as a small step; errors are
// Kubernetes Status objects; ?watch=true streams one JSON watch event per line.
import { rfc3339 } from "../base/time.ts";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, watch, type FSWatcher } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { connect } from "node:net";
import { loadManifests, type Pod } from "../../pod-specs/index.ts";
import { serveImages } from "./images.ts";
import { serveObjects } from "./objects.ts";
import type { ApiBackend, ContainerView } from "./backend.ts";
import type { PodEvent } from "../daemon/events.ts";
import { invalidObject, PoddError, sentName } from "../base/errors.ts";
import { findTail, LogFollower, readLines, type CriRecord } from "../runtime/logs.ts";
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selector.ts";
import type { PodObject } from "../pod/worker.ts";
import { podKeyOf } from "../base/paths.ts";

export interface ApiOptions {
  socket: string;
  /** gid allowed to use the socket (mode 0660); root only (0600) when undefined */
  gid?: number;
  version: string;
}

const reasons: Record<string, [number, string]> = {
  NotFound: [404, "NotFound"],
  AlreadyExists: [409, "AlreadyExists"],
  Conflict: [409, "Conflict"],
  Forbidden: [403, "Forbidden"],
  Invalid: [422, "Invalid"],
  Syscall: [500, "InternalError"],
  Internal: [500, "InternalError"],
};

function status(res: ServerResponse, code: number, reason: string, message: string, causes?: { field: string; message: string }[]): void {
  send(res, code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(causes ? { details: { causes } } : {}),
    code,
  });
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** kube-apiserver's limit on a request body (3 MiB); a larger one is 413 before it is read on. */
export const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

/** An answer other than a Status from the daemon's error mapping: its HTTP code and reason are its own. */
class HttpError extends PoddError {
  constructor(
    readonly httpCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message, { code: "Invalid" });
  }
}

/** The media types a body may have, as kube-apiserver takes them for a create or replace (less protobuf). */
const BODY_TYPES = new Set(["application/json", "application/yaml", "application/x-yaml", "text/yaml"]);

/**
 * The request body as text, at most limit bytes: past that the request is answered 413 and
 * no more of it is read, so a large body cannot grow the daemon. A body of another media type
 * is 415, as kube-apiserver answers.
 */
function readBody(req: IncomingMessage, limit = MAX_REQUEST_BYTES): Promise<string> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (!BODY_TYPES.has(type)) {
    req.resume();
    return Promise.reject(new HttpError(415, "UnsupportedMediaType", `the body of the request was in an unknown format${type ? ` (${type})` : ""} - accepted media types include: application/json, application/yaml`));
  }
  const tooLarge = () => new HttpError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > limit) {
        // What is past the limit is never held (the error handler drops the rest).
        chunks.length = 0;
        req.removeAllListeners("data");
        reject(tooLarge());
        return;
      }
      chunks.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Parses and validates a Pod sent to the API as the CLI would a file (JSON is YAML). */
function podFromBody(text: string, ns: string, name?: string): Pod {
  const r = loadManifests(text, "<request>");
  if (r.errors.length) throw invalidObject("Pod", name ?? sentName(text), r.errors);
  if (r.pods.length !== 1) throw new PoddError(`the request must hold exactly one Pod, not ${r.pods.length}`, { code: "Invalid" });
  const pod = r.pods[0]!;
  if ((pod.metadata.namespace ?? "default") !== ns) {
    throw new PoddError(`the namespace of the provided object (${pod.metadata.namespace}) does not match the namespace sent on the request (${ns})`, { code: "Invalid" });
  }
  if (name !== undefined && pod.metadata.name !== name) {
    throw new PoddError(`the name of the object (${pod.metadata.name}) does not match the name on the URL (${name})`, { code: "Invalid" });
  }
  pod.metadata.namespace = ns;
  return pod;
}

export class ApiServer {
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();

  constructor(
    private readonly daemon: ApiBackend,
    private readonly opts: ApiOptions,
  ) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof HttpError) {
          if (err.httpCode === 413) {
            // The rest of a body too large is read and dropped, not kept, so that the client sees
            // the answer (closing at once would reset the connection under it); a client that
            // goes on sending is cut off after a while.
            res.setHeader("Connection", "close");
            req.resume();
            setTimeout(() => req.destroy(), 5000).unref();
          }
          status(res, err.httpCode, err.reason, err.message);
        } else if (err instanceof SelectorError) {
          status(res, 400, "BadRequest", err.message);
        } else if (err instanceof PoddError) {
          const [code, reason] = reasons[err.code] ?? [500, "InternalError"];
          status(res, code, reason, err.message, (err as { causes?: { field: string; message: string }[] }).causes);
        } else {
          status(res, 500, "InternalError", (err as Error).message);
        }
      });
    });
  }

  /**
   * Listens on the socket, 0600 (or 0660 with a group), replacing a stale socket file; a socket
   * that another process still answers on is never removed.
   */
  async listen(): Promise<void> {
    const { socket } = this.opts;
    if (existsSync(socket)) {
      if (await answers(socket)) throw new PoddError(`${socket} is in use: another podd daemon answers on it; stop it, or give this one another --socket`, { code: "Conflict", path: socket });
      rmSync(socket);
    }
    // The socket appears with the umask's mode; a tight umask closes the window before chmod.
    const old = process.umask(0o177);
    return new Promise((resolve, reject) => {
      this.server.once("error", (err) => {
        process.umask(old);
        reject(PoddError.wrap(`listen on ${socket}`, err));
      });
      this.server.listen(socket, () => {
        process.umask(old);
        if (this.opts.gid !== undefined) {
          chownSync(socket, 0, this.opts.gid);
          chmodSync(socket, 0o660);
        }
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.socketWatch?.close();
    this.socketWatch = undefined;
    for (const s of this.streams) s.end();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private socketWatch: FSWatcher | undefined;

  /**
   * Notices the socket file going away (a user's rm, or the whole run root removed) and
   * listens again on a new one, after telling onLost: a daemon that nobody can reach looks
   * dead, and `podd apply` would start a second one. inotify on the socket's directory (and on
   * the directory again once it is made anew), no timer.
   */
  guardSocket(onLost: (socket: string) => void): void {
    const { socket } = this.opts;
    const dir = dirname(socket);
    let busy = false;
    const check = async (): Promise<void> => {
      if (busy || existsSync(socket)) return;
      busy = true;
      try {
        onLost(socket);
        this.socketWatch?.close();
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
        await this.listen();
        this.guardSocket(onLost);
      } finally {
        busy = false;
      }
    };
    this.socketWatch = watch(dir, () => void check());
    // A directory removed with its socket ends the watch after its last event.
    this.socketWatch.on("error", () => void check());
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://podd");
    const q = url.searchParams;
    let parts: string[];
    try {
      parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, "BadRequest", `invalid URL escape in path ${JSON.stringify(url.pathname)}`);
    }
    const method = req.method ?? "GET";
    const d = this.daemon;

    if (url.pathname === "/healthz" || url.pathname === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end("ok");
    }
    if (url.pathname === "/version") {
      return send(res, 200, { major: "0", minor: "1", gitVersion: `v${this.opts.version}`, platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`, goVersion: "", compiler: "podd", nodeVersion: process.version });
    }
    // /api/v1/nodes[/{name}]: the one node
    if (parts[0] === "api" && parts[1] === "v1" && parts[2] === "nodes" && parts.length <= 4 && method === "GET") {
      const node = d.node();
      if (parts[3] === undefined) return send(res, 200, { apiVersion: "v1", kind: "NodeList", metadata: { resourceVersion: "" }, items: [node] });
      if (parts[3] !== node.metadata.name) return status(res, 404, "NotFound", `nodes "${parts[3]}" not found`);
      return send(res, 200, node);
    }
    // /api/v1/pods, /api/v1/events
    if (parts[0] === "api" && parts[1] === "v1" && parts.length === 3 && method === "GET") {
      if (parts[2] === "pods") return q.get("watch") === "true" ? this.watchPods(res, undefined, q) : this.podList(res, undefined, q);
      if (parts[2] === "events") return q.get("watch") === "true" ? this.watchEvents(res, undefined) : send(res, 200, eventList(d.eventList()));
    }
    // /api/v1/namespaces/{ns}/{pods|events}[/{name}[/{sub}]]
    if (parts[0] === "api" && parts[1] === "v1" && parts[2] === "namespaces" && parts[3] && parts[4]) {
      const ns = parts[3];
      const [kind, name, sub] = [parts[4], parts[5], parts[6]];
      if (kind === "events" && !name && method === "GET") {
        return q.get("watch") === "true" ? this.watchEvents(res, ns) : send(res, 200, eventList(d.eventList(ns)));
      }
      if (kind === "pods" && !name) {
        if (method === "GET") return q.get("watch") === "true" ? this.watchPods(res, ns, q) : this.podList(res, ns, q);
        if (method === "POST") {
          const pod = podFromBody(await readBody(req), ns);
          const r = await d.apply(pod, true);
          return send(res, 201, r.object, { "X-Podd-Result": r.result });
        }
      }
      if (kind === "pods" && name && !sub) {
        if (method === "GET") return this.pod(res, ns, name);
        if (method === "PUT") {
          const pod = podFromBody(await readBody(req), ns, name);
          const r = await d.apply(pod);
          return send(res, r.result === "created" ? 201 : 200, r.object, { "X-Podd-Result": r.result });
        }
        if (method === "DELETE") {
          const g = q.get("gracePeriodSeconds");
          if (g !== null && !/^\d+$/.test(g)) throw new PoddError(`invalid gracePeriodSeconds "${g}"`, { code: "Invalid" });
          return send(res, 200, await d.delete(ns, name, g === null ? undefined : Number(g)));
        }
      }
      if (kind === "pods" && name && sub === "log" && method === "GET") return this.logs(res, ns, name, q);
      if (kind === "pods" && name && sub === "exec-target" && method === "GET") return this.execTarget(res, ns, name, q.get("container") ?? undefined);
    }
    if (await serveObjects(d, parts, method, q, req, res, { send, readBody: (r) => readBody(r), stream: (r) => this.stream(r) })) return;
    if (parts[0] === "apis" && parts[1] === "podd.dev" && parts[2] === "v1" && parts[3] === "images" && d.images) {
      if (await serveImages(d.images, parts, method, q, req, res, send, () => d.now())) return;
    }
    // metrics.k8s.io
    if (parts[0] === "apis" && parts[1] === "metrics.k8s.io" && parts[2] === "v1beta1" && method === "GET") {
      const ns = parts[3] === "namespaces" ? parts[4] : undefined;
      const name = parts[3] === "namespaces" ? parts[6] : undefined;
      if ((parts[3] === "pods" && parts.length === 4) || (ns && parts[5] === "pods")) return this.metrics(res, ns, name);
    }
    status(res, 404, "NotFound", `the server could not find the requested resource (${method} ${url.pathname})`);
  }

  private podList(res: ServerResponse, ns: string | undefined, q: URLSearchParams): void {
    const selected = podSelector(q);
    const items = this.daemon.list(ns).filter(selected);
    send(res, 200, { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "" }, items });
  }

  private pod(res: ServerResponse, ns: string, name: string): void {
    const p = this.daemon.get(ns, name);
    if (!p) return status(res, 404, "NotFound", `pods "${name}" not found`);
    send(res, 200, p);
  }

  private stream(res: ServerResponse): (obj: unknown) => void {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    this.streams.add(res);
    res.on("close", () => this.streams.delete(res));
    return (obj) => res.write(JSON.stringify(obj) + "\n");
  }

  private watchPods(res: ServerResponse, ns: string | undefined, q: URLSearchParams): void {
    const selected = podSelector(q);
    const write = this.stream(res);
    const known = new Map<string, string>();
    for (const p of this.daemon.list(ns).filter(selected)) {
      known.set(podKeyOf(p), JSON.stringify(p.status));
      write({ type: "ADDED", object: p });
    }
    const onChange = (namespace: string, name: string) => {
      if (ns !== undefined && namespace !== ns) return;
      const key = `${namespace}/${name}`;
      const found = this.daemon.get(namespace, name);
      const p = found && selected(found) ? found : undefined;
      if (!p) {
        if (known.delete(key)) write({ type: "DELETED", object: { apiVersion: "v1", kind: "Pod", metadata: { name, namespace } } });
        return;
      }
      const text = JSON.stringify(p.status) + (p.metadata as { deletionTimestamp?: string }).deletionTimestamp;
      if (known.get(key) === text) return;
      write({ type: known.has(key) ? "MODIFIED" : "ADDED", object: p });
      known.set(key, text);
    };
    this.daemon.bus.on("podChanged", onChange);
    res.on("close", () => this.daemon.bus.off("podChanged", onChange));
  }

  private watchEvents(res: ServerResponse, ns: string | undefined): void {
    const write = this.stream(res);
    for (const e of this.daemon.eventList(ns)) write({ type: "ADDED", object: e });
    // Called right after the daemon's own listener (registered first, when the daemon was made)
    // has added the event to the log, so the log's newest event (folded ones move to the end)
    // is this one. Not deferred: two events emitted in one tick would both send the second.
    const onEvent = (ev: PodEvent) => {
      if (ns !== undefined && ev.namespace !== ns) return;
      const all = this.daemon.eventList(ns);
      const e = all[all.length - 1];
      if (e) write({ type: e.count > 1 ? "MODIFIED" : "ADDED", object: e });
    };
    this.daemon.bus.on("event", onEvent);
    res.on("close", () => this.daemon.bus.off("event", onEvent));
  }

  private containerOf(ns: string, name: string, container: string | undefined): ContainerView {
    const pod = this.daemon.containers(ns, name);
    if (!pod) throw new PoddError(`pods "${name}" not found`, { code: "NotFound" });
    const all = pod.containers;
    if (container === undefined) {
      if (pod.spec.containers.length === 1 && all.length === 1) container = all[0]!.name;
      else throw new PoddError(`a container name must be specified for pod ${name}, choose one of: [${all.map((c) => c.name).join(" ")}]`, { code: "Invalid" });
    }
    const found = all.find((c) => c.name === container);
    if (!found) throw new PoddError(`container ${container} is not valid for pod ${name}`, { code: "Invalid" });
    return found;
  }

  private execTarget(res: ServerResponse, ns: string, name: string, container: string | undefined): void {
    const c = this.containerOf(ns, name, container);
    if (!c.pid1 || !c.running) {
      throw new PoddError(`unable to upgrade connection: container ${c.name} not found in pod ${name}: it is not running`, { code: "Conflict" });
    }
    send(res, 200, { pid1: c.pid1, container: c.name, identity: c.execIdentity });
  }

  private async logs(res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const view = this.containerOf(ns, name, q.get("container") ?? undefined);
    const container = view.name;
    const dir = view.logDir;
    const runs = existsSync(dir)
      ? readdirSync(dir)
          .map((f) => /^(\d+)\.log$/.exec(f)?.[1])
          .filter((n): n is string => n !== undefined)
          .map(Number)
          .sort((a, b) => a - b)
      : [];
    const previous = q.get("previous") === "true";
    const run = previous ? runs.at(-2) : runs.at(-1);
    if (run === undefined) {
      if (previous) throw new PoddError(`previous terminated container "${container}" in pod "${name}" not found`, { code: "Invalid" });
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end();
    }
    const path = join(dir, `${run}.log`);
    const timestamps = q.get("timestamps") === "true";
    const since = q.get("sinceSeconds") ? this.daemon.now() - Number(q.get("sinceSeconds")) * 1000 : undefined;
    const tailText = q.get("tailLines");
    if (tailText !== null && !/^\d+$/.test(tailText)) throw new PoddError(`invalid tailLines "${tailText}": a number of lines, 0 or more`, { code: "Invalid" });
    // A partial record is a line not ended yet: its text goes out without a newline, as the
    // kubelet sends it, and what follows it (the rest of that line, read by the follower) gets
    // no timestamp of its own; sinceSeconds keeps or drops a line as a whole, by its start.
    let atLineStart = true;
    let dropping = false;
    const render = (r: CriRecord): string | undefined => {
      const first = atLineStart;
      if (first) dropping = since !== undefined && Date.parse(r.time) < since;
      atLineStart = !r.partial;
      if (dropping) return undefined;
      return `${timestamps && first ? `${r.time} ` : ""}${r.message}${r.partial ? "" : "\n"}`;
    };

    // Everything written so far, rotated files first (oldest = highest suffix), streamed a chunk
    // at a time and from the tail's start when tailLines is given: a request holds no more of
    // the log in memory than one chunk, however long the log is.
    const files = [
      ...readdirSync(dir)
        .map((f) => new RegExp(`^${run}\\.log\\.(\\d+)$`).exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => b - a)
        .map((n) => `${path}.${n}`),
      path,
    ];
    const from = tailText === null ? { file: 0, offset: 0, skip: 0 } : findTail(files, Number(tailText));
    let skip = from.skip;
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    let gone = false;
    res.on("close", () => (gone = true));
    const write = (r: CriRecord): void | Promise<void> => {
      if (skip > 0) return void skip--;
      const text = render(r);
      if (text === undefined || res.write(text)) return;
      return new Promise<void>((resolve) => {
        res.once("drain", resolve);
        res.once("close", resolve);
      });
    };
    const end = await readLines(files, from, write, () => gone);
    if (gone) return;
    if (q.get("follow") !== "true" || previous || view.liveLogPath !== path) return void res.end();
    // Follow from where the read stopped, so that no line is lost or sent twice in between.
    const follower = new LogFollower(path, (r) => {
      const text = render(r);
      if (text !== undefined) res.write(text);
    });
    follower.skipTo(end);
    follower.start();
    const stop = () => {
      // The run has ended: its last line, ended or not, is sent before the stream ends.
      for (const r of follower.stop()) {
        const text = render(r);
        if (text !== undefined) res.write(text);
      }
      this.daemon.bus.off("runEnded", onEnd);
      res.end();
    };
    const onEnd = (_uid: string, _pod: string, _c: string, logPath: string) => logPath === path && stop();
    this.daemon.bus.on("runEnded", onEnd);
    res.on("close", () => {
      follower.stop();
      this.daemon.bus.off("runEnded", onEnd);
    });
  }

  private async metrics(res: ServerResponse, ns: string | undefined, name: string | undefined): Promise<void> {
    const windowMs = 500;
    const a = await this.daemon.usage(ns, name);
    if (name !== undefined && a.length === 0) throw new PoddError(`podmetrics.metrics.k8s.io "${ns}/${name}" not found`, { code: "NotFound" });
    await new Promise((r) => setTimeout(r, windowMs));
    const b = await this.daemon.usage(ns, name);
    const now = rfc3339(this.daemon.now());
    // Pods of the first sample, usage of the containers sampled both times (a pod or container
    // that ended in between has no rate to report).
    const items = a.map((pa) => {
      const pb = b.find((p) => p.namespace === pa.namespace && p.name === pa.name);
      return {
        apiVersion: "metrics.k8s.io/v1beta1",
        kind: "PodMetrics",
        metadata: { name: pa.name, namespace: pa.namespace, creationTimestamp: now },
        timestamp: now,
        window: `${windowMs}ms`,
        containers: Object.entries(pb?.containers ?? {})
          .filter(([c]) => pa.containers[c] !== undefined)
          .map(([c, s]) => ({
            name: c,
            usage: { cpu: `${Math.max(0, Math.round((s.cpuNs - pa.containers[c]!.cpuNs) / 1e6 / (windowMs / 1000)))}m`, memory: `${Math.round(s.memoryBytes / 1024)}Ki` },
          })),
      };
    });
    if (name !== undefined) return send(res, 200, items[0]);
    send(res, 200, { apiVersion: "metrics.k8s.io/v1beta1", kind: "PodMetricsList", metadata: {}, items });
  }
}

function eventList(items: unknown[]) {
  return { apiVersion: "v1", kind: "EventList", metadata: { resourceVersion: "" }, items };
}

/**
 * The pods a list or watch asks for: ?labelSelector and ?fieldSelector. The fields are those
 * kube-apiserver offers for pods that mean something on one node without a scheduler; any
 * other is refused as kube-apiserver refuses an unknown one.
 */
function podSelector(q: URLSearchParams): (p: PodObject) => boolean {
  const labels = parseLabelSelector(q.get("labelSelector") ?? "");
  const fields = parseFieldSelector(q.get("fieldSelector") ?? "", POD_FIELDS);
  return (p) => labels(p.metadata.labels) && fields(p);
}

const POD_FIELDS: Record<string, (p: PodObject) => string> = {
  "metadata.name": (p) => p.metadata.name,
  "metadata.namespace": (p) => p.metadata.namespace,
  "spec.restartPolicy": (p) => p.spec.restartPolicy ?? "Always",
  "spec.hostNetwork": (p) => String(p.spec.hostNetwork === true),
  "status.phase": (p) => p.status.phase,
  "status.podIP": (p) => p.status.podIP ?? "",
};

/** Whether something accepts connections on the unix socket (a stale file refuses: ECONNREFUSED). */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}
