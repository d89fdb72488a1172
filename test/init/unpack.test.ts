// Role 5, `podd-init unpack DIR`: image layers written beneath DIR with every owner, mode,
// time, device and allowed xattr the archive gives, whiteouts in overlayfs form, and hostile
// archives refused without anything written outside DIR. Each archive is built here, byte
// for byte, by tar-writer.ts.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import koffi from "koffi";
import { INIT, build, needsRoot, startHolder, withCleanup, type Cleanup } from "./helpers.ts";
import { BLOCK, END, entry, header, pad, paxRecords, tar, type TarEntry } from "./tar-writer.ts";

const libc = koffi.load("libc.so.6");
const lgetxattr = libc.func("intptr_t lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)");
const ENODATA = 61;

/** An xattr of path itself (not what a symlink points to), or undefined when it has none. */
function xattr(p: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(65536);
  const n = Number(lgetxattr(p, name, buf, buf.length));
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === ENODATA) return undefined;
    throw new Error(`lgetxattr ${p} ${name}: errno ${errno}`);
  }
  return buf.subarray(0, n);
}

interface Unpacked {
  status: number | null;
  stdout: string;
  stderr: string;
  /** EPIPE when podd-init closed stdin before all of it was written. */
  inputError: string | undefined;
}

function unpack(dir: string, input: Buffer): Unpacked {
  const r = spawnSync(INIT, ["unpack", dir], { input, encoding: "utf8", maxBuffer: 1 << 20, timeout: 30_000 });
  const inputError = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (r.error && inputError !== "EPIPE") throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, inputError };
}

function unpackOk(dir: string, input: Buffer): { entries: number; bytes: number } {
  const r = unpack(dir, input);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(r.inputError, undefined, "podd-init read all of its input");
  const lines = r.stdout.split("\n");
  assert.deepEqual(lines.slice(1), [""], "one line on stdout");
  return JSON.parse(lines[0]!) as { entries: number; bytes: number };
}

/** A layer directory with an empty sentinel directory beside it, which no archive may reach. */
function layout(c: Cleanup): { root: string; layer: string; outside: string } {
  const root = c.tmpdir();
  const layer = path.join(root, "layer");
  const outside = path.join(root, "outside");
  fs.mkdirSync(layer);
  fs.mkdirSync(outside);
  return { root, layer, outside };
}

function mtimeNs(p: string): bigint {
  return fs.lstatSync(p, { bigint: true }).mtimeNs;
}

function ns(seconds: number, nanos = 0): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

function devOf(rdev: number): [number, number] {
  // glibc's encoding of dev_t, which Node reports as it is
  return [((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff), (rdev & 0xff) | ((rdev >> 12) & ~0xff)];
}

/** security.capability, revision 2, effective: the bytes of `setcap cap_net_raw+ep`. */
function capNetRaw(): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0);
  b.writeUInt32LE(1 << 13, 4); // CAP_NET_RAW is 13
  return b;
}

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

