// What a pod's worker and the supervisor need of the runtime, and nothing more: the effects the
// planner's actions stand for (sandbox, container start, stop and kill, hooks, probes), the
// image a container waits on, and the records a restarted daemon goes on from. runtime/Runtime
// is the real one; test/unit/fake-runtime.ts scripts it for tests that run without root.
import type { Container, HTTPGetAction, Probe } from "../../pod-specs/types.ts";
import type { PodRef } from "../base/paths.ts";
import type { Images } from "../runtime/images/service.ts";
import type { Image } from "../runtime/images/store.ts";
import type { CredentialsOf } from "../runtime/images/registry.ts";
import type { ExitRecord, SavedPod } from "../runtime/records.ts";
import type { ProbeOutcome } from "../runtime/probe.ts";
import type { BoundPod, ContainerRun, ContainerUser, NodeInfo } from "../runtime/runtime.ts";
import type { SysctlAllowlist } from "./admission.ts";

/** observed.json and ended.json */
export interface PodRecordStore {
  hasRunDir(p: PodRef): boolean;
  hasObserved(p: PodRef): boolean;
  saveObserved(p: PodRef, saved: SavedPod, mustHaveRunDir: boolean): void;
  readObserved<O>(p: PodRef): SavedPod<O> | undefined;
  saveEnded(p: PodRef, saved: SavedPod): void;
  readEnded<O>(p: PodRef): SavedPod<O> | undefined;
}

export interface PodRuntime {
  readonly node: Pick<NodeInfo, "name" | "hostIP" | "allocatable">;
  readonly records: PodRecordStore;
  readonly images: Pick<Images, "ensure">;
  /** the sysctls pods may set */
  readonly sysctls: SysctlAllowlist;
  /** why the host cannot confine containers with AppArmor; undefined: it can */
  readonly appArmorUnavailable: string | undefined;

  createSandbox(pod: BoundPod): Promise<{ podIPs: string[] }>;
  /** The sandbox of a pod an earlier daemon made: its addresses, and what CHECK found wrong. */
  adoptSandbox(pod: BoundPod): Promise<{ podIPs: string[]; checkFailed?: string }>;
  stopSandbox(pod: BoundPod): Promise<void>;
  /** Everything the pod left: sandbox, volumes, cgroups, run and state dirs. */
  removePod(pod: BoundPod): Promise<void>;

  /** The pod's imagePullSecrets as credentials; undefined when it names none that exist. */
  pullCredentials(pod: BoundPod): CredentialsOf | undefined;
  startContainer(pod: BoundPod, container: Container, image: Image | "host", restartCount: number, volumeImages?: ReadonlyMap<string, Image>): Promise<ContainerRun>;
  /** Records which run this is, for a successor daemon to take over. */
  recordRun(run: ContainerRun, containerID: string): void;
  /** The run an earlier daemon recorded: running when its monitor still is. */
  adoptContainer(pod: BoundPod, name: string): { run: ContainerRun; containerID: string; running: boolean };
  /** After the monitor ended: its exit record (or an unknown exit), the run's leftovers removed. */
  finishContainer(pod: BoundPod, name: string, run: ContainerRun): Promise<ExitRecord>;
  /** A cgroup kill of everything the container runs. */
  killContainer(pod: BoundPod, name: string): Promise<void>;
  stopSignalOf(image: string): NodeJS.Signals;

  execIdentity(pod: BoundPod, container: Container, started?: ContainerUser): string[];
  /** signal: aborted, the command is killed and the call fails (a hook cancelled by a stop) */
  execIn(pid1: number, identity: string[], argv: string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;
  httpHook(pod: BoundPod, container: Container, action: HTTPGetAction, timeoutMs: number): Promise<void>;
  prober(pod: BoundPod, container: Container, pid1: number, started: ContainerUser | undefined): (probe: Probe, timeoutMs: number) => Promise<ProbeOutcome>;
}
