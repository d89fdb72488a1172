import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Verb } from "./verb.ts";

/** The checkout (or installed package) root: podd runs both from dist/ and, in tests, from source. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export function poddVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

export const version: Verb = {
  summary: "Print the podd version",
  usage: "",
  async run() {
    process.stdout.write(`podd version ${poddVersion()} (node ${process.version})\n`);
    return 0;
  },
};
