/**
 * `--pin-server-cert`: reads the certificate a server presents, without checking it and without
 * sending a request, so the administrator can compare its fingerprint and pin it.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { type Clock, systemClock } from "../clock.ts";
import { DEFAULT_TIMEOUT_MS } from "./transport.ts";
import { normalizeFingerprint, safeCause, TransportError } from "./transport_error.ts";

/** The certificate a server presents, for `--pin-server-cert`. */
export interface ServerCertificate {
  /** e.g. "CN=localhost". */
  subject: string;
  issuer: string;
  /** As the TLS stack prints it, e.g. "Apr 27 08:06:14 2025 GMT". */
  validFrom: string;
  validTo: string;
  /** SHA-256 of the DER certificate: lowercase hex without colons. */
  sha256: string;
  /** Subject and issuer are the same name (the reference server's own certificate). */
  selfSigned: boolean;
}

function describeName(name: Record<string, string | string[]> | undefined): string {
  if (!name) return "";
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join("+") : value}`)
    .join(", ");
}

/**
 * Connects to `url` without checking its certificate and returns the certificate it presents,
 * for the administrator to compare and pin (`--pin-server-cert`). Sends no request.
 *
 * @throws {TypeError} when `url` is not an https URL.
 * @throws {TransportError} when the server cannot be reached or the handshake fails.
 */
export function fetchServerCertificate(
  url: string,
  options: { timeoutMs?: number; clock?: Clock } = {},
): Promise<ServerCertificate> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Invalid server_url "${url}": expected a URL such as https://host:8000`);
  }
  if (parsed.protocol !== "https:") {
    throw new TypeError(`Cannot pin the certificate of ${url}: it is not an https URL`);
  }
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  return new Promise<ServerCertificate>((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port: Number(parsed.port || 443),
      servername: net.isIP(hostname) ? undefined : hostname,
      rejectUnauthorized: false,
    });
    let done = false;
    const finish = (error: Error | null, certificate?: ServerCertificate) => {
      if (done) return;
      done = true;
      timer.cancel();
      socket.destroy();
      if (certificate) resolve(certificate);
      else reject(error);
    };
    const timer = clock.after(timeoutMs, () => {
      finish(
        new TransportError(
          "timeout",
          `No TLS handshake with ${parsed.origin} within ${timeoutMs / 1000} s: check server_url`,
        ),
      );
    });
    socket.once("secureConnect", () => {
      const peer = socket.getPeerCertificate();
      if (!peer || !peer.fingerprint256) {
        finish(new TransportError("tls", `${parsed.origin} presented no certificate`));
        return;
      }
      const subject = describeName(peer.subject as unknown as Record<string, string>);
      const issuer = describeName(peer.issuer as unknown as Record<string, string>);
      finish(null, {
        subject,
        issuer,
        validFrom: peer.valid_from,
        validTo: peer.valid_to,
        sha256: normalizeFingerprint(peer.fingerprint256),
        selfSigned: subject === issuer,
      });
    });
    socket.once("error", (error) => {
      finish(
        new TransportError(
          "network",
          `Cannot reach ${parsed.origin}: ${error.message}; check server_url and that the server is running`,
          { cause: safeCause(error) },
        ),
      );
    });
  });
}
