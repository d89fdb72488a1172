// Encryption of stored secrets with the API server's EncryptionConfiguration: each provider round
// trips, the bytes are the API server's (aescbc checked against openssl, not only against itself),
// keys rotate (an older key reads, and its values are marked to be written again), tampering is
// found, and the config's mistakes are refused with their place and without key material.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IDENTITY, loadEncryptionConfig, parseEncryptionConfig } from "../../supervisor/daemon/encryption.ts";

const KEY1 = Buffer.alloc(32, 1).toString("base64");
const KEY2 = Buffer.alloc(32, 2).toString("base64");
const config = (providers: string) => `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
${providers}`;
const provider = (kind: string, name: string, secret: string) => `      - ${kind}:\n          keys: [{name: ${name}, secret: ${secret}}]\n`;
const value = Buffer.from(JSON.stringify({ kind: "Secret", data: { password: Buffer.from("hunter2").toString("base64") } }));
const ctx = "secrets/default/db";

test("aescbc, aesgcm and secretbox round trip, with the API server's prefix, and never hold the value in clear", () => {
  for (const kind of ["aescbc", "aesgcm", "secretbox"]) {
    const t = parseEncryptionConfig(config(provider(kind, "key1", KEY1)), "enc.yaml");
    const stored = t.toStorage(value, ctx);
    assert.ok(stored.subarray(0, `k8s:enc:${kind}:v1:key1:`.length).equals(Buffer.from(`k8s:enc:${kind}:v1:key1:`)), kind);
    assert.ok(!stored.includes(value.subarray(10, 30)), `${kind}: no plaintext in the stored bytes`);
    assert.deepEqual(t.fromStorage(stored, ctx), { plain: value, stale: false });
    assert.notDeepEqual(t.toStorage(value, ctx), stored, `${kind}: a fresh IV or nonce each write`);
  }
});

test("aescbc writes what openssl reads: 16-byte IV, then AES-256-CBC with PKCS#7 padding", { skip: !hasOpenssl() && "openssl is not installed" }, () => {
  const t = parseEncryptionConfig(config(provider("aescbc", "key1", KEY1)), "enc.yaml");
  const body = t.toStorage(value, ctx).subarray("k8s:enc:aescbc:v1:key1:".length);
  const plain = execFileSync("openssl", ["enc", "-d", "-aes-256-cbc", "-K", Buffer.alloc(32, 1).toString("hex"), "-iv", body.subarray(0, 16).toString("hex")], { input: body.subarray(16) });
  assert.deepEqual(plain, value);
  // And the other way: what openssl encrypts, podd reads.
  const iv = Buffer.alloc(16, 7);
  const sealed = execFileSync("openssl", ["enc", "-aes-256-cbc", "-K", Buffer.alloc(32, 1).toString("hex"), "-iv", iv.toString("hex")], { input: value });
  assert.deepEqual(t.fromStorage(Buffer.concat([Buffer.from("k8s:enc:aescbc:v1:key1:"), iv, sealed]), ctx).plain, value);
});

test("rotation: the first key writes, every listed key reads, and what an older key wrote is stale", () => {
  const old = parseEncryptionConfig(config(provider("aescbc", "key1", KEY1)), "enc.yaml");
  const written = old.toStorage(value, ctx);
  const rotated = parseEncryptionConfig(config(provider("aesgcm", "key2", KEY2) + provider("aescbc", "key1", KEY1)), "enc.yaml");
  assert.deepEqual(rotated.fromStorage(written, ctx), { plain: value, stale: true });
  assert.equal(rotated.fromStorage(rotated.toStorage(value, ctx), ctx).stale, false);
  // Plain JSON from before encryption was turned on reads, and is stale.
  assert.deepEqual(rotated.fromStorage(value, ctx), { plain: value, stale: true });
  // A key no longer listed: the message names it and says what to do, with no key material.
  const without = parseEncryptionConfig(config(provider("aesgcm", "key2", KEY2)), "enc.yaml");
  assert.throws(() => without.fromStorage(written, ctx), (err: Error) => /aescbc v1 key "key1", which enc\.yaml does not list/.test(err.message) && !err.message.includes(KEY1));
  // Without any config, an encrypted file is not guessed at.
  assert.throws(() => IDENTITY.fromStorage(written, ctx), /--encryption-provider-config/);
});

test("tampering and wrong keys are found; aesgcm binds the value to its object", () => {
  for (const kind of ["aesgcm", "secretbox", "aescbc"]) {
    const t = parseEncryptionConfig(config(provider(kind, "key1", KEY1)), "enc.yaml");
    const stored = t.toStorage(value, ctx);
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 20]! ^= 1;
    if (kind !== "aescbc") assert.throws(() => t.fromStorage(flipped, ctx), /cannot decrypt/, kind);
    const other = parseEncryptionConfig(config(provider(kind, "key1", KEY2)), "enc.yaml");
    assert.throws(() => other.fromStorage(stored, ctx), /cannot decrypt: .*key "key1"/, `${kind}: a key of the same name but other bytes`);
  }
  const gcm = parseEncryptionConfig(config(provider("aesgcm", "key1", KEY1)), "enc.yaml");
  assert.throws(() => gcm.fromStorage(gcm.toStorage(value, ctx), "secrets/default/other"), /cannot decrypt/, "moved to another object's name");
});

test("the config's mistakes are refused with their place, never with a key", () => {
  const refused = (text: string, re: RegExp) => assert.throws(() => parseEncryptionConfig(text, "enc.yaml"), (err: Error) => re.test(err.message) && !err.message.includes("AAAA"), text);
  refused(config(provider("aescbc", "key1", Buffer.alloc(10).toString("base64"))), /resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: must be 16, 24 or 32 bytes/);
  refused(config(provider("secretbox", "key1", Buffer.alloc(16).toString("base64"))), /secretbox\.keys\[0\]\.secret: must be 32 bytes/);
  refused(config("      - kms: {name: vault}\n"), /podd has no KMS plugin/);
  refused(config(provider("aescbc", "key1", KEY1)).replace("[secrets]", "[configmaps]"), /encrypts secrets only/);
  refused("apiVersion: v1\nkind: EncryptionConfig\n", /must be kind EncryptionConfiguration/);
  // identity for other resources is what podd does anyway, and is accepted.
  assert.ok(parseEncryptionConfig(config(provider("aescbc", "key1", KEY1)) + "  - resources: [configmaps]\n    providers: [{identity: {}}]\n", "enc.yaml"));
});

test("a key file group or others can read is refused, as ssh refuses such a key", () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-enc-"));
  try {
    const path = join(dir, "enc.yaml");
    writeFileSync(path, config(provider("aescbc", "key1", KEY1)), { mode: 0o644 });
    chmodSync(path, 0o644);
    assert.throws(() => loadEncryptionConfig(path), /mode 0644 lets group or others read or change the encryption keys in it; make it the daemon user's alone: chmod 600/);
    chmodSync(path, 0o600);
    assert.equal(loadEncryptionConfig(path).writes, 'aescbc key "key1"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false; // not installed: the interoperability test is skipped, with its reason
  }
}
