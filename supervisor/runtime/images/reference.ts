// Image references as Docker and the kubelet read them (the distribution project's grammar):
// "busybox" is docker.io/library/busybox:latest, "host:5000/team/app:1.2" names a registry by
// its first component when that has a dot or a port or is "localhost", "@sha256:…" pins a digest.
// Pure: parsing and printing only.
import { PoddError } from "../../base/errors.ts";

export interface Reference {
  /** registry host[:port]; "docker.io" for Docker Hub */
  domain: string;
  /** repository path inside the registry: "library/busybox" */
  path: string;
  tag?: string;
  /** "sha256:<64 hex>" */
  digest?: string;
}

export const DOCKER_HUB = "docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME = 255;

function invalid(text: string, why: string): PoddError {
  return new PoddError(`invalid image name "${text}": ${why}`, { code: "Invalid" });
}

/** True when text is a registry as a reference names it: a host name or [IPv6], with an optional port. */
export function isRegistryHost(text: string): boolean {
  return DOMAIN.test(text);
}

/** True when the first path component names a registry rather than a Docker Hub user. */
function isDomain(first: string): boolean {
  return first.includes(".") || first.includes(":") || first === "localhost" || first.toLowerCase() !== first;
}

/**
 * Parses and normalizes an image reference. No tag and no digest stay so (see withDefaultTag);
 * a tag next to a digest is kept, and the digest is what is pulled, as Docker does.
 */
export function parseReference(text: string): Reference {
  if (text === "") throw invalid(text, "empty");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(text, `digest "${digest}" is not sha256:<64 lower-case hex digits>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(text, `tag "${tag}" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }
  const slash = rest.indexOf("/");
  let domain = DOCKER_HUB;
  let path = rest;
  if (slash >= 0 && isDomain(rest.slice(0, slash))) {
    domain = rest.slice(0, slash);
    path = rest.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw invalid(text, `registry "${domain}" is not a host name with an optional port`);
  }
  if (domain === "index.docker.io") domain = DOCKER_HUB;
  if (path === "") throw invalid(text, "no repository");
  for (const c of path.split("/")) {
    if (!COMPONENT.test(c)) {
      const why = c.toLowerCase() !== c ? "must be lower-case" : "must be lower-case letters and digits, joined by single \".\", \"_\", \"__\" or dashes";
      throw invalid(text, `repository component "${c}" ${why}`);
    }
  }
  if (domain === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  if (`${domain}/${path}`.length > MAX_NAME) throw invalid(text, `repository name longer than ${MAX_NAME} characters`);
  const ref: Reference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** A reference with neither tag nor digest gets ":latest". */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: "latest" } : ref;
}

/** "docker.io/library/busybox" */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full normalized form: "docker.io/library/busybox:latest", "host/app@sha256:…". */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** The short form people type: "busybox:latest" for Docker Hub's library, else the full name. */
export function familiarName(ref: Reference): string {
  let name = repositoryName(ref);
  if (ref.domain === DOCKER_HUB) name = ref.path.startsWith("library/") ? ref.path.slice(8) : ref.path;
  return name + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** What pulling names: the digest when there is one, else the tag. */
export function pullTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
