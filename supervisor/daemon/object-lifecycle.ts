// What happens around the objects once they are stored, as Kubernetes' controllers and the
// kubelet do it: a pod's volumes and env read them (PodObjects), a change reaches the pods of
// the namespace at once (a container waiting for a key is tried again, configMap and secret
// volumes are written again), a claim is bound to its directory by its first pod and protected
// while pods use it, and a namespace being deleted takes everything in it along.
import { mustParseQuantity, OBJECT_KINDS, quantityValue, STORAGE_CLASSES, type ConfigKind } from "../../pod-specs/index.ts";
import { PoddError } from "../base/errors.ts";
import { rfc3339, type Clock } from "../base/time.ts";
import type { Layout, PodRef } from "../base/paths.ts";
import { deleteLocalPath, provisionLocalPath, removeDeletedLocalPaths } from "../runtime/claims.ts";
import { ObjectVolumeError, type PodObjects } from "../runtime/config-volumes.ts";
import type { BoundPod } from "../runtime/runtime.ts";
import { CLAIM_PROTECTION, PERMANENT_NAMESPACES, type ObjectOf, type ObjectRegistry, type StoredObject } from "./objects.ts";

/** What the lifecycle needs of the daemon's pods. */
export interface PodsView {
  /** the desired pods, those being deleted included */
  pods(): BoundPod[];
  /** whether the pod holds its volumes now: admitted, not ended, not gone */
  active(pod: BoundPod): boolean;
  deletePod(namespace: string, name: string): Promise<unknown>;
  /** an object changed: the pods of its namespace that name it look again (what waits, their volumes) */
  objectsChanged(namespace: string, uses: (pod: BoundPod) => boolean): void;
}

export function claimsOf(pod: BoundPod): string[] {
  return (pod.spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));
}

/** Whether the pod names the object: in a volume, a projection, env or envFrom, or its pull secrets. */
export function podNames(pod: BoundPod, kind: ConfigKind, name: string): boolean {
  const spec = pod.spec;
  if (kind === "PersistentVolumeClaim") return claimsOf(pod).includes(name);
  const isMap = kind === "ConfigMap";
  if (kind !== "ConfigMap" && kind !== "Secret") return false;
  if (!isMap && (spec.imagePullSecrets ?? []).some((s) => s.name === name)) return true;
  for (const v of spec.volumes ?? []) {
    if (isMap ? v.configMap?.name === name : v.secret?.secretName === name) return true;
    for (const src of v.projected?.sources ?? []) if ((isMap ? src.configMap?.name : src.secret?.name) === name) return true;
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.env ?? []) if ((isMap ? e.valueFrom?.configMapKeyRef?.name : e.valueFrom?.secretKeyRef?.name) === name) return true;
    for (const e of c.envFrom ?? []) if ((isMap ? e.configMapRef?.name : e.secretRef?.name) === name) return true;
  }
  return false;
}

export class ObjectLifecycle {
  constructor(
    private readonly registry: ObjectRegistry,
    private readonly layout: Layout,
    private readonly clock: Clock,
    private readonly view: PodsView,
    private readonly log: (level: "info" | "warn" | "error", message: string) => void,
  ) {}

  /** What the runtime reads a pod's volumes and env from. */
  readonly podObjects: PodObjects = {
    configMap: (namespace, name) => this.registry.get("ConfigMap", namespace, name),
    secret: (namespace, name) => this.registry.get("Secret", namespace, name),
    claim: (pod, name) => this.useClaim(pod, name),
  };

  /** The claim's directory for the pod, bound and made on first use. */
  private useClaim(pod: PodRef, name: string): string {
    const claim = this.registry.get("PersistentVolumeClaim", pod.namespace, name);
    if (!claim) throw new ObjectVolumeError(`persistentvolumeclaim "${name}" not found`);
    // A pod that had the claim before its deletion keeps it (the protection finalizer holds the
    // deletion for it), also across its containers' restarts; a pod made since may not use it.
    if (claim.metadata.deletionTimestamp && !this.heldBefore(pod, claim.metadata.deletionTimestamp)) {
      throw new ObjectVolumeError(`persistentvolumeclaim "${name}" is being deleted`);
    }
    if (claim.spec.accessModes.includes("ReadWriteOncePod")) {
      const other = this.view.pods().find((p) => p.metadata.uid !== pod.uid && p.metadata.namespace === pod.namespace && this.view.active(p) && claimsOf(p).includes(name));
      if (other) throw new ObjectVolumeError(`persistentvolumeclaim "${name}" has access mode ReadWriteOncePod and is used by pod ${other.metadata.name}`);
    }
    const dir = this.layout.claimDir({ namespace: claim.metadata.namespace ?? pod.namespace, name, uid: claim.metadata.uid });
    const className = claim.spec.storageClassName ?? "local-path";
    provisionLocalPath(dir, quantityValue(mustParseQuantity(claim.spec.resources.requests.storage)), className);
    if (claim.status.phase !== "Bound") {
      const bound = structuredClone(claim);
      bound.spec.volumeName = `pvc-${claim.metadata.uid}`;
      bound.status = { phase: "Bound", accessModes: claim.spec.accessModes, capacity: { storage: claim.spec.resources.requests.storage } };
      this.registry.update(bound);
      this.log("info", `persistentvolumeclaim/${pod.namespace}/${name} bound to ${dir} by pod ${pod.name}`);
    }
    return dir;
  }

  private heldBefore(ref: PodRef, deletion: string): boolean {
    const pod = this.view.pods().find((p) => p.metadata.uid === ref.uid);
    return pod !== undefined && this.view.active(pod) && Date.parse(pod.metadata.creationTimestamp ?? "") <= Date.parse(deletion);
  }

