import { parseValidateMode, readManifests } from "./manifests.ts";
import { parseFlags, type Verb } from "./verb.ts";

export const validate: Verb = {
  summary: "Check Pod manifests without running them",
  usage: "-f FILE|DIR|- [-f …] [--validate=strict|warn|ignore]",
  async run(argv) {
    const { values } = parseFlags(argv, {
      filename: { type: "string", short: "f", multiple: true },
      validate: { type: "string" },
    });
    const set = readManifests(values.filename ?? [], parseValidateMode(values.validate));
    for (const w of set.warnings) process.stderr.write(`warning: ${w}\n`);
    if (set.errors.length) {
      for (const e of set.errors) process.stderr.write(`${e}\n`);
      return 1;
    }
    for (const pod of set.pods) process.stdout.write(`pod/${pod.metadata.name} valid\n`);
    return 0;
  },
};
