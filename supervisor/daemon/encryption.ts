// Encryption at rest for stored Secrets, configured by the file kube-apiserver takes as
// --encryption-provider-config (apiserver.config.k8s.io/v1 EncryptionConfiguration), so one key
// file means the same thing here and on a cluster, and a value written here has the bytes the
// API server would write: "k8s:enc:<provider>:v1:<key name>:" and then
//   aescbc     16-byte IV, AES-CBC of the value with PKCS#7 padding (not authenticated)
//   aesgcm     12-byte random nonce, AES-GCM ciphertext, 16-byte tag; the storage key
//              ("secrets/<ns>/<name>") is the additional data, so a file moved to another
//              object's name does not open
//   secretbox  24-byte random nonce, NaCl secretbox (XSalsa20-Poly1305: 16-byte tag, ciphertext)
// The first key of the first provider writes; every listed key is tried, by prefix, to read,
// which is how keys are rotated. Off by default: without the flag the store uses IDENTITY.
//
// podd encrypts Secrets only. The config may still name other resources, but only with
// identity providers (which is what podd does with them anyway); an entry that would encrypt
// anything else, wildcards ("*.", "*.*") included, is refused by name rather than half-honoured.
//
// Key material never leaves this module: it lives in closures (AES keys as KeyObjects), and
// no error message carries a key, a plaintext or a stored value's bytes, only key names and
// where in the file they are.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type CipherGCMTypes, type KeyObject } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import nacl from "tweetnacl";
import { parseDocument } from "yaml";
import { PoddError } from "../base/errors.ts";

export interface StorageTransformer {
  /** bytes to write for this object's JSON; `context` is the object's storage key (e.g. "secrets/default/db"), authenticated where the provider can */
  toStorage(plain: Buffer, context: string): Buffer;
  /** the JSON bytes back; throws PoddError naming the key/provider on a bad key, a tampered file, or an unknown prefix; plain JSON (starting with "{") is read as identity so that turning encryption on later still reads old files, and reports `stale: true` so the store can rewrite it */
  fromStorage(stored: Buffer, context: string): { plain: Buffer; stale: boolean };
  /** what writes use, for the daemon's start-up log line: `identity` or `aescbc key "key1"`; never key material */
  readonly writes: string;
}

/** The largest config file read: a few dozen keys fit in a few KiB. */
export const MAX_CONFIG_BYTES = 64 * 1024;

const API_VERSION = "apiserver.config.k8s.io/v1";
const KIND = "EncryptionConfiguration";
// Reserved by the API server for encrypted values; its identity provider refuses to read
// anything that starts with it, and so does ours.
const ENCRYPTED = Buffer.from("k8s:enc:");
const OPEN_BRACE = 0x7b; // "{": the store writes JSON objects, and only those

type Cipher = "aescbc" | "aesgcm" | "secretbox";

/** One key's cipher; `aad` is the storage key, which only aesgcm authenticates. */
interface Sealer {
  seal(plain: Buffer, aad: Buffer): Buffer;
  /** null: this key does not open it (wrong key, or altered) */
  open(sealed: Buffer, aad: Buffer): Buffer | null;
}

/** One key of one provider, or an identity provider: one candidate reader, in file order. */
type Reader =
  | { kind: "identity"; where: string }
  | (Sealer & {
      kind: Cipher;
      name: string;
      where: string; // "resources[0].providers[1].aescbc.keys[0]"
      prefix: Buffer; // "k8s:enc:aescbc:v1:key1:"
    });

// --- the transformer -------------------------------------------------------------------------

function checkPlain(plain: Buffer, context: string): void {
  // The read side tells plain JSON from an encrypted value by its first byte, and aescbc
  // (which has no tag) tells a wrong key by it: a value that is not a JSON object would not
  // read back, so it is refused here rather than written.
  if (plain[0] !== OPEN_BRACE) {
    throw new PoddError(`${context}: the value to store is not a JSON object`, { code: "Internal" });
  }
}

