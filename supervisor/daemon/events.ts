// Every lifecycle transition is an event, with Kubernetes' reasons (Created, Started, Killing,
// BackOff, Failed, OOMKilling…), so describe, events and the API can show it and winston can log it.
import { EventEmitter } from "eventemitter3";

export interface PodEvent {
  /** when it happened (ms since the epoch, from the injected clock) */
  time: number;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  namespace: string;
  pod: string;
  podUid: string;
  /** the container it is about, when it is about one */
  container?: string;
}

export interface PoddEvents {
  event: (e: PodEvent) => void;
  /** a container run began (its monitor is up) and writes its log to logPath */
  runStarted: (podUid: string, pod: string, container: string, logPath: string) => void;
  /** the pod's observed state changed (after a sync): its status may read differently */
  podChanged: (namespace: string, name: string) => void;
  /** a container run ended: its log is complete */
  runEnded: (podUid: string, pod: string, container: string, logPath: string) => void;
  /** a namespace, config map, secret or claim was written or removed: it moves their watches */
  objectChanged: (kind: string, namespace: string | undefined, name: string, change: "ADDED" | "MODIFIED" | "DELETED") => void;
}

export class EventBus extends EventEmitter<PoddEvents> {}
