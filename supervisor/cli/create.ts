// podd create configmap|secret NAME: builds a ConfigMap or a Secret from literals, files,
// directories and env files as `kubectl create` does, flag for flag and message for message,
// then POSTs it to the daemon; with --dry-run=client it prints the object and contacts nobody.
// Like kubectl's, this verb never starts a daemon: an object is created in a running one.
import { readFileSync } from "node:fs";
import { PoddError } from "../base/errors.ts";
import { ApiError } from "../api/client.ts";
import { clientFor, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { addFromEnvFiles, addFromFiles, addFromLiterals, ConfigMapData, SecretData, splitSourceList, systemErrorText } from "./lib/data-sources.ts";
import { goMarshal, goMarshalIndent, goQuote, goSortedMap } from "./lib/go-json.ts";
import { configMapHash, secretHash } from "./lib/object-hash.ts";
import { formatObject, loadYaml } from "./lib/object-output.ts";
import { checkTlsKeyPair } from "./lib/tls-pair.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

/** The API server's limit on the data of one ConfigMap or Secret (core.MaxSecretSize). */
export const MAX_DATA_BYTES = 1024 * 1024;

export const DOCKER_DEFAULT_SERVER = "https://index.docker.io/v1/";

type Kind = "ConfigMap" | "Secret";
type Generator = "configmap" | "generic" | "docker-registry" | "tls";
type Output = "json" | "yaml" | "name" | undefined;
type ApiObject = { apiVersion: "v1"; kind: Kind; metadata: { name: string; namespace?: string }; [field: string]: unknown };

const FLAGS = {
  ...socketFlag,
  namespace: { type: "string", short: "n" },
  output: { type: "string", short: "o" },
  "dry-run": { type: "string" },
  // A string, so that kubectl's --append-hash=false parses; a bare --append-hash is made "=true".
  "append-hash": { type: "string" },
  "from-file": { type: "string", multiple: true },
  "from-literal": { type: "string", multiple: true },
  "from-env-file": { type: "string", multiple: true },
  type: { type: "string" },
  "docker-server": { type: "string" },
  "docker-username": { type: "string" },
  "docker-password": { type: "string" },
  "docker-email": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

const COMMON_FLAGS = ["socket", "namespace", "output", "dry-run", "append-hash"];
/** Each generator's flags, as kubectl's subcommands define them; any other is refused by name. */
const FLAGS_OF: Record<Generator, readonly string[]> = {
  configmap: [...COMMON_FLAGS, "from-file", "from-literal", "from-env-file"],
  generic: [...COMMON_FLAGS, "from-file", "from-literal", "from-env-file", "type"],
  "docker-registry": [...COMMON_FLAGS, "from-file", "docker-server", "docker-username", "docker-password", "docker-email"],
  tls: [...COMMON_FLAGS, "cert", "key"],
};

function invalid(message: string): PoddError {
  return new PoddError(message, { code: "Invalid" });
}

/** Go's strconv.ParseBool, which kubectl's boolean flags take. */
function goParseBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

/** --dry-run as kubectl reads it: none|client (server is refused: podd has no server-side dry
 * run), a bare --dry-run or a boolean accepted with kubectl's deprecation warning. */
export function parseDryRun(value: string | undefined, io: Io): boolean {
  if (value === undefined || value === "none") return false;
  if (value === "client") return true;
  if (value === "server") throw invalid("--dry-run=server is not supported: the podd daemon has no server-side dry run; use --dry-run=client");
  if (value === "unchanged") {
    io.stderr.write("warning: --dry-run is deprecated and can be replaced with --dry-run=client.\n");
    return true;
  }
  const b = goParseBool(value);
  if (b === undefined) throw invalid(`Invalid dry-run value (${value}). Must be "none", "server", or "client".`);
  io.stderr.write(`warning: --dry-run=${value} is deprecated (boolean value) and can be replaced with --dry-run=${b ? "client" : "none"}.\n`);
  return b;
}

function parseOutput(value: string | undefined): Output {
  if (value === undefined || value === "json" || value === "yaml" || value === "name") return value;
  throw invalid(`unable to match a printer suitable for the output format "${value}", allowed formats are: json,name,yaml`);
}

function metadata(name: string, namespace: string | undefined): ApiObject["metadata"] {
  // kubectl writes the namespace into the object only when one was asked for (-n); without,
  // the object carries none and the daemon files it under "default".
  return namespace === undefined ? { name } : { name, namespace };
}

function base64Record(m: ReadonlyMap<string, Buffer>): Record<string, string> {
  return Object.fromEntries(goSortedMap(m, (b) => b.toString("base64")));
}

// ---- the generators ---------------------------------------------------------------------------

interface Built {
  object: ApiObject;
  /** the bytes the API server counts against MAX_DATA_BYTES */
  size: number;
}

function sourceLists(values: Values): { files: string[]; literals: string[]; envFiles: string[] } {
  return {
    files: (values["from-file"] ?? []).flatMap((v) => splitSourceList("from-file", v)),
    literals: values["from-literal"] ?? [],
    envFiles: (values["from-env-file"] ?? []).flatMap((v) => splitSourceList("from-env-file", v)),
  };
}

function refuseEnvFileMix(s: { files: string[]; literals: string[]; envFiles: string[] }): void {
  // An env file is a whole set of keys; kubectl will not merge it with others.
  if (s.envFiles.length > 0 && (s.files.length > 0 || s.literals.length > 0)) throw invalid("from-env-file cannot be combined with from-file or from-literal");
}

function buildConfigMap(name: string, namespace: string | undefined, values: Values, appendHash: boolean, env: NodeJS.ProcessEnv): Built {
  const sources = sourceLists(values);
  refuseEnvFileMix(sources);
  const d = new ConfigMapData(name);
  // kubectl's order (files, literals, env files) decides which of two equal keys is the duplicate.
  addFromFiles(d, sources.files);
  addFromLiterals(d, sources.literals);
  addFromEnvFiles(d, sources.envFiles, env);
  const finalName = appendHash ? `${name}-${configMapHash(name, d.data, d.binaryData)}` : name;
  const object: ApiObject = { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(finalName, namespace) };
  if (d.data.size > 0) object.data = Object.fromEntries(goSortedMap(d.data, (v) => v));
  if (d.binaryData.size > 0) object.binaryData = base64Record(d.binaryData);
  return { object, size: d.size() };
}

function secretObject(name: string, namespace: string | undefined, type: string, d: SecretData, appendHash: boolean): Built {
  const finalName = appendHash ? `${name}-${secretHash(name, type, d.data)}` : name;
  const object: ApiObject = { apiVersion: "v1", kind: "Secret", metadata: metadata(finalName, namespace) };
  if (d.data.size > 0) object.data = base64Record(d.data);
  // No --type sends none: the API server defaults it to Opaque, as it does for kubectl.
  if (type !== "") object.type = type;
  return { object, size: d.size() };
}

function buildGenericSecret(name: string, namespace: string | undefined, values: Values, appendHash: boolean, env: NodeJS.ProcessEnv): Built {
  const sources = sourceLists(values);
  refuseEnvFileMix(sources);
  const d = new SecretData();
  // A Secret takes literals first, then files (kubectl's order, unlike its ConfigMap's).
  addFromLiterals(d, sources.literals);
  addFromFiles(d, sources.files);
  addFromEnvFiles(d, sources.envFiles, env);
  return secretObject(name, namespace, values.type ?? "", d, appendHash);
}

/** The ~/.docker/config.json that kubelets read from a kubernetes.io/dockerconfigjson Secret:
 * one `auths` entry for the server, with `auth` the base64 of "username:password". Go's JSON
 * (and field order) so that the bytes, and an --append-hash of them, equal kubectl's. */
export function dockerConfigJson(server: string, username: string, password: string, email: string): string {
  const entry = {
    username: username || undefined,
    password: password || undefined,
    email: email || undefined,
    auth: Buffer.from(`${username}:${password}`, "utf8").toString("base64"),
  };
  return goMarshal({ auths: new Map([[server, entry]]) });
}

function buildDockerRegistrySecret(name: string, namespace: string | undefined, values: Values, appendHash: boolean): Built {
  // A file given without a key is the .dockerconfigjson itself (kubectl's default key here).
  const files = (values["from-file"] ?? []).flatMap((v) => splitSourceList("from-file", v)).map((s) => (s.includes("=") ? s : `.dockerconfigjson=${s}`));
  const server = values["docker-server"] ?? DOCKER_DEFAULT_SERVER;
  const username = values["docker-username"] ?? "";
  const password = values["docker-password"] ?? "";
  if (files.length === 0 && (username === "" || password === "" || server === "")) {
    throw invalid("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required");
  }
  const d = new SecretData();
  if (files.length > 0) addFromFiles(d, files);
  else d.addFile(".dockerconfigjson", Buffer.from(dockerConfigJson(server, username, password, values["docker-email"] ?? ""), "utf8"));
  return secretObject(name, namespace, "kubernetes.io/dockerconfigjson", d, appendHash);
}

function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new PoddError(`Cannot read file ${path}, open ${path}: ${systemErrorText(err)}`, { code: "Invalid", cause: err });
  }
}

