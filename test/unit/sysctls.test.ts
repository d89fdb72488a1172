// Pod sysctls: the names Kubernetes accepts and where they live, the kubelet's safe set and
// --allowed-unsafe-sysctls patterns, and its admission verdict (SysctlForbidden).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isValidSysctlName, isValidSysctlPattern, normalizeSysctlName, safeSysctls, SAFE_SYSCTLS, sysctlNamespace, sysctlPath } from "../../pod-specs/sysctls.ts";
import { admitSysctls, parseAllowedUnsafeSysctls, sysctlAllowlist } from "../../supervisor/pod/admission.ts";
import { PoddError } from "../../supervisor/base/errors.ts";
import type { PodSpec } from "../../pod-specs/types.ts";

describe("sysctl names", () => {
  it("are segments of [a-z0-9] with - and _ inside, joined by . or /", () => {
    for (const ok of ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net/ipv4/tcp_syncookies", "net.ipv4.conf.eno2/100.rp_filter", "a", "a-b.c_d"]) {
      assert.equal(isValidSysctlName(ok), true, ok);
    }
    for (const bad of ["", "Kernel.shm", "net..x", "net.", ".net", "net._x", "net.x-", "net.x=1", "net x", "net.//.x", "a".repeat(254)]) {
      assert.equal(isValidSysctlName(bad), false, bad);
    }
    assert.equal(isValidSysctlName("a".repeat(253)), true);
  });

  it("patterns may end a segment in *", () => {
    for (const ok of ["kernel.msg*", "net.core.*", "net.core.somaxconn", "fs/mqueue/*"]) assert.equal(isValidSysctlPattern(ok), true, ok);
    for (const bad of ["net.*.x", "Net.*", "net..*", "net.x*y"]) assert.equal(isValidSysctlPattern(bad), false, bad);
  });

  it("the slashed form is the dotted one with . and / swapped; its file under /proc/sys", () => {
    assert.equal(normalizeSysctlName("net/ipv4/conf/eno2.100/rp_filter"), "net.ipv4.conf.eno2/100.rp_filter");
    assert.equal(normalizeSysctlName("net.ipv4.conf.eno2/100.rp_filter"), "net.ipv4.conf.eno2/100.rp_filter");
    assert.equal(sysctlPath("net.ipv4.conf.eno2/100.rp_filter"), "/proc/sys/net/ipv4/conf/eno2.100/rp_filter");
    assert.equal(sysctlPath("net/ipv4/conf/eno2.100/rp_filter"), "/proc/sys/net/ipv4/conf/eno2.100/rp_filter");
    assert.equal(sysctlPath("kernel.shm_rmid_forced"), "/proc/sys/kernel/shm_rmid_forced");
  });

  it("belong to the network or IPC namespace, or to none (the whole machine's)", () => {
    const table: [string, string | undefined][] = [
      ["net.core.somaxconn", "Net"],
      ["net/ipv4/tcp_syncookies", "Net"],
      ["kernel.shm_rmid_forced", "IPC"],
      ["kernel.shmmax", "IPC"],
      ["kernel.msgmax", "IPC"],
      ["kernel.sem", "IPC"],
      ["fs.mqueue.msg_max", "IPC"],
      ["kernel.msg", "IPC"], // what kernel.msg* leaves before its *
      ["kernel.shmfoo", undefined],
      ["kernel.hostname", undefined],
      ["vm.swappiness", undefined],
      ["kernel.panic", undefined],
      ["net", undefined],
      ["fs.file-max", undefined],
    ];
    for (const [name, ns] of table) assert.equal(sysctlNamespace(name), ns, name);
  });

  it("the safe set is the kubelet's, less what an older kernel had not namespaced", () => {
    assert.equal(SAFE_SYSCTLS.length, 12);
    assert.deepEqual(safeSysctls("6.1.0-18-amd64"), SAFE_SYSCTLS.map((s) => s.name));
    const old = safeSysctls("4.4.0");
    assert.ok(old.includes("net.ipv4.ip_local_reserved_ports"));
    assert.ok(!old.includes("net.ipv4.tcp_keepalive_time"));
    assert.ok(!old.includes("net.ipv4.tcp_fin_timeout"));
    const v45 = safeSysctls("4.5.7");
    assert.ok(v45.includes("net.ipv4.tcp_keepalive_time") && !v45.includes("net.ipv4.tcp_fin_timeout"));
    // A release that cannot be read keeps only the sysctls every kernel has namespaced.
    assert.deepEqual(safeSysctls("unknown"), SAFE_SYSCTLS.filter((s) => !s.kernel).map((s) => s.name));
  });
});

