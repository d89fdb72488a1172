// The seccomp compiler on profiles of the kind a Localhost profile is: an allow-list with
// argument rules for every operator (values past 32 bits included), the actions, rule order,
// includes/excludes, runc's ENOSYS for newer calls, far jumps, the size limit and the bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BPF_MAXINSNS,
  compileSeccomp,
  compileSeccompProgram,
  decodeProgram,
  encodeProgram,
  parseKernelRelease,
  seccompFilterFlags,
  type CompileOptions,
} from "../../supervisor/runtime/seccomp/compile.ts";
import { parseProfile, type SeccompArg, type SeccompOperator, type SeccompProfile, type SeccompRule } from "../../supervisor/runtime/seccomp/profile.ts";
import { AUDIT_ARCH, AUDIT_ARCH_I386, SECCOMP_ARCHES, X32_SYSCALL_BIT, syscallNumber, syscallTable, type SeccompArch } from "../../supervisor/runtime/seccomp/syscalls.ts";
import { checkProgram, errnoRet, reference, RET_ENOSYS, runProgram, type SeccompData } from "./seccomp-bpf.ts";
import { seededRandom } from "../seeded-random.ts";

const ALLOW = 0x7fff0000;
const EPERM = errnoRet(1);
const LOG = 0x7ffc0000;
const TRAP = 0x00030000;
const KILL_PROCESS = 0x80000000;
const KILL_THREAD = 0;

