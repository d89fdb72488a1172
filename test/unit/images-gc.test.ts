// Image garbage collection as the kubelet's: nothing below the high threshold; above it, unused
// images go, oldest first, until the disk is below the low one; an image a pod names never goes.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Images } from "../../supervisor/runtime/images/service.ts";
import { systemClock } from "../../supervisor/base/time.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-images-gc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function storeWith(names: string[]): Images {
  const images = new Images({ dir: join(dir, String(Math.random()).slice(2)), initPath: "/nonexistent", clock: systemClock });
  names.forEach((name, i) => {
    const config = Buffer.from(JSON.stringify({ rootfs: { type: "layers", diff_ids: [] }, n: name }));
    const id = images.store.writeBlob(config);
    const chainId = `sha256:${String(i).repeat(64).slice(0, 64)}`;
    mkdirSync(images.store.layerDir(chainId), { recursive: true });
    images.store.put({ name, id, layers: [{ chainId, diffId: chainId, size: 1 }], source: "test", storedAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() });
  });
  return images;
}

test("below the high threshold nothing goes; above it the oldest unused go until below the low one", () => {
  const names = ["docker.io/library/a:1", "docker.io/library/b:1", "docker.io/library/c:1", "docker.io/library/d:1"];
  const images = storeWith(names);
  // each image takes 25% of the disk
  const used = () => images.list().length * 25;
  assert.deepEqual(images.collectGarbage(new Set(), used, 101, 0), [], "under the high threshold");
  const inUse = new Set(["docker.io/library/a:1"]);
  const gone = images.collectGarbage(inUse, used, 85, 60).map((r) => r.name);
  assert.deepEqual(gone, ["docker.io/library/b:1", "docker.io/library/c:1"], "b and c, the oldest unused, until 50% < 60%");
  assert.deepEqual(images.list().map((r) => r.name), ["docker.io/library/a:1", "docker.io/library/d:1"]);
  assert.equal(images.store.hasLayer(`sha256:${"1".repeat(64)}`), false, "a removed image's layer goes with it");
  assert.deepEqual(images.collectGarbage(new Set(names), () => 100, 85, 0), [], "nothing in use goes, however full the disk");
});
