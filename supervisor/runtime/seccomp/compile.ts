// A seccomp profile → the classic BPF program (struct sock_filter[]) that podd-init installs
// with prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER). Doing it here, rather than through
// libseccomp in the container's process, keeps podd-init small and static and lets the
// decisions be tested without root.
//
// The program:
//   1. loads seccomp_data.arch and answers ENOSYS to any ABI but the native one (i386 and
//      AArch32 programs; they need the Unconfined profile), before anything else;
//   2. loads the system call number and finds it by a balanced binary search (jge) over the
//      intervals of numbers that share a decision, so a call costs O(log n) instructions.
//      Numbers from 0x40000000 up (x32 calls on x86_64, and nothing valid anywhere) answer
//      ENOSYS. When the default action denies, numbers above the highest one the profile names
//      answer ENOSYS too, as runc does: they belong to kernels newer than the profile, and
//      ENOSYS is what makes glibc fall back to an older call;
//   3. for a call with argument rules, tries them in the profile's order (first match wins,
//      then the default action); each argument comparison is done on the two 32-bit halves.
//
// How a profile reads: a rule applies when its includes hold (every cap present, the native
// arch listed, the kernel at least minKernel) and its excludes do not (any cap present, the
// native arch listed, the kernel at least minKernel), as Docker decides. A rule's conditions
// are ANDed unless two name the same argument (then ORed, as runc does). Names the table
// lacks are skipped. Where libseccomp would merge overlapping rules, podd keeps the order
// they were written in, so a profile says what it means; SCMP_ACT_KILL is KILL_THREAD.
//
// Jumps are emitted from the end of the program backwards, so every target is placed before
// the jump that needs it; a conditional jump reaches 255 instructions at most, so a return
// out of reach is emitted again next to the jump and any other far target gets a `ja`.
import { PoddError } from "../../base/errors.ts";
import {
  RULE_ARCH_NAMES,
  type KernelVersion,
  type SeccompAction,
  type SeccompArg,
  type SeccompProfile,
  type SeccompRule,
  MAX_ERRNO,
  U64_MAX,
  SECCOMP_OPERATORS,
} from "./profile.ts";
import { AUDIT_ARCH, X32_SYSCALL_BIT, syscallNumber, type SeccompArch } from "./syscalls.ts";

// <linux/seccomp.h>
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_FILTER_FLAG_TSYNC = 1;
export const SECCOMP_FILTER_FLAG_LOG = 2;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;

export const EPERM = 1;
export const ENOSYS = 38;

/** The kernel refuses longer classic BPF programs. */
export const BPF_MAXINSNS = 4096;

// <linux/filter.h> opcodes, the subset seccomp filters use here.
export const BPF_LD_W_ABS = 0x20;
export const BPF_ALU_AND_K = 0x54;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGT_K = 0x25;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

/** struct seccomp_data: nr u32, arch u32, instruction_pointer u64, args u64[6] */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_ARGS = 16;
export const SECCOMP_DATA_SIZE = 64;

/** One struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export interface CompileOptions {
  arch: SeccompArch;
  /**
   * The container's capabilities, "CAP_SYS_ADMIN" or "SYS_ADMIN": a rule's includes.caps
   * applies when all of its are here, its excludes.caps drops it when any is.
   */
  caps: Iterable<string>;
  /** The running kernel, as os.release() gives it or parsed; needed only by rules with minKernel. */
  kernel?: string | KernelVersion;
}

const RET_ENOSYS = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;

/** The program's bytes: struct sock_filter entries (u16 code, u8 jt, u8 jf, u32 k), little-endian. */
export function compileSeccomp(profile: SeccompProfile, options: CompileOptions): Buffer {
  return encodeProgram(compileSeccompProgram(profile, options));
}

export function encodeProgram(program: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return buf;
}

