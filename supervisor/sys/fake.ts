// A recording Sys for tests without root. bpf(2) is modelled far enough for the cgroup
// drivers: programs get fds and ids, attachments are kept per target directory (the path
// behind the fd, read from /proc/self/fd, so the target must be a real fd of a temp dir), and
// attaching a program twice is EINVAL as in the kernel. Any call can be made to fail with an
// errno. The other calls are recorded and succeed with harmless values.
import { readlinkSync } from "node:fs";
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

export interface FakeProgram {
  id: number;
  type: number;
  insns: Uint8Array;
}

/** One recorded call: its name ("mount", "bpf BPF_PROG_ATTACH", ...) and what it was about. */
export interface SysCall {
  call: string;
  /** For bpf: the target directory (attach, detach, query) or the program id. */
  target?: string;
  programId?: number;
  /** For bpf BPF_PROG_ATTACH/DETACH: the attach type, and the flags of an attach. */
  attachType?: number;
  flags?: number;
  args?: unknown[];
}

export class FakeSys implements Sys {
  readonly calls: SysCall[] = [];
  /** Program ids attached to each target directory, in attach order. */
  readonly attached = new Map<string, number[]>();
  private readonly programs = new Map<number, FakeProgram>();
  /** fd → program id: a program fd of our own numbering, far above real fds. */
  private readonly programFds = new Map<number, number>();
  private nextId = 1;
  private nextFd = 10_000;
  /** An errno ("EPERM") to fail this call with, or undefined to let it through. */
  fail: ((call: SysCall) => string | undefined) | undefined;

  /** The program behind a fd from BPF_PROG_LOAD or BPF_PROG_GET_FD_BY_ID. */
  program(fdOrId: { fd: number } | { id: number }): FakeProgram | undefined {
    const id = "fd" in fdOrId ? this.programFds.get(fdOrId.fd) : fdOrId.id;
    return id === undefined ? undefined : this.programs.get(id);
  }

  /** The programs loaded so far. */
  loaded(): FakeProgram[] {
    return [...this.programs.values()];
  }

  /** Open program fds: those not closed yet. */
  openProgramFds(): number[] {
    return [...this.programFds.keys()];
  }

  bpf<R extends BpfRequest>(request: R): BpfResult<R> {
    const name = `bpf ${BPF_CMD_NAMES[request.cmd] ?? request.cmd}`;
    const call: SysCall = { call: name };
    const raise = (errno: string): never => {
      throw PoddError.syscall(name, request.what, errno);
    };
    const progOf = (fd: number): FakeProgram => {
      const id = this.programFds.get(fd);
      const p = id === undefined ? undefined : this.programs.get(id);
      return p ?? raise("EBADF");
    };
    switch (request.cmd) {
      case BPF_PROG_LOAD: {
        this.record(call, request.what);
        const id = this.nextId++;
        this.programs.set(id, { id, type: request.progType, insns: request.insns.slice() });
        const fd = this.nextFd++;
        this.programFds.set(fd, id);
        call.programId = id;
        return fd as BpfResult<R>;
      }
      case BPF_OBJ_GET_INFO_BY_FD: {
        this.record(call, request.what);
        const p = progOf(request.fd);
        return { id: p.id, type: p.type } as BpfResult<R>;
      }
      case BPF_PROG_GET_FD_BY_ID: {
        call.programId = request.id;
        this.record(call, request.what);
        if (!this.programs.has(request.id)) return null as BpfResult<R>;
        const fd = this.nextFd++;
        this.programFds.set(fd, request.id);
        return fd as BpfResult<R>;
      }
      case BPF_PROG_QUERY: {
        call.target = targetPath(request.targetFd);
        this.record(call, request.what);
        return [...(this.attached.get(call.target) ?? [])] as BpfResult<R>;
      }
      case BPF_PROG_ATTACH:
      case BPF_PROG_DETACH: {
        call.target = targetPath(request.targetFd);
        const p = progOf(request.progFd);
        call.programId = p.id;
        call.attachType = request.attachType;
        if (request.cmd === BPF_PROG_ATTACH) call.flags = request.flags;
        this.record(call, request.what);
        const list = this.attached.get(call.target) ?? [];
        if (request.cmd === BPF_PROG_ATTACH) {
          if (list.includes(p.id)) raise("EINVAL");
          this.attached.set(call.target, [...list, p.id]);
        } else {
          if (!list.includes(p.id)) raise("ENOENT");
          this.attached.set(call.target, list.filter((id) => id !== p.id));
        }
        return undefined as BpfResult<R>;
      }
    }
    throw new PoddError(`${name}: not modelled by the fake`, { code: "Internal" });
  }

  /** Records the call, then fails it if the test asked for that. */
  private record(call: SysCall, what: string): void {
    call.args = [what];
    this.calls.push(call);
    const errno = this.fail?.(call);
    if (errno !== undefined) throw PoddError.syscall(call.call, what, errno);
  }

  /** The bpf calls, as "COMMAND target-or-id" lines, for asserting their order. */
  bpfCalls(): string[] {
    return this.calls
      .filter((c) => c.call.startsWith("bpf "))
      .map((c) => [c.call.slice(4), c.target ?? "", c.programId === undefined ? "" : `#${c.programId}`].filter(Boolean).join(" "));
  }

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.record({ call: "mount", target }, target);
    this.calls[this.calls.length - 1]!.args = [source, target, fstype, flags, data];
  }

  umount2(target: string, flags: number): void {
    this.record({ call: "umount", target }, target);
    this.calls[this.calls.length - 1]!.args = [target, flags];
  }

  pidfdOpen(pid: number): number | null {
    this.record({ call: "pidfd_open" }, `pid ${pid}`);
    return null;
  }

  pidfdSendSignal(pidfd: number, signal: number): boolean {
    this.record({ call: "pidfd_send_signal" }, `pidfd ${pidfd} signal ${signal}`);
    return false;
  }

  watchExit(pidfd: number): ExitWatch {
    this.record({ call: "watch_exit" }, `pidfd ${pidfd}`);
    return { stop: () => {} };
  }

  /** Attributes a test set: path → name → value. */
  readonly xattrs = new Map<string, Map<string, Buffer>>();

  lgetxattr(path: string, name: string): Buffer | null {
    this.record({ call: "lgetxattr", target: path }, `${path} ${name}`);
    return this.xattrs.get(path)?.get(name) ?? null;
  }

  close(fd: number): void {
    this.record({ call: "close" }, `fd ${fd}`);
    if (!this.programFds.delete(fd)) throw PoddError.syscall("close", `fd ${fd}`, "EBADF");
  }

  flock(fd: number, operation: number, path: string): boolean {
    this.record({ call: "flock", target: path }, path);
    return true;
  }
}

/** The directory a target fd is open on. */
function targetPath(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw PoddError.syscall("bpf", `fd ${fd}`, "EBADF");
  }
}
