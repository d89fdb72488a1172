// podd top pod: CPU and memory (working set) per pod or per container, from the daemon's
// metrics.k8s.io endpoint, in kubectl top's units: millicores and MiB.
import { parseQuantity, quantityMilliValue, quantityValue } from "../../pod-specs/index.ts";
import { PoddError } from "../base/errors.ts";
import { byNamespaceAndName } from "../base/paths.ts";
import type { PodMetrics } from "../api/client.ts";
import { clientFor, isPodResource, namespaceFlags, namespaceOf, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { GET_TABLE, tabwrite } from "./lib/table.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

function quantity(text: string): { milli: bigint; value: bigint } {
  const q = parseQuantity(text);
  if (!q.ok) throw new PoddError(`the daemon reported a usage "${text}" that is not a quantity`, { code: "Internal" });
  return { milli: quantityMilliValue(q.quantity), value: quantityValue(q.quantity) };
}

const MI = 1024n * 1024n;

/** kubectl top's cells: "12m" and "34Mi" (MiB rounded down). */
export function usageCells(cpu: readonly string[], memory: readonly string[]): [string, string] {
  const milli = cpu.reduce((s, c) => s + quantity(c).milli, 0n);
  const bytes = memory.reduce((s, m) => s + quantity(m).value, 0n);
  return [`${milli}m`, `${bytes / MI}Mi`];
}

/** The table, every cell tab-terminated (trailing spaces included) as kubectl top prints it. */
export function topTable(metrics: readonly PodMetrics[], containers: boolean, allNamespaces: boolean): string {
  let s = (allNamespaces ? "NAMESPACE\t" : "") + (containers ? "POD\t" : "") + "NAME\tCPU(cores)\tMEMORY(bytes)\t\n";
  for (const m of metrics) {
    const ns = allNamespaces ? `${m.metadata.namespace}\t` : "";
    if (containers) {
      for (const c of m.containers) s += `${ns}${m.metadata.name}\t${c.name}\t${usageCells([c.usage.cpu], [c.usage.memory]).join("\t")}\t\n`;
    } else {
      const cells = usageCells(m.containers.map((c) => c.usage.cpu), m.containers.map((c) => c.usage.memory));
      s += `${ns}${m.metadata.name}\t${cells.join("\t")}\t\n`;
    }
  }
  return tabwrite(s, GET_TABLE);
}

export async function topMain(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...socketFlag, ...namespaceFlags, containers: { type: "boolean" } });
  const [resource, ...rest] = positionals;
  if (resource === undefined || !isPodResource(resource)) throw new PoddError("podd top shows pods: podd top pod [NAME] [--containers]", { code: "Invalid" });
  const name = podNames(rest, "top")[0];
  const all = values["all-namespaces"] === true && name === undefined;
  const namespace = all ? undefined : namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const metrics = (await client.podMetrics(namespace, name)).items;
    if (metrics.length === 0) {
      io.stderr.write(namespace === undefined ? "No resources found\n" : `No resources found in ${namespace} namespace.\n`);
      return 0;
    }
    metrics.sort(byNamespaceAndName);
    io.stdout.write(topTable(metrics, values.containers === true, all));
    return 0;
  });
}

export const top: Verb = {
  summary: "Show CPU and memory use of pods (kubectl top pod)",
  usage: "pod [NAME] [--containers] [-n NS | -A] [--socket PATH]",
  run: (argv) => topMain(argv, processIo()),
};
