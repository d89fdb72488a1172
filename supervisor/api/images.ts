// The image verbs over the daemon's socket, podd's own API group (the Kubernetes API has no
// images): what the CLI asks, what the daemon answers, and the client side of it. Paths:
//   GET    /apis/podd.dev/v1/images                 list
//   GET    /apis/podd.dev/v1/images/inspect?name=N  one image, its config and layers
//   POST   /apis/podd.dev/v1/images/pull?name=N     progress as JSON lines, then the result
//   POST   /apis/podd.dev/v1/images/import?name=N&path=P[&env=K=V…][&workdir=D][&replace=true]
//   POST   /apis/podd.dev/v1/images/load[?path=P]     an archive at P, else the request body
//   DELETE /apis/podd.dev/v1/images?name=N
//   POST   /apis/podd.dev/v1/images/prune
// Names go in the query: an image name has slashes and colons of its own.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { PoddError, type ErrorCode } from "../base/errors.ts";
import { lines, type PoddClient } from "./client.ts";

export const IMAGES_PATH = "/apis/podd.dev/v1/images";

export interface ImageSummary {
  name: string;
  id: string;
  digest?: string;
  /** bytes of its layers, unpacked */
  size: number;
  /** the config's created time */
  created?: string;
  storedAt: string;
  source: string;
}

export interface ImageDetail extends ImageSummary {
  config: unknown;
  layers: { chainId: string; diffId: string; size: number }[];
}

export interface LayerProgressView {
  digest: string;
  total: number;
  done: number;
  state: string;
}

export interface PullOutcome {
  image: ImageSummary;
  /** bytes fetched; 0 when all was present */
  fetched: number;
  ms: number;
}

/** What the image verbs need; the daemon implements it, and so does a store opened in-process. */
export interface ImagesApi {
  list(): Promise<ImageSummary[]>;
  inspect(name: string): Promise<ImageDetail>;
  pull(name: string, onProgress?: (layers: readonly LayerProgressView[]) => void): Promise<PullOutcome>;
  import(name: string, path: string, opts: { env?: string[]; workingDir?: string; replace?: boolean }): Promise<ImageSummary>;
  /** an archive file or directory on this machine, or the bytes of one */
  load(input: { path: string } | { stream: Readable }): Promise<ImageSummary[]>;
  remove(name: string): Promise<ImageSummary[]>;
  prune(): Promise<ImageSummary[]>;
}

// ---- server side ----

type Send = (res: ServerResponse, code: number, body: unknown) => void;

/** Progress lines are sent at most this often; the last state always goes. */
const PROGRESS_EVERY_MS = 200;

/** Handles a request under IMAGES_PATH; false when the path is none of ours. */
export async function serveImages(api: ImagesApi, parts: string[], method: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, send: Send, clock: () => number): Promise<boolean> {
  const sub = parts[4];
  const name = () => {
    const n = q.get("name");
    if (!n) throw new PoddError("the request names no image (?name=)", { code: "Invalid" });
    return n;
  };
  if (sub === "load" && method === "POST") {
    const path = q.get("path");
    if (path) req.resume();
    return send(res, 201, { items: await api.load(path ? { path } : { stream: req }) }), true;
  }
  req.resume();
  if (sub === undefined && method === "GET") return send(res, 200, { items: await api.list() }), true;
  if (sub === undefined && method === "DELETE") return send(res, 200, { items: await api.remove(name()) }), true;
  if (sub === "inspect" && method === "GET") return send(res, 200, await api.inspect(name())), true;
  if (sub === "prune" && method === "POST") return send(res, 200, { items: await api.prune() }), true;
  if (sub === "import" && method === "POST") {
    const path = q.get("path");
    if (!path) throw new PoddError("the request names no path (?path=)", { code: "Invalid" });
    const opts: { env?: string[]; workingDir?: string; replace?: boolean } = { replace: q.get("replace") === "true" };
    if (q.getAll("env").length) opts.env = q.getAll("env");
    if (q.get("workdir")) opts.workingDir = q.get("workdir")!;
    return send(res, 201, await api.import(name(), path, opts)), true;
  }
  if (sub === "pull" && method === "POST") {
    const n = name();
    // Progress as it comes, one JSON object a line; the outcome (or the error) is the last line.
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    let last = 0;
    let pending: readonly LayerProgressView[] | undefined;
    try {
      const out = await api.pull(n, (layers) => {
        const now = clock();
        pending = layers;
        if (now - last < PROGRESS_EVERY_MS) return;
        last = now;
        res.write(JSON.stringify({ progress: layers }) + "\n");
        pending = undefined;
      });
      if (pending) res.write(JSON.stringify({ progress: pending }) + "\n");
      res.end(JSON.stringify({ result: out }) + "\n");
    } catch (err) {
      const e = err as PoddError;
      res.end(JSON.stringify({ error: { message: e.message, code: e.code ?? "Internal" } }) + "\n");
    }
    return true;
  }
  return false;
}

// ---- client side ----

export class RemoteImages implements ImagesApi {
  constructor(private readonly client: PoddClient) {}

  async list(): Promise<ImageSummary[]> {
    return (await this.client.json<{ items: ImageSummary[] }>("GET", IMAGES_PATH)).items;
  }

  inspect(name: string): Promise<ImageDetail> {
    return this.client.json("GET", `${IMAGES_PATH}/inspect`, { query: { name } });
  }

  async pull(name: string, onProgress?: (layers: readonly LayerProgressView[]) => void): Promise<PullOutcome> {
    const res: IncomingMessage = await this.client.open("POST", `${IMAGES_PATH}/pull`, { query: { name } });
    if ((res.statusCode ?? 0) >= 400) {
      await this.client.request("POST", `${IMAGES_PATH}/pull`, { query: { name } });
    }
    for await (const line of lines(res)) {
      if (!line.trim()) continue;
      const m = JSON.parse(line) as { progress?: LayerProgressView[]; result?: PullOutcome; error?: { message: string; code: ErrorCode } };
      if (m.progress) onProgress?.(m.progress);
      if (m.result) return m.result;
      if (m.error) throw new PoddError(m.error.message, { code: m.error.code });
    }
    throw new PoddError(`pull ${name}: the daemon ended the answer early`, { code: "Internal" });
  }

  async import(name: string, path: string, opts: { env?: string[]; workingDir?: string; replace?: boolean }): Promise<ImageSummary> {
    const params = new URLSearchParams({ name, path });
    for (const e of opts.env ?? []) params.append("env", e);
    if (opts.workingDir) params.set("workdir", opts.workingDir);
    if (opts.replace) params.set("replace", "true");
    return JSON.parse((await this.client.request("POST", `${IMAGES_PATH}/import?${params}`)).body) as ImageSummary;
  }

  async load(input: { path: string } | { stream: Readable }): Promise<ImageSummary[]> {
    if ("path" in input) return (await this.client.json<{ items: ImageSummary[] }>("POST", `${IMAGES_PATH}/load`, { query: { path: input.path } })).items;
    return (await this.client.json<{ items: ImageSummary[] }>("POST", `${IMAGES_PATH}/load`, { stream: input.stream })).items;
  }

  async remove(name: string): Promise<ImageSummary[]> {
    return (await this.client.json<{ items: ImageSummary[] }>("DELETE", IMAGES_PATH, { query: { name } })).items;
  }

  async prune(): Promise<ImageSummary[]> {
    return (await this.client.json<{ items: ImageSummary[] }>("POST", `${IMAGES_PATH}/prune`)).items;
  }
}
