// The cgroup v2 device program, run on a small interpreter of the eBPF instructions it is made
// of: each default rule lets its device through for every access it names, and what the list
// does not name (a disk, a virtual console, a mknod of a block device) is denied. Beyond the
// default list, programs for other rule sets are checked against a direct reading of the rules
// over every type, access and a spread of device numbers. The interpreter refuses what the
// kernel's verifier would (unknown opcodes, context reads outside the struct, uninitialised
// registers, jumps backwards or out of the program), so a program it runs is one the kernel
// would load; the end-to-end test loads it for real.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  OP,
  decodeProgram,
  deviceProgram,
  encodeProgram,
} from "../../supervisor/cgroups/device-bpf.ts";
import type { BpfInsn } from "../../supervisor/cgroups/device-bpf.ts";
import { DEFAULT_DEVICE_RULES } from "../../supervisor/cgroups/devices.ts";
import type { DeviceRule } from "../../supervisor/cgroups/devices.ts";

interface Access {
  type: "b" | "c";
  major: number;
  minor: number;
  /** any of r, w, m */
  access: string;
}

const U64 = (1n << 64n) - 1n;
/** An imm is a signed 32-bit value, sign-extended to 64 bits by 64-bit operations. */
const imm64 = (imm: number) => BigInt.asUintN(64, BigInt(imm));

