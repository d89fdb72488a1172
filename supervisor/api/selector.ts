// Label and field selectors as kube-apiserver reads them (?labelSelector=, ?fieldSelector=,
// kubectl's -l and --field-selector). One parser for the API and the CLI, so that a selector
// the CLI accepts is one the daemon accepts, and a selector neither can read is an error, never
// a silent empty match. The grammar, the matching rules and the error messages follow
// k8s.io/apimachinery's labels.Parse and fields.ParseSelector, so a user's selector means on
// podd what it means on a cluster.
import { PoddError } from "../base/errors.ts";

/** A selector the API cannot read: 400 BadRequest, as kube-apiserver answers. */
export class SelectorError extends PoddError {
  constructor(message: string) {
    super(message, { code: "Invalid" });
  }
}

export type Labels = Readonly<Record<string, string>> | undefined;
export type LabelMatcher = (labels: Labels) => boolean;

type Operator = "in" | "notin" | "=" | "==" | "!=" | ">" | "<" | "exists" | "!";

interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

// ---- lexer -----------------------------------------------------------------------------------

type Token = "error" | "end" | ")" | "," | "!" | "==" | "=" | ">" | "in" | "<" | "!=" | "notin" | "(" | "id";

/** The fixed tokens; anything else between specials and whitespace is an identifier. */
const FIXED = new Set<string>([")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("]);
const SPECIAL = new Set(["=", "!", "(", ")", ",", ">", "<"]);
const WHITESPACE = new Set([" ", "\t", "\r", "\n"]);

interface Item {
  tok: Token;
  lit: string;
}

function lex(text: string): Item[] {
  const items: Item[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && WHITESPACE.has(text[at]!)) at++;
    if (at >= text.length) {
      items.push({ tok: "end", lit: "" });
      return items;
    }
    if (SPECIAL.has(text[at]!)) {
      // The longest run of specials that is still a token: "!=" and "==" are one, "=(" is two.
      let buf = "";
      let last: Item | undefined;
      while (at < text.length && SPECIAL.has(text[at]!)) {
        buf += text[at];
        if (FIXED.has(buf)) last = { tok: buf as Token, lit: buf };
        else if (last) break;
        at++;
      }
      items.push(last ?? { tok: "error", lit: `error expected: keyword found '${buf}'` });
    } else {
      const start = at;
      while (at < text.length && !SPECIAL.has(text[at]!) && !WHITESPACE.has(text[at]!)) at++;
      const lit = text.slice(start, at);
      items.push({ tok: lit === "in" || lit === "notin" ? lit : "id", lit });
    }
  }
}

// ---- parser ----------------------------------------------------------------------------------

/** "in" and "notin" are operators only right after a key; anywhere else they are identifiers ("x in (in)"). */
type Context = "operator" | "values";

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  peek(ctx: Context = "values"): Item {
    return this.asIn(this.items[this.pos]!, ctx);
  }

  next(ctx: Context = "values"): Item {
    return this.asIn(this.items[this.pos++]!, ctx);
  }

  private asIn(item: Item, ctx: Context): Item {
    return ctx === "values" && (item.tok === "in" || item.tok === "notin") ? { tok: "id", lit: item.lit } : item;
  }
}

/**
 * Parses a label selector: requirements joined by commas, each `key=value`, `key==value`,
 * `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key` (and kube-apiserver's
 * `key>1`, `key<1` for integer values). The empty selector matches everything. Throws a
 * SelectorError worded as kube-apiserver words it.
 */
export function parseLabelSelector(text: string): LabelMatcher {
  const reqs = parseRequirements(text);
  return (labels) => reqs.every((r) => matches(r, labels));
}

