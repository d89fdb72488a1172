// A small tar writer for the unpack tests: ustar headers with pax 'x' records, GNU headers
// with 'L'/'K' long names, v7 headers, and every field open to being set wrong on purpose,
// so each hostile archive is exactly the bytes the test means.

export const BLOCK = 512;

export type TarFormat = "pax" | "gnu" | "v7";

export interface TarEntry {
  name: string;
  /** The type flag, one character: "0" (default), "1" hard link, "2" symlink, "5" directory... */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds; a fraction (or a name that does not fit) is carried in a pax record. */
  mtime?: number;
  data?: Buffer | string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra pax records for this entry (SCHILY.xattr.*, a size that lies...). */
  pax?: Record<string, string | Buffer>;
  /** "pax" (default): ustar headers, pax records for what they cannot hold; "gnu": GNU
   * headers with 'L' and 'K' for long names; "v7": no magic, no prefix. */
  format?: TarFormat;
  /** The size field, when it should not be the data's length. */
  size?: number;
  /** Write a wrong checksum. */
  badChecksum?: boolean;
}

/** A numeric field: octal when it fits (with a NUL), else GNU base-256. */
function numeric(value: number | bigint, len: number): Buffer {
  const v = BigInt(value);
  const octal = v.toString(8);
  if (v >= 0n && octal.length <= len - 1) return Buffer.from(octal.padStart(len - 1, "0") + "\0", "latin1");
  const out = Buffer.alloc(len);
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  out[0] = v < 0n ? 0xff : 0x80;
  return out;
}

export interface HeaderFields {
  name: string;
  type: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number | bigint;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  prefix?: string;
  format?: TarFormat;
  badChecksum?: boolean;
}

/** One 512-byte header block, checksum included (or deliberately wrong). */
export function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  const put = (s: string | Buffer, at: number, len: number) => {
    const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
    if (b.length > len) throw new Error(`tar-writer: ${JSON.stringify(s)} does not fit in ${len} bytes`);
    b.copy(h, at);
  };
  put(f.name, 0, 100);
  put(numeric(f.mode ?? 0o644, 8), 100, 8);
  put(numeric(f.uid ?? 0, 8), 108, 8);
  put(numeric(f.gid ?? 0, 8), 116, 8);
  put(numeric(f.size ?? 0, 12), 124, 12);
  put(numeric(Math.floor(f.mtime ?? 0), 12), 136, 12);
  h.write(f.type, 156, 1, "latin1");
  put(f.linkname ?? "", 157, 100);
  const format = f.format ?? "pax";
  if (format === "pax") {
    put("ustar\x0000", 257, 8);
  } else if (format === "gnu") {
    put("ustar  \0", 257, 8);
  }
  if (format !== "v7") {
    put("root", 265, 32);
    put("root", 297, 32);
    put(numeric(f.devmajor ?? 0, 8), 329, 8);
    put(numeric(f.devminor ?? 0, 8), 337, 8);
  }
  if (f.prefix) put(f.prefix, 345, 155);
  h.fill(" ", 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (f.badChecksum) sum += 1;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

export function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** pax records, "LEN KEY=VALUE\n" each, LEN counting the whole record. */
export function paxRecords(records: Record<string, string | Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    out.push(Buffer.concat([Buffer.from(String(len)), body]));
  }
  return Buffer.concat(out);
}

/** The blocks of one entry: its pax or GNU long-name headers, its header, its padded data. */
export function entry(e: TarEntry): Buffer {
  const format = e.format ?? "pax";
  const data = typeof e.data === "string" ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
  const out: Buffer[] = [];
  const pax: Record<string, string | Buffer> = {};
  let name = e.name;
  let linkname = e.linkname ?? "";
  const nameFits = Buffer.byteLength(name) <= 100;
  const linkFits = Buffer.byteLength(linkname) <= 100;
  if (format === "gnu") {
    if (!nameFits) {
      const n = Buffer.from(name + "\0");
      out.push(header({ name: "././@LongLink", type: "L", size: n.length, format }), pad(n));
      name = name.slice(0, 100);
    }
    if (!linkFits) {
      const n = Buffer.from(linkname + "\0");
      out.push(header({ name: "././@LongLink", type: "K", size: n.length, format }), pad(n));
      linkname = linkname.slice(0, 100);
    }
  } else if (format === "pax") {
    if (!nameFits) {
      pax.path = name;
      name = name.slice(0, 100);
    }
    if (!linkFits) {
      pax.linkpath = linkname;
      linkname = linkname.slice(0, 100);
    }
    if (e.mtime !== undefined && !Number.isInteger(e.mtime)) pax.mtime = String(e.mtime);
  }
  Object.assign(pax, e.pax ?? {});
  if (Object.keys(pax).length) {
    const records = paxRecords(pax);
    out.push(header({ name: `PaxHeaders/${name.slice(0, 80)}`, type: "x", size: records.length }), pad(records));
  }
  out.push(
    header({
      name,
      type: e.type ?? "0",
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      size: e.size ?? data.length,
      mtime: e.mtime,
      linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      format,
      badChecksum: e.badChecksum,
    }),
    pad(data),
  );
  return Buffer.concat(out);
}

/** The end-of-archive marker: two zero blocks. */
export const END = Buffer.alloc(2 * BLOCK);

/** A whole archive: the entries (or raw blocks), then the end marker. */
export function tar(entries: Array<TarEntry | Buffer>, end = true): Buffer {
  return Buffer.concat([...entries.map((e) => (Buffer.isBuffer(e) ? e : entry(e))), end ? END : Buffer.alloc(0)]);
}
