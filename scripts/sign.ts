/**
 * Authenticode-signs the release files (winagentUSM.exe, the MSI) with osslsigncode (Debian
 * package osslsigncode), when a signing certificate is configured; otherwise says so visibly
 * (a GitHub Actions `::warning::` line) and leaves the files unsigned.
 *
 * Usage: deno run -A scripts/sign.ts <file>...
 * Environment:
 *   SIGN_PFX_BASE64    the PKCS#12 (.pfx) file, base64 (a repository secret); or
 *   SIGN_PFX           its path
 *   SIGN_PFX_PASSWORD  its password (given to osslsigncode in a file readable only by this user,
 *                      never on a command line)
 *   SIGN_TIMESTAMP_URL an RFC 3161 time-stamp server (optional; recommended, so the signature
 *                      outlives the certificate)
 *
 * @module
 */
import { join } from "node:path";

/** How {@link signFile} signs. */
export interface SignOptions {
  /** Path of the PKCS#12 file. */
  pfx: string;
  password: string;
  /** The description shown in the UAC prompt and the file's properties. */
  description?: string;
  /** A URL with more about the signed content. */
  url?: string;
  /** RFC 3161 time-stamp server. */
  timestampUrl?: string;
}

async function osslsigncode(args: string[]): Promise<{ ok: boolean; output: string }> {
  let result;
  try {
    result = await new Deno.Command("osslsigncode", { args, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("osslsigncode is not installed: apt-get install -y osslsigncode");
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    ok: result.success,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/** Signs `file` in place (SHA-256), through a temporary file beside it. */
export async function signFile(file: string, options: SignOptions): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "usm-sign-" });
  const passFile = join(dir, "pass");
  const signed = `${file}.signed`;
  try {
    await Deno.writeTextFile(passFile, options.password, { mode: 0o600 });
    const args = ["sign", "-pkcs12", options.pfx, "-readpass", passFile, "-h", "sha256"];
    if (options.description) args.push("-n", options.description);
    if (options.url) args.push("-i", options.url);
    if (options.timestampUrl) args.push("-ts", options.timestampUrl);
    args.push("-in", file, "-out", signed);
    const { ok, output } = await osslsigncode(args);
    if (!ok) throw new Error(`osslsigncode could not sign ${file}:\n${output.trim()}`);
    await Deno.rename(signed, file);
  } finally {
    await Deno.remove(signed).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** `osslsigncode verify`: the signature is intact and chains to `caFile` (a PEM). */
export async function verifySignature(
  file: string,
  caFile: string,
): Promise<{ ok: boolean; output: string }> {
  return await osslsigncode(["verify", "-in", file, "-CAfile", caFile]);
}

/** The signing configuration from the environment, or undefined when there is none. */
export async function signingFromEnv(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<SignOptions | undefined> {
  let pfx = env("SIGN_PFX");
  const base64 = env("SIGN_PFX_BASE64");
  if (!pfx && base64) {
    pfx = await Deno.makeTempFile({ prefix: "usm-sign-", suffix: ".pfx" });
    await Deno.chmod(pfx, 0o600);
    const binary = atob(base64.replace(/\s+/g, ""));
    await Deno.writeFile(pfx, Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  }
  if (!pfx) return undefined;
  return {
    pfx,
    password: env("SIGN_PFX_PASSWORD") ?? "",
    description: "User Session Monitor Agent",
    timestampUrl: env("SIGN_TIMESTAMP_URL") || undefined,
  };
}

/** The line GitHub Actions shows as a warning on the run's summary. */
export const UNSIGNED_WARNING =
  "::warning title=Unsigned release::No signing certificate is configured (secrets SIGN_PFX_BASE64 and SIGN_PFX_PASSWORD): winagentUSM.exe and the MSI are NOT signed; Windows SmartScreen and some endpoint protection will warn about or block them";

if (import.meta.main) {
  const files = Deno.args;
  const options = await signingFromEnv();
  if (!options) {
    console.log(UNSIGNED_WARNING);
    Deno.exit(0);
  }
  try {
    for (const file of files) {
      await signFile(file, options);
      console.log(`Signed ${file}${options.timestampUrl ? " (time-stamped)" : ""}`);
    }
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  } finally {
    if (!Deno.env.get("SIGN_PFX")) await Deno.remove(options.pfx).catch(() => {});
  }
}
