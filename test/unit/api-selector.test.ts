// The daemon's API server reads ?labelSelector and ?fieldSelector with the shared parser: set-based
// selectors select on lists and watches, and a selector it cannot read is 400 BadRequest with the
// parser's message, never an empty list. The server runs on a temp socket over a stub daemon.
import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { ApiServer } from "../../supervisor/api/server.ts";
import type { ApiBackend } from "../../supervisor/api/backend.ts";
import type { PodObject } from "../../supervisor/pod/worker.ts";

function pod(name: string, labels?: Record<string, string>): PodObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", ...(labels ? { labels } : {}) },
    spec: { containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running" },
  } as unknown as PodObject;
}

const pods = [pod("web", { app: "web" }), pod("db", { app: "db" }), pod("cache", { app: "cache" }), pod("bare")];
const daemon = {
  list: () => pods,
  get: (_ns: string, name: string) => pods.find((p) => p.metadata.name === name),
  bus: new EventEmitter(),
  now: () => Date.now(),
} as unknown as ApiBackend;

let dir: string;
let api: ApiServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "podd-api-selector-"));
  api = new ApiServer(daemon, { socket: join(dir, "api.sock"), version: "0.0.0" });
  await api.listen();
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * GETs a path; for a watch, resolves once `lines` lines have arrived, then closes the stream.
 * With lines 0, a 200 resolves at its headers: a refusal is expected, and a watch that wrongly
 * opens would otherwise never end.
 */
function get(path: string, lines = 1): Promise<{ code: number; lines: any[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(dir, "api.sock"), path }, (res) => {
      let text = "";
      if (lines === 0 && res.statusCode === 200) {
        req.destroy();
        return resolve({ code: 200, lines: [] });
      }
      res.setEncoding("utf8");
      const done = () => {
        req.destroy();
        resolve({ code: res.statusCode ?? 0, lines: text.split("\n").filter(Boolean).map((l) => JSON.parse(l)) });
      };
      res.on("data", (chunk: string) => {
        text += chunk;
        if (text.split("\n").filter(Boolean).length >= lines && text.endsWith("\n")) done();
      });
      res.on("end", done);
    });
    req.on("error", reject);
    req.end();
  });
}

const q = (s: string) => encodeURIComponent(s);

test("a set-based labelSelector selects on a list", async () => {
  const r = await get(`/api/v1/namespaces/default/pods?labelSelector=${q("app in (web,db)")}`);
  assert.equal(r.code, 200);
  assert.deepEqual(r.lines[0].items.map((p: PodObject) => p.metadata.name), ["web", "db"]);
  const notin = await get(`/api/v1/pods?labelSelector=${q("app notin (web,db)")}`);
  assert.deepEqual(notin.lines[0].items.map((p: PodObject) => p.metadata.name), ["cache", "bare"]);
  const absent = await get(`/api/v1/pods?labelSelector=${q("!app")}`);
  assert.deepEqual(absent.lines[0].items.map((p: PodObject) => p.metadata.name), ["bare"]);
});

// A deadline, not a timing: a server that selects nothing would keep the watch open forever.
test("a set-based labelSelector selects on a watch", { timeout: 10_000 }, async () => {
  const r = await get(`/api/v1/namespaces/default/pods?watch=true&labelSelector=${q("app in (web,db)")}`, 2);
  assert.equal(r.code, 200);
  assert.deepEqual(r.lines.map((e) => `${e.type} ${e.object.metadata.name}`), ["ADDED web", "ADDED db"]);
});

test("a selector the parser refuses is 400 BadRequest with its message, on lists and watches", async () => {
  for (const path of ["/api/v1/pods?", "/api/v1/namespaces/default/pods?watch=true&"]) {
    const r = await get(`${path}labelSelector=${q("app in (web")}`, 0);
    assert.equal(r.code, 400);
    assert.equal(r.lines[0].reason, "BadRequest");
    assert.equal(r.lines[0].message, "unable to parse requirement: found '', expected: ',' or ')'");
  }
  const field = await get(`/api/v1/pods?fieldSelector=${q("spec.nodeName=x")}`, 0);
  assert.equal(field.code, 400);
  assert.equal(field.lines[0].message, "field label not supported: spec.nodeName");
});
