// What no desired pod owns, removed before any pod starts: pods in the run root or the cgroup
// tree (the old half of a replace or a delete a crash cut short, a podd run that was killed),
// the logs of pods that are gone, and the network attachments no live sandbox of a desired pod
// holds (one a crash left between ADD and its result, all of them after a reboot, when the run
// root is empty but host-local's leases are on disk). Both supervisors do it as they start,
// holding the roots' locks: the daemon in its restore, podd run in Supervisor.open (its own pods
// are never desired, so a run killed with -9 leaves no processes, address or port mapping).
import { existsSync } from "node:fs";
import type { DaemonRuntime } from "./daemon-runtime.ts";
import { argOf } from "../runtime/network/network.ts";

export interface OrphanLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Removes all that belongs to no pod whose uid is in desired. */
export async function removeUndesired(rt: DaemonRuntime, desired: ReadonlySet<string>, log: OrphanLog): Promise<void> {
  for (const pod of rt.layout.runPods()) {
    if (desired.has(pod.uid)) continue;
    log.warn(`removing pod ${pod.namespace}/${pod.name} (uid ${pod.uid}): no longer desired`);
    // One pod that cannot be torn down whole (a CNI plugin that fails) must not keep the
    // supervisor from starting: it is logged, and its records stay for the next start.
    await rt.removeOrphan(pod).catch((err: unknown) => log.error(`remove pod ${pod.namespace}/${pod.name}: ${(err as Error).message}`));
  }
  // Logs of pods that went while no daemon ran (or of an earlier podd run on these roots).
  for (const pod of rt.layout.logPods()) {
    if (desired.has(pod.uid)) continue;
    log.info(`removing the logs of pod ${pod.namespace}/${pod.name} (uid ${pod.uid}): the pod is gone`);
    rt.removeLogs(pod);
  }
  await rt.removeOrphanCgroups(desired);
  // After the pods' teardown, whose DELs release most of these; before any pod starts, so
  // that no attachment being made can look stale.
  const net = rt.network;
  for (const bad of net.unreadable) log.error(`network attachment ${bad.path}: ${bad.error}; it is left as it is, and what it holds (an address, port mappings) is not released`);
  const released = await net.releaseStale(
    (r) => desired.has(argOf(r, "K8S_POD_UID") ?? "") && r.result !== undefined && !r.partial && existsSync(r.netns),
    (r, err) => log.error(`release the network attachment of pod ${argOf(r, "K8S_POD_NAMESPACE")}/${argOf(r, "K8S_POD_NAME")} (container ${r.containerId}): ${err.message}; tried again at the next start`),
  );
  if (released) log.info(`released ${released} network attachment(s) of pods that no longer run`);
}
