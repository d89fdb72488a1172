// The check kubectl makes before it creates a kubernetes.io/tls Secret: the certificate and
// the key load as a pair (Go's tls.X509KeyPair). A pair that does not match would only fail
// later, in whatever server mounts the Secret; refusing it here names the files at fault.
// The PEM scan and the messages follow Go's, so a user sees what kubectl would print.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { PoddError } from "../../base/errors.ts";

interface PemBlock {
  type: string;
  text: string;
}

// A block is BEGIN/END lines of the same type around base64 text; anything between blocks is
// skipped, as Go's pem.Decode skips it.
const PEM_BLOCK = /-----BEGIN ([^\r\n]*?)-----[\s\S]*?-----END \1-----/g;

export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1]!, text: m[0] }));
}

function refuse(message: string, cause?: unknown): PoddError {
  return new PoddError(message, { code: "Invalid", ...(cause === undefined ? {} : { cause }) });
}

/** Go prints a []string with %v as "[a b]". */
function goList(items: readonly string[]): string {
  return `[${items.join(" ")}]`;
}

/** The key types Go's TLS stack loads from a PEM private key. */
const TLS_KEY_TYPES = new Set(["rsa", "ec", "ed25519"]);

/**
 * Throws (code Invalid, Go's tls message) unless `certPem` holds a certificate and `keyPem` a
 * private key whose public half is the certificate's. Only the first certificate (the leaf)
 * is checked against the key, as Go does; intermediates after it are allowed.
 */
export function checkTlsKeyPair(certPem: string, keyPem: string): void {
  const certBlocks = pemBlocks(certPem);
  const certs = certBlocks.filter((b) => b.type === "CERTIFICATE");
  if (certs.length === 0) {
    const skipped = certBlocks.map((b) => b.type);
    if (skipped.length === 0) throw refuse("tls: failed to find any PEM data in certificate input");
    if (skipped.length === 1 && skipped[0]!.endsWith("PRIVATE KEY")) {
      throw refuse("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched");
    }
    throw refuse(`tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: ${goList(skipped)}`);
  }

  const keyBlocks = pemBlocks(keyPem);
  const keyBlock = keyBlocks.find((b) => b.type === "PRIVATE KEY" || b.type.endsWith(" PRIVATE KEY"));
  if (!keyBlock) {
    const skipped = keyBlocks.map((b) => b.type);
    if (skipped.length === 0) throw refuse("tls: failed to find any PEM data in key input");
    if (skipped.length === 1 && skipped[0] === "CERTIFICATE") throw refuse("tls: found a certificate rather than a key in the PEM for the private key");
    throw refuse(`tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: ${goList(skipped)}`);
  }

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0]!.text);
  } catch (err) {
    throw refuse("x509: malformed certificate", err);
  }
  let key: KeyObject;
  try {
    // An encrypted key fails here too (no passphrase is asked for), as it does in Go.
    key = createPrivateKey({ key: keyBlock.text, format: "pem" });
  } catch (err) {
    throw refuse("tls: failed to parse private key", err);
  }
  if (!TLS_KEY_TYPES.has(key.asymmetricKeyType ?? "")) throw refuse("tls: found unknown private key type in PKCS#8 wrapping");
  const publicType = cert.publicKey.asymmetricKeyType ?? "";
  if (!TLS_KEY_TYPES.has(publicType)) throw refuse("tls: unknown public key algorithm");
  if (publicType !== key.asymmetricKeyType) throw refuse("tls: private key type does not match public key type");
  if (!cert.checkPrivateKey(key)) throw refuse("tls: private key does not match public key");
}
