// Reading CRI logs as the API serves them: forward a chunk at a time across rotated files, and
// a tail found by reading backwards, with every line whole (P records joined to their F, the
// other stream's lines in between skipped), an unfinished last line left to the follower.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { findTail, overLogBound, readLines, staleRunLogs, type CriRecord, type LogFile } from "../../supervisor/runtime/logs.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-log-read-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const T = "2026-12-01T10:00:00.000000000Z";
const rec = (stream: string, tag: string, msg: string) => `${T} ${stream} ${tag} ${msg}\n`;

function files(name: string, ...contents: string[]): string[] {
  return contents.map((c, i) => {
    const path = join(dir, `${name}.${i}`);
    writeFileSync(path, c);
    return path;
  });
}

async function read(paths: string[], tail?: number): Promise<{ lines: string[]; end: number }> {
  const from = tail === undefined ? { file: 0, offset: 0, skip: 0 } : findTail(paths, tail);
  let skip = from.skip;
  const lines: string[] = [];
  const end = await readLines(paths, from, (r: CriRecord) => {
    if (skip > 0) return void skip--;
    lines.push(`${r.stream}:${r.message}`);
  });
  return { lines, end };
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => rec("stdout", "F", `line ${from + i}`)).join("");

test("forward across a rotated file and the current one; an unfinished last line is not read", async () => {
  const unfinished = `${T} stdout F nine`;
  const paths = files("fwd", numbered(1, 5), numbered(6, 8) + unfinished);
  const { lines, end } = await read(paths);
  assert.deepEqual(lines, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `stdout:line ${n}`));
  assert.equal(end, Buffer.byteLength(numbered(6, 8)), "the follower takes over where the last whole line ends");
});

test("a tail: the last N lines, crossing into the rotated file when the current one holds fewer", async () => {
  const paths = files("tail", numbered(1, 5), numbered(6, 8) + `${T} stdout P unfini`);
  assert.deepEqual((await read(paths, 2)).lines, ["stdout:line 7", "stdout:line 8"]);
  assert.deepEqual((await read(paths, 5)).lines, [4, 5, 6, 7, 8].map((n) => `stdout:line ${n}`));
  assert.deepEqual((await read(paths, 100)).lines.length, 8);
  assert.deepEqual((await read(paths, 0)).lines, []);
});

test("a tail whose first line is long (P records) and interleaved with the other stream is whole, and exactly N lines", async () => {
  const text = rec("stdout", "F", "before") + rec("stdout", "P", "ab") + rec("stderr", "F", "err") + rec("stdout", "P", "cd") + rec("stdout", "F", "ef") + rec("stderr", "F", "last");
  const paths = files("long", text);
  assert.deepEqual((await read(paths, 1)).lines, ["stderr:last"]);
  assert.deepEqual((await read(paths, 2)).lines, ["stdout:abcdef", "stderr:last"]);
  assert.deepEqual((await read(paths, 3)).lines, ["stderr:err", "stdout:abcdef", "stderr:last"]);
  assert.deepEqual((await read(paths, 4)).lines, ["stdout:before", "stderr:err", "stdout:abcdef", "stderr:last"]);
});

test("lines longer than a read chunk, and a many-chunk file, are read whole both ways", async () => {
  const big = "x".repeat(200 * 1024);
  const many = numbered(1, 20_000);
  const paths = files("big", rec("stdout", "F", big) + many + rec("stdout", "F", "é".repeat(40_000)));
  const all = await read(paths);
  assert.equal(all.lines.length, 20_002);
  assert.equal(all.lines[0], `stdout:${big}`);
  assert.equal(all.lines.at(-1), `stdout:${"é".repeat(40_000)}`, "a character across a chunk boundary is whole");
  const tail = await read(paths, 3);
  assert.deepEqual(tail.lines, ["stdout:line 19999", "stdout:line 20000", `stdout:${"é".repeat(40_000)}`]);
  assert.deepEqual((await read(paths, 20_002)).lines[0], `stdout:${big}`);
});

test("staleRunLogs: the runs before the previous one, with their rotations; nothing else in the directory", () => {
  const names = ["0.log", "0.log.1", "1.log", "2.log", "2.log.1", "3.log", "notes.txt", "3.logx", ".3.log.tmp"];
  assert.deepEqual(staleRunLogs(names, 3), ["0.log", "0.log.1", "1.log"]);
  assert.deepEqual(staleRunLogs(names, 1), [], "run 1 keeps run 0, the previous");
  assert.deepEqual(staleRunLogs(names, 0), []);
});

test("overLogBound: the files written to least recently go until the root fits; a file being written never goes", () => {
  const f = (path: string, bytes: number, mtimeMs: number): LogFile => ({ path, bytes, mtimeMs });
  const files = [f("a/app/1.log", 40, 500), f("a/app/1.log.1", 30, 300), f("a/app/0.log", 30, 100), f("b/db/0.log", 50, 200)];
  const writing = new Set(["a/app/1.log", "b/db/0.log"]);
  assert.deepEqual(overLogBound(files, writing, 200), [], "under the bound: nothing");
  assert.deepEqual(overLogBound(files, writing, 120).map((x) => x.path), ["a/app/0.log"], "the oldest first, only as many as needed");
  assert.deepEqual(overLogBound(files, writing, 10).map((x) => x.path), ["a/app/0.log", "a/app/1.log.1"], "what is being written stays, even over the bound");
});

test("a tail counts a last line not ended yet (P records after the last F) as a line", async () => {
  const paths = files("unended", rec("stdout", "F", "a") + rec("stdout", "F", "b") + rec("stdout", "P", "ab") + rec("stdout", "P", "c"));
  assert.deepEqual((await read(paths, 1)).lines, ["stdout:abc"]);
  assert.deepEqual((await read(paths, 2)).lines, ["stdout:b", "stdout:abc"]);
});
