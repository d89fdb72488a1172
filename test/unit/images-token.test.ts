// Registry auth, pure parts: WWW-Authenticate challenges, token answers, and the token cache's
// sharing of one fetch among parallel requests.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseChallenges, parseTokenResponse, pickChallenge, TokenCache, type Token } from "../../supervisor/runtime/images/token.ts";

test("challenges: quoted values with commas and escapes, several in one header, Bearer preferred", () => {
  assert.deepEqual(pickChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'), {
    scheme: "bearer",
    realm: "https://auth.docker.io/token",
    service: "registry.docker.io",
    scope: "repository:samalba/my-app:pull,push",
  });
  assert.deepEqual(parseChallenges('Basic realm="a \\"b\\"", Negotiate abc==, bearer realm=https://t.lan/token , service=reg'), [
    { scheme: "bearer", realm: "https://t.lan/token", service: "reg" },
    { scheme: "basic", realm: 'a "b"' },
  ]);
  assert.equal(pickChallenge(undefined), undefined);
  assert.equal(pickChallenge("Negotiate"), undefined);
  assert.deepEqual(pickChallenge("Basic"), { scheme: "basic" });
});

test("token answers: token or access_token; expires_in, never under the spec's 60 s", () => {
  assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"t","expires_in":300}'), 1000, "w"), { token: "t", expiresAt: 301_000 });
  assert.deepEqual(parseTokenResponse(Buffer.from('{"access_token":"a"}'), 0, "w"), { token: "a", expiresAt: 60_000 });
  assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"t","expires_in":5}'), 0, "w"), { token: "t", expiresAt: 60_000 });
  assert.throws(() => parseTokenResponse(Buffer.from("{}"), 0, "pull x: token service t:443"), /^PoddError: pull x: token service t:443: the answer has neither token nor access_token$/);
  assert.throws(() => parseTokenResponse(Buffer.from("<html>"), 0, "w"), /^PoddError: w: the answer is not JSON/);
});

test("the cache shares one fetch, drops a refused token only if it is still the one kept, and refetches after expiry", async () => {
  let now = 0;
  let fetches = 0;
  const cache = new TokenCache({ now: () => now });
  const fetch = async (): Promise<Token> => ({ token: `t${++fetches}`, expiresAt: now + 60_000 });
  const [a, b] = await Promise.all([cache.get("k", fetch), cache.get("k", fetch)]);
  assert.equal(fetches, 1);
  assert.equal(a, b);
  // Two requests heard 401 with t1: the first drops it and fetches t2; the second's drop of t1 keeps t2.
  cache.invalidate("k", a);
  const c = await cache.get("k", fetch);
  cache.invalidate("k", a);
  assert.equal(await cache.get("k", fetch), c);
  assert.equal(fetches, 2);
  now = 60_000;
  assert.equal((await cache.get("k", fetch)).token, "t3");
  // A failed fetch is not kept.
  await assert.rejects(cache.get("bad", () => Promise.reject(new Error("down"))), /down/);
  assert.equal((await cache.get("bad", fetch)).token, "t4");
});
