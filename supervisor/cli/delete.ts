// podd delete pod NAME… | -f FILE: asks the daemon to stop and remove each pod, then (unless
// --wait=false) waits until the pod is gone, as kubectl does, with a spinner on a terminal.
import { parseDuration } from "../base/time.ts";
import { PoddError } from "../base/errors.ts";
import { ApiError, type PoddClient } from "../api/client.ts";
import { readManifests, recursiveFlag } from "./lib/manifests.ts";
import { clientFor, isPodResource, namespaceFlags, namespaceOf, pause, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { Progress } from "./lib/spinner.ts";
import { parseLabelSelector } from "../api/selector.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";
import { objectResource } from "./lib/objects.ts";
import { OBJECT_KINDS } from "../../pod-specs/index.ts";

/** How often a waiting verb asks the daemon again. */
export const POLL_MS = 200;

/** Resolves once GET answers 404; false when the deadline passed first. */
export async function waitGone(client: PoddClient, namespace: string, name: string, deadline: number): Promise<boolean> {
  for (;;) {
    try {
      await client.getPod(namespace, name);
    } catch (err) {
      if (err instanceof ApiError && err.reason === "NotFound") return true;
      throw err;
    }
    if (Date.now() >= deadline) return false;
    await pause(POLL_MS);
  }
}

async function waitObjectGone(client: PoddClient, resource: string, namespace: string | undefined, name: string, deadline: number): Promise<boolean> {
  for (;;) {
    try {
      await client.getObject(resource, namespace, name);
    } catch (err) {
      if (err instanceof ApiError && err.reason === "NotFound") return true;
      throw err;
    }
    if (Date.now() >= deadline) return false;
    await pause(POLL_MS);
  }
}

function parseBool(flag: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v === "true" || v === "") return true;
  if (v === "false") return false;
  throw new PoddError(`invalid argument "${v}" for "--${flag}" flag: true or false`, { code: "Invalid" });
}

