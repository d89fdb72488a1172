// The objects that go with pods: namespaces, config maps, secrets and claims, as the API
// server keeps them. Each is stored durably (object-store.ts) before the API answers. The rules
// of the API server that apply to a write are here: uid and creation time on create, what may
// not change (an immutable object's data, a Secret's type, a claim's spec), namespaces made on
// first use (the NamespaceAutoProvision admission plugin), nothing new in a namespace being
// deleted, and the finalizers that hold a deletion (a claim in use, a namespace not yet empty).
import { randomUUID } from "node:crypto";
import {
  DEFAULT_NAMESPACE,
  OBJECT_KINDS,
  type ConfigKind,
  type ConfigMap,
  type ConfigObject,
  type Namespace,
  type ObjectMeta,
  type PersistentVolumeClaim,
  type Secret,
} from "../../pod-specs/index.ts";
import { canonical } from "../base/canonical.ts";
import { invalidObject, PoddError } from "../base/errors.ts";
import { rfc3339, type Clock } from "../base/time.ts";
import type { ObjectStore } from "./object-store.ts";

export type StoredMeta = ObjectMeta & {
  name: string;
  uid: string;
  creationTimestamp: string;
  deletionTimestamp?: string;
  finalizers?: string[];
};

export interface ClaimStatus {
  phase: "Pending" | "Bound" | "Lost";
  accessModes?: string[];
  capacity?: { storage: string };
}

export type StoredObject =
  | (ConfigMap & { metadata: StoredMeta })
  | (Secret & { metadata: StoredMeta })
  | (Namespace & { metadata: StoredMeta; status: { phase: "Active" | "Terminating" } })
  | (PersistentVolumeClaim & { metadata: StoredMeta; status: ClaimStatus });

export type ObjectOf<K extends ConfigKind> = Extract<StoredObject, { kind: K }>;

export type ObjectChange = "ADDED" | "MODIFIED" | "DELETED";

/** Namespaces the API server will not delete. */
export const PERMANENT_NAMESPACES = [DEFAULT_NAMESPACE, "kube-system", "kube-public", "kube-node-lease"];
/** The finalizer of a claim in use (the pvc-protection controller's). */
export const CLAIM_PROTECTION = "kubernetes.io/pvc-protection";
/** What holds a namespace until it is empty (the namespace controller's). */
export const NAMESPACE_FINALIZER = "kubernetes";

/** The lower-case name kubectl prints objects with: configmap/x, persistentvolumeclaim/y. */
export function kindLabel(kind: string): string {
  return kind.toLowerCase();
}

function keyOf(kind: ConfigKind, namespace: string | undefined, name: string): string {
  return OBJECT_KINDS[kind].namespaced ? `${kind}/${namespace ?? DEFAULT_NAMESPACE}/${name}` : `${kind}/${name}`;
}

/** What decides "unchanged": what the user wrote, not what podd assigned. */
function userFields(o: ConfigObject): string {
  const { metadata, ...rest } = o as ConfigObject & { status?: unknown };
  delete (rest as { status?: unknown }).status;
  const labels = { ...(metadata.labels ?? {}) };
  if (o.kind === "Namespace") delete labels[NAMESPACE_NAME_LABEL];
  if (o.kind === "Namespace") delete (rest as { spec?: unknown }).spec;
  // A claim's volumeName is podd's, set when its first pod bound it.
  if (o.kind === "PersistentVolumeClaim" && (rest as { spec?: { volumeName?: string } }).spec?.volumeName !== undefined) {
    const spec = { ...(rest as { spec: Record<string, unknown> }).spec };
    delete spec.volumeName;
    (rest as { spec: unknown }).spec = spec;
  }
  return canonical({ ...rest, labels, annotations: metadata.annotations ?? {} });
}

/** The label the API server puts on every namespace, for namespaceSelectors to pick it by name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const immutableData = "Forbidden: field is immutable when `immutable` is set";

/** What may not change between the stored object and the one applied over it (ValidateXUpdate). */
function updateProblems(old: StoredObject, next: ConfigObject): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const problem = (path: string, message: string) => out.push({ path, message });
  if (old.kind === "ConfigMap" || old.kind === "Secret") {
    const n = next as ConfigMap | Secret;
    if (old.immutable === true) {
      if (n.immutable !== true) problem("immutable", immutableData);
      if (canonical(old.data ?? {}) !== canonical(n.data ?? {})) problem("data", immutableData);
      if (old.kind === "ConfigMap" && canonical(old.binaryData ?? {}) !== canonical((n as ConfigMap).binaryData ?? {})) problem("binaryData", immutableData);
    }
    if (old.kind === "Secret" && old.type !== (n as Secret).type) problem("type", `Invalid value: ${JSON.stringify((n as Secret).type)}: field is immutable`);
  }
  if (old.kind === "PersistentVolumeClaim") {
    const n = next as PersistentVolumeClaim;
    const { resources: oldRes, ...oldRest } = old.spec;
    const { resources: newRes, ...newRest } = n.spec;
    // volumeName is podd's to set when it binds the claim.
    delete (oldRest as { volumeName?: string }).volumeName;
    if (canonical(oldRest) !== canonical(newRest) || canonical(oldRes.limits ?? {}) !== canonical(newRes.limits ?? {})) {
      problem("spec", "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims");
    } else if (oldRes.requests.storage !== newRes.requests.storage) {
      problem("spec.resources.requests.storage", "Forbidden: podd's local-path volumes have no size to change; delete the claim and make it again to change its request");
    }
  }
  return out;
}

