/**
 * The agent's connection to the server: one {@link Transport}, made when it is first needed and
 * replaced only when server_url or the TLS settings change (closing a transport fails the
 * request in flight, so a reload that changes nothing else keeps it).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { LogFn } from "../log/log.ts";
import { readCaRoots } from "./ca_roots.ts";
import { Transport, transportFor, type TransportSettings } from "./transport.ts";

/** What an http:// server_url means, said at the command, at every start and in --status. */
export const CLEAR_TEXT_WARNING =
  "server_url starts with http://: the API key and every event travel unencrypted, readable by anyone on the network path; use https:// (pin a self-signed certificate with --pin-server-cert)";

/** Whether `serverUrl` is plain http (the key travels in clear). */
export function isClearText(serverUrl: string): boolean {
  return /^http:\/\//i.test(serverUrl);
}

/** The transport in force and the settings it was made for. */
export class ServerConnection {
  #log: LogFn;
  #key: string | undefined;
  #settings: TransportSettings = {
    serverUrl: "",
    tlsCaFile: "",
    tlsCaStore: "mozilla",
    tlsServerSha256: "",
    tlsInsecure: false,
  };
  #caPem: string | undefined;
  #transport: Transport | undefined;

  constructor(log: LogFn) {
    this.#log = log;
  }

  /**
   * Takes the settings of `config`. When where or how to connect changed, the transport is
   * closed and the roots (tls_ca_file, or the system store) read again: when they cannot be
   * read that is logged and Deno's built-in Mozilla roots are used until config.ini is saved
   * again.
   */
  configure(config: Readonly<Config>): void {
    const settings: TransportSettings = {
      serverUrl: config.serverUrl,
      tlsCaFile: config.tlsCaFile,
      tlsCaStore: config.tlsCaStore,
      tlsServerSha256: config.tlsServerSha256,
      tlsInsecure: config.tlsInsecure,
    };
    const key = JSON.stringify(Object.values(settings));
    if (key !== this.#key) {
      this.#key = key;
      this.close();
      this.#settings = settings;
      this.#caPem = undefined;
      try {
        this.#caPem = readCaRoots(settings);
      } catch (error) {
        this.#settings = { ...settings, tlsCaFile: "", tlsCaStore: "mozilla" };
        this.#log(
          "error",
          `${
            (error as Error).message
          }; using Deno's built-in Mozilla roots until config.ini is saved again with a readable file`,
        );
      }
    }
    if (isClearText(config.serverUrl)) this.#log("warn", CLEAR_TEXT_WARNING);
    if (config.tlsInsecure) {
      this.#log(
        "warn",
        "tls_insecure = true: the server's certificate is NOT checked; anyone on the network path can read the API key. Pin the certificate instead: winagentUSM.exe --pin-server-cert",
      );
    }
  }

  /**
   * The transport for the settings in force, made now if needed.
   * @throws {TypeError} when server_url or tls_server_sha256 is invalid.
   */
  transport(): Transport {
    this.#transport ??= transportFor(this.#settings, { caPem: this.#caPem });
    return this.#transport;
  }

  /** Closes the transport (the request in flight fails); a later {@link transport} makes a new one. */
  close(): void {
    this.#transport?.close();
    this.#transport = undefined;
  }
}
