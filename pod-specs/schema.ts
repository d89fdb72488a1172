// The shape of a Pod (core/v1 field names and JSON types) and the decoder that checks a YAML
// tree against it: wrong types, unknown fields and duplicate keys are found here, each with the
// position of the offending text, and every field's position is kept for the later checks.
//
// The fields are those of core/v1 in Kubernetes v1.37 together with the Pod fields merged for
// v1.38 by July 2026 (emptyDir.mode, volumeMounts.bindMountOptions, httpGet.protocol, grpc.mode,
// evictionResponders, the volume `user` fields): a real field is never an "unknown field", only
// accepted or refused by name in unsupported.ts.

import type { MapNode, Pos, TreeNode } from "./load.ts";
import { formatQuantity, parseQuantity } from "./quantity.ts";

export type Schema =
  | { t: "string" }
  | { t: "int" }
  | { t: "bool" }
  | { t: "quantity" }
  | { t: "intOrString" }
  | { t: "any" }
  | { t: "array"; of: Schema }
  | { t: "map"; of: Schema }
  | { t: "object"; fields: Readonly<Record<string, Schema>> };

export const STR: Schema = { t: "string" };
export const INT: Schema = { t: "int" };
export const BOOL: Schema = { t: "bool" };
export const QTY: Schema = { t: "quantity" };
export const INT_OR_STR: Schema = { t: "intOrString" };
export const ANY: Schema = { t: "any" };
export const arr = (of: Schema): Schema => ({ t: "array", of });
export const map = (of: Schema): Schema => ({ t: "map", of });
export const obj = (fields: Record<string, Schema>): Schema => ({ t: "object", fields });

const execAction = obj({ command: arr(STR) });
const httpGetAction = obj({
  path: STR,
  port: INT_OR_STR,
  host: STR,
  scheme: STR,
  httpHeaders: arr(obj({ name: STR, value: STR })),
  protocol: STR,
});
const tcpSocketAction = obj({ port: INT_OR_STR, host: STR });
const localProfile = obj({ type: STR, localhostProfile: STR });
const seccompProfile = localProfile;

const probe = obj({
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  grpc: obj({ port: INT, service: STR, mode: STR }),
  initialDelaySeconds: INT,
  timeoutSeconds: INT,
  periodSeconds: INT,
  successThreshold: INT,
  failureThreshold: INT,
  terminationGracePeriodSeconds: INT,
});
const lifecycleHandler = obj({
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  sleep: obj({ seconds: INT }),
});
const resourceRequirements = obj({ limits: map(QTY), requests: map(QTY), claims: ANY });
const keySelector = obj({ name: STR, key: STR, optional: BOOL });

const container = obj({
  name: STR,
  image: STR,
  imagePullPolicy: STR,
  command: arr(STR),
  args: arr(STR),
  workingDir: STR,
  env: arr(
    obj({
      name: STR,
      value: STR,
      valueFrom: obj({
        fieldRef: obj({ apiVersion: STR, fieldPath: STR }),
        resourceFieldRef: obj({ containerName: STR, resource: STR, divisor: QTY }),
        configMapKeyRef: keySelector,
        secretKeyRef: keySelector,
        fileKeyRef: ANY,
      }),
    }),
  ),
  envFrom: arr(
    obj({
      prefix: STR,
      configMapRef: obj({ name: STR, optional: BOOL }),
      secretRef: obj({ name: STR, optional: BOOL }),
    }),
  ),
  ports: arr(obj({ name: STR, containerPort: INT, protocol: STR, hostPort: INT, hostIP: STR })),
  resources: resourceRequirements,
  volumeMounts: arr(
    obj({
      name: STR,
      mountPath: STR,
      readOnly: BOOL,
      subPath: STR,
      subPathExpr: STR,
      mountPropagation: STR,
      recursiveReadOnly: STR,
      bindMountOptions: ANY,
    }),
  ),
  lifecycle: obj({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: ANY }),
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  securityContext: obj({
    runAsUser: INT,
    runAsGroup: INT,
    runAsNonRoot: BOOL,
    readOnlyRootFilesystem: BOOL,
    privileged: BOOL,
    allowPrivilegeEscalation: BOOL,
    capabilities: obj({ add: arr(STR), drop: arr(STR) }),
    seLinuxOptions: ANY,
    seccompProfile,
    appArmorProfile: localProfile,
    procMount: STR,
    windowsOptions: ANY,
  }),
  stdin: BOOL,
  stdinOnce: BOOL,
  tty: BOOL,
  terminationMessagePath: STR,
  terminationMessagePolicy: STR,
  restartPolicy: STR,
  restartPolicyRules: ANY,
  resizePolicy: ANY,
  volumeDevices: ANY,
});

