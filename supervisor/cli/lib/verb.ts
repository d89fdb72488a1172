import { parseArgs, type ParseArgsConfig } from "node:util";
import { PoddError } from "../../base/errors.ts";

/** One CLI verb: a line for the command list, its usage, and its body (resolves to the exit code). */
export interface Verb {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict flag parsing; a bad flag is an Invalid error that names the flag, as kubectl does. */
export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new PoddError((err as Error).message.replace(/\. To specify.*$/s, ""), { code: "Invalid", cause: err });
  }
}
