// An uncompressed tar file read in place: its headers are scanned once (a few hundred bytes per
// entry, the contents skipped), and a file of it is then read as a byte range of the tar. An
// image archive (`docker save`, `skopeo copy … docker-archive:|oci-archive:`) is loaded this
// way without being unpacked first: every layer is read once, from where it lies, and the disk
// holds no second copy of the archive while it loads.
//
// Read: ustar and GNU headers, pax extended headers (path, linkpath, size), GNU long names,
// base-256 sizes; later entries replace earlier ones of the same name, as tar -x would. Symbolic
// and hard links are followed inside the archive only; nothing here writes a file.
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { posix } from "node:path";
import { Readable } from "node:stream";
import { PoddError } from "../../base/errors.ts";

const BLOCK = 512;
/** More headers than any image archive has: the scan of a hostile file stays short. */
const MAX_HEADERS = 16_384;
/** pax and GNU long-name records are read into memory: none is longer. */
const MAX_META = 1024 * 1024;
/** PATH_MAX: a longer name or link target is no file an image archive holds. */
const MAX_NAME = 4096;
const MAX_LINK_HOPS = 40;

interface TarEntry {
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  /** where the contents start in the file */
  offset: number;
  size: number;
  link?: string;
}

/** A name as the archive's root sees it: no leading "./" or "/", no "." parts; undefined: it leaves the root. */
function normalize(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/$/, "");
  return n.split("/").includes("..") ? undefined : n;
}

function field(h: Buffer, start: number, len: number): string {
  const end = h.indexOf(0, start);
  return h.toString("utf8", start, end < 0 || end > start + len ? start + len : end);
}