const spec = (names: string[], host: { hostNetwork?: boolean; hostIPC?: boolean } = {}): Pick<PodSpec, "securityContext" | "hostNetwork" | "hostIPC"> => ({
  securityContext: { sysctls: names.map((name) => ({ name, value: "1" })) },
  ...host,
});

describe("sysctl admission", () => {
  const safe = sysctlAllowlist("6.1.0");
  const unsafe = sysctlAllowlist("6.1.0", parseAllowedUnsafeSysctls("kernel.msg*,net.core.somaxconn"));

  it("the safe set is allowed by default, in either form", () => {
    assert.deepEqual(admitSysctls(spec(["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net/ipv4/tcp_rmem"]), safe), { admit: true });
    assert.deepEqual(admitSysctls({}, safe), { admit: true });
  });

  it("another namespaced sysctl is SysctlForbidden without the flag, allowed with it", () => {
    assert.deepEqual(admitSysctls(spec(["kernel.shm_rmid_forced", "net.core.somaxconn"]), safe), {
      admit: false,
      reason: "SysctlForbidden",
      message: 'forbidden sysctl: "net.core.somaxconn" not allowlisted',
    });
    assert.deepEqual(admitSysctls(spec(["kernel.msgmax", "net.core.somaxconn"]), unsafe), { admit: true });
    assert.deepEqual(admitSysctls(spec(["kernel.msgmax"]), safe).admit, false);
    // A pattern covers what follows its prefix, nothing else.
    assert.deepEqual(admitSysctls(spec(["net.core.rmem_max"]), unsafe), { admit: false, reason: "SysctlForbidden", message: 'forbidden sysctl: "net.core.rmem_max" not allowlisted' });
  });

  it("a sysctl of a namespace the pod shares with the host is not allowed", () => {
    assert.deepEqual(admitSysctls(spec(["net.ipv4.tcp_syncookies"], { hostNetwork: true }), safe), {
      admit: false,
      reason: "SysctlForbidden",
      message: 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host Net enabled',
    });
    assert.deepEqual(admitSysctls(spec(["kernel.msgmnb"], { hostIPC: true }), unsafe).admit, false);
    assert.match((admitSysctls(spec(["kernel.msgmnb"], { hostIPC: true }), unsafe) as { message: string }).message, /not allowed with host IPC enabled$/);
    // The other namespace is still the pod's own.
    assert.deepEqual(admitSysctls(spec(["kernel.shm_rmid_forced"], { hostNetwork: true }), safe), { admit: true });
  });

  it("a sysctl that is not namespaced can never be allowed: the flag refuses it", () => {
    for (const [flag, why] of [
      ["vm.swappiness", 'the sysctls "vm.swappiness" are not known to be namespaced'],
      ["kernel.*", 'the sysctls "kernel." are not known to be namespaced'],
      ["*", 'the sysctls "" are not known to be namespaced'],
      ["net.core.somaxconn,kernel.panic", 'the sysctls "kernel.panic" are not known to be namespaced'],
      ["Net.core", 'sysctl "Net.core" must have at most 253 characters and match regex'],
    ] as const) {
      assert.throws(
        () => parseAllowedUnsafeSysctls(flag),
        (e: unknown) => e instanceof PoddError && e.code === "Invalid" && e.message.startsWith(`invalid --allowed-unsafe-sysctls ${JSON.stringify(flag)}: ${why}`),
        flag,
      );
    }
    assert.deepEqual(parseAllowedUnsafeSysctls(" kernel.msg* , net.core.somaxconn,"), ["kernel.msg*", "net.core.somaxconn"]);
    assert.deepEqual(parseAllowedUnsafeSysctls(""), []);
    // Not even by name without the flag: a pod's vm.swappiness is not allowlisted.
    assert.equal(admitSysctls(spec(["vm.swappiness"]), unsafe).admit, false);
  });
});
