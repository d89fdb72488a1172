// The compiled programs on the running kernel: a child process sets no_new_privs (so no root
// is needed), installs one with prctl(PR_SET_SECCOMP), makes harmless system calls and
// reports what the kernel answered. This proves the kernel's own checker accepts podd's
// bytes and that the argument words sit where the compiler reads them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compileSeccomp } from "../../supervisor/runtime/seccomp/compile.ts";
import { defaultProfile } from "../../supervisor/runtime/seccomp/default-profile.ts";
import type { SeccompProfile } from "../../supervisor/runtime/seccomp/profile.ts";
import { X32_SYSCALL_BIT, hostArch, syscallNumber, type SeccompArch } from "../../supervisor/runtime/seccomp/syscalls.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

// Runs in the child: installs the program (unless none is given), then makes each call.
const CHILD = `
import koffi from "koffi";
const job = JSON.parse(process.env.PODD_SECCOMP_JOB);
const libc = koffi.load("libc.so.6");
const prctl = libc.func("int prctl(int option, ...)");
const syscall = libc.func("long syscall(long number, ...)");
const Fprog = koffi.struct("podd_sock_fprog", { len: "uint16_t", filter: "uint8_t *" });
if (job.program) {
  const program = Buffer.from(job.program, "base64");
  if (prctl(38, "unsigned long", 1, "unsigned long", 0, "unsigned long", 0, "unsigned long", 0) !== 0) throw new Error("PR_SET_NO_NEW_PRIVS: " + koffi.errno());
  if (prctl(22, "unsigned long", 2, koffi.pointer(Fprog), { len: program.length / 8, filter: program }) !== 0) {
    console.log(JSON.stringify({ installError: koffi.errno() }));
    process.exit(0);
  }
}
const results = job.calls.map(([nr, ...args]) => {
  const pairs = args.flatMap((a) => ["uint64_t", BigInt(a)]);
  const r = Number(syscall(nr, ...pairs));
  return r === -1 ? -koffi.errno() : r >= 0 ? 0 : r;
});
console.log(JSON.stringify({ results }));
`;

interface Call {
  name: string;
  nr: number;
  args: bigint[];
}

/** What each call returned: 0 for success, -errno for a failure. */
function runCalls(program: Buffer | undefined, calls: Call[]): number[] {
  const job = { program: program?.toString("base64"), calls: calls.map((c) => [c.nr, ...c.args.map(String)]) };
  const env: NodeJS.ProcessEnv = { ...process.env, PODD_SECCOMP_JOB: JSON.stringify(job) };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD], { cwd: root, env, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { results?: number[]; installError?: number };
  assert.equal(out.installError, undefined, `the kernel refused the program: errno ${out.installError}`);
  return out.results!;
}

const EPERM = -1;
const ENOSYS = -38;

let arch: SeccompArch | undefined;
try {
  arch = process.platform === "linux" ? hostArch() : undefined;
} catch {
  arch = undefined; // another architecture: no table to compile for, nothing to install
}

function calls(a: SeccompArch, list: [string, ...bigint[]][]): Call[] {
  return list.map(([name, ...args]) => {
    const nr = syscallNumber(a, name);
    assert.ok(nr !== undefined, name);
    return { name, nr, args };
  });
}

test("the default program on this kernel: accepted, and it answers as compiled", { skip: arch === undefined && "no seccomp table for this machine" }, () => {
  const a = arch!;
  const probes = calls(a, [
    ["getpid"],
    ["keyctl", 0n, 0xfffffffdn, 0n], // KEYCTL_GET_KEYRING_ID of the session keyring, without creating it
    ["clone3", 0n, 0n], // a NULL clone_args: EINVAL if the kernel saw it
    ["personality", 0xffffffffn], // the query
    ["personality", 0x400000n], // READ_IMPLIES_EXEC
    ["mount", 0n, 0n, 0n, 0n, 0n], // no target: EFAULT if the kernel saw it
    ["unshare", 0x10000000n], // CLONE_NEWUSER, of this short-lived child
    ["socket", 40n, 1n, 0n], // AF_VSOCK
  ]);
  probes.push({ name: "unknown", nr: 1000, args: [] }, { name: "x32 getpid", nr: X32_SYSCALL_BIT | 39, args: [] });
  const filtered = runCalls(compileSeccomp(defaultProfile(), { arch: a, caps: [] }), probes);
  const byName = Object.fromEntries(probes.map((p, i) => [`${p.name}(${p.args.join(",")})`, filtered[i]]));
  assert.deepEqual(byName, {
    "getpid()": 0,
    "keyctl(0,4294967293,0)": EPERM,
    "clone3(0,0)": ENOSYS,
    "personality(4294967295)": 0,
    "personality(4194304)": EPERM,
    "mount(0,0,0,0,0)": EPERM,
    "unshare(268435456)": EPERM,
    "socket(40,1,0)": EPERM,
    "unknown()": ENOSYS,
    "x32 getpid()": ENOSYS,
  });

  // Negative control: without the filter the same calls reach the kernel and get other answers.
  const open = runCalls(undefined, probes);
  assert.notEqual(open[1], EPERM, "keyctl without a filter");
  assert.equal(open[2], -22, "clone3 without a filter: EINVAL");
  assert.notEqual(open[4], EPERM, "personality without a filter");
});

test("argument words on this kernel: 64-bit comparisons of values past 32 bits", { skip: arch === undefined && "no seccomp table for this machine" }, () => {
  const a = arch!;
  const G = 1n << 32n;
  // Calls that take no arguments: the kernel ignores the words seccomp still sees.
  const profile: SeccompProfile = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 71, args: [{ index: 0, value: 5n * G + 7n, valueTwo: 0n, op: "SCMP_CMP_GE" }] },
      { names: ["getuid"], action: "SCMP_ACT_ERRNO", errnoRet: 72, args: [{ index: 5, value: 3n * G, valueTwo: 0n, op: "SCMP_CMP_EQ" }] },
      { names: ["getgid"], action: "SCMP_ACT_ERRNO", errnoRet: 73, args: [{ index: 2, value: 0xff00000000n, valueTwo: 0x1200000000n, op: "SCMP_CMP_MASKED_EQ" }] },
      { names: ["geteuid"], action: "SCMP_ACT_ERRNO", errnoRet: 74, args: [{ index: 1, value: G - 1n, valueTwo: 0n, op: "SCMP_CMP_GT" }, { index: 3, value: 9n, valueTwo: 0n, op: "SCMP_CMP_LT" }] },
    ],
  };
  const probes = calls(a, [
    ["getppid", 5n * G + 6n],
    ["getppid", 5n * G + 7n],
    ["getppid", 6n * G],
    ["getuid", 0n, 0n, 0n, 0n, 0n, 3n * G],
    ["getuid", 0n, 0n, 0n, 0n, 0n, 3n * G + 1n],
    ["getgid", 0n, 0n, 0x12abcdef01n],
    ["getgid", 0n, 0n, 0x13abcdef01n],
    ["geteuid", 0n, G, 0n, 8n],
    ["geteuid", 0n, G - 1n, 0n, 8n],
    ["geteuid", 0n, G, 0n, 9n],
  ]);
  const results = runCalls(compileSeccomp(profile, { arch: a, caps: [] }), probes);
  assert.deepEqual(results, [0, -71, -71, -72, 0, -73, 0, -74, 0, 0]);
});
