/**
 * The agent's HTTP(S) client: POSTs to the server over one kept-alive connection, with the TLS
 * choices config.ini offers (Deno's built-in Mozilla roots, the system's store, a CA file, a
 * pinned certificate, or no check).
 *
 * Built on `node:https` rather than `fetch`: the reference server's own certificate is
 * self-signed with basicConstraints CA:TRUE and no subjectAltName, which Deno's `fetch` refuses
 * even when it is given as a root (docs/server-contract.md, "TLS"). `node:tls` lets the agent accept exactly that
 * certificate by its SHA-256 fingerprint, checked on the TLS socket before the HTTP request (and
 * so the API key) is written.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { readCaRoots } from "./ca_roots.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config/config.ts";

export { readCaFile, readCaRoots } from "./ca_roots.ts";

/** One answer of the server. */
export interface HttpResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

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
 * A request that got no HTTP answer. The message names the server and the fix; it never holds
 * a request header (the API key). `cause` is a copy of the underlying error's code and message.
 */
export class TransportError extends Error {
  override name = "TransportError";
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Time allowed for one request or handshake by default. */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Answers are read up to this size, then the connection is dropped (the server's are a few hundred bytes). */
export const MAX_BODY_BYTES = 1024 * 1024;

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

type ConnectFn = (
  options: unknown,
  callback: (error: Error | null, socket?: net.Socket) => void,
) => undefined;

interface ConnectSettings {
  origin: string;
  host: string;
  port: number;
  servername: string | undefined;
  ca: string[] | undefined;
  verify: boolean;
  pins: string[] | undefined;
  connecting: Set<net.Socket>;
}

/**
 * Opens a TLS connection and passes it to `callback` once the handshake passed and, when a pin
 * is set, the certificate's fingerprint matched. The request's own options (its headers, so the
 * API key) are deliberately not used here.
 */
function connectVerified(
  settings: ConnectSettings,
  callback: (error: Error | null, socket?: net.Socket) => void,
): undefined {
  const socket = tls.connect({
    host: settings.host,
    port: settings.port,
    servername: settings.servername,
    ca: settings.ca,
    rejectUnauthorized: settings.verify,
  });
  settings.connecting.add(socket);
  let settled = false;
  const settle = (error: Error | null) => {
    if (settled) return;
    settled = true;
    settings.connecting.delete(socket);
    if (error) {
      socket.destroy();
      callback(error);
    } else {
      callback(null, socket);
    }
  };
  socket.once("secureConnect", () => {
    if (settings.pins !== undefined) {
      const seen = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? "");
      if (!settings.pins.includes(seen)) {
        settle(
          new TransportError(
            "pin-mismatch",
            `The certificate of ${settings.origin} does not match tls_server_sha256: it is ${
              seen || "(none)"
            }, expected ${
              settings.pins.join(" or ")
            }; nothing was sent; if the server's certificate was replaced, check it and run winagentUSM.exe --pin-server-cert again`,
          ),
        );
        return;
      }
    }
    settle(null);
  });
  socket.once("error", (error) => settle(error));
  socket.once("close", () => settle(new Error("connection closed during the TLS handshake")));
  return undefined;
}

/** Resolves in the next macrotask, after the HTTP agent has put a finished socket back. */
function nextTurn(clock: Clock): Promise<void> {
  return clock.sleep(0);
}

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
  #agent: http.Agent;
  #connecting = new Set<net.Socket>();
  #closed = false;
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
    const agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    if (url.protocol === "http:") {
      this.#agent = new http.Agent(agentOptions);
    } else {
      const hostname = url.hostname.replace(/^\[|\]$/g, "");
      const verify = this.#pins === undefined && !options.insecure;
      const settings: ConnectSettings = {
        origin: this.#origin,
        host: hostname,
        port: Number(url.port || 443),
        servername: net.isIP(hostname) ? undefined : hostname,
        ca: verify && options.caPem ? [options.caPem] : undefined,
        verify,
        pins: this.#pins,
        connecting: this.#connecting,
      };
      const agent = new https.Agent(agentOptions);
      // The callback form of createConnection: the agent hands the socket to the request only
      // once the handshake (and the pin check) passed, so no request byte precedes the check.
      (agent as unknown as { createConnection: ConnectFn }).createConnection = (
        _options,
        callback,
      ) => connectVerified(settings, callback);
      this.#agent = agent;
    }
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
    // One request at a time (health checks and delivery share the transport), and the next only
    // once the agent has taken the connection back: otherwise a request issued in the same turn
    // as the previous answer opens a second connection.
    const run = this.#queue.then(() => this.#send(path, body, headers));
    const turn = () => nextTurn(this.#clock);
    this.#queue = run.then(turn, turn);
    return run;
  }

