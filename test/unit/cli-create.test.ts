// podd create configmap|secret: every data source kubectl takes (literals, files, directories,
// env files), its key rules and messages, binary data, the registry and TLS secrets, the
// --append-hash suffix, --dry-run=client output, the size limit, and the POST to the daemon (the
// real one, over the fake runtime) with kubectl's lines for success and refusal.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { createMain, dockerConfigJson, MAX_DATA_BYTES } from "../../supervisor/cli/create.ts";
import { ConfigMapData, parseEnvFile, SecretData, splitSourceList } from "../../supervisor/cli/lib/data-sources.ts";
import { goMarshal } from "../../supervisor/cli/lib/go-json.ts";
import { configMapHash, secretHash } from "../../supervisor/cli/lib/object-hash.ts";
import { checkTlsKeyPair } from "../../supervisor/cli/lib/tls-pair.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon } from "./fake-daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-create-"));
function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

// ---- the daemon: the real one over the fake runtime --------------------------------------------

let api: FakeDaemon;
before(async () => {
  api = await FakeDaemon.start(NOW);
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The POSTs the verbs sent so far. */
const posts = () => api.requests.filter((r) => r.method === "POST");

const create = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  capture((io) => createMain([...argv, "--socket", api.socket], { ...io, env }));

/** Runs a dry run and returns the object it printed as JSON. */
async function dryRun(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string>; type?: string; metadata: { name: string; namespace?: string } }> {
  const r = await create([...argv, "--dry-run=client", "-o", "json"], env);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  return JSON.parse(r.stdout);
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

// ---- the sources -----------------------------------------------------------------------------

test("configmap --dry-run=client -o yaml: literals, a file by base name, a keyed file, binary content in binaryData", async () => {
  const greeting = file("greeting.txt", "hello\nworld\n");
  const blob = file("blob.dat", Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  const before = posts().length;
  const r = await create(["configmap", "app", "--from-literal=mode=fast", "--from-literal=url=http://x/?a=b", `--from-file=${greeting}`, `--from-file=raw=${blob}`, "-n", "prod", "--dry-run=client", "-o", "yaml"]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "apiVersion: v1",
      "binaryData:",
      `  raw: ${b64(Buffer.from([0xff, 0xfe, 0x00, 0x41]))}`,
      "data:",
      "  greeting.txt: |",
      "    hello",
      "    world",
      "  mode: fast",
      "  url: http://x/?a=b",
      "kind: ConfigMap",
      "metadata:",
      "  name: app",
      "  namespace: prod",
      "",
    ].join("\n"),
  );
  assert.equal(posts().length, before, "a client dry run contacts no daemon");
});

test("-o json of a dry run: kubectl's typed field order, Go's escaping, map keys in Go's byte order; no -n, no namespace", async () => {
  const r = await create(["configmap", "j", "--from-literal=9=nine", "--from-literal=10=ten", "--from-literal=html=<b>&", "--dry-run=client", "-o", "json"]);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "{",
      '    "kind": "ConfigMap",',
      '    "apiVersion": "v1",',
      '    "metadata": {',
      '        "name": "j"',
      "    },",
      '    "data": {',
      '        "10": "ten",',
      '        "9": "nine",',
      '        "html": "\\u003cb\\u003e\\u0026"',
      "    }",
      "}",
      "",
    ].join("\n"),
  );
  assert.deepEqual(JSON.parse(r.stdout).data, { "10": "ten", "9": "nine", html: "<b>&" }, "the escapes decode to the values");
});

test("a dry run without -o prints kubectl's line; -o name the bare reference", async () => {
  assert.equal((await create(["configmap", "a", "--from-literal=k=v", "--dry-run=client"])).stdout, "configmap/a created (dry run)\n");
  assert.equal((await create(["cm", "a", "--dry-run=client", "-o", "name"])).stdout, "configmap/a\n");
  assert.equal((await create(["secret", "generic", "s", "--from-literal=k=v", "--dry-run=client"])).stdout, "secret/s created (dry run)\n");
  const empty = await create(["configmap", "empty", "--dry-run=client", "-o", "yaml"]);
  assert.equal(empty.stdout, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\n", "no data: no data field (omitempty)");
});

test("a directory gives each regular file in it, by name; subdirectories, symlinks and a key for a directory are refused or skipped as kubectl does", async () => {
  const d = join(dir, "conf.d");
  file("conf.d/b.conf", "b=2\n");
  file("conf.d/a.conf", "a=1\n");
  file("conf.d/nested/c.conf", "c=3\n");
  symlinkSync(join(d, "a.conf"), join(d, "link.conf"));
  const cm = await dryRun(["configmap", "dir", `--from-file=${d}`]);
  assert.deepEqual(cm.data, { "a.conf": "a=1\n", "b.conf": "b=2\n" });
  assert.deepEqual(Object.keys(cm.data!), ["a.conf", "b.conf"]);
  const r = await create(["configmap", "dir", `--from-file=key=${d}`, "--dry-run=client"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "error: cannot give a key name for a directory path\n");
  const secret = await dryRun(["secret", "generic", "dir", `--from-file=${d}`]);
  assert.deepEqual(secret.data, { "a.conf": b64("a=1\n"), "b.conf": b64("b=2\n") });
});

test("--from-file values are split as CSV, as kubectl's flag library does; --from-literal values are not", async () => {
  const one = file("csv/one", "1");
  const two = file("csv/two", "2");
  const comma = file("csv/a,b", "ab");
  const cm = await dryRun(["configmap", "csv", `--from-file=${one},k2=${two}`, "--from-literal=list=x,y"]);
  assert.deepEqual(cm.data, { k2: "2", list: "x,y", one: "1" });
  assert.deepEqual(splitSourceList("from-file", 'a,"b,c",,d,'), ["a", "b,c", "", "d", ""]);
  assert.deepEqual(splitSourceList("from-file", '"say ""hi"""'), ['say "hi"']);
  assert.throws(() => splitSourceList("from-file", 'a"b'), /bare " in non-quoted-field/);
  // A quoted path keeps its comma: the file is found, and its name is then refused as a key.
  const r = await create(["configmap", "csv", `--from-file="${comma}"`, "--dry-run=client"]);
  assert.ok(r.stderr.startsWith('error: "a,b" is not a valid key name for a ConfigMap: '), r.stderr);
  assert.deepEqual((await dryRun(["configmap", "csv", `--from-file="ab=${comma}"`])).data, { ab: "ab" });
});

test("source syntax errors: kubectl's messages, exit 2, nothing sent", async () => {
  const before = posts().length;
  const cases: [string, string][] = [
    ["--from-literal=novalue", "invalid literal source novalue, expected key=value"],
    ["--from-literal==v", "invalid literal source =v, expected key=value"],
    ["--from-file==/x", "key name for file path /x missing"],
    ["--from-file=k=", "file path for key name k missing"],
    ["--from-file=a=b=c", "key names or file paths cannot contain '='"],
    [`--from-file=${join(dir, "missing.txt")}`, `error reading ${join(dir, "missing.txt")}: no such file or directory`],
    [`--from-env-file=${join(dir, "missing.env")}`, `error reading ${join(dir, "missing.env")}: no such file or directory`],
    [`--from-env-file=${dir}`, "env config file cannot be a directory"],
  ];
  for (const [flag, message] of cases) {
    const r = await create(["configmap", "x", flag]);
    assert.equal(r.stderr, `error: ${message}\n`, flag);
    assert.equal(r.code, 2, flag);
  }
  assert.equal((await create(["secret", "generic", "x", `--from-env-file=${dir}`])).stderr, "error: env secret file cannot be a directory\n");
  assert.equal(posts().length, before);
});

// ---- keys ------------------------------------------------------------------------------------

test("keys: [-._a-zA-Z0-9]+ of at most 253 characters, never '.', '..' or '..x'; the ConfigMap and Secret messages differ as kubectl's do", () => {
  const cm = new ConfigMapData("app");
  for (const ok of ["a", "A-b_c.d", "9", ".hidden", "x".repeat(253)]) cm.addText(ok, "v");
  const refusals: [string, string][] = [
    ["a b", "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"],
    ["x".repeat(254), "must be no more than 253 characters"],
    [".", "must not be '.'"],
    ["..", "must not be '..'"],
    ["..x", "must not start with '..'"],
    ["a/b", "a valid config key must consist"],
    ["", "a valid config key must consist"],
  ];
  for (const [key, detail] of refusals) {
    assert.throws(() => cm.addText(key, "v"), (e: Error) => e.message.startsWith(`${JSON.stringify(key)} is not a valid key name for a ConfigMap: `) && e.message.includes(detail), key);
    assert.throws(() => new SecretData().addText(key, "v"), (e: Error) => e.message.startsWith(`${JSON.stringify(key)} is not valid key name for a Secret `) && e.message.includes(detail), key);
  }
  // both errors of a long bad key, joined as kubectl joins them
  assert.throws(() => cm.addText("!".repeat(254), "v"), /: must be no more than 253 characters,a valid config key/);
  assert.throws(() => new SecretData().addText("!".repeat(254), "v"), /Secret must be no more than 253 characters;a valid config key/);
});

test("duplicate keys: kubectl's messages, naming Data or BinaryData; the source order decides which one is the duplicate", async () => {
  const text = file("dup/mode", "from-file");
  const bin = file("dup/blob", Buffer.from([0xc3, 0x28]));
  const cases: [string[], string][] = [
    [["configmap", "d", `--from-file=${text}`, "--from-literal=mode=x"], 'cannot add key "mode", another key by that name already exists in Data for ConfigMap "d"'],
    [["configmap", "d", `--from-file=${bin}`, "--from-literal=blob=x"], 'cannot add key "blob", another key by that name already exists in BinaryData for ConfigMap "d"'],
    [["configmap", "d", "--from-literal=a=1", "--from-literal=a=2"], 'cannot add key "a", another key by that name already exists in Data for ConfigMap "d"'],
    [["secret", "generic", "d", `--from-file=${text}`, "--from-literal=mode=x"], "cannot add key mode, another key by that name already exists"],
    [["configmap", "d", "--append-hash", "--from-literal=a=1", "--from-literal=a=2"], 'cannot add key "a", another key by that name already exists in Data for ConfigMap "d"'],
  ];
  for (const [argv, message] of cases) {
    const r = await create([...argv, "--dry-run=client"]);
    assert.equal(r.stderr, `error: ${message}\n`, argv.join(" "));
    assert.equal(r.code, 2);
  }
});

// ---- env files -------------------------------------------------------------------------------

test("env files: KEY=VALUE split at the first '=', values as written, comments, blank lines, CRLF, a BOM on line 1, KEY alone from the environment", () => {
  const text = "\ufeffA=1\r\n# a comment\n\n   \t\n  B=two words  \nC=x=y\nQ=\"quoted\"\nFROM_ENV\nUNSET\nE=\n   # indented comment\nLAST=no newline";
  assert.deepEqual(parseEnvFile(Buffer.from(text), "app.env", { FROM_ENV: "here" }), [
    ["A", "1"],
    ["B", "two words  "],
    ["C", "x=y"],
    ["Q", '"quoted"'],
    ["FROM_ENV", "here"],
    ["UNSET", ""],
    ["E", ""],
    ["LAST", "no newline"],
  ]);
  assert.deepEqual(parseEnvFile(Buffer.from(""), "empty.env", {}), []);
});

test("env files: a bad name is refused with its line number; so is a BOM after line 1, and bytes that are not UTF-8", () => {
  assert.throws(
    () => parseEnvFile(Buffer.from("OK=1\n# c\n1BAD=x\n"), "app.env", {}),
    {
      message:
        `env file app.env, line 3: "1BAD" is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
    },
  );
  assert.throws(() => parseEnvFile(Buffer.from("A=1\n\ufeffB=2\n"), "bom.env", {}), { message: /^env file bom\.env, line 2: "\\ufeffB" is not a valid key name/ });
  assert.throws(() => parseEnvFile(Buffer.from("KEY =v\n"), "space.env", {}), /line 1: "KEY " is not a valid key name/);
  assert.throws(() => parseEnvFile(Buffer.from("..=v\n"), "dots.env", {}), /line 1: "\.\." is not a valid key name: must not be '\.\.'/);
  assert.throws(() => parseEnvFile(Buffer.concat([Buffer.from("A=1\nB="), Buffer.from([0xff, 0x41]), Buffer.from("\n")]), "bin.env", {}), {
    message: "env file bin.env contains invalid utf8 bytes at line 2: [66 61 255 65]",
  });
});

test("--from-env-file through the verb: the environment the verb was given; not with --from-file or --from-literal", async () => {
  const env = file("app.env", "MODE=prod\nTOKEN\n");
  const other = file("other.env", "EXTRA=1\n");
  const cm = await dryRun(["configmap", "e", `--from-env-file=${env}`, `--from-env-file=${other}`], { TOKEN: "t0k" });
  assert.deepEqual(cm.data, { EXTRA: "1", MODE: "prod", TOKEN: "t0k" });
  const secret = await dryRun(["secret", "generic", "e", `--from-env-file=${env}`], { TOKEN: "t0k" });
  assert.deepEqual(secret.data, { MODE: b64("prod"), TOKEN: b64("t0k") });
  for (const mix of [["--from-literal=a=b"], [`--from-file=${other}`]]) {
    const r = await create(["configmap", "e", `--from-env-file=${env}`, ...mix, "--dry-run=client"]);
    assert.equal(r.stderr, "error: from-env-file cannot be combined with from-file or from-literal\n");
    assert.equal(r.code, 2);
  }
  const bad = file("bad.env", "GOOD=1\nnot valid=2\n");
  const r = await create(["configmap", "e", `--from-env-file=${bad}`, "--dry-run=client"]);
  assert.match(r.stderr, new RegExp(`^error: env file ${bad}, line 2: "not valid" is not a valid key name: `));
});

// ---- secrets ---------------------------------------------------------------------------------

test("secret generic: values in base64, --type as given, none when not given (the server defaults Opaque)", async () => {
  const key = file("id_rsa", Buffer.from([0x00, 0x01, 0xfe, 0xff]));
  const s = await dryRun(["secret", "generic", "g", "--from-literal=pw=s3cr=t", `--from-file=ssh-privatekey=${key}`, "--type=example.com/custom"]);
  assert.deepEqual(s.data, { pw: b64("s3cr=t"), "ssh-privatekey": b64(Buffer.from([0x00, 0x01, 0xfe, 0xff])) });
  assert.equal(s.type, "example.com/custom");
  assert.equal((await dryRun(["secret", "generic", "g", "--from-literal=a=b"])).type, undefined);
  const yaml = await create(["secret", "generic", "g", "--from-literal=a=b", "--dry-run=client", "-o", "yaml"]);
  assert.equal(yaml.stdout, `apiVersion: v1\ndata:\n  a: ${b64("b")}\nkind: Secret\nmetadata:\n  name: g\n`);
});

test("secret docker-registry: a .dockerconfigjson with one auths entry and the base64 auth field", async () => {
  const s = await dryRun(["secret", "docker-registry", "reg", "--docker-server=registry.example.com:5000", "--docker-username=ci", "--docker-password=p&ss:word", "--docker-email=ci@example.com"]);
  assert.equal(s.type, "kubernetes.io/dockerconfigjson");
  const json = Buffer.from(s.data![".dockerconfigjson"]!, "base64").toString("utf8");
  assert.deepEqual(JSON.parse(json), {
    auths: { "registry.example.com:5000": { username: "ci", password: "p&ss:word", email: "ci@example.com", auth: b64("ci:p&ss:word") } },
  });
  // Go's bytes exactly: field order, no spaces, "&" escaped
  assert.equal(json, '{"auths":{"registry.example.com:5000":{"username":"ci","password":"p\\u0026ss:word","email":"ci@example.com","auth":"Y2k6cCZzczp3b3Jk"}}}');

  const hub = await dryRun(["secret", "docker-registry", "hub", "--docker-username=u", "--docker-password=p"]);
  assert.deepEqual(JSON.parse(Buffer.from(hub.data![".dockerconfigjson"]!, "base64").toString()), { auths: { "https://index.docker.io/v1/": { username: "u", password: "p", auth: b64("u:p") } } }, "the default server, no email");
  assert.equal(dockerConfigJson("s", "u", "p", ""), '{"auths":{"s":{"username":"u","password":"p","auth":"dTpw"}}}');
});

test("secret docker-registry: --from-file takes a config file under .dockerconfigjson; without it, the three flags are required", async () => {
  const config = file("docker/config.json", '{"auths":{}}');
  const s = await dryRun(["secret", "docker-registry", "reg", `--from-file=${config}`]);
  assert.deepEqual(s.data, { ".dockerconfigjson": b64('{"auths":{}}') });
  assert.equal(s.type, "kubernetes.io/dockerconfigjson");
  for (const argv of [["--docker-username=u"], ["--docker-username=u", "--docker-password=p", "--docker-server="], []]) {
    const r = await create(["secret", "docker-registry", "reg", ...argv, "--dry-run=client"]);
    assert.equal(r.stderr, "error: either --from-file or the combination of --docker-username, --docker-password and --docker-server is required\n");
    assert.equal(r.code, 2);
  }
});

// ---- tls -------------------------------------------------------------------------------------

const openssl = spawnSync("openssl", ["version"], { encoding: "utf8" });
const noOpenssl = openssl.error || openssl.status !== 0 ? "openssl is not installed: Node cannot make an X.509 certificate by itself" : false;

/** A self-signed P-256 certificate and its key, made by openssl. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-subj", `/CN=${name}`, "-days", "1"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { cert, key };
}

test("secret tls: tls.crt and tls.key as the files hold them, type kubernetes.io/tls", { skip: noOpenssl }, async () => {
  const { cert, key } = selfSigned("web");
  const s = await dryRun(["secret", "tls", "web-tls", `--cert=${cert}`, `--key=${key}`]);
  assert.equal(s.type, "kubernetes.io/tls");
  assert.deepEqual(Object.keys(s.data!), ["tls.crt", "tls.key"]);
  assert.equal(Buffer.from(s.data!["tls.crt"]!, "base64").toString(), readFileSync(cert, "utf8"));
  assert.equal(Buffer.from(s.data!["tls.key"]!, "base64").toString(), readFileSync(key, "utf8"));
});

test("secret tls: a key that is not the certificate's is refused, as are swapped, missing and unreadable inputs", { skip: noOpenssl }, async () => {
  const { cert, key } = selfSigned("pair");
  const other = file("other.key", generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  const ed = file("ed.key", generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  const junk = file("junk.pem", "not pem at all\n");
  const cases: [string[], string][] = [
    [[`--cert=${cert}`, `--key=${other}`], "tls: private key does not match public key"],
    [[`--cert=${cert}`, `--key=${ed}`], "tls: private key type does not match public key type"],
    [[`--cert=${key}`, `--key=${cert}`], "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"],
    [[`--cert=${cert}`, `--key=${cert}`], "tls: found a certificate rather than a key in the PEM for the private key"],
    [[`--cert=${junk}`, `--key=${key}`], "tls: failed to find any PEM data in certificate input"],
    [[`--cert=${cert}`, `--key=${junk}`], "tls: failed to find any PEM data in key input"],
    [[`--cert=${cert}`], "key and cert must be specified"],
    [[`--cert=${join(dir, "nope.crt")}`, `--key=${key}`], `Cannot read file ${join(dir, "nope.crt")}, open ${join(dir, "nope.crt")}: no such file or directory`],
  ];
  for (const [flags, message] of cases) {
    const r = await create(["secret", "tls", "t", ...flags, "--dry-run=client"]);
    assert.equal(r.stderr, `error: ${message}\n`, flags.join(" "));
    assert.equal(r.code, 2);
  }
  // the negative control: the right key passes the same check
  assert.doesNotThrow(() => checkTlsKeyPair(readFileSync(cert, "latin1"), readFileSync(key, "latin1")));
});

test("the PEM scan: blocks of other types are named when no certificate or key is found", () => {
  const block = (type: string) => `-----BEGIN ${type}-----\nAAAA\n-----END ${type}-----\n`;
  assert.throws(() => checkTlsKeyPair(block("DH PARAMETERS") + block("X509 CRL"), ""), {
    message: 'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [DH PARAMETERS X509 CRL]',
  });
  assert.throws(() => checkTlsKeyPair(block("CERTIFICATE"), block("PUBLIC KEY")), {
    message: 'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [PUBLIC KEY]',
  });
  assert.throws(() => checkTlsKeyPair(block("CERTIFICATE"), block("PRIVATE KEY")), { message: "x509: malformed certificate" });
});

// ---- --append-hash ---------------------------------------------------------------------------

test("--append-hash: kubectl's suffix (its own published vectors), a new one when the content changes", async () => {
  // kubectl's hash_test.go values: the same JSON, the same SHA-256, the same letter mapping.
  assert.equal(configMapHash("", new Map(), new Map()), "42745tchd9");
  assert.equal(configMapHash("", new Map([["one", ""]]), new Map()), "9g67k2htb6");
  assert.equal(configMapHash("", new Map([["two", "2"], ["one", ""], ["three", "3"]]), new Map()), "f5h7t85m9b");
  assert.equal(configMapHash("", new Map([["one", ""]]), new Map([["two", Buffer.alloc(0)]])), "698h7c7t9m");
  assert.equal(secretHash("", "my-type", new Map()), "t75bgf6ctb");
  assert.equal(secretHash("", "my-type", new Map([["one", Buffer.alloc(0)]])), "74bd68bm66");
  assert.equal(secretHash("", "my-type", new Map([["two", Buffer.from("2")], ["one", Buffer.alloc(0)], ["three", Buffer.from("3")]])), "dgcb6h9tmk");

  const a = (await dryRun(["configmap", "app", "--from-literal=k=v1", "--append-hash"])).metadata.name;
  const b = (await dryRun(["configmap", "app", "--from-literal=k=v2", "--append-hash"])).metadata.name;
  assert.match(a, /^app-[0-9b-df-z]{10}$/);
  assert.equal(a, `app-${configMapHash("app", new Map([["k", "v1"]]), new Map())}`);
  assert.notEqual(a, b);
  assert.equal((await dryRun(["configmap", "app", "--from-literal=k=v1", "--append-hash=false"])).metadata.name, "app");
  const s = await dryRun(["secret", "generic", "s", "--from-literal=k=v", "--append-hash"]);
  assert.equal(s.metadata.name, `s-${secretHash("s", "", new Map([["k", Buffer.from("v")]]))}`, "no --type hashes as the empty type");
  assert.equal(goMarshal("<&>"), '"\\u003c\\u0026\\u003e"');
});

// ---- talking to the daemon -------------------------------------------------------------------

test("without a dry run: one POST to the namespace's configmaps with the object, kubectl's line with the stored name", async () => {
  const before = posts().length;
  const r = await create(["configmap", "app", "--from-literal=mode=fast"]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "configmap/app created\n");
  assert.deepEqual(posts().slice(before).map((q) => q.path), ["/api/v1/namespaces/default/configmaps"]);
  assert.deepEqual((api.daemon.getObject("ConfigMap", "default", "app") as { data?: unknown }).data, { mode: "fast" });

  const s = await create(["secret", "generic", "db", "--from-literal=password=hunter2", "-n", "prod"]);
  assert.equal(s.stdout, "secret/db created\n");
  assert.equal(posts().at(-1)!.path, "/api/v1/namespaces/prod/secrets");
  const secret = api.daemon.getObject("Secret", "prod", "db") as { data?: unknown; type?: string };
  assert.deepEqual(secret.data, { password: b64("hunter2") });
  assert.equal(secret.type, "Opaque");
});

test("-o json|yaml|name after a create print the daemon's answer, not what was sent", async () => {
  const json = JSON.parse((await create(["configmap", "out", "--from-literal=a=b", "-o", "json", "-n", "ns1"])).stdout);
  assert.equal(json.metadata.uid, api.daemon.getObject("ConfigMap", "ns1", "out")!.metadata.uid);
  assert.equal(json.metadata.namespace, "ns1");
  const yaml = parseYaml((await create(["configmap", "out", "--from-literal=a=b", "-o", "yaml"])).stdout);
  assert.equal(yaml.metadata.uid, api.daemon.getObject("ConfigMap", "default", "out")!.metadata.uid);
  assert.match(yaml.metadata.creationTimestamp, /^2026-11-22T05:30:00Z$/);
  assert.equal((await create(["secret", "generic", "out", "--from-literal=a=b", "-o", "name"])).stdout, "secret/out\n");
});

test("a refusal from the daemon: kubectl's line (its wrapping of the server's message), exit 1", async () => {
  assert.equal((await create(["configmap", "taken", "--from-literal=a=b"])).code, 0);
  const cm = await create(["configmap", "taken", "--from-literal=a=b"]);
  assert.equal(cm.code, 1);
  assert.equal(cm.stdout, "");
  assert.equal(cm.stderr, 'error: failed to create configmap: configmaps "taken" already exists\n');
  assert.equal((await create(["secret", "generic", "taken", "--from-literal=a=b"])).code, 0);
  const s = await create(["secret", "generic", "taken", "--from-literal=a=b"]);
  assert.equal(s.stderr, 'error: failed to create secret secrets "taken" already exists\n', "kubectl's own text, without a colon");
  assert.equal(s.code, 1);

  const bad = await create(["configmap", "Bad", "--from-literal=a=b"]);
  assert.match(bad.stderr, /^error: failed to create configmap: ConfigMap "Bad" is invalid: metadata\.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of/);
  assert.equal(bad.code, 1);
});

test("the 1 MiB limit: one byte over is refused with the API server's message and nothing is sent; exactly 1 MiB is sent", async () => {
  const exact = file("big/exact", "x".repeat(MAX_DATA_BYTES - 1));
  const before = posts().length;
  const over = await create(["configmap", "big", `--from-file=${exact}`, "--from-literal=a=xy"]);
  assert.equal(over.stderr, 'error: failed to create configmap: ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes\n');
  assert.equal(over.code, 1);
  const overSecret = await create(["secret", "generic", "big", `--from-file=${exact}`, "--from-literal=a=xy"]);
  assert.equal(overSecret.stderr, 'error: failed to create secret Secret "big" is invalid: data: Too long: may not be more than 1048576 bytes\n');
  assert.equal(posts().length, before, "nothing sent");
  // The same sources one byte smaller: sent.
  const fits = await create(["configmap", "big", `--from-file=${exact}`, "--from-literal=a=x"]);
  assert.equal(fits.stderr, "");
  assert.equal(fits.code, 0);
  assert.equal(posts().length, before + 1);
  // Keys do not count, only values; a binary value counts its bytes, not its base64.
  const bin = file("big/bin", Buffer.alloc(MAX_DATA_BYTES, 0xff));
  assert.equal((await create(["configmap", "bin", `--from-file=${bin}`])).code, 0);
});

test("no daemon: the client verbs' line and exit 1; create never starts one", async () => {
  const r = await capture((io) => createMain(["configmap", "x", "--from-literal=a=b", "--socket", join(dir, "nobody.sock")], io));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^cannot reach podd at .*nobody\.sock: no daemon is running/);
  const dry = await capture((io) => createMain(["configmap", "x", "--from-literal=a=b", "--socket", join(dir, "nobody.sock"), "--dry-run=client"], io));
  assert.equal(dry.code, 0, "a client dry run needs no daemon");
});

// ---- flags -----------------------------------------------------------------------------------

test("flags and arguments: kubectl's rules and messages; another generator's flag refused by name", async () => {
  const cases: [string[], RegExp | string][] = [
    [["configmap"], "exactly one NAME is required, got 0\nSee 'podd create configmap -h' for help and examples"],
    [["configmap", "a", "b"], "exactly one NAME is required, got 2\nSee 'podd create configmap -h' for help and examples"],
    [["secret", "tls", "a", "b"], "exactly one NAME is required, got 2\nSee 'podd create secret tls -h' for help and examples"],
    [["configmap", "a", "--cert=x"], "unknown flag: --cert (podd create configmap does not take it)"],
    [["secret", "tls", "t", "--from-literal=a=b"], "unknown flag: --from-literal (podd create secret tls does not take it)"],
    [["configmap", "a", "--type=x"], "unknown flag: --type (podd create configmap does not take it)"],
    [["configmap", "a", "--dry-run=maybe"], 'Invalid dry-run value (maybe). Must be "none", "server", or "client".'],
    [["configmap", "a", "--dry-run=server"], /^--dry-run=server is not supported/],
    [["configmap", "a", "-o", "wide"], 'unable to match a printer suitable for the output format "wide", allowed formats are: json,name,yaml'],
    [["configmap", "a", "--append-hash=maybe"], 'invalid argument "maybe" for "--append-hash" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [["configmap", "a", "--save-config"], /--save-config/],
    [["secret"], /generic, docker-registry or tls/],
    [["secret", "opaque", "x"], /unknown kind of secret "opaque"/],
    [["deployment", "x"], /unknown resource "deployment"/],
    [[], /podd create configmap NAME/],
  ];
  for (const [argv, expected] of cases) {
    const r = await create(argv);
    assert.equal(r.code, 2, argv.join(" "));
    const message = r.stderr.replace(/^error: /, "").replace(/\n$/, "");
    if (typeof expected === "string") assert.equal(message, expected, argv.join(" "));
    else assert.match(message, expected, argv.join(" "));
  }
  const bare = await create(["configmap", "a", "--dry-run"]);
  assert.equal(bare.code, 0, "a bare --dry-run is client, as in kubectl");
  assert.equal(bare.stdout, "configmap/a created (dry run)\n");
  assert.equal(bare.stderr, "warning: --dry-run is deprecated and can be replaced with --dry-run=client.\n");
});

test("podd create is in the verb table: the CLI as a user runs it", async () => {
  const main = fileURLToPath(new URL("../../supervisor/cli/main.ts", import.meta.url));
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, "create", "configmap", "cli", "--from-literal=a=b", "--dry-run=client", "-o", "name"], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout }));
  });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "configmap/cli\n");
});
