// The REST paths of namespaces, config maps, secrets and claims, as kube-apiserver has them:
//   /api/v1/namespaces[/{name}]                       GET (list, watch), POST; GET, PUT, DELETE
//   /api/v1/{configmaps|secrets|persistentvolumeclaims}   GET across namespaces (list, watch)
//   /api/v1/namespaces/{ns}/{resource}[/{name}]         GET (list, watch), POST; GET, PUT, DELETE
// A body is read as a file would be (YAML or JSON, every check of `podd validate`).
import type { IncomingMessage, ServerResponse } from "node:http";
import { loadManifests, OBJECT_KINDS, type ConfigKind, type ConfigObject } from "../../pod-specs/index.ts";
import { isDns1123Label } from "../../pod-specs/names.ts";
import { invalidObject, PoddError, sentName } from "../base/errors.ts";
import type { StoredObject } from "../daemon/objects.ts";
import type { ApiBackend } from "./backend.ts";
import { parseFieldSelector, parseLabelSelector } from "./selector.ts";

const KIND_OF_RESOURCE = new Map(Object.entries(OBJECT_KINDS).map(([kind, k]) => [k.resource, kind as ConfigKind]));

export function objectKindOf(resource: string): ConfigKind | undefined {
  return KIND_OF_RESOURCE.get(resource);
}

export interface ObjectIo {
  send(res: ServerResponse, code: number, body: unknown, headers?: Record<string, string>): void;
  readBody(req: IncomingMessage): Promise<string>;
  stream(res: ServerResponse): (obj: unknown) => void;
}

/** The object of the body, checked as a manifest is, of the kind and at the place the URL names. */
function objectFromBody(text: string, kind: ConfigKind, namespace: string | undefined, name?: string): ConfigObject {
  const r = loadManifests(text, "<request>");
  if (r.errors.length) throw invalidObject(kind, name ?? sentName(text), r.errors);
  const o = r.objects[0];
  if (r.pods.length + r.objects.length !== 1 || !o) throw new PoddError(`the request must hold exactly one ${kind}`, { code: "Invalid" });
  if (o.kind !== kind) throw new PoddError(`the request holds a ${o.kind}, not a ${kind}`, { code: "Invalid" });
  if (namespace !== undefined) {
    if ((o.metadata.namespace ?? namespace) !== namespace) {
      throw new PoddError(`the namespace of the provided object (${o.metadata.namespace}) does not match the namespace sent on the request (${namespace})`, { code: "Invalid" });
    }
    // The URL's namespace becomes the object's: checked as a manifest's would be.
    const bad = isDns1123Label(namespace);
    if (bad.length) throw invalidObject(kind, o.metadata.name, [{ path: "metadata.namespace", message: `Invalid value: ${JSON.stringify(namespace)}: ${bad.join("; ")}` }]);
    o.metadata.namespace = namespace;
  }
  if (name !== undefined && o.metadata.name !== name) {
    throw new PoddError(`the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`, { code: "Invalid" });
  }
  return o;
}

function selector(q: URLSearchParams): (o: StoredObject) => boolean {
  const labels = parseLabelSelector(q.get("labelSelector") ?? "");
  const fields = parseFieldSelector<StoredObject>(q.get("fieldSelector") ?? "", {
    "metadata.name": (o) => o.metadata.name,
    "metadata.namespace": (o) => o.metadata.namespace ?? "",
    ...{ type: (o: StoredObject) => (o.kind === "Secret" ? (o.type ?? "") : "") },
    "status.phase": (o) => (o.kind === "Namespace" || o.kind === "PersistentVolumeClaim" ? o.status.phase : ""),
  });
  return (o) => labels(o.metadata.labels) && fields(o);
}

/** Serves the request if it is one of these paths; false for any other. */
export async function serveObjects(d: ApiBackend, parts: readonly string[], method: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, io: ObjectIo): Promise<boolean> {
  if (parts[0] !== "api" || parts[1] !== "v1") return false;
  let kind: ConfigKind | undefined;
  let namespace: string | undefined;
  let name: string | undefined;
  let all = false;
  if (parts[2] === "namespaces" && parts.length <= 4) {
    kind = "Namespace";
    name = parts[3];
  } else if (parts.length === 3) {
    kind = objectKindOf(parts[2]!);
    all = true;
    if (kind === "Namespace") kind = undefined;
  } else if (parts[2] === "namespaces" && (parts.length === 5 || parts.length === 6)) {
    kind = objectKindOf(parts[4]!);
    if (kind === "Namespace") kind = undefined;
    namespace = parts[3];
    name = parts[5];
  }
  if (kind === undefined) return false;
  const resource = OBJECT_KINDS[kind].resource;
  if (name === undefined) {
    if (method === "GET") {
      const ns = all ? undefined : namespace;
      if (q.get("watch") === "true") watch(d, res, kind, ns, q, io);
      else io.send(res, 200, { apiVersion: "v1", kind: `${kind}List`, metadata: { resourceVersion: "" }, items: d.listObjects(kind, ns).filter(selector(q)) });
      return true;
    }
    if (method === "POST" && !all) {
      const o = objectFromBody(await io.readBody(req), kind, namespace);
      const r = await d.applyObject(o, true);
      io.send(res, 201, r.object, { "X-Podd-Result": r.result });
      return true;
    }
    return false;
  }
  if (method === "GET") {
    const o = d.getObject(kind, namespace, name);
    if (!o) throw new PoddError(`${resource} "${name}" not found`, { code: "NotFound" });
    io.send(res, 200, o);
    return true;
  }
  if (method === "PUT") {
    const o = objectFromBody(await io.readBody(req), kind, namespace, name);
    const r = await d.applyObject(o);
    io.send(res, r.result === "created" ? 201 : 200, r.object, { "X-Podd-Result": r.result });
    return true;
  }
  if (method === "DELETE") {
    req.resume();
    io.send(res, 200, await d.deleteObject(kind, namespace, name));
    return true;
  }
  return false;
}

function watch(d: ApiBackend, res: ServerResponse, kind: ConfigKind, namespace: string | undefined, q: URLSearchParams, io: ObjectIo): void {
  const selected = selector(q);
  const write = io.stream(res);
  const shown = new Set<string>();
  for (const o of d.listObjects(kind, namespace).filter(selected)) {
    shown.add(`${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    write({ type: "ADDED", object: o });
  }
  const onChange = (k: string, ns: string | undefined, name: string, change: "ADDED" | "MODIFIED" | "DELETED") => {
    if (k !== kind || (namespace !== undefined && ns !== namespace)) return;
    const key = `${ns ?? ""}/${name}`;
    const o = change === "DELETED" ? undefined : d.getObject(kind, ns, name);
    if (!o || !selected(o)) {
      if (shown.delete(key)) write({ type: "DELETED", object: { apiVersion: "v1", kind, metadata: { name, ...(ns === undefined ? {} : { namespace: ns }) } } });
      return;
    }
    write({ type: shown.has(key) ? "MODIFIED" : "ADDED", object: o });
    shown.add(key);
  };
  d.bus.on("objectChanged", onChange);
  res.on("close", () => d.bus.off("objectChanged", onChange));
}
