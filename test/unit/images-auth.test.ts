// The auth file: where it is looked for, the entry forms Docker and podman write, and logins
// written and removed atomically, readable by the owner only, with the rest of the file kept.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { DOCKER_HUB_AUTH_KEY, findAuthFile, parseAuthFile, readCredentials, removeAuth, writeAuth } from "../../supervisor/runtime/images/auth.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-auth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("the auth file is --authfile, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json", () => {
  assert.equal(findAuthFile({ DOCKER_CONFIG: "/cfg" }, "/home/u", "/explicit.json"), "/explicit.json");
  assert.equal(findAuthFile({ DOCKER_CONFIG: "/cfg" }, "/home/u"), "/cfg/config.json");
  assert.equal(findAuthFile({}, "/home/u"), "/home/u/.docker/config.json");
  assert.equal(findAuthFile({ DOCKER_CONFIG: "" }, "/home/u", ""), "/home/u/.docker/config.json");
});

test("entries as auth, as username/password and with an identity token; Docker Hub's URL key is docker.io", () => {
  const text = JSON.stringify({
    auths: {
      [DOCKER_HUB_AUTH_KEY]: { auth: b64("hubuser:hub:pass") },
      "registry.lan:5000": { username: "u", password: "p" },
      "https://old.lan/v1/": { auth: b64("o:p") },
      "token.lan": { auth: b64("<token>:"), identitytoken: "refresh-1" },
      "helper.lan": {},
    },
    credsStore: "desktop",
  });
  const e = parseAuthFile(text, "/c.json");
  assert.deepEqual(e.get("docker.io"), { username: "hubuser", password: "hub:pass" }, "a password may hold colons");
  assert.deepEqual(e.get("registry.lan:5000"), { username: "u", password: "p" });
  assert.deepEqual(e.get("old.lan"), { username: "o", password: "p" });
  assert.deepEqual(e.get("token.lan"), { username: "<token>", password: "", identityToken: "refresh-1" });
  assert.equal(e.has("helper.lan"), false, "an entry a credential helper keeps has no credentials here");
});

test("a key spelled as the host wins over a URL form of it, in any order", () => {
  const e = parseAuthFile(JSON.stringify({ auths: { [DOCKER_HUB_AUTH_KEY]: { auth: b64("url:1") }, "docker.io": { auth: b64("plain:2") } } }), "c");
  assert.equal(e.get("docker.io")?.username, "plain");
});

test("a broken file or entry is refused with the file and the key", () => {
  assert.throws(() => parseAuthFile("{", "/c.json"), /^PoddError: auth file \/c\.json: not valid JSON: .*; fix it or log in again$/);
  assert.throws(() => parseAuthFile('{"auths": []}', "/c.json"), /^PoddError: auth file \/c\.json: auths is not a JSON object$/);
  assert.throws(() => parseAuthFile(JSON.stringify({ auths: { "r.lan": { auth: b64("nocolon") } } }), "/c.json"), /^PoddError: \/c\.json: auths\["r\.lan"\]\.auth: not the base64 of user:password; log in again$/);
  assert.throws(() => parseAuthFile(JSON.stringify({ auths: { "r.lan": { username: 3 } } }), "/c.json"), /auths\["r\.lan"\]\.username: not a string/);
});

test("writeAuth creates the file 0600, keeps the rest of it, replaces the host's entry; removeAuth forgets it", () => {
  const file = join(dir, "new", ".docker", "config.json");
  assert.equal(readCredentials(file, "r.lan"), undefined, "no file: no credentials");
  assert.equal(removeAuth(file, "r.lan"), false);
  writeAuth(file, "r.lan:5000", "alice", "s3cret");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readCredentials(file, "r.lan:5000"), { username: "alice", password: "s3cret" });

  // A file written by Docker: other settings and other hosts stay; old spellings of the host go.
  const docker = join(dir, "docker.json");
  writeFileSync(docker, JSON.stringify({ auths: { "https://r.lan:5000/v1/": { auth: b64("old:old") }, "other.lan": { auth: b64("x:y") } }, detachKeys: "ctrl-e,e" }), { mode: 0o644 });
  writeAuth(docker, "r.lan:5000", "bob", "pw");
  writeAuth(docker, "index.docker.io", "hub", "hubpw");
  const doc = JSON.parse(readFileSync(docker, "utf8"));
  assert.equal(statSync(docker).mode & 0o777, 0o600);
  assert.equal(doc.detachKeys, "ctrl-e,e");
  assert.deepEqual(Object.keys(doc.auths).sort(), [DOCKER_HUB_AUTH_KEY, "other.lan", "r.lan:5000"], "Docker Hub under the key docker login reads");
  assert.deepEqual(readCredentials(docker, "r.lan:5000"), { username: "bob", password: "pw" });
  assert.deepEqual(readCredentials(docker, "docker.io"), { username: "hub", password: "hubpw" });

  assert.equal(removeAuth(docker, "docker.io"), true);
  assert.equal(removeAuth(docker, "docker.io"), false);
  assert.equal(readCredentials(docker, "docker.io"), undefined);
  assert.deepEqual(readCredentials(docker, "other.lan"), { username: "x", password: "y" });
});

test("writeAuth refuses a user name with a colon and a host that is not one", () => {
  const file = join(dir, "refused.json");
  assert.throws(() => writeAuth(file, "r.lan", "a:b", "p"), /^PoddError: login r\.lan: the user name must be non-empty and without ":"$/);
  assert.throws(() => writeAuth(file, "https://r.lan", "a", "p"), /is not a registry host/);
  assert.throws(() => statSync(file), /ENOENT/, "nothing was written");
});
