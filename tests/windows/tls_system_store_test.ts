/**
 * tls_ca_store = system on Windows: the agent reads the Windows certificate store through
 * `node:tls` `getCACertificates("system")` (Windows and Wine), and a company CA added to the
 * machine's Trusted Root store (LocalMachine\ROOT, where Group Policy puts it) is trusted, while
 * with the default (Deno's built-in Mozilla roots) it is not (real Windows only: Wine 10 rebuilds
 * its ROOT store from the Unix host's certificates in every process, so a certificate added with
 * CertAddEncodedCertificateToStore is gone for the next process; measured). The CA is added with
 * crypt32 (declared here: test-only) and removed afterwards.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEV_PERMISSION_FLAGS } from "../../src/windows/mgr/installer.ts";
import { wide } from "../../ffi/wide.ts";
import { readCaRoots } from "../../src/net/ca_roots.ts";
import { generateCaSignedCertificate } from "../support/cert.ts";

const ignore = Deno.build.os !== "windows";

/** True under Wine (ntdll exports wine_get_version). */
function isWine(): boolean {
  try {
    Deno.dlopen("ntdll.dll", { wine_get_version: { parameters: [], result: "pointer" } }).close();
    return true;
  } catch {
    return false;
  }
}
const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));
const KEY = "usm-store-key-0123456789";

const CERT_STORE_PROV_SYSTEM_W = 10n;
const CERT_SYSTEM_STORE_LOCAL_MACHINE = 0x0002_0000;
const ENCODING = 0x0001_0001; // X509_ASN_ENCODING | PKCS_7_ASN_ENCODING
const CERT_STORE_ADD_REPLACE_EXISTING = 3;

function openCrypt32() {
  return Deno.dlopen(
    "crypt32.dll",
    {
      // HCERTSTORE CertOpenStore(LPCSTR provider, DWORD encoding, HCRYPTPROV_LEGACY prov, DWORD flags, const void *para)
      CertOpenStore: {
        parameters: ["pointer", "u32", "usize", "u32", "buffer"],
        result: "pointer",
      },
      // BOOL CertAddEncodedCertificateToStore(HCERTSTORE, DWORD encoding, const BYTE *der, DWORD size, DWORD disposition, PCCERT_CONTEXT *out)
      CertAddEncodedCertificateToStore: {
        parameters: ["pointer", "u32", "buffer", "u32", "u32", "buffer"],
        result: "i32",
      },
      // BOOL CertDeleteCertificateFromStore(PCCERT_CONTEXT) (frees the context)
      CertDeleteCertificateFromStore: { parameters: ["pointer"], result: "i32" },
      // BOOL CertCloseStore(HCERTSTORE, DWORD flags)
      CertCloseStore: { parameters: ["pointer", "u32"], result: "i32" },
    } as const,
  );
}

/** Adds the PEM certificate to LocalMachine\ROOT; returns the function that removes it. */
function trustInMachineRoot(pem: string): () => void {
  const der = Uint8Array.from(
    atob(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "")),
    (c) => c.charCodeAt(0),
  );
  const lib = openCrypt32();
  const store = lib.symbols.CertOpenStore(
    Deno.UnsafePointer.create(CERT_STORE_PROV_SYSTEM_W),
    0,
    0n,
    CERT_SYSTEM_STORE_LOCAL_MACHINE,
    wide("ROOT"),
  );
  assert.ok(store, "CertOpenStore(LocalMachine\\ROOT) failed");
  const out = new BigUint64Array(1);
  const added = lib.symbols.CertAddEncodedCertificateToStore(
    store,
    ENCODING,
    der,
    der.length,
    CERT_STORE_ADD_REPLACE_EXISTING,
    out,
  );
  assert.notEqual(added, 0, "CertAddEncodedCertificateToStore failed");
  return () => {
    lib.symbols.CertDeleteCertificateFromStore(Deno.UnsafePointer.create(out[0]));
    lib.symbols.CertCloseStore(store, 0);
    lib.close();
  };
}

async function healthCheckWith(store: string, url: string, dir: string): Promise<string> {
  const config = `${dir}\\config.ini`;
  await Deno.writeTextFile(
    config,
    `[API]\r\napi_key = ${KEY}\r\nserver_url = ${url}\r\ntls_ca_store = ${store}\r\ntimezone = UTC\r\n`,
  );
  // A config flag makes the CLI run a health check with config.ini's settings.
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...DEV_PERMISSION_FLAGS, MOD, "--config", config, "--debug", "true"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
}

Deno.test({
  name: "tls_ca_store = system reads the Windows certificate store",
  ignore,
  fn() {
    const pem = readCaRoots({ tlsCaFile: "", tlsCaStore: "system" })!;
    const count = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
    assert.ok(count > 10, `the Windows store gave ${count} certificates`);
    assert.equal(readCaRoots({ tlsCaFile: "", tlsCaStore: "mozilla" }), undefined);
  },
});

Deno.test({
  name: "tls_ca_store = system trusts a CA in the machine's Trusted Root store; mozilla does not",
  ignore: ignore || isWine(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cert = await generateCaSignedCertificate();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {}, cert: cert.certPem, key: cert.keyPem },
      () => Response.json({ status: "ok", message: "Health check passed" }),
    );
    const url = `https://127.0.0.1:${server.addr.port}`;
    const dir = await Deno.makeTempDir({ prefix: "usm-store-" });
    const untrust = trustInMachineRoot(cert.caPem);
    try {
      const system = await healthCheckWith("system", url, dir);
      assert.match(system, /Health check passed/, system);
      const mozilla = await healthCheckWith("mozilla", url, dir);
      assert.match(mozilla, /Health check failed: The certificate of .* is not trusted/, mozilla);
    } finally {
      untrust();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
