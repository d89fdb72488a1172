// podd get pods: kubectl's table (NAME READY STATUS RESTARTS AGE, NAMESPACE first with -A, IP
// NODE NOMINATED NODE READINESS GATES with -o wide), -o json|yaml|name, -l, and -w, which keeps
// printing rows as the daemon's watch stream reports changes.
import { PoddError } from "../base/errors.ts";
import { ApiError, type ApiObject, type ApiPod } from "../api/client.ts";
import { fetchObjects, isNodeResource, nodeHeader, nodeRow, objectHeader, objectResource, objectRow, type ObjectResource } from "./lib/objects.ts";
import { podColumns } from "./lib/pod-columns.ts";
import { byNamespaceAndName } from "../base/paths.ts";
import {
  clientFor,
  isPodResource,
  namespaceFlags,
  namespaceOf,
  podNames,
  processIo,
  runClientVerb,
  socketFlag,
  type Io,
} from "./lib/client-verb.ts";
import { parseLabelSelector } from "../api/selector.ts";
import { formatObject, loadYaml } from "./lib/object-output.ts";
import { StreamingTable, table } from "./lib/table.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

export type OutputFormat = "table" | "wide" | "json" | "yaml" | "name";

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined) return "table";
  if (value === "wide" || value === "json" || value === "yaml" || value === "name") return value;
  throw new PoddError(`unable to match a printer suitable for the output format "${value}", allowed formats are: json,name,wide,yaml`, { code: "Invalid" });
}

// ---- rows ------------------------------------------------------------------------------------

export function podHeader(format: OutputFormat, allNamespaces: boolean): string[] {
  const h = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
  if (format === "wide") h.push("IP", "NODE", "NOMINATED NODE", "READINESS GATES");
  return allNamespaces ? ["NAMESPACE", ...h] : h;
}

export function podRow(pod: ApiPod, format: OutputFormat, allNamespaces: boolean, now: number): string[] {
  const c = podColumns(pod, now);
  const row = [pod.metadata.name, c.ready, c.status, c.restarts, c.age];
  if (format === "wide") row.push(pod.status.podIP ?? "<none>", pod.spec.nodeName ?? "<none>", "<none>", "<none>");
  return allNamespaces ? [pod.metadata.namespace, ...row] : row;
}

/** kubectl -o json of several objects: a List, keys sorted, four-space indent. */
export function listObject(items: readonly unknown[]): unknown {
  return { apiVersion: "v1", items, kind: "List", metadata: { resourceVersion: "" } };
}

function noResources(namespace: string | undefined): string {
  return namespace === undefined ? "No resources found\n" : `No resources found in ${namespace} namespace.\n`;
}

// ---- the verb --------------------------------------------------------------------------------

