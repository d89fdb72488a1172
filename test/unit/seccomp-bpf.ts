// A classic BPF interpreter for seccomp programs (the subset podd's compiler emits, plus the
// scratch memory and X register for completeness), the kernel's load-time checks, and a
// reference evaluator of a profile that reads it the plain way — a linear scan of the rules
// with 64-bit comparisons — to compare the compiled program against.
import type { KernelVersion, SeccompArg, SeccompProfile, SeccompRule } from "../../supervisor/runtime/seccomp/profile.ts";
import { RULE_ARCH_NAMES } from "../../supervisor/runtime/seccomp/profile.ts";
import { actionValue, ENOSYS, SECCOMP_RET_ERRNO, type SockFilter } from "../../supervisor/runtime/seccomp/compile.ts";
import { AUDIT_ARCH, X32_SYSCALL_BIT, syscallNumber, type SeccompArch } from "../../supervisor/runtime/seccomp/syscalls.ts";

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: readonly bigint[];
}

const BPF_CLASS = (c: number) => c & 0x07;
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_STX = 0x03;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;

/** What the kernel's seccomp_check_filter and bpf_check_classic refuse; the message names the instruction. */
export function checkProgram(program: readonly SockFilter[]): void {
  if (program.length === 0 || program.length > 4096) throw new Error(`program length ${program.length}`);
  program.forEach((insn, pc) => {
    const where = `instruction ${pc} (code 0x${insn.code.toString(16)})`;
    if (insn.jt > 255 || insn.jf > 255 || insn.jt < 0 || insn.jf < 0) throw new Error(`${where}: jt/jf out of u8`);
    switch (insn.code) {
      case 0x20: // ld [k]
        if (insn.k % 4 !== 0 || insn.k >= 64) throw new Error(`${where}: load of seccomp_data offset ${insn.k}`);
        break;
      case 0x54: // and #k
      case 0x06: // ret #k
        break;
      case 0x05: // ja
        if (pc + 1 + insn.k >= program.length) throw new Error(`${where}: ja out of the program`);
        break;
      case 0x15: // jeq
      case 0x25: // jgt
      case 0x35: // jge
      case 0x45: // jset
        if (pc + 1 + Math.max(insn.jt, insn.jf) >= program.length) throw new Error(`${where}: jump out of the program`);
        break;
      default:
        throw new Error(`${where}: not an instruction podd's compiler emits`);
    }
  });
  if (program[program.length - 1]!.code !== 0x06) throw new Error("the last instruction is no return");
}

export interface RunResult {
  ret: number;
  /** instructions executed */
  steps: number;
}

export function runProgram(program: readonly SockFilter[], data: SeccompData): RunResult {
  const mem = Buffer.alloc(64);
  mem.writeUInt32LE(data.nr >>> 0, 0);
  mem.writeUInt32LE(data.arch >>> 0, 4);
  mem.writeBigUInt64LE(data.ip ?? 0n, 8);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let A = 0;
  let X = 0;
  const M = new Uint32Array(16);
  let pc = 0;
  let steps = 0;
  for (;;) {
    const insn = program[pc];
    if (!insn) throw new Error(`pc ${pc} ran off the program`);
    steps++;
    if (steps > 100_000) throw new Error("no end");
    const { code, jt, jf, k } = insn;
    pc++;
    switch (BPF_CLASS(code)) {
      case BPF_LD:
        if (code === 0x20) A = mem.readUInt32LE(k);
        else if (code === 0x00) A = k >>> 0; // ld #k
        else if (code === 0x60) A = M[k]!; // ld M[k]
        else throw new Error(`unsupported load 0x${code.toString(16)}`);
        break;
      case BPF_LDX:
        if (code === 0x01) X = k >>> 0;
        else if (code === 0x61) X = M[k]!;
        else throw new Error(`unsupported ldx 0x${code.toString(16)}`);
        break;
      case BPF_ST:
        M[k] = A;
        break;
      case BPF_STX:
        M[k] = X;
        break;
      case BPF_ALU:
        if (code === 0x54) A = (A & k) >>> 0;
        else throw new Error(`unsupported alu 0x${code.toString(16)}`);
        break;
      case BPF_JMP: {
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const kk = k >>> 0;
        const taken = op === 0x10 ? A === kk : op === 0x20 ? A > kk : op === 0x30 ? A >= kk : op === 0x40 ? (A & kk) !== 0 : undefined;
        if (taken === undefined || (code & 0x08) !== 0) throw new Error(`unsupported jump 0x${code.toString(16)}`);
        pc += taken ? jt : jf;
        break;
      }
      case BPF_RET:
        if (code !== 0x06) throw new Error("ret A is not used");
        return { ret: k >>> 0, steps };
      case BPF_MISC:
        if (code === 0x07) X = A;
        else A = X;
        break;
    }
  }
}