// A trimmed allow-list of the kind a user writes for one program.
const LOCALHOST_PROFILE = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
  "syscalls": [
    { "names": ["read", "write", "close", "exit_group", "futex", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW" },
    { "names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 2, "value": 2, "op": "SCMP_CMP_LE" }],
      "comment": "SEEK_SET, SEEK_CUR, SEEK_END" },
    { "names": ["pread64"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 3, "value": 4294967296, "op": "SCMP_CMP_LT" }] },
    { "names": ["pwrite64"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 3, "value": 8589934593, "op": "SCMP_CMP_GE" }] },
    { "names": ["dup3"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 1, "value": 12884901888, "op": "SCMP_CMP_GT" }] },
    { "names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
      "args": [{ "index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ" }], "comment": "no PROT_EXEC" },
    { "names": ["mmap"], "action": "SCMP_ACT_ALLOW" },
    { "names": ["mmap"], "action": "SCMP_ACT_KILL_PROCESS", "comment": "never reached: the rule above matches everything" },
    { "names": ["kill"], "action": "SCMP_ACT_ALLOW",
      "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_NE" }, { "index": 1, "value": 18446744073709551615, "op": "SCMP_CMP_NE" }] },
    { "names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
      "args": [{ "index": 1, "value": 21505, "op": "SCMP_CMP_EQ" }, { "index": 1, "value": 21523, "op": "SCMP_CMP_EQ" }],
      "comment": "TCGETS or TIOCGWINSZ: two conditions on one argument are alternatives, as runc reads them" },
    { "name": "fchown", "action": "SCMP_ACT_ALLOW", "args": [{ "index": 1, "value": 4294967296, "op": "SCMP_CMP_EQ" }] },
    { "names": ["ppoll"], "action": "SCMP_ACT_LOG" },
    { "names": ["getpid"], "action": "SCMP_ACT_TRAP" },
    { "names": ["gettid"], "action": "SCMP_ACT_KILL_PROCESS" },
    { "names": ["getppid"], "action": "SCMP_ACT_KILL" },
    { "names": ["getuid"], "action": "SCMP_ACT_KILL_THREAD" },
    { "names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0 },
    { "names": ["setuid"], "action": "SCMP_ACT_ERRNO" },
    { "names": ["chown32", "not_a_syscall"], "action": "SCMP_ACT_ALLOW" }
  ]
}`;

function compiled(profile: SeccompProfile, arch: SeccompArch, caps: string[] = [], kernel?: CompileOptions["kernel"]) {
  const program = compileSeccompProgram(profile, { arch, caps, kernel });
  checkProgram(program);
  return (name: string | number, args: bigint[] = []) => {
    const nr = typeof name === "number" ? name : syscallNumber(arch, name);
    assert.ok(nr !== undefined, `${arch} has ${name}`);
    return runProgram(program, { nr, arch: AUDIT_ARCH[arch], args }).ret;
  };
}

for (const arch of SECCOMP_ARCHES) {
  test(`a Localhost allow-list on ${arch}: every operator, values past 32 bits, actions and rule order`, () => {
    const { profile } = parseProfile(LOCALHOST_PROFILE, "/etc/podd/seccomp/app.json", { arch });
    const sys = compiled(profile, arch);
    assert.equal(sys("read"), ALLOW);
    assert.equal(sys("openat"), EPERM, "not listed: the default, EPERM when defaultErrnoRet is absent");

    assert.equal(sys("lseek", [3n, 0n, 2n]), ALLOW, "LE: equal");
    assert.equal(sys("lseek", [3n, 0n, 3n]), EPERM, "LE: one above");
    assert.equal(sys("lseek", [3n, 0n, 1n << 32n]), EPERM, "LE: the high word counts");

    const G4 = 1n << 32n;
    assert.equal(sys("pread64", [0n, 0n, 0n, G4 - 1n]), ALLOW, "LT: just under 2^32");
    assert.equal(sys("pread64", [0n, 0n, 0n, G4]), EPERM, "LT: 2^32");
    assert.equal(sys("pread64", [0n, 0n, 0n, G4 + 5n]), EPERM, "LT: above, with a small low word");

    const pw = 2n * G4 + 1n;
    assert.equal(sys("pwrite64", [0n, 0n, 0n, pw]), ALLOW, "GE: equal");
    assert.equal(sys("pwrite64", [0n, 0n, 0n, pw - 1n]), EPERM, "GE: one below (low word 0)");
    assert.equal(sys("pwrite64", [0n, 0n, 0n, G4 + 0xffffffffn]), EPERM, "GE: lower high word, larger low word");
    assert.equal(sys("pwrite64", [0n, 0n, 0n, 3n * G4]), ALLOW, "GE: higher high word, smaller low word");

    const d = 3n * G4;
    assert.equal(sys("dup3", [0n, d]), EPERM, "GT: equal");
    assert.equal(sys("dup3", [0n, d + 1n]), ALLOW, "GT: one above");
    assert.equal(sys("dup3", [0n, 2n * G4 + 0xffffffffn]), EPERM, "GT: lower high word");

    assert.equal(sys("mmap", [0n, 4096n, 1n | 4n]), errnoRet(13), "MASKED_EQ: PROT_EXEC set → errnoRet");
    assert.equal(sys("mmap", [0n, 4096n, 1n | 2n]), ALLOW, "first match wins: the next rule allows");
    assert.equal(sys("mmap", [0n, 4096n, (1n << 40n) | 3n]), ALLOW, "bits outside the mask do not matter");

    assert.equal(sys("kill", [1n, 15n]), ALLOW, "NE and NE");
    assert.equal(sys("kill", [0n, 15n]), EPERM, "NE: equal to 0");
    assert.equal(sys("kill", [1n, (1n << 64n) - 1n]), EPERM, "NE: equal to 2^64-1");
    assert.equal(sys("kill", [1n, 0xffffffffn]), ALLOW, "NE: only the low word equal");

    assert.equal(sys("ioctl", [1n, 21505n]), ALLOW, "TCGETS");
    assert.equal(sys("ioctl", [1n, 21523n]), ALLOW, "TIOCGWINSZ");
    assert.equal(sys("ioctl", [1n, 21506n]), EPERM, "TCSETS");
    assert.equal(sys("ioctl", [1n, (1n << 32n) | 21505n]), EPERM, "EQ: the high word must match too");

    assert.equal(sys("fchown", [3n, G4]), ALLOW, "EQ 2^32");
    assert.equal(sys("fchown", [3n, 0n]), EPERM, "EQ 2^32: the low word alone is not enough");

    assert.equal(sys("ppoll"), LOG);
    assert.equal(sys("getpid"), TRAP);
    assert.equal(sys("gettid"), KILL_PROCESS);
    assert.equal(sys("getppid"), KILL_THREAD, "SCMP_ACT_KILL is libseccomp's KILL_THREAD");
    assert.equal(sys("getuid"), KILL_THREAD);
    assert.equal(sys("getgid"), errnoRet(0), "ERRNO(0): the call is skipped and returns 0");
    assert.equal(sys("setuid"), EPERM);
  });

  test(`runc's ENOSYS for calls newer than a profile, on ${arch}`, () => {
    const { profile } = parseProfile(LOCALHOST_PROFILE, "app.json", { arch });
    const sys = compiled(profile, arch);
    const highest = Math.max(...profile.syscalls!.flatMap((r) => r.names.map((n) => syscallNumber(arch, n) ?? -1)));
    assert.equal(sys(highest + 1), RET_ENOSYS, "above the highest named call");
    assert.equal(sys(syscallNumber(arch, "fchmodat2")!), RET_ENOSYS, "a call newer than every named one");
    assert.equal(sys(highest - 1) === RET_ENOSYS, false, "below it, an unnamed call gets the default");
    assert.equal(sys(syscallNumber(arch, "openat")!), EPERM);

    const allowing = compiled({ ...profile, defaultAction: "SCMP_ACT_ALLOW" }, arch);
    assert.equal(allowing(highest + 1), ALLOW, "an allowing default lets the kernel answer");
    assert.equal(allowing(X32_SYSCALL_BIT | syscallNumber(arch, "read")!), RET_ENOSYS, "but no x32 call passes even then");
    const enosysDefault = compiled({ ...profile, defaultErrnoRet: 38 }, arch);
    assert.equal(enosysDefault(syscallNumber(arch, "openat")!), RET_ENOSYS, "defaultErrnoRet 38 everywhere");
    const killing = compiled({ ...profile, defaultAction: "SCMP_ACT_KILL_PROCESS" }, arch);
    assert.equal(killing(highest + 1), RET_ENOSYS);
    assert.equal(killing(syscallNumber(arch, "openat")!), KILL_PROCESS);
    const empty = compiled({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["chown32"], action: "SCMP_ACT_ALLOW" }] }, arch);
    assert.equal(empty(syscallNumber(arch, "read")!), EPERM, "no known call named: no newer calls either");
  });

  test(`the compiled program matches a plain reading of the profile for every call on ${arch}`, () => {
    const { profile } = parseProfile(LOCALHOST_PROFILE, "app.json", { arch });
    const program = compileSeccompProgram(profile, { arch, caps: [] });
    const expected = reference(profile, { arch, caps: [] });
    const edges = [0n, 1n, 2n, 3n, 4n, 5n, 21505n, 21523n, 0xffffffffn, 1n << 32n, (1n << 32n) + 1n, 2n << 32n, (2n << 32n) + 1n, 3n << 32n, (3n << 32n) + 1n, (1n << 64n) - 1n];
    const random = seededRandom(7);
    const pick = () => edges[Math.floor(random() * edges.length)]!;
    for (const nr of [...syscallTable(arch).values(), 500, 0x3fffffff]) {
      for (let i = 0; i < 40; i++) {
        const data = { nr, arch: AUDIT_ARCH[arch], args: Array.from({ length: 6 }, pick) };
        assert.equal(runProgram(program, data).ret, expected(data), `nr ${nr} args ${data.args}`);
      }
    }
  });
}

