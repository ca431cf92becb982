/**
 * A hostile HTTPS server for fault-injection tests: it answers each request as a test scripts
 * it, including what no well-behaved server does (an endless body, a captive portal's page, a
 * redirect, a 429 without headers, the X-API-Key quoted back, an answer trickled one byte at a
 * time that never ends). Raw TCP + TLS, one request per connection (`Connection: close`) unless
 * started with `keepAlive`, so nothing in a framework smooths an answer over.
 *
 * @module
 */
import { generateReferenceCertificate } from "./cert.ts";

/** One request as received. */
export interface HostileRequest {
  method: string;
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * An answer: status, headers, body; or an endless body; or `text` written one byte every
 * `everyMs` (after it, nothing more: the connection stays open until the client drops it).
 */
export type HostileReply =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { endless: true; status?: number }
  | { trickle: string; everyMs: number };

/** What the server answers to a request (called once per request, in arrival order). */
export type Script = (request: HostileRequest, index: number) => HostileReply;

/** The reference server's answers, for scripts that are hostile only sometimes. */
export const replies = {
  created: (): HostileReply =>
    json(201, { message: "Event logged successfully", status: "success" }),
  healthy: (): HostileReply =>
    json(200, {
      api_key_verified: true,
      company_id: 1,
      database: "connected",
      message: "Health check passed",
      status: "ok",
      timestamp: new Date().toISOString(),
    }),
  /** A captive portal's (or the wrong web server's) page, answered 200. */
  html: (title = "Guest WiFi - please log in"): HostileReply => ({
    status: 200,
    headers: { "content-type": "text/html; charset=utf-8" },
    body: `<!DOCTYPE html><html><head><title>${title}</title></head><body>Log in</body></html>`,
  }),
  statusError: (): HostileReply => json(200, { message: "Something failed", status: "error" }),
  redirect: (location: string, status = 301): HostileReply => ({
    status,
    headers: { location },
    body: "",
  }),
  /** A 429 without any X-RateLimit-* or Retry-After header (a proxy, another server). */
  bareTooMany: (): HostileReply => json(429, { error: "Too many requests" }),
  status: (status: number, body = ""): HostileReply => ({ status, body }),
};

function json(status: number, body: unknown): HostileReply {
  return {
    status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body) + "\n",
  };
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "CREATED",
  301: "MOVED PERMANENTLY",
  302: "FOUND",
  400: "BAD REQUEST",
  401: "UNAUTHORIZED",
  429: "TOO MANY REQUESTS",
  431: "REQUEST HEADER FIELDS TOO LARGE",
  500: "INTERNAL SERVER ERROR",
};

/** The hostile server. */
export class HostileServer {
  readonly requests: HostileRequest[] = [];
  /** Bytes written to endless bodies, per request index, once each ended. */
  readonly endlessBytes: number[] = [];
  /** Connections accepted so far. */
  connections = 0;
  /** Trickled answers whose connection the client dropped (or the server stopped). */
  tricklesDropped = 0;
  script: Script;
  #listener: Deno.TlsListener;
  #sha256: string;
  #keepAlive: boolean;
  #conns = new Set<Deno.Conn>();
  #serving: Promise<void>;
  #stopped = false;
  #wake = new AbortController();

  private constructor(
    listener: Deno.TlsListener,
    sha256: string,
    script: Script,
    keepAlive: boolean,
  ) {
    this.#listener = listener;
    this.#sha256 = sha256;
    this.script = script;
    this.#keepAlive = keepAlive;
    this.#serving = this.#accept();
  }