/** Stored bytes neither plain JSON nor "k8s:enc:…": no key helps, the file itself is damaged. */
function damaged(context: string): PoddError {
  return new PoddError(`${context}: stored value is neither a JSON object nor an encrypted value (k8s:enc:…); the file is damaged: delete the object and create it again`, { code: "Internal" });
}

/** `aesgcm key "key1"` from a stored prefix, for messages; the stored bytes are not trusted to be printable. */
function describeStoredPrefix(stored: Buffer): string {
  const head = stored.subarray(ENCRYPTED.length, ENCRYPTED.length + 160).toString("latin1");
  const [provider = "", version = "", ...rest] = head.split(":");
  const printable = (s: string) => (/^[\x20-\x7e]{1,64}$/.test(s) ? s : "?");
  if (rest.length === 0) return `provider ${JSON.stringify(printable(provider))}`;
  // A key name may itself hold ":"; the first field is enough to tell the user which key it was.
  return `${printable(provider)} ${printable(version)} key ${JSON.stringify(printable(rest[0] ?? ""))}`;
}

/** Without an encryption config: values are stored as they are; an encrypted one is an error that says what to do. */
export const IDENTITY: StorageTransformer = {
  writes: "identity",
  toStorage(plain, context) {
    checkPlain(plain, context);
    return plain;
  },
  fromStorage(stored, context) {
    if (stored[0] === OPEN_BRACE) return { plain: stored, stale: false };
    if (stored.subarray(0, ENCRYPTED.length).equals(ENCRYPTED)) {
      throw new PoddError(
        `${context}: stored encrypted (${describeStoredPrefix(stored)}), but the daemon has no encryption config; start it with --encryption-provider-config and a file that holds that key`,
        { code: "Internal" },
      );
    }
    throw damaged(context);
  },
};

function transformer(readers: Reader[], file: string): StorageTransformer {
  const writer = readers[0]!;
  return {
    writes: writer.kind === "identity" ? "identity" : `${writer.kind} key ${JSON.stringify(writer.name)}`,

    toStorage(plain, context) {
      checkPlain(plain, context);
      if (writer.kind === "identity") return plain;
      return Buffer.concat([writer.prefix, writer.seal(plain, Buffer.from(context, "utf8"))]);
    },

    fromStorage(stored, context) {
      const aad = Buffer.from(context, "utf8");
      const encrypted = stored.subarray(0, ENCRYPTED.length).equals(ENCRYPTED);
      if (!encrypted && stored[0] !== OPEN_BRACE) throw damaged(context);
      const failed: string[] = [];
      // As the API server: candidates in file order, by prefix; a key that matches the prefix
      // but does not open the value is not the end, since the same provider may be listed
      // twice while keys rotate, and key names may be prefixes of each other. Anything read
      // by another than the first candidate is stale: the store should write it again.
      for (const [i, r] of readers.entries()) {
        if (r.kind === "identity") {
          if (!encrypted) return { plain: stored, stale: i !== 0 };
          continue;
        }
        if (!encrypted || !stored.subarray(0, r.prefix.length).equals(r.prefix)) continue;
        const plain = r.open(stored.subarray(r.prefix.length), aad);
        if (plain !== null) return { plain, stale: i !== 0 };
        failed.push(`${r.kind} key ${JSON.stringify(r.name)} (${r.where})`);
      }
      // Plain JSON reads even when identity is not listed, so that turning encryption on keeps
      // every Secret written before readable; it is stale, and rewritten encrypted. (The API
      // server needs "identity: {}" listed for this; podd's files are its own, and a plain one
      // can only be one written before the flag was given.)
      if (!encrypted) return { plain: stored, stale: true };
      if (failed.length > 0) {
        throw new PoddError(
          `${context}: cannot decrypt: ${failed.join(", ")} of ${file} did not open it; it was written with another key of that name, or the file was altered. Restore the key it was written with, or delete the object and create it again`,
          { code: "Internal" },
        );
      }
      const what = describeStoredPrefix(stored);
      const hint = /^kms /.test(what) ? "podd has no KMS plugin" : `add that key back to ${file} (after the first provider, so it only reads)`;
      throw new PoddError(`${context}: written with ${what}, which ${file} does not list; ${hint}`, { code: "Internal" });
    },
  };
}

