// The registry client against in-process registries on 127.0.0.1: what it asks for, how it
// authenticates and renews tokens, where it sends credentials (and where not), mirrors, plain
// HTTP only where it is allowed, TLS with the registry's own CA, and the messages a user reads.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { LookupAddress, LookupOptions } from "node:dns";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, test, type TestContext } from "node:test";
import { parseReference } from "../../supervisor/runtime/images/reference.ts";
import { parseRegistrySettings } from "../../supervisor/runtime/images/registries.ts";
import { Registry, type RegistryOptions } from "../../supervisor/runtime/images/registry.ts";
import { MANIFEST_MEDIA_TYPES, MediaType } from "../../supervisor/runtime/images/source.ts";
import { FakeRegistry, sha256, type FakeOptions } from "./fake-registry.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-registry-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function fake(t: TestContext, opts: FakeOptions = {}): Promise<FakeRegistry> {
  const f = await FakeRegistry.start(opts);
  t.after(() => f.close());
  return f;
}

function client(t: TestContext, opts: RegistryOptions = {}): Registry {
  const r = new Registry(opts);
  t.after(() => r.close());
  return r;
}

function settings(yaml: string) {
  return parseRegistrySettings(yaml, join(dir, "registries.yaml"));
}

function manifest(type: string = MediaType.ociManifest, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: type, config: { mediaType: MediaType.ociConfig, digest: sha256("{}"), size: 2 }, layers: [], ...extra });
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function failsWith(code: string, message: RegExp) {
  return (err: Error & { code?: string }) => {
    assert.match(err.message, message);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** Name resolution that sends every name to 127.0.0.1 and notes what was asked. */
function loopbackLookup(asked: string[] = []) {
  return (hostname: string, options: LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    asked.push(hostname);
    if (options.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
    else cb(null, "127.0.0.1", 4);
  };
}

function blobDesc(data: string) {
  return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(data), size: Buffer.byteLength(data) };
}

test("manifests are asked for with every type podd reads and schema 1 last; type, digest and body come back", async (t) => {
  const r = await fake(t);
  const body = manifest();
  const digest = r.putManifest("team/app", "1", MediaType.ociManifest, body);
  const src = client(t).source(parseReference(`${r.host}/team/app:1`));
  assert.equal(src.name, `registry ${r.host}`);
  const m = await src.getManifest("1");
  assert.deepEqual(m, { mediaType: MediaType.ociManifest, digest, body: Buffer.from(body) });
  const [asked] = r.requests("/v2/team/app/manifests/1");
  assert.equal(asked!.headers.accept, [...MANIFEST_MEDIA_TYPES, MediaType.dockerSchema1Signed, MediaType.dockerSchema1].join(", "));
  assert.equal((await src.getManifest(digest)).digest, digest, "by digest too");
  // A type the fake's Accept check would refuse: 404, as Docker's registry answers.
  r.putManifest("team/app", "v1", "application/vnd.example.unknown+json", body);
  await assert.rejects(src.getManifest("v1"), failsWith("NotFound", /^pull 127\.0\.0\.1:\d+\/team\/app:v1: manifest unknown$/));
});

test("a generic Content-Type gives way to the body's mediaType", async (t) => {
  const r = await fake(t);
  const body = manifest(MediaType.ociIndex, { manifests: [] });
  r.handler = (req, res) => {
    if (!req.url?.startsWith("/v2/app/manifests/")) return false;
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(body);
    return true;
  };
  const m = await client(t).source(parseReference(`${r.host}/app:1`)).getManifest("1");
  assert.equal(m.mediaType, MediaType.ociIndex);
});

test("a Docker schema 1 image is refused by name", async (t) => {
  const r = await fake(t);
  r.putManifest("app", "old", MediaType.dockerSchema1Signed, JSON.stringify({ schemaVersion: 1, name: "app", tag: "old", fsLayers: [] }));
  await assert.rejects(
    client(t).source(parseReference(`${r.host}/app:old`)).getManifest("old"),
    failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/app:old: this is a Docker schema 1 image, which podd cannot run; push it again with a current tool$/),
  );
});

test("a manifest asked for by digest must have that digest; one past 4 MiB is not read", async (t) => {
  const r = await fake(t);
  const wanted = sha256(manifest());
  r.handler = (req, res) => {
    if (req.url === `/v2/app/manifests/${wanted}`) {
      res.writeHead(200, { "content-type": MediaType.ociManifest });
      res.end(manifest(MediaType.ociManifest, { annotations: { swapped: "yes" } }));
      return true;
    }
    if (req.url === "/v2/app/manifests/huge") {
      res.writeHead(200, { "content-type": MediaType.ociManifest });
      res.end(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
      return true;
    }
    return false;
  };
  const src = client(t).source(parseReference(`${r.host}/app`));
  await assert.rejects(src.getManifest(wanted), failsWith("Invalid", new RegExp(`^pull 127\\.0\\.0\\.1:\\d+/app@${wanted}: the manifest served has digest sha256:[0-9a-f]{64}, not the one asked for$`)));
  await assert.rejects(src.getManifest("huge"), failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/app:huge: manifest: more than the 4194304 bytes podd reads$/));
});

test("Bearer: an anonymous token for the repository's pull scope, kept, renewed on 401 and on expiry", async (t) => {
  const r = await fake(t, { auth: "bearer", expiresIn: 300 });
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  const layer = r.putBlob("layer bytes");
  let now = 1_000_000;
  const src = client(t, { clock: { now: () => now } }).source(parseReference(`${r.host}/app:1`));
  await src.getManifest("1");
  await src.getManifest("1");
  assert.equal((await readAll(await src.openBlob(blobDesc("layer bytes")))).toString(), "layer bytes");
  const tokens = r.requests("/token");
  assert.equal(tokens.length, 1, "one token for the scope, kept");
  const q = new URL(tokens[0]!.path, "http://x").searchParams;
  assert.equal(q.get("scope"), "repository:app:pull");
  assert.equal(q.get("service"), "fake-registry");
  assert.equal(tokens[0]!.headers.authorization, undefined, "no credentials: anonymous");
  assert.equal(r.requests(`/v2/app/blobs/${layer}`)[0]!.headers.authorization, "Bearer tok-1");

  // The registry stops taking the token: one 401, one new token, the request again.
  r.tokens.clear();
  const before = r.requests("/v2/app/manifests/1").length;
  await src.getManifest("1");
  assert.equal(r.requests("/token").length, 2);
  assert.deepEqual(r.requests("/v2/app/manifests/1").slice(before).map((x) => x.headers.authorization), ["Bearer tok-1", "Bearer tok-2"]);

  // Past expires_in the token is fetched again before any request is refused.
  now += 299_000;
  await src.getManifest("1");
  assert.equal(r.requests("/token").length, 2, "still valid");
  now += 1_000;
  const n = r.requests("/v2/app/manifests/1").length;
  await src.getManifest("1");
  assert.equal(r.requests("/token").length, 3);
  assert.deepEqual(r.requests("/v2/app/manifests/1").slice(n).map((x) => x.headers.authorization), ["Bearer tok-3"], "no 401 first");
});

test("Bearer: access_token without expires_in lives the spec's 60 s; credentials go to the realm as Basic", async (t) => {
  const r = await fake(t, { auth: "bearer", tokenField: "access_token", users: { alice: "pw" } });
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  let now = 0;
  const src = client(t, { clock: { now: () => now }, credentials: (h) => (h === r.host ? { username: "alice", password: "pw" } : undefined) }).source(parseReference(`${r.host}/app:1`));
  await src.getManifest("1");
  const [tok] = r.requests("/token");
  assert.equal(tok!.headers.authorization, `Basic ${Buffer.from("alice:pw").toString("base64")}`);
  assert.equal(new URL(tok!.path, "http://x").searchParams.get("account"), "alice");
  now = 59_999;
  await src.getManifest("1");
  assert.equal(r.requests("/token").length, 1);
  now = 60_000;
  await src.getManifest("1");
  assert.equal(r.requests("/token").length, 2);
});

test("Bearer: an identity token is traded in an OAuth2 refresh-token POST", async (t) => {
  const r = await fake(t, { auth: "bearer", refreshTokens: ["refresh-1"] });
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  await client(t, { credentials: () => ({ username: "<token>", password: "", identityToken: "refresh-1" }) }).source(parseReference(`${r.host}/app:1`)).getManifest("1");
  const [tok] = r.requests("/token");
  assert.equal(tok!.method, "POST");
  const form = new URLSearchParams(tok!.body);
  assert.equal(form.get("grant_type"), "refresh_token");
  assert.equal(form.get("refresh_token"), "refresh-1");
  assert.equal(form.get("scope"), "repository:app:pull");
  assert.equal(tok!.headers.authorization, undefined);
});

test("a 401 after a new token is unauthorized, and says to log in", async (t) => {
  const r = await fake(t, { auth: "bearer" });
  r.handler = (req, res) => {
    if (!req.url?.startsWith("/v2/private/")) return false;
    res.writeHead(401, { "content-type": "application/json", "www-authenticate": `Bearer realm="${r.origin}/token",service="fake-registry"` });
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
    return true;
  };
  await assert.rejects(
    client(t).source(parseReference(`${r.host}/private:1`)).getManifest("1"),
    failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/private:1: unauthorized: authentication required; log in with podd login 127\.0\.0\.1:\d+$/),
  );
  assert.equal(r.requests("/token").length, 2, "renewed once, not in a loop");
  assert.equal(r.requests("/v2/private/").length, 2);
});

