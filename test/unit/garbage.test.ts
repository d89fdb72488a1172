// The young-generation collection a stream of many MiB asks for, every few MiB.
import assert from "node:assert/strict";
import { test } from "node:test";
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
  new StreamedGarbage(() => undefined, 1).streamed(10); // without V8's gc, counting is all it does
});

test("the process's counter has V8's collector", () => {
  // Obtained at load through --expose-gc in a new context: a Node without it would stream on, uncollected.
  assert.equal(streamedGarbage.collecting, true);
  streamedGarbage.streamed(64 * 1024 * 1024);
});