function buildTlsSecret(name: string, namespace: string | undefined, values: Values, appendHash: boolean): Built {
  if (!values.key || !values.cert) throw invalid("key and cert must be specified");
  const cert = readTlsFile(values.cert);
  const key = readTlsFile(values.key);
  // PEM is ASCII; latin1 keeps every byte as one character, so stray bytes cannot shift a block.
  checkTlsKeyPair(cert.toString("latin1"), key.toString("latin1"));
  const d = new SecretData();
  d.addFile("tls.crt", cert);
  d.addFile("tls.key", key);
  return secretObject(name, namespace, "kubernetes.io/tls", d, appendHash);
}

// ---- printing ---------------------------------------------------------------------------------

/** Go's field order of ConfigMap, Secret and ObjectMeta: kubectl prints a created object (a
 * typed one, unlike `get`'s) with -o json in that order. */
const FIELD_ORDER: Record<Kind | "metadata", readonly string[]> = {
  ConfigMap: ["kind", "apiVersion", "metadata", "immutable", "data", "binaryData"],
  Secret: ["kind", "apiVersion", "metadata", "immutable", "data", "stringData", "type"],
  metadata: [
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
  ],
};

/** Maps (and objects of unknown shape) with their keys sorted as Go sorts a map's. */
function goSortedDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(goSortedDeep);
  if (v !== null && typeof v === "object") return goSortedMap(v as Record<string, unknown>, goSortedDeep);
  return v;
}

