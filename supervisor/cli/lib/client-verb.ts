// What every verb that talks to the daemon shares: where its output goes (an Io, so tests run a
// verb in-process with a fixed clock and read what it printed), the --socket, -n and -A flags,
// and kubectl's way of reporting an error from the server.
import { PoddError } from "../../base/errors.ts";
import { ApiError, PoddClient, socketPath, UnreachableError } from "../../api/client.ts";

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: Out;
  stderr: Out;
  env: NodeJS.ProcessEnv;
  now(): number;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, now: () => Date.now() };
}

export const socketFlag = { socket: { type: "string" } } as const;

export const namespaceFlags = {
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
} as const;

export function clientFor(values: { socket?: string | undefined }, io: Io): PoddClient {
  return new PoddClient(socketPath(values.socket, io.env));
}

/** -n NS, else "default" (podd has no kubeconfig context to take a namespace from). */
export function namespaceOf(values: { namespace?: string | undefined }): string {
  return values.namespace ?? "default";
}

/**
 * Runs a verb body and prints the errors kubectl prints itself: a Status from the daemon as
 * `Error from server (Reason): message`, an unreachable daemon as one line that says what to do.
 * Exit code 1, as kubectl's. Anything else goes on to main's handler.
 */
export async function runClientVerb(io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ApiError) {
      io.stderr.write(err.kubectlMessage() + "\n");
      return 1;
    }
    if (err instanceof UnreachableError) {
      io.stderr.write(err.message + "\n");
      return 1;
    }
    throw err;
  }
}

/** kubectl's `error: …` for a problem found on the client side; exit 2 for bad input, else 1. */
export function reportLocalError(io: Io, err: unknown): number {
  if (err instanceof PoddError) {
    io.stderr.write(`error: ${err.message}\n`);
    return err.code === "Invalid" ? 2 : 1;
  }
  throw err;
}

/** "pod", "pods", "po" (kubectl's names for the one resource podd has). */
export function isPodResource(word: string | undefined): boolean {
  return word === "pod" || word === "pods" || word === "po";
}

/** The pod names among positionals: "x", or "pod/x" (kubectl's TYPE/NAME form). */
export function podNames(args: readonly string[], verb: string): string[] {
  return args.map((a) => {
    const slash = a.indexOf("/");
    if (slash < 0) return a;
    const [kind, name] = [a.slice(0, slash), a.slice(slash + 1)];
    if (!isPodResource(kind) || name === "") {
      throw new PoddError(`podd ${verb}: "${a}" is not a pod; podd knows one resource, pods (pod/NAME)`, { code: "Invalid" });
    }
    return name;
  });
}

/** Resolves after ms, or at once when the signal aborts; for polling a condition with a deadline. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Keys sorted at every level: kubectl prints unstructured objects (json, yaml) that way. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** kubectl's annotation naming the container that logs, exec and attach use without -c. */
export const DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container";

/**
 * The container a verb uses when no -c is given, as kubectl picks it: the one the
 * default-container annotation names (silently), else the first app container, with kubectl's
 * note naming the others when there are any ("Defaulted container "a" out of: a, b, init (init)").
 */
export function defaultContainer(pod: { metadata: { annotations?: Record<string, string> }; spec: { containers: { name: string }[]; initContainers?: { name: string }[] } }): { name: string; note?: string } {
  const apps = pod.spec.containers.map((c) => c.name);
  const inits = (pod.spec.initContainers ?? []).map((c) => c.name);
  const annotated = pod.metadata.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (annotated !== undefined && (apps.includes(annotated) || inits.includes(annotated))) return { name: annotated };
  const name = apps[0]!;
  if (apps.length === 1 && inits.length === 0) return { name };
  return { name, note: `Defaulted container "${name}" out of: ${[...apps, ...inits.map((n) => `${n} (init)`)].join(", ")}` };
}
