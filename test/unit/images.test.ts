// The local image store: an import of a name that exists is refused unless --replace says so,
// and then the new root filesystem replaces the old one whole.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ImageStore } from "../../supervisor/runtime/images.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-images-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function rootfs(name: string, content: string): string {
  const d = join(dir, name);
  mkdirSync(join(d, "etc"), { recursive: true });
  writeFileSync(join(d, "etc", "which"), content);
  return d;
}

test("importing a name that exists is refused and changes nothing; --replace replaces it", () => {
  const store = new ImageStore(join(dir, "store"));
  const first = store.import("tool", rootfs("one", "one"));
  assert.equal(first.ref, "tool:latest");
  assert.throws(() => store.import("tool:latest", rootfs("two", "two")), (err: Error & { code?: string }) => {
    assert.equal(err.code, "AlreadyExists");
    assert.match(err.message, /^image "tool:latest" already exists \(imported .+\); give --replace to replace it, or import under another name$/);
    return true;
  });
  assert.equal(readFileSync(join(store.get("tool")!.rootfs, "etc/which"), "utf8"), "one");
  store.import("tool", rootfs("three", "three"), { replace: true });
  assert.equal(readFileSync(join(store.get("tool")!.rootfs, "etc/which"), "utf8"), "three");
  assert.deepEqual(store.list().map((i) => i.ref), ["tool:latest"]);
});
