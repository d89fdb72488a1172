// Defaults as the API server fills them in (pkg/apis/core/v1/defaults.go), so that a pod podd
// stores and prints is the pod Kubernetes would have stored, and the runtime never has to guess.
// Runs before validation, as in the API server; tolerates anything the decoder let through.

import { SYSTEM_PRIORITY_CLASSES } from "./scheduling.ts";
import type { Container, HTTPGetAction, LifecycleHandler, Pod, Probe, ResourceRequirements } from "./types.ts";

/** The image name that means "run from the host's root filesystem": there is nothing to pull. */
export const HOST_IMAGE = "host";

export const DEFAULT_NAMESPACE = "default";
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
export const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";
// The API server's default mode for configMap and secret files (0644).
const DEFAULT_VOLUME_FILE_MODE = 0o644;

/** Pull policy for an image without one: Always for ":latest" or no tag, otherwise IfNotPresent. */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" | "Never" {
  if (image === HOST_IMAGE) return "Never";
  const at = image.indexOf("@");
  const named = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = named.lastIndexOf("/");
  const colon = named.indexOf(":", lastSlash + 1);
  const tag = colon >= 0 ? named.slice(colon + 1) : "";
  // A digest without a tag pins the image, so it is not "latest".
  if (tag === "") return at >= 0 ? "IfNotPresent" : "Always";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

// A Pod is plain data (what the manifest decoded to); copying it as such costs a fraction of
// structuredClone, which a pod with thousands of annotations makes felt.
function clonePlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clonePlain) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "__proto__") Object.defineProperty(out, k, { value: clonePlain(v), enumerable: true, writable: true, configurable: true });
    else out[k] = clonePlain(v);
  }
  return out as T;
}

export function applyDefaults(input: Pod): Pod {
  return applyDefaultsInPlace(clonePlain(input));
}

/**
 * applyDefaults on a pod that may be changed: one the decoder has just made, which nothing
 * else holds. It saves a copy of the whole pod, thousands of annotations included.
 */
export function applyDefaultsInPlace(pod: Pod): Pod {
  pod.metadata ??= { name: "" };
  pod.metadata.namespace ??= DEFAULT_NAMESPACE;
  const spec = (pod.spec ??= { containers: [] });
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  spec.dnsPolicy ??= "ClusterFirst";
  // The Priority admission plugin's: the class's value, and its preemption policy.
  const priority = spec.priorityClassName ? SYSTEM_PRIORITY_CLASSES[spec.priorityClassName] : undefined;
  if (priority !== undefined) {
    spec.priority ??= priority;
    spec.preemptionPolicy ??= "PreemptLowerPriority";
  }
  defaultResources(spec.resources);
  for (const c of spec.containers ?? []) defaultContainer(c, spec.hostNetwork === true);
  for (const c of spec.initContainers ?? []) defaultContainer(c, spec.hostNetwork === true);
  for (const v of spec.volumes ?? []) {
    const sources = Object.keys(v).filter((k) => k !== "name");
    // A volume that names no source is an emptyDir, as in Kubernetes.
    if (sources.length === 0) v.emptyDir = {};
    if (v.emptyDir) v.emptyDir.medium ??= "";
    if (v.hostPath) v.hostPath.type ??= "";
    if (v.configMap) v.configMap.defaultMode ??= DEFAULT_VOLUME_FILE_MODE;
    if (v.secret) v.secret.defaultMode ??= DEFAULT_VOLUME_FILE_MODE;
    if (v.image && typeof v.image.reference === "string") v.image.pullPolicy ??= defaultPullPolicy(v.image.reference);
  }
  return pod;
}

function defaultContainer(c: Container, hostNetwork: boolean): void {
  if (typeof c.image === "string") c.imagePullPolicy ??= defaultPullPolicy(c.image);
  c.terminationMessagePath ??= DEFAULT_TERMINATION_MESSAGE_PATH;
  c.terminationMessagePolicy ??= "File";
  for (const p of c.ports ?? []) {
    p.protocol ??= "TCP";
    // With the host's network the container port is the host port.
    if (hostNetwork && p.hostPort === undefined && p.containerPort !== undefined) p.hostPort = p.containerPort;
  }
  defaultResources(c.resources);
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.fieldRef;
    if (ref) ref.apiVersion ??= "v1";
  }
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) if (probe) defaultProbe(probe);
  defaultHandler(c.lifecycle?.postStart);
  defaultHandler(c.lifecycle?.preStop);
}

// Requests default to limits for every resource that has a limit and no request.
function defaultResources(r: ResourceRequirements | undefined): void {
  if (!r?.limits) return;
  const requests = (r.requests ??= {});
  for (const [name, limit] of Object.entries(r.limits)) {
    if (!Object.hasOwn(requests, name)) requests[name] = limit;
  }
}

// 0 means "not set" for these, as in the API server (a Go int32 cannot tell them apart).
function defaultProbe(p: Probe): void {
  if (!p.timeoutSeconds) p.timeoutSeconds = 1;
  if (!p.periodSeconds) p.periodSeconds = 10;
  if (!p.successThreshold) p.successThreshold = 1;
  if (!p.failureThreshold) p.failureThreshold = 3;
  defaultHttpGet(p.httpGet);
}

function defaultHandler(h: LifecycleHandler | undefined): void {
  defaultHttpGet(h?.httpGet);
}

function defaultHttpGet(h: HTTPGetAction | undefined): void {
  if (!h) return;
  h.path ??= "/";
  h.scheme ??= "HTTP";
}
