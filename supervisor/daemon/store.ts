// Desired state: every applied pod, as applied (with the uid and creation time podd gave it),
// one file per pod under <state>/desired/<namespace>/<name>.json, written atomically before the
// API answers. A torn write is never read back: files appear only by rename.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fsyncDir, writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import { checkSegment } from "../base/paths.ts";
import type { BoundPod } from "../runtime/runtime.ts";

export class DesiredStore {
  private readonly dir: string;

  /** The store of the state root stateRoot. */
  constructor(stateRoot: string) {
    this.dir = join(stateRoot, "desired");
  }

  private path(namespace: string, name: string): string {
    return join(this.dir, checkSegment("namespace", namespace), `${checkSegment("pod name", name)}.json`);
  }

  put(pod: BoundPod): void {
    const ns = join(this.dir, checkSegment("namespace", pod.metadata.namespace));
    if (!existsSync(ns)) {
      mkdirSync(ns, { recursive: true, mode: 0o700 });
      fsyncDir(this.dir);
    }
    writeFileAtomic(this.path(pod.metadata.namespace, pod.metadata.name), JSON.stringify(pod) + "\n", 0o600);
  }

  remove(namespace: string, name: string): void {
    const p = this.path(namespace, name);
    if (!existsSync(p)) return;
    rmSync(p);
    fsyncDir(join(this.dir, namespace));
  }

  /** Every stored pod; a file that does not parse is reported, not guessed at. */
  list(onError: (path: string, err: Error) => void): BoundPod[] {
    if (!existsSync(this.dir)) return [];
    const out: BoundPod[] = [];
    for (const ns of readdirSync(this.dir).sort()) {
      const dir = join(this.dir, ns);
      for (const f of readdirSync(dir).sort()) {
        // temp files of an interrupted write start with "." and are never read
        if (f.startsWith(".") || !f.endsWith(".json")) continue;
        const path = join(dir, f);
        try {
          out.push(JSON.parse(readFileSync(path, "utf8")) as BoundPod);
        } catch (err) {
          onError(path, PoddError.wrap(`read desired pod ${path}`, err));
        }
      }
    }
    return out;
  }
}