  /**
   * Listens on 127.0.0.1 with a certificate of the reference server's kind. `keepAlive`: answers
   * `Connection: keep-alive` and reads the next request on the same connection.
   */
  static async start(
    script: Script,
    options: { keepAlive?: boolean } = {},
  ): Promise<HostileServer> {
    const cert = await generateReferenceCertificate({ bits: 2048 });
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: cert.certPem,
      key: cert.keyPem,
    });
    return new HostileServer(listener, cert.sha256, script, options.keepAlive ?? false);
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** SHA-256 of the certificate (for tls_server_sha256). */
  get sha256(): string {
    return this.#sha256;
  }

  /** Requests to `path`. */
  on(path: string): HostileRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake.abort();
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await this.#serving;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #accept(): Promise<void> {
    const handling = new Set<Promise<void>>();
    try {
      for await (const conn of this.#listener) {
        this.connections++;
        this.#conns.add(conn);
        const done = this.#handle(conn).finally(() => {
          this.#conns.delete(conn);
          handling.delete(done);
          try {
            conn.close();
          } catch { /* closed */ }
        });
        handling.add(done);
      }
    } catch {
      // Listener closed.
    }
    await Promise.allSettled([...handling]);
  }

  /** Answers the requests of one connection: one, or each in turn with `keepAlive`. */
  async #handle(conn: Deno.Conn): Promise<void> {
    while (!this.#stopped) {
      const request = await readRequest(conn).catch(() => undefined);
      if (!request) return;
      const index = this.requests.push(request) - 1;
      const reply = this.script(request, index);
      if ("endless" in reply) {
        this.endlessBytes[index] = await this.#endless(conn, reply.status ?? 200);
        return;
      }
      if ("trickle" in reply) return await this.#trickle(conn, reply.trickle, reply.everyMs);
      const body = new TextEncoder().encode(reply.body ?? "");
      let head = `HTTP/1.1 ${reply.status} ${REASONS[reply.status] ?? "STATUS"}\r\n`;
      for (const [name, value] of Object.entries(reply.headers ?? {})) {
        head += `${name}: ${value}\r\n`;
      }
      const connection = this.#keepAlive ? "keep-alive" : "close";
      head += `Content-Length: ${body.length}\r\nConnection: ${connection}\r\n\r\n`;
      const bytes = new Uint8Array([...new TextEncoder().encode(head), ...body]);
      const written = await writeAll(conn, bytes).then(() => true, () => false);
      if (!written || !this.#keepAlive) return;
    }
  }

  /** Writes `text` one byte every `everyMs`, then holds the connection until the client drops it. */
  async #trickle(conn: Deno.Conn, text: string, everyMs: number): Promise<void> {
    const signal = this.#wake.signal;
    try {
      for (const byte of new TextEncoder().encode(text)) {
        await writeAll(conn, new Uint8Array([byte]));
        await sleep(everyMs, signal);
      }
      // Nothing more: wait for the client to give up (a read that ends or fails).
      await conn.read(new Uint8Array(1024));
    } catch {
      // The client dropped the connection, or the server stops.
    }
    this.tricklesDropped++;
  }

  /** Writes a body that never ends until the client drops the connection; returns its size. */
  async #endless(conn: Deno.Conn, status: number): Promise<number> {
    const head = `HTTP/1.1 ${status} OK\r\nContent-Type: application/json\r\n` +
      `Content-Length: 100000000000\r\nConnection: close\r\n\r\n`;
    let written = 0;
    try {
      await writeAll(conn, new TextEncoder().encode(head));
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      while (!this.#stopped) {
        await writeAll(conn, chunk);
        written += chunk.length;
      }
    } catch {
      // The client dropped the connection: what the test looks for.
    }
    return written;
  }
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Reads one request: head, then a Content-Length body. */
async function readRequest(conn: Deno.Conn): Promise<HostileRequest | undefined> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    buffer = new Uint8Array([...buffer, ...chunk.subarray(0, n)]);
    headEnd = new TextDecoder().decode(buffer).indexOf("\r\n\r\n");
    if (buffer.length > 1024 * 1024) return undefined;
  }
  const headText = new TextDecoder().decode(buffer).slice(0, headEnd);
  const [line, ...fields] = headText.split("\r\n");
  const [method, target] = line.split(" ");
  const headers: Record<string, string> = {};
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon > 0) {
      headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
    }
  }
  const headBytes = new TextEncoder().encode(headText + "\r\n\r\n").length;
  const length = Number(headers["content-length"] ?? 0);
  while (buffer.length - headBytes < length) {
    const n = await conn.read(chunk);
    if (n === null) break;
    buffer = new Uint8Array([...buffer, ...chunk.subarray(0, n)]);
  }
  const body = new TextDecoder().decode(buffer.subarray(headBytes, headBytes + length));
  return { method, path: target.split("?")[0], headers, body };
}

/**
 * Writes an agent's config.ini for `server` (pinned certificate, the test key, no public-IP
 * lookups, health checks every 30 minutes unless `settings` says otherwise).
 */
export async function writeAgentConfig(
  config: string,
  server: { url: string; sha256?: string },
  settings: Record<string, string> = {},
): Promise<void> {
  const values: Record<string, string> = {
    api_key: "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa",
    server_url: server.url,
    timezone: "Europe/London",
    health_check_interval: "30",
    obtain_public_ip: "false",
    ...(server.sha256 ? { tls_server_sha256: server.sha256 } : {}),
    ...settings,
  };
  const lines = ["[API]", ...Object.entries(values).map(([k, v]) => `${k} = ${v}`), ""];
  await Deno.writeTextFile(config, lines.join("\n"));
}