export function decodeProgram(buf: Buffer): SockFilter[] {
  if (buf.length % 8 !== 0) throw new PoddError(`seccomp program of ${buf.length} bytes is no whole number of instructions`);
  const out: SockFilter[] = [];
  for (let i = 0; i < buf.length; i += 8) {
    out.push({ code: buf.readUInt16LE(i), jt: buf.readUInt8(i + 2), jf: buf.readUInt8(i + 3), k: buf.readUInt32LE(i + 4) });
  }
  return out;
}

/** The seccomp(2) flags a profile asks for (SECCOMP_FILTER_FLAG_*). */
export function seccompFilterFlags(profile: SeccompProfile): number {
  let flags = 0;
  for (const f of profile.flags ?? []) {
    if (f === "SECCOMP_FILTER_FLAG_TSYNC") flags |= SECCOMP_FILTER_FLAG_TSYNC;
    else if (f === "SECCOMP_FILTER_FLAG_LOG") flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (f === "SECCOMP_FILTER_FLAG_SPEC_ALLOW") flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  }
  return flags;
}

/** "6.1.0-18-amd64" → 6.1, as Docker compares minKernel (minor revisions and suffixes ignored). */
export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new PoddError(`kernel release ${JSON.stringify(release)} does not start with <version>.<major revision>`, { code: "Invalid" });
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** The SECCOMP_RET_* value of an action. */
export function actionValue(action: SeccompAction, errno: number | undefined): number {
  switch (action) {
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET_ALLOW;
    case "SCMP_ACT_ERRNO": {
      const e = errno ?? EPERM;
      if (!Number.isInteger(e) || e < 0 || e > MAX_ERRNO) throw new PoddError(`seccomp: errno ${e} is out of range 0..${MAX_ERRNO}`);
      return (SECCOMP_RET_ERRNO | e) >>> 0;
    }
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET_KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET_TRAP;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET_LOG;
    default:
      throw new PoddError(`seccomp: unknown action ${String(action)}`);
  }
}

interface CompiledRule {
  conds: readonly SeccompArg[];
  ret: number;
}

type Decision = { ret: number } | { rules: readonly CompiledRule[]; fallback: number };

interface Interval {
  /** first system call number; the interval ends where the next begins */
  start: number;
  decision: Decision;
}