  #send(
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    if (this.#closed) {
      return Promise.reject(
        new TransportError("network", `The connection to ${this.#origin} was closed`),
      );
    }
    const basePath = this.#base.pathname.replace(/\/+$/, "");
    const target = basePath + (path.startsWith("/") ? path : `/${path}`);
    const payload = body === undefined ? undefined : new TextEncoder().encode(body);
    const client = this.#base.protocol === "https:" ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      let done = false;
      const finish = (error: unknown, response?: HttpResponse) => {
        if (done) return;
        done = true;
        timer.cancel();
        if (response) resolve(response);
        else reject(this.#wrap(error));
      };
      const request = client.request({
        protocol: this.#base.protocol,
        host: this.#base.hostname.replace(/^\[|\]$/g, ""),
        port: this.#base.port || undefined,
        method: "POST",
        path: target + this.#base.search,
        agent: this.#agent,
        headers: {
          ...headers,
          "Connection": "keep-alive",
          "Content-Length": String(payload?.byteLength ?? 0),
        },
      }, (response) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        const answer = (): HttpResponse => {
          const bytes = new Uint8Array(Math.min(size, MAX_BODY_BYTES));
          let offset = 0;
          for (const chunk of chunks) {
            const part = chunk.subarray(0, bytes.byteLength - offset);
            bytes.set(part, offset);
            offset += part.byteLength;
          }
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value === undefined) continue;
            flat[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
          }
          return {
            status: response.statusCode ?? 0,
            headers: flat,
            body: new TextDecoder().decode(bytes),
          };
        };
        response.on("data", (chunk: Uint8Array) => {
          if (done) return;
          chunks.push(chunk);
          size += chunk.byteLength;
          if (size >= MAX_BODY_BYTES) {
            // Enough: no answer of the server is this long. Stop reading and drop the
            // connection (its unread rest cannot be skipped), keeping what was read.
            finish(null, answer());
            response.destroy();
            request.destroy();
          }
        });
        response.on("error", (error) => finish(error));
        response.on("end", () => finish(null, answer()));
      });
      const timer = this.#clock.after(this.#timeoutMs, () => {
        const error = new TransportError(
          "timeout",
          `No answer from ${this.#origin} within ${
            this.#timeoutMs / 1000
          } s: check that the server is running and reachable`,
        );
        finish(error);
        request.destroy(error);
        for (const socket of this.#connecting) socket.destroy();
      });
      request.on("error", (error) => finish(error));
      request.end(payload);
    });
  }

  #wrap(error: unknown): TransportError {
    if (error instanceof TransportError) return error;
    const cause = safeCause(error);
    const detail = cause.message;
    if (isTlsError(error as NodeJS.ErrnoException)) {
      return new TransportError(
        "tls",
        `The certificate of ${this.#origin} is not trusted: ${detail}; if it is the server's own self-signed certificate, pin it with winagentUSM.exe --pin-server-cert (or set tls_ca_file to the CA that issued it)`,
        { cause },
      );
    }
    return new TransportError(
      "network",
      `Cannot reach ${this.#origin}: ${detail}; check server_url and that the server is running`,
      { cause },
    );
  }

  /** Closes the connection and refuses further requests. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#connecting) socket.destroy();
    this.#connecting.clear();
    this.#agent.destroy();
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
