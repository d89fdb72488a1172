// Container logs in the CRI format the kubelet uses, so node log shippers read podd's files:
//   2026-11-22T04:45:19.123456789Z stdout F hello
// One record per line; a line longer than the monitor's buffer is split into P (partial)
// records ending with an F record. The monitor writes; this module reads and follows.
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { StringDecoder } from "node:string_decoder";

export interface CriRecord {
  time: string;
  stream: "stdout" | "stderr";
  partial: boolean;
  message: string;
}

export function parseCriLine(line: string): CriRecord | undefined {
  const s1 = line.indexOf(" ");
  const s2 = line.indexOf(" ", s1 + 1);
  const s3 = line.indexOf(" ", s2 + 1);
  if (s1 < 0 || s2 < 0) return undefined;
  const stream = line.slice(s1 + 1, s2);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  // The tag may be the last field when the message is empty.
  const tag = s3 < 0 ? line.slice(s2 + 1) : line.slice(s2 + 1, s3);
  if (tag !== "P" && tag !== "F") return undefined;
  return { time: line.slice(0, s1), stream, partial: tag === "P", message: s3 < 0 ? "" : line.slice(s3 + 1) };
}

/** Joins P records into whole lines per stream; feed records in file order. */
export class LineAssembler {
  private pending: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };

  push(r: CriRecord): CriRecord | undefined {
    if (r.partial) {
      this.pending[r.stream] += r.message;
      return undefined;
    }
    const message = this.pending[r.stream] + r.message;
    this.pending[r.stream] = "";
    return { ...r, message };
  }
}

/**
 * Follows a log file as it grows, across rotation (the monitor renames PATH to PATH.1 and
 * starts a new PATH): the open descriptor is read to its end, then PATH is reopened.
 * Wakes on inotify (fs.watch on the directory), never on a timer.
 */
export class LogFollower {
  private fd: number | undefined;
  private ino = 0;
  private offset = 0;
  private rest = "";
  private watcher: FSWatcher | undefined;
  private readonly assembler = new LineAssembler();
  // a multi-byte character may straddle two reads
  private decoder = new StringDecoder("utf8");

  constructor(
    private readonly path: string,
    private readonly onLine: (r: CriRecord) => void,
  ) {}

  /** Starts at the current end of the file: only lines written from now on are reported. */
  skipExisting(): void {
    if (this.fd === undefined && !this.open()) return;
    this.offset = statSync(this.path).size;
  }

  start(): void {
    this.watcher = watch(dirname(this.path), (_event, name) => {
      if (name === null || name.startsWith(basename(this.path))) this.drain();
    });
    this.drain();
  }

  /** Reads whatever is new; call once more before stop() to catch the last lines. */
  drain(): void {
    for (;;) {
      if (this.fd === undefined && !this.open()) return;
      this.readToEnd();
      // Rotated away? Then the current name is a new file: switch to it.
      let st;
      try {
        st = statSync(this.path);
      } catch {
        return; // not recreated yet; the watch fires when it is
      }
      if (st.ino === this.ino) return;
      closeSync(this.fd!);
      this.fd = undefined;
      this.offset = 0;
      this.decoder = new StringDecoder("utf8");
    }
  }

  stop(): void {
    this.drain();
    this.watcher?.close();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): boolean {
    try {
      this.fd = openSync(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    this.ino = statSync(this.path).ino;
    return true;
  }

  private readToEnd(): void {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(this.fd!, buf, 0, buf.length, this.offset);
      if (n <= 0) return;
      this.offset += n;
      const text = this.rest + this.decoder.write(buf.subarray(0, n));
      const lines = text.split("\n");
      this.rest = lines.pop()!;
      for (const line of lines) {
        const rec = parseCriLine(line);
        const whole = rec && this.assembler.push(rec);
        if (whole) this.onLine(whole);
      }
    }
  }
}
