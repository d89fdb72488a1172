// Flags the foreground runner and the daemon share, and turning them into supervisor options.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllowedUnsafeSysctls, parseReservation } from "../../pod/admission.ts";
import { parseDuration } from "../../base/time.ts";
import { PoddError } from "../../base/errors.ts";
import { rootsFromEnv } from "../../base/paths.ts";
import { backOffConfig } from "../../pod/restart-policy.ts";
import type { SupervisorOptions } from "../../daemon/supervisor.ts";
import { packageRoot } from "../version.ts";
import { parseNodeLabels, parseTaints } from "../../daemon/node.ts";

export const supervisorFlags = {
  root: { type: "string" },
  "run-root": { type: "string" },
  "log-root": { type: "string" },
  "cgroup-parent": { type: "string" },
  "backoff-initial": { type: "string" },
  "backoff-max": { type: "string" },
  "pod-pids-limit": { type: "string" },
  "log-max-size": { type: "string" },
  "log-max-files": { type: "string" },
  "log-root-max-size": { type: "string" },
  "userns-registry": { type: "string" },
  "system-reserved": { type: "string" },
  "kube-reserved": { type: "string" },
  "allowed-unsafe-sysctls": { type: "string" },
  "pod-network": { type: "string" },
  "cni-conf-dir": { type: "string" },
  "cni-bin-dir": { type: "string" },
  "cni-timeout": { type: "string" },
  "node-labels": { type: "string" },
  "register-with-taints": { type: "string" },
} as const;

type Values = { [K in keyof typeof supervisorFlags]?: string | undefined };

function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new PoddError(`invalid --${flag} "${text}": must be a positive integer`, { code: "Invalid" });
  return Number(text);
}

/** init/build/podd-init of this checkout or package; PODD_INIT overrides it. */
export function initPath(): string {
  const path = process.env.PODD_INIT ?? join(packageRoot(), "init", "build", "podd-init");
  if (!existsSync(path)) throw new PoddError(`podd-init not found at ${path}; build it with "npm run build"`, { code: "NotFound" });
  return path;
}

export function requireRoot(verb: string): void {
  if (process.getuid?.() !== 0) {
    throw new PoddError(`podd ${verb} must run as root: it creates namespaces, mounts and cgroups`, { code: "Invalid" });
  }
}

/** The flags as supervisor options; a root or cgroup parent no flag names comes from the environment (PODD_ROOT, …). */
export function supervisorOptions(v: Values, env: NodeJS.ProcessEnv = process.env): SupervisorOptions {
  const cgroupParent = v["cgroup-parent"] ?? (env.PODD_CGROUP_PARENT || "podd");
  const roots = rootsFromEnv(env);
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(cgroupParent) || cgroupParent.split("/").includes("..")) {
    throw new PoddError(`invalid --cgroup-parent "${cgroupParent}": a relative cgroup path such as podd or podd/test`, { code: "Invalid" });
  }
  const backOff: { initialMs?: number; maxMs?: number } = {};
  if (v["backoff-initial"]) backOff.initialMs = parseDuration(v["backoff-initial"]);
  if (v["backoff-max"]) backOff.maxMs = parseDuration(v["backoff-max"]);
  return {
    roots: {
      state: resolve(v.root ?? roots.state),
      run: resolve(v["run-root"] ?? roots.run),
      log: resolve(v["log-root"] ?? roots.log),
    },
    initPath: initPath(),
    cgroupParent,
    backOff: backOffConfig(backOff),
    podPidsLimit: v["pod-pids-limit"] ? positiveInt("pod-pids-limit", v["pod-pids-limit"]) : 4096,
    logMaxSize: v["log-max-size"] ? positiveInt("log-max-size", v["log-max-size"]) : 10 * 1024 * 1024,
    logMaxFiles: v["log-max-files"] ? positiveInt("log-max-files", v["log-max-files"]) : 5,
    ...(v["log-root-max-size"] ? { logRootMaxSize: positiveInt("log-root-max-size", v["log-root-max-size"]) } : {}),
    ...(v["userns-registry"] ? { usernsRegistry: resolve(v["userns-registry"]) } : {}),
    shmSize: 64 * 1024 * 1024,
    ...(v["system-reserved"] !== undefined ? { systemReserved: parseReservation("system-reserved", v["system-reserved"]) } : {}),
    ...(v["kube-reserved"] !== undefined ? { kubeReserved: parseReservation("kube-reserved", v["kube-reserved"]) } : {}),
    ...(v["allowed-unsafe-sysctls"] !== undefined ? { allowedUnsafeSysctls: parseAllowedUnsafeSysctls(v["allowed-unsafe-sysctls"]) } : {}),
    network: networkOptions(v),
    ...(v["node-labels"] !== undefined ? { nodeLabels: parseNodeLabels(v["node-labels"]) } : {}),
    ...(v["register-with-taints"] !== undefined ? { nodeTaints: parseTaints(v["register-with-taints"]) } : {}),
  };
}

/**
 * --pod-network cni (the default) or none (no CNI at all: pods have only their loopback);
 * --cni-conf-dir, --cni-bin-dir (a list, ':' or ',' between, as CNI_PATH and the kubelet's
 * flag), --cni-timeout.
 */
function networkOptions(v: Values): NonNullable<SupervisorOptions["network"]> {
  const out: NonNullable<SupervisorOptions["network"]> = {};
  const mode = v["pod-network"] ?? "cni";
  if (mode !== "cni" && mode !== "none") throw new PoddError(`invalid --pod-network "${mode}": cni or none`, { code: "Invalid" });
  if (mode === "none") out.none = true;
  if (v["cni-conf-dir"] !== undefined) out.confDir = resolve(v["cni-conf-dir"]);
  if (v["cni-bin-dir"] !== undefined) {
    const dirs = v["cni-bin-dir"].split(/[:,]/).filter((d) => d !== "");
    if (dirs.length === 0) throw new PoddError(`invalid --cni-bin-dir "${v["cni-bin-dir"]}": one or more directories, separated by ':'`, { code: "Invalid" });
    out.binDirs = dirs.map((d) => resolve(d));
  }
  if (v["cni-timeout"] !== undefined) {
    const ms = parseDuration(v["cni-timeout"]);
    if (ms < 1) throw new PoddError(`invalid --cni-timeout "${v["cni-timeout"]}": must be positive`, { code: "Invalid" });
    out.timeoutMs = ms;
  }
  return out;
}
