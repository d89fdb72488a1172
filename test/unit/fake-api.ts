// A fake podd API for the CLI tests: node:http on a unix socket in a temp dir, serving canned
// pods, events, logs and metrics with the daemon's paths and Status errors, and recording every
// request so a test can check what a verb asked for (PUT bodies, query parameters).
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiEvent, ApiPod, PodMetrics } from "../../supervisor/api/client.ts";
import { rfc3339 } from "../../supervisor/base/time.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

/** A fixed "now" for the tests; fixtures are dated relative to it. */
export const NOW = Date.parse("2026-11-22T05:30:00Z");

export function ago(ms: number): string {
  return rfc3339(NOW - ms);
}

const MIN = 60_000;

interface PodOptions {
  namespace?: string;
  containers?: string[];
  phase?: ApiPod["status"]["phase"];
  ready?: boolean;
  labels?: Record<string, string>;
  ageMs?: number;
}

/** A Running pod with ready containers named `containers` (default ["app"]), created 30m ago. */
export function makePod(name: string, o: PodOptions = {}): ApiPod {
  const containers = o.containers ?? ["app"];
  const ready = o.ready ?? true;
  const phase = o.phase ?? "Running";
  const created = ago(o.ageMs ?? 30 * MIN);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: o.namespace ?? "default", uid: `uid-${name}`, creationTimestamp: created, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { containers: containers.map((c) => ({ name: c, image: "host" })), restartPolicy: "Always" },
    status: {
      phase,
      conditions: (["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"] as const).map((type) => ({
        type,
        status: type === "Ready" || type === "ContainersReady" ? (ready ? "True" : "False") : "True",
        lastProbeTime: null,
        lastTransitionTime: created,
      })),
      startTime: created,
      containerStatuses: containers.map((c) => ({
        name: c,
        state: ready ? { running: { startedAt: created } } : { waiting: { reason: "ContainerCreating" } },
        lastState: {},
        ready,
        restartCount: 0,
        image: "host",
        imageID: "",
        started: ready,
      })),
      qosClass: "BestEffort",
    },
  } as ApiPod;
}

