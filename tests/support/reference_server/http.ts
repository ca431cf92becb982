/**
 * The HTTP/1.1 layer of the reference server double: listening (TCP or TLS on 127.0.0.1),
 * connections with keep-alive, reading requests (Content-Length and chunked bodies,
 * 100-continue) and writing answers. It knows nothing of the server it serves: each request
 * goes to an {@linkcode Exchange} that answers it.
 *
 * Not Deno.serve: it has no way to drop a connection without answering (a throwing handler gives
 * a 500), which the double's "reset" mode needs.
 *
 * @module
 */
import { errorText } from "../../../src/text.ts";

/** One request as read from the connection. */
export interface RawRequest {
  method: string;
  target: string;
  version: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Uint8Array;
}

/** An answer to write: status, headers in order, body. */
export interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** Where a request came from. */
export interface ConnectionInfo {
  /** 1 for the first connection the server accepted, counting on. */
  connectionId: number;
  /** 1 for the first request on its connection. */
  connectionRequest: number;
  remote: Deno.NetAddr;
}

/** Answers one request on `conn`; resolves with whether to keep the connection open. */
export type Exchange = (
  conn: Deno.Conn,
  request: RawRequest,
  info: ConnectionInfo,
) => Promise<boolean>;

/** Options of {@linkcode HttpServer}. */
export interface HttpServerOptions {
  /** Certificate and key for TLS, or null for plain HTTP. */
  tls: { certPem: string; keyPem: string } | null;
  /** Port on 127.0.0.1; 0 picks a free one (then kept across close and listen). */
  port: number;
  /** Receives a line when a connection ends with an error. */
  log?: (line: string) => void;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "CREATED",
  400: "BAD REQUEST",
  401: "UNAUTHORIZED",
  404: "NOT FOUND",
  405: "METHOD NOT ALLOWED",
  429: "TOO MANY REQUESTS",
  500: "INTERNAL SERVER ERROR",
  502: "BAD GATEWAY",
  503: "SERVICE UNAVAILABLE",
};

const MAX_HEAD_BYTES = 256 * 1024;

/** A small HTTP/1.1 server over Deno.listen and Deno.listenTls. */
export class HttpServer {
  #tls: { certPem: string; keyPem: string } | null;
  #port: number;
  #exchange: Exchange;
  #log?: (line: string) => void;

  #listener: Deno.Listener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #connections = new Map<number, Deno.Conn>();
  #connectionTasks = new Set<Promise<void>>();
  #connectionCount = 0;
  #delays = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();

  constructor(exchange: Exchange, options: HttpServerOptions) {
    this.#exchange = exchange;
    this.#tls = options.tls;
    this.#port = options.port;
    this.#log = options.log;
  }

  /** The port listened on (the one asked for until the first {@linkcode listen}). */
  get port(): number {
    return this.#port;
  }

