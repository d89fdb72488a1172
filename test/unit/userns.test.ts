// hostUsers: false ranges are unique on the host: two podd daemons with roots of their own
// claim their blocks in one registry, a block whose pod is gone is taken again, and no block
// overlaps what /etc/subuid or /etc/subgid gives to a user.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Layout } from "../../supervisor/base/paths.ts";
import { FakeSys } from "../../supervisor/sys/fake.ts";
import { releaseUsernsBase, subordinateRanges, USERNS_FIRST, USERNS_SIZE, usernsBase, UsernsRegistry } from "../../supervisor/runtime/userns.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-userns-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function daemon(name: string): Layout {
  const root = join(dir, name);
  return new Layout({ state: join(root, "state"), run: join(root, "run"), log: join(root, "log") });
}
const pod = (name: string) => ({ namespace: "default", name, uid: `uid-${name}` });
const block = (k: number) => USERNS_FIRST + k * USERNS_SIZE;

test("two daemons on one host never hand out the same block; a released one is taken again", () => {
  const sys = new FakeSys();
  const registry = new UsernsRegistry(join(dir, "registry-1"), sys);
  const etc = join(dir, "no-etc");
  const a = daemon("a1");
  const b = daemon("b1");
  assert.equal(usernsBase(a, pod("p"), registry, etc), block(0));
  assert.equal(usernsBase(b, pod("q"), registry, etc), block(1), "b's first pod does not get a's block");
  assert.equal(usernsBase(a, pod("p"), registry, etc), block(0), "a pod keeps its block");
  assert.equal(usernsBase(a, pod("r"), registry, etc), block(2));
  releaseUsernsBase(a, pod("p"), registry);
  rmSync(a.podStateDir(pod("p")), { recursive: true });
  assert.equal(usernsBase(b, pod("s"), registry, etc), block(0), "p's block is free again");
  assert.ok(sys.calls.some((c) => c.call === "flock"), "claims are made under the registry's lock");
});

test("a claim whose pod's record is gone (its state root deleted) is stale and taken", () => {
  const registry = new UsernsRegistry(join(dir, "registry-2"), new FakeSys());
  const etc = join(dir, "no-etc");
  const gone = daemon("gone");
  assert.equal(usernsBase(gone, pod("p"), registry, etc), block(0));
  rmSync(join(dir, "gone"), { recursive: true });
  assert.equal(usernsBase(daemon("next"), pod("q"), registry, etc), block(0));
});

test("no block overlaps a range /etc/subuid or /etc/subgid gives a user", () => {
  const etc = join(dir, "etc");
  mkdirSync(etc);
  writeFileSync(join(etc, "subuid"), `alice:100000:65536\nbuilder:${block(0) + 10}:100\n`);
  writeFileSync(join(etc, "subgid"), `# comment\nbob:${block(1)}:${USERNS_SIZE}\n`);
  const registry = new UsernsRegistry(join(dir, "registry-3"), new FakeSys());
  assert.equal(usernsBase(daemon("c"), pod("p"), registry, etc), block(2));
  assert.deepEqual(subordinateRanges("a:10:5\nbad\nb:x:1\nc:20:0\n"), [[10, 15]]);
});

test("a pod whose recorded block another pod has claimed meanwhile is refused, not given shared ids", () => {
  const registry = new UsernsRegistry(join(dir, "registry-4"), new FakeSys());
  const etc = join(dir, "no-etc");
  const old = daemon("old");
  // Recorded by a podd that claimed nothing (before the registry, or with another one).
  mkdirSync(old.podStateDir(pod("p")), { recursive: true });
  writeFileSync(join(old.podStateDir(pod("p")), "userns"), `${block(0)}\n`);
  assert.equal(usernsBase(daemon("new"), pod("q"), registry, etc), block(0), "the block looked free to the registry");
  assert.throws(() => usernsBase(old, pod("p"), registry, etc), /claimed by another pod/);
});

test("a registry directory others can write in is refused", () => {
  const open = join(dir, "registry-open");
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o777);
  assert.throws(() => usernsBase(daemon("d"), pod("p"), new UsernsRegistry(open, new FakeSys()), join(dir, "no-etc")), /no one else can write in/);
});