export function makeEvent(pod: string, reason: string, message: string, o: { type?: "Normal" | "Warning"; agoMs?: number; count?: number; firstAgoMs?: number; container?: string; namespace?: string } = {}): ApiEvent {
  const ns = o.namespace ?? "default";
  return {
    metadata: { name: `${pod}.${reason}.${o.agoMs ?? 0}`, namespace: ns },
    involvedObject: { kind: "Pod", name: pod, namespace: ns, uid: `uid-${pod}`, ...(o.container ? { fieldPath: `spec.containers{${o.container}}` } : {}) },
    reason,
    message,
    type: o.type ?? "Normal",
    firstTimestamp: ago(o.firstAgoMs ?? o.agoMs ?? 0),
    lastTimestamp: ago(o.agoMs ?? 0),
    count: o.count ?? 1,
    source: { component: "podd" },
  };
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }));
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export class FakeApi {
  readonly dir = mkdtempSync(join(tmpdir(), "podd-fake-api-"));
  readonly socket = join(this.dir, "podd.sock");
  readonly requests: RecordedRequest[] = [];
  readonly pods = new Map<string, ApiPod>();
  events: ApiEvent[] = [];
  /** "ns/pod/container" → the log text the endpoint returns */
  readonly logs = new Map<string, string>();
  metrics: PodMetrics[] = [];
  /** "ns/pod" → exec target; absent → 409 Conflict */
  readonly execTargets = new Map<string, { pid1: number; container: string; identity: string[] }>();
  /** how many GETs of a deleted pod still find it (terminating) before it is gone */
  deleteLingers = 1;
  /** called on each GET of a pod */
  onGetPod: ((pod: ApiPod, n: number) => void) | undefined;
  /** called when a watch of one pod (fieldSelector=metadata.name=…) has sent its ADDED, to move
   * the pod along (apply --wait): emit sends that watch an event */
  onPodWatch: ((pod: ApiPod, emit: (type: "MODIFIED" | "DELETED", object: ApiPod) => void) => void) | undefined;
  private readonly lingering = new Map<string, number>();
  private readonly getCount = new Map<string, number>();
  private readonly podWatchers = new Set<ServerResponse>();
  private readonly eventWatchers = new Set<ServerResponse>();
  private server: Server | undefined;
  /** resolves when a watch has connected (tests emit after it) */
  watchConnected: Promise<void>;
  private resolveWatch!: () => void;

  constructor() {
    this.watchConnected = new Promise((r) => (this.resolveWatch = r));
  }

  static async start(): Promise<FakeApi> {
    const api = new FakeApi();
    await api.listen();
    return api;
  }

  add(...pods: ApiPod[]): this {
    for (const p of pods) this.pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    return this;
  }

  listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve) => this.server!.listen(this.socket, resolve));
  }

  async close(): Promise<void> {
    for (const w of [...this.podWatchers, ...this.eventWatchers]) w.end();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends a watch event to every pod (or event) watcher. */
  emit(kind: "pods" | "events", type: "ADDED" | "MODIFIED" | "DELETED", object: unknown): void {
    for (const w of kind === "pods" ? this.podWatchers : this.eventWatchers) w.write(JSON.stringify({ type, object }) + "\n");
  }

  /** Ends every watch stream, as a daemon that stops does. */
  endWatches(): void {
    for (const w of [...this.podWatchers, ...this.eventWatchers]) w.end();
  }

  /** Cuts every watch connection mid-stream, as a daemon that is killed does. */
  cutWatches(): void {
    for (const w of [...this.podWatchers, ...this.eventWatchers]) w.socket?.destroy();
  }

  paths(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}${Object.keys(r.query).length ? "?" + new URLSearchParams(r.query).toString() : ""}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://podd");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method, path: url.pathname, query, ...(text ? { body: JSON.parse(text) as unknown } : {}) });
    const parts = url.pathname.split("/").filter(Boolean);

    if (url.pathname === "/healthz") return void res.end("ok");
    if (url.pathname === "/version") return send(res, 200, { major: "0", minor: "1", gitVersion: "v0.1.0", platform: "linux/amd64", goVersion: "" });
    if (parts[0] === "apis") {
      const ns = parts[3] === "namespaces" ? parts[4] : undefined;
      const name = parts[6];
      const items = this.metrics.filter((m) => (ns === undefined || m.metadata.namespace === ns) && (name === undefined || m.metadata.name === name));
      if (name !== undefined) return items[0] ? send(res, 200, items[0]) : status(res, 404, "NotFound", `podmetrics.metrics.k8s.io "${ns}/${name}" not found`);
      return send(res, 200, { kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", items });
    }
    // /api/v1/{pods|events} or /api/v1/namespaces/{ns}/{pods|events}[/{name}[/{sub}]]
    const all = parts[2] === "pods" || parts[2] === "events";
    const ns = all ? undefined : parts[3];
    const kind = all ? parts[2] : parts[4];
    const name = all ? undefined : parts[5];
    const sub = all ? undefined : parts[6];
    if (query.watch === "true") {
      res.writeHead(200, { "Content-Type": "application/json" });
      const set = kind === "pods" ? this.podWatchers : this.eventWatchers;
      set.add(res);
      res.on("close", () => set.delete(res));
      // The daemon starts a watch with an ADDED for everything there already.
      const only = /^metadata\.name==?(.+)$/.exec(query.fieldSelector ?? "")?.[1];
      const initial =
        kind === "pods" ? [...this.pods.values()].filter((p) => (ns === undefined || p.metadata.namespace === ns) && (only === undefined || p.metadata.name === only)) : this.events;
      for (const o of initial) res.write(JSON.stringify({ type: "ADDED", object: o }) + "\n");
      if (kind === "pods" && only !== undefined && initial[0]) {
        this.onPodWatch?.(initial[0] as ApiPod, (type, object) => res.write(JSON.stringify({ type, object }) + "\n"));
      }
      this.resolveWatch();
      return;
    }
    if (kind === "events") {
      return send(res, 200, { kind: "EventList", apiVersion: "v1", metadata: {}, items: this.events.filter((e) => ns === undefined || e.metadata.namespace === ns) });
    }
    if (kind !== "pods") return status(res, 404, "NotFound", "the server could not find the requested resource");
    if (name === undefined) {
      if (method === "GET") {
        const items = [...this.pods.values()].filter((p) => ns === undefined || p.metadata.namespace === ns);
        return send(res, 200, { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "" }, items });
      }
      return status(res, 405, "MethodNotAllowed", "method not allowed");
    }
    const key = `${ns}/${name}`;
    const pod = this.pods.get(key);
    if (sub === "log") {
      if (!pod) return status(res, 404, "NotFound", `pods "${name}" not found`);
      const text = this.logs.get(`${key}/${query.container ?? pod.spec.containers[0]!.name}`) ?? "";
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end(text);
    }
    if (sub === "exec-target") {
      if (!pod) return status(res, 404, "NotFound", `pods "${name}" not found`);
      const t = this.execTargets.get(key);
      if (!t) return status(res, 409, "Conflict", `unable to upgrade connection: container ${query.container ?? ""} not found in pod ${name}: it is not running`);
      return send(res, 200, t);
    }
    switch (method) {
      case "GET": {
        if (!pod) return status(res, 404, "NotFound", `pods "${name}" not found`);
        const n = (this.getCount.get(key) ?? 0) + 1;
        this.getCount.set(key, n);
        const left = this.lingering.get(key);
        if (left !== undefined) {
          if (left <= 0) {
            this.pods.delete(key);
            this.lingering.delete(key);
            return status(res, 404, "NotFound", `pods "${name}" not found`);
          }
          this.lingering.set(key, left - 1);
        }
        this.onGetPod?.(pod, n);
        return send(res, 200, pod);
      }
      case "PUT": {
        const body = JSON.parse(text) as ApiPod;
        if (body.metadata.name === "invalid") {
          res.writeHead(422, { "Content-Type": "application/json" });
          return void res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Invalid", code: 422, message: 'Pod "invalid" is invalid: spec.containers[0].image: Required value', details: { causes: [{ field: "spec.containers[0].image", message: "Required value" }] } }));
        }
        const result = !pod ? "created" : JSON.stringify(pod.spec) === JSON.stringify(body.spec) ? "unchanged" : "configured";
        const stored = pod && result === "unchanged" ? pod : { ...makePod(name, { containers: body.spec.containers.map((c) => c.name), ready: false, phase: "Pending" }), spec: body.spec };
        this.pods.set(key, stored);
        return send(res, result === "created" ? 201 : 200, stored, { "X-Podd-Result": result });
      }
      case "DELETE": {
        if (!pod) return status(res, 404, "NotFound", `pods "${name}" not found`);
        pod.metadata.deletionTimestamp = ago(0);
        this.lingering.set(key, this.deleteLingers);
        return send(res, 200, pod);
      }
    }
    return status(res, 405, "MethodNotAllowed", "method not allowed");
  }
}

/** Runs a verb body in-process with captured output and main's handling of thrown errors. */
export async function capture(
  fn: (io: import("../../supervisor/cli/lib/client-verb.ts").Io) => Promise<number>,
  o: { tty?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (s: string) => (stdout += s), isTTY: o.tty === true },
    stderr: { write: (s: string) => (stderr += s), isTTY: o.tty === true },
    env: {},
    now: () => NOW,
  };
  let code: number;
  try {
    code = await fn(io);
  } catch (err) {
    const e = err as { message: string; code?: string; name?: string };
    if (e.name !== "PoddError") throw err;
    stderr += `error: ${e.message}\n`;
    code = e.code === "Invalid" ? 2 : 1;
  }
  return { code, stdout, stderr };
}