export async function getMain(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    ...socketFlag,
    ...namespaceFlags,
    output: { type: "string", short: "o" },
    watch: { type: "boolean", short: "w" },
    selector: { type: "string", short: "l" },
    "field-selector": { type: "string" },
  });
  const [resource, ...rest] = positionals;
  if (resource === undefined) {
    throw new PoddError('you must specify the type of resource to get: podd get pods [NAME…]', { code: "Invalid" });
  }
  if (isNodeResource(resource)) return getNodes(rest, values, io);
  // kubectl's TYPE[,TYPE…]: several kinds at once, each in a table of its own.
  const kinds = resource.split(",");
  if (kinds.length > 1) {
    const all = kinds.map((k) => objectResource(k));
    const bad = kinds.find((_k, i) => all[i] === undefined);
    if (bad !== undefined) throw new PoddError(`podd get lists several kinds at once among namespaces, configmaps, secrets and persistentvolumeclaims; get ${bad} on its own`, { code: "Invalid" });
    if (rest.length > 0) throw new PoddError("a name cannot be given with several resource types; use TYPE/NAME of one type", { code: "Invalid" });
    return getObjects(all as ObjectResource[], [], values, io);
  }
  const objects = objectResource(resource);
  if (objects) return getObjects([objects], rest, values, io);
  let names: string[];
  if (isPodResource(resource)) names = podNames(rest, "get");
  else if (resource.includes("/")) names = podNames(positionals, "get");
  else throw new PoddError(`the server doesn't have a resource type "${resource}": podd serves pods, namespaces, configmaps, secrets and persistentvolumeclaims`, { code: "Invalid" });

  const format = parseOutput(values.output);
  if (format === "yaml") await loadYaml();
  const all = values["all-namespaces"] === true && names.length === 0;
  const namespace = all ? undefined : namespaceOf(values);
  if (names.length > 0 && (values.selector !== undefined || values["field-selector"] !== undefined)) {
    throw new PoddError("name cannot be provided when a selector is specified", { code: "Invalid" });
  }
  const selector = values.selector === undefined ? () => true : parseLabelSelector(values.selector);
  const client = clientFor(values, io);

  return runClientVerb(io, async () => {
    let pods: ApiPod[] = [];
    let failed = false;
    if (names.length > 0) {
      for (const name of names) {
        try {
          pods.push(await client.getPod(namespace!, name));
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          io.stderr.write(err.kubectlMessage() + "\n");
          failed = true;
        }
      }
    } else {
      pods = (await client.listPods(namespace, values["field-selector"])).items.filter((p) => selector(p.metadata.labels));
      pods.sort(byNamespaceAndName);
    }
    const streaming = new StreamingTable();
    const tableRows = (ps: ApiPod[], header: boolean): string =>
      streaming.format([...(header ? [podHeader(format, all)] : []), ...ps.map((p) => podRow(p, format, all, io.now()))]);
    let headerDone = false;
    const printOne = (p: ApiPod): string => {
      switch (format) {
        case "name":
          return `pod/${p.metadata.name}\n`;
        case "json":
        case "yaml":
          return formatObject(p, format);
        default: {
          const text = tableRows([p], !headerDone);
          headerDone = true;
          return text;
        }
      }
    };

    if (pods.length === 0 && !failed) {
      if (format === "json" || format === "yaml") {
        if (!values.watch) io.stdout.write(formatObject(listObject([]), format));
      } else io.stderr.write(noResources(namespace));
    } else if (format === "json" || format === "yaml") {
      const single = names.length === 1 && pods.length === 1;
      io.stdout.write(formatObject(single || values.watch ? pods[0] : listObject(pods), format));
      if (values.watch) for (const p of pods.slice(1)) io.stdout.write(formatObject(p, format));
    } else if (format === "name") {
      io.stdout.write(pods.map((p) => `pod/${p.metadata.name}\n`).join(""));
    } else if (pods.length > 0) {
      io.stdout.write(tableRows(pods, true));
      headerDone = true;
    }

    if (values.watch) {
      // The stream may begin with an ADDED for every pod the list showed: print only changes.
      const seen = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, "ADDED" + JSON.stringify(p)]));
      const wanted = new Set(names);
      const last = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
      await client.watch<ApiPod>(
        "pods",
        namespace,
        (e) => {
          const key0 = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
          // A DELETED event may carry only the pod's name: print the last state seen of it.
          const p = e.type === "DELETED" && !e.object.status ? last.get(key0) : e.object;
          if (p === undefined) return;
          last.set(key0, p);
          if (wanted.size > 0 ? !wanted.has(p.metadata.name) : !selector(p.metadata.labels)) return;
          const key = `${p.metadata.namespace}/${p.metadata.name}`;
          const identity = e.type + JSON.stringify(p);
          if (seen.get(key) === identity) return;
          seen.set(key, identity);
          io.stdout.write(printOne(p));
        },
        signal,
        values["field-selector"] === undefined ? {} : { fieldSelector: values["field-selector"] },
      );
    }
    return failed ? 1 : 0;
  });
}