export function compileSeccompProgram(profile: SeccompProfile, options: CompileOptions): SockFilter[] {
  const { arch } = options;
  const caps = new Set<string>();
  for (const c of options.caps) {
    const upper = c.toUpperCase();
    caps.add(upper.startsWith("CAP_") ? upper : `CAP_${upper}`);
  }
  let kernel: KernelVersion | undefined;
  const kernelAtLeast = (min: KernelVersion): boolean => {
    if (options.kernel === undefined) {
      throw new PoddError("seccomp: a rule has minKernel, and the kernel version was not given to the compiler");
    }
    kernel ??= typeof options.kernel === "string" ? parseKernelRelease(options.kernel) : options.kernel;
    return kernel.major !== min.major ? kernel.major > min.major : kernel.minor >= min.minor;
  };
  const applies = (rule: SeccompRule): boolean => {
    const mine = RULE_ARCH_NAMES[arch];
    const ex = rule.excludes;
    if (ex?.arches?.some((a) => mine.includes(a))) return false;
    if (ex?.caps?.some((c) => caps.has(c))) return false;
    if (ex?.minKernel && kernelAtLeast(ex.minKernel)) return false;
    const inc = rule.includes;
    if (inc?.arches?.length && !inc.arches.some((a) => mine.includes(a))) return false;
    if (inc?.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
    if (inc?.minKernel && !kernelAtLeast(inc.minKernel)) return false;
    return true;
  };

  const defaultRet = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const bySyscall = new Map<number, CompiledRule[]>();
  let highestNamed = -1;
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule)) continue;
    const ret = actionValue(rule.action, rule.errnoRet);
    const args = rule.args ?? [];
    args.forEach(checkArg);
    // runc's reading: conditions on distinct arguments are ANDed, but when two conditions name
    // the same argument each becomes a rule of its own (ORed). Profiles written for Docker
    // rely on it.
    const indexes = new Set(args.map((a) => a.index));
    const alternatives = indexes.size === args.length ? [args] : args.map((a) => [a]);
    for (const name of rule.names) {
      const nr = syscallNumber(arch, name);
      if (nr === undefined) continue; // not on this architecture or unknown to podd: skipped, as runc does
      highestNamed = Math.max(highestNamed, nr);
      let list = bySyscall.get(nr);
      if (!list) bySyscall.set(nr, (list = []));
      for (const conds of alternatives) list.push({ conds, ret });
    }
  }

  const decisions = new Map<number, Decision>();
  for (const [nr, rules] of bySyscall) decisions.set(nr, decide(rules, defaultRet));

  const denies = profile.defaultAction !== "SCMP_ACT_ALLOW" && profile.defaultAction !== "SCMP_ACT_LOG";
  const enosysAbove = denies && defaultRet !== RET_ENOSYS && highestNamed >= 0 ? highestNamed : undefined;
  const intervals = buildIntervals(decisions, defaultRet, enosysAbove);

  const e = new BackwardEmitter();
  const dispatch = emitSearch(e, intervals, 0, intervals.length - 1);
  const loadNr = e.load(SECCOMP_DATA_NR, dispatch);
  const archCheck = e.jump(BPF_JMP_JEQ_K, AUDIT_ARCH[arch], loadNr, { ret: RET_ENOSYS });
  e.load(SECCOMP_DATA_ARCH, archCheck);
  const program = e.program();

  if (program[program.length - 1]?.code !== BPF_RET_K) throw new PoddError("seccomp: compiled program does not end in a return");
  if (program.length > BPF_MAXINSNS) {
    throw new PoddError(
      `seccomp profile compiles to ${program.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}; ` +
        "use fewer argument rules",
      { code: "Invalid" },
    );
  }
  return program;
}