/** Runs prog on struct bpf_cgroup_dev_ctx for one access; returns r0 at exit. */
function run(prog: readonly BpfInsn[], a: Access): number {
  const access = (a.access.includes("m") ? BPF_DEVCG_ACC_MKNOD : 0) | (a.access.includes("r") ? BPF_DEVCG_ACC_READ : 0) | (a.access.includes("w") ? BPF_DEVCG_ACC_WRITE : 0);
  const ctx = [(access << 16) | (a.type === "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), a.major, a.minor];
  const CTX = Symbol("ctx");
  const regs: Array<bigint | typeof CTX | undefined> = new Array(11).fill(undefined);
  regs[1] = CTX;
  const val = (r: number): bigint => {
    const v = regs[r];
    if (v === undefined) throw new Error(`r${r} read before it was written`);
    if (v === CTX) throw new Error(`r${r} is the context pointer, not a number`);
    return v;
  };
  let pc = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    const i = prog[pc];
    if (i === undefined) throw new Error(`pc ${pc} outside the program (${prog.length} instructions)`);
    let next = pc + 1;
    switch (i.code) {
      case OP.LDXW: {
        if (regs[i.src] !== CTX) throw new Error(`ldxw from r${i.src}, which is not the context`);
        if (i.off % 4 !== 0 || i.off < 0 || i.off / 4 >= ctx.length) throw new Error(`invalid context access off=${i.off}`);
        regs[i.dst] = BigInt(ctx[i.off / 4]!);
        break;
      }
      case OP.MOV64_IMM:
        regs[i.dst] = imm64(i.imm);
        break;
      case OP.MOV64_REG:
        regs[i.dst] = regs[i.src] === CTX ? CTX : val(i.src);
        break;
      case OP.AND64_IMM:
        regs[i.dst] = val(i.dst) & imm64(i.imm);
        break;
      case OP.RSH64_IMM:
        regs[i.dst] = (val(i.dst) & U64) >> BigInt(i.imm & 63);
        break;
      case OP.JNE_IMM:
      case OP.JSET_IMM: {
        if (i.off < 0) throw new Error(`backward jump at ${pc}`);
        const taken = i.code === OP.JNE_IMM ? val(i.dst) !== imm64(i.imm) : (val(i.dst) & imm64(i.imm)) !== 0n;
        if (taken) next = pc + 1 + i.off;
        if (next > prog.length) throw new Error(`jump out of the program at ${pc}`);
        break;
      }
      case OP.EXIT:
        return Number(val(0));
      default:
        throw new Error(`unknown opcode 0x${i.code.toString(16)} at ${pc}`);
    }
    pc = next;
  }
  throw new Error("the program did not exit");
}

/** What the rules mean, read directly: some rule of the type (or a) and device allows every access asked for. */
function reference(rules: readonly DeviceRule[], a: Access): number {
  const ok = rules.some(
    (r) =>
      (r.type === "a" || r.type === a.type) &&
      (r.major === "*" || r.major === a.major) &&
      (r.minor === "*" || r.minor === a.minor) &&
      [...a.access].every((c) => r.access.includes(c)),
  );
  return ok ? 1 : 0;
}

const ACCESSES = ["r", "w", "m", "rw", "rm", "wm", "rwm"];
const dev = (type: "b" | "c", major: number, minor: number, access: string): Access => ({ type, major, minor, access });
const show = (a: Access) => `${a.type} ${a.major}:${a.minor} ${a.access}`;

describe("the device program", () => {
  const prog = deviceProgram(DEFAULT_DEVICE_RULES);

  test("allows each default device for read, write and mknod, in every combination", () => {
    for (const r of DEFAULT_DEVICE_RULES) {
      const minors = r.minor === "*" ? [0, 5, 255, 256, 0xfffff] : [r.minor];
      for (const minor of minors) {
        for (const access of ACCESSES) {
          const a = dev("c", r.major as number, minor, access);
          assert.equal(run(prog, a), 1, show(a));
        }
      }
    }
    for (const a of [dev("c", 136, 5, "rw"), dev("c", 1, 3, "m"), dev("c", 5, 2, "rw"), dev("c", 1, 9, "r")]) assert.equal(run(prog, a), 1, show(a));
  });

  test("denies every other device: disks, loop devices, consoles, /dev/mem, and block twins of the allowed numbers", () => {
    const denied = [
      dev("b", 8, 0, "r"), // sda
      dev("b", 7, 0, "m"), // mknod of a loop device
      dev("b", 7, 0, "rw"),
      dev("c", 4, 1, "rw"), // tty1
      dev("c", 1, 1, "r"), // /dev/mem
      dev("c", 1, 4, "r"), // between null and zero
      dev("c", 5, 3, "rw"),
      dev("c", 10, 200, "rw"), // /dev/net/tun
      dev("c", 10, 237, "rw"), // loop-control
      dev("c", 135, 0, "rw"), // the majors around pts
      dev("c", 137, 0, "rw"),
      dev("b", 1, 3, "rw"), // null's number, but a block device
      dev("b", 136, 1, "r"),
    ];
    for (const a of denied) assert.equal(run(prog, a), 0, show(a));
  });

  test("matches the rules read directly, for other rule sets over every type, access and a spread of numbers", () => {
    const sets: DeviceRule[][] = [
      [],
      [{ type: "b", major: 7, minor: "*", access: "r" }],
      [{ type: "c", major: "*", minor: "*", access: "m" }, { type: "c", major: 1, minor: 3, access: "rw" }],
      [{ type: "c", major: 10, minor: 200, access: "wr" }, { type: "b", major: "*", minor: 0, access: "mw" }],
      [{ type: "a", major: "*", minor: "*", access: "rwm" }],
      [...DEFAULT_DEVICE_RULES],
    ];
    const numbers = [0, 1, 3, 7, 10, 136, 200, 0xfff];
    for (const rules of sets) {
      const p = deviceProgram(rules);
      let allowed = 0;
      let checked = 0;
      for (const type of ["b", "c"] as const) {
        for (const major of numbers) {
          for (const minor of [...numbers, 0xfffff]) {
            for (const access of ACCESSES) {
              const a = dev(type, major, minor, access);
              const want = reference(rules, a);
              assert.equal(run(p, a), want, `${JSON.stringify(rules)}: ${show(a)}`);
              allowed += want;
              checked++;
            }
          }
        }
      }
      // The control: the sets are chosen so that allow and deny both occur where they can.
      if (rules.length === 0) assert.equal(allowed, 0);
      else if (rules[0]!.type === "a") assert.equal(allowed, checked);
      else assert.ok(allowed > 0 && allowed < checked, JSON.stringify(rules));
    }
  });

  test("the interpreter catches a wrong program: a rule block whose jumps miss changes the answer", () => {
    // The first rule's type test compares with BLOCK instead of CHAR: c 1:3 then lets b 1:3 through.
    const broken = prog.map((i) => ({ ...i }));
    const firstTest = broken.findIndex((i) => i.code === OP.JNE_IMM);
    broken[firstTest]!.imm = BPF_DEVCG_DEV_BLOCK;
    assert.equal(run(prog, dev("b", 1, 3, "r")), 0);
    assert.equal(run(broken, dev("b", 1, 3, "r")), 1);
    // And it refuses what the verifier refuses.
    assert.throws(() => run([{ code: OP.LDXW, dst: 2, src: 1, off: 12, imm: 0 }, ...prog], dev("c", 1, 3, "r")), /invalid context access/);
    assert.throws(() => run([{ code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 }], dev("c", 1, 3, "r")), /r0 read before/);
  });

  test("has only forward jumps, stays small, and encodes as struct bpf_insn, little-endian", () => {
    assert.ok(prog.every((i) => i.off >= 0));
    assert.ok(prog.length < 100, `${prog.length} instructions`);
    const bytes = encodeProgram(prog);
    assert.equal(bytes.byteLength, prog.length * 8);
    assert.deepEqual(decodeProgram(bytes), prog);
    // r2 = *(u32 *)(r1 + 0): code 0x61, dst 2 in the low nibble, src 1 in the high one.
    assert.deepEqual([...bytes.subarray(0, 8)], [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    // if r5 != 136 (the pts rule's major test): code 0x55, dst 5, imm 136.
    const pts = prog.findIndex((i) => i.code === OP.JNE_IMM && i.dst === 5 && i.imm === 136);
    assert.deepEqual([...bytes.subarray(pts * 8, pts * 8 + 8)], [0x55, 0x05, prog[pts]!.off, 0, 136, 0, 0, 0]);
    // The last two: return 0.
    assert.deepEqual(prog.slice(-2), [
      { code: OP.MOV64_IMM, dst: 0, src: 0, off: 0, imm: 0 },
      { code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
  });
});