const keyToPath = arr(obj({ key: STR, path: STR, mode: INT, user: ANY }));
const downwardApiFiles = arr(
  obj({
    path: STR,
    fieldRef: obj({ apiVersion: STR, fieldPath: STR }),
    resourceFieldRef: obj({ containerName: STR, resource: STR, divisor: QTY }),
    mode: INT,
    user: ANY,
  }),
);
const volume = obj({
  name: STR,
  emptyDir: obj({ medium: STR, sizeLimit: QTY, mode: ANY }),
  hostPath: obj({ path: STR, type: STR }),
  configMap: obj({ name: STR, items: keyToPath, defaultMode: INT, optional: BOOL, defaultUser: ANY }),
  secret: obj({ secretName: STR, items: keyToPath, defaultMode: INT, optional: BOOL, defaultUser: ANY }),
  // Recognised so that they are refused as not supported rather than as unknown.
  awsElasticBlockStore: ANY, azureDisk: ANY, azureFile: ANY, cephfs: ANY, cinder: ANY, csi: ANY,
  downwardAPI: obj({ items: downwardApiFiles, defaultMode: INT, defaultUser: ANY }),
  projected: obj({
    sources: arr(
      obj({
        configMap: obj({ name: STR, items: keyToPath, optional: BOOL }),
        secret: obj({ name: STR, items: keyToPath, optional: BOOL }),
        downwardAPI: obj({ items: downwardApiFiles }),
        serviceAccountToken: ANY, clusterTrustBundle: ANY, podCertificate: ANY,
      }),
    ),
    defaultMode: INT,
    defaultUser: ANY,
  }),
  persistentVolumeClaim: obj({ claimName: STR, readOnly: BOOL }),
  ephemeral: ANY, fc: ANY, flexVolume: ANY, flocker: ANY, gcePersistentDisk: ANY,
  gitRepo: ANY, glusterfs: ANY, image: obj({ reference: STR, pullPolicy: STR }), iscsi: ANY, nfs: ANY,
  photonPersistentDisk: ANY, portworxVolume: ANY, quobyte: ANY, rbd: ANY, scaleIO: ANY,
  storageos: ANY, vsphereVolume: ANY,
});

const selectorRequirements = arr(obj({ key: STR, operator: STR, values: arr(STR) }));
const labelSelector = obj({ matchLabels: map(STR), matchExpressions: selectorRequirements });
const nodeSelectorTerm = obj({ matchExpressions: selectorRequirements, matchFields: selectorRequirements });
const podAffinityTerm = obj({
  labelSelector,
  namespaces: arr(STR),
  namespaceSelector: labelSelector,
  topologyKey: STR,
  matchLabelKeys: arr(STR),
  mismatchLabelKeys: arr(STR),
});
const podAffinity = obj({
  requiredDuringSchedulingIgnoredDuringExecution: arr(podAffinityTerm),
  preferredDuringSchedulingIgnoredDuringExecution: arr(obj({ weight: INT, podAffinityTerm })),
});

/** The metadata of every object podd reads. */
export const OBJECT_META: Schema = obj({
  name: STR,
  generateName: STR,
  namespace: STR,
  uid: STR,
  labels: map(STR),
  annotations: map(STR),
  // kubectl create --dry-run writes `creationTimestamp: null`; the runtime sets the real one.
  creationTimestamp: ANY,
  // Known so that `kubectl get -o yaml` output is refused by name (see unsupported.ts).
  selfLink: ANY, resourceVersion: ANY, generation: ANY, deletionTimestamp: ANY, deletionGracePeriodSeconds: ANY,
  ownerReferences: ANY, finalizers: ANY, managedFields: ANY,
});

