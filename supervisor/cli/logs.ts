// podd logs: a container's log from the daemon's log endpoint (kubectl logs flags and errors).
// Several containers (--all-containers) are read one after the other, or side by side with -f.
import { parseDuration } from "../base/time.ts";
import { PoddError } from "../base/errors.ts";
import { lines, type ApiPod } from "../api/client.ts";
import { clientFor, defaultContainer, namespaceFlags, namespaceOf, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

/** Which containers to read: --all-containers, -c, or kubectl's default (with its note on stderr). */
export function pickContainers(pod: ApiPod, container: string | undefined, all: boolean, io: Io): string[] {
  const inits = (pod.spec.initContainers ?? []).map((c) => c.name);
  const apps = pod.spec.containers.map((c) => c.name);
  if (all) return [...inits, ...apps];
  if (container !== undefined) {
    if (![...inits, ...apps].includes(container)) {
      throw new PoddError(`container ${container} is not valid for pod ${pod.metadata.name}`, { code: "Invalid" });
    }
    return [container];
  }
  const picked = defaultContainer(pod);
  if (picked.note) io.stderr.write(picked.note + "\n");
  return [picked.name];
}

export async function logsMain(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    ...socketFlag,
    namespace: namespaceFlags.namespace,
    container: { type: "string", short: "c" },
    follow: { type: "boolean", short: "f" },
    previous: { type: "boolean", short: "p" },
    tail: { type: "string" },
    timestamps: { type: "boolean" },
    since: { type: "string" },
    "all-containers": { type: "boolean" },
    prefix: { type: "boolean" },
  });
  const names = podNames(positionals.slice(0, 1), "logs");
  const name = names[0];
  if (name === undefined) throw new PoddError("expected POD: podd logs POD [-c CONTAINER]", { code: "Invalid" });
  // kubectl logs POD CONTAINER is the old form of -c.
  const container = values.container ?? positionals[1];
  let tailLines: number | undefined;
  if (values.tail !== undefined) {
    if (!/^-?\d+$/.test(values.tail)) throw new PoddError(`invalid argument "${values.tail}" for "--tail" flag: an integer`, { code: "Invalid" });
    tailLines = Number(values.tail) < 0 ? undefined : Number(values.tail);
  }
  const sinceSeconds = values.since === undefined ? undefined : Math.max(1, Math.ceil(parseDuration(values.since) / 1000));
  const namespace = namespaceOf(values);
  const client = clientFor(values, io);

  return runClientVerb(io, async () => {
    const pod = await client.getPod(namespace, name);
    let containers: string[];
    try {
      containers = pickContainers(pod, container, values["all-containers"] === true, io);
    } catch (err) {
      io.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
    const query = {
      follow: values.follow === true,
      previous: values.previous === true,
      tailLines,
      timestamps: values.timestamps === true,
      sinceSeconds,
    };
    const copy = async (c: string): Promise<void> => {
      const res = await client.podLog(namespace, name, { container: c, ...query }, signal);
      const prefix = values.prefix ? `[pod/${name}/${c}] ` : "";
      try {
        for await (const line of lines(res)) io.stdout.write(`${prefix}${line}\n`);
      } catch (err) {
        if (!signal?.aborted) throw err;
      }
    };
    if (values.follow && containers.length > 1) await Promise.all(containers.map(copy));
    else for (const c of containers) await copy(c);
    return 0;
  });
}

export const logs: Verb = {
  summary: "Print a container's log (kubectl logs)",
  usage: "POD [-c CONTAINER] [-f] [-p] [--tail N] [--timestamps] [--since DURATION] [--all-containers] [--prefix] [-n NS] [--socket PATH]",
  run: (argv) => logsMain(argv, processIo()),
};