function inFieldOrder(obj: Record<string, unknown>, order: readonly string[], value: (field: string, v: unknown) => unknown): Map<string, unknown> {
  const rest = Object.keys(obj).filter((k) => !order.includes(k)).sort();
  return new Map([...order.filter((k) => k in obj), ...rest].map((k) => [k, value(k, obj[k])]));
}

export function typedJson(kind: Kind, obj: Record<string, unknown>): string {
  const ordered = inFieldOrder(obj, FIELD_ORDER[kind], (field, v) =>
    field === "metadata" && v !== null && typeof v === "object" ? inFieldOrder(v as Record<string, unknown>, FIELD_ORDER.metadata, (_, m) => goSortedDeep(m)) : goSortedDeep(v),
  );
  return goMarshalIndent(ordered) + "\n";
}

function printObject(io: Io, output: Output, obj: ApiObject, operation: string): void {
  const ref = `${obj.kind.toLowerCase()}/${obj.metadata.name}`;
  switch (output) {
    case undefined:
      io.stdout.write(`${ref} ${operation}\n`);
      return;
    case "name":
      io.stdout.write(`${ref}\n`);
      return;
    case "json":
      io.stdout.write(typedJson(obj.kind, obj));
      return;
    case "yaml":
      io.stdout.write(formatObject(obj, "yaml"));
  }
}

/** kubectl wraps the server's refusal in its own words, "failed to create secret" without a
 * colon included: kept, as scripts match it. */
function failedToCreate(kind: Kind, message: string): string {
  return kind === "ConfigMap" ? `error: failed to create configmap: ${message}\n` : `error: failed to create secret ${message}\n`;
}

/** The API server's refusal of an object over the limit: a ConfigMap's names the whole object
 * ("[]"), a Secret's its data. */
export function tooLongMessage(kind: Kind, name: string): string {
  const field = kind === "ConfigMap" ? "[]" : "data";
  return `${kind} ${goQuote(name)} is invalid: ${field}: Too long: may not be more than ${MAX_DATA_BYTES} bytes`;
}

// ---- the verb ---------------------------------------------------------------------------------

