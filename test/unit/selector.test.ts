import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { parseFieldSelector, parseLabelSelector, SelectorError } from "../../supervisor/api/selector.ts";

const web = { app: "web", tier: "front" };
const db = { app: "db", tier: "back" };
const bare = { other: "x" };
const numbered = { replicas: "3" };

describe("label selectors: kube-apiserver's grammar", () => {
  // [selector, matches web, db, bare (no app or tier label), no labels at all]
  const matching: [string, boolean, boolean, boolean, boolean][] = [
    ["", true, true, true, true],
    ["   ", true, true, true, true],
    ["app=web", true, false, false, false],
    ["app==web", true, false, false, false],
    ["app = web", true, false, false, false],
    ["app!=web", false, true, true, true],
    ["app in (web,db)", true, true, false, false],
    ["app in(web)", true, false, false, false],
    ["app  in  ( web , db )", true, true, false, false],
    ["app notin (web)", false, true, true, true],
    ["app notin (web,db)", false, false, true, true],
    ["app", true, true, false, false],
    ["!app", false, false, true, true],
    ["! app", false, false, true, true],
    ["app,tier=back", false, true, false, false],
    ["app=web,tier!=back", true, false, false, false],
    ["app in (web), !other", true, false, false, false],
    ["\tapp=web\n", true, false, false, false],
    // The empty value: "app=" is app with an empty value; "()" and "(,)" hold the empty value.
    ["app=", false, false, false, false],
    ["app!=", true, true, true, true],
    ["app in ()", false, false, false, false],
    ["app notin (,)", true, true, true, true],
    ["app in (x,,web)", true, false, false, false],
    // "in" and "notin" are identifiers where a key or a value stands.
    ["in", false, false, false, false],
    ["app notin (in,notin)", true, true, true, true],
    ["example.com/app", false, false, false, false],
    ["app.kubernetes.io/name!=x", true, true, true, true],
  ];
  for (const [text, w, d, b, none] of matching) {
    it(`${JSON.stringify(text)} matches web=${w} db=${d} without-key=${b} no-labels=${none}`, () => {
      const m = parseLabelSelector(text);
      assert.deepEqual([m(web), m(db), m(bare), m(undefined)], [w, d, b, none]);
    });
  }

  it("gt and lt compare integers, and never match a key that is missing or not a number", () => {
    assert.equal(parseLabelSelector("replicas>2")(numbered), true);
    assert.equal(parseLabelSelector("replicas<3")(numbered), false);
    assert.equal(parseLabelSelector("replicas>2")({ replicas: "many" }), false);
    assert.equal(parseLabelSelector("replicas<9")(bare), false);
  });

  it("a key of Object's prototype is a key like any other", () => {
    assert.equal(parseLabelSelector("constructor")(web), false);
    assert.equal(parseLabelSelector("!toString")(web), true);
  });

  const NAME_REGEX = "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  const VALUE_REGEX = "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  const refused: [string, string][] = [
    ["a=(b", "unable to parse requirement: found '(', expected: identifier"],
    ["app in web", "unable to parse requirement: found 'web' expected: '('"],
    ["app in (web", "unable to parse requirement: found '', expected: ',' or ')'"],
    ["app in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ["app in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"],
    ["app web", "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt"],
    ["app=web=x", "found '=', expected: ',' or 'end of string'"],
    ["app=web x", "found 'x', expected: ',' or 'end of string'"],
    ["!app=web", "found '=', expected: ',' or 'end of string'"],
    ["app=web,", "found '', expected: identifier after ','"],
    ["app,,tier", "found ',', expected: identifier after ','"],
    [",app", "found ',', expected: !, identifier, or 'end of string'"],
    ["=web", "found '=', expected: !, identifier, or 'end of string'"],
    ["!", "unable to parse requirement: found '', expected: identifier"],
    ["-app", `unable to parse requirement: <nil>: Invalid value: "-app": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character ${NAME_REGEX}`],
    ["a".repeat(64), `unable to parse requirement: <nil>: Invalid value: "${"a".repeat(64)}": name part must be no more than 63 characters`],
    ["/app", `unable to parse requirement: <nil>: Invalid value: "/app": prefix part must be non-empty`],
    ["Example.com/app", `unable to parse requirement: <nil>: Invalid value: "Example.com/app": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`],
    ["a/b/c", `unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character ${NAME_REGEX} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`],
    ["app=web/x", `unable to parse requirement: values[0][app]: Invalid value: "web/x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character ${VALUE_REGEX}`],
    [`app=${"v".repeat(64)}`, `unable to parse requirement: values[0][app]: Invalid value: "${"v".repeat(64)}": must be no more than 63 characters`],
    ["app in (b-,a-)", `unable to parse requirement: [values[0][app]: Invalid value: "a-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character ${VALUE_REGEX}, values[1][app]: Invalid value: "b-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character ${VALUE_REGEX}]`],
    ["replicas>many", `unable to parse requirement: values[0]: Invalid value: "many": for 'Gt', 'Lt' operators, the value must be an integer`],
  ];
  for (const [text, message] of refused) {
    it(`${JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text)} is refused`, () => {
      assert.throws(() => parseLabelSelector(text), (err: unknown) => {
        assert.ok(err instanceof SelectorError);
        assert.equal(err.code, "Invalid");
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});

describe("field selectors", () => {
  const fields = { "metadata.name": (o: { name: string }) => o.name };
  const pick = (text: string, names: string[]) => names.filter((name) => parseFieldSelector(text, fields)({ name }));

  it("=, == and != over the fields offered; the empty selector takes all", () => {
    assert.deepEqual(pick("metadata.name=a", ["a", "b"]), ["a"]);
    assert.deepEqual(pick("metadata.name==a", ["a", "b"]), ["a"]);
    assert.deepEqual(pick("metadata.name!=a", ["a", "b"]), ["b"]);
    assert.deepEqual(pick("metadata.name!=a,metadata.name!=b", ["a", "b", "c"]), ["c"]);
    assert.deepEqual(pick("", ["a", "b"]), ["a", "b"]);
    assert.deepEqual(pick("metadata.name=", ["a", ""]), [""]);
  });

  it("escaped commas, equals signs and backslashes are part of the value", () => {
    assert.deepEqual(pick("metadata.name=a\\,b", ["a,b", "a"]), ["a,b"]);
    assert.deepEqual(pick("metadata.name=a\\=b\\\\", ["a=b\\"]), ["a=b\\"]);
  });

  const refused: [string, string][] = [
    ["spec.foo=1", "field label not supported: spec.foo"],
    ["metadata.name =a", "field label not supported: metadata.name "],
    ["metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ["metadata.name=a,x", "invalid selector: 'metadata.name=a,x'; can't understand 'x'"],
    ["metadata.name=a=b", "invalid field selector: unescaped character in value: 61"],
    ["metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"],
    ["metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"],
  ];
  for (const [text, message] of refused) {
    it(`${JSON.stringify(text)} is refused: ${message}`, () => {
      assert.throws(() => parseFieldSelector(text, fields), (err: unknown) => err instanceof SelectorError && err.message === message);
    });
  }
});
