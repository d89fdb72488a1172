import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { clientFor, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

/** The checkout (or installed package) root: podd runs both from dist/ and, in tests, from source. */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above " + from);
    dir = up;
  }
  return dir;
}

export function poddVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/** Client version, and the server's when a daemon answers (kubectl version). */
export async function versionMain(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { ...socketFlag, client: { type: "boolean" } });
  io.stdout.write(`Client Version: v${poddVersion()} (node ${process.version})\n`);
  if (values.client) return 0;
  const client = clientFor(values, io);
  const code = await runClientVerb(io, async () => {
    const v = await client.version();
    io.stdout.write(`Server Version: ${v.gitVersion}\n`);
    return 0;
  });
  // No daemon is a normal state for a version query: runClientVerb said so on stderr.
  return code === 0 ? 0 : 1;
}

export const version: Verb = {
  summary: "Print the podd version, and the daemon's when one runs",
  usage: "[--client] [--socket PATH]",
  run: (argv) => versionMain(argv, processIo()),
};
