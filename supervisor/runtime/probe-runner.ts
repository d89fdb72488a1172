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
  /** the prober it was sent to: only that one's end fails it */
  child: ChildProcess;
  /** wall-clock ms past which the prober owes the answer (its own time limit, and a margin) */
  overdue: number;
}

/** What the prober takes at most of one request (REQUEST_MAX in init/prober.c). */
export const MAX_CHECK_BYTES = 256 * 1024;
/** Past a check's own time limit, how long the prober may take to say so before the check is given up. */
const ANSWER_MARGIN_MS = 5000;

const NO_BYTES = Buffer.alloc(0);

/** Bytes of the prober's complaints kept for the error of the checks it took with it. */
const STDERR_KEPT = 4096;

export class ProbeRunner implements ProbeTransport {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | undefined;

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
    if (child) this.failAll(child, new Error("the prober was stopped"));
  }

  send(check: EncodedCheck, timeoutMs: number): Promise<CheckAnswer> {
    if (check.payload.length > MAX_CHECK_BYTES) {
      return Promise.resolve({ result: "error:E2BIG", bytes: Buffer.from(`the check is ${check.payload.length} bytes, more than the ${MAX_CHECK_BYTES} the prober takes`) });
    }
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise<CheckAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, child, overdue: Date.now() + timeoutMs + ANSWER_MARGIN_MS });
      if (this.pending.size === 1) {
        this.hold(child, true);
        this.sweeper ??= setInterval(() => this.sweep(), 1000);
      }
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
    // What this prober said: its answers (only its own: a prober that ended may still be
    // heard from after its exit) and its complaints.
    let input: Buffer = NO_BYTES;
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => {
      input = this.read(child, input.length ? Buffer.concat([input, d]) : d);
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-STDERR_KEPT)));
    // A write after the prober died is reported by its end, below.
    child.stdin!.on("error", () => {});
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      const said = stderr.trim();
      this.failAll(child, new Error(`the prober ${why}${said ? `: ${said}` : ""}`));
    };
    child.on("error", (err) => end(`could not run (${this.initPath}: ${err.message})`));
    // close: the process has ended and its output is read to the end.
    child.on("close", (code, signal) => end(signal ? `was killed by ${signal}` : `exited with ${code}`));
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

  /** Answers every whole answer in input; returns what is left of it. */
  private read(child: ChildProcess, input: Buffer): Buffer {
    let at = 0;
    for (;;) {
      const nl = input.indexOf(10, at);
      if (nl < 0) break;
      const m = /^(\d+|-) (\S+) (\d+)$/.exec(input.toString("latin1", at, nl));
      if (!m) {
        // Not the prober's protocol: nothing after it can be trusted to line up.
        child.kill("SIGKILL");
        return NO_BYTES;
      }
      const size = Number(m[3]);
      if (input.length < nl + 1 + size) break;
      const bytes = size === 0 ? NO_BYTES : Buffer.from(input.subarray(nl + 1, nl + 1 + size));
      at = nl + 1 + size;
      const id = Number(m[1]);
      const p = this.pending.get(id);
      if (!p || p.child !== child) continue; // given up already, or an answer to "-" (never sent by us)
      this.settle(id);
      p.resolve({ result: m[2]!, bytes });
    }
    return at === input.length ? NO_BYTES : input.subarray(at);
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) {
      if (this.child) this.hold(this.child, false);
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Checks the prober owes an answer to for longer than it should are given up. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.overdue > now) continue;
      this.settle(id);
      p.reject(new Error("the prober did not answer in time"));
    }
  }

  private failAll(child: ChildProcess, err: Error): void {
    for (const [id, p] of this.pending) {
      if (p.child !== child) continue;
      this.settle(id);
      p.reject(err);
    }
  }
}