function checkArg(a: SeccompArg): void {
  const ok =
    Number.isInteger(a.index) && a.index >= 0 && a.index <= 5 &&
    typeof a.value === "bigint" && a.value >= 0n && a.value <= U64_MAX &&
    typeof a.valueTwo === "bigint" && a.valueTwo >= 0n && a.valueTwo <= U64_MAX &&
    (SECCOMP_OPERATORS as readonly string[]).includes(a.op);
  if (!ok) throw new PoddError(`seccomp: invalid argument condition ${JSON.stringify(a, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
}

/** First match wins: rules after an unconditional one never run, and trailing rules that give the fallback's answer need no code. */
function decide(rules: readonly CompiledRule[], defaultRet: number): Decision {
  const cut = rules.findIndex((r) => r.conds.length === 0);
  let fallback = defaultRet;
  let live = rules;
  if (cut !== -1) {
    fallback = rules[cut]!.ret;
    live = rules.slice(0, cut);
  }
  let end = live.length;
  while (end > 0 && live[end - 1]!.ret === fallback) end--;
  return end === 0 ? { ret: fallback } : { rules: live.slice(0, end), fallback };
}

function buildIntervals(decisions: Map<number, Decision>, defaultRet: number, enosysAbove: number | undefined): Interval[] {
  const raw: Interval[] = [];
  let next = 0;
  for (const nr of [...decisions.keys()].sort((a, b) => a - b)) {
    if (nr >= X32_SYSCALL_BIT) throw new PoddError(`seccomp: system call number ${nr} is out of range`);
    if (nr > next) raw.push({ start: next, decision: { ret: defaultRet } });
    raw.push({ start: nr, decision: decisions.get(nr)! });
    next = nr + 1;
  }
  if (enosysAbove !== undefined) raw.push({ start: enosysAbove + 1, decision: { ret: RET_ENOSYS } });
  else raw.push({ start: next, decision: { ret: defaultRet } });
  raw.push({ start: X32_SYSCALL_BIT, decision: { ret: RET_ENOSYS } });

  const merged: Interval[] = [];
  for (const iv of raw) {
    const last = merged[merged.length - 1];
    if (last && "ret" in last.decision && "ret" in iv.decision && last.decision.ret === iv.decision.ret) continue;
    merged.push(iv);
  }
  return merged;
}

type Target = { ret: number } | { at: number };

/**
 * Builds a program from its last instruction to its first. Positions count from the end
 * (the last instruction is 0), so a target emitted earlier keeps its position while code is
 * put in front of it.
 */
class BackwardEmitter {
  private readonly reversed: SockFilter[] = [];
  /** the position of the copy of each return nearest to the code being emitted */
  private readonly nearestRet = new Map<number, number>();

  private get next(): number {
    return this.reversed.length;
  }

  private push(code: number, k: number, jt = 0, jf = 0): { at: number } {
    this.reversed.push({ code, jt, jf, k: k >>> 0 });
    return { at: this.reversed.length - 1 };
  }

  /** how far an instruction at `from` jumps to reach t, if it exists yet */
  private offset(t: Target, from: number): number | undefined {
    const at = "at" in t ? t.at : this.nearestRet.get(t.ret);
    return at === undefined ? undefined : from - at - 1;
  }

  private same(a: Target, b: Target): boolean {
    if ("ret" in a && "ret" in b) return a.ret === b.ret;
    const pa = "at" in a ? a.at : undefined;
    const pb = "at" in b ? b.at : undefined;
    return pa !== undefined && pa === pb;
  }

  ret(k: number): { at: number } {
    const t = this.push(BPF_RET_K, k);
    this.nearestRet.set(k >>> 0, t.at);
    return t;
  }

  private ja(t: { at: number }): { at: number } {
    return this.push(BPF_JMP_JA, this.next - t.at - 1);
  }

  /** Puts t right after the instruction emitted next (it is reached by falling through). */
  private fallInto(t: Target): void {
    if (this.offset(t, this.next) === 0) return;
    if ("ret" in t) this.ret(t.ret);
    else this.ja(t);
  }

  load(offset: number, next: Target): { at: number } {
    this.fallInto(next);
    return this.push(BPF_LD_W_ABS, offset);
  }

  and(mask: number, next: Target): { at: number } {
    this.fallInto(next);
    return this.push(BPF_ALU_AND_K, mask);
  }

  /** if (A <op> k) goto t else goto f; out-of-reach targets get a copy (returns) or a `ja` placed after the jump. */
  jump(code: number, k: number, t: Target, f: Target): Target {
    if (this.same(t, f)) return t;
    for (;;) {
      const ot = this.offset(t, this.next);
      const of = this.offset(f, this.next);
      const tOk = ot !== undefined && ot <= 255;
      const fOk = of !== undefined && of <= 255;
      if (tOk && fOk) return this.push(code, k, ot, of);
      const far = fOk ? t : f;
      const near = "ret" in far ? this.ret(far.ret) : this.ja(far);
      // A return both sides share now has a copy in reach of both.
      if ("ret" in t && "ret" in far && t.ret === far.ret) t = near;
      if ("ret" in f && "ret" in far && f.ret === far.ret) f = near;
      if (far === t) t = near;
      if (far === f) f = near;
    }
  }

  program(): SockFilter[] {
    return [...this.reversed].reverse();
  }
}

/** Balanced binary search over the intervals lo..hi; A holds the system call number. */
function emitSearch(e: BackwardEmitter, intervals: readonly Interval[], lo: number, hi: number): Target {
  if (lo === hi) return emitDecision(e, intervals[lo]!.decision);
  const mid = (lo + hi + 1) >> 1;
  // The right half is emitted first so that the left half falls right after the jump.
  const right = emitSearch(e, intervals, mid, hi);
  const left = emitSearch(e, intervals, lo, mid - 1);
  return e.jump(BPF_JMP_JGE_K, intervals[mid]!.start, right, left);
}

function emitDecision(e: BackwardEmitter, d: Decision): Target {
  if ("ret" in d) return { ret: d.ret };
  let next: Target = { ret: d.fallback };
  for (let i = d.rules.length - 1; i >= 0; i--) {
    const rule = d.rules[i]!;
    let match: Target = { ret: rule.ret };
    for (let j = rule.conds.length - 1; j >= 0; j--) match = emitCondition(e, rule.conds[j]!, match, next);
    next = match;
  }
  return next;
}

const LOW32 = 0xffffffffn;

/** Jumps to t when the 64-bit argument satisfies the condition, else to f. */
function emitCondition(e: BackwardEmitter, arg: SeccompArg, t: Target, f: Target): Target {
  // Both architectures are little-endian: the low word of args[i] comes first.
  const lo = SECCOMP_DATA_ARGS + 8 * arg.index;
  const hi = lo + 4;
  const vh = Number(arg.value >> 32n);
  const vl = Number(arg.value & LOW32);

  const eq = (yes: Target, no: Target): Target => {
    const low = e.load(lo, e.jump(BPF_JMP_JEQ_K, vl, yes, no));
    return e.load(hi, e.jump(BPF_JMP_JEQ_K, vh, low, no));
  };
  // arg >= value: the high word decides unless equal, then the low word does.
  const ge = (yes: Target, no: Target): Target => {
    if (vl === 0) return e.load(hi, e.jump(BPF_JMP_JGE_K, vh, yes, no));
    const low = e.load(lo, e.jump(BPF_JMP_JGE_K, vl, yes, no));
    const hiEq = e.jump(BPF_JMP_JEQ_K, vh, low, no);
    return e.load(hi, vh === 0xffffffff ? hiEq : e.jump(BPF_JMP_JGT_K, vh, yes, hiEq));
  };
  const gt = (yes: Target, no: Target): Target => {
    if (vl === 0xffffffff) return e.load(hi, e.jump(BPF_JMP_JGT_K, vh, yes, no));
    const low = e.load(lo, e.jump(BPF_JMP_JGT_K, vl, yes, no));
    const hiEq = e.jump(BPF_JMP_JEQ_K, vh, low, no);
    return e.load(hi, vh === 0xffffffff ? hiEq : e.jump(BPF_JMP_JGT_K, vh, yes, hiEq));
  };
  // (arg & value) == valueTwo, one word at a time; a word the mask clears compares as 0.
  const masked = (yes: Target, no: Target): Target => {
    const mh = vh;
    const ml = vl;
    const dh = Number(arg.valueTwo >> 32n);
    const dl = Number(arg.valueTwo & LOW32);
    // Bits the mask clears can never equal the datum's.
    if ((dh & ~mh) >>> 0 !== 0 || (dl & ~ml) >>> 0 !== 0) return no;
    const word = (offset: number, mask: number, datum: number, next: Target): Target => {
      if (mask === 0) return next;
      const cmp = e.jump(BPF_JMP_JEQ_K, datum, next, no);
      return e.load(offset, mask === 0xffffffff ? cmp : e.and(mask, cmp));
    };
    return word(hi, mh, dh, word(lo, ml, dl, yes));
  };

  switch (arg.op) {
    case "SCMP_CMP_EQ":
      return eq(t, f);
    case "SCMP_CMP_NE":
      return eq(f, t);
    case "SCMP_CMP_GE":
      return ge(t, f);
    case "SCMP_CMP_LT":
      return ge(f, t);
    case "SCMP_CMP_GT":
      return gt(t, f);
    case "SCMP_CMP_LE":
      return gt(f, t);
    case "SCMP_CMP_MASKED_EQ":
      return masked(t, f);
  }
}