// --- the ciphers -----------------------------------------------------------------------------

const AES_BLOCK = 16;
const GCM_NONCE = 12; // the API server refuses to run with any other GCM nonce size
const GCM_TAG = 16;
const BOX_NONCE = 24;

function aesCbc(key: KeyObject, bits: number): Sealer {
  const algorithm = `aes-${bits}-cbc`;
  return {
    seal(plain) {
      const iv = randomBytes(AES_BLOCK);
      const c = createCipheriv(algorithm, key, iv); // PKCS#7 padding is OpenSSL's default
      return Buffer.concat([iv, c.update(plain), c.final()]);
    },
    open(sealed) {
      // At least the IV and one block (padding always adds one), in whole blocks.
      if (sealed.length < 2 * AES_BLOCK || sealed.length % AES_BLOCK !== 0) return null;
      const d = createDecipheriv(algorithm, key, sealed.subarray(0, AES_BLOCK));
      let plain: Buffer;
      try {
        plain = Buffer.concat([d.update(sealed.subarray(AES_BLOCK)), d.final()]);
      } catch {
        // OpenSSL's "bad decrypt": the padding is wrong, which is what a wrong key or an
        // altered file looks like in CBC. Reported by the caller, with the key's name.
        return null;
      }
      // CBC has no tag: a wrong key passes the padding check about once in 256 tries. What
      // was written is a JSON object, so a first byte that is not "{" is the same failure.
      return plain[0] === OPEN_BRACE ? plain : null;
    },
  };
}

function aesGcm(key: KeyObject, bits: number): Sealer {
  const algorithm = `aes-${bits}-gcm` as CipherGCMTypes; // bits is 128, 192 or 256
  return {
    seal(plain, aad) {
      // A random 96-bit nonce per write, as the API server's aesgcm: after about 2^32 writes
      // with one key a repeat gets likely, so that provider is rotated every 200,000 writes.
      const nonce = randomBytes(GCM_NONCE);
      const c = createCipheriv(algorithm, key, nonce, { authTagLength: GCM_TAG });
      c.setAAD(aad);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([nonce, body, c.getAuthTag()]);
    },
    open(sealed, aad) {
      if (sealed.length < GCM_NONCE + GCM_TAG) return null;
      const d = createDecipheriv(algorithm, key, sealed.subarray(0, GCM_NONCE), { authTagLength: GCM_TAG });
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - GCM_TAG));
      try {
        return Buffer.concat([d.update(sealed.subarray(GCM_NONCE, sealed.length - GCM_TAG)), d.final()]);
      } catch {
        // The tag does not match: wrong key, altered bytes, or another object's file (the
        // storage key is authenticated). Reported by the caller, with the key's name.
        return null;
      }
    },
  };
}

function secretbox(key: Uint8Array): Sealer {
  return {
    seal(plain) {
      const nonce = randomBytes(BOX_NONCE);
      return Buffer.concat([nonce, nacl.secretbox(plain, nonce, key)]);
    },
    open(sealed) {
      if (sealed.length < BOX_NONCE + nacl.secretbox.overheadLength) return null;
      const plain = nacl.secretbox.open(sealed.subarray(BOX_NONCE), sealed.subarray(0, BOX_NONCE), key);
      return plain === null ? null : Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    },
  };
}

// --- the config file -------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

class Problems {
  readonly list: string[] = [];
  constructor(readonly file: string) {}
  add(path: string, msg: string): void {
    this.list.push(`${this.file}: ${path ? `${path}: ` : ""}${msg}`);
  }
  /** Refuses every field not in `known`, by name. */
  fields(obj: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!known.includes(k)) this.add(path ? `${path}.${k}` : k, `unknown field; podd reads ${known.join(", ")} here`);
    }
  }
}

