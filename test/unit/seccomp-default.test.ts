// podd's RuntimeDefault seccomp profile, compiled for both architectures and run through a
// BPF interpreter: what a container may and may not call, what a capability unlocks, and that
// the compiled binary search decides every known system call as a plain reading of the
// profile does.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import * as gen from "../../supervisor/runtime/seccomp/generate-syscalls.ts";
import { AARCH64_FROM_HEADERS, X86_64_FROM_HEADERS } from "../../supervisor/runtime/seccomp/syscalls-generated.ts";
import { compileSeccomp, compileSeccompProgram, decodeProgram, type SockFilter } from "../../supervisor/runtime/seccomp/compile.ts";
import { ALLOWED_PERSONALITIES, DEFAULT_DENIED, DEFAULT_UNIMPLEMENTED, defaultProfile } from "../../supervisor/runtime/seccomp/default-profile.ts";
import { formatProfile, parseProfile } from "../../supervisor/runtime/seccomp/profile.ts";
import {
  AUDIT_ARCH,
  AUDIT_ARCH_ARM,
  AUDIT_ARCH_I386,
  SECCOMP_ARCHES,
  X32_SYSCALL_BIT,
  highestSyscall,
  hostArch,
  syscallNumber,
  syscallTable,
  type SeccompArch,
} from "../../supervisor/runtime/seccomp/syscalls.ts";
import { checkProgram, errnoRet, longestPath, reference, RET_ENOSYS, runProgram } from "./seccomp-bpf.ts";
import { seededRandom } from "../seeded-random.ts";

const ALLOW = 0x7fff0000;
const EPERM = errnoRet(1);
const CLONE_NEWUSER = 0x10000000n;
const CLONE_NEWNET = 0x40000000n;
// What glibc's fork() passes: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
const FORK_FLAGS = 0x01000000n | 0x00200000n | 17n;
// What pthread_create passes.
const THREAD_FLAGS = 0x3d0f00n;

const programs = new Map<string, SockFilter[]>();
function program(arch: SeccompArch, caps: readonly string[] = []): SockFilter[] {
  const key = `${arch} ${caps.join(",")}`;
  let p = programs.get(key);
  if (!p) {
    p = compileSeccompProgram(defaultProfile(), { arch, caps });
    checkProgram(p);
    programs.set(key, p);
  }
  return p;
}

function call(arch: SeccompArch, name: string, args: readonly bigint[] = [], caps: readonly string[] = []): number {
  const nr = syscallNumber(arch, name);
  assert.ok(nr !== undefined, `${arch} has ${name}`);
  return runProgram(program(arch, caps), { nr, arch: AUDIT_ARCH[arch], args }).ret;
}

