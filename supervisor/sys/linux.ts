// koffi bindings to libc. Read koffi.errno() only right after a call returned -1, inside the
// same synchronous statement: any later JavaScript may run another call that overwrites it.
import koffi from "koffi";
import { constants } from "node:os";
import { PoddError } from "../base/errors.ts";
import {
  BPF_CMD_NAMES,
  BPF_OBJ_GET_INFO_BY_FD,
  BPF_PROG_ATTACH,
  BPF_PROG_DETACH,
  BPF_PROG_GET_FD_BY_ID,
  BPF_PROG_LOAD,
  BPF_PROG_QUERY,
} from "./index.ts";
import type { BpfRequest, BpfResult, ExitWatch, Sys } from "./index.ts";

const SYS_pidfd_open = 434;
const SYS_pidfd_send_signal = 424;
/** Calls added since Linux 5.1 (the pidfd ones) share one number on every architecture; bpf(2)
 * is older and has one per architecture. */
const SYS_bpf: Partial<Record<string, number>> = { x64: 321, arm64: 280 };

/** sizeof(union bpf_attr) on current kernels. An older kernel, whose union is smaller, accepts
 * a larger size when the bytes beyond its own are zero; every field podd sets lies in the
 * first 40 bytes, which every kernel with cgroup device programs (4.15) knows. */
const BPF_ATTR_SIZE = 144;
/** BPF_CGROUP_MAX_PROGS: no cgroup holds more programs of one attach type. */
const BPF_MAX_PROGS = 64;
/** Enough for the verifier's log of a program of a few hundred instructions. */
const BPF_LOG_SIZE = 1 << 16;
/** The most of an extended attribute's value podd reads: its own are a few bytes. */
const XATTR_MAX = 4096;

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

let bound: ReturnType<typeof bind> | undefined;

function bind() {
  const libc = koffi.load("libc.so.6");
  return {
    mount: libc.func("int mount(const char *src, const char *dst, const char *fstype, unsigned long flags, const char *data)"),
    umount2: libc.func("int umount2(const char *target, int flags)"),
    // variadic: every extra argument is passed as a (type, value) pair
    syscall: libc.func("long syscall(long number, ...)"),
    close: libc.func("int close(int fd)"),
    flock: libc.func("int flock(int fd, int operation)"),
    strerror: libc.func("const char *strerror(int errnum)"),
    lgetxattr: libc.func("long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)"),
  };
}

function libc() {
  bound ??= bind();
  return bound;
}

function fail(syscall: string, path: string | undefined, errno: number): never {
  throw PoddError.syscall(syscall, path, errnoName(errno), String(libc().strerror(errno)).toLowerCase());
}