test("Basic: credentials on every request; none is unauthorized and says to log in", async (t) => {
  const r = await fake(t, { auth: "basic", users: { alice: "pw" } });
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  await client(t, { credentials: () => ({ username: "alice", password: "pw" }) }).source(parseReference(`${r.host}/app:1`)).getManifest("1");
  assert.equal(r.requests("/v2/app/manifests/1").at(-1)!.headers.authorization, `Basic ${Buffer.from("alice:pw").toString("base64")}`);
  await assert.rejects(
    client(t).source(parseReference(`${r.host}/app:1`)).getManifest("1"),
    failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/app:1: unauthorized: authentication required; log in with podd login 127\.0\.0\.1:\d+$/),
  );
});

test("a blob redirected to another origin is fetched there without the registry's Authorization", async (t) => {
  const r = await fake(t, { auth: "bearer" });
  const storage = await fake(t);
  const data = "layer in object storage";
  const digest = sha256(data);
  storage.handler = (req, res) => {
    if (req.url !== `/objects/${digest}?signed=1`) return false;
    res.writeHead(200, { "content-length": Buffer.byteLength(data) });
    res.end(data);
    return true;
  };
  r.blobLocation = (d) => `${storage.origin}/objects/${d}?signed=1`;
  const src = client(t).source(parseReference(`${r.host}/app:1`));
  assert.equal((await readAll(await src.openBlob(blobDesc(data)))).toString(), data);
  assert.match(r.requests(`/v2/app/blobs/${digest}`)[0]!.headers.authorization ?? "", /^Bearer /);
  const [got] = storage.requests("/objects/");
  assert.ok(got, "the storage was asked");
  assert.equal(got.headers.authorization, undefined);

  // The control: a redirect within the registry's own origin keeps the header.
  r.blobLocation = (d) => `/objects/${d}`;
  r.handler = (req, res) => {
    if (req.url !== `/objects/${digest}`) return false;
    res.end(data);
    return true;
  };
  await readAll(await src.openBlob(blobDesc(data)));
  assert.match(r.requests("/objects/")[0]!.headers.authorization ?? "", /^Bearer /);
});

