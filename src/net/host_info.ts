/**
 * The facts an event carries about the machine: computer name, primary IPv4 address and, when
 * enabled, the public IP. Every value is cached and refreshed in the background, so capturing an
 * event never waits for the network.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { LogFn } from "../log/log.ts";

/** What {@link HostInfo} reads from the system; replaced in tests. */
export interface HostProbe {
  hostname(): string;
  interfaces(): { family: string; address: string; name: string }[];
  /** The local address of a TCP connection to host:port (the interface that routes there). */
  localAddressTowards(host: string, port: number, timeoutMs: number): Promise<string>;
  /** GET a URL, return the body text. */
  fetchText(url: string, timeoutMs: number): Promise<string>;
}

/**
 * Runs `task` with a signal that aborts after `ms` on `clock` (as `AbortSignal.timeout` would,
 * with the same TimeoutError), and cancels the timer when the task ends.
 */
async function withTimeout<T>(
  clock: Clock,
  ms: number,
  task: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = clock.after(
    ms,
    () => controller.abort(new DOMException("Signal timed out.", "TimeoutError")),
  );
  try {
    return await task(controller.signal);
  } finally {
    timer.cancel();
  }
}

/** Deno's own view of the system, with timeouts on `clock`. */
export function systemProbe(clock: Clock): HostProbe {
  return {
    hostname: () => Deno.hostname(),
    interfaces: () => Deno.networkInterfaces(),
    localAddressTowards: (host, port, timeoutMs) =>
      withTimeout(clock, timeoutMs, async (signal) => {
        const conn = await Deno.connect({ hostname: host, port, signal } as Deno.ConnectOptions);
        try {
          return (conn.localAddr as Deno.NetAddr).hostname;
        } finally {
          conn.close();
        }
      }),
    fetchText: (url, timeoutMs) =>
      withTimeout(clock, timeoutMs, async (signal) => {
        const response = await fetch(url, { signal });
        if (!response.ok) {
          await response.body?.cancel();
          throw new Error(`HTTP ${response.status}`);
        }
        return await readStart(response, MAX_LOOKUP_BYTES);
      }),
  };
}

/**
 * A public-IP service's answer is read up to this many bytes (an address is at most 15), then
 * the connection is dropped: a hostile or broken service cannot make the agent read on.
 */
export const MAX_LOOKUP_BYTES = 256;

/** The first `limit` bytes of `response`'s body, as text; the rest is not read. */
async function readStart(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.byteLength - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Deno's own view of the system, on the system clock. */
export const denoProbe: HostProbe = systemProbe(systemClock);

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** True for a dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** The first IPv4 address that is neither loopback (127/8) nor link-local (169.254/16). */
export function firstUsableIPv4(
  interfaces: { family: string; address: string }[],
): string | undefined {
  return interfaces.find((i) =>
    i.family === "IPv4" && isIPv4(i.address) && !i.address.startsWith("127.") &&
    !i.address.startsWith("169.254.") && i.address !== "0.0.0.0"
  )?.address;
}

/** Options of {@link HostInfo}. */
export interface HostInfoOptions {
  /** Default: {@link systemProbe} on `clock`. */
  probe?: HostProbe;
  /** Times the system probes' timeouts (default {@link systemClock}). */
  clock?: Clock;
  log: LogFn;
  /** How long a route probe or public IP lookup may take. */
  timeoutMs?: number;
}

/** A lookup's failure in words: fetch's "fetch failed" says why only in its cause. */
function lookupError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  const cause = (error as Error)?.cause as Error | undefined;
  return cause?.message ? `${message}: ${cause.message}` : message;
}

/** Cached host facts. */
export class HostInfo {
  #probe: HostProbe;
  #log: LogFn;
  #timeoutMs: number;
  #computerName: string;
  #ipv4: string;
  #publicIp: string | undefined;

  constructor(options: HostInfoOptions) {
    this.#probe = options.probe ?? systemProbe(options.clock ?? systemClock);
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#computerName = this.#readHostname();
    this.#ipv4 = firstUsableIPv4(this.#interfaces()) ?? "0.0.0.0";
  }

  /** The computer name, as the system reports it. */
  get computerName(): string {
    return this.#computerName;
  }

  /** The primary IPv4 address as last resolved ("0.0.0.0" when the machine has none). */
  get ipv4(): string {
    return this.#ipv4;
  }

  /** The public IP as last looked up, if enabled and known. */
  get publicIp(): string | undefined {
    return this.#publicIp;
  }

  /**
   * Re-resolves the primary IPv4: the local address of a connection towards the server (the
   * interface that routes there), else the first non-loopback, non-link-local IPv4.
   */
  async refresh(serverUrl: string): Promise<void> {
    this.#computerName = this.#readHostname();
    let address: string | undefined;
    if (serverUrl) {
      try {
        const url = new URL(serverUrl);
        const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
        const host = url.hostname.replace(/^\[|\]$/g, "");
        const local = await this.#probe.localAddressTowards(host, port, this.#timeoutMs);
        const unmapped = local.replace(/^::ffff:/, "");
        if (isIPv4(unmapped)) address = unmapped;
      } catch (error) {
        this.#log("debug", `Route to ${serverUrl} not found: ${(error as Error).message}`);
      }
    }
    // A server on this machine (127.0.0.1) says nothing about the network: prefer an interface.
    if (!address || address.startsWith("127.")) {
      address = firstUsableIPv4(this.#interfaces()) ?? address;
    }
    if (address && address !== this.#ipv4) {
      this.#log("info", `Primary IPv4 address is now ${address} (was ${this.#ipv4})`);
      this.#ipv4 = address;
    }
  }

  /** Looks the public IP up from the first of `urls` that answers with an IPv4 address. */
  async refreshPublicIp(urls: string[]): Promise<void> {
    for (const url of urls) {
      try {
        const text = (await this.#probe.fetchText(url, this.#timeoutMs)).trim();
        if (isIPv4(text)) {
          if (text !== this.#publicIp) this.#log("info", `Public IP is ${text} (from ${url})`);
          this.#publicIp = text;
          return;
        }
        this.#log(
          "warn",
          `Public IP lookup at ${url} answered something that is not an IPv4 address`,
        );
      } catch (error) {
        this.#log("warn", `Public IP lookup at ${url} failed: ${lookupError(error)}`);
      }
    }
  }

  /** Forgets the public IP (obtain_public_ip turned off). */
  clearPublicIp(): void {
    this.#publicIp = undefined;
  }

  #readHostname(): string {
    try {
      return this.#probe.hostname();
    } catch {
      return this.#computerName ?? "unknown-host";
    }
  }

  #interfaces(): { family: string; address: string; name: string }[] {
    try {
      return this.#probe.interfaces();
    } catch {
      return [];
    }
  }
}
