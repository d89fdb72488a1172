// podd login HOST / podd logout HOST: credentials for a registry, checked against it and kept in
// a Docker-format auth file (--authfile, else $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json), where the daemon, podman, skopeo and docker find them too.
import { homedir } from "node:os";
import { readFileSync } from "node:fs";
import { PoddError } from "../base/errors.ts";
import { findAuthFile, removeAuth, writeAuth } from "../runtime/images/auth.ts";
import { loadRegistrySettings, registrySettingsPath } from "../runtime/images/registries.ts";
import { Registry } from "../runtime/images/registry.ts";
import { rootsFromEnv } from "../base/paths.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

const flags = {
  username: { type: "string", short: "u" },
  password: { type: "string", short: "p" },
  "password-stdin": { type: "boolean" },
  authfile: { type: "string" },
  registries: { type: "string" },
  root: { type: "string" },
} as const;

export const login: Verb = {
  summary: "Log in to a registry: check the credentials, keep them in the auth file",
  usage: "HOST -u USER (-p PASSWORD | --password-stdin) [--authfile FILE] [--registries FILE] [--root DIR]",
  async run(argv) {
    const { values, positionals } = parseFlags(argv, flags);
    if (positionals.length !== 1 || !values.username) throw new PoddError(`usage: podd login ${login.usage}`, { code: "Invalid" });
    if ((values.password === undefined) === (values["password-stdin"] !== true)) throw new PoddError("give the password with -p or --password-stdin (one of them)", { code: "Invalid" });
    const password = values.password ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
    const host = positionals[0]!;
    const state = values.root ?? rootsFromEnv(process.env).state;
    const registry = new Registry({ settings: loadRegistrySettings(values.registries ?? registrySettingsPath(state), { mustExist: values.registries !== undefined }) });
    try {
      await registry.checkLogin(host, values.username, password);
    } finally {
      registry.close();
    }
    const file = findAuthFile(process.env, homedir(), values.authfile);
    writeAuth(file, host, values.username, password);
    process.stdout.write(`Login Succeeded (credentials in ${file})\n`);
    return 0;
  },
};

export const logout: Verb = {
  summary: "Forget the credentials of a registry",
  usage: "HOST [--authfile FILE]",
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { authfile: flags.authfile });
    if (positionals.length !== 1) throw new PoddError(`usage: podd logout ${logout.usage}`, { code: "Invalid" });
    const file = findAuthFile(process.env, homedir(), values.authfile);
    if (!removeAuth(file, positionals[0]!)) throw new PoddError(`not logged in to ${positionals[0]} (in ${file})`, { code: "NotFound" });
    process.stdout.write(`Removed login credentials for ${positionals[0]}\n`);
    return 0;
  },
};