/** The most instructions any input can execute: every jump goes forward, so a pass from the end finds it. */
export function longestPath(program: readonly SockFilter[]): number {
  const longest = new Array<number>(program.length).fill(0);
  for (let pc = program.length - 1; pc >= 0; pc--) {
    const insn = program[pc]!;
    const at = (t: number) => longest[t] ?? 0;
    if (insn.code === 0x06) longest[pc] = 1;
    else if (insn.code === 0x05) longest[pc] = 1 + at(pc + 1 + insn.k);
    else if (BPF_CLASS(insn.code) === BPF_JMP) longest[pc] = 1 + Math.max(at(pc + 1 + insn.jt), at(pc + 1 + insn.jf));
    else longest[pc] = 1 + at(pc + 1);
  }
  return longest[0]!;
}

export function errnoRet(errno: number): number {
  return (SECCOMP_RET_ERRNO | errno) >>> 0;
}
export const RET_ENOSYS = errnoRet(ENOSYS);

const U64 = (1n << 64n) - 1n;

function argMatches(a: SeccompArg, args: readonly bigint[]): boolean {
  const v = BigInt.asUintN(64, args[a.index] ?? 0n);
  switch (a.op) {
    case "SCMP_CMP_EQ":
      return v === a.value;
    case "SCMP_CMP_NE":
      return v !== a.value;
    case "SCMP_CMP_LT":
      return v < a.value;
    case "SCMP_CMP_LE":
      return v <= a.value;
    case "SCMP_CMP_GT":
      return v > a.value;
    case "SCMP_CMP_GE":
      return v >= a.value;
    case "SCMP_CMP_MASKED_EQ":
      return (v & a.value & U64) === a.valueTwo;
  }
}

export interface ReferenceOptions {
  arch: SeccompArch;
  caps: readonly string[];
  kernel?: KernelVersion;
}

/**
 * The decision a profile means for one system call, by the rules as the profile states them:
 * non-native ABI → ENOSYS; then every applicable rule naming the call, in order, first match
 * wins (a rule's conditions ANDed, or ORed when two name the same argument); then ENOSYS above
 * the highest named number when the default denies; then the default.
 */
export function referenceDecision(profile: SeccompProfile, opts: ReferenceOptions, data: SeccompData): number {
  return reference(profile, opts)(data);
}

/** referenceDecision with the rules' filtering and names resolved once, for many calls. */
export function reference(profile: SeccompProfile, opts: ReferenceOptions): (data: SeccompData) => number {
  const caps = new Set(opts.caps);
  const mine = RULE_ARCH_NAMES[opts.arch];
  const atLeast = (m: KernelVersion) => {
    const k = opts.kernel!;
    return k.major !== m.major ? k.major > m.major : k.minor >= m.minor;
  };
  const applies = (r: SeccompRule) =>
    !(r.excludes?.arches?.some((a) => mine.includes(a)) ?? false) &&
    !(r.excludes?.caps?.some((c) => caps.has(c)) ?? false) &&
    !(r.excludes?.minKernel && atLeast(r.excludes.minKernel)) &&
    !(r.includes?.arches?.length && !r.includes.arches.some((a) => mine.includes(a))) &&
    !(r.includes?.caps?.length && !r.includes.caps.every((c) => caps.has(c))) &&
    !(r.includes?.minKernel && !atLeast(r.includes.minKernel));
  const rules = (profile.syscalls ?? []).filter(applies).map((r) => ({
    rule: r,
    numbers: new Set(r.names.map((n) => syscallNumber(opts.arch, n)).filter((nr) => nr !== undefined)),
  }));
  let highest = -1;
  for (const r of rules) for (const nr of r.numbers) highest = Math.max(highest, nr);
  const def = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const denies = profile.defaultAction !== "SCMP_ACT_ALLOW" && profile.defaultAction !== "SCMP_ACT_LOG";
  return (data) => {
    if (data.arch >>> 0 !== AUDIT_ARCH[opts.arch]) return RET_ENOSYS;
    const nr = data.nr >>> 0;
    if (nr >= X32_SYSCALL_BIT) return RET_ENOSYS;
    for (const { rule: r, numbers } of rules) {
      if (!numbers.has(nr)) continue;
      const args = r.args ?? [];
      const sameIndex = new Set(args.map((a) => a.index)).size !== args.length;
      const given = data.args ?? [];
      const match =
        args.length === 0 || (sameIndex ? args.some((a) => argMatches(a, given)) : args.every((a) => argMatches(a, given)));
      if (match) return actionValue(r.action, r.errnoRet);
    }
    if (denies && def !== RET_ENOSYS && highest >= 0 && nr > highest) return RET_ENOSYS;
    return def;
  };
}
