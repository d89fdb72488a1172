// How a daemon (or `podd image` on a free root) reaches registries: the per-registry settings
// (--registries, else <state>/registries.yaml) and the credentials of a Docker-format auth file
// (--authfile, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json), as podman and skopeo
// find theirs.
import { homedir } from "node:os";
import { credentialsFromFile, findAuthFile } from "../../runtime/images/auth.ts";
import { loadRegistrySettings, registrySettingsPath } from "../../runtime/images/registries.ts";
import { Registry, type CredentialsOf } from "../../runtime/images/registry.ts";
import type { Reference } from "../../runtime/images/reference.ts";
import type { ImageSource } from "../../runtime/images/source.ts";

export { registryFlags } from "./registry-flags.ts";

/** The source of each reference; close() ends the connections (and any pull still using them). */
export function defaultRegistry(
  state: string,
  env: NodeJS.ProcessEnv,
  flags: { registries?: string | undefined; authfile?: string | undefined } = {},
): ((ref: Reference, credentials?: CredentialsOf) => ImageSource) & { close(): void } {
  const settings = loadRegistrySettings(flags.registries ?? registrySettingsPath(state), { mustExist: flags.registries !== undefined });
  const registry = new Registry({ settings, credentials: credentialsFromFile(findAuthFile(env, homedir(), flags.authfile)) });
  return Object.assign((ref: Reference, credentials?: CredentialsOf) => registry.source(ref, credentials), { close: () => registry.close() });
}
