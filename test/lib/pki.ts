// A throw-away certificate authority for the image tests, made with the openssl command line:
// a CA, server certificates for 127.0.0.1 and localhost (a registry's TLS), and signing
// certificates (a token issuer's key, which the registry trusts through the CA).
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tool } from "./tool.ts";

export interface TestCa {
  dir: string;
  /** the CA certificate (PEM): what a client is told to trust */
  certFile: string;
  keyFile: string;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
}

export type CertUsage = "server" | "signing";

// Our own config, never the machine's openssl.cnf, so a site policy cannot change what is made.
// Every key is P-256: fast to make, and accepted everywhere a test needs it (TLS, ES256 tokens).
const config = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = podd-test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @server_names
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_names]
IP.1 = 127.0.0.1
DNS.1 = localhost
[signing_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const keyArgs = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function configFile(dir: string): string {
  const path = join(dir, "openssl.cnf");
  writeFileSync(path, config);
  return path;
}

/** Makes a CA (key and self-signed certificate) in dir, valid for three days. */
export async function makeCa(dir: string, commonName = "podd test CA"): Promise<TestCa> {
  mkdirSync(dir, { recursive: true });
  const ca = { dir, certFile: join(dir, "ca.crt"), keyFile: join(dir, "ca.key") };
  const cnf = configFile(dir);
  await tool("openssl", ["req", "-x509", "-new", ...keyArgs, "-keyout", ca.keyFile, "-out", ca.certFile, "-days", "3", "-config", cnf, "-extensions", "ca_ext", "-subj", `/CN=${commonName}`]);
  return ca;
}

/**
 * Issues a certificate signed by ca, with its key, as dir/<name>.crt and dir/<name>.key.
 * "server" certificates name 127.0.0.1 (an IP SAN) and localhost; "signing" ones only sign.
 */
export async function issueCert(ca: TestCa, name: string, usage: CertUsage): Promise<TestCert> {
  const cert = { certFile: join(ca.dir, `${name}.crt`), keyFile: join(ca.dir, `${name}.key`) };
  const csr = join(ca.dir, `${name}.csr`);
  const cnf = configFile(ca.dir);
  await tool("openssl", ["req", "-new", ...keyArgs, "-keyout", cert.keyFile, "-out", csr, "-config", cnf, "-subj", `/CN=${usage === "server" ? "127.0.0.1" : name}`]);
  await tool("openssl", [
    "x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile,
    // A random serial, as a CA must not reuse one; a serial file would be state to clean up.
    "-set_serial", `0x${randomBytes(8).toString("hex")}`,
    "-days", "3", "-extfile", cnf, "-extensions", `${usage}_ext`, "-out", cert.certFile,
  ]);
  return cert;
}
