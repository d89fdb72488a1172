// The client side of podd's API: HTTP/JSON on the daemon's unix socket, with Kubernetes paths,
// objects and Status errors, so the CLI verbs read like kubectl's and a kubectl user can guess
// every request. node:http with socketPath: no dependency, and streaming (logs, watches) is a
// plain response body.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { PoddError, type ErrorCode } from "../base/errors.ts";
import { socketFromEnv } from "../base/paths.ts";
import type { PodObject } from "../pod/worker.ts";


/** --socket, else $PODD_SOCKET, else podd.sock in $PODD_RUN_ROOT or the default run root. */
export function socketPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? socketFromEnv(env);
}

/** A Pod as the API returns it; the daemon sets metadata and status. */
export type ApiPod = PodObject & {
  metadata: PodObject["metadata"] & { creationTimestamp?: string; deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
  spec: PodObject["spec"] & { nodeName?: string };
};

export interface PodList {
  apiVersion: "v1";
  kind: "PodList";
  metadata: { resourceVersion: string };
  items: ApiPod[];
}

/** core/v1 Event, the fields podd fills. */
export interface ApiEvent {
  metadata: { name: string; namespace: string };
  involvedObject: { kind: string; name: string; namespace: string; uid?: string; fieldPath?: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
  source?: { component?: string };
}

export interface EventList {
  kind: "EventList";
  items: ApiEvent[];
}

export interface PodMetrics {
  metadata: { name: string; namespace: string };
  timestamp: string;
  window: string;
  containers: { name: string; usage: { cpu: string; memory: string } }[];
}

export interface PodMetricsList {
  items: PodMetrics[];
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "ERROR";
  object: T;
}

export interface ServerVersion {
  gitVersion: string;
  platform?: string;
  [k: string]: unknown;
}

/** A Kubernetes Status (the body of every error response). */
export interface ApiStatus {
  kind: "Status";
  apiVersion: "v1";
  status: "Failure" | "Success";
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; kind?: string; causes?: { field?: string; message: string; reason?: string }[] };
}

const codeOfReason: Record<string, ErrorCode> = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Forbidden: "Forbidden",
  Invalid: "Invalid",
  BadRequest: "Invalid",
};

/** The daemon answered with a Status: kubectl prints it as `Error from server (Reason): message`. */
export class ApiError extends PoddError {
  constructor(readonly status: ApiStatus) {
    super(status.message, { code: codeOfReason[status.reason] ?? "Internal" });
  }

  get reason(): string {
    return this.status.reason;
  }

  /** kubectl's line for it, plus one line per cause of an Invalid. */
  kubectlMessage(): string {
    const causes = (this.status.details?.causes ?? []).map((c) => `\n* ${c.field ? `${c.field}: ` : ""}${c.message}`);
    return `Error from server (${this.status.reason || "InternalError"}): ${this.status.message}${causes.join("")}`;
  }
}

