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
import { readCaRoots } from "./ca_roots.ts";
import { type Clock, systemClock, type Timer } from "../clock.ts";
import type { Config } from "../config/config.ts";
import { exchange, type HttpResponse, NoAnswerError, requestBytes } from "./http1.ts";
import { connect, type ConnectSettings } from "./tls_connect.ts";
import {
  normalizeFingerprint,
  TransportError,
  transportErrorOf,
  type TransportStage,
} from "./transport_error.ts";

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

/** Time allowed for one request or handshake by default. */
export const DEFAULT_TIMEOUT_MS = 15_000;

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
      throw transportErrorOf(error, this.#origin, this.#stage);
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