test("more than 10 redirects are refused", async (t) => {
  const r = await fake(t);
  r.blobLocation = (d) => `/v2/app/blobs/${d}`;
  await assert.rejects(
    client(t).source(parseReference(`${r.host}/app:1`)).openBlob(blobDesc("x")),
    failsWith("Internal", /^pull 127\.0\.0\.1:\d+\/app: blob sha256:[0-9a-f]+: 127\.0\.0\.1:\d+: more than 10 redirects$/),
  );
  assert.equal(r.requests("/v2/app/blobs/").length, 11);
});

test("mirrors are tried in order, each failure falls through, and the source names who served", async (t) => {
  const upstream = await fake(t);
  const empty = await fake(t);
  const broken = await fake(t);
  const gone = await FakeRegistry.start();
  const goneHost = gone.host;
  await gone.close();
  broken.handler = (req, res) => {
    if (!req.url?.startsWith("/v2/app/")) return false;
    res.writeHead(503);
    res.end();
    return true;
  };
  const body = manifest();
  upstream.putManifest("app", "1", MediaType.ociManifest, body);
  const layer = upstream.putBlob("layer");
  const s = settings(`registries:\n  "${upstream.host}":\n    mirrors: ["${goneHost}", "http://${empty.host}", "${broken.host}"]\n`);
  const reg = client(t, { settings: s });
  const src = reg.source(parseReference(`${upstream.host}/app:1`));
  assert.equal((await src.getManifest("1")).digest, sha256(body));
  assert.equal(src.name, `registry ${upstream.host}`);
  const [asked] = empty.requests("/v2/app/manifests/1");
  assert.equal(asked!.path, `/v2/app/manifests/1?ns=${encodeURIComponent(upstream.host)}`, "a mirror hears which registry is meant");
  assert.equal(broken.requests("/v2/app/manifests/").length, 1);
  // Mirrors that failed are not asked again by the same pull.
  await readAll(await src.openBlob(blobDesc("layer")));
  assert.equal(empty.requests("/v2/app/blobs/").length + broken.requests("/v2/app/blobs/").length, 0);
  assert.equal(upstream.requests(`/v2/app/blobs/${layer}`).length, 1);

  // A mirror that has the image serves it, and the registry is not asked.
  empty.putManifest("app", "1", MediaType.ociManifest, body);
  const before = upstream.log.length;
  const second = reg.source(parseReference(`${upstream.host}/app:1`));
  await second.getManifest("1");
  assert.equal(second.name, `registry ${empty.host} (mirror of ${upstream.host})`);
  assert.equal(upstream.log.length, before);

  // When the registry fails too, its error is the one reported, with the mirrors' after it.
  await assert.rejects(
    reg.source(parseReference(`${upstream.host}/app:nope`)).getManifest("nope"),
    failsWith("NotFound", new RegExp(`^pull ${upstream.host.replace(/\./g, "\\.")}/app:nope: manifest unknown \\(mirrors asked first: ${goneHost.replace(/\./g, "\\.")}: connect ${goneHost.replace(/\./g, "\\.")}: connection refused; is a registry listening there\\?; ${empty.host.replace(/\./g, "\\.")}: manifest unknown; ${broken.host.replace(/\./g, "\\.")}: HTTP 503\\)$`)),
  );
});