  /** An object was written or removed: the pods of its namespace look again at what they wait on. */
  changed(o: StoredObject): void {
    if (o.kind === "Namespace") return;
    this.view.objectsChanged(o.metadata.namespace ?? "default", (pod) => podNames(pod, o.kind, o.metadata.name));
  }

  /**
   * Deletes the object as the API server does: at once, or (a claim in use, a namespace with
   * content) marked with a deletionTimestamp and removed once what holds it is gone.
   */
  async delete(kind: ConfigKind, namespace: string | undefined, name: string): Promise<StoredObject> {
    const o = this.registry.get(kind, namespace, name);
    if (!o) throw new PoddError(`${OBJECT_KINDS[kind].resource} "${name}" not found`, { code: "NotFound" });
    if (o.kind === "Namespace" && PERMANENT_NAMESPACES.includes(name)) {
      throw new PoddError(`namespaces "${name}" is forbidden: this namespace may not be deleted`, { code: "Forbidden" });
    }
    if (o.metadata.deletionTimestamp) return o;
    if (o.kind === "ConfigMap" || o.kind === "Secret") {
      this.registry.remove(o);
      return o;
    }
    const marked = structuredClone(o);
    marked.metadata.deletionTimestamp = rfc3339(this.clock.now());
    if (marked.kind === "PersistentVolumeClaim") marked.metadata.finalizers = [CLAIM_PROTECTION];
    if (marked.kind === "Namespace") marked.status = { phase: "Terminating" };
    this.registry.update(marked);
    this.deletionsWaiting = true;
    if (marked.kind === "Namespace") await this.emptyNamespace(name);
    this.settle();
    return marked;
  }

  /** A namespace deletion that a daemon restart interrupted goes on. */
  async resumeNamespace(ns: string): Promise<void> {
    await this.emptyNamespace(ns);
    this.settle();
  }

  /** Everything in a namespace being deleted goes: its pods gracefully, then the rest. */
  private async emptyNamespace(ns: string): Promise<void> {
    for (const p of this.view.pods()) {
      if (p.metadata.namespace !== ns || p.metadata.deletionTimestamp) continue;
      await this.view.deletePod(ns, p.metadata.name).catch((err: unknown) => this.log("error", `delete pod/${ns}/${p.metadata.name} with its namespace: ${(err as Error).message}`));
    }
    for (const kind of ["ConfigMap", "Secret", "PersistentVolumeClaim"] as const) {
      for (const o of this.registry.list(kind, ns)) await this.delete(kind, ns, o.metadata.name);
    }
  }

  /**
   * Finishes the deletions that waited: a claim no pod uses any more (its directory removed or
   * kept by its class's reclaim policy), a namespace that is empty. Called after every pod
   * removal and object deletion.
   */
  settle(): void {
    // Called at every pod change: nothing to look at unless a deletion waits (true at start,
    // when the store may hold some from before).
    if (!this.deletionsWaiting) return;
    let waiting = false;
    const pods = this.view.pods();
    for (const claim of this.registry.list("PersistentVolumeClaim")) {
      if (!claim.metadata.deletionTimestamp) continue;
      const ns = claim.metadata.namespace ?? "default";
      // As the pvc-protection controller: a pod that has ended (Succeeded, Failed) holds no claim.
      if (pods.some((p) => p.metadata.namespace === ns && this.view.active(p) && claimsOf(p).includes(claim.metadata.name))) {
        waiting = true;
        continue;
      }
      // A claim whose directory cannot be reclaimed (a file the kernel will not let go) stays
      // deleted-but-present, and is tried again at the next pod change; no pod's work fails for it.
      try {
        this.reclaim(claim);
        this.registry.remove(claim);
      } catch (err) {
        waiting = true;
        this.log("error", `persistentvolumeclaim/${ns}/${claim.metadata.name}: remove its volume: ${(err as Error).message}`);
      }
    }
    for (const ns of this.registry.list("Namespace")) {
      if (!ns.metadata.deletionTimestamp) continue;
      const name = ns.metadata.name;
      const left = pods.some((p) => p.metadata.namespace === name) || (["ConfigMap", "Secret", "PersistentVolumeClaim"] as const).some((k) => this.registry.list(k, name).length > 0);
      if (!left) this.registry.remove(ns);
      else waiting = true;
    }
    this.deletionsWaiting = waiting;
  }

  /** whether a claim or a namespace is marked deleted and waits for what holds it */
  private deletionsWaiting = true;

  private reclaim(claim: ObjectOf<"PersistentVolumeClaim">): void {
    const dir = this.layout.claimDir({ namespace: claim.metadata.namespace ?? "default", name: claim.metadata.name, uid: claim.metadata.uid });
    const policy = STORAGE_CLASSES[claim.spec.storageClassName ?? "local-path"]?.reclaimPolicy ?? "Delete";
    if (policy === "Delete") {
      void deleteLocalPath(dir).catch((err: unknown) => this.log("error", `persistentvolumeclaim/${claim.metadata.namespace}/${claim.metadata.name}: remove the content of its volume: ${(err as Error).message}`));
    }
    else if (claim.status.phase === "Bound") this.log("info", `persistentvolumeclaim/${claim.metadata.namespace}/${claim.metadata.name} deleted; its volume ${dir} is kept (reclaim policy Retain)`);
  }

  /** What an interrupted reclaim left of claims' volumes goes (at daemon start). */
  sweep(): Promise<void> {
    return removeDeletedLocalPaths(this.layout.claimsDir());
  }

  /** A pod is applied into its namespace: made on first use, refused while it is being deleted. */
  admitPod(namespace: string): void {
    this.registry.ensureNamespace(namespace);
  }
}