export class LinuxSys implements Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    let errno = 0;
    if (libc().mount(source, target, fstype, flags, data) === -1) errno = koffi.errno();
    if (errno) fail("mount", target, errno);
  }

  umount2(target: string, flags: number): void {
    let errno = 0;
    if (libc().umount2(target, flags) === -1) errno = koffi.errno();
    if (errno) fail("umount", target, errno);
  }

  pidfdOpen(pid: number): number | null {
    let errno = 0;
    const fd = Number(libc().syscall(SYS_pidfd_open, "int", pid, "unsigned int", 0));
    if (fd === -1) errno = koffi.errno();
    if (errno === constants.errno.ESRCH) return null;
    if (errno) fail("pidfd_open", `pid ${pid}`, errno);
    return fd;
  }

  pidfdSendSignal(pidfd: number, signal: number): boolean {
    let errno = 0;
    const r = Number(libc().syscall(SYS_pidfd_send_signal, "int", pidfd, "int", signal, "void *", null, "unsigned int", 0));
    if (r === -1) errno = koffi.errno();
    if (errno === constants.errno.ESRCH) return false;
    if (errno) fail("pidfd_send_signal", `pidfd ${pidfd}`, errno);
    return true;
  }

  watchExit(pidfd: number, onExit: () => void): ExitWatch {
    let done = false;
    // A pidfd becomes readable when the process exits. The poll handle is level-triggered,
    // so it must be closed inside the callback (then the fd) or it fires forever.
    const handle = koffi.node.poll(pidfd, { readable: true }, () => {
      if (done) return;
      stop();
      onExit();
    });
    const stop = () => {
      if (done) return;
      done = true;
      handle.close();
      this.close(pidfd);
    };
    return { stop };
  }

  flock(fd: number, operation: number, path: string): boolean {
    let errno = 0;
    if (libc().flock(fd, operation) === -1) errno = koffi.errno();
    if (errno === constants.errno.EWOULDBLOCK) return false;
    if (errno) fail("flock", path, errno);
    return true;
  }

  lgetxattr(path: string, name: string): Buffer | null {
    const buf = Buffer.alloc(XATTR_MAX);
    let errno = 0;
    const n = Number(libc().lgetxattr(path, name, buf, buf.length));
    if (n === -1) errno = koffi.errno();
    if (errno === constants.errno.ENODATA) return null;
    if (errno) fail("lgetxattr", `${path} ${name}`, errno);
    return buf.subarray(0, n);
  }

  bpf<R extends BpfRequest>(request: R): BpfResult<R> {
    const nr = SYS_bpf[process.arch];
    if (nr === undefined) throw new PoddError(`bpf: no syscall number known for ${process.arch}`, { code: "Internal", syscall: "bpf" });
    const name = BPF_CMD_NAMES[request.cmd] ?? `command ${request.cmd}`;
    // Pointers inside bpf_attr must stay where they are during the call: memory of our own.
    const mem = new NativeMemory();
    try {
      const attr = mem.alloc(BPF_ATTR_SIZE);
      const call = () => {
        let errno = 0;
        const r = Number(libc().syscall(nr, "int", request.cmd, "void *", attr.ptr, "unsigned int", BPF_ATTR_SIZE));
        if (r === -1) errno = koffi.errno();
        return { r, errno };
      };
      const failBpf = (errno: number, detail?: string): never => {
        throw PoddError.syscall(`bpf ${name}`, request.what, errnoName(errno), detail ?? String(libc().strerror(errno)).toLowerCase());
      };
      switch (request.cmd) {
        case BPF_PROG_LOAD: {
          const insns = mem.bytes(request.insns);
          const license = mem.bytes(Buffer.from(request.license + "\0"));
          attr.u32(0, request.progType);
          attr.u32(4, request.insns.byteLength / 8);
          attr.u64(8, insns.addr);
          attr.u64(16, license.addr);
          let { r, errno } = call();
          if (errno === 0) return r as BpfResult<R>;
          // Load again with the verifier's log, which says which instruction it refused and why.
          const log = mem.alloc(BPF_LOG_SIZE);
          attr.u32(24, 1); // log_level
          attr.u32(28, BPF_LOG_SIZE);
          attr.u64(32, log.addr);
          ({ r, errno } = call());
          if (errno === 0) return r as BpfResult<R>;
          const text = log.text().trim();
          return failBpf(errno, text === "" ? undefined : `${String(libc().strerror(errno)).toLowerCase()}; verifier: ${text.split("\n").slice(-8).join(" | ")}`);
        }
        case BPF_PROG_ATTACH:
        case BPF_PROG_DETACH: {
          attr.u32(0, request.targetFd);
          attr.u32(4, request.progFd);
          attr.u32(8, request.attachType);
          if (request.cmd === BPF_PROG_ATTACH) attr.u32(12, request.flags);
          const { errno } = call();
          if (errno) failBpf(errno);
          return undefined as BpfResult<R>;
        }
        case BPF_PROG_QUERY: {
          const ids = mem.alloc(BPF_MAX_PROGS * 4);
          attr.u32(0, request.targetFd);
          attr.u32(4, request.attachType);
          attr.u64(16, ids.addr);
          attr.u32(24, BPF_MAX_PROGS);
          const { errno } = call();
          if (errno) failBpf(errno);
          const count = attr.readU32(24);
          return Array.from({ length: count }, (_, i) => ids.readU32(i * 4)) as BpfResult<R>;
        }
        case BPF_PROG_GET_FD_BY_ID: {
          attr.u32(0, request.id);
          const { r, errno } = call();
          if (errno === constants.errno.ENOENT) return null as BpfResult<R>;
          if (errno) failBpf(errno);
          return r as BpfResult<R>;
        }
        case BPF_OBJ_GET_INFO_BY_FD: {
          // struct bpf_prog_info starts with u32 type, u32 id; the kernel fills only info_len bytes.
          const info = mem.alloc(8);
          attr.u32(0, request.fd);
          attr.u32(4, 8);
          attr.u64(8, info.addr);
          const { errno } = call();
          if (errno) failBpf(errno);
          return { type: info.readU32(0), id: info.readU32(4) } as BpfResult<R>;
        }
      }
      throw new PoddError(`bpf: unknown command ${(request as BpfRequest).cmd}`, { code: "Internal", syscall: "bpf" });
    } finally {
      mem.free();
    }
  }

  close(fd: number): void {
    let errno = 0;
    if (libc().close(fd) === -1) errno = koffi.errno();
    if (errno) fail("close", `fd ${fd}`, errno);
  }
}

/** Zeroed memory outside the JavaScript heap, freed together. */
class NativeMemory {
  private readonly blocks: unknown[] = [];

  alloc(size: number): NativeBlock {
    const ptr = koffi.alloc("uint8_t", size);
    this.blocks.push(ptr);
    const view = new DataView(koffi.view(ptr, size));
    new Uint8Array(view.buffer).fill(0);
    return new NativeBlock(ptr, koffi.address(ptr), view);
  }

  bytes(data: Uint8Array): NativeBlock {
    const b = this.alloc(Math.max(1, data.byteLength));
    new Uint8Array(b.view.buffer).set(data);
    return b;
  }

  free(): void {
    for (const ptr of this.blocks.splice(0)) koffi.free(ptr);
  }
}

class NativeBlock {
  constructor(
    readonly ptr: unknown,
    readonly addr: bigint,
    readonly view: DataView,
  ) {}

  u32(offset: number, value: number): void {
    this.view.setUint32(offset, value, true);
  }

  u64(offset: number, value: bigint): void {
    this.view.setBigUint64(offset, value, true);
  }

  readU32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** The NUL-terminated text at the start. */
  text(): string {
    const bytes = new Uint8Array(this.view.buffer);
    const end = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString("utf8");
  }
}
