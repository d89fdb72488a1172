// The objects that travel with Pods in the same files: ConfigMap, Secret, Namespace and
// PersistentVolumeClaim (core/v1). Their shapes, the API server's checks for each
// (pkg/apis/core/validation ValidateConfigMap, ValidateSecret, ValidateNamespace,
// ValidatePersistentVolumeClaim, with its wording) and the defaults it sets on create
// (a Secret's type, stringData merged into data, a claim's storage class). Pure.

import type { ObjectMeta } from "./types.ts";
import { isConfigMapKey, isDns1123Label, isDns1123Subdomain, isQualifiedName } from "./names.ts";
export { isConfigMapKey } from "./names.ts";
import { mustParseQuantity, quantityMilliValue } from "./quantity.ts";
import { childPath, map, obj, OBJECT_META, STR, BOOL, ANY, arr, QTY, type Schema } from "./schema.ts";
import { forbidden, invalid, required, unsupported, validateLabelsAndAnnotations, type Add } from "./validate.ts";

export interface ConfigMap {
  apiVersion: "v1";
  kind: "ConfigMap";
  metadata: ObjectMeta;
  data?: Record<string, string>;
  /** base64, as the API's JSON carries []byte */
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export interface Secret {
  apiVersion: "v1";
  kind: "Secret";
  metadata: ObjectMeta;
  type?: string;
  /** base64 values; stringData has been merged in */
  data?: Record<string, string>;
  immutable?: boolean;
}

export interface Namespace {
  apiVersion: "v1";
  kind: "Namespace";
  metadata: ObjectMeta;
  spec?: { finalizers?: string[] };
}

export type PersistentVolumeAccessMode = "ReadWriteOnce" | "ReadOnlyMany" | "ReadWriteMany" | "ReadWriteOncePod";

export interface PersistentVolumeClaim {
  apiVersion: "v1";
  kind: "PersistentVolumeClaim";
  metadata: ObjectMeta;
  spec: {
    accessModes: PersistentVolumeAccessMode[];
    resources: { requests: { storage: string }; limits?: { storage?: string } };
    storageClassName?: string;
    volumeMode?: "Filesystem";
    volumeName?: string;
  };
}

export type ConfigObject = ConfigMap | Secret | Namespace | PersistentVolumeClaim;
export type ConfigKind = ConfigObject["kind"];

/** Where each kind lives in the API: its resource name, and whether it is in a namespace. */
export const OBJECT_KINDS: Readonly<Record<ConfigKind, { resource: string; namespaced: boolean; short: string[] }>> = {
  Namespace: { resource: "namespaces", namespaced: false, short: ["ns", "namespace"] },
  ConfigMap: { resource: "configmaps", namespaced: true, short: ["cm", "configmap"] },
  Secret: { resource: "secrets", namespaced: true, short: ["secret"] },
  PersistentVolumeClaim: { resource: "persistentvolumeclaims", namespaced: true, short: ["pvc", "persistentvolumeclaim"] },
};

export function isConfigKind(kind: string): kind is ConfigKind {
  return Object.hasOwn(OBJECT_KINDS, kind);
}

/** The order a file is applied in: namespaces, then what pods refer to, then (not here) pods. */
export function applyOrder(kind: ConfigKind | "Pod"): number {
  return kind === "Namespace" ? 0 : kind === "Pod" ? 2 : 1;
}

// The API server's limit for a ConfigMap's or a Secret's data (MaxSecretSize, and the same for
// ConfigMaps): the sum of the values' lengths.
export const MAX_DATA_BYTES = 1024 * 1024;

/** podd's built-in storage classes: local directories under the state root, as k3s's local-path. */
export const STORAGE_CLASSES: Readonly<Record<string, { reclaimPolicy: "Delete" | "Retain" }>> = {
  "local-path": { reclaimPolicy: "Delete" },
  "local-path-retain": { reclaimPolicy: "Retain" },
};
export const DEFAULT_STORAGE_CLASS = "local-path";

const ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

export const SECRET_TYPES = {
  opaque: "Opaque",
  serviceAccountToken: "kubernetes.io/service-account-token",
  dockercfg: "kubernetes.io/dockercfg",
  dockerConfigJson: "kubernetes.io/dockerconfigjson",
  basicAuth: "kubernetes.io/basic-auth",
  sshAuth: "kubernetes.io/ssh-auth",
  tls: "kubernetes.io/tls",
} as const;

const base = { apiVersion: STR, kind: STR, metadata: OBJECT_META };
export const OBJECT_SCHEMAS: Readonly<Record<ConfigKind, Schema>> = {
  ConfigMap: obj({ ...base, data: map(STR), binaryData: map(STR), immutable: BOOL }),
  Secret: obj({ ...base, type: STR, data: map(STR), stringData: map(STR), immutable: BOOL }),
  Namespace: obj({ ...base, spec: obj({ finalizers: arr(STR) }), status: ANY }),
  PersistentVolumeClaim: obj({
    ...base,
    spec: obj({
      accessModes: arr(STR),
      resources: obj({ requests: map(QTY), limits: map(QTY) }),
      storageClassName: STR,
      volumeMode: STR,
      // Recognised so that they are refused by name (see CLAIM_REFUSALS).
      selector: ANY, volumeName: ANY, dataSource: ANY, dataSourceRef: ANY, volumeAttributesClassName: ANY,
    }),
    status: ANY,
  }),
};

/** Claim fields that need persistent volumes or a provisioner podd does not have. */
const CLAIM_REFUSALS: ReadonlyArray<{ field: string; hint: string }> = [
  { field: "selector", hint: "podd has no persistent volumes to select; its claims are provisioned by the local-path storage class" },
  { field: "volumeName", hint: "podd has no persistent volumes to bind to; remove it, and the claim is provisioned by the local-path storage class" },
  { field: "dataSource", hint: "podd's local-path storage class makes empty volumes only" },
  { field: "dataSourceRef", hint: "podd's local-path storage class makes empty volumes only" },
  { field: "volumeAttributesClassName", hint: "podd has no volume attributes classes" },
];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard base64 strictly, as Go's encoding/json does []byte; undefined if it is not. */
export function decodeBase64(text: string): Buffer | undefined {
  // Go's decoder skips line breaks, so a value folded over several YAML lines is fine.
  const flat = text.replace(/[\r\n]/g, "");
  return BASE64.test(flat) ? Buffer.from(flat, "base64") : undefined;
}

/** The API server's defaults for a new object; stringData is merged into data, as on write. */
export function objectDefaults(o: ConfigObject): ConfigObject {
  const copy = structuredClone(o) as ConfigObject & { stringData?: Record<string, string>; status?: unknown };
  delete copy.status;
  if (copy.kind === "Secret" || copy.kind === "ConfigMap") {
    const field = copy.kind === "Secret" ? "data" : "binaryData";
    const values = (copy as unknown as Record<string, unknown>)[field] as Record<string, string> | undefined;
    // As the API server stores []byte: decoded, and written back without line breaks.
    if (values) for (const k of Object.keys(values)) values[k] = values[k]!.replace(/[\r\n]/g, "");
  }
  if (copy.kind === "Secret") {
    // An empty type is Opaque too, as the API server defaults it.
    if (!copy.type) copy.type = SECRET_TYPES.opaque;
    const s = copy as Secret & { stringData?: Record<string, string> };
    if (s.stringData) {
      s.data = { ...(s.data ?? {}) };
      for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(v, "utf8").toString("base64");
      delete s.stringData;
    }
  }
  if (copy.kind === "PersistentVolumeClaim" && copy.spec) {
    copy.spec.storageClassName ??= DEFAULT_STORAGE_CLASS;
    copy.spec.volumeMode ??= "Filesystem";
  }
  return copy;
}

/**
 * The API server's checks of one object of these kinds, before its defaults are applied
 * (stringData is still there, so that its keys are checked where they were written).
 */
export function validateObject(o: ConfigObject & { stringData?: Record<string, string> }, add: Add): void {
  const m = o.metadata;
  const namespaced = OBJECT_KINDS[o.kind].namespaced;
  if (m === undefined || m.name === undefined || m.name === "") {
    add("metadata.name", required(), { unlessRefused: ["metadata.generateName"] });
  } else {
    // Namespaces are labels; the others are subdomains. podd also puts each name in a path.
    for (const e of o.kind === "Namespace" ? isDns1123Label(m.name) : isDns1123Subdomain(m.name)) add("metadata.name", invalid(m.name, e));
  }
  if (m?.namespace !== undefined) {
    if (!namespaced) add("metadata.namespace", forbidden("not allowed on this type"));
    else for (const e of isDns1123Label(m.namespace)) add("metadata.namespace", invalid(m.namespace, e));
  }
  if (m) validateLabelsAndAnnotations(m, add);
  switch (o.kind) {
    case "ConfigMap":
      return validateConfigMap(o, add);
    case "Secret":
      return validateSecret(o, add);
    case "Namespace":
      for (const [i, f] of (o.spec?.finalizers ?? []).entries()) for (const e of isQualifiedName(f)) add(`spec.finalizers[${i}]`, invalid(f, e));
      return;
    case "PersistentVolumeClaim":
      return validateClaim(o, add);
  }
}

/** A data key as the API server names it (data[tls.crt]); `at` is where the decoder kept its place. */
function dataKey(path: string, key: string): string {
  return `${path}[${key}]`;
}

function atKey(path: string, key: string, onKey = false): { at: string; atKey?: boolean } {
  return { at: childPath(path, key), ...(onKey ? { atKey: true } : {}) };
}

function validateConfigMap(o: ConfigMap, add: Add): void {
  let total = 0;
  for (const [k, v] of Object.entries(o.data ?? {})) {
    for (const e of isConfigMapKey(k)) add(dataKey("data", k), invalid(k, e), atKey("data", k, true));
    total += Buffer.byteLength(v, "utf8");
  }
  for (const [k, v] of Object.entries(o.binaryData ?? {})) {
    for (const e of isConfigMapKey(k)) add(dataKey("binaryData", k), invalid(k, e), atKey("binaryData", k, true));
    if (Object.hasOwn(o.data ?? {}, k)) add(dataKey("binaryData", k), invalid(k, "duplicate of key present in data"), atKey("binaryData", k, true));
    const bytes = decodeBase64(v);
    if (bytes === undefined) add(dataKey("binaryData", k), invalid("<binary data>", "must be base64-encoded"), atKey("binaryData", k));
    else total += bytes.length;
  }
  if (total > MAX_DATA_BYTES) add("data", `Too long: must have at most ${MAX_DATA_BYTES} bytes`);
}

function validateSecret(o: Secret & { stringData?: Record<string, string> }, add: Add): void {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(o.data ?? {})) {
    for (const e of isConfigMapKey(k)) add(dataKey("data", k), invalid(k, e), atKey("data", k, true));
    const bytes = decodeBase64(v);
    // The value of a secret is never repeated in a message.
    if (bytes === undefined) add(dataKey("data", k), invalid("<secret contents redacted>", "must be base64-encoded"), atKey("data", k));
    data.set(k, bytes ?? Buffer.alloc(0));
  }
  for (const [k, v] of Object.entries(o.stringData ?? {})) {
    for (const e of isConfigMapKey(k)) add(dataKey("stringData", k), invalid(k, e), atKey("stringData", k, true));
    data.set(k, Buffer.from(v, "utf8"));
  }
  let total = 0;
  for (const v of data.values()) total += v.length;
  if (total > MAX_DATA_BYTES) add("data", `Too long: must have at most ${MAX_DATA_BYTES} bytes`);
  const type = o.type || SECRET_TYPES.opaque;
  const needJson = (key: string) => {
    const v = data.get(key);
    if (v === undefined) return add(dataKey("data", key), required(), { at: "data" });
    try {
      JSON.parse(v.toString("utf8"));
    } catch (err) {
      add(dataKey("data", key), invalid("<secret contents redacted>", (err as Error).message), { at: "data" });
    }
  };
  switch (type) {
    case SECRET_TYPES.serviceAccountToken:
      add("type", `not supported yet by podd; podd has no service accounts to make tokens for`);
      break;
    case SECRET_TYPES.dockercfg:
      needJson(".dockercfg");
      break;
    case SECRET_TYPES.dockerConfigJson:
      needJson(".dockerconfigjson");
      break;
    case SECRET_TYPES.basicAuth:
      // Either may be empty, but one of the two must be there.
      if (!data.has("username") && !data.has("password")) {
        add(dataKey("data", "username"), required(), { at: "data" });
        add(dataKey("data", "password"), required(), { at: "data" });
      }
      break;
    case SECRET_TYPES.sshAuth:
      if ((data.get("ssh-privatekey")?.length ?? 0) === 0) add(dataKey("data", "ssh-privatekey"), required(), { at: "data" });
      break;
    case SECRET_TYPES.tls:
      if (!data.has("tls.crt")) add(dataKey("data", "tls.crt"), required(), { at: "data" });
      if (!data.has("tls.key")) add(dataKey("data", "tls.key"), required(), { at: "data" });
      break;
  }
}

