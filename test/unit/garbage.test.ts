// The young-generation collection a stream of many MiB asks for, every few MiB.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInNewContext } from "node:vm";
import { StreamedGarbage, streamedGarbage } from "../../supervisor/base/garbage.ts";

test("a collection once every so many bytes streamed, counted across calls", () => {
  let collections = 0;
  let asked = 0;
  const g = new StreamedGarbage(() => (asked++, () => collections++), 1000);
  for (let i = 0; i < 9; i++) g.streamed(100);
  assert.equal(collections, 0);
  g.streamed(100);
  assert.equal(collections, 1);
  g.streamed(2500);
  assert.equal(collections, 2, "one collection however far past the mark");
  assert.equal(asked, 1, "the collector is asked for once, when first due");
});

test("the process's counter has V8's collector, and leaves no gc to other contexts", () => {
  assert.equal(streamedGarbage.collecting, true);
  assert.equal(runInNewContext("typeof gc"), "undefined");
});