test("every operator on 64-bit values agrees with bigint arithmetic", () => {
  const random = seededRandom(42);
  const big = () => (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  const edges = [0n, 1n, 0x7fffffffn, 0xfffffffen, 0xffffffffn, 1n << 32n, (1n << 32n) + 1n, (1n << 33n) - 1n, 1n << 63n, (1n << 64n) - 2n, (1n << 64n) - 1n];
  const values = [...edges, ...Array.from({ length: 12 }, big)];
  const ops: SeccompOperator[] = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
  const truth = (op: SeccompOperator, a: bigint, v: bigint, v2: bigint): boolean =>
    op === "SCMP_CMP_NE" ? a !== v : op === "SCMP_CMP_LT" ? a < v : op === "SCMP_CMP_LE" ? a <= v : op === "SCMP_CMP_EQ" ? a === v
    : op === "SCMP_CMP_GE" ? a >= v : op === "SCMP_CMP_GT" ? a > v : (a & v) === v2;
  let checked = 0;
  for (const op of ops) {
    for (const value of values) {
      const valueTwo = op === "SCMP_CMP_MASKED_EQ" ? value & big() : 0n;
      const arg: SeccompArg = { index: 4, value, valueTwo, op };
      const profile: SeccompProfile = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["getcwd"], action: "SCMP_ACT_ALLOW", args: [arg] }] };
      const program = compileSeccompProgram(profile, { arch: "x86_64", caps: [] });
      checkProgram(program);
      const probes = [...values, value - 1n, value + 1n, value ^ (1n << 32n), value ^ 1n, valueTwo, valueTwo | (1n << 45n)].filter((x) => x >= 0n && x < 1n << 64n);
      for (const a of probes) {
        const ret = runProgram(program, { nr: 79, arch: AUDIT_ARCH.x86_64, args: [0n, 0n, 0n, 0n, a] }).ret;
        assert.equal(ret === ALLOW, truth(op, a, value, valueTwo), `${op} value ${value} valueTwo ${valueTwo} arg ${a}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 1000);
});

test("includes and excludes: capabilities (all of / any of), architectures and kernel versions", () => {
  const rules: SeccompRule[] = [
    { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"] } },
    { names: ["reboot"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_BOOT", "CAP_SYS_ADMIN"] } },
    { names: ["sync"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
    { names: ["syncfs"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["arm64", "s390x"] } },
    { names: ["ptrace"], action: "SCMP_ACT_ALLOW", includes: { minKernel: { major: 4, minor: 8 } } },
    { names: ["kcmp"], action: "SCMP_ACT_ALLOW", excludes: { minKernel: { major: 6, minor: 2 } } },
    { names: ["read"], action: "SCMP_ACT_ALLOW" },
  ];
  const profile: SeccompProfile = { defaultAction: "SCMP_ACT_ERRNO", syscalls: rules };
  const x = compiled(profile, "x86_64", [], "6.1.0-18-amd64");
  assert.equal(x("mount"), EPERM);
  assert.equal(compiled(profile, "x86_64", ["CAP_SYS_ADMIN"], "6.1")("mount"), EPERM, "includes.caps needs all of them");
  assert.equal(compiled(profile, "x86_64", ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], "6.1")("mount"), ALLOW);
  assert.equal(x("reboot"), ALLOW);
  assert.equal(compiled(profile, "x86_64", ["CAP_SYS_ADMIN"], "6.1")("reboot"), EPERM, "excludes.caps: any one drops the rule");
  assert.equal(x("sync"), ALLOW);
  assert.equal(x("syncfs"), ALLOW);
  const a = compiled(profile, "aarch64", [], "6.1");
  assert.equal(a("sync"), EPERM, "includes.arches amd64 only");
  assert.equal(a("syncfs"), EPERM, "excludes.arches arm64");
  assert.equal(x("ptrace"), ALLOW);
  assert.equal(compiled(profile, "x86_64", [], "4.4.0")("ptrace"), EPERM, "minKernel 4.8 on 4.4");
  assert.equal(compiled(profile, "x86_64", [], "4.10.3")("ptrace"), ALLOW, "4.10 ≥ 4.8");
  assert.equal(x("kcmp"), ALLOW, "6.1 is below excludes.minKernel 6.2");
  // Dropped, and as the highest call the profile named it is now newer than the profile.
  assert.equal(compiled(profile, "x86_64", [], "6.2.0-rc1")("kcmp"), RET_ENOSYS);
  assert.equal(compiled(profile, "x86_64", [], { major: 7, minor: 0 })("kcmp"), RET_ENOSYS);
  assert.throws(() => compileSeccompProgram(profile, { arch: "x86_64", caps: [] }), /minKernel/);
  assert.deepEqual(parseKernelRelease("6.1.0-18-amd64"), { major: 6, minor: 1 });
  assert.throws(() => parseKernelRelease("six"), /six/);
});

test("far jumps: a profile larger than a jump's reach gets trampolines and still decides every call", () => {
  const arch: SeccompArch = "x86_64";
  const rules: SeccompRule[] = [];
  const names = [...syscallTable(arch).keys()].slice(0, 220);
  names.forEach((name, i) => {
    rules.push({
      names: [name],
      action: i % 3 === 0 ? "SCMP_ACT_ALLOW" : "SCMP_ACT_ERRNO",
      errnoRet: i % 3 === 0 ? undefined : 1 + (i % 100),
      args: [
        { index: 0, value: BigInt(i), valueTwo: 0n, op: "SCMP_CMP_EQ" },
        { index: 1, value: (1n << 40n) + BigInt(i), valueTwo: 0n, op: "SCMP_CMP_GE" },
      ],
    });
  });
  const profile: SeccompProfile = { defaultAction: "SCMP_ACT_KILL_PROCESS", syscalls: rules };
  const program = compileSeccompProgram(profile, { arch, caps: [] });
  checkProgram(program);
  assert.ok(program.length > 1500, `${program.length} instructions`);
  assert.ok(program.some((i) => i.code === 0x05), "the program needed a ja");
  const expected = reference(profile, { arch, caps: [] });
  names.forEach((name, i) => {
    const nr = syscallNumber(arch, name)!;
    const argSets: bigint[][] = [[BigInt(i), (1n << 40n) + BigInt(i)], [BigInt(i), 1n << 40n], [BigInt(i + 1), 1n << 41n], []];
    for (const args of argSets) {
      const data: SeccompData = { nr, arch: AUDIT_ARCH[arch], args };
      assert.equal(runProgram(program, data).ret, expected(data), `${name} ${args}`);
    }
  });
  assert.equal(runProgram(program, { nr: 0, arch: AUDIT_ARCH_I386 }).ret, RET_ENOSYS);
});

test("a profile past the kernel's 4096 instructions is refused, naming the limit", () => {
  const rules: SeccompRule[] = [...syscallTable("x86_64").keys()].map((name, i) => ({
    names: [name],
    action: "SCMP_ACT_ALLOW",
    args: [1, 2, 3].map((index) => ({ index, value: (BigInt(i) << 33n) + 7n, valueTwo: 0n, op: "SCMP_CMP_GT" as const })),
  }));
  assert.throws(
    () => compileSeccompProgram({ defaultAction: "SCMP_ACT_ERRNO", syscalls: rules }, { arch: "x86_64", caps: [] }),
    (err: Error) => err.message.includes(`limit of ${BPF_MAXINSNS}`),
  );
  // Negative control: a third of it fits.
  const fits = compileSeccompProgram({ defaultAction: "SCMP_ACT_ERRNO", syscalls: rules.slice(0, 100) }, { arch: "x86_64", caps: [] });
  assert.ok(fits.length <= BPF_MAXINSNS);
});

test("the bytes: struct sock_filter, little-endian, arch check first", () => {
  const profile: SeccompProfile = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] };
  const buf = compileSeccomp(profile, { arch: "x86_64", caps: [] });
  assert.equal(buf.length % 8, 0);
  assert.deepEqual([...buf.subarray(0, 8)], [0x20, 0, 0, 0, 4, 0, 0, 0], "ld [4]: seccomp_data.arch");
  assert.deepEqual([...buf.subarray(8, 10)], [0x15, 0], "jeq, native falls through");
  assert.deepEqual([...buf.subarray(12, 16)], [0x3e, 0x00, 0x00, 0xc0], "AUDIT_ARCH_X86_64");
  assert.deepEqual([...buf.subarray(16, 24)], [0x20, 0, 0, 0, 0, 0, 0, 0], "ld [0]: seccomp_data.nr");
  const program = decodeProgram(buf);
  assert.ok(encodeProgram(program).equals(buf));
  const arm = decodeProgram(compileSeccomp(profile, { arch: "aarch64", caps: [] }));
  assert.equal(arm[1]!.k, 0xc00000b7);
  const run = (nr: number) => runProgram(program, { nr, arch: AUDIT_ARCH.x86_64 }).ret;
  assert.equal(run(165), EPERM, "mount");
  assert.equal(run(0), ALLOW);
  assert.equal(run(200000), ALLOW, "an allowing default: no ENOSYS for numbers above");
  assert.throws(() => decodeProgram(Buffer.alloc(12)), /12 bytes/);
});

test("seccomp flags become SECCOMP_FILTER_FLAG_* bits", () => {
  assert.equal(seccompFilterFlags({ defaultAction: "SCMP_ACT_ALLOW" }), 0);
  assert.equal(seccompFilterFlags({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] }), 6);
  assert.equal(seccompFilterFlags({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_TSYNC"] }), 1);
});
