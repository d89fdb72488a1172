// The image tests' own harness, checked against the tools it wraps: each registry variant takes
// a push and serves the image back to skopeo with the right credentials and CA, and refuses a
// wrong password; the token variant's issuer hands out tokens the registry accepts, and none to
// an anonymous client unless told to. The image helpers make what they say (whiteouts, an
// opaque directory, an index of three platforms, zstd layers, Docker schema 2, archives).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, registrySkip, type RegistryAuth, type TestRegistry } from "../lib/registry.ts";
import {
  buildImage, compressFile, inspectImage, largeImage, mediaTypes, multiPlatformImage, pushImage, readBlob, readManifest, saveArchive, skopeo,
  whiteoutImage, zstdImage, type OciImage,
} from "../lib/images.ts";
import { tool } from "../lib/tool.ts";

const skip = registrySkip();

function processGone(pid: number): boolean {
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  // A zombie is gone as far as the registry's port and files go; it is reaped by its parent.
  return stat === "" || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

async function withRegistry(opts: Parameters<typeof startRegistry>[0], fn: (r: TestRegistry) => Promise<void>): Promise<void> {
  const r = await startRegistry(opts);
  try {
    await fn(r);
  } finally {
    await r.stop();
    assert.equal(existsSync(r.dir), false, "stop() removes the registry's directory");
    assert.ok(processGone(r.pid), "stop() ends the registry process");
  }
}

describe("registry and image harness", { skip }, () => {
  let dir = "";
  let image: OciImage;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "podd-registry-harness-"));
    image = await buildImage(join(dir, "layout"), "small", {
      layers: [{ files: { "/hello": "hello\n", "/bin/tool": { content: "#!/bin/sh\necho hi\n", mode: 0o755 } }, symlinks: { "/bin/link": "tool" } }],
      config: { entrypoint: ["/bin/tool"], cmd: ["a"], env: ["PATH=/bin"], workingDir: "/tmp", user: "65534", stopSignal: "SIGINT", labels: { purpose: "harness" } },
    });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const auth of ["none", "basic", "token"] as RegistryAuth[]) {
    test(`${auth}: a pushed image is served back; a wrong password and an unknown tag are refused`, () =>
      withRegistry({ auth }, async (r) => {
        assert.equal(r.tls, auth !== "none");
        const pushed = await pushImage(image, r, "harness/small:1");
        assert.equal(pushed.reference, `${r.host}/harness/small:1`);
        const info = await inspectImage(r, "harness/small:1");
        assert.equal(info.Digest, pushed.digest);
        assert.equal((info.Labels as Record<string, string>).purpose, "harness");
        assert.equal(await r.countRequests("PUT", "/v2/harness/small/manifests/"), 1);

        await assert.rejects(inspectImage(r, "harness/small:nope"), /manifest unknown/);
        if (auth !== "none") {
          await assert.rejects(inspectImage(r, "harness/small:1", { creds: { user: r.user, password: `${r.password}-wrong` } }), /invalid username|unauthorized|401/i);
          await assert.rejects(inspectImage(r, "harness/small:1", { creds: "none" }), /unauthorized|authentication required|401/i);
        }
        if (auth === "token") {
          assert.ok(r.tokensIssued >= 2, `tokens for the push and the inspect, got ${r.tokensIssued}`);
          assert.ok(r.tokenRequests.some((t) => t.issued && t.account === r.user && t.scopes.includes("repository:harness/small:pull,push")), JSON.stringify(r.tokenRequests));
          const refused = r.tokenRequests.filter((t) => !t.issued);
          assert.ok(refused.some((t) => t.account === r.user), "the wrong password was refused by the issuer");
          assert.ok(refused.some((t) => t.account === undefined), "the anonymous client was refused a token");
        } else {
          assert.deepEqual(r.tokenRequests, []);
        }
      }));
  }

  test("token: anonymous clients may pull, not push, when the issuer is told to let them", () =>
    withRegistry({ auth: "token", anonymousPull: true, tokenTtlSeconds: 120 }, async (r) => {
      const pushed = await pushImage(image, r, "harness/anon:1");
      assert.equal((await inspectImage(r, "harness/anon:1", { creds: "none" })).Digest, pushed.digest);
      await assert.rejects(pushImage(image, r, "harness/anon:2", { creds: "none" }), /denied|unauthorized|401/i);
      const anonymous = r.tokenRequests.filter((t) => t.account === undefined);
      assert.ok(anonymous.length > 0 && anonymous.every((t) => t.issued));
    }));

  test("image shapes: whiteouts and an opaque dir, a three-platform index, zstd layers, Docker schema 2, archives", () =>
    withRegistry({ auth: "none" }, async (r) => {
      const layout = join(dir, "shapes");
      const wo = await whiteoutImage(layout, "whiteout");
      const layers = readManifest(wo).manifest.layers;
      assert.equal(layers.length, 3);
      const listing = async (i: number) => (await tool("tar", ["-tzf", join(layout, "blobs/sha256", layers[i]!.digest.slice(7))])).split("\n");
      assert.ok((await listing(1)).includes("etc/.wh.removed"));
      assert.ok((await listing(1)).includes("etc/.wh.gone-dir"));
      assert.ok((await listing(2)).includes("data/.wh..wh..opq"));

      const multi = await multiPlatformImage(layout, "multi", { layers: [{ files: { "/hello": "hello\n" } }] });
      const pushedIndex = await pushImage(multi.index, r, "harness/multi:1", { all: true });
      const index = await inspectImage(r, "harness/multi:1", { raw: true });
      assert.equal(index.mediaType, mediaTypes.index);
      const platforms = (index.manifests as { platform: { architecture: string; variant?: string } }[]).map((m) => [m.platform.architecture, m.platform.variant].filter(Boolean).join("/"));
      for (const p of ["amd64", "arm64", "arm/v7"]) assert.ok(platforms.includes(p), `${p} in ${platforms.join(", ")}`);
      assert.equal((await inspectImage(r, `harness/multi@${pushedIndex.digest}`, { arch: "arm64" })).Architecture, "arm64");
      const armConfig = JSON.parse(readBlob(layout, readManifest(multi.members["linux/arm/v7"]!).manifest.config.digest).toString("utf8")) as { variant?: string };
      assert.equal(armConfig.variant, "v7");

      await pushImage(wo, r, "harness/whiteout:v2s2", { format: "v2s2" });
      assert.equal((await inspectImage(r, "harness/whiteout:v2s2", { raw: true })).mediaType, "application/vnd.docker.distribution.manifest.v2+json");
      await pushImage(multi.index, r, "harness/multi:v2s2", { all: true, format: "v2s2" });
      assert.equal((await inspectImage(r, "harness/multi:v2s2", { raw: true })).mediaType, "application/vnd.docker.distribution.manifest.list.v2+json");

      const zstd = await zstdImage(wo, "whiteout-zstd");
      await pushImage(zstd, r, "harness/whiteout:zstd");
      const zManifest = await inspectImage(r, "harness/whiteout:zstd", { raw: true });
      assert.deepEqual((zManifest.layers as { mediaType: string }[]).map((l) => l.mediaType), [mediaTypes.layerZstd, mediaTypes.layerZstd, mediaTypes.layerZstd]);
      const zLayer = readBlob(layout, readManifest(zstd).manifest.layers[0]!.digest);
      assert.equal(zLayer.readUInt32LE(0), 0xfd2fb528, "the layer blob is a zstd frame");

      const big = await largeImage(layout, "large", { sizeBytes: 1 << 20, randomLayers: 2, smallFiles: 40 });
      const bigLayers = readManifest(big).manifest.layers;
      assert.equal(bigLayers.length, 3);
      const bigBytes = bigLayers.reduce((n, l) => n + l.size, 0);
      assert.ok(bigBytes > 0.9 * (1 << 20), `random data does not compress: ${bigBytes} bytes of layers for 1 MiB`);

      const dockerTar = await saveArchive(wo, join(dir, "whiteout.docker.tar"), "docker-archive", { name: "harness/whiteout:1" });
      const ociTar = await saveArchive(multi.index, join(dir, "multi.oci.tar"), "oci-archive", { all: true });
      const dockerInfo = JSON.parse(await skopeo(["inspect", `docker-archive:${dockerTar}`])) as { Layers: string[] };
      assert.equal(dockerInfo.Layers.length, 3);
      const ociIndex = JSON.parse(await skopeo(["inspect", "--raw", `oci-archive:${ociTar}:podd-test/image:multi`])) as { manifests: unknown[] };
      assert.ok(ociIndex.manifests.length >= 3);
      const gz = await compressFile(dockerTar, "gzip");
      const zst = await compressFile(ociTar, "zstd");
      assert.deepEqual([...readFileSync(gz).subarray(0, 2)], [0x1f, 0x8b]);
      assert.equal(readFileSync(zst).readUInt32LE(0), 0xfd2fb528);
    }));
});
