// Desired state of the objects that are not pods (namespaces, config maps, secrets, claims): one
// file per object under <state>/objects/<resource>/[<namespace>/]<name>.json, written atomically
// before the API answers, readable by root only. A secret's file goes through the storage
// transformer (encryption at rest when the daemon has a key file; plain JSON otherwise).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { OBJECT_KINDS, type ConfigKind } from "../../pod-specs/objects.ts";
import { fsyncDir, writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import { checkSegment } from "../base/paths.ts";
import type { StoredObject } from "./objects.ts";
import { IDENTITY, type StorageTransformer } from "./encryption.ts";

/** Other objects than secrets: as they are. */
const PLAIN_STORAGE: StorageTransformer = {
  writes: "identity",
  toStorage: (plain) => plain,
  fromStorage: (stored) => ({ plain: stored, stale: false }),
};

export class ObjectStore {
  constructor(
    private readonly dir: string,
    /** how secrets are kept: encryption.ts (IDENTITY: plain JSON, refusing to guess at an encrypted file) */
    private readonly secrets: StorageTransformer = IDENTITY,
  ) {}

  private kindDir(kind: ConfigKind): string {
    return join(this.dir, OBJECT_KINDS[kind].resource);
  }

  /** The object's key in storage, as the API server's: "secrets/default/db". */
  private key(kind: ConfigKind, namespace: string | undefined, name: string): string {
    return [OBJECT_KINDS[kind].resource, ...(namespace === undefined ? [] : [namespace]), name].join("/");
  }

  private path(kind: ConfigKind, namespace: string | undefined, name: string): string {
    const parent = namespace === undefined ? this.kindDir(kind) : join(this.kindDir(kind), checkSegment("namespace", namespace));
    return join(parent, `${checkSegment(`${kind} name`, name)}.json`);
  }

  private transformerOf(kind: ConfigKind): StorageTransformer {
    return kind === "Secret" ? this.secrets : PLAIN_STORAGE;
  }

  put(o: StoredObject): void {
    const namespace = OBJECT_KINDS[o.kind].namespaced ? o.metadata.namespace : undefined;
    const path = this.path(o.kind, namespace, o.metadata.name);
    for (const d of [this.dir, this.kindDir(o.kind), ...(namespace === undefined ? [] : [join(this.kindDir(o.kind), namespace)])]) {
      if (!existsSync(d)) {
        mkdirSync(d, { mode: 0o700 });
        fsyncDir(join(d, ".."));
      }
    }
    const bytes = this.transformerOf(o.kind).toStorage(Buffer.from(JSON.stringify(o) + "\n"), this.key(o.kind, namespace, o.metadata.name));
    writeFileAtomic(path, bytes, 0o600);
  }

  remove(kind: ConfigKind, namespace: string | undefined, name: string): void {
    const path = this.path(kind, OBJECT_KINDS[kind].namespaced ? namespace : undefined, name);
    if (!existsSync(path)) return;
    rmSync(path);
    fsyncDir(join(path, ".."));
  }

  /**
   * Every stored object of the kind; a file that cannot be read is reported and left alone. A
   * secret written with an older key (or before encryption was turned on) is written again
   * with the current one, as the API server's storage migration would.
   */
  list(kind: ConfigKind, onError: (path: string, err: Error) => void): StoredObject[] {
    const top = this.kindDir(kind);
    if (!existsSync(top)) return [];
    const files: { path: string; namespace?: string; name: string }[] = [];
    const add = (dir: string, namespace?: string) => {
      for (const f of readdirSync(dir).sort()) {
        // temp files of an interrupted write start with "." and are never read
        if (f.startsWith(".") || !f.endsWith(".json")) continue;
        files.push({ path: join(dir, f), ...(namespace === undefined ? {} : { namespace }), name: f.slice(0, -".json".length) });
      }
    };
    if (OBJECT_KINDS[kind].namespaced) {
      for (const ns of readdirSync(top, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (ns.isDirectory()) add(join(top, ns.name), ns.name);
        else onError(join(top, ns.name), new PoddError("not a namespace's directory: left as it is", { code: "Internal" }));
      }
    } else add(top);
    const out: StoredObject[] = [];
    const t = this.transformerOf(kind);
    for (const f of files) {
      try {
        const { plain, stale } = t.fromStorage(readFileSync(f.path), this.key(kind, f.namespace, f.name));
        let o: StoredObject;
        try {
          o = JSON.parse(plain.toString("utf8")) as StoredObject;
        } catch (err) {
          // Node quotes the text it could not parse: never a secret's.
          throw kind === "Secret" ? new PoddError("not valid JSON", { code: "Internal" }) : err;
        }
        const wrong = shapeProblem(o, kind, f.namespace, f.name);
        if (wrong) throw new PoddError(wrong, { code: "Internal" });
        out.push(o);
        if (stale) {
          try {
            this.put(o);
          } catch (err) {
            // Read fine: it stays in use, and is written again at the next start.
            onError(f.path, PoddError.wrap(`write stored ${kind} ${f.path} again with the current key`, err));
          }
        }
      } catch (err) {
        onError(f.path, PoddError.wrap(`read stored ${kind} ${f.path}`, err));
      }
    }
    return out;
  }
}

/** Why a parsed file is not the object its path names; undefined when it is. */
function shapeProblem(o: unknown, kind: ConfigKind, namespace: string | undefined, name: string): string | undefined {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "not an object";
  const x = o as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (x.kind !== kind) return `holds kind ${JSON.stringify(x.kind)}, not ${kind}`;
  if (typeof x.metadata !== "object" || x.metadata === null || x.metadata.name !== name) return `its metadata.name is not ${JSON.stringify(name)}, as its file name says`;
  if (namespace !== undefined && x.metadata.namespace !== namespace) return `its metadata.namespace is not ${JSON.stringify(namespace)}, as its directory says`;
  return undefined;
}
