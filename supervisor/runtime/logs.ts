// Container logs in the CRI format the kubelet uses, so node log shippers read podd's files:
//   2026-11-22T04:45:19.123456789Z stdout F hello
// One record per line; a line longer than the monitor's buffer is split into P (partial)
// records ending with an F record. The monitor writes; this module reads and follows.
import { closeSync, fstatSync, openSync, readdirSync, readSync, rmSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";

export interface CriRecord {
  time: string;
  stream: "stdout" | "stderr";
  partial: boolean;
  message: string;
}

/**
 * The log files of a container's runs before the previous one: "N.log" and its rotations
 * "N.log.K" for every N below run - 1. The kubelet keeps the logs of the running instance and
 * of the last one that ended (`logs --previous`); older ones go with their dead containers. A
 * container that crash-loops would otherwise fill the log root one run at a time.
 */
export function staleRunLogs(names: readonly string[], run: number): string[] {
  return names.filter((n) => {
    const m = /^(\d+)\.log(?:\.\d+)?$/.exec(n);
    return m !== null && Number(m[1]) < run - 1;
  });
}

/** Removes the stale run logs of a container's log directory (see staleRunLogs). */
export function removeStaleRunLogs(dir: string, run: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // no directory yet: the first run
    throw err;
  }
  for (const n of staleRunLogs(names, run)) rmSync(join(dir, n), { force: true });
}

/** A file of the log root, as its bound sees it. */
export interface LogFile {
  path: string;
  bytes: number;
  mtimeMs: number;
}