  /** Listens on 127.0.0.1 and serves connections until {@linkcode close}. */
  listen(): void {
    const address = { hostname: "127.0.0.1", port: this.#port };
    const listener = this.#tls === null
      ? Deno.listen({ ...address, transport: "tcp" })
      : Deno.listenTls({ ...address, cert: this.#tls.certPem, key: this.#tls.keyPem });
    this.#listener = listener;
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#acceptLoop = this.#accept(listener);
  }

  /** Stops listening, ends every pending {@linkcode sleep} and drops every open connection. */
  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = null;
    if (listener !== null) {
      try {
        listener.close();
      } catch {
        // already closed
      }
    }
    await this.#acceptLoop;
    this.#acceptLoop = null;
    for (const delay of this.#delays) {
      clearTimeout(delay.timer);
      delay.resolve();
    }
    this.#delays.clear();
    for (const conn of this.#connections.values()) closeQuietly(conn);
    await Promise.allSettled([...this.#connectionTasks]);
  }

  /** Waits `ms`, or less when the server closes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const delay = {
        timer: setTimeout(() => {
          this.#delays.delete(delay);
          resolve();
        }, ms),
        resolve,
      };
      this.#delays.add(delay);
    });
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      const id = ++this.#connectionCount;
      this.#connections.set(id, conn);
      const task: Promise<void> = this.#serveConnection(conn, id).finally(() => {
        this.#connections.delete(id);
        this.#connectionTasks.delete(task);
      });
      this.#connectionTasks.add(task);
    }
  }

  async #serveConnection(conn: Deno.Conn, connectionId: number): Promise<void> {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const reader = new HttpReader(conn);
    let connectionRequest = 0;
    try {
      while (true) {
        const request = await reader.next();
        if (request === null) break;
        connectionRequest++;
        const keep = await this.#exchange(conn, request, {
          connectionId,
          connectionRequest,
          remote,
        });
        if (!keep) break;
      }
    } catch (error) {
      this.#log?.(`connection #${connectionId} ended: ${errorText(error)}`);
    } finally {
      closeQuietly(conn);
    }
  }
}

/**
 * Writes `answer` (with "Connection: close" unless `keep`); resolves with whether the connection
 * stays open: `keep`, or false when the write failed.
 */
export async function writeAnswer(
  conn: Deno.Conn,
  answer: Answer,
  keep: boolean,
): Promise<boolean> {
  const headers = answer.headers.slice();
  if (!keep) headers.push(["Connection", "close"]);
  try {
    await writeAll(conn, serialize(answer.status, headers, answer.body));
    return keep;
  } catch {
    return false;
  }
}

/** Whether the client asked to keep the connection (HTTP/1.0 opts in, HTTP/1.1 opts out). */
export function wantsKeepAlive(request: RawRequest): boolean {
  const connection = (request.headers.get("connection") ?? "").toLowerCase();
  if (request.version === "HTTP/1.0") return connection.includes("keep-alive");
  return !connection.split(",").some((token) => token.trim() === "close");
}

/** The path of a request target, without the query string. */
export function pathOf(target: string): string {
  const path = target.startsWith("/") ? target : new URL(target, "http://127.0.0.1").pathname;
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

function serialize(status: number, headers: [string, string][], body: string): Uint8Array {
  const bytes = new TextEncoder().encode(body);
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "UNKNOWN"}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${bytes.length}\r\n\r\n`;
  const out = new Uint8Array(head.length + bytes.length);
  out.set(new TextEncoder().encode(head));
  out.set(bytes, head.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Reads HTTP/1.1 requests one after another from a connection. */
class HttpReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next request, or null at a clean end of stream between requests. */
  async next(): Promise<RawRequest | null> {
    let end: number;
    while ((end = indexOfCrlfCrlf(this.#buffer)) === -1) {
      if (this.#buffer.length > MAX_HEAD_BYTES) {
        throw new Error("Request head too large: more than 256 KiB");
      }
      if (!await this.#fill()) {
        if (this.#buffer.every((b) => b === 13 || b === 10)) return null;
        throw new Error("Connection closed in the middle of a request head");
      }
    }
    const head = latin1(this.#buffer.subarray(0, end)).replace(/^(\r\n)+/, "");
    this.#buffer = this.#buffer.slice(end + 4);
    const [requestLine, ...lines] = head.split("\r\n");
    const [method, target, version] = requestLine.split(" ");
    if (!method || !target || !version?.startsWith("HTTP/1.")) {
      throw new Error(`Malformed request line: ${JSON.stringify(requestLine)}`);
    }
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`Malformed header line: ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = headers.get(name);
      headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    }
    const chunked = (headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked");
    const length = Number(headers.get("content-length") ?? "0");
    if (!chunked && (!Number.isSafeInteger(length) || length < 0)) {
      throw new Error(`Malformed Content-Length: ${headers.get("content-length")}`);
    }
    if (
      (headers.get("expect") ?? "").toLowerCase() === "100-continue" && (chunked || length > 0)
    ) {
      await writeAll(this.#conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
    }
    const body = chunked ? await this.#readChunked() : await this.#take(length);
    return { method, target, version, headers, body };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) {
      if (!await this.#fill()) throw new Error("Connection closed in the middle of a request body");
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  async #line(): Promise<string> {
    let end: number;
    while ((end = indexOfCrlf(this.#buffer)) === -1) {
      if (!await this.#fill()) throw new Error("Connection closed in the middle of a chunk");
    }
    const line = latin1(this.#buffer.subarray(0, end));
    this.#buffer = this.#buffer.slice(end + 2);
    return line;
  }

  async #readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    while (true) {
      const size = parseInt((await this.#line()).split(";")[0].trim(), 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error("Malformed chunk size");
      if (size === 0) break;
      parts.push(await this.#take(size));
      await this.#take(2);
    }
    while ((await this.#line()) !== "") {
      // trailer fields are ignored
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function indexOfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

function latin1(bytes: Uint8Array): string {
  return new TextDecoder("latin1").decode(bytes);
}
