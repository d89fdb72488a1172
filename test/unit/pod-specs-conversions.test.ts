import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bytesOf,
  containerCgroupResources,
  cpuMaxLine,
  cpuWeightFromShares,
  cpuWeightFromSharesLinear,
  milliCpuOf,
  milliCpuToQuota,
  milliCpuToShares,
} from "../../pod-specs/index.ts";

test("milliCPU to CFS quota over a 100 ms period, at least 1 ms", () => {
  const cases: Array<[number, number]> = [
    [0, 0], // no limit
    [1, 1000], // 100 µs raised to the kernel minimum
    [5, 1000],
    [10, 1000],
    [11, 1100],
    [100, 10000],
    [250, 25000],
    [1000, 100000],
    [1500, 150000],
    [64000, 6400000],
  ];
  for (const [milli, quota] of cases) assert.equal(milliCpuToQuota(milli), quota, `quota(${milli})`);
  assert.equal(milliCpuToQuota(500, 50_000), 25_000);
});

test("milliCPU to cpu.shares, clamped to [2, 262144]", () => {
  const cases: Array<[number, number]> = [
    [0, 2], // BestEffort
    [1, 2],
    [2, 2],
    [3, 3],
    [10, 10],
    [100, 102],
    [250, 256],
    [500, 512],
    [1000, 1024],
    [1500, 1536],
    [256000, 262144],
    [300000, 262144],
  ];
  for (const [milli, shares] of cases) assert.equal(milliCpuToShares(milli), shares, `shares(${milli})`);
});

test("cpu.shares to cpu.weight with current runc/crun's formula", () => {
  const cases: Array<[number, number]> = [
    [0, 0],
    [1, 1],
    [2, 1],
    [3, 2],
    [16, 5],
    [102, 17],
    [512, 59],
    [1024, 100], // the v1 default maps to the v2 default
    [2048, 174],
    [4096, 303],
    [262143, 10000],
    [262144, 10000],
    [1_000_000, 10000],
  ];
  for (const [shares, weight] of cases) assert.equal(cpuWeightFromShares(shares), weight, `weight(${shares})`);
});

test("cpu.shares to cpu.weight with the older linear formula", () => {
  const cases: Array<[number, number]> = [
    [0, 0],
    [2, 1],
    [3, 1],
    [28, 1],
    [29, 2],
    [1024, 39],
    [102400, 3906],
    [262143, 9999],
    [262144, 10000],
  ];
  for (const [shares, weight] of cases) assert.equal(cpuWeightFromSharesLinear(shares), weight, `linear(${shares})`);
});

test("quantities to milliCPU and bytes round up", () => {
  assert.equal(milliCpuOf(undefined), 0);
  assert.equal(milliCpuOf("0.1"), 100);
  assert.equal(milliCpuOf("0.0001"), 1);
  assert.equal(milliCpuOf("2"), 2000);
  assert.equal(bytesOf(undefined), 0n);
  assert.equal(bytesOf("1.5Gi"), 1610612736n);
  assert.equal(bytesOf("0.5"), 1n);
  assert.equal(bytesOf("1e3"), 1000n);
  assert.equal(bytesOf("8Ei"), 8n << 60n);
});

test("container cgroup settings follow the kubelet's request/limit rules", () => {
  // BestEffort: minimum shares, no quota, no memory limit.
  assert.deepEqual(containerCgroupResources(undefined), {
    cpuShares: 2,
    cpuWeight: 1,
    cpuQuotaUs: null,
    cpuPeriodUs: 100000,
    memoryLimitBytes: null,
  });
  // Request only: shares from the request, no quota.
  assert.deepEqual(containerCgroupResources({ requests: { cpu: "500m", memory: "64Mi" } }), {
    cpuShares: 512,
    cpuWeight: 59,
    cpuQuotaUs: null,
    cpuPeriodUs: 100000,
    memoryLimitBytes: null,
  });
  // Limit only (no defaulting happened): shares from the limit, as the kubelet does.
  assert.deepEqual(containerCgroupResources({ limits: { cpu: "1", memory: "128Mi" } }), {
    cpuShares: 1024,
    cpuWeight: 100,
    cpuQuotaUs: 100000,
    cpuPeriodUs: 100000,
    memoryLimitBytes: 134217728n,
  });
  // Burstable: shares from the request, quota from the limit.
  const b = containerCgroupResources({ requests: { cpu: "250m" }, limits: { cpu: "2" } });
  assert.equal(b.cpuShares, 256);
  assert.equal(b.cpuQuotaUs, 200000);
  assert.equal(cpuMaxLine(b.cpuQuotaUs), "200000 100000");
  assert.equal(cpuMaxLine(null), "max 100000");
});
