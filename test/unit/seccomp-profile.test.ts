// parseProfile: what a Localhost seccomp profile may contain, and the errors that name the
// file, the line and the field when it contains something else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PoddError } from "../../supervisor/base/errors.ts";
import { formatProfile, parseProfile, PROFILE_MAX_BYTES, U64_MAX } from "../../supervisor/runtime/seccomp/profile.ts";

const FILE = "/var/lib/kubelet/seccomp/profiles/app.json";

function problems(text: string): string {
  try {
    parseProfile(text, FILE, { arch: "x86_64" });
  } catch (err) {
    assert.ok(err instanceof PoddError, String(err));
    assert.equal(err.code, "Invalid");
    return err.message;
  }
  assert.fail(`accepted: ${text}`);
}

const rule = (r: object) => JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [r] }, null, 2);

test("a valid profile: names or name, exact 64-bit values, includes/excludes, null for absent", () => {
  const text = `{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [{ "architecture": "SCMP_ARCH_X86_64", "subArchitectures": null }],
    "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "listenerPath": "",
    "syscalls": [
      { "names": ["read"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": {}, "excludes": null },
      { "name": "ioctl", "action": "SCMP_ACT_ALLOW",
        "args": [{ "index": 1, "value": 18446744073709551615, "valueTwo": 0, "op": "SCMP_CMP_NE" },
                 { "index": 5, "value": 9007199254740993, "op": "SCMP_CMP_LE" }] },
      { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"], "minKernel": "5.8" },
        "excludes": { "arches": ["s390x", "amd64"] }, "comment": "only with CAP_SYS_ADMIN" }
    ]
  }`;
  const { profile, warnings } = parseProfile(text, FILE, { arch: "x86_64" });
  assert.deepEqual(warnings, []);
  assert.equal(profile.defaultErrnoRet, 1);
  assert.deepEqual(profile.flags, ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
  assert.deepEqual(profile.syscalls![0], { names: ["read"], action: "SCMP_ACT_ALLOW", includes: {} });
  assert.deepEqual(profile.syscalls![1]!.names, ["ioctl"], "name becomes names");
  assert.equal(profile.syscalls![1]!.args![0]!.value, U64_MAX, "2^64-1, exactly");
  assert.equal(profile.syscalls![1]!.args![1]!.value, 9007199254740993n, "2^53+1, which a double cannot hold");
  assert.deepEqual(profile.syscalls![2]!.includes, { caps: ["CAP_SYS_ADMIN"], minKernel: { major: 5, minor: 8 } });
  const again = parseProfile(formatProfile(profile), FILE, { arch: "x86_64" }).profile;
  assert.deepEqual(again, profile, "formatProfile writes what parseProfile reads back");
});

test("warnings: names the architecture lacks are ignored, and 32-bit ABIs are said to be refused", () => {
  const text = JSON.stringify({
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: ["read", "chown32", "frobnicate"], action: "SCMP_ACT_ALLOW" },
      { names: ["s390_runtime_instr"], action: "SCMP_ACT_ALLOW", includes: { arches: ["s390x"] } },
    ],
  });
  const x86 = parseProfile(text, FILE, { arch: "x86_64" }).warnings;
  assert.equal(x86.length, 2);
  assert.match(x86[0]!, /SCMP_ARCH_X86 and SCMP_ARCH_X32 are listed.*ENOSYS.*Unconfined/);
  assert.match(x86[1]!, new RegExp(`^${FILE}: .*ignored: chown32, frobnicate$`), "a rule for s390x only is not about this machine");
  const arm = parseProfile(text, FILE, { arch: "aarch64" }).warnings;
  assert.deepEqual(arm.length, 1, "the x86 sub-architectures are not aarch64's");
  const mapped = JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", archMap: [{ architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] }] });
  assert.match(parseProfile(mapped, FILE, { arch: "aarch64" }).warnings[0]!, /SCMP_ARCH_ARM is listed/);
  assert.deepEqual(parseProfile(mapped, FILE, { arch: "x86_64" }).warnings, []);
});

