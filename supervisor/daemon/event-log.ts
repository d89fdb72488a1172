// The recent events, as the Kubernetes Event API shows them: repeated events (the same reason
// and message for the same object) fold into one with a count, as the kubelet's recorder does.
// Kept in memory, bounded; events are a recent history, not a record (they expire in Kubernetes too).
import type { PodEvent } from "./events.ts";
import { rfc3339 } from "../base/time.ts";

export interface CoreEvent {
  apiVersion: "v1";
  kind: "Event";
  metadata: { name: string; namespace: string; creationTimestamp: string };
  involvedObject: { kind: "Pod"; apiVersion: "v1"; name: string; namespace: string; uid: string; fieldPath?: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: "podd"; host: string };
  reportingComponent: "podd";
}

export class EventLog {
  private readonly byKey = new Map<string, CoreEvent>();
  private seq = 0;

  constructor(
    private readonly host: string,
    private readonly max = 2000,
  ) {}

  /** Records e and returns the event as the API shows it (a new one, or the folded one). */
  add(e: PodEvent): CoreEvent {
    const fieldPath = e.container ? `spec.containers{${e.container}}` : undefined;
    const key = `${e.podUid}\0${fieldPath ?? ""}\0${e.type}\0${e.reason}\0${e.message}`;
    const seen = this.byKey.get(key);
    if (seen) {
      seen.count++;
      seen.lastTimestamp = rfc3339(e.time);
      // Map order is insertion order: move it to the end, the newest.
      this.byKey.delete(key);
      this.byKey.set(key, seen);
      return seen;
    }
    const ev: CoreEvent = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${e.pod}.${(e.time * 1000 + (this.seq++ % 1000)).toString(16)}`, namespace: e.namespace, creationTimestamp: rfc3339(e.time) },
      involvedObject: { kind: "Pod", apiVersion: "v1", name: e.pod, namespace: e.namespace, uid: e.podUid, ...(fieldPath ? { fieldPath } : {}) },
      reason: e.reason,
      message: e.message,
      type: e.type,
      count: 1,
      firstTimestamp: rfc3339(e.time),
      lastTimestamp: rfc3339(e.time),
      source: { component: "podd", host: this.host },
      reportingComponent: "podd",
    };
    this.byKey.set(key, ev);
    if (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value!);
    return ev;
  }

  list(namespace?: string, podUid?: string): CoreEvent[] {
    return [...this.byKey.values()].filter(
      (e) => (namespace === undefined || e.metadata.namespace === namespace) && (podUid === undefined || e.involvedObject.uid === podUid),
    );
  }
}