export async function deleteMain(argv: string[], io: Io): Promise<number> {
  // --wait=false is kubectl's spelling; parseArgs takes "--wait=false" as a string option.
  const { values, positionals } = parseFlags(argv.map((a) => (a === "--wait" ? "--wait=true" : a)), {
    ...socketFlag,
    ...namespaceFlags,
    filename: { type: "string", short: "f", multiple: true },
    ...recursiveFlag,
    all: { type: "boolean" },
    selector: { type: "string", short: "l" },
    "grace-period": { type: "string" },
    now: { type: "boolean" },
    wait: { type: "string" },
    timeout: { type: "string" },
  });
  const wait = parseBool("wait", values.wait, true);
  let grace: number | undefined;
  if (values["grace-period"] !== undefined) {
    if (!/^-?\d+$/.test(values["grace-period"])) throw new PoddError(`invalid argument "${values["grace-period"]}" for "--grace-period" flag: an integer`, { code: "Invalid" });
    const g = Number(values["grace-period"]);
    grace = g < 0 ? undefined : g;
  }
  if (values.now) {
    if (grace !== undefined) throw new PoddError("--now and --grace-period cannot be specified together", { code: "Invalid" });
    grace = 1;
  }
  const timeoutMs = values.timeout === undefined || values.timeout === "0" ? undefined : parseDuration(values.timeout);

  const targets: { namespace: string; name: string }[] = [];
  /** namespaces, config maps, secrets and claims to delete, after the pods */
  const objectTargets: { resource: string; kind: string; namespace: string | undefined; name: string }[] = [];
  // --all and -l pick pods from the daemon's list, once connected.
  const bySelector = values.all === true || values.selector !== undefined;
  const selector = values.selector === undefined ? () => true : parseLabelSelector(values.selector);
  if (bySelector && values.filename) throw new PoddError("cannot set --all or --selector with -f", { code: "Invalid" });
  if (values.all && values.selector !== undefined) throw new PoddError("cannot set --all and --selector at the same time", { code: "Invalid" });
  if (values["all-namespaces"] && !bySelector) throw new PoddError("-A deletes by --all or --selector: podd delete pods --all -A", { code: "Invalid" });
  if (bySelector) {
    const [first, ...rest] = positionals;
    if (first === undefined || !isPodResource(first)) throw new PoddError("you must specify the type of resource to delete: podd delete pods --all", { code: "Invalid" });
    if (rest.length > 0) throw new PoddError(`name cannot be provided when ${values.all ? "--all" : "a selector"} is specified`, { code: "Invalid" });
  } else if (values.filename) {
    if (positionals.length > 0) throw new PoddError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form or with -f", { code: "Invalid" });
    const set = readManifests(values.filename, "ignore", { verb: "delete", recursive: values.recursive === true });
    if (set.errors.length) {
      for (const e of set.errors) io.stderr.write(`${e}\n`);
      return 1;
    }
    for (const p of set.pods) targets.push({ namespace: values.namespace ?? p.metadata.namespace ?? "default", name: p.metadata.name });
    // The reverse of apply's order: what pods use goes after them, namespaces last.
    for (const o of [...set.objects].reverse()) {
      const k = OBJECT_KINDS[o.kind];
      objectTargets.push({ resource: k.resource, kind: o.kind, namespace: k.namespaced ? (values.namespace ?? o.metadata.namespace ?? "default") : undefined, name: o.metadata.name });
    }
  } else if (positionals[0] !== undefined && objectResource(positionals[0])) {
    const r = objectResource(positionals[0])!;
    const names = positionals.slice(1);
    if (names.length === 0) throw new PoddError(`resource(s) were provided, but no name was specified: podd delete ${positionals[0]} NAME…`, { code: "Invalid" });
    for (const name of names) objectTargets.push({ resource: r.resource, kind: r.kind, namespace: r.kind === "Namespace" ? undefined : namespaceOf(values), name });
  } else {
    const [first, ...rest] = positionals;
    const names = first !== undefined && isPodResource(first) ? podNames(rest, "delete") : podNames(positionals, "delete");
    if (names.length === 0) throw new PoddError("resource(s) were provided, but no name was specified: podd delete pod NAME… or -f FILE", { code: "Invalid" });
    for (const name of names) targets.push({ namespace: namespaceOf(values), name });
  }

  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    if (bySelector) {
      const ns = values["all-namespaces"] ? undefined : namespaceOf(values);
      for (const p of (await client.listPods(ns)).items.filter((p) => selector(p.metadata.labels))) {
        targets.push({ namespace: p.metadata.namespace, name: p.metadata.name });
      }
      if (targets.length === 0) {
        io.stdout.write("No resources found\n");
        return 0;
      }
    }
    let failed = false;
    const pending: { namespace: string; name: string }[] = [];
    for (const t of targets) {
      try {
        await client.deletePod(t.namespace, t.name, grace);
        pending.push(t);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // --all and -l ignore a pod gone since the list (kubectl's --ignore-not-found default).
        if (bySelector && err.reason === "NotFound") continue;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    const objectsPending: typeof objectTargets = [];
    for (const t of objectTargets) {
      try {
        await client.deleteObject(t.resource, t.namespace, t.name);
        objectsPending.push(t);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        io.stderr.write(err.kubectlMessage() + "\n");
        failed = true;
      }
    }
    if (!wait) {
      for (const t of pending) io.stdout.write(`pod "${t.name}" deleted\n`);
      for (const t of objectsPending) io.stdout.write(`${t.kind.toLowerCase()} "${t.name}" deleted\n`);
      return failed ? 1 : 0;
    }
    // Waiting for every pod together: their grace periods run side by side in the daemon.
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const progress = new Progress(io.stderr);
    const left = new Set(pending.map((t) => `${t.namespace}/${t.name}`));
    const waitingFor = () => `waiting for ${[...left].map((k) => `pod/${k.slice(k.indexOf("/") + 1)}`).join(", ")} to stop`;
    if (io.stderr.isTTY && left.size > 0) progress.update(waitingFor());
    const results = await Promise.all(
      pending.map(async (t) => {
        const gone = await waitGone(client, t.namespace, t.name, deadline);
        left.delete(`${t.namespace}/${t.name}`);
        if (io.stderr.isTTY && left.size > 0) progress.update(waitingFor());
        return { t, gone };
      }),
    );
    progress.done();
    for (const { t, gone } of results) {
      if (gone) io.stdout.write(`pod "${t.name}" deleted\n`);
      else {
        io.stderr.write(`error: timed out waiting for pod "${t.name}" to be deleted\n`);
        failed = true;
      }
    }
    // A claim in use or a namespace with content stays until what holds it is gone.
    for (const t of objectsPending) {
      if (await waitObjectGone(client, t.resource, t.namespace, t.name, deadline)) io.stdout.write(`${t.kind.toLowerCase()} "${t.name}" deleted\n`);
      else {
        io.stderr.write(`error: timed out waiting for ${t.kind.toLowerCase()} "${t.name}" to be deleted\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  });
}

export const del: Verb = {
  summary: "Stop and remove pods; delete namespaces, configmaps, secrets and claims (kubectl delete)",
  usage: "pod NAME… | configmap|secret|pvc|namespace NAME… | pods --all | pods -l SELECTOR | -f FILE|DIR|- [--grace-period N] [--now] [--wait=false] [--timeout D] [-n NS | -A] [--socket PATH]",
  run: (argv) => deleteMain(argv, processIo()),
};