/** Every file of the containers' log directories: <log root>/pods/<pod>/<container>/*. */
export function logRootFiles(podsDir: string): LogFile[] {
  const out: LogFile[] = [];
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return [];
      throw err;
    }
  };
  for (const pod of list(podsDir)) {
    for (const container of list(join(podsDir, pod))) {
      const dir = join(podsDir, pod, container);
      for (const name of list(dir)) {
        try {
          const st = statSync(join(dir, name));
          if (st.isFile()) out.push({ path: join(dir, name), bytes: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // removed meanwhile (a pod deleted, a rotation): nothing to count
        }
      }
    }
  }
  return out;
}

/**
 * What to remove so that the log root fits in maxBytes: the files written to least recently
 * first (rotated files and the logs of ended runs before anything else, as they stop growing
 * first), never a file a running container writes. What running containers write alone may
 * exceed the bound; it is then kept, each container's own bound (--log-max-size ×
 * --log-max-files) holding it.
 */
export function overLogBound(files: readonly LogFile[], writing: ReadonlySet<string>, maxBytes: number): LogFile[] {
  let total = files.reduce((n, f) => n + f.bytes, 0);
  const out: LogFile[] = [];
  // An empty file frees nothing: it stays (a run that has not written yet keeps its log).
  const candidates = files.filter((f) => f.bytes > 0 && !writing.has(f.path)).sort((a, b) => a.mtimeMs - b.mtimeMs || b.path.localeCompare(a.path));
  for (const f of candidates) {
    if (total <= maxBytes) break;
    out.push(f);
    total -= f.bytes;
  }
  return out;
}

/**
 * Keeps the log root's pods directory within maxBytes (see overLogBound): removes what must
 * go and says what went; a file that cannot be removed is reported in failed, and counted.
 */
export function boundLogRoot(podsDir: string, writing: ReadonlySet<string>, maxBytes: number): { removed: LogFile[]; failed: { path: string; error: string }[] } {
  const removed: LogFile[] = [];
  const failed: { path: string; error: string }[] = [];
  for (const f of overLogBound(logRootFiles(podsDir), writing, maxBytes)) {
    try {
      rmSync(f.path, { force: true });
      removed.push(f);
    } catch (err) {
      failed.push({ path: f.path, error: (err as Error).message });
    }
  }
  return { removed, failed };
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
  /** per stream: the first record of an unfinished line, with the text so far */
  private pending: Partial<Record<"stdout" | "stderr", CriRecord>> = {};

  push(r: CriRecord): CriRecord | undefined {
    const held = this.pending[r.stream];
    if (r.partial) {
      this.pending[r.stream] = held ? { ...held, message: held.message + r.message } : r;
      return undefined;
    }
    delete this.pending[r.stream];
    return held ? { ...r, time: held.time, message: held.message + r.message } : r;
  }

  /**
   * The lines not finished yet, as partial records: the end of a log whose writer has not
   * ended its last line (a prompt, a `printf` without a newline, a container that died mid-line).
   */
  drain(): CriRecord[] {
    const out = Object.values(this.pending);
    this.pending = {};
    return out;
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

  /** Starts at offset of the current file: where a reader of what was written so far stopped. */
  skipTo(offset: number): void {
    if (this.fd === undefined && !this.open()) return;
    this.offset = offset;
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

  /** Reads what is left and stops; returns the last line if it was not ended (a partial record). */
  stop(): CriRecord[] {
    this.drain();
    this.watcher?.close();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    return this.assembler.drain();
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

/** Read size of the log readers below: what a log request holds in memory, whatever the log's size. */
const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/** The stream and tag of a CRI line (as bytes), read without decoding the message; undefined for a line that is no record. */
function recordKind(line: Buffer): { stream: string; full: boolean } | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const tag = line[s2 + 1];
  if ((tag !== 0x46 /* F */ && tag !== 0x50) /* P */ || (line.length > s2 + 2 && line[s2 + 2] !== 0x20)) return undefined;
  return { stream: line.subarray(s1 + 1, s2).toString("latin1"), full: tag === 0x46 };
}

export interface LogPosition {
  /** index into the file list (oldest first) */
  file: number;
  offset: number;
  /** whole lines to drop first: lines of the other stream that begin after the position */
  skip: number;
}

/**
 * The complete lines of an open file from the last to the first, each with its offset, read
 * CHUNK bytes at a time. Bytes after the last newline are a line still being written: skipped.
 */
function* linesBackward(fd: number): Generator<{ offset: number; line: Buffer }> {
  let end = fstatSync(fd).size;
  let pending: Buffer = Buffer.alloc(0); // [end, end + pending.length): a line whose start lies before end
  let seenLastNewline = false;
  const buf = Buffer.allocUnsafe(CHUNK);
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const n = readSync(fd, buf, 0, end - start, start);
    let data = pending.length ? Buffer.concat([buf.subarray(0, n), pending]) : buf.subarray(0, n);
    end = start;
    if (!seenLastNewline) {
      const last = data.lastIndexOf(NEWLINE);
      if (last < 0) {
        pending = Buffer.alloc(0);
        continue;
      }
      data = data.subarray(0, last + 1);
      seenLastNewline = true;
    }
    let e = data.length - 1; // the newline that ends the line looked at
    while (e >= 0) {
      const p = e > 0 ? data.lastIndexOf(NEWLINE, e - 1) : -1;
      if (p < 0 && start > 0) break; // its start is in the chunk before
      yield { offset: start + p + 1, line: data.subarray(p + 1, e) };
      e = p;
    }
    pending = Buffer.from(data.subarray(0, e + 1));
  }
}

/**
 * Where to start reading so that the last `lines` whole lines follow (fewer when the files
 * hold fewer), found by reading backwards from the end of the newest file, into older ones as
 * needed: a tail request reads what it sends and little more, as the kubelet's does. A long
 * line is several P records and an F; the position goes back far enough that each line of the
 * tail is whole, and `skip` counts the lines of the other stream that this takes in too.
 */
export function findTail(paths: readonly string[], lines: number): LogPosition {
  if (lines <= 0) return { file: paths.length - 1, offset: sizeOf(paths.at(-1)), skip: 0 };
  let found = 0;
  let at: LogPosition | undefined;
  // Streams whose oldest line in the tail may begin further back (no F of theirs seen before it).
  const open = new Set<string>();
  // Streams whose last line is not ended yet (P records after their last F): it counts as a
  // line, as readLines shows it.
  const ended = new Set<string>();
  const unended = new Set<string>();
  let passed = 0; // F records gone over since `at` last moved
  for (let file = paths.length - 1; file >= 0; file--) {
    let fd: number;
    try {
      fd = openSync(paths[file]!, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // rotated away meanwhile
      throw err;
    }
    try {
      for (const { offset, line } of linesBackward(fd)) {
        const kind = recordKind(line);
        if (!kind) continue;
        if (!at) {
          open.add(kind.stream);
          const counts = kind.full || (!ended.has(kind.stream) && !unended.has(kind.stream));
          if (kind.full) ended.add(kind.stream);
          else unended.add(kind.stream);
          if (counts && ++found === lines) at = { file, offset, skip: 0 };
        } else if (kind.full) {
          passed++;
          // The F before a stream's first tail record ends its previous line: that stream is whole.
          if (open.delete(kind.stream) && open.size === 0) return at;
        } else if (open.has(kind.stream)) {
          at = { file, offset, skip: at.skip + passed };
          passed = 0;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return at ?? { file: 0, offset: 0, skip: 0 };
}

/**
 * Reads the files forward from `from` (oldest first), CHUNK bytes at a time, handing each whole
 * line to onLine; awaits what onLine returns (a response's drain) before reading on, so that a
 * slow reader holds no more than one chunk. Resolves with the offset reached in the last file,
 * where a follower takes over; stops early when stopped() says so.
 */
export async function readLines(paths: readonly string[], from: LogPosition, onLine: (r: CriRecord) => void | Promise<void>, stopped: () => boolean = () => false): Promise<number> {
  const asm = new LineAssembler();
  let offset = 0;
  for (let file = from.file; file < paths.length; file++) {
    offset = file === from.file ? from.offset : 0;
    let fd: number;
    try {
      fd = openSync(paths[file]!, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // rotated away: the next file has the rest
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let pos = offset;
      let carry: Buffer = Buffer.alloc(0); // an unfinished line: the follower's to read once it ends
      for (;;) {
        if (stopped()) return pos - carry.length;
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        const data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        const cut = data.lastIndexOf(NEWLINE);
        carry = Buffer.from(cut < 0 ? data : data.subarray(cut + 1));
        if (cut < 0) continue;
        // Whole lines only, so that no character is split; decoded before the first await.
        for (const l of data.subarray(0, cut).toString("utf8").split("\n")) {
          const rec = parseCriLine(l);
          const whole = rec && asm.push(rec);
          if (whole) await onLine(whole);
        }
      }
      offset = pos - carry.length;
    } finally {
      closeSync(fd);
    }
  }
  // What was written of a line not ended yet is shown, as the kubelet shows it (a follower goes
  // on with the rest of the line).
  for (const r of asm.drain()) await onLine(r);
  return offset;
}

function sizeOf(path: string | undefined): number {
  if (path === undefined) return 0;
  try {
    return statSync(path).size;
  } catch {
    return 0; // not written yet
  }
}