/** "secrets" → {resource: "secrets", group: ""}; "*.apps" → {resource: "*", group: "apps"}, as the API server splits them. */
function groupResource(s: string): { resource: string; group: string } {
  const dot = s.indexOf(".");
  return dot < 0 ? { resource: s, group: "" } : { resource: s.slice(0, dot), group: s.slice(dot + 1) };
}
const grString = (gr: { resource: string; group: string }) => `${gr.resource}.${gr.group}`;

const KEY_SIZES: Record<Cipher, readonly number[]> = { aescbc: [16, 24, 32], aesgcm: [16, 24, 32], secretbox: [32] };
const PROVIDERS = ["aescbc", "aesgcm", "secretbox", "identity", "kms"] as const;

/** Go's base64.StdEncoding, which the API server decodes keys with: padded, standard alphabet, line breaks ignored. */
function decodeBase64(s: string): Buffer | null {
  const t = s.replace(/[\r\n]/g, "");
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return null;
  return Buffer.from(t, "base64");
}

function parseKeys(p: Problems, cipher: Cipher, value: unknown, path: string): Reader[] {
  if (!isObject(value)) {
    p.add(path, `must be a map with keys: [{name, secret}]`);
    return [];
  }
  p.fields(value, path, ["keys"]);
  const keys = value.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    p.add(`${path}.keys`, "at least one key is required");
    return [];
  }
  const sizes = KEY_SIZES[cipher];
  const sizeText = sizes.length === 1 ? `${sizes[0]} bytes` : `${sizes.slice(0, -1).join(", ")} or ${sizes.at(-1)} bytes`;
  const out: Reader[] = [];
  for (const [k, key] of keys.entries()) {
    const kp = `${path}.keys[${k}]`;
    if (!isObject(key)) {
      p.add(kp, "must be a map with name and secret");
      continue;
    }
    p.fields(key, kp, ["name", "secret"]);
    const { name, secret } = key;
    if (typeof name !== "string" || name === "") p.add(`${kp}.name`, "a key needs a name (written into every value it encrypts, so the right key is found to read it)");
    if (typeof secret !== "string" || secret === "") {
      p.add(`${kp}.secret`, `required: ${sizeText} of random data, base64-encoded (head -c 32 /dev/urandom | base64)`);
      continue;
    }
    const raw = decodeBase64(secret);
    if (raw === null || !sizes.includes(raw.length)) {
      // The length it decodes to is no secret; the value itself never goes into a message.
      const got = raw === null ? "it is not valid base64" : `it decodes to ${raw.length} bytes`;
      p.add(`${kp}.secret`, `must be ${sizeText}, base64-encoded (${got}); make one with head -c 32 /dev/urandom | base64`);
      raw?.fill(0);
      continue;
    }
    if (typeof name !== "string" || name === "") {
      raw.fill(0);
      continue;
    }
    let ops: Sealer;
    if (cipher === "secretbox") {
      ops = secretbox(new Uint8Array(raw)); // a copy the closure owns
    } else {
      const keyObject = createSecretKey(raw); // copies; a KeyObject does not print its bytes
      ops = cipher === "aescbc" ? aesCbc(keyObject, raw.length * 8) : aesGcm(keyObject, raw.length * 8);
    }
    raw.fill(0);
    out.push({ kind: cipher, name, where: kp, prefix: Buffer.from(`k8s:enc:${cipher}:v1:${name}:`), ...ops });
  }
  return out;
}

/** One entry of providers: exactly one provider, as the API server requires. */
function parseProvider(p: Problems, value: unknown, path: string): Reader[] {
  if (!isObject(value)) {
    p.add(path, `must be a map naming one provider (${PROVIDERS.slice(0, 4).join(", ")})`);
    return [];
  }
  const named = Object.keys(value).filter((k): k is (typeof PROVIDERS)[number] => (PROVIDERS as readonly string[]).includes(k));
  p.fields(value, path, PROVIDERS);
  if (named.length === 0) {
    p.add(path, `names no provider; use one of ${PROVIDERS.slice(0, 4).join(", ")}`);
    return [];
  }
  if (named.length > 1) {
    p.add(path, `names ${named.join(" and ")}: one provider per list item; give each its own item`);
    return [];
  }
  const kind = named[0]!;
  const v = value[kind];
  const kp = `${path}.${kind}`;
  switch (kind) {
    case "kms":
      p.add(kp, "podd has no KMS plugin; use aescbc, aesgcm or secretbox with a key in this file");
      return [];
    case "identity":
      if (!isObject(v) || Object.keys(v).length > 0) {
        p.add(kp, "must be {} (identity takes no settings)");
        return [];
      }
      return [{ kind: "identity", where: kp }];
    default:
      return parseKeys(p, kind, v, kp);
  }
}

