// cgroup v2 has no devices.allow: a device allow-list is an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup, which the kernel runs on every open and
// mknod of a device node by a task in the cgroup (and its descendants). The program sees
//   struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
// with access_type = (access << 16) | type, and returns 1 to allow, 0 to deny (EPERM). Here
// the rules become such a program, one test block per rule, in the order given:
//
//   r2 = ctx->access_type; r3 = r2 & 0xffff (type); r4 = r2 >> 16 (access)
//   r5 = ctx->major; r6 = ctx->minor
//   rule: if r3 != TYPE goto next; if r4 & ~ACCESS goto next;
//         if r5 != MAJOR goto next; if r6 != MINOR goto next; return 1
//   ...
//   return 0
//
// A wildcard or "every access" drops its test. The program is data (BpfInsn[]) so that a unit
// test can run it on an interpreter; encodeProgram gives the bytes bpf(BPF_PROG_LOAD) takes.
import type { DeviceRule } from "./devices.ts";
import { allowsAll, checkDeviceRules } from "./devices.ts";

/** include/uapi/linux/bpf.h: the type half of access_type. */
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
/** The access half (access_type >> 16): one or more of these. */
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

/** struct bpf_insn: opcode, destination and source register, jump offset, immediate. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes: class | operation | source (include/uapi/linux/bpf_common.h, bpf.h).
const BPF_LDX = 0x01;
const BPF_JMP = 0x05;
const BPF_ALU64 = 0x07;
const BPF_W = 0x00;
const BPF_MEM = 0x60;
const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_AND = 0x50;
const BPF_RSH = 0x70;
const BPF_MOV = 0xb0;
const BPF_JNE = 0x50;
const BPF_JSET = 0x40;
const BPF_EXIT = 0x90;

export const OP = {
  /** dst = *(u32 *)(src + off) */
  LDXW: BPF_LDX | BPF_W | BPF_MEM,
  /** dst = imm */
  MOV64_IMM: BPF_ALU64 | BPF_MOV | BPF_K,
  /** dst = src */
  MOV64_REG: BPF_ALU64 | BPF_MOV | BPF_X,
  /** dst &= imm */
  AND64_IMM: BPF_ALU64 | BPF_AND | BPF_K,
  /** dst >>= imm */
  RSH64_IMM: BPF_ALU64 | BPF_RSH | BPF_K,
  /** if dst != imm: pc += off */
  JNE_IMM: BPF_JMP | BPF_JNE | BPF_K,
  /** if dst & imm: pc += off */
  JSET_IMM: BPF_JMP | BPF_JSET | BPF_K,
  /** return r0 */
  EXIT: BPF_JMP | BPF_EXIT,
} as const;

const R0 = 0;
const R1 = 1; // the context on entry
const R_ACCESS_TYPE = 2;
const R_TYPE = 3;
const R_ACCESS = 4;
const R_MAJOR = 5;
const R_MINOR = 6;

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

function accessMask(access: string): number {
  return (access.includes("m") ? BPF_DEVCG_ACC_MKNOD : 0) | (access.includes("r") ? BPF_DEVCG_ACC_READ : 0) | (access.includes("w") ? BPF_DEVCG_ACC_WRITE : 0);
}

const ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

/** The program that allows exactly what the rules allow. */
export function deviceProgram(rules: readonly DeviceRule[]): BpfInsn[] {
  checkDeviceRules(rules);
  const ret = (v: 0 | 1) => [insn(OP.MOV64_IMM, R0, 0, 0, v), insn(OP.EXIT, 0, 0, 0, 0)];
  if (allowsAll(rules)) return ret(1);
  const prog: BpfInsn[] = [
    insn(OP.LDXW, R_ACCESS_TYPE, R1, 0, 0),
    insn(OP.MOV64_REG, R_TYPE, R_ACCESS_TYPE, 0, 0),
    insn(OP.AND64_IMM, R_TYPE, 0, 0, 0xffff),
    insn(OP.MOV64_REG, R_ACCESS, R_ACCESS_TYPE, 0, 0),
    insn(OP.RSH64_IMM, R_ACCESS, 0, 0, 16),
    insn(OP.LDXW, R_MAJOR, R1, 4, 0),
    insn(OP.LDXW, R_MINOR, R1, 8, 0),
  ];
  for (const r of rules) {
    // Each test jumps past the block's end (its "return 1") when it fails: off is filled in
    // once the block's length is known.
    const tests: BpfInsn[] = [];
    tests.push(insn(OP.JNE_IMM, R_TYPE, 0, 0, r.type === "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    const denied = ALL_ACCESS & ~accessMask(r.access);
    if (denied !== 0) tests.push(insn(OP.JSET_IMM, R_ACCESS, 0, 0, denied));
    if (r.major !== "*") tests.push(insn(OP.JNE_IMM, R_MAJOR, 0, 0, r.major));
    if (r.minor !== "*") tests.push(insn(OP.JNE_IMM, R_MINOR, 0, 0, r.minor));
    const block = [...tests, ...ret(1)];
    // A jump lands at pc + 1 + off; the next block starts at block.length.
    tests.forEach((t, i) => (t.off = block.length - (i + 1)));
    prog.push(...block);
  }
  prog.push(...ret(0));
  return prog;
}

/** struct bpf_insn in memory: u8 code, u8 dst_reg:4 src_reg:4, s16 off, s32 imm, little-endian
 * (x86-64 and aarch64; the bit-field puts dst_reg in the low nibble there). */
export function encodeProgram(prog: readonly BpfInsn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const view = new DataView(out.buffer);
  prog.forEach((p, i) => {
    view.setUint8(i * 8, p.code);
    view.setUint8(i * 8 + 1, (p.dst & 0xf) | ((p.src & 0xf) << 4));
    view.setInt16(i * 8 + 2, p.off, true);
    view.setInt32(i * 8 + 4, p.imm, true);
  });
  return out;
}

/** The inverse of encodeProgram, for tests and for reading a program back. */
export function decodeProgram(bytes: Uint8Array): BpfInsn[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prog: BpfInsn[] = [];
  for (let at = 0; at + 8 <= bytes.byteLength; at += 8) {
    const regs = view.getUint8(at + 1);
    prog.push({ code: view.getUint8(at), dst: regs & 0xf, src: regs >> 4, off: view.getInt16(at + 2, true), imm: view.getInt32(at + 4, true) });
  }
  return prog;
}
