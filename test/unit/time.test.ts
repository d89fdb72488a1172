import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { PoddError } from "../../supervisor/base/errors.ts";
import { parseDuration, parsePreciseTimestamp, rfc3339, rfc3339Millis } from "../../supervisor/base/time.ts";

describe("parseDuration: Go's duration syntax, as kubectl's --timeout and --since take it", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["200ms", 200],
    ["2s", 2000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    [".5s", 500],
    ["1h2m3s4ms", 3_723_004],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    [" 5s ", 5000],
  ];
  for (const [text, ms] of cases) it(`${JSON.stringify(text)} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));

  for (const text of ["", "5", "1d", "s", "1m 30s", "-1s", "1.2.3s"]) {
    it(`${JSON.stringify(text)} is refused, naming the input`, () => {
      assert.throws(() => parseDuration(text), (err: unknown) => err instanceof PoddError && err.code === "Invalid" && err.message.startsWith(`invalid duration "${text}"`));
    });
  }
});

describe("RFC 3339", () => {
  const T = Date.parse("2026-12-01T10:00:00.987Z");
  it("seconds precision drops the fraction; the millisecond form keeps it", () => {
    assert.equal(rfc3339(T), "2026-12-01T10:00:00Z");
    assert.equal(rfc3339Millis(T), "2026-12-01T10:00:00.987Z");
  });
  it("a nanosecond record keeps its sub-millisecond fraction when read back", () => {
    assert.equal(parsePreciseTimestamp("2026-12-01T10:00:00.123456789Z"), Date.parse("2026-12-01T10:00:00Z") + 123.456789);
    assert.equal(parsePreciseTimestamp("2026-12-01T10:00:00Z"), Date.parse("2026-12-01T10:00:00Z"));
    assert.ok(Number.isNaN(parsePreciseTimestamp("yesterday")));
  });
});