function generatorOf(positionals: string[]): { generator: Generator; command: string; args: string[] } {
  const [resource, ...rest] = positionals;
  if (resource === undefined) {
    throw invalid("podd create: name what to create: podd create configmap NAME, or podd create secret generic|docker-registry|tls NAME (pods: podd apply -f)");
  }
  if (resource === "configmap" || resource === "cm") return { generator: "configmap", command: "configmap", args: rest };
  if (resource === "secret") {
    const [sub, ...args] = rest;
    if (sub === "generic" || sub === "docker-registry" || sub === "tls") return { generator: sub, command: `secret ${sub}`, args };
    throw invalid(
      sub === undefined
        ? "podd create secret: name the kind of secret: generic, docker-registry or tls"
        : `podd create secret: unknown kind of secret "${sub}": generic, docker-registry or tls`,
    );
  }
  throw invalid(`podd create: unknown resource "${resource}": podd creates configmap and secret (generic, docker-registry, tls); pods are made with podd apply -f`);
}

export async function createMain(argv: string[], io: Io): Promise<number> {
  // kubectl's boolean and optional-value flags: a bare --append-hash means true, a bare
  // --dry-run means client (its NoOptDefVal "unchanged").
  const args = argv.map((a) => (a === "--append-hash" ? "--append-hash=true" : a === "--dry-run" ? "--dry-run=unchanged" : a));
  const { values, positionals } = parseFlags(args, FLAGS);
  const { generator, command, args: names } = generatorOf(positionals);
  for (const flag of Object.keys(values)) {
    if (!FLAGS_OF[generator].includes(flag)) throw invalid(`unknown flag: --${flag} (podd create ${command} does not take it)`);
  }
  if (names.length !== 1) throw invalid(`exactly one NAME is required, got ${names.length}\nSee 'podd create ${command} -h' for help and examples`);
  const name = names[0]!;
  const dryRun = parseDryRun(values["dry-run"], io);
  const output = parseOutput(values.output);
  let appendHash = false;
  if (values["append-hash"] !== undefined) {
    const b = goParseBool(values["append-hash"]);
    if (b === undefined) throw invalid(`invalid argument "${values["append-hash"]}" for "--append-hash" flag: strconv.ParseBool: parsing "${values["append-hash"]}": invalid syntax`);
    appendHash = b;
  }
  if (name === "") throw invalid("name must be specified");
  const namespace = values.namespace === "" ? undefined : values.namespace;
  if (output === "yaml") await loadYaml();

  const built =
    generator === "configmap"
      ? buildConfigMap(name, namespace, values, appendHash, io.env)
      : generator === "generic"
        ? buildGenericSecret(name, namespace, values, appendHash, io.env)
        : generator === "docker-registry"
          ? buildDockerRegistrySecret(name, namespace, values, appendHash)
          : buildTlsSecret(name, namespace, values, appendHash);
  const { object } = built;

  if (dryRun) {
    printObject(io, output, object, "created (dry run)");
    return 0;
  }
  // Refused here rather than by the daemon: the message is the API server's, and nothing of
  // a megabyte-sized body is sent to be thrown away.
  if (built.size > MAX_DATA_BYTES) {
    io.stderr.write(failedToCreate(object.kind, tooLongMessage(object.kind, object.metadata.name)));
    return 1;
  }
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    try {
      const stored = await client.createObject<ApiObject>(object.kind === "ConfigMap" ? "configmaps" : "secrets", namespace ?? "default", object);
      printObject(io, output, { ...stored, kind: object.kind, metadata: { ...stored.metadata, name: stored.metadata?.name ?? object.metadata.name } }, "created");
      return 0;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      io.stderr.write(failedToCreate(object.kind, err.status.message));
      return 1;
    }
  });
}

const COMMON_USAGE = "[--append-hash] [-n NS] [--dry-run=none|client] [-o json|yaml|name] [--socket PATH]";

export const create: Verb = {
  summary: "Create a ConfigMap or a Secret from files, directories, env files or literals (kubectl create configmap|secret)",
  usage: [
    `configmap|cm NAME [--from-file=[key=]source]… [--from-literal=key=value]… [--from-env-file=source]… ${COMMON_USAGE}`,
    `       podd create secret generic NAME [--type=TYPE] [--from-file=[key=]source]… [--from-literal=key=value]… [--from-env-file=source]… ${COMMON_USAGE}`,
    `       podd create secret docker-registry NAME --docker-username=USER --docker-password=PASSWORD [--docker-email=EMAIL] [--docker-server=${DOCKER_DEFAULT_SERVER}] | --from-file=[.dockerconfigjson=]PATH ${COMMON_USAGE}`,
    `       podd create secret tls NAME --cert=PATH --key=PATH ${COMMON_USAGE}`,
  ].join("\n"),
  run: (argv) => createMain(argv, processIo()),
};