for (const arch of SECCOMP_ARCHES) {
  test(`default profile on ${arch}: everyday calls are allowed`, () => {
    for (const name of ["read", "write", "openat", "close", "execve", "futex", "mmap", "brk", "exit_group", "newfstatat", "statx", "getrandom", "rseq", "ptrace", "process_vm_readv", "memfd_create", "io_setup", "bind", "accept4", "adjtimex", "clock_adjtime"]) {
      assert.equal(call(arch, name), ALLOW, name);
    }
    if (arch === "x86_64") for (const name of ["arch_prctl", "modify_ldt", "open", "stat", "fork", "uretprobe"]) assert.equal(call(arch, name), ALLOW, name);
  });

  test(`default profile on ${arch}: mounts and namespaces are EPERM, unless CAP_SYS_ADMIN`, () => {
    for (const name of ["mount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "pivot_root", "unshare", "setns", "sethostname", "setdomainname", "quotactl", "fanotify_init", "bpf", "perf_event_open", "syslog"]) {
      assert.equal(call(arch, name), EPERM, name);
      assert.equal(call(arch, name, [], ["CAP_SYS_ADMIN"]), ALLOW, `${name} with CAP_SYS_ADMIN`);
    }
    // The narrower capabilities newer Docker honours.
    assert.equal(call(arch, "bpf", [], ["CAP_BPF"]), ALLOW);
    assert.equal(call(arch, "perf_event_open", [], ["CAP_PERFMON"]), ALLOW);
    assert.equal(call(arch, "syslog", [], ["CAP_SYSLOG"]), ALLOW);
    assert.equal(call(arch, "mount", [], ["CAP_BPF", "CAP_SYSLOG"]), EPERM, "an unrelated capability unlocks nothing");
  });

  test(`default profile on ${arch}: each capability unlocks its group, and only that`, () => {
    for (const group of DEFAULT_DENIED) {
      for (const name of group.names) {
        if (syscallNumber(arch, name) === undefined) continue;
        assert.equal(call(arch, name), EPERM, `${name} without capabilities`);
        for (const cap of group.unlockedBy) assert.equal(call(arch, name, [], [cap]), ALLOW, `${name} with ${cap}`);
        if (group.unlockedBy.length === 0) {
          assert.equal(call(arch, name, [], ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_BOOT", "CAP_SYS_MODULE"]), EPERM, `${name} is never allowed`);
        }
      }
    }
    assert.equal(call(arch, "init_module", [], ["CAP_SYS_MODULE"]), ALLOW);
    assert.equal(call(arch, "reboot", [], ["CAP_SYS_BOOT"]), ALLOW);
    assert.equal(call(arch, "kexec_load", [], ["CAP_SYS_BOOT"]), EPERM);
    assert.equal(call(arch, "settimeofday", [], ["CAP_SYS_TIME"]), ALLOW);
    assert.equal(call(arch, "open_by_handle_at"), EPERM);
    assert.equal(call(arch, "open_by_handle_at", [], ["CAP_DAC_READ_SEARCH"]), ALLOW);
    assert.equal(call(arch, "kcmp", [], ["CAP_SYS_PTRACE"]), ALLOW);
    assert.equal(call(arch, "pidfd_getfd"), EPERM);
    assert.equal(call(arch, "mbind"), EPERM);
    assert.equal(call(arch, "mbind", [], ["CAP_SYS_NICE"]), ALLOW);
    assert.equal(call(arch, "chroot"), EPERM);
    assert.equal(call(arch, "chroot", [], ["CAP_SYS_CHROOT"]), ALLOW);
    assert.equal(call(arch, "chroot", [], ["SYS_CHROOT"]), ALLOW, "capability names without CAP_ work too");
  });

  test(`default profile on ${arch}: keyrings, io_uring and userfaultfd are EPERM`, () => {
    for (const name of ["keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "kexec_file_load", "swapon", "swapoff"]) {
      assert.equal(call(arch, name), EPERM, name);
      assert.equal(call(arch, name, [], ["CAP_SYS_ADMIN"]), EPERM, `${name} with CAP_SYS_ADMIN`);
    }
    assert.equal(call(arch, "userfaultfd", [], ["CAP_SYS_PTRACE"]), ALLOW);
    assert.equal(call(arch, "nfsservctl"), RET_ENOSYS, "a call no kernel implements answers as the kernel would");
  });

  test(`default profile on ${arch}: clone may not create namespaces without CAP_SYS_ADMIN; clone3 is ENOSYS`, () => {
    assert.equal(call(arch, "clone", [FORK_FLAGS]), ALLOW, "fork");
    assert.equal(call(arch, "clone", [THREAD_FLAGS]), ALLOW, "a thread");
    assert.equal(call(arch, "clone", [FORK_FLAGS | CLONE_NEWUSER]), EPERM, "CLONE_NEWUSER");
    assert.equal(call(arch, "clone", [CLONE_NEWNET]), EPERM, "CLONE_NEWNET");
    assert.equal(call(arch, "clone", [0x00020000n]), EPERM, "CLONE_NEWNS");
    assert.equal(call(arch, "clone", [(1n << 32n) | FORK_FLAGS]), ALLOW, "the upper word is not clone's flags");
    assert.equal(call(arch, "clone", [FORK_FLAGS | CLONE_NEWUSER], ["CAP_SYS_ADMIN"]), ALLOW);
    assert.equal(call(arch, "clone3"), RET_ENOSYS);
    assert.equal(call(arch, "clone3", [], ["CAP_SYS_ADMIN"]), ALLOW);
  });

  test(`default profile on ${arch}: personality only to Docker's safe values; AF_ALG and AF_VSOCK sockets refused`, () => {
    for (const v of ALLOWED_PERSONALITIES) assert.equal(call(arch, "personality", [BigInt(v)]), ALLOW, `personality(0x${v.toString(16)})`);
    assert.equal(call(arch, "personality", [0x400000n]), EPERM, "READ_IMPLIES_EXEC");
    assert.equal(call(arch, "personality", [0x0040000n]), EPERM, "ADDR_NO_RANDOMIZE");
    assert.equal(call(arch, "personality", [0x1_00000000n]), ALLOW, "the kernel reads an unsigned int: this is personality(0)");
    for (const family of [1n, 2n, 10n, 16n, 17n, 39n, 41n, 44n]) assert.equal(call(arch, "socket", [family, 1n]), ALLOW, `family ${family}`);
    assert.equal(call(arch, "socket", [40n, 1n]), EPERM, "AF_VSOCK");
    assert.equal(call(arch, "socket", [38n, 5n]), EPERM, "AF_ALG");
    assert.equal(call(arch, "socket", [0xffffffff_00000028n, 1n]), EPERM, "AF_VSOCK with garbage in the upper word (the kernel reads an int)");
  });

  test(`default profile on ${arch}: other ABIs, x32 numbers and unknown numbers are ENOSYS`, () => {
    const p = program(arch);
    assert.deepEqual(p[0], { code: 0x20, jt: 0, jf: 0, k: 4 }, "the first instruction loads the architecture");
    const other = arch === "x86_64" ? AUDIT_ARCH_I386 : AUDIT_ARCH_ARM;
    for (const nr of [0, 1, 3, 11, 120]) assert.equal(runProgram(p, { nr, arch: other }).ret, RET_ENOSYS, `non-native nr ${nr}`);
    const read = syscallNumber(arch, "read")!;
    assert.equal(runProgram(p, { nr: read, arch: AUDIT_ARCH[arch] }).ret, ALLOW, "negative control: the same number, native");
    assert.equal(runProgram(p, { nr: X32_SYSCALL_BIT | read, arch: AUDIT_ARCH[arch] }).ret, RET_ENOSYS, "x32 read");
    assert.equal(runProgram(p, { nr: X32_SYSCALL_BIT | syscallNumber(arch, "mount")!, arch: AUDIT_ARCH[arch] }).ret, RET_ENOSYS);
    const top = highestSyscall(arch);
    for (const nr of [top + 1, top + 2, 470, 1000, 0x3fffffff, 0xffffffff]) {
      assert.equal(runProgram(p, { nr, arch: AUDIT_ARCH[arch] }).ret, RET_ENOSYS, `nr ${nr}`);
    }
  });

  test(`default profile on ${arch}: the compiled search decides every number as a plain reading of the profile`, () => {
    const profile = defaultProfile();
    const random = seededRandom(0x5ecc0 + arch.length);
    const capSets: string[][] = [[], ["CAP_SYS_ADMIN"], ...[...new Set(DEFAULT_DENIED.flatMap((g) => g.unlockedBy))].map((c) => [c])];
    const numbers = new Set<number>();
    for (let nr = 0; nr <= highestSyscall(arch) + 64; nr++) numbers.add(nr);
    for (const nr of syscallTable(arch).values()) numbers.add(nr);
    for (const nr of [X32_SYSCALL_BIT - 1, X32_SYSCALL_BIT, X32_SYSCALL_BIT + 1, 0x80000000, 0xffffffff]) numbers.add(nr);
    const argSets: bigint[][] = [
      [],
      [FORK_FLAGS],
      [CLONE_NEWUSER],
      [40n],
      [38n],
      [0x20008n],
      ...Array.from({ length: 4 }, () => Array.from({ length: 6 }, () => BigInt(Math.floor(random() * 2 ** 32)) | (BigInt(Math.floor(random() * 4)) << 32n))),
    ];
    let checked = 0;
    for (const caps of capSets) {
      const p = program(arch, caps);
      const expected = reference(profile, { arch, caps });
      for (const nr of numbers) {
        for (const args of argSets) {
          const data = { nr, arch: AUDIT_ARCH[arch], args };
          assert.equal(runProgram(p, data).ret, expected(data), `nr ${nr} args ${args} caps ${caps}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 10_000);
  });
}

test("the comparison with the plain reading can fail: one changed bound in the search is caught", () => {
  const arch: SeccompArch = "x86_64";
  const p = program(arch).map((i) => ({ ...i }));
  const jge = p.findIndex((i) => i.code === 0x35 && i.k > 10 && i.k < 400);
  p[jge]!.k += 1;
  const expected = reference(defaultProfile(), { arch, caps: [] });
  const wrong = [...syscallTable(arch).values()].filter((nr) => {
    const data = { nr, arch: AUDIT_ARCH[arch] };
    return runProgram(p, data).ret !== expected(data);
  });
  assert.ok(wrong.length > 0, "a corrupted search must misjudge some call");
});

test("default profile: every name it denies, allows or leaves unimplemented is in a table (a typo would allow the call)", () => {
  const known = (n: string) => SECCOMP_ARCHES.some((a) => syscallNumber(a, n) !== undefined);
  for (const g of DEFAULT_DENIED) for (const n of g.names) assert.ok(known(n), n);
  for (const n of DEFAULT_UNIMPLEMENTED) assert.ok(known(n), n);
  for (const rule of defaultProfile().syscalls!) for (const n of rule.names) assert.ok(known(n), n);
  // Arch-specific names must exist where podd says they do.
  for (const n of ["iopl", "ioperm", "arch_prctl", "modify_ldt", "uretprobe"]) {
    assert.ok(syscallNumber("x86_64", n) !== undefined && syscallNumber("aarch64", n) === undefined, n);
  }
});

test("default profile: the system calls added by hand after the headers are decided on purpose", () => {
  const expected: Record<string, "allow" | "eperm"> = {
    cachestat: "allow", fchmodat2: "allow", map_shadow_stack: "allow", futex_wake: "allow", futex_wait: "allow",
    futex_requeue: "allow", statmount: "allow", listmount: "allow", mseal: "allow", setxattrat: "allow",
    getxattrat: "allow", listxattrat: "allow", removexattrat: "allow", file_getattr: "allow", file_setattr: "allow",
    lsm_get_self_attr: "eperm", lsm_set_self_attr: "eperm", lsm_list_modules: "eperm", open_tree_attr: "eperm",
  };
  for (const arch of SECCOMP_ARCHES) {
    for (const [name, verdict] of Object.entries(expected)) {
      assert.equal(syscallNumber(arch, name)! >= 451, true, `${arch} ${name}`);
      assert.equal(call(arch, name), verdict === "allow" ? ALLOW : EPERM, `${arch} ${name}`);
    }
    // Every number above the headers' 450 is one of these: a new one needs its verdict here.
    const above = [...syscallTable(arch)].filter(([, nr]) => nr > 450).map(([n]) => n).sort();
    assert.deepEqual(above, Object.keys(expected).sort(), arch);
  }
  assert.equal(syscallNumber("x86_64", "cachestat"), 451);
  assert.equal(syscallNumber("aarch64", "mseal"), 462);
  assert.equal(syscallNumber("x86_64", "file_setattr"), 469);
});

test("tables: well-known numbers, including the generic table's 64-bit names", () => {
  const x86: Record<string, number> = { read: 0, write: 1, open: 2, mmap: 9, clone: 56, fork: 57, execve: 59, fcntl: 72, fstatfs: 138, newfstatat: 262, clone3: 435, set_mempolicy_home_node: 450, uretprobe: 335 };
  const arm: Record<string, number> = { io_setup: 0, fcntl: 25, statfs: 43, fstatfs: 44, truncate: 45, ftruncate: 46, lseek: 62, sendfile: 71, newfstatat: 79, fstat: 80, clone: 220, mmap: 222, fadvise64: 223, execve: 221, renameat: 38, getrlimit: 163, clone3: 435, memfd_secret: 447 };
  for (const [n, nr] of Object.entries(x86)) assert.equal(syscallNumber("x86_64", n), nr, n);
  for (const [n, nr] of Object.entries(arm)) assert.equal(syscallNumber("aarch64", n), nr, n);
  for (const n of ["open", "fork", "stat", "fcntl64", "mmap2", "sync_file_range2", "clock_gettime64"]) assert.equal(syscallNumber("aarch64", n), undefined, n);
  assert.equal(AUDIT_ARCH.x86_64, 0xc000003e);
  assert.equal(AUDIT_ARCH.aarch64, 0xc00000b7);
  assert.equal(hostArch("x64"), "x86_64");
  assert.equal(hostArch("arm64"), "aarch64");
  assert.throws(() => hostArch("riscv64"), /riscv64/);
});

test("default profile: a binary search, not a scan: the longest path is logarithmic in the table", () => {
  for (const arch of SECCOMP_ARCHES) {
    const p = program(arch);
    const longest = longestPath(p);
    // Three instructions of preamble, a jge per level, and clone's or socket's argument checks.
    assert.ok(longest <= 3 + Math.ceil(Math.log2(p.length)) + 20, `${arch}: ${longest} of ${p.length}`);
    // A call at the end of the table costs what one at its start does, give or take a level
    // of the tree; a scan would cost a few hundred instructions more.
    const first = runProgram(p, { nr: syscallNumber(arch, "io_setup")!, arch: AUDIT_ARCH[arch] }).steps;
    const last = runProgram(p, { nr: highestSyscall(arch), arch: AUDIT_ARCH[arch] }).steps;
    assert.ok(Math.abs(first - last) <= Math.ceil(Math.log2(p.length)), `${arch}: ${first} vs ${last} steps`);
  }
});

test("default profile: written as JSON and read back, it compiles to the same bytes", () => {
  for (const arch of SECCOMP_ARCHES) {
    const text = formatProfile(defaultProfile());
    const { profile, warnings } = parseProfile(text, "default.json", { arch });
    for (const caps of [[], ["CAP_SYS_ADMIN"]]) {
      const a = compileSeccomp(defaultProfile(), { arch, caps });
      const b = compileSeccomp(profile, { arch, caps });
      assert.ok(a.equals(b), arch);
      assert.deepEqual(decodeProgram(a), program(arch, caps));
    }
    // The only names it warns about are those of the other architecture alone (the
    // unimplemented ones are not named: the default action answers them).
    const other = SECCOMP_ARCHES.find((a) => a !== arch)!;
    const theirs = [...syscallTable(other).keys()]
      .filter((n) => syscallNumber(arch, n) === undefined && !DEFAULT_UNIMPLEMENTED.includes(n))
      .sort();
    const warned = warnings.flatMap((w) => /ignored: (.*)$/.exec(w)?.[1]?.split(", ") ?? []);
    assert.deepEqual(warned, theirs, arch);
  }
});

test("tables: the generated part agrees with this machine's kernel headers", (t) => {
  if (!gen.HEADERS.every((h) => existsSync(h))) {
    t.skip("no kernel headers here (linux-libc-dev)");
    return;
  }
  // Newer headers may add calls, but a number, once given, never changes.
  const pairs: [Map<string, number>, Readonly<Record<string, number>>][] = [
    [gen.x86_64FromHeaders(), X86_64_FROM_HEADERS],
    [gen.aarch64FromHeaders(), AARCH64_FROM_HEADERS],
  ];
  for (const [fromHeaders, table] of pairs) {
    for (const [name, nr] of Object.entries(table)) assert.equal(fromHeaders.get(name), nr, name);
    assert.ok(fromHeaders.size >= Object.keys(table).length);
  }
});
