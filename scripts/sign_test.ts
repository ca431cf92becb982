/**
 * The signing step of the release, on Linux: a test CA and a code-signing certificate made here
 * with openssl, deno.exe (npm @deno/win32-x64) and an MSI signed with osslsigncode and verified
 * with `osslsigncode verify`; a changed byte breaks the signature.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildMsi } from "./msi.ts";
import { signFile, signingFromEnv, UNSIGNED_WARNING, verifySignature } from "./sign.ts";
import { windowsDenoExe } from "./windows_pe.ts";

function installed(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}
const haveTools = installed("osslsigncode", ["--version"]) && installed("openssl", ["version"]);
const pe = await windowsDenoExe();
const skip = !haveTools
  ? "osslsigncode or openssl not installed (apt-get install -y osslsigncode openssl)"
  : "missing" in pe
  ? pe.missing
  : undefined;
if (skip) console.warn(`scripts/sign_test.ts: signing tests skipped: ${skip}`);
const haveWixl = installed("wixl", ["--version"]) && installed("msiinfo", ["--help"]);

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  assert.ok(result.success, `openssl ${args[0]}: ${new TextDecoder().decode(result.stderr)}`);
}

/** A test CA and a code-signing certificate it issued, as ca.pem and signer.pfx. */
async function testCertificate(dir: string, password: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=USM Test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ], dir);
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=USM Test Signer",
    "-keyout",
    "signer.key",
    "-out",
    "signer.csr",
  ], dir);
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "signer.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
    "-out",
    "signer.pem",
  ], dir);
  await openssl([
    "pkcs12",
    "-export",
    "-inkey",
    "signer.key",
    "-in",
    "signer.pem",
    "-certfile",
    "ca.pem",
    "-passout",
    `pass:${password}`,
    "-out",
    "signer.pfx",
  ], dir);
}

Deno.test("no certificate configured: nothing to sign with, and the warning is a GitHub one", async () => {
  assert.equal(await signingFromEnv(() => undefined), undefined);
  assert.match(UNSIGNED_WARNING, /^::warning title=[^:]+::.*NOT signed/);
});

Deno.test({
  name: "exe and MSI are signed with a test certificate and verify; a changed byte does not",
  ignore: skip !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-sign-test-" });
    try {
      const password = "test-pass-0123";
      await testCertificate(dir, password);
      const pfxBase64 = btoa(String.fromCharCode(...await Deno.readFile(join(dir, "signer.pfx"))));
      const options = await signingFromEnv((name) =>
        ({ SIGN_PFX_BASE64: pfxBase64, SIGN_PFX_PASSWORD: password } as Record<string, string>)[
          name
        ]
      );
      assert.ok(options);
      const exe = join(dir, "winagentUSM.exe");
      await Deno.copyFile((pe as { path: string }).path, exe);
      const files = [exe];
      if (haveWixl) {
        files.push(await buildMsi({ exe, version: "0.0.1", output: join(dir, "agent.msi") }));
      } else {
        console.warn("sign_test: wixl not installed, the MSI is not signed in this run");
      }
      for (const file of files) {
        const t0 = performance.now();
        await signFile(file, options);
        console.log(
          `measured: signed ${file.split("/").pop()} (${
            ((await Deno.stat(file)).size / 1048576).toFixed(1)
          } MiB) in ${(performance.now() - t0).toFixed(0)} ms`,
        );
        const verified = await verifySignature(file, join(dir, "ca.pem"));
        assert.ok(verified.ok, verified.output);
        assert.match(verified.output, /Signature verification: ok/);
        assert.match(verified.output, /USM Test Signer/);
      }
      // One changed byte in the signed exe: the signature no longer verifies.
      const bytes = await Deno.readFile(exe);
      bytes[4096] ^= 0xff;
      await Deno.writeFile(exe, bytes);
      assert.equal((await verifySignature(exe, join(dir, "ca.pem"))).ok, false);
      await Deno.remove(options.pfx);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
