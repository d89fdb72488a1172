// podd wait --for=condition=NAME[=VALUE] | --for=delete pod/NAME…: kubectl wait. Each pod is
// followed with a watch of it alone, so a condition is seen the moment the daemon reports it;
// Ready means what the kubelet's Ready condition means (readiness probes included).
import { parseDuration } from "../base/time.ts";
import { PoddError } from "../base/errors.ts";
import { UnreachableError, type ApiPod, type PoddClient } from "../api/client.ts";
import { waitGone } from "./delete.ts";
import { clientFor, isPodResource, namespaceFlags, namespaceOf, pause, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

/** kubectl wait's default --timeout. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a wait pauses before watching again a daemon that did not answer. */
const RETRY_MS = 200;

type Want = { kind: "condition"; type: string; status: string } | { kind: "delete" };

/** --for=condition=Ready, condition=Ready=false, delete; condition names compare as kubectl's do (case-insensitively). */
export function parseFor(text: string | undefined): Want {
  if (text === "delete") return { kind: "delete" };
  const m = /^condition=([^=]+)(?:=(.*))?$/.exec(text ?? "");
  if (!m) throw new PoddError(`invalid --for "${text ?? ""}": condition=NAME[=VALUE] or delete`, { code: "Invalid" });
  return { kind: "condition", type: m[1]!, status: m[2] ?? "True" };
}

export function conditionMet(pod: ApiPod, want: Extract<Want, { kind: "condition" }>): boolean {
  const c = (pod.status?.conditions ?? []).find((x: { type: string }) => x.type.toLowerCase() === want.type.toLowerCase());
  return c !== undefined && String(c.status).toLowerCase() === want.status.toLowerCase();
}

async function waitOne(client: PoddClient, namespace: string, name: string, want: Want, deadline: number): Promise<"met" | "timeout" | "gone"> {
  // Gone already, or going while a watch was being opened (a watch of a pod that does not
  // exist sends nothing): asked for until it answers NotFound.
  if (want.kind === "delete") return (await waitGone(client, namespace, name, deadline)) ? "met" : "timeout";
  const abort = new AbortController();
  let outcome: "met" | "timeout" | "gone" = "timeout";
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  try {
    // A daemon that restarts ends the stream, and refuses connections for a moment: watch
    // again until the deadline.
    while (!abort.signal.aborted) {
      await client
        .watch<ApiPod>(
        "pods",
        namespace,
        (e) => {
          if (e.object.metadata.name !== name) return;
          const done = e.type === "DELETED" ? "gone" : conditionMet(e.object, want) ? "met" : undefined;
          if (done) {
            outcome = done;
            abort.abort();
          }
        },
        abort.signal,
        { fieldSelector: `metadata.name=${name}` },
      )
        .catch(async (err: unknown) => {
          if (!(err instanceof UnreachableError)) throw err;
          await pause(RETRY_MS, abort.signal);
        });
    }
  } finally {
    clearTimeout(timer);
  }
  return outcome;
}

export async function waitMain(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...socketFlag, ...namespaceFlags, for: { type: "string" }, timeout: { type: "string" } });
  const want = parseFor(values.for);
  const timeoutMs = values.timeout !== undefined ? parseDuration(values.timeout) : DEFAULT_TIMEOUT_MS;
  const [first, ...rest] = positionals;
  const names = first !== undefined && isPodResource(first) ? podNames(rest, "wait") : podNames(positionals, "wait");
  if (names.length === 0) throw new PoddError("podd wait: name the pods: pod/NAME…", { code: "Invalid" });
  const namespace = namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    let code = 0;
    for (const name of names) {
      // Each pod gets the whole --timeout, as with kubectl.
      const deadline = Date.now() + timeoutMs;
      // A pod that does not exist: kubectl's NotFound, except when waiting for it to go. One
      // that meets the condition already is not watched: --timeout=0 checks once, as kubectl's.
      const now = want.kind === "condition" ? conditionMet(await client.getPod(namespace, name), want) : false;
      const r = now ? "met" : await waitOne(client, namespace, name, want, deadline);
      if (r === "met") io.stdout.write(`pod/${name} condition met\n`);
      else {
        io.stderr.write(r === "gone" ? `error: pod/${name} was deleted while waiting for its condition\n` : `error: timed out waiting for the condition on pods/${name}\n`);
        code = 1;
      }
    }
    return code;
  });
}

export const wait: Verb = {
  summary: "Wait for a condition of pods, or for their deletion (kubectl wait)",
  usage: "--for=condition=NAME[=VALUE]|--for=delete pod/NAME… [--timeout D] [-n NS] [--socket PATH]",
  run: (argv) => waitMain(argv, processIo()),
};