test("plain HTTP is used for a loopback registry and for insecure: true, never otherwise", async (t) => {
  const r = await fake(t);
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  const name = `registry.test:${r.port}`;
  await assert.rejects(
    client(t, { lookup: loopbackLookup() }).source(parseReference(`${name}/app:1`)).getManifest("1"),
    failsWith("Invalid", new RegExp(`^pull ${name}/app:1: TLS with ${name}: the server answers plain HTTP, not HTTPS; podd speaks plain HTTP only to a loopback address or to a registry with insecure: true under ${name} in registries\\.yaml in podd's state root$`)),
  );
  assert.equal(r.log.length, 0, "no request went out in plain HTTP");
  const insecure = client(t, { lookup: loopbackLookup(), settings: settings(`registries:\n  ${name}:\n    insecure: true\n`) });
  await insecure.source(parseReference(`${name}/app:1`)).getManifest("1");
  assert.equal(r.requests("/v2/app/manifests/1").length, 1);
  // localhost is loopback by name.
  await client(t, { lookup: loopbackLookup() }).source(parseReference(`localhost:${r.port}/app:1`)).getManifest("1");
  assert.equal(r.requests("/v2/app/manifests/1").length, 2);
});

test("docker.io is served from registry-1.docker.io", async (t) => {
  const asked: string[] = [];
  const reg = client(t, {
    lookup: (hostname, _options, cb) => {
      asked.push(hostname);
      cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 4);
    },
  });
  const src = reg.source(parseReference("busybox"));
  assert.equal(src.name, "registry docker.io");
  await assert.rejects(src.getManifest("latest"), failsWith("Internal", /^pull docker\.io\/library\/busybox:latest: connect registry-1\.docker\.io:443: cannot resolve registry-1\.docker\.io$/));
  assert.deepEqual([...new Set(asked)], ["registry-1.docker.io"]);
});

