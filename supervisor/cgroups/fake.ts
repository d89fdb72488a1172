// A cgroupfs look-alike over a temp dir, for tests of the drivers without root: mkdir fills a
// new cgroup with control files the way the kernel would, rmdir refuses (EBUSY) while a
// cgroup has processes or children, writes go only to existing files and are recorded in
// order. Hooks let a test script the kernel's reaction to a write (cgroup.kill emptying
// cgroup.procs) or make a file fail with an errno.
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { readFileSync, truncateSync } from "node:fs";
import type { CgroupFs, CgroupWriter } from "./io.ts";
import { nodeCgroupFs } from "./io.ts";
import { parsePids } from "./parse.ts";

export interface FakeCgroupFsOptions {
  /** Control files (name → initial content) that a new cgroup at dir gets. */
  files(dir: string): Record<string, string>;
  /** What the file reads after a write, given what it read before (default: the value
   * written), e.g. "+memory" written to "cpu" makes cgroup.subtree_control read "cpu memory". */
  store?(path: string, value: string, previous: string): string;
  /** Runs after a write landed, as the kernel's reaction to it. */
  onWrite?(path: string, value: string, fake: FakeCgroupFs): Promise<void> | void;
  /** An errno ("EBUSY") to fail this write with, or undefined to let it through. */
  failWrite?(path: string, value: string): string | undefined;
  /** Replaces what a read returns (e.g. a freezer.state stuck in FREEZING). */
  readOverride?(path: string): string | undefined;
}

export function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

export class FakeCgroupFs implements CgroupFs {
  readonly writes: Array<[path: string, value: string]> = [];
  readonly rmdirs: string[] = [];
  /** Pids that exited; reads of cgroup.procs and tasks leave them out. */
  readonly exited = new Set<number>();
  /** Directory fds opened and not yet closed: a test asserts none is left. */
  readonly openFds = new Set<number>();
  private readonly opts: FakeCgroupFsOptions;

  constructor(opts: FakeCgroupFsOptions) {
    this.opts = opts;
  }

  /** Creates a cgroup directory (and missing ancestors) with its control files: a hierarchy root. */
  async seed(dir: string, extra: Record<string, string> = {}): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
    await this.fill(dir, { ...this.opts.files(dir), ...extra });
  }

  private async fill(dir: string, files: Record<string, string>): Promise<void> {
    for (const [name, content] of Object.entries(files)) await fsp.writeFile(join(dir, name), content);
  }

  async readFile(path: string): Promise<string> {
    return this.opts.readOverride?.(path) ?? this.asKernelShows(path, await fsp.readFile(path, "utf8"));
  }

  readFileSync(path: string): string {
    return this.opts.readOverride?.(path) ?? this.asKernelShows(path, readFileSync(path, "utf8"));
  }

  /** A process list without the pids that exited. */
  private asKernelShows(path: string, text: string): string {
    if (!path.endsWith("/cgroup.procs") && !path.endsWith("/tasks")) return text;
    return parsePids(text)
      .filter((p) => !this.exited.has(p))
      .map((p) => `${p}\n`)
      .join("");
  }

  openWriter(path: string): CgroupWriter {
    const inner = nodeCgroupFs.openWriter(path);
    return {
      write: async (data) => {
        const errno = this.opts.failWrite?.(path, data);
        if (errno !== undefined) throw errnoError(errno, "write", path);
        await inner.write(data);
        this.writes.push([path, data]);
        await this.opts.onWrite?.(path, data, this);
      },
      close: () => inner.close(),
    };
  }

  async writeFile(path: string, data: string): Promise<void> {
    const errno = this.opts.failWrite?.(path, data);
    if (errno !== undefined) throw errnoError(errno, "open", path);
    const store = this.opts.store;
    if (store === undefined) {
      await nodeCgroupFs.writeFile(path, data);
    } else {
      const previous = await fsp.readFile(path, "utf8");
      await nodeCgroupFs.writeFile(path, store(path, data, previous));
    }
    this.writes.push([path, data]);
    await this.opts.onWrite?.(path, data, this);
  }

  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path);
    await this.fill(path, this.opts.files(path));
  }

  async rmdir(path: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(path, { withFileTypes: true });
    } catch (err) {
      throw errnoError((err as NodeJS.ErrnoException).code ?? "EIO", "rmdir", path);
    }
    if (entries.some((e) => e.isDirectory())) throw errnoError("EBUSY", "rmdir", path);
    const procs = await this.readFile(join(path, "cgroup.procs")).catch(() => "");
    if (parsePids(procs).length > 0) throw errnoError("EBUSY", "rmdir", path);
    await fsp.rm(path, { recursive: true });
    this.rmdirs.push(path);
  }

  writeEntriesSync(path: string, entries: readonly string[]): void {
    for (const e of entries) {
      const errno = this.opts.failWrite?.(path, e);
      if (errno !== undefined) throw errnoError(errno, "write", path);
      // Each entry replaces the file's content, as the last value written is what a read shows.
      nodeCgroupFs.writeEntriesSync(path, [e]);
      truncateSync(path, Buffer.byteLength(e));
      this.writes.push([path, e]);
    }
  }

  /** A real fd of the temp dir, so that a fake Sys can tell which cgroup a call is about. */
  openDirectory(path: string): number {
    const fd = nodeCgroupFs.openDirectory(path);
    this.openFds.add(fd);
    return fd;
  }

  closeFd(fd: number): void {
    this.openFds.delete(fd);
    nodeCgroupFs.closeFd(fd);
  }

  subdirs(path: string): Promise<string[]> {
    return nodeCgroupFs.subdirs(path);
  }

  exists(path: string): Promise<boolean> {
    return nodeCgroupFs.exists(path);
  }

  /** Sets the pids listed in dir/cgroup.procs (and tasks when the file exists, as on v1). */
  async setProcs(dir: string, pids: number[]): Promise<void> {
    const text = pids.map((p) => `${p}\n`).join("");
    await fsp.writeFile(join(dir, "cgroup.procs"), text);
    if (await nodeCgroupFs.exists(join(dir, "tasks"))) await fsp.writeFile(join(dir, "tasks"), text);
  }

  /** Marks pid as exited: from now on no cgroup.procs or tasks file lists it. */
  exit(pid: number): void {
    this.exited.add(pid);
  }

  /** The values written to files whose path ends with suffix, in order. */
  written(suffix: string): string[] {
    return this.writes.filter(([p]) => p.endsWith(suffix)).map(([, v]) => v);
  }
}
