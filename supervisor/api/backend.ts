// What the API server needs of the daemon, and nothing more: its objects, its verbs, the events
// that move a watch or a log follow, and the few facts about containers that logs, exec and
// metrics need. The daemon implements it; a test hands the server a stub of it.
import type { Pod } from "../../pod-specs/index.ts";
import type { EventEmitter } from "eventemitter3";
import type { PoddEvents } from "../daemon/events.ts";
import type { CoreEvent } from "../daemon/event-log.ts";
import type { PodObject } from "../pod/worker.ts";
import type { ImagesApi } from "./images.ts";
import type { ConfigKind, ConfigObject } from "../../pod-specs/index.ts";
import type { StoredObject } from "../daemon/objects.ts";

/** A container of a pod as the log, exec and metrics endpoints see it. */
export interface ContainerView {
  name: string;
  /** the host pid of its PID 1, while it runs */
  pid1?: number;
  running: boolean;
  /** where its CRI logs are: <n>.log per run, rotated as <n>.log.<k> */
  logDir: string;
  /** the log the running instance writes, while it runs */
  liveLogPath?: string;
  /** podd-init options that make an exec'd process run as the container's do (user, capabilities, seccomp) */
  execIdentity: string[];
}

export interface ApiBackend {
  /** the image verbs; undefined: this server has no image store */
  readonly images?: ImagesApi;
  list(namespace?: string): PodObject[];
  get(namespace: string, name: string): PodObject | undefined;
  apply(pod: Pod, mustNotExist?: boolean): Promise<{ result: string; object: PodObject }>;
  delete(namespace: string, name: string, gracePeriodSeconds?: number): Promise<PodObject>;
  eventList(namespace?: string): CoreEvent[];
  /** The node this daemon is: a core/v1 Node. */
  node(): { metadata: { name: string; [k: string]: unknown }; [k: string]: unknown };
  /** Namespaces, config maps, secrets and claims; namespace undefined: all of them. */
  listObjects(kind: ConfigKind, namespace?: string): StoredObject[];
  getObject(kind: ConfigKind, namespace: string | undefined, name: string): StoredObject | undefined;
  applyObject(o: ConfigObject, mustNotExist?: boolean): Promise<{ result: string; object: StoredObject }>;
  deleteObject(kind: ConfigKind, namespace: string | undefined, name: string): Promise<StoredObject>;
  /** podChanged moves pod watches, event the event watches, runEnded ends a log follow */
  readonly bus: Pick<EventEmitter<PoddEvents>, "on" | "off">;
  /** The pod's spec and its containers, init containers first; undefined when there is no such pod. */
  containers(namespace: string, name: string): { spec: Pod["spec"]; containers: ContainerView[] } | undefined;
  /** The daemon's clock, ms since the epoch: log sinceSeconds and metrics timestamps read it. */
  now(): number;
  /** Cumulative CPU (ns) and working set (bytes) of the running containers of the pods asked for. */
  usage(namespace?: string, name?: string): Promise<{ namespace: string; name: string; containers: Record<string, { cpuNs: number; memoryBytes: number }> }[]>;
}