test("errors name what was pulled: unknown blob, server errors, connection refused", async (t) => {
  const r = await fake(t);
  r.handler = (req, res) => {
    if (req.url !== "/v2/app/manifests/broken") return false;
    res.writeHead(500, { "content-type": "text/plain" });
    res.end("database is down\n");
    return true;
  };
  const src = client(t).source(parseReference(`${r.host}/app:1`));
  await assert.rejects(src.openBlob(blobDesc("missing")), failsWith("NotFound", /^pull 127\.0\.0\.1:\d+\/app: blob sha256:[0-9a-f]{64}: blob unknown: blob unknown to registry$/));
  await assert.rejects(src.getManifest("broken"), failsWith("Internal", /^pull 127\.0\.0\.1:\d+\/app:broken: HTTP 500: database is down$/));
  const gone = await FakeRegistry.start();
  const host = gone.host;
  await gone.close();
  await assert.rejects(
    client(t).source(parseReference(`${host}/app:1`)).getManifest("1"),
    failsWith("Internal", new RegExp(`^pull ${host.replace(/\./g, "\\.")}/app:1: connect ${host.replace(/\./g, "\\.")}: connection refused; is a registry listening there\\?$`)),
  );
});

test("a foreign layer is refused without asking the registry", async (t) => {
  const r = await fake(t);
  const desc = { ...blobDesc("foreign"), mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", urls: ["https://example.invalid/layer"] };
  await assert.rejects(
    client(t).source(parseReference(`${r.host}/app:1`)).openBlob(desc),
    failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/app: blob sha256:[0-9a-f]{64}: foreign layer sha256:[0-9a-f]{64} is not distributed by the registry; podd does not fetch foreign layers$/),
  );
  assert.equal(r.log.length, 0);
});

test("a registry that goes quiet fails the request or the download after the idle timeout", async (t) => {
  const r = await fake(t);
  r.handler = (req, res) => {
    if (req.url === "/v2/app/manifests/stall") return true; // never answers
    if (!req.url?.startsWith("/v2/app/blobs/")) return false;
    res.writeHead(200, { "content-length": 100 });
    res.write(Buffer.alloc(10));
    return true; // and never the rest
  };
  const src = client(t, { idleTimeoutMs: 200 }).source(parseReference(`${r.host}/app:1`));
  await assert.rejects(src.getManifest("stall"), failsWith("Internal", /^pull 127\.0\.0\.1:\d+\/app:stall: 127\.0\.0\.1:\d+ sent nothing for 200 ms$/));
  const stream = await src.openBlob(blobDesc("x"));
  await assert.rejects(readAll(stream), failsWith("Internal", /^pull 127\.0\.0\.1:\d+\/app: blob sha256:[0-9a-f]{64}: 127\.0\.0\.1:\d+ sent nothing for 200 ms$/));
});

