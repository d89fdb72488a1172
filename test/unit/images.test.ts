// Images without a store: references as Docker reads them, chain IDs, the image config and what a
// container takes from it (the CRI's rules), the platform choice of an index, /etc/passwd
// through layers.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { execFileSync } from "node:child_process";
import { familiarName, formatReference, parseReference, withDefaultTag } from "../../supervisor/runtime/images/reference.ts";
import { containerArgv, parseImageConfig, resolveImageUser, stopSignalName } from "../../supervisor/runtime/images/config.ts";
import { chainIds, imageKey, sha256 } from "../../supervisor/runtime/images/store.ts";
import { choosePlatform } from "../../supervisor/runtime/images/platform.ts";
import { readLayeredEtcFile } from "../../supervisor/runtime/passwd.ts";
import { parseRegistrySettings } from "../../supervisor/runtime/images/registries.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-images-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("references normalize as Docker's: Docker Hub's library, registries by dot, port or localhost", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["user/app", "docker.io/user/app:latest"],
    ["index.docker.io/library/nginx:1", "docker.io/library/nginx:1"],
    ["localhost/app", "localhost/app:latest"],
    ["127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app:v2"],
    ["ghcr.io/home-assistant/home-assistant:stable", "ghcr.io/home-assistant/home-assistant:stable"],
    [`app@sha256:${"a".repeat(64)}`, `docker.io/library/app@sha256:${"a".repeat(64)}`],
  ];
  for (const [text, want] of cases) assert.equal(formatReference(withDefaultTag(parseReference(text))), want, text);
  assert.equal(imageKey(`app:1@sha256:${"b".repeat(64)}`), `docker.io/library/app@sha256:${"b".repeat(64)}`);
  assert.equal(familiarName(parseReference("docker.io/library/busybox:1")), "busybox:1");
  assert.equal(familiarName(parseReference("quay.io/x/y:1")), "quay.io/x/y:1");
});

test("invalid references are refused with the part that is wrong", () => {
  for (const [text, why] of [
    ["", /empty/],
    ["Busybox", /must be lower-case/],
    ["app:-x", /tag "-x"/],
    ["app@sha256:abc", /digest/],
    ["a//b", /component ""/],
    [`x/${"a".repeat(260)}`, /longer than 255/],
  ] as const) {
    assert.throws(() => parseReference(text), (e: Error) => why.test(e.message), text);
  }
});

test("chain IDs follow the image spec", () => {
  const a = `sha256:${"1".repeat(64)}`;
  const b = `sha256:${"2".repeat(64)}`;
  assert.deepEqual(chainIds([a, b]), [a, sha256(`${a} ${b}`)]);
});

test("the command line as the CRI builds it from manifest and image", () => {
  const image = { entrypoint: ["/ep"], cmd: ["c1", "c2"] };
  assert.deepEqual(containerArgv(undefined, undefined, image), ["/ep", "c1", "c2"]);
  assert.deepEqual(containerArgv(["/own"], undefined, image), ["/own"]); // command drops Cmd
  assert.deepEqual(containerArgv(["/own"], ["a"], image), ["/own", "a"]);
  assert.deepEqual(containerArgv(undefined, ["a"], image), ["/ep", "a"]); // args follow Entrypoint
  assert.deepEqual(containerArgv(undefined, undefined, undefined), []);
});

test("the image user: numbers, names from the image's own files, missing names refused", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
  const group = "root:x:0:\nstaff:x:50:app\n";
  assert.equal(resolveImageUser("", passwd, group), undefined);
  assert.deepEqual(resolveImageUser("1000", passwd, group), { uid: 1000, gid: 1001, byName: false });
  assert.deepEqual(resolveImageUser("4242", passwd, group), { uid: 4242, byName: false });
  assert.deepEqual(resolveImageUser("app", passwd, group), { uid: 1000, gid: 1001, byName: true });
  assert.deepEqual(resolveImageUser("app:staff", passwd, group), { uid: 1000, gid: 50, byName: true });
  assert.deepEqual(resolveImageUser("7:8", passwd, group), { uid: 7, gid: 8, byName: false });
  assert.throws(() => resolveImageUser("nobody", passwd, group), /unable to find user nobody/);
  assert.throws(() => resolveImageUser("app:wheel", passwd, group), /unable to find group wheel/);
});