/** podd get nodes [NAME]: the one node podd is. */
async function getNodes(names: string[], values: { output?: string | undefined; socket?: string | undefined }, io: Io): Promise<number> {
  const format = parseOutput(values.output);
  if (format === "yaml") await loadYaml();
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const items: unknown[] = [];
    let failed = false;
    if (names.length === 0) items.push(...(await client.json<{ items: unknown[] }>("GET", "/api/v1/nodes")).items);
    for (const name of names) {
      try {
        items.push(await client.json("GET", `/api/v1/nodes/${encodeURIComponent(name)}`));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    if (format === "json" || format === "yaml") io.stdout.write(formatObject(names.length === 1 && items.length === 1 ? items[0] : listObject(items), format));
    else if (format === "name") io.stdout.write(items.map((n) => `node/${(n as { metadata: { name: string } }).metadata.name}\n`).join(""));
    else if (items.length) io.stdout.write(table([nodeHeader(format === "wide"), ...items.map((n) => nodeRow(n, format === "wide", io.now()))]));
    return failed ? 1 : 0;
  });
}

/** podd get configmaps|secrets|pvc|namespaces [NAME…]: the list or the objects named, as kubectl prints them. */
async function getObjects(
  kinds: readonly ObjectResource[],
  names: string[],
  values: { output?: string | undefined; watch?: boolean | undefined; selector?: string | undefined; namespace?: string | undefined; "all-namespaces"?: boolean | undefined; socket?: string | undefined },
  io: Io,
): Promise<number> {
  if (values.watch) throw new PoddError(`podd get -w watches pods; list ${kinds.map((k) => k.resource).join(",")} without -w`, { code: "Invalid" });
  const format = parseOutput(values.output);
  if (format === "yaml") await loadYaml();
  const client = clientFor(values, io);
  // With several kinds, kubectl names each object KIND/NAME, so the tables can be told apart.
  const several = kinds.length > 1;
  return runClientVerb(io, async () => {
    let failed = false;
    const everything: ApiObject[] = [];
    const tables: string[] = [];
    for (const r of kinds) {
      const cluster = r.kind === "Namespace";
      const all = (values["all-namespaces"] === true || cluster) && names.length === 0;
      const namespace = cluster || all ? undefined : namespaceOf(values);
      const got = await fetchObjects(client, io, r.resource, namespace, names, values.selector);
      const items = got.items;
      if (got.failed) failed = true;
      everything.push(...items);
      if (format === "table" || format === "wide") {
        const showNamespace = all && !cluster;
        const rows = items.map((o) => {
          const row = objectRow(o, showNamespace, io.now());
          const at = showNamespace ? 1 : 0;
          if (several) row[at] = `${o.kind.toLowerCase()}/${row[at]}`;
          return row;
        });
        if (rows.length > 0) tables.push(table([objectHeader(r.kind, showNamespace), ...rows]));
      }
    }
    const namespace = values["all-namespaces"] === true || kinds.every((k) => k.kind === "Namespace") ? undefined : namespaceOf(values);
    if (everything.length === 0 && !failed) {
      if (format === "json" || format === "yaml") io.stdout.write(formatObject(listObject([]), format));
      else io.stderr.write(noResources(namespace));
    } else if (format === "json" || format === "yaml") {
      io.stdout.write(formatObject(names.length === 1 && everything.length === 1 ? everything[0] : listObject(everything), format));
    } else if (format === "name") {
      io.stdout.write(everything.map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}\n`).join(""));
    } else {
      io.stdout.write(tables.join("\n"));
    }
    return failed ? 1 : 0;
  });
}

export const get: Verb = {
  summary: "List pods, namespaces, configmaps, secrets and claims (kubectl get)",
  usage: "pods|namespaces|configmaps|secrets|pvc [NAME…] [-n NS | -A] [-o wide|json|yaml|name] [-l SELECTOR] [--field-selector status.phase=Running,…] [-w] [--socket PATH]",
  run: (argv) => getMain(argv, processIo()),
};