describe("podd-init unpack", { skip: needsRoot }, () => {
  before(build);

  test("every entry type keeps its owner, mode (setuid, sticky), mtime, device number and allowed xattrs", () =>
    withCleanup(async (c) => {
      const { layer } = layout(c);
      const binary = Buffer.from([0, 1, 2, 10, 0xff, 0x3d]);
      const archive = tar([
        { name: "./", type: "5", mode: 0o750, uid: 10, gid: 20, mtime: 1_000_000_000 },
        { name: "./bin/", type: "5", mode: 0o1777, uid: 3, gid: 4, mtime: 1_100_000_000, pax: { "SCHILY.xattr.user.dir": "d" } },
        {
          name: "./bin/ping",
          mode: 0o4755,
          uid: 1000,
          gid: 2000,
          mtime: 1_700_000_000,
          data: "ping's bytes",
          pax: {
            mtime: "1700000000.123456789",
            "SCHILY.xattr.security.capability": capNetRaw(),
            "SCHILY.xattr.user.binary": binary,
            // overlayfs markers and other namespaces are not the image's to set
            "SCHILY.xattr.trusted.overlay.opaque": "y",
            "SCHILY.xattr.trusted.other": "x",
          },
        },
        { name: "./bin/link", type: "1", linkname: "./bin/ping", uid: 7, gid: 7, mode: 0o777 },
        {
          name: "./bin/sym",
          type: "2",
          linkname: "../anything/at all",
          uid: 1234,
          gid: 5678,
          mtime: 1_200_000_000,
          // the kernel has no user.* on symlinks: skipped, not an error
          pax: { "SCHILY.xattr.user.on-a-symlink": "x" },
        },
        { name: "./dev/null", type: "3", devmajor: 1, devminor: 3, mode: 0o666, uid: 0, gid: 0, mtime: 1_300_000_000 },
        { name: "./dev/loop", type: "4", devmajor: 7, devminor: 300000, mode: 0o2660, uid: 0, gid: 6 },
        { name: "./run/fifo", type: "6", mode: 0o620, uid: 33, gid: 44, mtime: 1_400_000_000 },
        { name: "./sgid", type: "7", mode: 0o2711, uid: 1, gid: 2, data: "contiguous" },
        { name: "./old", pax: { mtime: "-1.25" } },
      ]);
      const counts = unpackOk(layer, archive);
      assert.deepEqual(counts, { entries: 10, bytes: "ping's bytes".length + "contiguous".length });

      const root = fs.statSync(layer);
      assert.equal(root.mode & 0o7777, 0o750, "the entry ./ is DIR itself");
      assert.deepEqual([root.uid, root.gid], [10, 20]);
      assert.equal(mtimeNs(layer), ns(1_000_000_000));

      const bin = fs.lstatSync(path.join(layer, "bin"));
      assert.ok(bin.isDirectory());
      assert.equal(bin.mode & 0o7777, 0o1777);
      assert.deepEqual([bin.uid, bin.gid], [3, 4]);
      // its children were created after it; its time is set at the end
      assert.equal(mtimeNs(path.join(layer, "bin")), ns(1_100_000_000));
      assert.deepEqual(xattr(path.join(layer, "bin"), "user.dir"), Buffer.from("d"));

      const ping = path.join(layer, "bin/ping");
      const st = fs.lstatSync(ping);
      assert.ok(st.isFile());
      assert.equal(st.mode & 0o7777, 0o4755, "setuid survives the chown");
      assert.deepEqual([st.uid, st.gid], [1000, 2000]);
      // before anything reads it: with relatime a read moves an atime that is not after the mtime
      assert.equal(fs.lstatSync(ping, { bigint: true }).atimeNs, ns(1_700_000_000, 123456789), "atime is mtime");
      assert.equal(fs.readFileSync(ping, "utf8"), "ping's bytes");
      assert.equal(mtimeNs(ping), ns(1_700_000_000, 123456789), "pax mtime with nanoseconds");
      assert.deepEqual(xattr(ping, "security.capability"), capNetRaw(), "the capability survives the chown");
      assert.deepEqual(xattr(ping, "user.binary"), binary);
      assert.equal(xattr(ping, "trusted.overlay.opaque"), undefined);
      assert.equal(xattr(ping, "trusted.other"), undefined);
      if (which("getcap")) {
        const r = spawnSync("getcap", [ping], { encoding: "utf8" });
        assert.match(r.stdout, /cap_net_raw[=+]ep/);
      }

      const link = fs.lstatSync(path.join(layer, "bin/link"));
      assert.equal(link.ino, st.ino, "a hard link shares the inode");
      assert.equal(link.nlink, 2);
      assert.equal(link.mode & 0o7777, 0o4755, "and keeps the target's metadata");

      const sym = path.join(layer, "bin/sym");
      assert.equal(fs.readlinkSync(sym), "../anything/at all");
      assert.deepEqual([fs.lstatSync(sym).uid, fs.lstatSync(sym).gid], [1234, 5678]);
      assert.equal(mtimeNs(sym), ns(1_200_000_000));

      const nul = fs.lstatSync(path.join(layer, "dev/null"));
      assert.ok(nul.isCharacterDevice());
      assert.deepEqual(devOf(nul.rdev), [1, 3]);
      assert.equal(nul.mode & 0o7777, 0o666);
      assert.equal(mtimeNs(path.join(layer, "dev/null")), ns(1_300_000_000));
      const loop = fs.lstatSync(path.join(layer, "dev/loop"));
      assert.ok(loop.isBlockDevice());
      assert.deepEqual(devOf(loop.rdev), [7, 300000]);
      assert.equal(loop.mode & 0o7777, 0o2660, "setgid survives the chown");
      assert.equal(loop.gid, 6);

      const fifo = fs.lstatSync(path.join(layer, "run/fifo"));
      assert.ok(fifo.isFIFO());
      assert.equal(fifo.mode & 0o7777, 0o620);
      assert.deepEqual([fifo.uid, fifo.gid], [33, 44]);
      assert.equal(mtimeNs(path.join(layer, "run/fifo")), ns(1_400_000_000));

      // parents the archive did not name are made 0755 root:root
      const dev = fs.lstatSync(path.join(layer, "dev"));
      assert.equal(dev.mode & 0o7777, 0o755);
      assert.deepEqual([dev.uid, dev.gid], [0, 0]);

      const sgid = fs.lstatSync(path.join(layer, "sgid"));
      assert.equal(sgid.mode & 0o7777, 0o2711);
      assert.equal(fs.readFileSync(path.join(layer, "sgid"), "utf8"), "contiguous");
      assert.equal(mtimeNs(path.join(layer, "old")), -1_250_000_000n, "a negative pax mtime with a fraction");
    }));

  test("long names: pax path and linkpath, GNU 'L' and 'K' with base-256 numbers, ustar prefix, v7", () =>
    withCleanup(async (c) => {
      const { layer } = layout(c);
      const deep = Array.from({ length: 12 }, (_, i) => `directory-${i}-${"x".repeat(20)}`).join("/");
      const target = `${deep}/target-${"t".repeat(150)}`;
      const bigUid = 3_000_000; // more than 7 octal digits: base-256 in a GNU header
      const archive = tar([
        { name: `${deep}/pax-file-${"p".repeat(120)}`, data: "pax", format: "pax" },
        { name: `${deep}/gnu-file-${"g".repeat(120)}`, data: "gnu", format: "gnu", uid: bigUid, gid: bigUid + 1 },
        { name: target, data: "target", format: "gnu", mtime: 8 ** 11 + 5 },
        { name: `gnu-link-${"l".repeat(120)}`, type: "1", linkname: target, format: "gnu" },
        { name: `pax-link-${"l".repeat(120)}`, type: "1", linkname: target, format: "pax" },
        { name: "gnu-sym", type: "2", linkname: `/${"s".repeat(300)}`, format: "gnu" },
        { name: "pax-sym", type: "2", linkname: `/${"s".repeat(300)}`, format: "pax" },
        { name: "v7dir/", type: "\0", format: "v7", mode: 0o700 },
        { name: "v7dir/file", type: "\0", format: "v7", data: "v7" },
      ]);
      // ustar's own long names: prefix "/" name
      const prefixed = Buffer.concat([header({ name: "leaf", type: "0", prefix: "ustar/prefix/dir", size: 3 }), pad(Buffer.from("pfx"))]);
      unpackOk(layer, Buffer.concat([archive.subarray(0, archive.length - END.length), prefixed, END]));

      assert.equal(fs.readFileSync(path.join(layer, deep, `pax-file-${"p".repeat(120)}`), "utf8"), "pax");
      const gnu = path.join(layer, deep, `gnu-file-${"g".repeat(120)}`);
      assert.equal(fs.readFileSync(gnu, "utf8"), "gnu");
      assert.deepEqual([fs.statSync(gnu).uid, fs.statSync(gnu).gid], [bigUid, bigUid + 1]);
      assert.equal(fs.statSync(path.join(layer, target)).mtimeMs, (8 ** 11 + 5) * 1000, "a base-256 mtime");
      for (const l of [`gnu-link-${"l".repeat(120)}`, `pax-link-${"l".repeat(120)}`])
        assert.equal(fs.statSync(path.join(layer, l)).ino, fs.statSync(path.join(layer, target)).ino, l);
      for (const s of ["gnu-sym", "pax-sym"]) assert.equal(fs.readlinkSync(path.join(layer, s)), `/${"s".repeat(300)}`, s);
      assert.ok(fs.lstatSync(path.join(layer, "v7dir")).isDirectory(), "a v7 directory is a name ending in /");
      assert.equal(fs.lstatSync(path.join(layer, "v7dir")).mode & 0o7777, 0o700);
      assert.equal(fs.readFileSync(path.join(layer, "v7dir/file"), "utf8"), "v7");
      assert.equal(fs.readFileSync(path.join(layer, "ustar/prefix/dir/leaf"), "utf8"), "pfx");
    }));

  test("names lose ./ prefixes, . and empty components and trailing slashes; global pax headers are ignored", () =>
    withCleanup(async (c) => {
      const { layer } = layout(c);
      const global = paxRecords({ comment: "ignored", path: "not/this" });
      const archive = tar([
        Buffer.concat([header({ name: "pax_global_header", type: "g", size: global.length }), pad(global)]),
        { name: "./././a//b/./", type: "5", mode: 0o711 },
        { name: ".//a/b//c/", data: "c" },
        { name: "a/./b/d", type: "1", linkname: "./a//b/c/" },
      ]);
      assert.deepEqual(unpackOk(layer, archive), { entries: 3, bytes: 1 });
      assert.equal(fs.lstatSync(path.join(layer, "a/b")).mode & 0o7777, 0o711);
      assert.equal(fs.readFileSync(path.join(layer, "a/b/c"), "utf8"), "c");
      assert.equal(fs.statSync(path.join(layer, "a/b/d")).ino, fs.statSync(path.join(layer, "a/b/c")).ino);
      assert.deepEqual(fs.readdirSync(layer), ["a"]);
    }));

  test("a name given twice: the later entry replaces the earlier, a directory named again keeps its children", () =>
    withCleanup(async (c) => {
      const { layer, outside } = layout(c);
      const archive = tar([
        { name: "file-then-dir", data: "old" },
        { name: "file-then-dir", type: "5", mode: 0o700 },
        { name: "file-then-dir/child", data: "new" },
        { name: "dir-then-file", type: "5" },
        { name: "dir-then-file/sub/deeper", data: "gone" },
        { name: "dir-then-file/link", type: "2", linkname: outside },
        { name: "dir-then-file", data: "file now" },
        { name: "dir-twice", type: "5", mode: 0o700, uid: 1 },
        { name: "dir-twice/kept", data: "kept" },
        { name: "dir-twice", type: "5", mode: 0o755, uid: 2, mtime: 1_500_000_000 },
        // a leaf that is a symlink is replaced, never written through
        { name: "was-a-symlink", type: "2", linkname: "../outside/x" },
        { name: "was-a-symlink", data: "here" },
        { name: "dir-to-symlink", type: "5" },
        { name: "dir-to-symlink/f", data: "f" },
        { name: "dir-to-symlink", type: "2", linkname: "../outside" },
      ]);
      unpackOk(layer, archive);
      assert.ok(fs.lstatSync(path.join(layer, "file-then-dir")).isDirectory());
      assert.equal(fs.lstatSync(path.join(layer, "file-then-dir")).mode & 0o7777, 0o700);
      assert.equal(fs.readFileSync(path.join(layer, "file-then-dir/child"), "utf8"), "new");
      assert.equal(fs.readFileSync(path.join(layer, "dir-then-file"), "utf8"), "file now");
      const twice = fs.lstatSync(path.join(layer, "dir-twice"));
      assert.equal(twice.mode & 0o7777, 0o755);
      assert.equal(twice.uid, 2);
      assert.equal(mtimeNs(path.join(layer, "dir-twice")), ns(1_500_000_000), "the later time stands");
      assert.equal(fs.readFileSync(path.join(layer, "dir-twice/kept"), "utf8"), "kept");
      assert.ok(fs.lstatSync(path.join(layer, "was-a-symlink")).isFile());
      assert.equal(fs.readFileSync(path.join(layer, "was-a-symlink"), "utf8"), "here");
      assert.equal(fs.readlinkSync(path.join(layer, "dir-to-symlink")), "../outside");
      assert.deepEqual(fs.readdirSync(outside), [], "nothing was written through a symlink");
    }));

  test("whiteouts become 0:0 character devices, .wh..wh..opq the opaque xattr, aufs metadata is skipped", () =>
    withCleanup(async (c) => {
      const { layer } = layout(c);
      const archive = tar([
        { name: "replaced", data: "this layer's own" },
        { name: ".wh.replaced", uid: 5, gid: 5, mode: 0o644 },
        { name: "usr/lib/.wh.gone", data: "a whiteout's content is dropped" },
        { name: "etc/.wh..wh..opq" },
        { name: ".wh..wh..opq" },
        { name: ".wh..wh.plnk", type: "5" },
        { name: ".wh..wh.plnk/123.456", data: "aufs" },
        { name: ".wh..wh.aufs", data: "aufs" },
      ]);
      assert.deepEqual(unpackOk(layer, archive), { entries: 5, bytes: "this layer's own".length });
      for (const name of ["replaced", "usr/lib/gone"]) {
        const st = fs.lstatSync(path.join(layer, name));
        assert.ok(st.isCharacterDevice(), name);
        assert.deepEqual(devOf(st.rdev), [0, 0], name);
        assert.equal(st.mode & 0o7777, 0, name);
        assert.deepEqual([st.uid, st.gid], [0, 0], name);
      }
      assert.deepEqual(xattr(path.join(layer, "etc"), "trusted.overlay.opaque"), Buffer.from("y"));
      assert.deepEqual(xattr(layer, "trusted.overlay.opaque"), Buffer.from("y"));
      assert.equal(xattr(path.join(layer, "usr"), "trusted.overlay.opaque"), undefined);
      assert.deepEqual(fs.readdirSync(layer).sort(), ["etc", "replaced", "usr"]);
      assert.deepEqual(fs.readdirSync(path.join(layer, "usr/lib")), ["gone"]);
    }));

  test("on an overlay mount a whiteout hides a lower file and an opaque directory hides the lower one's files; without them they show", () =>
    withCleanup(async (c) => {
      const { root } = layout(c);
      const holder = await startHolder(c);
      const mk = (name: string) => {
        const d = path.join(root, name);
        fs.mkdirSync(d);
        return d;
      };
      const lower = mk("lower");
      unpackOk(
        lower,
        tar([
          { name: "gone", data: "lower" },
          { name: "kept", data: "lower" },
          { name: "etc", type: "5" },
          { name: "etc/old", data: "lower" },
        ]),
      );
      const upper = mk("upper");
      unpackOk(upper, tar([{ name: ".wh.gone" }, { name: "etc/.wh..wh..opq" }, { name: "etc/new", data: "upper" }]));
      const plain = mk("plain");
      unpackOk(plain, tar([{ name: "etc/new", data: "upper" }]));

      const listing = (top: string): { root: string[]; etc: string[] } => {
        const mnt = mk(`mnt-${path.basename(top)}`);
        const m = holder.run(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${top}:${lower}`, mnt]);
        assert.equal(m.status, 0, m.stderr);
        try {
          const seen = holder.view(mnt);
          return { root: fs.readdirSync(seen).sort(), etc: fs.readdirSync(path.join(seen, "etc")).sort() };
        } finally {
          const u = holder.run(["umount", mnt]);
          assert.equal(u.status, 0, u.stderr);
        }
      };
      assert.deepEqual(listing(upper), { root: ["etc", "kept"], etc: ["new"] });
      // negative control: the same upper layer without its whiteouts hides nothing
      assert.deepEqual(listing(plain), { root: ["etc", "gone", "kept"], etc: ["new", "old"] });
    }));

  test("after the end-of-archive marker stdin is read to its end; a refused archive stops reading (negative control)", () =>
    withCleanup(async (c) => {
      const { layer } = layout(c);
      const trailing = Buffer.alloc(8 << 20, 0x55);
      const ok = unpack(layer, Buffer.concat([tar([{ name: "f", data: "x" }]), trailing]));
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.inputError, undefined, "all input was read");
      const refused = unpack(layer, Buffer.concat([tar([{ name: "../f", data: "x" }]), trailing]));
      assert.equal(refused.status, 2);
      assert.equal(refused.inputError, "EPIPE", "this check sees a reader that stops early");
      // A lone zero block, or no marker at all, ends the archive too.
      const lone = unpack(layer, Buffer.concat([entry({ name: "g", data: "y" }), Buffer.alloc(BLOCK)]));
      assert.equal(lone.status, 0, lone.stderr);
      const none = unpack(layer, entry({ name: "h", data: "z" }));
      assert.equal(none.status, 0, none.stderr);
      assert.deepEqual(fs.readdirSync(layer).sort(), ["f", "g", "h"]);
    }));

  // Each archive is refused (exit 2, one line naming the entry and the reason) and leaves the
  // sentinel directory beside DIR empty. `aim` is where a naive extractor would write: the
  // negative control writes there, as such an extractor would, and sees it land outside DIR.
  interface Hostile {
    what: string;
    archive: (p: { root: string; outside: string }) => Buffer;
    reason: RegExp;
    aim?: (p: { root: string }) => string;
  }
  const hostile: Hostile[] = [
    { what: "a .. name", archive: () => tar([{ name: "../outside/x", data: "x" }]), reason: /^refused "\.\.\/outside\/x": a "\.\." component$/, aim: () => "../outside/x" },
    {
      what: "an absolute name",
      archive: ({ outside }) => tar([{ name: `${outside}/x`, data: "x" }]),
      reason: /^refused "\/.*\/outside\/x": an absolute name$/,
      aim: ({ root }) => `${root}/outside/x`,
    },
    { what: "a .. after a directory", archive: () => tar([{ name: "a/../../outside/x", data: "x" }]), reason: /^refused "a\/\.\.\/\.\.\/outside\/x": a "\.\." component$/, aim: () => "a/../../outside/x" },
    ...(["file", "dir", "hardlink", "symlink", "fifo"] as const).map(
      (kind): Hostile => ({
        what: `a ${kind} under a symlink to ..`,
        archive: () => {
          const leaf: TarEntry =
            kind === "file"
              ? { name: "a/outside/x", data: "x" }
              : kind === "dir"
                ? { name: "a/outside/x", type: "5" }
                : kind === "hardlink"
                  ? { name: "a/outside/x", type: "1", linkname: "f" }
                  : kind === "symlink"
                    ? { name: "a/outside/x", type: "2", linkname: "/etc/passwd" }
                    : { name: "a/outside/x", type: "6" };
          return tar([{ name: "f", data: "f" }, { name: "a", type: "2", linkname: ".." }, leaf]);
        },
        reason: /^refused "a\/outside\/x": a parent is a symlink$/,
        aim: () => "a/outside/x",
      }),
    ),
    {
      what: "a file under an absolute symlink to the sentinel",
      archive: ({ outside }) => tar([{ name: "a", type: "2", linkname: outside }, { name: "a/x", data: "x" }]),
      reason: /^refused "a\/x": a parent is a symlink$/,
      aim: () => "a/x",
    },
    {
      what: "a file under a symlink to / deeper down",
      archive: ({ outside }) => tar([{ name: "a", type: "2", linkname: "/" }, { name: `a${outside}/x`, data: "x" }]),
      reason: /a parent is a symlink$/,
      aim: ({ root }) => `a${root}/outside/x`,
    },
    {
      what: "a file under a symlink in the middle of the path",
      archive: () => tar([{ name: "d/a", type: "2", linkname: "../.." }, { name: "d/a/outside/x", data: "x" }]),
      reason: /^refused "d\/a\/outside\/x": a parent is a symlink$/,
      aim: () => "d/a/outside/x",
    },
    { what: "a hard link to ../../etc/passwd", archive: () => tar([{ name: "h", type: "1", linkname: "../../etc/passwd" }]), reason: /^refused "h": hard link target "\.\.\/\.\.\/etc\/passwd" has a "\.\." component$/ },
    { what: "a hard link to ../victim/secret", archive: () => tar([{ name: "h", type: "1", linkname: "../victim/secret" }]), reason: /has a "\.\." component$/ },
    { what: "a hard link to an absolute path", archive: () => tar([{ name: "h", type: "1", linkname: "/etc/passwd" }]), reason: /^refused "h": hard link target "\/etc\/passwd" is absolute$/ },
    {
      what: "a hard link whose target's parent is a symlink",
      archive: () => tar([{ name: "a", type: "2", linkname: "../victim" }, { name: "h", type: "1", linkname: "a/secret" }]),
      reason: /^refused "h": the hard link target's parent is a symlink$/,
    },
    { what: "a hard link to a missing target", archive: () => tar([{ name: "h", type: "1", linkname: "nowhere" }]), reason: /^refused "h": hard link target "nowhere" does not exist$/ },
    { what: "a hard link to a directory", archive: () => tar([{ name: "d", type: "5" }, { name: "h", type: "1", linkname: "d" }]), reason: /^refused "h": hard link target "d" is a directory$/ },
    { what: "a hard link from a whiteout name", archive: () => tar([{ name: "f", data: "f" }, { name: ".wh.x", type: "1", linkname: "f" }]), reason: /^refused "\.wh\.x": a hard link to or from a whiteout name$/ },
    { what: "a hard link to a whiteout name", archive: () => tar([{ name: ".wh.f" }, { name: "h", type: "1", linkname: ".wh.f" }]), reason: /a hard link to or from a whiteout name$/ },
    { what: "a file under a regular file", archive: () => tar([{ name: "f", data: "f" }, { name: "f/x", data: "x" }]), reason: /^refused "f\/x": a parent is not a directory$/ },
    { what: "a root that is not a directory", archive: () => tar([{ name: "./", data: "x" }]), reason: /^refused "\.\/": the root of the layer can only be a directory$/ },
    { what: "a name with a newline", archive: () => tar([{ name: "../a\nb\"c", data: "x" }]), reason: /^refused "\.\.\/a\\x0ab\\"c": a "\.\." component$/ },
    {
      what: "an invalid security.capability",
      archive: () => tar([{ name: "f", data: "f", pax: { "SCHILY.xattr.security.capability": "garbage" } }]),
      reason: /^refused "f": invalid xattr security\.capability$/,
    },
    { what: "a bad header checksum", archive: () => tar([{ name: "f", data: "f" }, { name: "g", data: "g", badChecksum: true }]), reason: /^refused: bad header checksum at byte 1024$/ },
    { what: "an archive cut inside a header", archive: () => tar([{ name: "f", data: "f" }], false).subarray(0, 300), reason: /^refused: truncated archive$/ },
    {
      what: "an archive cut inside a file's content",
      archive: () => Buffer.concat([header({ name: "f", type: "0", size: 100_000 }), Buffer.alloc(1000)]),
      reason: /^refused "f": truncated archive$/,
    },
    {
      what: "a pax header claiming 10 GB",
      archive: () => Buffer.concat([header({ name: "PaxHeaders/f", type: "x", size: 10_000_000_000 }), Buffer.alloc(4 * BLOCK)]),
      reason: /^refused "PaxHeaders\/f": pax extended header of 10000000000 bytes is larger than 1 MiB$/,
    },
    { what: "a pax size of 10 GB with little content", archive: () => tar([{ name: "f", data: "f", pax: { size: "10000000000" } }]), reason: /^refused "f": truncated archive$/ },
    { what: "a GNU long name of 2 MiB", archive: () => Buffer.concat([header({ name: "././@LongLink", type: "L", size: 2 << 20, format: "gnu" }), Buffer.alloc(BLOCK)]), reason: /GNU long-name header of 2097152 bytes is larger than 1 MiB$/ },
    { what: "a name longer than PATH_MAX", archive: () => tar([{ name: "n/".repeat(2100) + "x", data: "x" }]), reason: /: a name longer than PATH_MAX$/ },
    { what: "a sparse entry", archive: () => tar([{ name: "s", type: "S", data: "x", format: "gnu" }]), reason: /^refused "s": sparse files are not supported$/ },
    { what: "a pax sparse entry", archive: () => tar([{ name: "s", data: "x", pax: { "GNU.sparse.major": "1", "GNU.sparse.minor": "0" } }]), reason: /sparse files are not supported$/ },
    { what: "an unknown entry type", archive: () => tar([{ name: "v", type: "V" }]), reason: /^refused "v": unsupported entry type 'V'$/ },
    { what: "a malformed pax record", archive: () => tar([{ name: "PaxHeaders/f", type: "x", data: "99 path=f\n" }, { name: "f" }]), reason: /malformed pax record$/ },
    { what: "a zero block between entries", archive: () => Buffer.concat([Buffer.alloc(BLOCK), entry({ name: "f", data: "f" }), END]), reason: /^refused: a zero block inside the archive at byte 0$/ },
    { what: "a pax header with no entry after it", archive: () => tar([{ name: "PaxHeaders/f", type: "x", data: paxRecords({ path: "f" }) }]), reason: /before its entry$/ },
  ];

  for (const h of hostile) {
    test(`refuses ${h.what}, writing nothing outside DIR`, () =>
      withCleanup(async (c) => {
        const { root, layer, outside } = layout(c);
        const victim = path.join(root, "victim");
        fs.mkdirSync(victim);
        fs.writeFileSync(path.join(victim, "secret"), "secret");
        const r = unpack(layer, h.archive({ root, outside }));
        assert.equal(r.status, 2, `exit status; stderr: ${r.stderr}`);
        assert.equal(r.stdout, "");
        const lines = r.stderr.split("\n");
        assert.deepEqual(lines.slice(1), [""], `one line on stderr: ${r.stderr}`);
        assert.match(lines[0]!, /^podd-init unpack: /);
        assert.match(lines[0]!.slice("podd-init unpack: ".length), h.reason);
        assert.deepEqual(fs.readdirSync(outside), [], "the sentinel beside DIR stays empty");
        assert.deepEqual(fs.readdirSync(root).sort(), ["layer", "outside", "victim"]);
        assert.deepEqual(fs.readdirSync(victim), ["secret"]);
        assert.equal(fs.statSync(path.join(victim, "secret")).nlink, 1, "no hard link to a file outside DIR");
        if (h.aim) {
          // negative control: the archive really aims at the sentinel
          const aimed = path.resolve(layer, h.aim({ root }));
          fs.writeFileSync(aimed, "naive");
          assert.deepEqual(fs.readdirSync(outside), ["x"], `a naive write to ${aimed} lands in the sentinel`);
        }
      }));
  }

  test("a directory tree as deep as PATH_MAX allows is replaced whole, from a soft descriptor limit of 64", () =>
    withCleanup(async (c) => {
      const entries: TarEntry[] = [];
      for (let depth = 1; depth <= 2000; depth++) entries.push({ name: "d/".repeat(depth), type: "5", mode: 0o755 });
      entries.push({ name: `${"d/".repeat(2000)}leaf`, data: "deep" }, { name: "d", data: "flat" });
      const archive = tar(entries);
      const run = (hard: number) => {
        const { layer } = layout(c);
        // Node's rmSync recurses once per level and cannot remove a tree this deep.
        c.defer(() => spawnSync("rm", ["-rf", layer]));
        const r = spawnSync("prlimit", [`--nofile=64:${hard}`, INIT, "unpack", layer], { input: archive, encoding: "utf8" });
        return { r, layer };
      };
      const { r, layer } = run(4096);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(fs.readFileSync(path.join(layer, "d"), "utf8"), "flat");
      // negative control: the limit is real, and with a hard limit this low the replacement runs out
      const low = run(64).r;
      assert.equal(low.status, 1, low.stderr);
      // EMFILE, as musl and glibc word it
      assert.match(low.stderr, /^podd-init unpack: open .*\/layer\/d: (No file descriptors available|Too many open files)\n$/);
    }));

  test("refuses a DIR that does not exist, naming it", () =>
    withCleanup(async (c) => {
      const { root } = layout(c);
      const missing = path.join(root, "missing");
      const r = unpack(missing, tar([{ name: "f", data: "f" }]));
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `podd-init unpack: open ${missing}: No such file or directory\n`);
      assert.equal(fs.existsSync(missing), false);
    }));
});
