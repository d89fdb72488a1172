// From container resources to cgroup values, as the kubelet computes them
// (pkg/kubelet/cm/helpers_linux.go, pkg/kubelet/kuberuntime/kuberuntime_container_linux.go),
// so that a pod gets the same CPU and memory here as on a Kubernetes node.

import type { ResourceList, ResourceRequirements } from "./types.ts";
import { mustParseQuantity, quantityMilliValue, quantityValue } from "./quantity.ts";

/** cpu.cfs_period_us the kubelet uses unless told otherwise: 100 ms. */
export const CPU_PERIOD_US = 100_000;
/** The kernel rejects a quota below 1 ms; the kubelet raises smaller quotas to it. */
export const MIN_CPU_QUOTA_US = 1_000;
/** Kernel limits for cpu.shares (cgroup v1): MIN_SHARES and MAX_SHARES = 1 << 18. */
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262_144;
/** Limits of cpu.weight (cgroup v2). */
export const MIN_CPU_WEIGHT = 1;
export const MAX_CPU_WEIGHT = 10_000;

/**
 * CFS quota in µs for a CPU limit in milliCPU over `period` µs. 0 milliCPU means "no limit" and
 * gives 0, which the runtime must read as "leave cpu.cfs_quota_us at -1 / cpu.max at max".
 */
export function milliCpuToQuota(milliCpu: number, period = CPU_PERIOD_US): number {
  if (milliCpu <= 0) return 0;
  const quota = Math.floor((milliCpu * period) / 1000);
  return Math.max(quota, MIN_CPU_QUOTA_US);
}

/** cpu.shares for a CPU request in milliCPU; no request gets the minimum, as BestEffort does. */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu <= 0) return MIN_CPU_SHARES;
  const shares = Math.floor((milliCpu * 1024) / 1000);
  return Math.min(Math.max(shares, MIN_CPU_SHARES), MAX_CPU_SHARES);
}

/**
 * cgroup v2 cpu.weight from cpu.shares with the formula of current runtimes (runc ≥ 1.3.2 through
 * opencontainers/cgroups, crun ≥ 1.23): a quadratic in log2(shares) chosen so that the minimum
 * (2 → 1), the default (1024 → 100) and the maximum (262144 → 10000) all map onto each other.
 * The older linear formula mapped the default 1024 shares to 39, giving every container far less
 * weight than a process outside any container; see cpuWeightFromSharesLinear.
 * 0 means "unset" and stays 0.
 */
export function cpuWeightFromShares(shares: number): number {
  if (shares <= 0) return 0;
  if (shares <= MIN_CPU_SHARES) return MIN_CPU_WEIGHT;
  if (shares >= MAX_CPU_SHARES) return MAX_CPU_WEIGHT;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/**
 * The linear conversion 1 + ((shares − 2) × 9999) / 262142 in integer arithmetic, used by runc
 * before 1.3.2, crun before 1.23, and still by the kubelet for the pod-level cgroups it writes
 * itself. Kept for a runtime that must match those.
 */
export function cpuWeightFromSharesLinear(shares: number): number {
  if (shares <= 0) return 0;
  if (shares >= MAX_CPU_SHARES) return MAX_CPU_WEIGHT;
  const s = Math.max(shares, MIN_CPU_SHARES);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** milliCPU of a quantity text, rounded up like MilliValue(); absent is 0. */
export function milliCpuOf(text: string | undefined): number {
  if (text === undefined) return 0;
  return Number(quantityMilliValue(mustParseQuantity(text)));
}

/** Bytes of a quantity text, rounded up like Value(); absent is 0. */
export function bytesOf(text: string | undefined): bigint {
  if (text === undefined) return 0n;
  return quantityValue(mustParseQuantity(text));
}

export interface CgroupCpuMemory {
  /** cpu.shares (v1) */
  cpuShares: number;
  /** cpu.weight (v2), from cpuShares with the current runtimes' formula */
  cpuWeight: number;
  /** CFS quota in µs, or null for no CPU limit */
  cpuQuotaUs: number | null;
  cpuPeriodUs: number;
  /** memory.limit_in_bytes / memory.max, or null for no memory limit */
  memoryLimitBytes: bigint | null;
}

/**
 * The CPU and memory settings for one container's cgroup. Shares come from the request, or from
 * the limit when only a limit is set (the kubelet repeats the API server's defaulting here for
 * objects created before it existed); the quota comes from the limit.
 */
export function containerCgroupResources(resources: ResourceRequirements | undefined): CgroupCpuMemory {
  const requests: ResourceList = resources?.requests ?? {};
  const limits: ResourceList = resources?.limits ?? {};
  const cpuRequest = milliCpuOf(requests.cpu);
  const cpuLimit = milliCpuOf(limits.cpu);
  const cpuShares = milliCpuToShares(cpuRequest === 0 && cpuLimit !== 0 ? cpuLimit : cpuRequest);
  const quota = milliCpuToQuota(cpuLimit);
  const memory = bytesOf(limits.memory);
  return {
    cpuShares,
    cpuWeight: cpuWeightFromShares(cpuShares),
    cpuQuotaUs: quota === 0 ? null : quota,
    cpuPeriodUs: CPU_PERIOD_US,
    memoryLimitBytes: memory > 0n ? memory : null,
  };
}

/** The line to write to cgroup v2 cpu.max: "<quota> <period>" or "max <period>". */
export function cpuMaxLine(cpuQuotaUs: number | null, periodUs = CPU_PERIOD_US): string {
  return `${cpuQuotaUs === null ? "max" : cpuQuotaUs} ${periodUs}`;
}
