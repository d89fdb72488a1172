// System call numbers of the two architectures podd runs on, and the AUDIT_ARCH values the
// kernel puts in seccomp_data.arch. The bulk comes from the kernel headers
// (syscalls-generated.ts, written by generate-syscalls.ts); the calls added after those
// headers are listed here by hand.
//
// A name added to a table is allowed by podd's RuntimeDefault profile unless
// default-profile.ts denies it: review it there in the same change.
import { PoddError } from "../../base/errors.ts";
import { AARCH64_FROM_HEADERS, X86_64_FROM_HEADERS } from "./syscalls-generated.ts";

export type SeccompArch = "x86_64" | "aarch64";
export const SECCOMP_ARCHES: readonly SeccompArch[] = ["x86_64", "aarch64"];

// <linux/audit.h>: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** what a 32-bit x86 program (or int 0x80 from a 64-bit one) shows on an x86_64 kernel */
export const AUDIT_ARCH_I386 = 0x40000003;
/** what an AArch32 program shows on an aarch64 kernel */
export const AUDIT_ARCH_ARM = 0x40000028;
export const AUDIT_ARCH: Readonly<Record<SeccompArch, number>> = { x86_64: AUDIT_ARCH_X86_64, aarch64: AUDIT_ARCH_AARCH64 };
/** x32 programs run with AUDIT_ARCH_X86_64 and this bit set in the system call number */
export const X32_SYSCALL_BIT = 0x40000000;

// Numbers from 424 on are shared by every architecture (the kernel's scripts/syscall.tbl),
// except where an architecture lacks a call. Each was checked against the kernel's tables.
const NEWER_COMMON: Readonly<Record<string, number>> = {
  cachestat: 451, // 6.5
  fchmodat2: 452, // 6.6
  map_shadow_stack: 453, // 6.6 on x86_64; 6.13 on aarch64 (guarded control stack)
  futex_wake: 454, // 6.7
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457, // 6.8
  listmount: 458,
  lsm_get_self_attr: 459, // 6.8
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462, // 6.10
  setxattrat: 463, // 6.13
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467, // 6.15
  file_getattr: 468, // 6.17
  file_setattr: 469,
};
const NEWER_X86_64: Readonly<Record<string, number>> = {
  uretprobe: 335, // 6.11, x86_64 only
};

function table(...parts: Readonly<Record<string, number>>[]): ReadonlyMap<string, number> {
  const byName = new Map<string, number>();
  const byNumber = new Map<number, string>();
  for (const part of parts) {
    for (const [name, nr] of Object.entries(part)) {
      const other = byNumber.get(nr);
      if (other !== undefined && other !== name) throw new Error(`syscall table: ${name} and ${other} both ${nr}`);
      byName.set(name, nr);
      byNumber.set(nr, name);
    }
  }
  return byName;
}

const TABLES: Readonly<Record<SeccompArch, ReadonlyMap<string, number>>> = {
  x86_64: table(X86_64_FROM_HEADERS, NEWER_X86_64, NEWER_COMMON),
  aarch64: table(AARCH64_FROM_HEADERS, NEWER_COMMON),
};

/** The system calls podd knows for `arch`: name → number. */
export function syscallTable(arch: SeccompArch): ReadonlyMap<string, number> {
  return TABLES[arch];
}

export function syscallNumber(arch: SeccompArch, name: string): number | undefined {
  return TABLES[arch].get(name);
}

/** The highest system call number podd knows for `arch`. */
export function highestSyscall(arch: SeccompArch): number {
  let max = 0;
  for (const nr of TABLES[arch].values()) max = Math.max(max, nr);
  return max;
}

/** The architecture of this process, as podd's tables name it. */
export function hostArch(nodeArch: string = process.arch): SeccompArch {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "aarch64";
  throw new PoddError(`seccomp: no system call table for architecture ${nodeArch}; podd knows x86_64 and aarch64`, {
    code: "Invalid",
  });
}
