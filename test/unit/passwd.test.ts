// The container's HOME: homeOf on passwd texts, readPasswd on files an image may hold, and
// containerEnv's choice (the environment's own HOME first, then passwd, then "/").
import { fakeImage } from "./fake-image.ts";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Container } from "../../pod-specs/types.ts";
import { containerEnv, type LaunchContext } from "../../supervisor/runtime/launch.ts";
import { homeOf, readPasswd } from "../../supervisor/runtime/passwd.ts";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "# not an entry",
  "short:x:7:7:no home field",
  "empty:x:8:8:empty home::/bin/sh",
  "weird:x:+9:9::/plus:/bin/sh",
  "app:x:1000:1000:App,,,:/home/app:/bin/bash",
  "again:x:1000:1000::/second:/bin/sh",
  "nohome:x:65534:65534:nobody:/nonexistent",
  "",
].join("\n");

test("homeOf: the first entry of the uid with six fields or more", () => {
  const cases: [number, string | undefined][] = [
    [0, "/root"],
    [1000, "/home/app"], // the first of two entries, as getpwuid finds it
    [65534, "/nonexistent"], // six fields are enough
    [7, undefined], // too few fields
    [8, undefined], // an empty home
    [9, undefined], // "+9" is no numeric uid
    [4242, undefined],
  ];
  for (const [uid, home] of cases) assert.equal(homeOf(passwd, uid), home, `uid ${uid}`);
  assert.equal(homeOf("", 0), undefined);
  assert.equal(homeOf("root:x:0:0:root:/root:/bin/sh\r\n", 0), "/root");
});

test("readPasswd: a regular file is read; none, a symlink, a FIFO or etc as a symlink give nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-passwd-"));
  try {
    const root = (name: string) => (mkdirSync(join(dir, name, "etc"), { recursive: true }), join(dir, name));
    const plain = root("plain");
    writeFileSync(join(plain, "etc/passwd"), passwd);
    assert.equal(readPasswd(plain), passwd);

    assert.equal(readPasswd(root("none")), undefined);
    assert.equal(readPasswd(join(dir, "no-root-at-all")), undefined);

    const link = root("link");
    symlinkSync(join(plain, "etc/passwd"), join(link, "etc/passwd"));
    assert.equal(readPasswd(link), undefined);

    const etcLink = join(dir, "etc-link");
    mkdirSync(etcLink);
    symlinkSync(join(plain, "etc"), join(etcLink, "etc"));
    assert.equal(readPasswd(etcLink), undefined);

    const fifo = root("fifo");
    execFileSync("mkfifo", [join(fifo, "etc/passwd")]);
    assert.equal(readPasswd(fifo), undefined); // and does not block on it
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const node = { name: "n", hostIP: "10.0.0.1", allocatable: { milliCpu: 2000n, memoryBytes: 1n << 30n } };
function env(container: Partial<Container>, o: { passwd?: string; imageEnv?: string[]; runAsUser?: number } = {}): Map<string, string> {
  const ctx: Pick<LaunchContext, "pod" | "container" | "image" | "node" | "passwd" | "podIPs"> = {
    pod: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default", uid: "u" },
      spec: { containers: [], ...(o.runAsUser !== undefined ? { securityContext: { runAsUser: o.runAsUser } } : {}) },
    },
    container: { name: "c", image: "i", ...container },
    image: fakeImage({ env: o.imageEnv ?? ["PATH=/bin"], workingDir: "/" }),
    node,
    podIPs: [],
    ...(o.passwd !== undefined ? { passwd: o.passwd } : {}),
  };
  return new Map(containerEnv(ctx).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

test("containerEnv: HOME from passwd for the container's uid, else /; an image's or manifest's HOME wins", () => {
  assert.equal(env({}, { passwd }).get("HOME"), "/root");
  assert.equal(env({ securityContext: { runAsUser: 1000 } }, { passwd }).get("HOME"), "/home/app");
  assert.equal(env({}, { passwd, runAsUser: 1000 }).get("HOME"), "/home/app"); // the pod's securityContext
  assert.equal(env({ securityContext: { runAsUser: 4242 } }, { passwd }).get("HOME"), "/");
  assert.equal(env({}).get("HOME"), "/"); // no /etc/passwd at all
  assert.equal(env({}, { passwd, imageEnv: ["HOME=/from-image"] }).get("HOME"), "/from-image");
  assert.equal(env({ env: [{ name: "HOME", value: "/from-manifest" }] }, { passwd }).get("HOME"), "/from-manifest");
});