/** The socket is missing, nobody listens on it, or we may not open it. */
export class UnreachableError extends PoddError {
  constructor(
    readonly socket: string,
    readonly why: "no-daemon" | "permission",
    cause: unknown,
  ) {
    super(
      why === "no-daemon"
        ? `cannot reach podd at ${socket}: no daemon is running (start one with "podd daemon", or run "podd apply", which starts one)`
        : `cannot reach podd at ${socket}: permission denied; the socket belongs to root (and to the group given by "podd daemon --group", if any): run as root, or ask for that group`,
      { code: "Syscall", errno: (cause as NodeJS.ErrnoException).code, path: socket, cause },
    );
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** a body to stream as it is (application/octet-stream), instead of JSON */
  stream?: NodeJS.ReadableStream;
  /** abort the request (a watch or a followed log) */
  signal?: AbortSignal;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function queryString(q: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined && v !== false) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}

function podsPath(namespace: string | undefined): string {
  return namespace === undefined ? "/api/v1/pods" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
}

/** The collection of a namespace, config map, secret or claim resource; namespace undefined: across all. */
export function objectsPath(resource: string, namespace: string | undefined): string {
  if (resource === "namespaces" || namespace === undefined) return `/api/v1/${resource}`;
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

function objectPath(resource: string, namespace: string | undefined, name: string): string {
  return `${objectsPath(resource, resource === "namespaces" ? undefined : (namespace ?? "default"))}/${encodeURIComponent(name)}`;
}

/** A namespace, config map, secret or claim as the API returns it. */
export interface ApiObject {
  apiVersion: "v1";
  kind: string;
  metadata: { name: string; namespace?: string; uid: string; creationTimestamp: string; deletionTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  [field: string]: unknown;
}

function podPath(namespace: string, name: string): string {
  return `${podsPath(namespace)}/${encodeURIComponent(name)}`;
}

/** The Status in an error response, or one made up when the body is not a Status. */
function statusOf(res: Response): ApiStatus {
  try {
    const s = JSON.parse(res.body) as Partial<ApiStatus>;
    if (s && s.kind === "Status" && typeof s.message === "string") {
      return { ...s, reason: s.reason ?? "", code: s.code ?? res.status } as ApiStatus;
    }
  } catch {
    // not JSON: fall through to a Status that quotes the body
  }
  const reason = res.status === 404 ? "NotFound" : res.status === 409 ? "Conflict" : res.status >= 500 ? "InternalError" : "BadRequest";
  const message = res.body.trim() || `the server responded with status ${res.status}`;
  return { kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code: res.status };
}

export class PoddClient {
  constructor(readonly socket: string) {}

  /** Sends one request; resolves with the response head and its (unread) body stream. */
  open(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          // A connection of our own, so no Agent: a CLI call makes one or two requests, and an
          // Agent's server-name check compiles node's IPv6 pattern (~5 ms of a `podd get`).
          createConnection: () => connect(this.socket),
          method,
          path: path + queryString(opts.query),
          headers: {
            Accept: "application/json",
            ...(body !== undefined ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } : {}),
            ...(opts.stream ? { "Content-Type": "application/octet-stream" } : {}),
          },
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
        resolve,
      );
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ECONNREFUSED") reject(new UnreachableError(this.socket, "no-daemon", err));
        else if (err.code === "EACCES" || err.code === "EPERM") reject(new UnreachableError(this.socket, "permission", err));
        else if (err.name === "AbortError") reject(err);
        else reject(PoddError.wrap(`request ${method} ${path} to podd at ${this.socket}`, err));
      });
      if (opts.stream) opts.stream.pipe(req);
      else req.end(body);
    });
  }

  /** A whole response; an error status becomes an ApiError. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const res = await this.open(method, path, opts);
    const out: Response = { status: res.statusCode ?? 0, headers: res.headers, body: await bodyOf(res) };
    if (out.status >= 400) throw new ApiError(statusOf(out));
    return out;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    try {
      return JSON.parse(res.body) as T;
    } catch (err) {
      throw PoddError.wrap(`${method} ${path}: the daemon's answer is not JSON`, err, "Internal");
    }
  }

  // ---- pods ----

  /** fieldSelector as the API server takes it: metadata.name=…, status.phase=…, spec.restartPolicy=… */
  listPods(namespace: string | undefined, fieldSelector?: string): Promise<PodList> {
    return this.json("GET", podsPath(namespace), fieldSelector === undefined ? {} : { query: { fieldSelector } });
  }

  getPod(namespace: string, name: string): Promise<ApiPod> {
    return this.json("GET", podPath(namespace, name));
  }

  /** Create or replace; `result` is the daemon's X-Podd-Result (or what the status code says). */
  async putPod(pod: { metadata: { name: string; namespace?: string } }): Promise<{ pod: ApiPod; result: string }> {
    const ns = pod.metadata.namespace ?? "default";
    const res = await this.request("PUT", podPath(ns, pod.metadata.name), { body: pod });
    const header = res.headers["x-podd-result"];
    const result = (Array.isArray(header) ? header[0] : header) ?? (res.status === 201 ? "created" : "configured");
    return { pod: JSON.parse(res.body) as ApiPod, result };
  }

  listObjects(resource: string, namespace: string | undefined, labelSelector?: string): Promise<{ items: ApiObject[] }> {
    return this.json("GET", objectsPath(resource, namespace), { query: { labelSelector } });
  }

  getObject(resource: string, namespace: string | undefined, name: string): Promise<ApiObject> {
    return this.json("GET", objectPath(resource, namespace, name));
  }

  /** Creates or replaces the object: kubectl apply's result for it. */
  async putObject(resource: string, o: { metadata: { name: string; namespace?: string } }): Promise<{ object: ApiObject; result: string }> {
    const res = await this.request("PUT", objectPath(resource, o.metadata.namespace, o.metadata.name), { body: o });
    const header = res.headers["x-podd-result"];
    const result = (Array.isArray(header) ? header[0] : header) ?? (res.status === 201 ? "created" : "configured");
    return { object: JSON.parse(res.body) as ApiObject, result };
  }

  deleteObject(resource: string, namespace: string | undefined, name: string): Promise<ApiObject> {
    return this.json("DELETE", objectPath(resource, namespace, name));
  }

  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<ApiPod> {
    return this.json("DELETE", podPath(namespace, name), { query: { gracePeriodSeconds } });
  }

  /** The log stream of one container (text/plain, one line per log line). */
  async podLog(
    namespace: string,
    name: string,
    q: { container?: string; follow?: boolean; previous?: boolean; tailLines?: number; timestamps?: boolean; sinceSeconds?: number },
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const res = await this.open("GET", `${podPath(namespace, name)}/log`, { query: q, ...(signal ? { signal } : {}) });
    if ((res.statusCode ?? 0) >= 400) {
      throw new ApiError(statusOf({ status: res.statusCode ?? 0, headers: res.headers, body: await bodyOf(res) }));
    }
    return res;
  }

  /** Where `podd exec` runs a command: the container's PID 1 and the podd-init options of its identity. */
  execTarget(namespace: string, name: string, container: string | undefined): Promise<{ pid1: number; container: string; identity: string[] }> {
    return this.json("GET", `${podPath(namespace, name)}/exec-target`, { query: { container } });
  }

  // ---- configmaps, secrets ----

  /** Creates an object (kubectl create): the daemon answers 201 with it as stored, or a Status
   * (409 AlreadyExists, 422 Invalid), which throws as an ApiError. */
  createObject<T>(resource: "configmaps" | "secrets", namespace: string, object: object): Promise<T> {
    return this.json("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`, { body: object });
  }

  // ---- events, metrics, server ----

  listEvents(namespace: string | undefined): Promise<EventList> {
    return this.json("GET", namespace === undefined ? "/api/v1/events" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`);
  }

  podMetrics(namespace: string | undefined, name?: string): Promise<PodMetricsList> {
    const base = namespace === undefined ? "/apis/metrics.k8s.io/v1beta1/pods" : `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`;
    if (name === undefined) return this.json("GET", base);
    return this.json<PodMetrics>("GET", `${base}/${encodeURIComponent(name)}`).then((m) => ({ items: [m] }));
  }

  async healthz(): Promise<boolean> {
    const res = await this.request("GET", "/healthz");
    return res.body.trim() === "ok";
  }

  version(): Promise<ServerVersion> {
    return this.json("GET", "/version");
  }

  // ---- watches ----

  /**
   * Watches a pod or event list: calls onEvent for each newline-delimited watch event until the
   * daemon ends the stream (resolves) or `signal` aborts it (resolves too).
   */
  async watch<T>(
    kind: "pods" | "events",
    namespace: string | undefined,
    onEvent: (e: WatchEvent<T>) => void,
    signal?: AbortSignal,
    selectors: { fieldSelector?: string; labelSelector?: string } = {},
  ): Promise<void> {
    const path = kind === "pods" ? podsPath(namespace) : namespace === undefined ? "/api/v1/events" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    let res: IncomingMessage;
    try {
      res = await this.open("GET", path, { query: { watch: true, ...selectors }, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if ((res.statusCode ?? 0) >= 400) {
      throw new ApiError(statusOf({ status: res.statusCode ?? 0, headers: res.headers, body: await bodyOf(res) }));
    }
    try {
      for await (const line of lines(res)) {
        if (line.trim() === "") continue;
        const e = JSON.parse(line) as WatchEvent<T | ApiStatus>;
        if (e.type === "ERROR") throw new ApiError(e.object as ApiStatus);
        onEvent(e as WatchEvent<T>);
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }
}

/** A whole response body. Events, not `for await`: the async iterator costs ~5 ms on a list of
 * 100 pods, more than the daemon takes to send it. */
function bodyOf(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

/** The lines of a text stream, without their "\n"; a last unterminated line is yielded too. */
export async function* lines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    rest += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}
