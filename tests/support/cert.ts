/**
 * Test certificates: one of the reference server's kind (self-signed RSA, CN=localhost, no
 * subjectAltName, basicConstraints CA:TRUE, 10 years, as docs/server-contract.md describes), and a proper
 * CA plus leaf pair for testing the agent's `tls_ca_file` option.
 *
 * Built with `@peculiar/x509` on WebCrypto. That package's dependency tsyringe insists on a
 * `Reflect.getMetadata` polyfill (normally `reflect-metadata`, which is not in deno.lock), so a
 * minimal one is installed before the package is loaded with a dynamic import.
 *
 * @module
 */

/** A certificate and its private key, PEM encoded. */
export interface GeneratedCertificate {
  /** The certificate, PEM. */
  certPem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex without colons. */
  sha256: string;
}

/** A leaf certificate and the CA certificate that signed it. */
export interface GeneratedCaSignedCertificate extends GeneratedCertificate {
  /** The CA certificate, PEM: the file to give as `tls_ca_file`. */
  caPem: string;
}

/** Options for the generators. */
export interface CertificateOptions {
  /** RSA modulus length in bits. */
  bits?: number;
}

type X509Module = typeof import("@peculiar/x509");

const TEN_YEARS_MS = 10 * 365.25 * 24 * 3600 * 1000;

let x509Module: Promise<X509Module> | undefined;
const referenceCache = new Map<number, Promise<GeneratedCertificate>>();
const caSignedCache = new Map<number, Promise<GeneratedCaSignedCertificate>>();

/**
 * Makes (once per process and bit size) a certificate of the reference server's kind:
 * self-signed RSA (4096 bits unless `bits` says otherwise), subject and issuer CN=localhost,
 * no subjectAltName, basicConstraints CA:TRUE (critical), valid for 10 years from now.
 */
export function generateReferenceCertificate(
  options: CertificateOptions = {},
): Promise<GeneratedCertificate> {
  const bits = checkBits(options.bits ?? 4096);
  let pending = referenceCache.get(bits);
  if (pending === undefined) {
    pending = makeReferenceCertificate(bits);
    referenceCache.set(bits, pending);
    pending.catch(() => referenceCache.delete(bits));
  }
  return pending;
}

/**
 * Makes (once per process and bit size) a CA (CA:TRUE, keyCertSign) and a leaf certificate it
 * signed (CA:FALSE, serverAuth, subjectAltName IP:127.0.0.1 and DNS:localhost), RSA 2048 bits
 * unless `bits` says otherwise. `sha256` is the leaf's fingerprint.
 */
export function generateCaSignedCertificate(
  options: CertificateOptions = {},
): Promise<GeneratedCaSignedCertificate> {
  const bits = checkBits(options.bits ?? 2048);
  let pending = caSignedCache.get(bits);
  if (pending === undefined) {
    pending = makeCaSignedCertificate(bits);
    caSignedCache.set(bits, pending);
    pending.catch(() => caSignedCache.delete(bits));
  }
  return pending;
}

function checkBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 1024 || bits % 8 !== 0) {
    throw new RangeError(
      `Invalid RSA key size: ${bits} bits, use a multiple of 8 of at least 1024 such as 2048`,
    );
  }
  return bits;
}

function rsaAlgorithm(bits: number): RsaHashedKeyGenParams {
  return {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: bits,
  };
}

async function makeReferenceCertificate(bits: number): Promise<GeneratedCertificate> {
  const x509 = await loadX509();
  const algorithm = rsaAlgorithm(bits);
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=localhost",
    notBefore,
    notAfter: new Date(notBefore.getTime() + TEN_YEARS_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return {
    certPem: cert.toString("pem"),
    keyPem: await privateKeyPem(keys.privateKey),
    sha256: await fingerprint(cert.rawData),
  };
}

async function makeCaSignedCertificate(bits: number): Promise<GeneratedCaSignedCertificate> {
  const x509 = await loadX509();
  const algorithm = rsaAlgorithm(bits);
  const caKeys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const leafKeys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + TEN_YEARS_MS);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=USM Test CA",
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: "CN=localhost",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "dns", value: "localhost" },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
    ],
  });
  return {
    caPem: ca.toString("pem"),
    certPem: leaf.toString("pem"),
    keyPem: await privateKeyPem(leafKeys.privateKey),
    sha256: await fingerprint(leaf.rawData),
  };
}

function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    installReflectMetadata();
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(crypto);
    return x509;
  })();
  return x509Module;
}

/** The three `Reflect` metadata functions tsyringe calls, kept in a WeakMap. */
function installReflectMetadata(): void {
  type MetadataReflect = typeof Reflect & {
    getMetadata?: (key: unknown, target: object) => unknown;
    getOwnMetadata?: (key: unknown, target: object) => unknown;
    defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  };
  const reflect = Reflect as MetadataReflect;
  if (typeof reflect.getMetadata === "function") return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  reflect.defineMetadata = (key, value, target) => {
    let entries = store.get(target);
    if (entries === undefined) store.set(target, entries = new Map());
    entries.set(key, value);
  };
  reflect.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  reflect.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const entries = store.get(t);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  };
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive INTEGER
  bytes[0] |= 0x01; // no leading zero byte
  return toHex(bytes);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key));
  const base64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN PRIVATE KEY-----\n${base64}\n-----END PRIVATE KEY-----\n`;
}

async function fingerprint(der: ArrayBuffer): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", der)));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
