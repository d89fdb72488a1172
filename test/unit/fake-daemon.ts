// The real daemon and API server over the scripted runtime, for tests without root: desired
// state, objects and logs in temp roots, pods that live in fake-runtime.ts on a fake clock, and
// the API on a unix socket the CLI's verbs talk to. What a verb asked for is recorded (method,
// path, query), so that a test can check the request as well as the answer.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import winston from "winston";
import { loadManifests, type Pod } from "../../pod-specs/index.ts";
import { ApiServer } from "../../supervisor/api/server.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import { Daemon, type DaemonOptions } from "../../supervisor/daemon/daemon.ts";
import { Supervisor } from "../../supervisor/daemon/supervisor.ts";
import { backOffConfig } from "../../supervisor/pod/restart-policy.ts";
import { FakeRuntime } from "./fake-runtime.ts";

/** Waits (in real time, a few ms at a time) until cond holds; fails naming what, after ms. */
export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A pod manifest of one container (or several) on the host image. */
export function podYaml(name: string, o: { namespace?: string; labels?: Record<string, string>; containers?: string[]; grace?: number } = {}): string {
  const meta = [`name: ${name}`, ...(o.namespace ? [`namespace: ${o.namespace}`] : []), ...(o.labels ? [`labels: ${JSON.stringify(o.labels)}`] : [])].join(", ");
  const containers = (o.containers ?? ["app"]).map((c) => `{name: ${c}, image: host}`).join(", ");
  return `apiVersion: v1\nkind: Pod\nmetadata: {${meta}}\nspec: {${o.grace !== undefined ? `terminationGracePeriodSeconds: ${o.grace}, ` : ""}containers: [${containers}]}\n`;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

/** The daemon's log lines, kept for a test to read. */
class Lines extends winston.transports.Console {
  readonly lines: string[] = [];
  override log(info: { level: string; message: unknown }, next: () => void): void {
    this.lines.push(`${info.level}: ${String(info.message)}`);
    next();
  }
}

export class FakeDaemon {
  readonly requests: RecordedRequest[] = [];
  /** called with each request once the API server has begun answering it */
  onRequest: ((r: RecordedRequest) => void) | undefined;
  private readonly connections = new Set<Socket>();
  private running = false;
  private constructor(
    readonly dir: string,
    readonly socket: string,
    readonly clock: FakeClock,
    readonly rt: FakeRuntime,
    private readonly opts: DaemonOptions,
    readonly logged: Lines,
    public daemon: Daemon<FakeRuntime>,
    public api: ApiServer,
  ) {}

  /** A daemon whose clock reads `now` (ms since the epoch); the kubelet's back-off unless told otherwise. */
  static async start(now: number, backOff = backOffConfig(), more: Partial<DaemonOptions> = {}): Promise<FakeDaemon> {
    const f = FakeDaemon.prepare(now, backOff, more);
    await f.open();
    return f;
  }

  /** Roots, clock and runtime for a daemon that open() starts later (as `podd apply` starts one). */
  static prepare(now: number, backOff = backOffConfig(), more: Partial<DaemonOptions> = {}): FakeDaemon {
    const dir = mkdtempSync(join(tmpdir(), "podd-fake-daemon-"));
    const roots = { state: join(dir, "state"), run: join(dir, "run"), log: join(dir, "log") };
    for (const r of Object.values(roots)) mkdirSync(r, { recursive: true });
    const clock = new FakeClock(now);
    const rt = new FakeRuntime(clock, roots);
    const opts = { roots, manifestsDir: join(dir, "manifests"), backOff, clock, version: "0.0.0-test", ...more } as unknown as DaemonOptions;
    const logged = new Lines();
    const socket = join(dir, "podd.sock");
    return new FakeDaemon(dir, socket, clock, rt, opts, logged, undefined as never, undefined as never);
  }

  /** The daemon and its API, afresh over the same roots and runtime: what a daemon restart finds. */
  async open(): Promise<void> {
    const log = winston.createLogger({ transports: [this.logged] });
    this.daemon = await Daemon.over(Supervisor.over(this.rt, this.opts), this.opts, log);
    this.api = new ApiServer(this.daemon, { socket: this.socket, version: "0.0.0-test" });
    await this.api.listen();
    this.running = true;
    const server = (this.api as unknown as { server: import("node:http").Server }).server;
    server.on("request", (req: import("node:http").IncomingMessage) => {
      const url = new URL(req.url ?? "/", "http://podd");
      const r = { method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams) };
      this.requests.push(r);
      this.onRequest?.(r);
    });
    server.on("connection", (s: Socket) => {
      this.connections.add(s);
      s.on("close", () => this.connections.delete(s));
    });
  }

  /** "METHOD /path?query" of every request so far. */
  paths(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}${Object.keys(r.query).length ? "?" + new URLSearchParams(r.query).toString() : ""}`);
  }

  /** The keys ("namespace/name") of the pods the daemon has, deleted or not. */
  podKeys(): string[] {
    return this.daemon.list().map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  }

  /** Applies manifests (YAML) as `podd apply` would, and lets the pods get going. */
  async apply(text: string): Promise<void> {
    const loaded = loadManifests(text, "test.yaml");
    if (loaded.errors.length) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
    for (const o of loaded.objects) await this.daemon.applyObject(o);
    for (const p of loaded.pods) await this.daemon.apply(p as Pod);
    await settle();
  }

  /** Moves the clock on, with everything due on the way. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** The daemon dies at once: every connection is cut, the pods go on in the runtime. */
  async kill(): Promise<void> {
    for (const s of this.connections) s.destroy();
    await this.stop();
  }

  /** The daemon stops as on SIGTERM: its watches end, the pods go on in the runtime. */
  async stop(): Promise<void> {
    this.running = false;
    const closed = this.api.close();
    // Keep-alive connections hold server.close() open; a stopping daemon drops them.
    for (const s of this.connections) s.end();
    await closed;
    await this.daemon.close(false);
  }

  async close(): Promise<void> {
    if (this.running) await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
