// podd image: pull, import, ls, inspect, rm, prune. With a daemon on the socket the verbs go
// through it, so the store has one writer and pulls show up in its events; with none, the
// store of --root (or the default state root) is opened here, under the root's lock, as
// `podd run` hosts a supervisor.
import { resolve } from "node:path";
import { PoddError } from "../base/errors.ts";
import { humanDuration, parseTimestamp } from "../base/time.ts";
import { RemoteImages, type ImagesApi, type ImageSummary, type LayerProgressView } from "../api/images.ts";
import { ApiError, UnreachableError } from "../api/client.ts";
import { familiarName, parseReference } from "../runtime/images/reference.ts";
import { clientFor, processIo, runClientVerb, type Io } from "./lib/client-verb.ts";
import { table } from "./lib/table.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";
import { registryFlags } from "./lib/registry-flags.ts";

/** Decimal units, as podman and docker print image sizes. */
export function imageSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} ${units[0]}` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function repoAndTag(name: string): [string, string] {
  const ref = parseReference(name);
  const repo = `${ref.domain}/${ref.path}`;
  return [repo, ref.tag ?? "<none>"];
}

export function imageRows(images: readonly ImageSummary[], now: number): string[][] {
  return [
    ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
    ...images.map((i) => {
      const [repo, tag] = repoAndTag(i.name);
      const created = i.created ? `${humanDuration(now - parseTimestamp(i.created))} ago` : "<unknown>";
      return [repo, tag, i.id.slice(7, 19), created, imageSize(i.size)];
    }),
  ];
}

/** One line per layer, redrawn in place, as `docker pull` shows a pull in a terminal. */
class PullProgress {
  private drawn = 0;
  private readonly started = Date.now();
  constructor(private readonly out: Io["stderr"]) {}
  draw(layers: readonly LayerProgressView[]): void {
    if (!this.out.isTTY) return;
    const secs = Math.max((Date.now() - this.started) / 1000, 0.001);
    let s = this.drawn ? `\x1b[${this.drawn}A` : "";
    for (const l of layers) {
      const what = l.state === "present" ? "Already exists" : l.state === "done" ? "Pull complete" : l.state === "waiting" ? "Waiting" : `Downloading ${imageSize(l.done)}/${imageSize(l.total)}`;
      s += `\x1b[2K${l.digest.slice(7, 19)}: ${what}${l.state === "fetching" ? `  ${imageSize(l.done / secs)}/s` : ""}\n`;
    }
    this.drawn = layers.length;
    this.out.write(s);
  }
}

async function openImages(values: { socket?: string | undefined; root?: string | undefined; registries?: string | undefined; authfile?: string | undefined }, io: Io): Promise<{ api: ImagesApi; close(): void }> {
  // Roots given and no socket: those roots' store, here (a daemon on other roots is not asked).
  if (values.socket !== undefined || values.root === undefined) {
    const client = clientFor(values, io);
    try {
      await client.healthz();
      return { api: new RemoteImages(client), close: () => {} };
    } catch (err) {
      if (!(err instanceof UnreachableError) || err.why !== "no-daemon" || values.socket !== undefined) throw err;
    }
  }
  // Loaded only here: a verb the daemon answers needs none of the store's code (nor koffi).
  return (await import("./lib/local-images.ts")).openLocalImages(values, io);
}

const USAGE = `pull NAME | load -i FILE|- | load DIR | import NAME DIR|TARBALL [--env K=V …] [--workdir DIR] [--replace] | ls [-o json] | inspect NAME | rm NAME… | prune   [--root DIR] [--socket PATH]`;

export async function imageMain(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    root: { type: "string" },
    socket: { type: "string" },
    env: { type: "string", multiple: true },
    workdir: { type: "string" },
    replace: { type: "boolean" },
    output: { type: "string", short: "o" },
    quiet: { type: "boolean", short: "q" },
    input: { type: "string", short: "i" },
    ...registryFlags,
  });
  const [sub, ...rest] = positionals;
  const known = ["pull", "load", "import", "ls", "list", "inspect", "rm", "remove", "prune"];
  if (!sub || !known.includes(sub)) throw new PoddError(`unknown image command "${sub ?? ""}": use ${USAGE}`, { code: "Invalid" });
  if (values.output !== undefined && values.output !== "json") throw new PoddError(`invalid -o "${values.output}": image ls prints a table or json`, { code: "Invalid" });
  return runClientVerb(io, async () => {
    const { api, close } = await openImages(values, io);
    try {
      switch (sub) {
        case "pull": {
          if (rest.length !== 1) throw new PoddError("usage: podd image pull NAME", { code: "Invalid" });
          const bar = new PullProgress(io.stderr);
          const out = await api.pull(rest[0]!, (l) => bar.draw(l));
          io.stdout.write(
            values.quiet ? `${out.image.id}\n` : `pulled ${familiarName(parseReference(out.image.name))} (${out.image.id.slice(7, 19)}, ${imageSize(out.image.size)}): fetched ${imageSize(out.fetched)} in ${(out.ms / 1000).toFixed(1)}s\n`,
          );
          return 0;
        }
        case "load": {
          const from = values.input ?? rest[0];
          if (from === undefined || (values.input !== undefined && rest.length > 0) || rest.length > 1) {
            throw new PoddError("usage: podd image load -i FILE|- , or podd image load DIR", { code: "Invalid" });
          }
          const loaded = await api.load(from === "-" ? { stream: process.stdin } : { path: resolve(from) });
          for (const r of loaded) io.stdout.write(`Loaded image: ${familiarName(parseReference(r.name))}\n`);
          return 0;
        }
        case "import": {
          if (rest.length !== 2) throw new PoddError("usage: podd image import NAME DIR|TARBALL", { code: "Invalid" });
          for (const kv of values.env ?? []) {
            if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*=/.test(kv)) throw new PoddError(`invalid --env "${kv}": write NAME=value`, { code: "Invalid" });
          }
          const opts: { env?: string[]; workingDir?: string; replace?: boolean } = { replace: values.replace === true };
          if (values.env) opts.env = values.env;
          if (values.workdir) opts.workingDir = values.workdir;
          const img = await api.import(rest[0]!, resolve(rest[1]!), opts);
          io.stdout.write(`image/${familiarName(parseReference(img.name))} ${values.replace ? "replaced" : "imported"}\n`);
          return 0;
        }
        case "ls":
        case "list": {
          const list = await api.list();
          if (values.output === "json") io.stdout.write(JSON.stringify(list, null, 2) + "\n");
          else if (values.quiet) io.stdout.write(list.map((i) => i.id.slice(7, 19) + "\n").join(""));
          else io.stdout.write(table(imageRows(list, io.now())));
          return 0;
        }
        case "inspect": {
          if (rest.length === 0) throw new PoddError("usage: podd image inspect NAME…", { code: "Invalid" });
          const out = [];
          for (const n of rest) out.push(await api.inspect(n));
          io.stdout.write(JSON.stringify(out, null, 2) + "\n");
          return 0;
        }
        case "rm":
        case "remove": {
          if (rest.length === 0) throw new PoddError("usage: podd image rm NAME…", { code: "Invalid" });
          let code = 0;
          for (const n of rest) {
            try {
              for (const r of await api.remove(n)) io.stdout.write(`image/${familiarName(parseReference(r.name))} removed\n`);
            } catch (err) {
              // Each name on its own, as podman rmi: one that cannot go does not stop the rest.
              if (!(err instanceof PoddError) || (err.code !== "NotFound" && err.code !== "Conflict")) throw err;
              io.stderr.write(`error: ${err instanceof ApiError ? err.status.message : err.message}\n`);
              code = 1;
            }
          }
          return code;
        }
        case "prune": {
          for (const r of await api.prune()) io.stdout.write(`image/${familiarName(parseReference(r.name))} removed\n`);
          return 0;
        }
      }
      return 1;
    } finally {
      close();
    }
  });
}

export const image: Verb = {
  summary: "Manage images: pull, import, ls, inspect, rm, prune",
  usage: USAGE,
  run: (argv) => imageMain(argv, processIo()),
};
