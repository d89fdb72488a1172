// The local image store: <state>/images/<ref>/{rootfs/,config.json}. An image is a root
// filesystem plus the config a container inherits (environment, working directory).
// Registries and OCI layouts come later; today images are imported from a directory or tarball.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import { rfc3339Millis } from "../base/time.ts";

export interface ImageConfig {
  ref: string;
  env: string[];
  workingDir: string;
  created: string;
}

export interface Image extends ImageConfig {
  rootfs: string;
}

export const defaultImageEnv = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

/** "busybox" → "busybox:latest"; a digest or explicit tag is kept. */
export function normalizeRef(name: string): string {
  const lastSlash = name.lastIndexOf("/");
  const tail = name.slice(lastSlash + 1);
  if (tail.includes(":") || tail.includes("@")) return name;
  return `${name}:latest`;
}

function refDir(ref: string): string {
  return encodeURIComponent(ref);
}

export class ImageStore {
  constructor(readonly dir: string) {}

  get(name: string): Image | undefined {
    const ref = normalizeRef(name);
    const dir = join(this.dir, refDir(ref));
    let config: ImageConfig;
    try {
      config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as ImageConfig;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw PoddError.wrap(`read image ${ref}`, err);
    }
    return { ...config, rootfs: join(dir, "rootfs") };
  }

  list(): Image[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => !n.startsWith("."))
      .map((n) => this.get(decodeURIComponent(n)))
      .filter((i): i is Image => i !== undefined);
  }

  /**
   * Imports a root filesystem from a directory or a tarball (any compression tar knows).
   * The image appears whole or not at all: it is built beside the store and renamed in. An
   * image of the same name is replaced only when opts.replace says so.
   */
  import(name: string, source: string, opts: { env?: string[]; workingDir?: string; replace?: boolean } = {}): Image {
    const ref = normalizeRef(name);
    const existing = this.get(ref);
    // Replacing is said, never silent: pods that name the image get the new root filesystem.
    if (existing && !opts.replace) {
      throw new PoddError(`image "${ref}" already exists (imported ${existing.created}); give --replace to replace it, or import under another name`, { code: "AlreadyExists" });
    }
    let st;
    try {
      st = statSync(source);
    } catch (err) {
      throw PoddError.wrap(`import ${ref}: cannot read "${source}"`, err, "Invalid");
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = mkdtempSync(join(this.dir, ".import-"));
    try {
      const rootfs = join(tmp, "rootfs");
      mkdirSync(rootfs, { mode: 0o755 });
      if (st.isDirectory()) {
        cpSync(source, rootfs, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      } else {
        const r = spawnSync("tar", ["-x", "--numeric-owner", "--no-same-owner", "-C", rootfs, "-f", source], { encoding: "utf8" });
        if (r.error) throw PoddError.wrap(`import ${ref}: run tar`, r.error);
        if (r.status !== 0) throw new PoddError(`import ${ref}: tar -x ${source}: ${r.stderr.trim()}`, { code: "Invalid" });
      }
      const config: ImageConfig = {
        ref,
        env: opts.env ?? defaultImageEnv,
        workingDir: opts.workingDir ?? "/",
        created: rfc3339Millis(Date.now()),
      };
      writeFileAtomic(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
      const dest = join(this.dir, refDir(ref));
      if (existsSync(dest)) {
        const old = join(this.dir, `.old-${refDir(ref)}-${process.pid}`);
        renameSync(dest, old);
        renameSync(tmp, dest);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(tmp, dest);
      }
      return { ...config, rootfs: join(dest, "rootfs") };
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  remove(name: string): boolean {
    const dest = join(this.dir, refDir(normalizeRef(name)));
    if (!existsSync(dest)) return false;
    rmSync(dest, { recursive: true, force: true });
    return true;
  }
}