test("a host that takes the connection but never finishes the TLS handshake fails after the connect timeout", async (t) => {
  const silent = createServer(() => {
    // takes the connection and says nothing
  });
  const sockets = new Set<Socket>();
  silent.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const name = `registry.test:${(silent.address() as AddressInfo).port}`;
  // The idle timeout is far off: only the connect timeout can end this.
  const reg = client(t, { lookup: loopbackLookup(), connectTimeoutMs: 100, idleTimeoutMs: 600_000 });
  await assert.rejects(reg.source(parseReference(`${name}/app:1`)).getManifest("1"), failsWith("Internal", new RegExp(`^pull ${name}/app:1: connect ${name}: no answer within 100 ms$`)));
});

test("downloads share kept-alive connections", async (t) => {
  const r = await fake(t);
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  const blobs = ["a", "b", "c"].map((x) => (r.putBlob(x), x));
  const src = client(t).source(parseReference(`${r.host}/app:1`));
  await src.getManifest("1");
  const opened = r.connections;
  for (const b of blobs) await readAll(await src.openBlob(blobDesc(b)));
  assert.equal(r.connections, opened);
});

test("checkLogin accepts good credentials and refuses bad ones, for Bearer and Basic", async (t) => {
  const bearer = await fake(t, { auth: "bearer", users: { alice: "pw" } });
  const basic = await fake(t, { auth: "basic", users: { alice: "pw" } });
  const open = await fake(t);
  const reg = client(t);
  await reg.checkLogin(bearer.host, "alice", "pw");
  assert.equal(bearer.requests("/token")[0]!.headers.authorization, `Basic ${Buffer.from("alice:pw").toString("base64")}`);
  await assert.rejects(reg.checkLogin(bearer.host, "alice", "wrong"), failsWith("Invalid", /^login 127\.0\.0\.1:\d+: unauthorized: incorrect username or password; check the user name and password$/));
  await reg.checkLogin(basic.host, "alice", "pw");
  await assert.rejects(reg.checkLogin(basic.host, "alice", "wrong"), failsWith("Invalid", /^login 127\.0\.0\.1:\d+: unauthorized: authentication required; check the user name and password$/));
  await reg.checkLogin(open.host, "anyone", "anything");
});

function opensslCert(): { key: string; cert: string; certFile: string } | undefined {
  const d = mkdtempSync(join(dir, "tls-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(d, "key.pem"), "-out", join(d, "cert.pem"), "-days", "2", "-subj", "/CN=podd-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:registry.test"], { stdio: "ignore" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return { key: readFileSync(join(d, "key.pem"), "utf8"), cert: readFileSync(join(d, "cert.pem"), "utf8"), certFile: join(d, "cert.pem") };
}

test("TLS: a registry's own CA is refused until ca: names it (or insecure: skips the check)", async (t) => {
  const tls = opensslCert();
  if (!tls) return t.skip("no openssl to make a certificate");
  const r = await fake(t, { tls, auth: "bearer" });
  r.putManifest("app", "1", MediaType.ociManifest, manifest());
  const ref = parseReference(`${r.host}/app:1`);
  await assert.rejects(
    client(t).source(ref).getManifest("1"),
    failsWith("Invalid", /^pull 127\.0\.0\.1:\d+\/app:1: TLS with 127\.0\.0\.1:\d+: self-signed certificate; if the registry's certificate is signed by a CA of its own, name that CA with ca: under 127\.0\.0\.1:\d+ in registries\.yaml in podd's state root, or set insecure: true there$/),
  );
  // The token service (on the same host, over HTTPS) is trusted through the registry's ca too.
  await client(t, { settings: settings(`registries:\n  "${r.host}":\n    ca: ${tls.certFile}\n`) }).source(ref).getManifest("1");
  await client(t, { settings: settings(`registries:\n  "${r.host}":\n    insecure: true\n`) }).source(ref).getManifest("1");
  // A CA the machine trusts needs no setting.
  await client(t, { systemCAFile: tls.certFile }).source(ref).getManifest("1");
  assert.equal(r.requests("/v2/app/manifests/1").filter((x) => x.headers.authorization).length, 3);
});