function number(h: Buffer, start: number, len: number, what: string): number {
  if (h[start]! & 0x80) {
    // base-256, big-endian, for sizes past the octal field's 8 GiB
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + h[i]!;
    if (!Number.isSafeInteger(v)) throw new PoddError(`${what}: a size past what podd reads`, { code: "Invalid" });
    return v;
  }
  const s = field(h, start, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new PoddError(`${what}: "${s}" is not an octal number`, { code: "Invalid" });
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const s = field(h, 148, 8).trim();
  return /^[0-7]+$/.test(s) && parseInt(s, 8) === sum;
}

/** "key=value" records of a pax header: "LEN key=value\n" each. */
function paxRecords(data: Buffer, what: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = sp < 0 ? NaN : Number(data.toString("ascii", at, sp));
    if (!Number.isSafeInteger(len) || len <= sp - at || at + len > data.length) throw new PoddError(`${what}: a damaged pax header`, { code: "Invalid" });
    const rec = data.toString("utf8", sp + 1, at + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/** len bytes of fd from offset, fewer at its end. */
function readAt(fd: number, offset: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}

/** Whether the first block of a file is a tar header (its checksum holds). */
export function looksLikeTar(head: Buffer): boolean {
  return head.length >= BLOCK && checksumOk(head.subarray(0, BLOCK));
}

export class TarIndex {
  private readonly entries = new Map<string, TarEntry>();

  /** fd stays open until close(): what is read later is the file that was scanned, not one put in its place. */
  private constructor(private readonly fd: number, private readonly what: string) {}

  /** Scans the headers of the tar at path. */
  static open(path: string, what: string): TarIndex {
    return TarIndex.scanned(openSync(path, "r"), what);
  }

  /** The same, or undefined when the file does not begin with a tar header (a compressed archive): one open of it either way. */
  static openIfTar(path: string, what: string): TarIndex | undefined {
    const fd = openSync(path, "r");
    let tar: boolean;
    try {
      tar = looksLikeTar(readAt(fd, 0, BLOCK));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (tar) return TarIndex.scanned(fd, what);
    closeSync(fd);
    return undefined;
  }

  private static scanned(fd: number, what: string): TarIndex {
    const index = new TarIndex(fd, what);
    try {
      index.scan(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return index;
  }

  close(): void {
    closeSync(this.fd);
  }

  private scan(fd: number): void {
    const end = fstatSync(fd).size;
    let at = 0;
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (let headers = 0; ; headers++) {
      if (headers >= MAX_HEADERS) throw new PoddError(`${this.what}: more than ${MAX_HEADERS} entries, more than any image archive has`, { code: "Invalid" });
      // The end blocks may be missing, as some writers leave them out: the end of the file then ends it.
      if (at === end) return;
      const h = readAt(fd, at, BLOCK);
      if (h.length < BLOCK) throw new PoddError(`${this.what}: the archive ends in the middle of a header (truncated?)`, { code: "Invalid" });
      if (h.every((b) => b === 0)) return;
      if (!checksumOk(h)) throw new PoddError(`${this.what}: a damaged tar header at byte ${at}`, { code: "Invalid" });
      const type = String.fromCharCode(h[156]!);
      const size = pax.has("size") ? Number(pax.get("size")) : number(h, 124, 12, this.what);
      if (!Number.isSafeInteger(size) || size < 0) throw new PoddError(`${this.what}: an entry of size "${pax.get("size")}"`, { code: "Invalid" });
      const data = at + BLOCK;
      const next = data + Math.ceil(size / BLOCK) * BLOCK;
      if (data + size > end) throw new PoddError(`${this.what}: the archive ends in the middle of an entry (truncated?)`, { code: "Invalid" });
      if (type === "x" || type === "L" || type === "K") {
        if (size > MAX_META) throw new PoddError(`${this.what}: a ${size}-byte extended header`, { code: "Invalid" });
        const body = readAt(fd, data, size);
        if (type === "x") pax = paxRecords(body, this.what);
        else if (type === "L") longName = field(body, 0, size);
        else longLink = field(body, 0, size);
        at = next;
        continue;
      }
      if (type !== "g") {
        const ustar = h.toString("ascii", 257, 263) === "ustar\0";
        const prefix = ustar ? field(h, 345, 155) : "";
        const raw = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
        const link = pax.get("linkpath") ?? longLink ?? field(h, 157, 100);
        if (raw.length > MAX_NAME || link.length > MAX_NAME) throw new PoddError(`${this.what}: a name or link of more than ${MAX_NAME} bytes`, { code: "Invalid" });
        const name = normalize(raw);
        if (name !== undefined && name !== "") {
          const kind: TarEntry["type"] = type === "0" || type === "\0" || type === "7" ? "file" : type === "5" ? "dir" : type === "2" ? "symlink" : type === "1" ? "hardlink" : "other";
          this.entries.set(name, { type: kind, offset: data, size: kind === "file" ? size : 0, ...(kind === "symlink" || kind === "hardlink" ? { link } : {}) });
        }
      }
      pax = new Map();
      longName = longLink = undefined;
      at = next;
    }
  }

  /** The regular file a name leads to, through links that stay inside the archive. */
  private resolve(rel: string): { entry: TarEntry; name: string } | undefined {
    let name = normalize(rel);
    for (let hop = 0; name !== undefined && hop <= MAX_LINK_HOPS; hop++) {
      if (name.length > MAX_NAME) return undefined;
      // A parent that is a symlink: follow it first. The prefix grows a part at a time.
      const parts = name.split("/");
      let redirected: string | undefined | null = null;
      for (let i = 1, prefix = parts[0]!; i < parts.length; prefix += `/${parts[i]}`, i++) {
        const dir = this.entries.get(prefix);
        if (dir?.type !== "symlink") continue;
        const base = dir.link!.startsWith("/") ? dir.link! : posix.join(posix.dirname(prefix), dir.link!);
        redirected = normalize(posix.join(base, ...parts.slice(i)));
        break;
      }
      if (redirected !== null) {
        name = redirected;
        continue;
      }
      const e = this.entries.get(name);
      if (!e) return undefined;
      if (e.type === "file") return { entry: e, name };
      // An absolute target means the archive's root: nothing here reads outside the tar anyway.
      if (e.type === "symlink") name = normalize(e.link!.startsWith("/") ? e.link! : posix.join(posix.dirname(name), e.link!));
      else if (e.type === "hardlink") name = normalize(e.link!);
      else return undefined;
    }
    return undefined;
  }

  has(rel: string): boolean {
    return this.resolve(rel) !== undefined;
  }

  private file(rel: string): TarEntry {
    const r = this.resolve(rel);
    if (!r) throw new PoddError(`${this.what}: "${rel}" is not in the archive`, { code: "Invalid" });
    return r.entry;
  }

  size(rel: string): number {
    return this.file(rel).size;
  }

  /** A file's contents; the caller bounds the size first. */
  readFile(rel: string): Buffer {
    const e = this.file(rel);
    const b = readAt(this.fd, e.offset, e.size);
    if (b.length < e.size) throw new PoddError(`${this.what}: the archive ends in the middle of "${rel}" (truncated?)`, { code: "Invalid" });
    return b;
  }

  open(rel: string): Readable {
    const e = this.file(rel);
    return e.size === 0 ? Readable.from([]) : createReadStream("", { fd: this.fd, autoClose: false, start: e.offset, end: e.offset + e.size - 1, highWaterMark: 256 * 1024 });
  }
}