function describeResource(gr: { resource: string; group: string }, s: string): string {
  if (gr.resource === "configmaps" && gr.group === "") {
    return "podd stores configmaps unencrypted and encrypts secrets only; remove configmaps from this list (an entry of its own with only identity: {} is accepted)";
  }
  if (gr.resource === "*") {
    return `podd encrypts secrets only, so it cannot encrypt ${JSON.stringify(s)}; name secrets instead of the wildcard (a wildcard with only identity: {} is accepted)`;
  }
  return `podd encrypts secrets only and stores ${JSON.stringify(s)} unencrypted, if at all; remove it from this list (an entry with only identity: {} is accepted)`;
}

/**
 * The Secrets transformer an EncryptionConfiguration describes. `file` names the config in
 * messages; every problem is reported, one per line, as `file: path: what to do`.
 */
export function parseEncryptionConfig(text: string, file: string): StorageTransformer {
  const p = new Problems(file);
  const fail = () => new PoddError(p.list.join("\n"), { code: "Invalid", path: file });
  if (Buffer.byteLength(text, "utf8") > MAX_CONFIG_BYTES) {
    p.add("", `larger than ${MAX_CONFIG_BYTES / 1024} KiB; an encryption config holds a few keys`);
    throw fail();
  }
  if (text.trim() === "") {
    p.add("", `is empty; write an ${KIND} (apiVersion ${API_VERSION})`);
    throw fail();
  }
  const doc = parseDocument(text);
  for (const e of [...doc.errors, ...doc.warnings]) {
    // The parser's message ends with an excerpt of the source, which may be a key: keep only
    // its first clause and the position.
    const pos = e.linePos?.[0];
    p.add(pos ? `line ${pos.line}, column ${pos.col}` : "", `not valid YAML: ${e.message.split(" at line ")[0]}`);
  }
  if (p.list.length > 0) throw fail();
  const root = doc.toJS({ maxAliasCount: 100 }) as Json;
  if (!isObject(root)) {
    p.add("", `must be an ${KIND} (apiVersion ${API_VERSION}), a map`);
    throw fail();
  }
  p.fields(root, "", ["apiVersion", "kind", "resources"]);
  if (root.kind !== KIND || root.apiVersion !== API_VERSION) {
    const old = root.kind === "EncryptionConfig" ? " (the old EncryptionConfig of apiVersion v1 is not read; rename it)" : "";
    p.add("", `must be kind ${KIND}, apiVersion ${API_VERSION}; found kind ${JSON.stringify(root.kind ?? "")}, apiVersion ${JSON.stringify(root.apiVersion ?? "")}${old}`);
  }
  const resources = root.resources;
  if (!Array.isArray(resources) || resources.length === 0) {
    p.add("resources", "at least one entry is required: {resources: [secrets], providers: [...]}");
    throw fail();
  }

  // Provider lists by group/resource, as the API server builds them: entries naming the same
  // resource add to its list, and a resource named after a wildcard that covers it is masked.
  const lists = new Map<string, Reader[]>();
  for (const [i, entry] of resources.entries()) {
    const ep = `resources[${i}]`;
    if (!isObject(entry)) {
      p.add(ep, "must be a map with resources and providers");
      continue;
    }
    p.fields(entry, ep, ["resources", "providers"]);
    const providers = entry.providers;
    let readers: Reader[] = [];
    if (!Array.isArray(providers) || providers.length === 0) {
      p.add(`${ep}.providers`, "at least one provider is required");
    } else {
      for (const [j, provider] of providers.entries()) readers.push(...parseProvider(p, provider, `${ep}.providers[${j}]`));
    }
    const encrypts = readers.some((r) => r.kind !== "identity");

    const names = entry.resources;
    if (!Array.isArray(names) || names.length === 0) {
      p.add(`${ep}.resources`, "at least one resource is required; podd encrypts secrets");
      continue;
    }
    const seen: { resource: string; group: string }[] = [];
    for (const [k, name] of names.entries()) {
      const rp = `${ep}.resources[${k}]`;
      if (typeof name !== "string" || name === "") {
        p.add(rp, "must be a resource name such as secrets");
        continue;
      }
      if (/[A-Z]/.test(name)) {
        p.add(rp, `${JSON.stringify(name)}: resource names are lower-case (secrets)`);
        continue;
      }
      if (name === "*") {
        p.add(rp, `"*": use "*." for every resource of the core group, "*.*" for all (or just secrets)`);
        continue;
      }
      const gr = groupResource(name);
      if (gr.group === "*" && gr.resource !== "*") {
        p.add(rp, `${JSON.stringify(name)}: a resource cannot be named across groups; name it with its group`);
        continue;
      }
      const prev = seen.find((s) => (s.resource === gr.resource && s.group === gr.group) || s.group === "*" || gr.group === "*" || (s.group === gr.group && (s.resource === "*" || gr.resource === "*")));
      seen.push(gr);
      if (prev !== undefined) {
        p.add(`${ep}.resources`, prev.resource === gr.resource && prev.group === gr.group ? `${JSON.stringify(name)} is named twice` : `${JSON.stringify(name)} overlaps ${JSON.stringify(grString(prev))}: a wildcard and what it covers cannot share a list`);
        continue;
      }
      const mask = [`*.${gr.group}`, "*.*"].find((m) => lists.has(m));
      if (mask !== undefined) p.add(rp, `${JSON.stringify(name)} is masked by the earlier ${JSON.stringify(mask)}; put this entry before that one`);
      const isSecrets = gr.resource === "secrets" && gr.group === "";
      if (!isSecrets && encrypts) {
        p.add(rp, describeResource(gr, name));
        continue;
      }
      const key = grString(gr);
      lists.set(key, [...(lists.get(key) ?? []), ...readers]);
    }
  }
  // The API server's lookup for a resource: its own list, its group's wildcard, then "*.*".
  const secrets = lists.get("secrets.") ?? lists.get("*.") ?? lists.get("*.*");
  if (secrets === undefined) p.add("resources", "no entry names secrets, so nothing would be encrypted; add {resources: [secrets], providers: [...]}");
  if (p.list.length > 0 || secrets === undefined || secrets.length === 0) throw fail();
  return transformer(secrets, file);
}