function parseRequirements(text: string): Requirement[] {
  const p = new Parser(lex(text));
  const reqs: Requirement[] = [];
  for (;;) {
    const { tok, lit } = p.peek();
    if (tok === "end") return reqs;
    if (tok !== "id" && tok !== "!") throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
    try {
      reqs.push(parseRequirement(p));
    } catch (err) {
      if (err instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${err.message}`);
      throw err;
    }
    const after = p.next();
    if (after.tok === "end") return reqs;
    if (after.tok !== ",") throw new SelectorError(`found '${after.lit}', expected: ',' or 'end of string'`);
    const following = p.peek();
    if (following.tok !== "id" && following.tok !== "!") throw new SelectorError(`found '${following.lit}', expected: identifier after ','`);
  }
}

const BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt";

function parseRequirement(p: Parser): Requirement {
  let negated = false;
  let key = p.next();
  if (key.tok === "!") {
    negated = true;
    key = p.next();
  }
  if (key.tok !== "id") throw new SelectorError(`found '${key.lit}', expected: identifier`);
  const keyErrors = qualifiedNameErrors(key.lit);
  if (keyErrors.length > 0) throw new SelectorError(invalid("<nil>", key.lit, keyErrors));
  const ahead = p.peek().tok;
  if (negated || ahead === "end" || ahead === ",") {
    // "!key" takes no operator: "!key=v" is refused at the "=" by the caller, as kube-apiserver does.
    return requirement(key.lit, negated ? "!" : "exists", []);
  }
  const op = p.next("operator");
  switch (op.tok) {
    case "in":
    case "notin":
      return requirement(key.lit, op.tok, parseValueSet(p));
    case "=":
    case "==":
    case "!=":
    case ">":
    case "<":
      return requirement(key.lit, op.tok, [parseExactValue(p)]);
    default:
      throw new SelectorError(`found '${op.lit}', expected: ${BINARY_OPERATORS}`);
  }
}

/** "(a,b)", "()" and "(a,,b)": the empty string is a value. Returned sorted and deduplicated. */
function parseValueSet(p: Parser): string[] {
  const open = p.next();
  if (open.tok !== "(") throw new SelectorError(`found '${open.lit}' expected: '('`);
  const first = p.peek();
  if (first.tok === ")") {
    p.next();
    return [""];
  }
  if (first.tok !== "id" && first.tok !== ",") throw new SelectorError(`found '${first.lit}', expected: ',', ')' or identifier`);
  const values = new Set<string>();
  for (;;) {
    const item = p.next();
    if (item.tok === "id") {
      values.add(item.lit);
      const after = p.peek();
      if (after.tok === ",") continue;
      if (after.tok === ")") break;
      throw new SelectorError(`found '${after.lit}', expected: ',' or ')'`);
    }
    if (item.tok === ",") {
      // A comma with nothing before it, after it or between two: each is an empty value.
      if (values.size === 0) values.add("");
      const after = p.peek().tok;
      if (after === ")") {
        values.add("");
        break;
      }
      if (after === ",") {
        p.next();
        values.add("");
      }
      continue;
    }
    throw new SelectorError(`found '${item.lit}', expected: ',', or identifier`);
  }
  const close = p.next();
  if (close.tok !== ")") throw new SelectorError(`found '${first.lit}', expected: ')'`);
  return [...values].sort();
}

function parseExactValue(p: Parser): string {
  const ahead = p.peek().tok;
  if (ahead === "end" || ahead === ",") return "";
  const v = p.next();
  if (v.tok !== "id") throw new SelectorError(`found '${v.lit}', expected: identifier`);
  return v.lit;
}

/** Validates the values as kube-apiserver's NewRequirement does, every error at once. */
function requirement(key: string, op: Operator, values: string[]): Requirement {
  const errors: string[] = [];
  values.forEach((v, i) => {
    if ((op === ">" || op === "<") && parseInt64(v) === undefined) {
      errors.push(invalid(`values[${i}]`, v, ["for 'Gt', 'Lt' operators, the value must be an integer"]));
    }
  });
  values.forEach((v, i) => {
    const msgs = labelValueErrors(v);
    if (msgs.length > 0) errors.push(invalid(`values[${i}][${key}]`, v, msgs));
  });
  if (errors.length === 1) throw new SelectorError(errors[0]!);
  if (errors.length > 1) throw new SelectorError(`[${errors.join(", ")}]`);
  return { key, op, values };
}

/** field.Invalid's wording: `values[0][app]: Invalid value: "x y": …`. */
function invalid(path: string, value: string, msgs: string[]): string {
  return `${path}: Invalid value: ${JSON.stringify(value)}: ${msgs.join("; ")}`;
}

function matches(r: Requirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key]! : "";
  switch (r.op) {
    case "in":
    case "=":
    case "==":
      return has && r.values.includes(value);
    // A pod without the key is not equal to any value: != and notin select it.
    case "notin":
    case "!=":
      return !has || !r.values.includes(value);
    case "exists":
      return has;
    case "!":
      return !has;
    case ">":
    case "<": {
      const got = has ? parseInt64(value) : undefined;
      const want = parseInt64(r.values[0]!);
      if (got === undefined || want === undefined) return false;
      return r.op === ">" ? got > want : got < want;
    }
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits, in int64's range. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

// ---- label keys and values (apimachinery util/validation) ------------------------------------

const QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1123_SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${fmt}')`;
}

/** A label key: an optional DNS subdomain prefix (253 characters) and "/", then a name of 63. */
export function qualifiedNameErrors(key: string): string[] {
  const errs: string[] = [];
  const parts = key.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push("prefix part " + regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"));
    }
  } else {
    return [
      "a qualified name " +
        regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc") +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (!QUALIFIED_NAME.test(name)) errs.push("name part " + regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"));
  return errs;
}

/** A label value: empty, or up to 63 characters of a qualified name. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE.test(value)) errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"));
  return errs;
}

// ---- field selectors -------------------------------------------------------------------------

/**
 * Parses a field selector over the fields a resource offers (`fields`: name → value of an
 * object): terms joined by unescaped commas, each `field=value`, `field==value` or
 * `field!=value`, values escaped with `\,`, `\=`, `\\`. No whitespace is trimmed: kube-apiserver
 * reads "a = b" as the field "a " and refuses it.
 */
export function parseFieldSelector<T>(text: string, fields: Readonly<Record<string, (obj: T) => string>>): (obj: T) => boolean {
  const terms = splitTerms(text).sort();
  const tests = terms
    .filter((t) => t !== "")
    .map((term) => {
      const split = splitTerm(term);
      if (!split) throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
      const [field, op, raw] = split;
      const value = unescapeFieldValue(raw);
      if (!Object.hasOwn(fields, field)) throw new SelectorError(`field label not supported: ${field}`);
      const get = fields[field]!;
      return op === "!=" ? (o: T) => get(o) !== value : (o: T) => get(o) === value;
    });
  return (obj) => tests.every((t) => t(obj));
}

/** Splits on commas not escaped by a backslash, keeping the escapes for unescapeFieldValue. */
function splitTerms(text: string): string[] {
  if (text === "") return [];
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === ",") {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

/** The first operator from the left, "!=" before "==" before "=" at one position. */
function splitTerm(term: string): [string, "!=" | "==" | "=", string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ["!=", "==", "="] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

function unescapeFieldValue(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\") {
      const n = s[i + 1];
      if (n === undefined) throw new SelectorError("invalid field selector: invalid escape sequence: \\");
      if (n !== "\\" && n !== "," && n !== "=") throw new SelectorError(`invalid field selector: invalid escape sequence: \\${n}`);
      out += n;
      i++;
    } else if (c === "," || c === "=") {
      // Go prints the rune as its number (%v of a rune).
      throw new SelectorError(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else out += c;
  }
  return out;
}
