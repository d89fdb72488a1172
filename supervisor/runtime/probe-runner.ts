// The daemon's side of `podd-init prober` (init/main.c has the protocol): one long-lived
// process runs every exec, TCP and HTTP check, so that a check costs the daemon a message on a
// pipe rather than a spawn (exec) or a socket with its JavaScript (TCP, HTTP). Started on the
// first check; a prober that ends fails the checks it was running, and the next check starts a
// new one.
import { spawn, type ChildProcess } from "node:child_process";

export interface CheckAnswer {
  /** "exit:N", "ok", "timeout", or "error:ENAME" */
  result: string;
  bytes: Buffer;
}

/** A check's request, encoded once: a probe that runs every second sends the same bytes each time. */
export interface EncodedCheck {
  kind: "exec" | "tcp" | "http";
  payload: Buffer;
}

/** `podd-init exec`'s arguments, behind --pid PID. */
export function encodeExec(args: readonly string[]): EncodedCheck {
  return { kind: "exec", payload: Buffer.from(args.map((a) => `${a}\0`).join(""), "utf8") };
}

export function encodeTcp(address: string, port: number): EncodedCheck {
  return { kind: "tcp", payload: Buffer.from(`${address}\0${port}\0`) };
}

export function encodeHttp(address: string, port: number, request: Buffer): EncodedCheck {
  return { kind: "http", payload: Buffer.concat([Buffer.from(`${address}\0${port}\0`), request]) };
}

export interface ProbeTransport {
  send(check: EncodedCheck, timeoutMs: number): Promise<CheckAnswer>;
}

interface Pending {
  resolve(a: CheckAnswer): void;
  reject(err: Error): void;
}

const NO_BYTES = Buffer.alloc(0);

/** Bytes of the prober's complaints kept for the error of the checks it took with it. */
const STDERR_KEPT = 4096;

export class ProbeRunner implements ProbeTransport {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private input: Buffer = Buffer.alloc(0);
  private stderr = "";

  constructor(private readonly initPath: string) {}

  exec(args: readonly string[], timeoutMs: number): Promise<CheckAnswer> {
    return this.send(encodeExec(args), timeoutMs);
  }

  /** the running prober's pid; undefined before the first check and after it ended */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the prober (its running execs with it); a later check starts another. */
  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    this.failAll(new Error("the prober was stopped"));
  }

  send(check: EncodedCheck, timeoutMs: number): Promise<CheckAnswer> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise<CheckAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.hold(child, true);
      // One buffer, one write: a probe a second each for hundreds of containers adds up.
      const head = `${id} ${check.kind} ${Math.max(1, Math.ceil(timeoutMs))} ${check.payload.length}\n`;
      const message = Buffer.allocUnsafe(head.length + check.payload.length);
      message.write(head, 0, "latin1");
      check.payload.copy(message, head.length);
      child.stdin!.write(message);
    });
  }

  private start(): ChildProcess {
    const child = spawn(this.initPath, ["prober"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.input = Buffer.alloc(0);
    this.stderr = "";
    child.stdout!.on("data", (d: Buffer) => this.read(d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-STDERR_KEPT)));
    // A write after the prober died is reported by its exit, below.
    child.stdin!.on("error", () => {});
    const ended = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const said = this.stderr.trim();
      this.failAll(new Error(`the prober ${why}${said ? `: ${said}` : ""}`));
    };
    child.on("error", (err) => ended(`could not run (${this.initPath}: ${err.message})`));
    child.on("exit", (code, signal) => ended(signal ? `was killed by ${signal}` : `exited with ${code}`));
    this.hold(child, false);
    return child;
  }

  /** The prober keeps the daemon's event loop alive only while it has checks to answer. */
  private hold(child: ChildProcess, busy: boolean): void {
    for (const h of [child, child.stdout, child.stderr, child.stdin] as ({ ref(): void; unref(): void } | null)[]) {
      if (busy) h?.ref();
      else h?.unref();
    }
  }

  private read(chunk: Buffer): void {
    this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const nl = this.input.indexOf(10, at);
      if (nl < 0) break;
      const [id, result, len] = this.input.toString("latin1", at, nl).split(" ");
      const size = Number(len);
      if (this.input.length < nl + 1 + size) break;
      const bytes = size === 0 ? NO_BYTES : Buffer.from(this.input.subarray(nl + 1, nl + 1 + size));
      at = nl + 1 + size;
      const p = this.pending.get(Number(id));
      if (!p) continue; // an answer to a request the prober could not read ("-"): never sent by us
      this.pending.delete(Number(id));
      if (this.pending.size === 0 && this.child) this.hold(this.child, false);
      p.resolve({ result: result ?? "", bytes });
    }
    this.input = at === this.input.length ? NO_BYTES : this.input.subarray(at);
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
