#!/usr/bin/env node
// podd's command line: one file per verb, dispatched from the table below.
import { PoddError } from "../base/errors.ts";
import type { Verb } from "./lib/verb.ts";

// Each verb's module is loaded only when that verb runs: one CLI call pays for one Node start
// and its own imports, not for the daemon's, the API server's and winston's.
const verbs: Record<string, () => Promise<Verb>> = {
  apply: async () => (await import("./apply.ts")).apply,
  completion: async () => (await import("./completion.ts")).completion,
  create: async () => (await import("./create.ts")).create,
  daemon: async () => (await import("./daemon.ts")).daemon,
  delete: async () => (await import("./delete.ts")).del,
  describe: async () => (await import("./describe.ts")).describe,
  events: async () => (await import("./events.ts")).events,
  exec: async () => (await import("./exec.ts")).exec,
  get: async () => (await import("./get.ts")).get,
  image: async () => (await import("./image.ts")).image,
  login: async () => (await import("./login.ts")).login,
  logout: async () => (await import("./login.ts")).logout,
  logs: async () => (await import("./logs.ts")).logs,
  run: async () => (await import("./run.ts")).run,
  top: async () => (await import("./top.ts")).top,
  validate: async () => (await import("./validate.ts")).validate,
  version: async () => (await import("./version.ts")).version,
  wait: async () => (await import("./wait.ts")).wait,
};

async function usage(): Promise<string> {
  const width = Math.max(...Object.keys(verbs).map((v) => v.length));
  const lines = await Promise.all(Object.entries(verbs).map(async ([name, load]) => `  ${name.padEnd(width)}  ${(await load()).summary}`));
  return [
    "podd runs Kubernetes Pod manifests on one Linux machine, without Kubernetes.",
    "",
    "Usage: podd COMMAND [FLAGS]",
    "",
    "Commands:",
    ...lines,
    "",
    'Run "podd COMMAND --help" for the flags of a command.',
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    (name === undefined ? process.stderr : process.stdout).write((await usage()) + "\n");
    return name === undefined ? 2 : 0;
  }
  const load = verbs[name];
  if (!load) {
    process.stderr.write(`error: unknown command "${name}" for "podd"\n\n${await usage()}\n`);
    return 2;
  }
  const verb = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${verb.summary}\n\nUsage: podd ${name} ${verb.usage}\n`);
    return 0;
  }
  return verb.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof PoddError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = err.code === "Invalid" ? 2 : 1;
    } else {
      process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