export class ObjectRegistry {
  private readonly objects = new Map<string, StoredObject>();

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly changed: (o: StoredObject, change: ObjectChange) => void,
  ) {}

  /** Reads every stored object; the default namespace is made if there is none. */
  load(onError: (path: string, err: Error) => void): void {
    for (const kind of Object.keys(OBJECT_KINDS) as ConfigKind[]) {
      for (const o of this.store.list(kind, onError)) this.objects.set(keyOf(o.kind, o.metadata.namespace, o.metadata.name), o);
    }
    this.ensureNamespace(DEFAULT_NAMESPACE);
  }

  get<K extends ConfigKind>(kind: K, namespace: string | undefined, name: string): ObjectOf<K> | undefined {
    return this.objects.get(keyOf(kind, namespace, name)) as ObjectOf<K> | undefined;
  }

  list<K extends ConfigKind>(kind: K, namespace?: string): ObjectOf<K>[] {
    const out: ObjectOf<K>[] = [];
    for (const o of this.objects.values()) {
      if (o.kind !== kind) continue;
      if (namespace !== undefined && OBJECT_KINDS[kind].namespaced && o.metadata.namespace !== namespace) continue;
      out.push(o as ObjectOf<K>);
    }
    return out.sort((a, b) => cmp(a.metadata.namespace ?? "", b.metadata.namespace ?? "") || cmp(a.metadata.name, b.metadata.name));
  }

  /**
   * Makes the namespace if it does not exist, as the NamespaceAutoProvision admission plugin
   * does for whatever is created in it; refuses one being deleted.
   */
  ensureNamespace(name: string): void {
    const ns = this.get("Namespace", undefined, name);
    if (ns?.metadata.deletionTimestamp) {
      throw new PoddError(`unable to create new content in namespace ${name} because it is being terminated`, { code: "Forbidden" });
    }
    if (ns) return;
    this.write(this.bind({ apiVersion: "v1", kind: "Namespace", metadata: { name } }, undefined), "ADDED");
  }

  /** Creates or replaces the object; "unchanged" when what the user wrote is the same. */
  apply(o: ConfigObject, mustNotExist = false): { result: "created" | "configured" | "unchanged"; object: StoredObject } {
    const namespaced = OBJECT_KINDS[o.kind].namespaced;
    const namespace = namespaced ? (o.metadata.namespace ?? DEFAULT_NAMESPACE) : undefined;
    const old = this.get(o.kind, namespace, o.metadata.name);
    const plural = OBJECT_KINDS[o.kind].resource;
    if (old && mustNotExist) throw new PoddError(`${plural} "${o.metadata.name}" already exists`, { code: "AlreadyExists" });
    if (old?.metadata.deletionTimestamp) {
      throw new PoddError(`${plural} "${o.metadata.name}" is being deleted; apply it again once it is gone`, { code: "Conflict" });
    }
    if (namespace !== undefined) this.ensureNamespace(namespace);
    if (old && userFields(old) === userFields(o)) return { result: "unchanged", object: old };
    if (old) {
      const problems = updateProblems(old, o);
      if (problems.length) {
        throw invalidObject(o.kind, o.metadata.name, problems);
      }
    }
    const bound = this.bind(o, old);
    this.write(bound, old ? "MODIFIED" : "ADDED");
    return { result: old ? "configured" : "created", object: bound };
  }

  /** Identity kept from the stored object on a replace; status as the controllers would set it. */
  private bind(o: ConfigObject, old: StoredObject | undefined): StoredObject {
    const copy = structuredClone(o) as StoredObject;
    const m = copy.metadata;
    if (OBJECT_KINDS[o.kind].namespaced) m.namespace ??= DEFAULT_NAMESPACE;
    else delete m.namespace;
    m.uid = old?.metadata.uid ?? randomUUID();
    m.creationTimestamp = old?.metadata.creationTimestamp ?? rfc3339(this.clock.now());
    if (copy.kind === "Namespace") {
      copy.spec = { finalizers: [NAMESPACE_FINALIZER] };
      copy.status = { phase: "Active" };
      m.labels = { ...(m.labels ?? {}), [NAMESPACE_NAME_LABEL]: m.name };
    }
    if (copy.kind === "PersistentVolumeClaim") {
      const prev = old as ObjectOf<"PersistentVolumeClaim"> | undefined;
      copy.status = prev?.status ?? { phase: "Pending" };
      if (prev?.spec.volumeName) copy.spec.volumeName = prev.spec.volumeName;
    }
    return copy;
  }

  /** Writes a changed object (a claim bound, a deletion begun) durably and tells the watchers. */
  update(o: StoredObject): void {
    this.write(o, "MODIFIED");
  }

  private write(o: StoredObject, change: ObjectChange): void {
    this.store.put(o);
    this.objects.set(keyOf(o.kind, o.metadata.namespace, o.metadata.name), o);
    this.changed(o, change);
  }

  /** Removes the object for good. */
  remove(o: StoredObject): void {
    this.store.remove(o.kind, o.metadata.namespace, o.metadata.name);
    this.objects.delete(keyOf(o.kind, o.metadata.namespace, o.metadata.name));
    this.changed(o, "DELETED");
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
