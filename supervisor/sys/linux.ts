// koffi bindings to libc. Read koffi.errno() only right after a call returned -1, inside the
// same synchronous statement: any later JavaScript may run another call that overwrites it.
import koffi from "koffi";
import { constants } from "node:os";
import { PoddError } from "../base/errors.ts";
import type { ExitWatch, Sys } from "./index.ts";

const SYS_pidfd_open = 434;
const SYS_pidfd_send_signal = 424;

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

  close(fd: number): void {
    let errno = 0;
    if (libc().close(fd) === -1) errno = koffi.errno();
    if (errno) fail("close", `fd ${fd}`, errno);
  }
}
