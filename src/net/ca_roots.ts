/**
 * The root certificates that verify the server, as config.ini chooses them: tls_ca_file (which
 * replaces the store), the operating system's store (tls_ca_store = system), or none, meaning
 * Deno's built-in Mozilla roots.
 *
 * @module
 */
import tls from "node:tls";
import type { Config } from "../config/config.ts";

/**
 * The roots that verify the server, as PEM text: tls_ca_file's when it is set (it replaces the
 * store), else with tls_ca_store = system the operating system's store (`node:tls`
 * `getCACertificates("system")`: on Windows the machine's Trusted Root store; on Linux the file
 * SSL_CERT_FILE names, else the distribution's bundle; read once per process), else undefined:
 * Deno's built-in Mozilla roots.
 * @throws {Error} naming what cannot be read and why.
 */
export function readCaRoots(config: Pick<Config, "tlsCaFile" | "tlsCaStore">): string | undefined {
  if (config.tlsCaFile) return readCaFile(config.tlsCaFile);
  if (config.tlsCaStore !== "system") return undefined;
  let roots: string[];
  try {
    roots = (tls as unknown as { getCACertificates(type: string): string[] })
      .getCACertificates("system");
  } catch (error) {
    throw new Error(
      `Cannot read the system's certificate store (tls_ca_store = system): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  if (roots.length === 0) {
    throw new Error(
      "The system's certificate store (tls_ca_store = system) holds no certificate",
    );
  }
  return roots.join("\n");
}

/**
 * The PEM text of tls_ca_file.
 * @throws {Error} naming the file and why it cannot be read.
 */
export function readCaFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new Error(`Cannot read tls_ca_file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
