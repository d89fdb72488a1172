import { parseValidateMode, readManifests, recursiveFlag } from "./lib/manifests.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

export const validate: Verb = {
  summary: "Check Pod manifests without running them",
  usage: "-f FILE|DIR|- [-f …] [-R] [--validate=strict|warn|ignore]",
  async run(argv) {
    const { values } = parseFlags(argv, {
      filename: { type: "string", short: "f", multiple: true },
    ...recursiveFlag,
      validate: { type: "string" },
    });
    const set = readManifests(values.filename ?? [], parseValidateMode(values.validate), { verb: "validate", recursive: values.recursive === true });
    for (const w of set.warnings) process.stderr.write(`warning: ${w}\n`);
    // The valid files are named too, so that one mistake in a directory does not hide the rest.
    for (const o of set.objects) process.stdout.write(`${o.kind.toLowerCase()}/${o.metadata.name} valid\n`);
    for (const pod of set.pods) process.stdout.write(`pod/${pod.metadata.name} valid\n`);
    for (const e of set.errors) process.stderr.write(`${e}\n`);
    return set.errors.length ? 1 : 0;
  },
};