export const POD_SCHEMA: Schema = obj({
  apiVersion: STR,
  kind: STR,
  metadata: OBJECT_META,
  spec: obj({
    containers: arr(container),
    initContainers: arr(container),
    ephemeralContainers: ANY,
    volumes: arr(volume),
    restartPolicy: STR,
    terminationGracePeriodSeconds: INT,
    activeDeadlineSeconds: INT,
    dnsPolicy: STR,
    dnsConfig: obj({ nameservers: arr(STR), searches: arr(STR), options: arr(obj({ name: STR, value: STR })) }),
    hostname: STR,
    subdomain: STR,
    hostNetwork: BOOL,
    hostPID: BOOL,
    hostIPC: BOOL,
    hostUsers: BOOL,
    shareProcessNamespace: BOOL,
    securityContext: obj({
      runAsUser: INT,
      runAsGroup: INT,
      runAsNonRoot: BOOL,
      fsGroup: INT,
      fsGroupChangePolicy: STR,
      supplementalGroups: arr(INT),
      supplementalGroupsPolicy: STR,
      sysctls: arr(obj({ name: STR, value: STR })),
      seLinuxOptions: ANY, seLinuxChangePolicy: ANY, seccompProfile,
      appArmorProfile: localProfile, windowsOptions: ANY,
    }),
    resources: resourceRequirements,
    hostAliases: arr(obj({ ip: STR, hostnames: arr(STR) })),
    enableServiceLinks: BOOL,
    automountServiceAccountToken: BOOL,
    serviceAccountName: STR,
    serviceAccount: STR,
    schedulerName: STR,
    setHostnameAsFQDN: BOOL,
    os: obj({ name: STR }),
    hostnameOverride: ANY, readinessGates: ANY, runtimeClassName: ANY, overhead: ANY, resourceClaims: ANY,
    imagePullSecrets: arr(obj({ name: STR })),
    nodeSelector: map(STR),
    nodeName: STR,
    affinity: obj({
      nodeAffinity: obj({
        requiredDuringSchedulingIgnoredDuringExecution: obj({ nodeSelectorTerms: arr(nodeSelectorTerm) }),
        preferredDuringSchedulingIgnoredDuringExecution: arr(obj({ weight: INT, preference: nodeSelectorTerm })),
      }),
      podAffinity: podAffinity,
      podAntiAffinity: podAffinity,
    }),
    tolerations: arr(obj({ key: STR, operator: STR, value: STR, effect: STR, tolerationSeconds: INT })),
    priorityClassName: STR,
    priority: INT,
    preemptionPolicy: STR,
    topologySpreadConstraints: arr(
      obj({
        maxSkew: INT,
        topologyKey: STR,
        whenUnsatisfiable: STR,
        labelSelector,
        minDomains: INT,
        nodeAffinityPolicy: STR,
        nodeTaintsPolicy: STR,
        matchLabelKeys: arr(STR),
      }),
    ),
    schedulingGates: ANY, schedulingGroup: ANY, evictionResponders: ANY,
  }),
  // The API server ignores status on create; kubectl writes `status: {}`.
  status: ANY,
});

export type UnknownFields = "strict" | "warn" | "ignore";

export interface FieldProblem {
  path: string;
  pos: Pos;
  message: string;
  /** for an unknown field that is a near miss of a known one: that field's path */
  meant?: string;
}

export interface FieldPositions {
  /** where the value of a field starts (for a missing value: its key) */
  value: Pos;
  /** where its key is, for map entries */
  key?: Pos;
}

/**
 * Positions of every field and list item that was read, by path. The entries of a map of plain
 * values (annotations, labels, data) are looked up only when a problem is reported below the
 * map, so their paths are made then, for that map alone: a pod may have thousands of them.
 */
export class PositionTable {
  private readonly known = new Map<string, FieldPositions>();
  /** maps whose entries are not in `known` yet, by path */
  private readonly pending = new Map<string, MapNode>();

  has(path: string): boolean {
    return this.known.has(path);
  }

  set(path: string, at: FieldPositions): void {
    this.known.set(path, at);
  }

  /** Records a map whose entries (each a plain value, with no fields below it) are read later. */
  setEntriesLater(path: string, node: MapNode): void {
    this.pending.set(path, node);
  }