/**
 * Reads and parses the config at `path`. The file holds the keys, so one that group or others
 * may read or change is refused, as ssh refuses a private key anyone else can read.
 */
export function loadEncryptionConfig(path: string): StorageTransformer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw PoddError.wrap(`read encryption config ${path}`, err);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PoddError(`${path}: encryption config is not a regular file`, { code: "Invalid", path });
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new PoddError(`${path}: mode ${mode} lets group or others read or change the encryption keys in it; make it the daemon user's alone: chmod 600 ${path}`, { code: "Invalid", path });
    }
    // Read at most one byte past the limit, whatever the size said: the file may grow under us.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > MAX_CONFIG_BYTES) throw new PoddError(`${path}: encryption config is larger than ${MAX_CONFIG_BYTES / 1024} KiB; it holds a few keys`, { code: "Invalid", path });
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      // TextDecoder's only failure here is bytes that are not UTF-8; its message has nothing more.
      throw new PoddError(`${path}: encryption config is not UTF-8 text`, { code: "Invalid", path });
    } finally {
      buf.fill(0); // the keys, in base64
    }
  } catch (err) {
    if (err instanceof PoddError) throw err;
    throw PoddError.wrap(`read encryption config ${path}`, err);
  } finally {
    closeSync(fd);
  }
  return parseEncryptionConfig(text, path);
}
