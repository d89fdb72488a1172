// What unpacking one image layer costs: `podd-init unpack` and GNU tar extracting the same
// uncompressed stream (thousands of files, tens of MB) from a file into a fresh directory,
// interleaved run by run, with each one's peak RSS. Every pull pays this once per layer.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { INIT, build } from "../init/helpers.ts";
import { tar, type TarEntry } from "../init/tar-writer.ts";
import { median, ratio, table, which } from "./lib.ts";

const DIRS = 100;
const FILES_PER_DIR = 50;
const FILE_BYTES = 10_000;

function layer(): Buffer {
  const entries: TarEntry[] = [{ name: "./", type: "5", mode: 0o755 }];
  for (let d = 0; d < DIRS; d++) {
    entries.push({ name: `usr/share/d${d}/`, type: "5", mode: 0o755, mtime: 1_700_000_000 });
    for (let f = 0; f < FILES_PER_DIR; f++)
      entries.push({ name: `usr/share/d${d}/f${f}`, mode: 0o644, mtime: 1_700_000_000, data: randomBytes(FILE_BYTES) });
  }
  return tar(entries);
}

/** Wall ms and peak RSS (kB) of argv reading the layer file on stdin; the target dir is made before the clock starts. */
function runOnce(argv: (dir: string) => string[], input: string, base: string, i: number): { ms: number; rssKb: number } {
  const dir = join(base, `run-${i}`);
  mkdirSync(dir);
  const fd = openSync(input, "r");
  try {
    const cmd = ["-f", "%M", ...argv(dir)];
    const t0 = process.hrtime.bigint();
    const r = spawnSync("/usr/bin/time", cmd, { stdio: [fd, "ignore", "pipe"], encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${argv(dir).join(" ")} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
    return { ms, rssKb: Number(r.stderr.trim().split("\n").pop()) };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The layer unpacked on one file system (base), both commands interleaved run by run. */
function measure(where: string, base: string, input: string, mb: string): string {
  const gnuTar = which("/usr/bin/tar", "/bin/tar");
  const cmds: { name: string; argv: (dir: string) => string[] }[] = [
    { name: "podd-init unpack", argv: (dir) => [INIT, "unpack", dir] },
    ...(gnuTar ? [{ name: "GNU tar -x (peer)", argv: (dir: string) => [gnuTar, "-C", dir, "-xf", "-"] }] : []),
  ];
  const runs = 15;
  const samples = cmds.map(() => ({ ms: [] as number[], rss: [] as number[] }));
  let n = 0;
  for (let i = -3; i < runs; i++) {
    cmds.forEach((c, j) => {
      const r = runOnce(c.argv, input, base, n++);
      if (i >= 0) {
        samples[j]!.ms.push(r.ms);
        samples[j]!.rss.push(r.rssKb);
      }
    });
  }
  const base0 = median(samples[0]!.ms);
  return table(
    `unpack: one layer of ${DIRS * FILES_PER_DIR} files, ${mb} MB, from a file into a fresh directory on ${where} (median of ${runs}, interleaved)`,
    ["command", "ms", "ratio", "peak RSS kB"],
    cmds.map((c, j) => [c.name, median(samples[j]!.ms), ratio(median(samples[j]!.ms), base0), median(samples[j]!.rss)]),
  );
}

export function unpackLayer(): string {
  if (!which("/usr/bin/time")) return "\nunpack: /usr/bin/time is missing (apt-get install time); not measured";
  build();
  // The temp dir's file system is where a state root usually lives, and its cost (block
  // allocation, writeback) dominates there; tmpfs leaves mostly the unpacker's own work.
  const disk = mkdtempSync(join(tmpdir(), "podd-bench-unpack-"));
  const memory = existsSync("/dev/shm") ? mkdtempSync(join("/dev/shm", "podd-bench-unpack-")) : undefined;
  try {
    const input = join(disk, "layer.tar");
    const bytes = layer();
    writeFileSync(input, bytes);
    const mb = (bytes.length / 1e6).toFixed(0);
    const out = [measure(`${tmpdir()} (its file system)`, disk, input, mb)];
    if (memory) out.push(measure("tmpfs (/dev/shm)", memory, input, mb));
    return out.join("\n");
  } finally {
    rmSync(disk, { recursive: true, force: true });
    if (memory) rmSync(memory, { recursive: true, force: true });
  }
}
