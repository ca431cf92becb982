/**
 * The agent's HTTP(S) client: POSTs to the server over one kept-alive connection, with the TLS
 * choices config.ini offers (Deno's built-in Mozilla roots, the system's store, a CA file, a
 * pinned certificate, or no check).
 *
 * Built on `node:tls` rather than `fetch`: the reference server's own certificate is
 * self-signed with basicConstraints CA:TRUE and no subjectAltName, which Deno's `fetch` refuses
 * even when it is given as a root (docs/server-contract.md, "TLS"). `node:tls` lets the agent
 * accept exactly that certificate by its SHA-256 fingerprint, checked on the TLS socket before the HTTP request (and so the API
 * key) is written. The request itself is written and read by http1.ts on that socket, which
 * stays the agent's: a time-out destroys it at whatever stage the request stalled.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { readCaRoots } from "./ca_roots.ts";
import { type Clock, systemClock, type Timer } from "../clock.ts";
import type { Config } from "../config/config.ts";
import {
  exchange,
  HttpParseError,
  type HttpResponse,
  NoAnswerError,
  requestBytes,
} from "./http1.ts";

export { readCaFile, readCaRoots } from "./ca_roots.ts";
export { type HttpResponse, MAX_BODY_BYTES } from "./http1.ts";

/** TLS and timing options of a {@link Transport}. */
export interface TransportOptions {
  /**
   * PEM roots (tls_ca_file's contents, or the system store's; several certificates in one text
   * work): the server's certificate must chain to one of these and match the host name. As with
   * Node's `ca`, these roots replace the default ones for this server (checked on Deno 2.9.6: a
   * root trusted by default, via DENO_CERT, is no longer trusted once `caPem` is given).
   * Without it, Deno's default root store is used: its built-in Mozilla roots (or the system's
   * when the process runs with DENO_TLS_CA_STORE=system).
   */
  caPem?: string;
  /**
   * tls_server_sha256 (64 hex digits, colons allowed; several separated by commas): accept
   * exactly the certificates with these SHA-256 fingerprints, whatever their issuer, name, dates
   * or CA flag (two during a rollover: the old certificate's and the new one's).
   */
  pinSha256?: string;
  /** tls_insecure: accept any certificate. */
  insecure?: boolean;
  /** Time allowed for one request, connection included (default 15000 ms). */
  timeoutMs?: number;
  /** Timers (default the system clock). */
  clock?: Clock;
}

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

/** Time allowed for one request or handshake by default. */
export const DEFAULT_TIMEOUT_MS = 15_000;

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

interface ConnectSettings {
  origin: string;
  host: string;
  port: number;
  /** TLS settings; undefined for http. */
  tls?: {
    servername: string | undefined;
    ca: string[] | undefined;
    verify: boolean;
    /** The accepted SHA-256 fingerprints; any one passes (a certificate rollover). */
    pins: string[] | undefined;
    /**
     * The TLS session of this server's last handshake, to resume: a server that closes every
     * connection (`Connection: close`) then costs an abbreviated handshake per request.
     */
    session?: Buffer;
    /** Handshakes that resumed a session. */
    resumed: number;
  };
}

/**
 * Opens a connection (TLS unless `settings.tls` is undefined) and resolves once it is connected
 * and, for TLS, the handshake passed and, when a pin is set, the certificate's fingerprint
 * matched: no request byte precedes the check. `opened` gets the socket at once, so that a
 * time-out can destroy it while the name is looked up, the connection made or the handshake
 * stalls.
 */
