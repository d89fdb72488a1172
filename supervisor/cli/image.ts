import { join } from "node:path";
import { PoddError } from "../base/errors.ts";
import { ImageStore } from "../runtime/images.ts";
import { rootsFromEnv } from "../base/paths.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

function store(root: string | undefined): ImageStore {
  return new ImageStore(join(root ?? rootsFromEnv(process.env).state, "images"));
}

export const image: Verb = {
  summary: "Manage local images: import, ls, rm",
  usage: "import NAME DIR|TARBALL [--env K=V …] [--workdir DIR] [--replace] | ls | rm NAME…  [--root DIR]",
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      root: { type: "string" },
      env: { type: "string", multiple: true },
      workdir: { type: "string" },
      replace: { type: "boolean" },
    });
    const [sub, ...rest] = positionals;
    const images = store(values.root);
    switch (sub) {
      case "import": {
        if (rest.length !== 2) throw new PoddError("usage: podd image import NAME DIR|TARBALL", { code: "Invalid" });
        for (const kv of values.env ?? []) {
          if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*=/.test(kv)) throw new PoddError(`invalid --env "${kv}": write NAME=value`, { code: "Invalid" });
        }
        const opts: { env?: string[]; workingDir?: string; replace?: boolean } = { replace: values.replace === true };
        if (values.env) opts.env = values.env;
        if (values.workdir) opts.workingDir = values.workdir;
        const replaced = images.get(rest[0]!) !== undefined;
        const img = images.import(rest[0]!, rest[1]!, opts);
        process.stdout.write(`image/${img.ref} ${replaced ? "replaced" : "imported"}\n`);
        return 0;
      }
      case "ls":
      case "list": {
        const rows = images.list().map((i) => [i.ref, i.created.slice(0, 19).replace("T", " ")]);
        const w = Math.max(5, ...rows.map((r) => r[0]!.length));
        process.stdout.write(`${"IMAGE".padEnd(w)}   CREATED\n`);
        for (const [ref, created] of rows) process.stdout.write(`${ref!.padEnd(w)}   ${created}\n`);
        return 0;
      }
      case "rm":
      case "remove": {
        let code = 0;
        for (const name of rest) {
          if (images.remove(name)) process.stdout.write(`image/${name} removed\n`);
          else {
            process.stderr.write(`error: image "${name}" not found\n`);
            code = 1;
          }
        }
        return code;
      }
      default:
        throw new PoddError(`unknown image command "${sub ?? ""}": use import, ls or rm`, { code: "Invalid" });
    }
  },
};
