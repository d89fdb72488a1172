// Where a ConfigMap's or a Secret's data comes from on the command line, read as kubectl reads
// it: --from-literal=key=value, --from-file=[key=]path (a directory gives each regular file in
// it, by name), --from-env-file=path (KEY=VALUE lines). Keys are checked as they are added,
// with kubectl's messages, so a bad key or a duplicate is refused before anything is sent.
import { isUtf8 } from "node:buffer";
import { readdirSync, readFileSync, statSync, type Dirent } from "node:fs";
import { basename, join } from "node:path";
import { getSystemErrorMap } from "node:util";
import { PoddError } from "../../base/errors.ts";
import { isConfigMapKey, isStrictEnvVarName } from "../../../pod-specs/names.ts";
import { goQuote } from "./go-json.ts";

function invalid(message: string, cause?: unknown): PoddError {
  return new PoddError(message, { code: "Invalid", ...(cause === undefined ? {} : { cause }) });
}

/** The C library's text for a Node system error ("no such file or directory"), which is what
 * Go's os errors print and so what kubectl's messages end in. */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.errno === "number") {
    const entry = getSystemErrorMap().get(e.errno);
    if (entry) return entry[1];
  }
  return e.code ?? String(err);
}

/** What the sources fill: a ConfigMap's data and binaryData, or a Secret's data. */
export interface DataTarget {
  /** A value given as text: --from-literal, an env file line. */
  addText(key: string, value: string): void;
  /** A file's bytes. */
  addFile(key: string, content: Buffer): void;
  /** kubectl's refusal of a directory given to --from-env-file, which names the object kind. */
  readonly envFileIsDirectory: string;
  /** The bytes the API server counts against its 1 MiB object limit. */
  size(): number;
}

export class ConfigMapData implements DataTarget {
  readonly data = new Map<string, string>();
  readonly binaryData = new Map<string, Buffer>();
  readonly envFileIsDirectory = "env config file cannot be a directory";

  /** name: the ConfigMap's, before any --append-hash suffix (kubectl's messages name it so). */
  constructor(readonly name: string) {}

  addText(key: string, value: string): void {
    this.check(key);
    this.data.set(key, value);
  }

  /** Text when the bytes are UTF-8, else binaryData: a ConfigMap's data holds strings only. */
  addFile(key: string, content: Buffer): void {
    if (isUtf8(content)) return this.addText(key, content.toString("utf8"));
    this.check(key);
    this.binaryData.set(key, content);
  }

  size(): number {
    let n = 0;
    for (const v of this.data.values()) n += Buffer.byteLength(v, "utf8");
    for (const v of this.binaryData.values()) n += v.length;
    return n;
  }

  private check(key: string): void {
    const errs = isConfigMapKey(key);
    if (errs.length > 0) throw invalid(`${goQuote(key)} is not a valid key name for a ConfigMap: ${errs.join(",")}`);
    if (this.data.has(key)) throw invalid(`cannot add key ${goQuote(key)}, another key by that name already exists in Data for ConfigMap ${goQuote(this.name)}`);
    if (this.binaryData.has(key)) throw invalid(`cannot add key ${goQuote(key)}, another key by that name already exists in BinaryData for ConfigMap ${goQuote(this.name)}`);
  }
}

export class SecretData implements DataTarget {
  readonly data = new Map<string, Buffer>();
  readonly envFileIsDirectory = "env secret file cannot be a directory";

  addText(key: string, value: string): void {
    this.addFile(key, Buffer.from(value, "utf8"));
  }

  addFile(key: string, content: Buffer): void {
    const errs = isConfigMapKey(key);
    // kubectl's wording for Secrets differs from its ConfigMap one ("not valid", no colon,
    // errors joined by ";"); kept, so a script that matches kubectl's message matches ours.
    if (errs.length > 0) throw invalid(`${goQuote(key)} is not valid key name for a Secret ${errs.join(";")}`);
    if (this.data.has(key)) throw invalid(`cannot add key ${key}, another key by that name already exists`);
    this.data.set(key, content);
  }

  size(): number {
    let n = 0;
    for (const v of this.data.values()) n += v.length;
    return n;
  }
}

// ---- parsing one source ----------------------------------------------------------------------

/** "key=value": the first "=" splits, so a value may hold "="; the key may not be empty. */
export function parseLiteralSource(source: string): [key: string, value: string] {
  const eq = source.indexOf("=");
  if (eq <= 0) throw invalid(`invalid literal source ${source}, expected key=value`);
  return [source.slice(0, eq), source.slice(eq + 1)];
}

/** "path" (the key is its base name) or "key=path"; neither part may hold another "=". */
export function parseFileSource(source: string): [key: string, path: string] {
  const parts = source.split("=");
  if (parts.length === 1) return [basename(source), source];
  if (parts.length > 2) throw invalid("key names or file paths cannot contain '='");
  const [key, path] = parts as [string, string];
  if (key === "") throw invalid(`key name for file path ${path} missing`);
  if (path === "") throw invalid(`file path for key name ${key} missing`);
  return [key, path];
}