function connect(settings: ConnectSettings, opened: (socket: net.Socket) => void) {
  const secure = settings.tls;
  const socket = secure
    ? tls.connect({
      host: settings.host,
      port: settings.port,
      servername: secure.servername,
      ca: secure.ca,
      rejectUnauthorized: secure.verify,
      session: secure.session,
    })
    : net.connect({ host: settings.host, port: settings.port });
  // Only sessions of handshakes that passed every check are kept for resuming (the session may
  // be told before or after the check).
  let verified = false;
  let latest: Buffer | undefined;
  socket.on("session", (session: Buffer) => {
    latest = session;
    if (secure && verified) secure.session = session;
  });
  const passed = () => {
    verified = true;
    if (!secure) return;
    latest ??= (socket as tls.TLSSocket).getSession();
    if (latest) secure.session = latest;
    if ((socket as tls.TLSSocket).isSessionReused()) secure.resumed++;
  };
  opened(socket);
  return new Promise<net.Socket>((resolve, reject) => {
    const settle = (error: Error | null) => {
      socket.off("error", settle);
      socket.off("close", closed);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const closed = () => settle(new Error("connection closed before it was established"));
    socket.once(secure ? "secureConnect" : "connect", () => {
      const pins = secure?.pins;
      if (pins === undefined) {
        passed();
        return settle(null);
      }
      // A resumed session still names the certificate of the handshake it resumes.
      const seen = normalizeFingerprint(
        (socket as tls.TLSSocket).getPeerCertificate().fingerprint256 ?? "",
      );
      if (pins.includes(seen)) {
        passed();
        return settle(null);
      }
      secure!.session = undefined;
      settle(
        new TransportError(
          "pin-mismatch",
          `The certificate of ${settings.origin} does not match tls_server_sha256: it is ${
            seen || "(none)"
          }, expected ${
            pins.join(" or ")
          }; nothing was sent; if the server's certificate was replaced, check it and run winagentUSM.exe --pin-server-cert again`,
        ),
      );
    });
    socket.once("error", settle);
    socket.once("close", closed);
  });
}

/** Ignores a socket's late errors (after its exchange ended, it is only destroyed). */
function ignore(): void {}

/**
 * An HTTP(S) client for one server. One connection, kept alive and reused; requests queue
 * behind each other. Pinning and CA checks happen on the TLS handshake, before any request byte.
 */
export class Transport {
  #base: URL;
  #origin: string;
  #clock: Clock;
  #timeoutMs: number;
  #pins: string[] | undefined;
  #settings: ConnectSettings;
  /** The kept-alive connection between requests. */
  #idle: net.Socket | undefined;
  /** The sockets of the request in flight (connecting, or carrying it). */
  #active = new Set<net.Socket>();
  #closed = false;
  /** How far the request in flight got. */
  #stage: TransportStage = "connect";
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * @param baseUrl server_url, e.g. `https://192.168.27.1:8000`; paths are appended to it.
   * @throws {TypeError} when `baseUrl` is not an http or https URL, or the pin is not 64 hex digits.
   */
  constructor(baseUrl: string, options: TransportOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(
        `Invalid server_url "${baseUrl}": expected a URL such as https://192.168.27.1:8000`,
      );
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(
        `Invalid server_url "${baseUrl}": the scheme must be https or http`,
      );
    }
    this.#base = url;
    this.#origin = url.origin;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#clock = options.clock ?? systemClock;
    if (options.pinSha256 !== undefined) {
      const pins = options.pinSha256.split(",").map(normalizeFingerprint);
      if (!pins.every((pin) => /^[0-9a-f]{64}$/.test(pin))) {
        throw new TypeError(
          "Invalid tls_server_sha256: expected 64 hexadecimal digits, several separated by commas (run winagentUSM.exe --pin-server-cert)",
        );
      }
      this.#pins = pins;
    }
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const https = url.protocol === "https:";
    const verify = this.#pins === undefined && !options.insecure;
    this.#settings = {
      origin: this.#origin,
      host: hostname,
      port: Number(url.port || (https ? 443 : 80)),
      tls: https
        ? {
          servername: net.isIP(hostname) ? undefined : hostname,
          ca: verify && options.caPem ? [options.caPem] : undefined,
          verify,
          pins: this.#pins,
          resumed: 0,
        }
        : undefined,
    };
  }

  /** How many TLS handshakes resumed the session of an earlier one (for the benchmark). */
  get resumedHandshakes(): number {
    return this.#settings.tls?.resumed ?? 0;
  }

  /** The server's origin (scheme, host and port), as used in messages. */
  get origin(): string {
    return this.#origin;
  }

  /** The full URL a request to `path` goes to (server_url's path prefix included), for messages. */
  urlOf(path: string): string {
    const basePath = this.#base.pathname.replace(/\/+$/, "");
    return this.#origin + basePath + (path.startsWith("/") ? path : `/${path}`);
  }

  /**
   * POSTs `body` to `path` (relative to the base URL) and resolves with the answer, whatever its
   * status. Rejects with {@link TransportError} when there is no answer.
   */
  post(
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    // One request at a time: health checks and delivery share the one connection.
    const run = this.#queue.then(() => this.#send(path, body, headers));
    this.#queue = run.catch(ignore);
    return run;
  }

  /** Sends one request within the time allowed, or fails and frees all it held. */
  async #send(
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    if (this.#closed) {
      throw new TransportError("network", `The connection to ${this.#origin} was closed`);
    }
    const target = new URL(this.urlOf(path)).pathname + this.#base.search;
    const request = requestBytes(
      `POST ${target} HTTP/1.1`,
      { "Host": this.#base.host, ...headers, "Connection": "keep-alive" },
      body === undefined ? undefined : new TextEncoder().encode(body),
    );
    this.#stage = "connect";
    let timer: Timer | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.#clock.after(this.#timeoutMs, () => {
        reject(
          new TransportError(
            "timeout",
            `No answer from ${this.#origin} within ${
              this.#timeoutMs / 1000
            } s: check that the server is running and reachable`,
          ),
        );
        // Free whatever the request holds, at whatever stage it stalled (name lookup, connect,
        // TLS handshake, headers or body): its socket is closed, never reused.
        for (const socket of this.#active) socket.destroy();
      });
    });
    const work = this.#attempt(request);
    work.catch(ignore);
    try {
      return await Promise.race([work, timedOut]);
    } catch (error) {
      throw this.#wrap(error, this.#stage);
    } finally {
      timer?.cancel();
    }
  }

  /** Sends on the kept-alive connection, or once more on a new one if the server had closed it. */
  async #attempt(request: Uint8Array): Promise<HttpResponse> {
    const kept = this.#idle;
    this.#idle = undefined;
    if (kept && !kept.destroyed) {
      try {
        return await this.#exchangeOn(kept, request);
      } catch (error) {
        // The server closed the idle connection as it was reused: the request is sent again
        // on a new one (a duplicate is answered "already recorded").
        if (!(error instanceof NoAnswerError)) throw error;
      }
    }
    if (this.#closed) throw new Error("the transport was closed");
    const socket = await connect(this.#settings, (opened) => {
      opened.on("error", ignore);
      opened.once("connect", () => this.#stage = "handshake");
      this.#active.add(opened);
    });
    return await this.#exchangeOn(socket, request);
  }

  async #exchangeOn(socket: net.Socket, request: Uint8Array): Promise<HttpResponse> {
    this.#active.add(socket);
    this.#stage = "request";
    socket.ref();
    try {
      const { response, reusable } = await exchange(socket, request);
      if (reusable && !this.#closed) this.#keep(socket);
      else socket.destroy();
      return response;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      this.#active.delete(socket);
    }
  }

  /** Keeps `socket` for the next request, until the server closes it. */
  #keep(socket: net.Socket): void {
    this.#idle?.destroy();
    this.#idle = socket;
    socket.unref();
    socket.once("close", () => {
      if (this.#idle === socket) this.#idle = undefined;
    });
  }

  #wrap(error: unknown, stage: TransportStage): TransportError {
    if (error instanceof TransportError) {
      if (error.stage === stage) return error;
      return new TransportError(error.code, error.message, { cause: error.cause, stage });
    }
    const cause = safeCause(error);
    const detail = cause.message;
    if (error instanceof HttpParseError) {
      return new TransportError(
        "network",
        `${this.#origin} answered something that is not an HTTP answer: ${detail}; check server_url`,
        { cause, stage },
      );
    }
    if (isTlsError(error as NodeJS.ErrnoException)) {
      return new TransportError(
        "tls",
        `The certificate of ${this.#origin} is not trusted: ${detail}; if it is the server's own self-signed certificate, pin it with winagentUSM.exe --pin-server-cert (or set tls_ca_file to the CA that issued it)`,
        { cause, stage },
      );
    }
    return new TransportError(
      "network",
      `Cannot reach ${this.#origin}: ${detail}; check server_url and that the server is running`,
      { cause, stage },
    );
  }

  /** Closes the connection and refuses further requests. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#active) socket.destroy();
    this.#active.clear();
    this.#idle?.destroy();
    this.#idle = undefined;
  }
}

/** The settings of config.ini a {@link Transport} is made from. */
export type TransportSettings = Pick<
  Config,
  "serverUrl" | "tlsCaFile" | "tlsCaStore" | "tlsServerSha256" | "tlsInsecure"
>;

/** Options of {@link transportFor}. */
export interface TransportForOptions {
  /**
   * The roots when the caller has read them already (they are not read again): tls_ca_file's
   * contents, or the system store's (see {@link readCaRoots}).
   */
  caPem?: string;
  /** Time allowed for one request (default 15000 ms). */
  timeoutMs?: number;
}

/**
 * The transport for config.ini's server_url and TLS settings (the roots are read here unless
 * given: see {@link readCaRoots}).
 * @throws {Error} when tls_ca_file or the system store cannot be read.
 * @throws {TypeError} when server_url or tls_server_sha256 is invalid.
 */
export function transportFor(
  config: TransportSettings,
  options: TransportForOptions = {},
): Transport {
  const caPem = options.caPem ?? readCaRoots(config);
  return new Transport(config.serverUrl, {
    caPem,
    pinSha256: config.tlsServerSha256 || undefined,
    insecure: config.tlsInsecure,
    timeoutMs: options.timeoutMs,
  });
}