function validateClaim(o: PersistentVolumeClaim, add: Add): void {
  const spec = o.spec;
  if (spec === undefined) return add("spec", required());
  const modes = spec.accessModes ?? [];
  if (modes.length === 0) add("spec.accessModes", required("at least 1 access mode is required"));
  modes.forEach((mode, i) => {
    if (!ACCESS_MODES.includes(mode)) add(`spec.accessModes[${i}]`, unsupported(mode, ACCESS_MODES));
  });
  if (modes.includes("ReadWriteOncePod") && modes.length > 1) add("spec.accessModes", forbidden("may not use ReadWriteOncePod with other access modes"));
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) add("spec.resources[storage]", required(), { at: "spec.resources" });
  else {
    // The decoder has checked that it parses.
    if (quantityMilliValue(mustParseQuantity(storage)) <= 0n) add("spec.resources.requests[storage]", invalid(storage, "must be greater than zero"));
  }
  for (const [k] of Object.entries(spec.resources?.requests ?? {})) if (k !== "storage") add(`spec.resources.requests[${k}]`, unsupported(k, ["storage"]), { atKey: true });
  for (const [k] of Object.entries(spec.resources?.limits ?? {})) if (k !== "storage") add(`spec.resources.limits[${k}]`, unsupported(k, ["storage"]), { atKey: true });
  if (spec.volumeMode !== undefined && spec.volumeMode !== "Filesystem") {
    if ((spec.volumeMode as string) === "Block") add("spec.volumeMode", "not supported yet by podd; podd's local-path storage class makes directories (volumeMode: Filesystem) only");
    else add("spec.volumeMode", unsupported(spec.volumeMode, ["Block", "Filesystem"]));
  }
  const cls = spec.storageClassName;
  if (cls !== undefined && !Object.hasOwn(STORAGE_CLASSES, cls)) {
    add("spec.storageClassName", `not supported yet by podd; podd provisions claims with its storage classes ${Object.keys(STORAGE_CLASSES).map((c) => JSON.stringify(c)).join(" (reclaim policy Delete) and ")} (Retain) only; remove storageClassName to get local-path`);
  }
  for (const r of CLAIM_REFUSALS) {
    if ((spec as Record<string, unknown>)[r.field] !== undefined) add(`spec.${r.field}`, `not supported yet by podd; ${r.hint}`, { atKey: true });
  }
}
