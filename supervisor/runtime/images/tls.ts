// The certificates a registry's TLS is checked against: what the machine trusts, which is Node's
// own bundle plus the system store (where an administrator's CAs land with
// update-ca-certificates), plus the `ca` file a registry's settings name. Node's `ca` option
// replaces its bundle rather than adding to it, so every context lists all of them.
import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { hasErrno, PoddError } from "../../base/errors.ts";

export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";
const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;

const systemBundles = new Map<string, string | undefined>();

/** The PEM text of the system store at file, read once per process; undefined when there is none. */
export function systemCertificates(file: string = SYSTEM_CA_FILE): string | undefined {
  if (systemBundles.has(file)) return systemBundles.get(file);
  let text: string | undefined;
  try {
    text = readPem(file);
  } catch (err) {
    // A machine without the system bundle (a minimal image) trusts Node's bundle alone.
    if (!hasErrno(err, "ENOENT")) throw PoddError.wrap(`read the system CA certificates ${file}`, err);
  }
  systemBundles.set(file, text);
  return text;
}

function readPem(file: string): string {
  const text = readFileSync(file, "utf8");
  if (text.length > MAX_CA_FILE_BYTES) throw new PoddError(`${file}: larger than ${MAX_CA_FILE_BYTES} bytes`, { code: "Invalid", path: file });
  return text;
}

/**
 * A secure context that trusts Node's bundle, the system store and, when given, the CA file a
 * registry's settings name (what: the setting, for messages). Building one parses some hundred
 * certificates, so callers keep it: one for every host without a CA file, one per CA file.
 */
export function trustContext(opts: { systemFile?: string; caFile?: string; what?: string } = {}): SecureContext {
  const ca: string[] = [...rootCertificates];
  const system = systemCertificates(opts.systemFile);
  if (system) ca.push(system);
  if (opts.caFile !== undefined) {
    let extra: string;
    try {
      extra = readPem(opts.caFile);
    } catch (err) {
      throw PoddError.wrap(`read CA file ${opts.caFile}${opts.what ? ` (${opts.what})` : ""}`, err, "Invalid");
    }
    if (!extra.includes("-----BEGIN CERTIFICATE-----")) {
      throw new PoddError(`CA file ${opts.caFile}${opts.what ? ` (${opts.what})` : ""} holds no PEM certificate`, { code: "Invalid", path: opts.caFile });
    }
    ca.push(extra);
  }
  try {
    return createSecureContext({ ca });
  } catch (err) {
    throw PoddError.wrap(`load CA certificates${opts.caFile ? ` from ${opts.caFile}` : ""}`, err, "Invalid");
  }
}
