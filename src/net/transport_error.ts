/**
 * The errors of a request that got no HTTP answer: where it failed, and a message that names
 * the server and the fix, never a request header (the API key).
 *
 * @module
 */
import { HttpParseError } from "./http1.ts";

/** The kinds of {@link TransportError}. */
export type TransportErrorCode = "network" | "tls" | "pin-mismatch" | "timeout";

/**
 * Where a request failed: making the TCP connection (the name lookup included: nothing reached
 * the server's software), the TLS handshake, or after the request was written.
 */
export type TransportStage = "connect" | "handshake" | "request";

/**
 * A request that got no HTTP answer. The message names the server and the fix; it never holds
 * a request header (the API key). `cause` is a copy of the underlying error's code and message.
 */
export class TransportError extends Error {
  override name = "TransportError";
  readonly code: TransportErrorCode;
  /** Where the request failed (default "request"). */
  readonly stage: TransportStage;

  constructor(
    code: TransportErrorCode,
    message: string,
    options?: ErrorOptions & { stage?: TransportStage },
  ) {
    super(message, options);
    this.code = code;
    this.stage = options?.stage ?? "request";
  }

  /**
   * Whether the request was written, so the server may have seen it; false when it failed
   * before a byte of it left (a refused connection, a name that does not resolve, a TLS
   * handshake or pin check that failed or stalled).
   */
  get requestSent(): boolean {
    return this.stage === "request";
  }
}

const TLS_ERROR_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Normalizes a SHA-256 fingerprint to lowercase hex without colons. */
export function normalizeFingerprint(value: string): string {
  return value.replaceAll(":", "").trim().toLowerCase();
}

function isTlsError(error: NodeJS.ErrnoException): boolean {
  const code = error.code ?? "";
  if (TLS_ERROR_CODES.has(code) || code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_")) {
    return true;
  }
  return /certificate|handshake|tls|ssl/i.test(error.message);
}

/** A cause that carries only the underlying code and message, never the request's options. */
export function safeCause(error: unknown): Error {
  const original = error as NodeJS.ErrnoException;
  const copy = new Error(String(original?.message ?? error)) as NodeJS.ErrnoException;
  if (original?.code) copy.code = original.code;
  return copy;
}

/**
 * The {@link TransportError} for `error` on a request to `origin` that failed at `stage`: its
 * message names the server and the fix.
 */
export function transportErrorOf(
  error: unknown,
  origin: string,
  stage: TransportStage,
): TransportError {
  if (error instanceof TransportError) {
    if (error.stage === stage) return error;
    return new TransportError(error.code, error.message, { cause: error.cause, stage });
  }
  const cause = safeCause(error);
  const detail = cause.message;
  if (error instanceof HttpParseError) {
    return new TransportError(
      "network",
      `${origin} answered something that is not an HTTP answer: ${detail}; check server_url`,
      { cause, stage },
    );
  }
  if (isTlsError(error as NodeJS.ErrnoException)) {
    return new TransportError(
      "tls",
      `The certificate of ${origin} is not trusted: ${detail}; if it is the server's own self-signed certificate, pin it with winagentUSM.exe --pin-server-cert (or set tls_ca_file to the CA that issued it)`,
      { cause, stage },
    );
  }
  return new TransportError(
    "network",
    `Cannot reach ${origin}: ${detail}; check server_url and that the server is running`,
    { cause, stage },
  );
}