  get(path: string): FieldPositions | undefined {
    const found = this.known.get(path);
    if (found !== undefined || this.pending.size === 0) return found;
    for (const [mapPath, node] of this.pending) {
      const sep = path.charCodeAt(mapPath.length);
      if (path.length > mapPath.length && path.startsWith(mapPath) && (sep === 0x2e || sep === 0x5b)) {
        this.pending.delete(mapPath);
        // As the decoder reads them: the first of duplicate keys is the one that counts.
        for (const e of node.entries) {
          const p = childPath(mapPath, e.key);
          if (!this.known.has(p)) this.known.set(p, { value: e.value.pos, key: e.keyPos });
        }
        return this.known.get(path);
      }
    }
    return undefined;
  }
}

export interface Decoded {
  value: unknown;
  positions: PositionTable;
  errors: FieldProblem[];
  /** unknown fields when unknownFields is "warn" */
  warnings: FieldProblem[];
}

/** The path of a field below `parent`; keys that are not plain identifiers go in brackets. */
export function childPath(parent: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${key}]`;
}

function describe(node: TreeNode): string {
  if (node.kind === "map") return "an object";
  if (node.kind === "seq") return "a list";
  const v = node.value;
  if (v === null) return "null";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "boolean") return `boolean ${node.source}`;
  return `number ${node.source}`;
}

// A near miss of a known field name, for "did you mean" hints: same letters ignoring case, one
// edit away, or two neighbouring letters swapped.
function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  for (const k of known) if (k.toLowerCase() === lower) return k;
  for (const k of known) if (withinOneEdit(k, key) || isSwap(k, key)) return k;
  return undefined;
}

function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((ch, i) => (ch === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1 || a === b) return false;
  let i = 0;
  let j = 0;
  let edits = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
      continue;
    }
    if (++edits > 1) return false;
    if (a.length > b.length) i++;
    else if (b.length > a.length) j++;
    else {
      i++;
      j++;
    }
  }
  return edits + (a.length - i) + (b.length - j) <= 1;
}

export function decode(node: TreeNode, schema: Schema, basePath: string, unknownFields: UnknownFields): Decoded {
  const out: Decoded = { value: undefined, positions: new PositionTable(), errors: [], warnings: [] };
  const err = (path: string, pos: Pos, message: string): void => {
    out.errors.push({ path: path === "" ? "<root>" : path, pos, message });
  };

  const go = (n: TreeNode, s: Schema, path: string, inList: boolean): unknown => {
    if (!out.positions.has(path)) out.positions.set(path, { value: n.pos });
    return valueOf(n, s, path, inList);
  };

  const valueOf = (n: TreeNode, s: Schema, path: string, inList: boolean): unknown => {
    // A JSON null means "not set" to the API server. A null list item stands for an empty object
    // so that its required fields are reported.
    if (n.kind === "scalar" && n.value === null && !n.quoted) {
      if (inList && s.t === "object") return {};
      return s.t === "any" ? null : undefined;
    }
    switch (s.t) {
      case "any":
        return plain(n);
      case "string":
        if (n.kind === "scalar" && typeof n.value === "string") return n.value;
        if (n.kind === "scalar") {
          err(path, n.pos, `expected a string, got ${describe(n)}; quote it: ${JSON.stringify(n.source)}`);
        } else err(path, n.pos, `expected a string, got ${describe(n)}`);
        return undefined;
      case "bool":
        if (n.kind === "scalar" && typeof n.value === "boolean") return n.value;
        err(path, n.pos, `expected a boolean (true or false), got ${describe(n)}`);
        return undefined;
      case "int":
        if (n.kind === "scalar" && typeof n.value === "number" && Number.isSafeInteger(n.value)) return n.value;
        err(path, n.pos, `expected an integer, got ${describe(n)}`);
        return undefined;
      case "intOrString":
        if (n.kind === "scalar" && typeof n.value === "number" && Number.isSafeInteger(n.value)) return n.value;
        if (n.kind === "scalar" && typeof n.value === "string") return n.value;
        err(path, n.pos, `expected an integer or a string, got ${describe(n)}`);
        return undefined;
      case "quantity": {
        // Numbers are read from their source text, so 0.1 is exactly 100m.
        if (n.kind === "scalar" && (typeof n.value === "string" || typeof n.value === "number")) {
          const text = typeof n.value === "string" ? n.value : n.source;
          const q = parseQuantity(text);
          if (!q.ok) {
            err(path, n.pos, q.error);
            return undefined;
          }
          return formatQuantity(q.quantity);
        }
        err(path, n.pos, `expected a quantity such as 500m or 128Mi, got ${describe(n)}`);
        return undefined;
      }
      case "array": {
        if (n.kind !== "seq") {
          err(path, n.pos, `expected a list, got ${describe(n)}`);
          return undefined;
        }
        return n.items.map((item, i) => go(item, s.of, `${path}[${i}]`, true)).filter((v) => v !== undefined);
      }
      case "map": {
        if (n.kind !== "map") {
          err(path, n.pos, `expected an object, got ${describe(n)}`);
          return undefined;
        }
        const result: Record<string, unknown> = {};
        const of = s.of;
        if (of.t === "array" || of.t === "map" || of.t === "object") {
          for (const e of entriesOnce(n, path)) {
            const p = childPath(path, e.key);
            out.positions.set(p, { value: e.value.pos, key: e.keyPos });
            const v = go(e.value, of, p, false);
            if (v !== undefined) setOwn(result, e.key, v);
          }
          return result;
        }
        // Plain values: no path is made unless a problem is reported.
        out.positions.setEntriesLater(path, n);
        const strings = of.t === "string";
        // keys read whose value was not kept (null or wrong), for the duplicate check
        let unkept: Set<string> | undefined;
        for (const e of n.entries) {
          const key = e.key;
          if (Object.hasOwn(result, key) || unkept?.has(key) === true) {
            err(childPath(path, key), e.keyPos, `key ${JSON.stringify(key)} already set in map`);
            continue;
          }
          const node = e.value;
          const v = strings && node.kind === "scalar" && typeof node.value === "string" ? node.value : valueOf(node, of, childPath(path, key), false);
          if (v === undefined) (unkept ??= new Set()).add(key);
          else if (key === "__proto__") setOwn(result, key, v);
          else result[key] = v;
        }
        return result;
      }
      case "object": {
        if (n.kind !== "map") {
          err(path, n.pos, `expected an object, got ${describe(n)}`);
          return undefined;
        }
        const result: Record<string, unknown> = {};
        const known = Object.keys(s.fields);
        for (const e of entriesOnce(n, path)) {
          const p = childPath(path, e.key);
          const fieldSchema = Object.hasOwn(s.fields, e.key) ? s.fields[e.key] : undefined;
          if (fieldSchema === undefined) {
            if (unknownFields === "ignore") continue;
            const near = suggest(e.key, known);
            const problem: FieldProblem = {
              path: p,
              pos: e.keyPos,
              message: `unknown field ${JSON.stringify(e.key)}${near ? `; did you mean ${JSON.stringify(near)}?` : ""}`,
              ...(near ? { meant: childPath(path, near) } : {}),
            };
            (unknownFields === "strict" ? out.errors : out.warnings).push(problem);
            continue;
          }
          out.positions.set(p, { value: e.value.pos, key: e.keyPos });
          const v = go(e.value, fieldSchema, p, false);
          if (v !== undefined) setOwn(result, e.key, v);
        }
        return result;
      }
    }
  };

  // Duplicate keys are reported at the second occurrence; the first one is used.
  const entriesOnce = (n: MapNode, path: string) => {
    const seen = new Set<string>();
    return n.entries.filter((e) => {
      if (seen.has(e.key)) {
        err(childPath(path, e.key), e.keyPos, `key ${JSON.stringify(e.key)} already set in map`);
        return false;
      }
      seen.add(e.key);
      return true;
    });
  };

  out.value = go(node, schema, basePath, false);
  return out;
}

/** A tree as plain JSON values, for fields that are kept but not interpreted. */
export function plain(n: TreeNode): unknown {
  if (n.kind === "scalar") return n.value;
  if (n.kind === "seq") return n.items.map(plain);
  const o: Record<string, unknown> = {};
  for (const e of n.entries) setOwn(o, e.key, plain(e.value));
  return o;
}

// `o[key] = v` with key "__proto__" would replace the prototype instead of adding a field.
// Every other key is assigned: defining each property costs several times as much, which a
// map of thousands of annotations makes felt.
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}
