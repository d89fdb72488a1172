#!/usr/bin/env node
// podd's command line: one file per verb, dispatched from the table below.
import { PoddError } from "../errors.ts";
import type { Verb } from "./verb.ts";
import { apply } from "./apply.ts";
import { completion } from "./completion.ts";
import { daemon } from "./daemon.ts";
import { del } from "./delete.ts";
import { describe } from "./describe.ts";
import { events } from "./events.ts";
import { exec } from "./exec.ts";
import { get } from "./get.ts";
import { image } from "./image.ts";
import { logs } from "./logs.ts";
import { run } from "./run.ts";
import { top } from "./top.ts";
import { validate } from "./validate.ts";
import { version } from "./version.ts";

const verbs: Record<string, Verb> = {
  apply,
  completion,
  daemon,
  delete: del,
  describe,
  events,
  exec,
  get,
  image,
  logs,
  run,
  top,
  validate,
  version,
};

function usage(): string {
  const width = Math.max(...Object.keys(verbs).map((v) => v.length));
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`);
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
    (name === undefined ? process.stderr : process.stdout).write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const verb = verbs[name];
  if (!verb) {
    process.stderr.write(`error: unknown command "${name}" for "podd"\n\n${usage()}\n`);
    return 2;
  }
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
