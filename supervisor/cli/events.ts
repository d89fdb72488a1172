// podd events: kubectl events' table (LAST SEEN TYPE REASON OBJECT MESSAGE, oldest first), and
// -w, which prints each event as the daemon's watch stream delivers it.
import type { ApiEvent } from "../api/client.ts";
import { humanDuration } from "../base/time.ts";
import { clientFor, namespaceFlags, namespaceOf, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { eventTime } from "./describe.ts";
import { StreamingTable } from "./lib/table.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

function since(t: string | undefined, now: number): string {
  return t ? humanDuration(now - Date.parse(t)) : "<unknown>";
}

/** kubectl events' LAST SEEN: the age, or "3m (x5 over 10m)" for a repeated event. */
export function interval(e: ApiEvent, now: number): string {
  const first = since(e.firstTimestamp ?? e.eventTime, now);
  return (e.count ?? 1) > 1 ? `${since(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
}

export function eventRow(e: ApiEvent, allNamespaces: boolean, now: number): string[] {
  const row = [interval(e, now), e.type, e.reason, `${e.involvedObject.kind}/${e.involvedObject.name}`, e.message.trim()];
  return allNamespaces ? [e.metadata.namespace, ...row] : row;
}

export function eventHeader(allNamespaces: boolean): string[] {
  const h = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
  return allNamespaces ? ["NAMESPACE", ...h] : h;
}

export async function eventsMain(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values } = parseFlags(argv, { ...socketFlag, ...namespaceFlags, watch: { type: "boolean", short: "w" } });
  const all = values["all-namespaces"] === true;
  const namespace = all ? undefined : namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const events = (await client.listEvents(namespace)).items.sort((a, b) => Date.parse(eventTime(a)) - Date.parse(eventTime(b)));
    const out = new StreamingTable();
    let headerDone = events.length > 0;
    if (events.length === 0) {
      io.stderr.write(namespace === undefined ? "No events found.\n" : `No events found in ${namespace} namespace.\n`);
    } else {
      io.stdout.write(out.format([eventHeader(all), ...events.map((e) => eventRow(e, all, io.now()))]));
    }
    if (values.watch) {
      // Events already listed come again at the start of the watch: skip the ones seen.
      const seen = new Map(events.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, JSON.stringify(e)]));
      await client.watch<ApiEvent>(
        "events",
        namespace,
        (w) => {
          if (w.type === "DELETED") return;
          const key = `${w.object.metadata.namespace}/${w.object.metadata.name}`;
          const identity = JSON.stringify(w.object);
          if (seen.get(key) === identity) return;
          seen.set(key, identity);
          io.stdout.write(out.format([...(headerDone ? [] : [eventHeader(all)]), eventRow(w.object, all, io.now())]));
          headerDone = true;
        },
        signal,
      );
    }
    return 0;
  });
}

export const events: Verb = {
  summary: "List pod events (kubectl events)",
  usage: "[-w] [-n NS | -A] [--socket PATH]",
  run: (argv) => eventsMain(argv, processIo()),
};