test("image configs: fields read, bad ones refused, the stop signal named as Node names it", () => {
  const cfg = parseImageConfig(JSON.stringify({ os: "linux", architecture: "amd64", config: { Entrypoint: ["/e"], Env: ["A=1"], User: "1", StopSignal: "SIGQUIT" }, rootfs: { type: "layers", diff_ids: [] } }));
  assert.deepEqual([cfg.entrypoint, cfg.env, cfg.user, cfg.stopSignal], [["/e"], ["A=1"], "1", "SIGQUIT"]);
  assert.throws(() => parseImageConfig("{}"), /rootfs/);
  assert.throws(() => parseImageConfig(JSON.stringify({ config: { Cmd: "sh" }, rootfs: { type: "layers", diff_ids: [] } })), /config.Cmd: must be a list/);
  assert.equal(stopSignalName("QUIT"), "SIGQUIT");
  assert.equal(stopSignalName("9"), "SIGKILL");
  assert.equal(stopSignalName("SIGNOPE"), undefined);
});

test("an index: this platform's manifest, the best variant, or an error listing what there is", () => {
  const m = (architecture: string, variant?: string) => ({ mediaType: "x", digest: `sha256:${architecture}${variant ?? ""}`, size: 1, platform: { os: "linux", architecture, ...(variant ? { variant } : {}) } });
  const list = [m("arm", "v6"), m("arm", "v7"), m("arm64", "v8"), m("amd64")];
  assert.equal(choosePlatform(list, { os: "linux", architecture: "amd64" }, "x").digest, "sha256:amd64");
  assert.equal(choosePlatform(list, { os: "linux", architecture: "arm", variant: "v7" }, "x").digest, "sha256:armv7");
  assert.equal(choosePlatform([m("arm", "v6")], { os: "linux", architecture: "arm", variant: "v7" }, "x").digest, "sha256:armv6");
  assert.equal(choosePlatform([m("arm64")], { os: "linux", architecture: "arm64", variant: "v8" }, "x").digest, "sha256:arm64");
  assert.throws(() => choosePlatform([m("arm", "v7")], { os: "linux", architecture: "amd64" }, "img"), /img: no image for linux\/amd64 in the manifest list \(it has linux\/arm\/v7\)/);
});

test("/etc/passwd through layers: the top one that has it, unless deleted above or hidden by an opaque /etc", () => {
  const layer = (name: string, passwd?: string | "whiteout") => {
    const d = join(dir, name);
    mkdirSync(join(d, "etc"), { recursive: true });
    if (passwd === "whiteout") execFileSync("mknod", [join(d, "etc/passwd"), "c", "0", "0"]);
    else if (passwd !== undefined) writeFileSync(join(d, "etc/passwd"), passwd);
    return d;
  };
  const base = layer("base", "base\n");
  const empty = layer("empty");
  const top = layer("top", "top\n");
  const none = () => false;
  assert.equal(readLayeredEtcFile([base, empty], "passwd", none), "base\n");
  assert.equal(readLayeredEtcFile([base, empty, top], "passwd", none), "top\n");
  assert.equal(readLayeredEtcFile([base, empty], "passwd", (d) => d === join(empty, "etc")), undefined);
  if (process.getuid?.() === 0) assert.equal(readLayeredEtcFile([base, layer("gone", "whiteout")], "passwd", none), undefined);
});

test("the README's registries.yaml is one podd reads", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const block = /```yaml\n(registries:\n[\s\S]*?)```/.exec(readme);
  assert.ok(block, "the README shows a registries.yaml");
  const s = parseRegistrySettings(block[1]!, "README.md");
  assert.deepEqual([...s.hosts.keys()], ["docker.io", "registry.lan:5000"]);
  assert.equal(s.hosts.get("registry.lan:5000")!.insecure, true);
});
