// Registry authentication as Docker's token specification and the OCI distribution spec
// describe it: the WWW-Authenticate challenge of a 401 (Bearer with realm, service and scope, or
// Basic), the token service's answer, and the tokens kept per registry and scope until they
// expire or the registry refuses them. Pure but for the clock the cache is handed.
import type { Clock } from "../../base/time.ts";
import { PoddError } from "../../base/errors.ts";

export interface Challenge {
  scheme: "bearer" | "basic";
  /** the token service's URL (Bearer) */
  realm?: string;
  service?: string;
  scope?: string;
}

export interface Token {
  token: string;
  /** clock milliseconds after which the token is fetched again */
  expiresAt: number;
}

/** The spec's default lifetime, and the least a token is kept (Docker's clients do the same). */
export const MIN_TOKEN_SECONDS = 60;

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * The challenges of a WWW-Authenticate header (RFC 9110 §11.6.1; several headers arrive
 * joined with ", "), Bearer first when there is one: it is what the registry prefers.
 * Schemes podd does not speak are left out.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  let i = 0;
  const s = header;
  const skip = (re: RegExp) => {
    while (i < s.length && re.test(s[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === "") {
      i++; // a character no challenge starts with: step over it
      continue;
    }
    const params: Record<string, string> = {};
    out.push({ scheme: scheme.toLowerCase(), params });
    for (;;) {
      skip(/[\s,]/);
      const start = i;
      const name = token();
      skip(/\s/);
      if (name === "" || s[i] !== "=") {
        // not name=value: the next challenge's scheme, read again by the outer loop
        i = start;
        break;
      }
      i++;
      skip(/\s/);
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        // RFC 9110 wants a token here; an unquoted URL, which some servers send, reads to the comma.
        const start = i;
        while (i < s.length && !/[\s,]/.test(s[i]!)) i++;
        value = s.slice(start, i);
      }
      params[name.toLowerCase()] = value;
    }
  }
  const challenges: Challenge[] = [];
  for (const c of out) {
    if (c.scheme !== "bearer" && c.scheme !== "basic") continue;
    const ch: Challenge = { scheme: c.scheme };
    if (c.params.realm !== undefined) ch.realm = c.params.realm;
    if (c.params.service !== undefined) ch.service = c.params.service;
    if (c.params.scope !== undefined) ch.scope = c.params.scope;
    challenges.push(ch);
  }
  return challenges.sort((a, b) => Number(a.scheme !== "bearer") - Number(b.scheme !== "bearer"));
}

/** The challenge podd answers: Bearer when offered, else Basic; undefined when neither. */
export function pickChallenge(header: string | undefined): Challenge | undefined {
  return parseChallenges(header)[0];
}

/** A token service's answer: {"token": …} or {"access_token": …}, with an optional expires_in. */
export function parseTokenResponse(body: Buffer, now: number, what: string): Token {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new PoddError(`${what}: the answer is not JSON: ${(err as Error).message}`, { code: "Internal" });
  }
  const d = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
  const token = typeof d.token === "string" && d.token !== "" ? d.token : d.access_token;
  if (typeof token !== "string" || token === "") throw new PoddError(`${what}: the answer has neither token nor access_token`, { code: "Internal" });
  const seconds = typeof d.expires_in === "number" && Number.isFinite(d.expires_in) ? Math.max(d.expires_in, MIN_TOKEN_SECONDS) : MIN_TOKEN_SECONDS;
  return { token, expiresAt: now + seconds * 1000 };
}

interface Entry {
  pending: Promise<Token>;
  token?: Token;
}

/**
 * Tokens by key (registry, realm, service, scope). Requests that need the same token at once
 * share one fetch; a token the registry refused is dropped only if it is still the one kept,
 * so parallel downloads that all hear 401 fetch one new token, not one each.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Pick<Clock, "now">) {}

  get(key: string, fetch: () => Promise<Token>): Promise<Token> {
    const e = this.entries.get(key);
    if (e && (!e.token || this.clock.now() < e.token.expiresAt)) return e.pending;
    this.dropExpired();
    const entry: Entry = { pending: fetch() };
    this.entries.set(key, entry);
    entry.pending.then(
      (t) => {
        entry.token = t;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.pending;
  }

  /** Forgets token under key, if it is still the one kept there. */
  invalidate(key: string, token: Token): void {
    if (this.entries.get(key)?.token === token) this.entries.delete(key);
  }

  private dropExpired(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (e.token && now >= e.token.expiresAt) this.entries.delete(k);
  }
}
