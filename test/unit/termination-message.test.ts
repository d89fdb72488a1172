import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import {
  createTerminationLog,
  logTailMessage,
  MAX_FALLBACK_LOG_BYTES,
  MAX_FALLBACK_LOG_LINES,
  MAX_TERMINATION_MESSAGE_BYTES,
  readTail,
  tailBytes,
  terminationMessage,
  type TerminationMessageInput,
} from "../../supervisor/runtime/termination-message.ts";

const cri = (stream: string, tag: string, msg: string) => `2026-11-22T04:45:19.123456789Z ${stream} ${tag} ${msg}\n`;

function input(over: Partial<TerminationMessageInput>): TerminationMessageInput {
  return { policy: "File", exitCode: 0, reason: "Completed", runtimeMessage: "", file: "", logTail: () => "from the log\n", ...over };
}

describe("terminationMessage: which text the status shows", () => {
  const table: { name: string; in: Partial<TerminationMessageInput>; want: string }[] = [
    { name: "the file, as written", in: { file: "Sleep expired\n" }, want: "Sleep expired\n" },
    { name: "File policy, failed, empty file: nothing (no fallback)", in: { exitCode: 1, reason: "Error", file: "" }, want: "" },
    { name: "fallback, failed, empty file: the log", in: { policy: "FallbackToLogsOnError", exitCode: 1, reason: "Error" }, want: "from the log\n" },
    { name: "fallback, failed, no file: the log", in: { policy: "FallbackToLogsOnError", exitCode: 2, reason: "Error", file: undefined }, want: "from the log\n" },
    { name: "fallback, failed, file written: the file", in: { policy: "FallbackToLogsOnError", exitCode: 1, reason: "Error", file: "own\n" }, want: "own\n" },
    { name: "fallback, succeeded, empty file: nothing", in: { policy: "FallbackToLogsOnError" }, want: "" },
    { name: "fallback, OOM-killed: the log", in: { policy: "FallbackToLogsOnError", exitCode: 137, reason: "OOMKilled" }, want: "from the log\n" },
    { name: "fallback, never started: no log to fall back on", in: { policy: "FallbackToLogsOnError", exitCode: 128, reason: "StartError", runtimeMessage: "exec foo: ENOENT" }, want: "exec foo: ENOENT" },
    { name: "runtime message and the file: both, as the kubelet joins them", in: { runtimeMessage: "exec foo: ENOENT", file: "own" }, want: "exec foo: ENOENT: own" },
  ];
  for (const t of table) {
    it(t.name, () => assert.equal(terminationMessage(input(t.in)), t.want));
  }

  it("reads the log only when it falls back", () => {
    let read = 0;
    terminationMessage(input({ file: "x", logTail: () => String(++read) }));
    terminationMessage(input({ policy: "FallbackToLogsOnError", logTail: () => String(++read) }));
    assert.equal(read, 0);
  });
});

describe("logTailMessage: the end of a CRI log", () => {
  it("the messages of both streams, one line each", () => {
    assert.equal(logTailMessage(cri("stdout", "F", "one") + cri("stderr", "F", "two"), true), "one\ntwo\n");
  });

  it("a partial record runs on into the next; an empty message is an empty line", () => {
    assert.equal(logTailMessage(cri("stdout", "P", "lo") + cri("stdout", "F", "ng") + "2026-11-22T04:45:19Z stdout F\n", true), "long\n\n");
  });

  it("the last 80 records", () => {
    const text = Array.from({ length: 100 }, (_, i) => cri("stdout", "F", String(i))).join("");
    const lines = logTailMessage(text, true).split("\n").filter(Boolean);
    assert.equal(lines.length, MAX_FALLBACK_LOG_LINES);
    assert.equal(lines[0], "20");
    assert.equal(lines.at(-1), "99");
  });

  it("at most 2048 bytes, the last ones", () => {
    const text = Array.from({ length: 60 }, (_, i) => cri("stdout", "F", `${i}`.padStart(100, "x"))).join("");
    const out = logTailMessage(text, true);
    assert.equal(Buffer.byteLength(out), MAX_FALLBACK_LOG_BYTES);
    assert.ok(out.endsWith("x59\n"));
  });

  it("a text cut at its start drops its first line; a record not yet ended is left out", () => {
    assert.equal(logTailMessage("ut F cut\n" + cri("stdout", "F", "whole") + "2026-11-22T04:45:19Z stdout F unfinish", false), "whole\n");
  });

  it("lines that are not CRI records are skipped", () => {
    assert.equal(logTailMessage("garbage\n" + cri("stdout", "F", "ok"), true), "ok\n");
  });
});

describe("tailBytes", () => {
  it("keeps a short string, cuts a long one at its end, by bytes", () => {
    assert.equal(tailBytes("abc", 3), "abc");
    assert.equal(tailBytes("abcdef", 3), "def");
    assert.equal(tailBytes("ééé", 4), "éé");
  });
});

describe("termination log files", () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-termination-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("created empty, 0666 whatever the umask", () => {
    const path = join(dir, "created");
    const old = process.umask(0o077);
    try {
      createTerminationLog(path);
    } finally {
      process.umask(old);
    }
    const st = statSync(path);
    assert.equal(st.mode & 0o777, 0o666);
    assert.equal(st.size, 0);
  });

  it("a file that is not there reads as undefined; a short one whole", () => {
    assert.equal(readTail(join(dir, "missing"), 10), undefined);
    writeFileSync(join(dir, "short"), "Sleep expired\n");
    const t = readTail(join(dir, "short"), MAX_TERMINATION_MESSAGE_BYTES)!;
    assert.equal(t.data.toString(), "Sleep expired\n");
    assert.equal(t.whole, true);
  });

  it("of a long file, its last 4096 bytes", () => {
    writeFileSync(join(dir, "long"), "a".repeat(5000) + "b".repeat(4096));
    const t = readTail(join(dir, "long"), MAX_TERMINATION_MESSAGE_BYTES)!;
    assert.equal(t.data.toString(), "b".repeat(4096));
    assert.equal(t.whole, false);
  });
});
