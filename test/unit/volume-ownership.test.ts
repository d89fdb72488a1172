// fsGroup on a volume, as the kubelet's SetVolumeOwnership makes it: everything the group's,
// group read and write, directories setgid and searchable; symlinks not followed; with
// OnRootMismatch nothing when the root already matches.
import assert from "node:assert/strict";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ownershipMatches, setVolumeOwnership } from "../../supervisor/runtime/volumes.ts";

// Root may give any group; anyone else only one of their own.
const fsGroup = process.getuid?.() === 0 ? 54321 : process.getgid!();

function withVolume(fn: (dir: string, outside: string) => void): void {
  const base = mkdtempSync(join(tmpdir(), "podd-fsgroup-"));
  try {
    const dir = join(base, "vol");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub/file"), "x");
    const outside = join(base, "outside");
    writeFileSync(outside, "not the volume's");
    symlinkSync(outside, join(dir, "link"));
    for (const [p, mode] of [[dir, 0o755], [join(dir, "sub"), 0o700], [join(dir, "sub/file"), 0o600], [outside, 0o600]] as const) chmodSync(p, mode);
    fn(dir, outside);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const mode = (p: string) => statSync(p).mode & 0o7777;

describe("setVolumeOwnership", () => {
  it("gives everything to the group: rw for files, rwx and setgid for directories", () => {
    withVolume((dir, outside) => {
      // Control: nothing of it is the group's yet.
      assert.equal(mode(join(dir, "sub/file")) & 0o060, 0);
      setVolumeOwnership(dir, fsGroup);
      assert.equal(mode(dir), 0o2775);
      assert.equal(mode(join(dir, "sub")), 0o2770);
      assert.equal(mode(join(dir, "sub/file")), 0o660);
      for (const p of [dir, join(dir, "sub"), join(dir, "sub/file")]) assert.equal(statSync(p).gid, fsGroup, p);
      // The symlink itself is the group's; what it points at, outside the volume, is untouched.
      assert.equal(lstatSync(join(dir, "link")).gid, fsGroup);
      assert.equal(mode(outside), 0o600);
    });
  });

  it("OnRootMismatch leaves a volume whose root matches as it is, and walks one whose root does not", () => {
    withVolume((dir) => {
      chmodSync(dir, 0o2770);
      const rootMatches = statSync(dir).gid === fsGroup;
      setVolumeOwnership(dir, fsGroup, "OnRootMismatch");
      // A root of another group does not match: everything is changed.
      assert.equal(mode(join(dir, "sub/file")), rootMatches ? 0o600 : 0o660);
      setVolumeOwnership(dir, fsGroup, "Always");
      chmodSync(join(dir, "sub/file"), 0o600);
      setVolumeOwnership(dir, fsGroup, "OnRootMismatch");
      assert.equal(mode(join(dir, "sub/file")), 0o600, "the root matched: nothing was walked");
      setVolumeOwnership(dir, fsGroup);
      assert.equal(mode(join(dir, "sub/file")), 0o660, "Always walks");
    });
  });
});

describe("ownershipMatches", () => {
  const st = (gid: number, m: number, dir = true) => ({ gid, mode: m, isDirectory: () => dir });
  it("needs the group, the setgid bit and group rwx on a directory", () => {
    assert.equal(ownershipMatches(st(2000, 0o2770), 2000), true);
    assert.equal(ownershipMatches(st(2000, 0o2775), 2000), true);
    assert.equal(ownershipMatches(st(2000, 0o3777), 2000), true);
    assert.equal(ownershipMatches(st(2001, 0o2770), 2000), false);
    assert.equal(ownershipMatches(st(2000, 0o0770), 2000), false);
    assert.equal(ownershipMatches(st(2000, 0o2750), 2000), false);
    assert.equal(ownershipMatches(st(2000, 0o2760), 2000), false);
    assert.equal(ownershipMatches(st(2000, 0o2770, false), 2000), false);
  });
});
