// The message of a terminated container, as the kubelet fills state.terminated.message: what
// the container wrote to its terminationMessagePath (a host file podd binds there for each run),
// or, with terminationMessagePolicy FallbackToLogsOnError, a failed exit and nothing written,
// the tail of its log. The limits are the kubelet's (kubecontainer.MaxContainerTermination*).
import { chmodSync, closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { parseCriLine } from "./logs.ts";
import { PoddError } from "../base/errors.ts";

/** At most this much of the file is read: its last 4096 bytes. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
/** The fallback takes at most the last 80 records of the log… */
export const MAX_FALLBACK_LOG_LINES = 80;
/** …and of those at most their last 2048 bytes. */
export const MAX_FALLBACK_LOG_BYTES = 2048;
/** How much of a log's end is read to find its last records: bounded, whatever the log's size. */
export const LOG_TAIL_READ_BYTES = 64 * 1024;

/**
 * The empty file a container run writes its message to. 0666 whatever the umask, as the kubelet
 * makes it (kuberuntime makeMounts): a container running as any uid, or in a user namespace
 * where the host's root is nobody, can write it.
 */
export function createTerminationLog(path: string): void {
  try {
    writeFileSync(path, "", { mode: 0o666, flag: "w" });
    chmodSync(path, 0o666);
  } catch (err) {
    throw PoddError.wrap(`create termination log ${path}`, err);
  }
}

/** The last max bytes of a file, and whether it was complete; undefined when it does not exist. */
export function readTail(path: string, max: number): { data: Buffer; whole: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw PoddError.wrap(`read ${path}`, err);
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - max);
    const buf = Buffer.alloc(Math.min(size, max));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n <= 0) break;
      got += n;
    }
    return { data: buf.subarray(0, got), whole: start === 0 };
  } catch (err) {
    throw PoddError.wrap(`read ${path}`, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * The kubelet's fallback message from the end of a CRI log: the messages of the last 80
 * records, each whole line ending in a newline (a partial record runs on into the next, as
 * `kubectl logs` prints it), cut to the last 2048 bytes. `whole` says the text starts at the
 * start of the file; otherwise its first line may be the cut-off end of a record and is dropped.
 */
export function logTailMessage(text: string, whole: boolean): string {
  const lines = text.split("\n");
  lines.pop(); // after the last newline: nothing, or a record still being written
  if (!whole) lines.shift();
  let out = "";
  for (const line of lines.slice(-MAX_FALLBACK_LOG_LINES)) {
    const rec = parseCriLine(line);
    if (rec) out += rec.partial ? rec.message : rec.message + "\n";
  }
  return tailBytes(out, MAX_FALLBACK_LOG_BYTES);
}

/** The last max bytes of a string's UTF-8 (a character cut in two decodes as U+FFFD). */
export function tailBytes(s: string, max: number): string {
  const b = Buffer.from(s, "utf8");
  return b.length <= max ? s : b.subarray(b.length - max).toString("utf8");
}

export interface TerminationMessageInput {
  policy: string | undefined;
  exitCode: number;
  /** the runtime's reason: StartError means the command never ran, so there is no log */
  reason: string;
  /** the runtime's own message (why a start failed), kept in front as the kubelet does */
  runtimeMessage: string;
  /** the file's content; undefined when the container has no terminationMessagePath or no file */
  file: string | undefined;
  /** the fallback's text, asked for only when it is used */
  logTail: () => string;
}

/** The message the container status shows (kuberuntime toKubeContainerStatus). */
export function terminationMessage(i: TerminationMessageInput): string {
  const fallback = i.policy === "FallbackToLogsOnError" && i.exitCode !== 0 && i.reason !== "StartError";
  let own = i.file ?? "";
  if (own === "" && fallback) own = i.logTail();
  if (own === "") return i.runtimeMessage;
  return i.runtimeMessage ? `${i.runtimeMessage}: ${own}` : own;
}