/**
 * One flag value of --from-file or --from-env-file as kubectl's flag library splits it: as a
 * line of CSV, so `--from-file=a.conf,b.conf` names two files and a path holding a comma is
 * written in double quotes. (--from-literal is not split: a value may hold commas.)
 */
export function splitSourceList(flag: string, value: string): string[] {
  if (value === "") return [];
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (value[i] === '"') {
      i++;
      for (;;) {
        const q = value.indexOf('"', i);
        if (q < 0) throw invalid(`invalid argument ${goQuote(value)} for "--${flag}" flag: extraneous or missing " in quoted-field`);
        field += value.slice(i, q);
        i = q + 1;
        if (value[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        break;
      }
      if (i < value.length && value[i] !== ",") throw invalid(`invalid argument ${goQuote(value)} for "--${flag}" flag: extraneous or missing " in quoted-field`);
    } else {
      const comma = value.indexOf(",", i);
      field = value.slice(i, comma < 0 ? value.length : comma);
      if (field.includes('"')) throw invalid(`invalid argument ${goQuote(value)} for "--${flag}" flag: bare " in non-quoted-field`);
      i += field.length;
    }
    out.push(field);
    if (i >= value.length) return out;
    i++; // the comma
    if (i === value.length) {
      out.push("");
      return out;
    }
  }
}

// ---- reading the sources ---------------------------------------------------------------------

export function addFromLiterals(target: DataTarget, sources: readonly string[]): void {
  for (const source of sources) {
    const [key, value] = parseLiteralSource(source);
    target.addText(key, value);
  }
}

function readSourceFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalid(`open ${path}: ${systemErrorText(err)}`, err);
  }
}

/** Byte order of names, as Go's os.ReadDir sorts a directory. */
function byName(a: Dirent, b: Dirent): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

export function addFromFiles(target: DataTarget, sources: readonly string[]): void {
  for (const source of sources) {
    const [key, path] = parseFileSource(source);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (err) {
      throw invalid(`error reading ${path}: ${systemErrorText(err)}`, err);
    }
    if (!isDir) {
      target.addFile(key, readSourceFile(path));
      continue;
    }
    if (source.includes("=")) throw invalid("cannot give a key name for a directory path");
    let entries: Dirent[];
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch (err) {
      throw invalid(`error listing files in ${path}: open ${path}: ${systemErrorText(err)}`, err);
    }
    // Regular files only, by their own type: a symlink, a subdirectory, a socket or a pipe in
    // the directory is skipped (kubectl's rule; a pipe would also block the read).
    for (const entry of entries.sort(byName)) {
      if (entry.isFile()) target.addFile(entry.name, readSourceFile(join(path, entry.name)));
    }
  }
}

export function addFromEnvFiles(target: DataTarget, sources: readonly string[], env: NodeJS.ProcessEnv): void {
  for (const path of sources) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (err) {
      throw invalid(`error reading ${path}: ${systemErrorText(err)}`, err);
    }
    if (isDir) throw invalid(target.envFileIsDirectory);
    for (const [key, value] of parseEnvFile(readSourceFile(path), path, env)) target.addText(key, value);
  }
}

// ---- env files -------------------------------------------------------------------------------

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
// Go's unicode.IsSpace: JavaScript's trimStart also strips U+FEFF, which kubectl keeps (a BOM
// after the first line makes an invalid key there).
const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * An env file as kubectl reads one: one KEY=VALUE per line, split at the first "="; the value
 * is taken as it is (no quotes removed, trailing spaces kept); leading white space, blank
 * lines and lines starting with "#" are skipped; a UTF-8 BOM is dropped from the first line;
 * a line with only KEY takes KEY's value from `env` (empty when unset). Keys must be
 * environment variable names; a bad one is refused with its line number.
 */
export function parseEnvFile(content: Buffer, path: string, env: NodeJS.ProcessEnv): [key: string, value: string][] {
  const out: [string, string][] = [];
  let start = 0;
  let lineNo = 0;
  while (start < content.length) {
    const nl = content.indexOf(0x0a, start);
    const end = nl < 0 ? content.length : nl;
    let line = content.subarray(start, end);
    start = end + 1;
    lineNo++;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (!isUtf8(line)) {
      // Go prints a byte slice with %v as its decimal bytes in brackets: kubectl's message does.
      throw invalid(`env file ${path} contains invalid utf8 bytes at line ${lineNo}: [${[...line].join(" ")}]`);
    }
    if (lineNo === 1 && line.subarray(0, 3).equals(UTF8_BOM)) line = line.subarray(3);
    const text = line.toString("utf8").replace(LEADING_SPACE, "");
    if (text === "" || text.startsWith("#")) continue;
    const eq = text.indexOf("=");
    const key = eq < 0 ? text : text.slice(0, eq);
    const errs = isStrictEnvVarName(key);
    if (errs.length > 0) throw invalid(`env file ${path}, line ${lineNo}: ${goQuote(key)} is not a valid key name: ${errs.join(";")}`);
    out.push([key, eq < 0 ? (env[key] ?? "") : text.slice(eq + 1)]);
  }
  return out;
}
