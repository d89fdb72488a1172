import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compareQuantities,
  formatQuantity,
  mustParseQuantity,
  parseQuantity,
  QUANTITY_FORMAT_ERROR,
  QUANTITY_SUFFIX_ERROR,
  quantityMilliValue,
  quantityValue,
} from "../../pod-specs/index.ts";

// [text, value(), milliValue(), canonical form]
const valid: Array<[string, bigint, bigint, string]> = [
  ["0", 0n, 0n, "0"],
  ["1", 1n, 1000n, "1"],
  ["+1", 1n, 1000n, "1"],
  ["500m", 1n, 500n, "500m"],
  ["0.5", 1n, 500n, "500m"],
  [".5", 1n, 500n, "500m"],
  ["1.", 1n, 1000n, "1"],
  ["0.1", 1n, 100n, "100m"],
  ["0.001", 1n, 1n, "1m"],
  ["0.0001", 1n, 1n, "100u"],
  ["1.5", 2n, 1500n, "1500m"],
  ["100m", 1n, 100n, "100m"],
  ["1000m", 1n, 1000n, "1"],
  ["1000", 1000n, 1000000n, "1k"],
  ["1k", 1000n, 1000000n, "1k"],
  ["1e3", 1000n, 1000000n, "1e3"],
  ["1E3", 1000n, 1000000n, "1e3"],
  ["1e-3", 1n, 1n, "1e-3"],
  ["1e+3", 1000n, 1000000n, "1e3"],
  ["1E", 1000000000000000000n, 1000000000000000000000n, "1E"],
  ["128Mi", 134217728n, 134217728000n, "128Mi"],
  ["1Gi", 1073741824n, 1073741824000n, "1Gi"],
  ["1.5Gi", 1610612736n, 1610612736000n, "1536Mi"],
  ["0.5Gi", 536870912n, 536870912000n, "512Mi"],
  ["1024Mi", 1073741824n, 1073741824000n, "1Gi"],
  ["1Ki", 1024n, 1024000n, "1Ki"],
  ["1Ei", 1n << 60n, (1n << 60n) * 1000n, "1Ei"],
  ["1G", 1000000000n, 1000000000000n, "1G"],
  ["1M", 1000000n, 1000000000n, "1M"],
  ["128974848", 128974848n, 128974848000n, "128974848"],
  ["129e6", 129000000n, 129000000000n, "129e6"],
  ["1n", 1n, 1n, "1n"],
  ["1u", 1n, 1n, "1u"],
  ["007", 7n, 7000n, "7"],
  ["-1", -1n, -1000n, "-1"],
  ["-0.5", -1n, -500n, "-500m"],
  ["0.5Ki", 512n, 512000n, "512"],
];

test("quantities parse exactly, round away from zero and print canonically", () => {
  for (const [text, value, milli, canonical] of valid) {
    const r = parseQuantity(text);
    assert.ok(r.ok, `${text} should parse`);
    assert.equal(quantityValue(r.quantity), value, `value(${text})`);
    assert.equal(quantityMilliValue(r.quantity), milli, `milliValue(${text})`);
    assert.equal(formatQuantity(r.quantity), canonical, `format(${text})`);
  }
});

test("malformed quantities give Kubernetes' messages", () => {
  const bad: Array<[string, string]> = [
    ["", QUANTITY_FORMAT_ERROR],
    ["Mi", QUANTITY_FORMAT_ERROR],
    [".", QUANTITY_FORMAT_ERROR],
    ["+", QUANTITY_FORMAT_ERROR],
    ["1.5.5", QUANTITY_FORMAT_ERROR],
    ["1 Mi", QUANTITY_FORMAT_ERROR],
    [" 1", QUANTITY_FORMAT_ERROR],
    ["1Mi ", QUANTITY_FORMAT_ERROR],
    ["abc", QUANTITY_FORMAT_ERROR],
    ["0x10", QUANTITY_FORMAT_ERROR],
    ["1mi", QUANTITY_SUFFIX_ERROR],
    ["1ki", QUANTITY_SUFFIX_ERROR],
    ["1KB", QUANTITY_FORMAT_ERROR],
    ["1e", QUANTITY_SUFFIX_ERROR],
    ["1m3", QUANTITY_SUFFIX_ERROR],
    ["1e1000", QUANTITY_SUFFIX_ERROR],
    ["1Gi5", QUANTITY_SUFFIX_ERROR],
  ];
  for (const [text, error] of bad) {
    const r = parseQuantity(text);
    assert.deepEqual(r, { ok: false, error }, `${JSON.stringify(text)}`);
  }
  assert.throws(() => mustParseQuantity("1 Mi"), /quantity "1 Mi"/);
});

test("comparison is exact across suffixes", () => {
  const cmp = (a: string, b: string) => compareQuantities(mustParseQuantity(a), mustParseQuantity(b));
  assert.equal(cmp("0.1", "100m"), 0);
  assert.equal(cmp("1Gi", "1G"), 1);
  assert.equal(cmp("1000Mi", "1Gi"), -1);
  assert.equal(cmp("1e3", "1k"), 0);
  assert.equal(cmp("1.5Gi", "1536Mi"), 0);
  assert.equal(cmp("-1", "0"), -1);
  // 0.1 + 0.2 in floating point is not 0.3; here 100m + 200m is exactly 300m.
  assert.equal(quantityMilliValue(mustParseQuantity("0.3")), 300n);
});
