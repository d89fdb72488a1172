// What the daemon needs of the runtime beyond what its pods' workers need: the roots' layout
// (desired state, objects, orphans in the run and log roots), the image store behind the image
// verbs, the network attachments to release at start, the config volumes to rewrite when an
// object changes, and the teardown of what no desired pod owns. runtime/Runtime is the real one;
// test/unit/fake-runtime.ts the one the daemon's unit tests run on.
import type { Layout, PodRef } from "../base/paths.ts";
import type { PodRuntime } from "../pod/pod-runtime.ts";
import type { PodObjects } from "../runtime/config-volumes.ts";
import type { Images } from "../runtime/images/service.ts";
import type { PodNetwork } from "../runtime/network/network.ts";
import type { BoundPod, NodeInfo } from "../runtime/runtime.ts";
import type { boundLogRoot } from "../runtime/logs.ts";

export interface DaemonRuntime extends PodRuntime {
  readonly node: NodeInfo;
  readonly layout: Layout;
  readonly images: Images;
  readonly network: Pick<PodNetwork, "unreadable" | "releaseStale">;
  /** Where configMaps, secrets and claims come from. */
  setObjects(objects: PodObjects): void;
  /** Rewrites the pod's object volumes; the names of those that changed. */
  refreshVolumes(pod: BoundPod): string[];
  removeLogs(pod: PodRef): void;
  /** Everything of a pod that no desired pod owns, from what the roots and cgroups hold. */
  removeOrphan(pod: PodRef): Promise<void>;
  /** The containers of a pod that have processes in their cgroups. */
  containersWithProcesses(pod: BoundPod): Promise<string[]>;
  /** The cgroups of pods not kept: what runs in them is killed, and they go. */
  removeOrphanCgroups(keep: ReadonlySet<string>): Promise<void>;
  /** Cumulative CPU and working set of a running container; a PoddError with errno ENOENT once it has gone. */
  usage(podUid: string, container: string): Promise<{ cpuNs: number; memoryBytes: number }>;
  /** Keeps the log root within maxBytes, never removing a file in writing; what went, and what could not. */
  boundLogRoot(writing: ReadonlySet<string>, maxBytes: number): ReturnType<typeof boundLogRoot>;
  /** Ends what the runtime runs beside the pods; the pods keep running. */
  close(): void;
}