test("errors name the file, line, column and field", () => {
  const text = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "syscalls": [
    { "names": ["read"], "action": "SCMP_ACT_ALOW" }
  ]
}`;
  assert.equal(
    problems(text),
    `${FILE}:4:36: syscalls[0].action: unknown action "SCMP_ACT_ALOW"; one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG`,
  );
});

test("every problem is listed, not only the first", () => {
  const msg = problems(JSON.stringify({ defaultAction: "SCMP_ACT_NOPE", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }, { action: 3 }] }));
  assert.match(msg, /^seccomp profile .*app\.json: 4 problems\n/);
  assert.match(msg, /defaultAction: unknown action "SCMP_ACT_NOPE"/);
  assert.match(msg, /syscalls\[0\]\.names: is empty/);
  assert.match(msg, /syscalls\[1\]\.names: is required/);
  assert.match(msg, /syscalls\[1\]\.action: must be a string, not 3/);
});

test("refused with a reason: SCMP_ACT_NOTIFY, SCMP_ACT_TRACE, listenerPath and the listener flags", () => {
  assert.match(problems(rule({ names: ["read"], action: "SCMP_ACT_NOTIFY" })), /syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported by podd: .*seccomp agent/);
  assert.match(problems(rule({ names: ["read"], action: "SCMP_ACT_TRACE" })), /SCMP_ACT_TRACE is not supported by podd: .*ptrace/);
  assert.match(problems(JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", listenerPath: "/run/agent.sock" })), /:1:\d+: listenerPath: is not supported by podd/);
  assert.match(problems(JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", listenerMetadata: "x" })), /listenerMetadata: is not supported/);
  assert.match(problems(JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] })), /flags\[0\]: .*not supported by podd/);
  assert.match(problems(JSON.stringify({ defaultAction: "SCMP_ACT_NOTIFY" })), /^\S+:1:\d+: defaultAction: SCMP_ACT_NOTIFY is not supported/);
});

test("unknown fields, operators, architectures, capabilities and flags are errors", () => {
  const cases: [string, RegExp][] = [
    [JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", syscall: [] }), /syscall: unknown field; known here: defaultAction, .*syscalls/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", arg: [] }), /syscalls\[0\]\.arg: unknown field/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ", valuetwo: 1 }] }), /syscalls\[0\]\.args\[0\]\.valuetwo: unknown field/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_MASKED" }] }), /args\[0\]\.op: unknown operator "SCMP_CMP_MASKED"; one of SCMP_CMP_NE, .*SCMP_CMP_MASKED_EQ/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMN"] } }), /includes\.caps\[0\]: unknown capability "CAP_SYS_ADMN"/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd46"] } }), /excludes\.arches\[0\]: unknown architecture "amd46"/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { kernel: "5.8" } }), /includes\.kernel: unknown field; known here: caps, arches, minKernel/],
    [JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_AMD64"] }), /architectures\[0\]: unknown architecture "SCMP_ARCH_AMD64"/],
    [JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", archMap: [{ architecture: "SCMP_ARCH_X86_64", subArches: [] }] }), /archMap\[0\]\.subArches: unknown field/],
    [JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", flags: ["SECCOMP_FILTER_FLAG_LOGS"] }), /flags\[0\]: unknown flag "SECCOMP_FILTER_FLAG_LOGS"/],
  ];
  for (const [text, re] of cases) assert.match(problems(text), re, text);
});

test("numbers: integers only, in range, exact", () => {
  const arg = (a: object) => rule({ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ", ...a }] });
  const cases: [string, RegExp][] = [
    [arg({ index: 6 }), /args\[0\]\.index: must be an integer from 0 to 5, not 6/],
    [arg({ index: -1 }), /index: must be an integer from 0 to 5, not -1/],
    [arg({ index: "0" }), /index: must be an integer from 0 to 5, not the string "0"/],
    [arg({ value: 1.5 }), /value: must be an integer from 0 to 18446744073709551615, not 1.5/],
    [arg({ value: -1 }), /value: must be an integer/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, valueTwo: 1, op: "SCMP_CMP_EQ" }] }), /valueTwo: is only used by SCMP_CMP_MASKED_EQ, and the operator is SCMP_CMP_EQ/],
    [rule({ names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 4096 }), /errnoRet: must be an integer from 0 to 4095, not 4096/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", errnoRet: 1 }), /errnoRet: only SCMP_ACT_ERRNO returns an errno, and the action is SCMP_ACT_ALLOW/],
    [JSON.stringify({ defaultAction: "SCMP_ACT_KILL", defaultErrnoRet: 1 }), /defaultErrnoRet: only SCMP_ACT_ERRNO returns an errno/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, op: "SCMP_CMP_EQ" }] }), /args\[0\]\.value: is required/],
  ];
  for (const [text, re] of cases) assert.match(problems(text), re, text);
  assert.match(problems(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1e3,"op":"SCMP_CMP_EQ"}]}]}`), /value: must be an integer from 0 to \d+, not 1e3/);
  assert.match(problems(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}`), /not 18446744073709551616/);
});

test("names, required fields and the shape of the document", () => {
  const cases: [string, RegExp][] = [
    [JSON.stringify({ syscalls: [] }), /:1:1: defaultAction: is required \(a profile that allows everything is seccompProfile type Unconfined\)/],
    [rule({ names: ["read"], name: "write", action: "SCMP_ACT_ALLOW" }), /syscalls\[0\]\.name: and names are both set; use names/],
    [rule({ names: ["Read"], action: "SCMP_ACT_ALLOW" }), /names\[0\]: "Read" is no system call name/],
    [rule({ names: "read", action: "SCMP_ACT_ALLOW" }), /syscalls\[0\]\.names: must be a list, not the string "read"/],
    [rule({ names: ["read"] }), /syscalls\[0\]\.action: is required/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "5" } }), /minKernel: must be a kernel version such as "5.8", not "5"/],
    [rule({ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "0.0" } }), /minKernel: must be a kernel version/],
    [JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"], archMap: [] }), /archMap: and architectures are both set/],
    [JSON.stringify([]), /must be an object, not a list/],
    ['{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"}', /:1:37: defaultAction: appears twice/],
    ['{"defaultAction": "SCMP_ACT_ERRNO",}', new RegExp(`^${FILE}: not valid JSON: `)],
    ["", /not valid JSON/],
  ];
  for (const [text, re] of cases) assert.match(problems(text), re, text);
});

test("size and depth are bounded", () => {
  const big = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[${'{"names":["read"],"action":"SCMP_ACT_ALLOW"},'.repeat(25_000)}{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`;
  assert.ok(Buffer.byteLength(big) > PROFILE_MAX_BYTES);
  assert.match(problems(big), new RegExp(`^${FILE}: seccomp profile is \\d+ bytes, more than the limit of ${PROFILE_MAX_BYTES}$`));
  // Negative control: the same shape under the limit is read.
  const small = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[${'{"names":["read"],"action":"SCMP_ACT_ALLOW"},'.repeat(1000)}{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`;
  assert.equal(parseProfile(small, FILE, { arch: "x86_64" }).profile.syscalls!.length, 1001);
  assert.match(problems(`{"defaultAction":"SCMP_ACT_ERRNO","flags":${"[".repeat(40)}${"]".repeat(40)}}`), /nested more than 16 levels deep/);
});
