/**
 * A test double of the reference server ("winauthmon-server", Flask), for delivery, end-to-end
 * tests and the benchmark. It answers `POST /api/log_event` and the health path the way the real
 * server does, keeps what it stored and every request it saw, and can be made to fail.
 *
 * Quirks copied from the real source, ghostersk/winauthmon-server (api/routes.py at b5fc6728,
 * utils/rate_limiter.py and app.py at 5375ef61, api/models.py at b5fc6728):
 * - Order of checks: the rate limiter wraps the authenticated view (rate_limiter.py
 *   `apply_rate_limits` wraps every `/api/` view after `@require_api_key`), so the limit is
 *   counted first: requests answered 401 use up the budget, and a 429 is given even without a key.
 * - Rate limit: key `rate_limit:<path>:<client>`, client = first X-Forwarded-For entry, else
 *   X-Real-IP, else the socket address. In-memory fixed window: the first request sets
 *   `expires = now + per`; the window ends when `now > expires` (strictly). The counter grows
 *   past the limit; `X-RateLimit-Remaining = max(0, limit - count)`;
 *   `X-RateLimit-Reset = int(time.time() + ttl)` = the window end truncated (floor) to the
 *   second, so it can be up to one second *before* the window really ends. No Retry-After.
 *   Only the two API routes are limited: 404, 405 and OPTIONS answers carry no X-RateLimit-*.
 * - Auth (`require_api_key`): missing or empty X-API-Key → 401 "No API key provided"; unknown →
 *   "Invalid API key"; inactive → "API key has been disabled"; a database failure during the key
 *   lookup → 500 {"message":"Authentication error occurred"} (mode "auth-error" here).
 * - log_event runs, in this order: `request.get_json()` (a non-JSON Content-Type or bad JSON
 *   raises inside the try → 500), `data['Timestamp']` (KeyError → 500 "Failed to log event:
 *   'Timestamp'"), five `strptime` formats (none matches → 400; a non-string → TypeError → 500),
 *   the duplicate query on EventType, UserName, ComputerName (KeyError → 500) and
 *   `data.get('LocalIP')`, then the insert (column limits EventType 20, UserName/ComputerName 50,
 *   LocalIP/PublicIP 45; enforced only by a strict database such as PostgreSQL, SQLite ignores
 *   them; enforced here by default).
 * - LocalIP: the current server never falls back to IPAddress: it reads `data.get('LocalIP')`
 *   only (absent → NULL, and NULL matches NULL in the duplicate query). Older servers (5375ef61)
 *   required `IPAddress` and used it as the key instead: option `legacyIpAddress`.
 * - The timestamp is converted to the app time zone (config TIMEZONE, default Europe/London) and
 *   stored as wall-clock time without offset, so the duplicate check compares wall-clock times in
 *   that zone (two instants an hour apart collide in the autumn DST overlap: kept).
 * - Responses are Flask `jsonify`: keys sorted, compact separators, non-ASCII escaped, "\n" at
 *   the end. The health timestamp is Python `datetime.now(tz).isoformat()` (microseconds).
 * - Served by gunicorn sync workers (app.py), which close the connection after every response;
 *   keep-alive is on here by default, `keepAlive: false` gives the gunicorn behaviour. With four
 *   workers and no Redis each worker has its own in-memory counter: not modelled (one counter).
 *
 * Not Deno.serve: it has no way to drop a connection without answering (a throwing handler gives
 * a 500), which the "reset" mode needs, so this is a small HTTP/1.1 server over Deno.listen and
 * Deno.listenTls (Content-Length and chunked request bodies, keep-alive, 100-continue).
 *
 * Run as a program: `deno run -A tests/support/reference_server.ts [--port N]
 * [--limit N --window-ms N | --no-limit] [--api-key K] [--bits 2048] [--no-tls] [--verbose]`
 * prints one JSON line {"url","port","sha256","apiKey"} and serves until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateCaSignedCertificate, generateReferenceCertificate } from "./cert.ts";

/** The API key the server accepts when `apiKeys` is not given. */
export const DEFAULT_API_KEY = "0123456789abcdef-test-key";

/** How the server behaves, switched with {@linkcode ReferenceServer.setMode}. */
export type ServerMode =
  /** Normal operation. */
  | "ok"
  /** Authenticated requests fail: log_event 500 "Failed to log event: ...", health 500. */
  | "error500"
  /** The database is gone after authentication: log_event 500, health 500 "disconnected". */
  | "db-down"
  /** The key lookup fails: 500 {"message":"Authentication error occurred"} to keyed requests. */
  | "auth-error"
  /** Every request is read, then its connection is closed without an answer. */
  | "reset";

/** The rate limit: at most `limit` requests per client IP and path in a fixed window. */
export interface RateLimitOptions {
  /** Requests allowed per window. */
  limit: number;
  /** Window length in milliseconds (the real server only has whole seconds). */
  windowMs: number;
}

/** Options of {@linkcode ReferenceServer.start}. */
export interface ReferenceServerOptions {
  /** Valid, active API keys. Default `[DEFAULT_API_KEY]`. */
  apiKeys?: string[];
  /** Keys that exist but are disabled (401 "API key has been disabled"). */
  disabledKeys?: string[];
  /** Default 60 requests per 60000 ms; `null` turns the limiter off. */
  rateLimit?: RateLimitOptions | null;
  /** Path of the health endpoint. Default "/api/health". */
  healthPath?: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Certificate kind: "reference" (default), "ca-signed", or false for plain HTTP. */
  tls?: "reference" | "ca-signed" | false;
  /** RSA size of the generated certificate. Default 4096 for "reference", 2048 for "ca-signed". */
  certBits?: number;
  /** The server's TIMEZONE (duplicate check and health timestamp). Default "Europe/London". */
  timeZone?: string;
  /** Enforce the column limits as PostgreSQL does (500). Default true; false is SQLite. */
  strictColumns?: boolean;
  /** Behave as the older server: `IPAddress` required and used in the duplicate check. */
  legacyIpAddress?: boolean;
  /** Keep connections open between requests. Default true; false is gunicorn's sync worker. */
  keepAlive?: boolean;
  /** Clock in epoch milliseconds for the rate limiter and records. Default `Date.now`. */
  now?: () => number;
  /** Most recent requests kept by {@linkcode ReferenceServer.requests}. Default unlimited. */
  maxRecords?: number;
  /** Called after each request is answered (or dropped). */
  onRequest?: (record: RequestRecord) => void;
  /** Receives one line per request, API keys masked. Default: no logging. */
  log?: (line: string) => void;
}

/** One row the server stored (its api_logs table), in arrival order. */
export interface StoredEvent {
  eventType: string;
  userName: string;
  computerName: string;
  /** `LocalIP` as sent, null when absent. */
  localIp: string | null;
  /** `IPAddress` as sent, null when absent (the current server does not store it). */
  ipAddress: string | null;
  /** `PublicIP` as sent, null when absent. */
  publicIp: string | null;
  /** `Timestamp` exactly as sent. */
  timestamp: string;
  /** The instant `timestamp` denotes, epoch milliseconds. */
  epochMs: number;
  /** What the database row holds: wall-clock time in the server's time zone, no offset. */
  storedTimestamp: string;
  /** `retry` as stored (0 when absent). */
  retry: number;
  /** The client IP the request came from. */
  clientIp: string;
  /** The request it arrived in: index into {@linkcode ReferenceServer.requests}'s numbering. */
  requestId: number;
}

/** One request the server received. */
export interface RequestRecord {
  /** 1 for the first request the server received, counting on. */
  id: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Status answered; 0 when the connection was closed without an answer. */
  status: number;
  /** Request headers, names in lower case. */
  headers: Record<string, string>;
  /** Raw request body (UTF-8 decoded). */
  body: string;
  /** Response headers, names in lower case (empty when not answered). */
  responseHeaders: Record<string, string>;
  /** Response body (empty when not answered). */
  responseBody: string;
  /** When the request head was complete, epoch milliseconds from the server's clock. */
  receivedAt: number;
  /** Client as the rate limiter sees it (X-Forwarded-For, X-Real-IP, socket). */
  clientIp: string;
  /** Socket peer port: the same value on two requests means one reused connection. */
  remotePort: number;
  /** 1 for the first connection the server accepted, counting on. */
  connectionId: number;
  /** 1 for the first request on its connection. */
  connectionRequest: number;
}

/** The certificate the server presents. */
export interface ServerCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex without colons. */
  sha256: string;
  /** The CA that signed it, for tls "ca-signed". */
  caPem?: string;
}

interface RawRequest {
  method: string;
  target: string;
  version: string;
  headers: Map<string, string>;
  body: Uint8Array;
}

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

interface Waiter {
  predicate: (events: readonly StoredEvent[]) => boolean;
  resolve: (events: StoredEvent[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
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

const LOG_EVENT_PATH = "/api/log_event";
const MAX_HEAD_BYTES = 256 * 1024;
const DB_DOWN_ERROR =
  '(psycopg2.OperationalError) connection to server at "localhost" (127.0.0.1), port 5432 failed: Connection refused';

/** The test double of the reference server. Start it with {@linkcode ReferenceServer.start}. */
export class ReferenceServer {
  /** Called after each request is answered (or dropped). */
  onRequest?: (record: RequestRecord) => void;

  #tls: ServerCertificate | null;
  #port: number;
  #apiKeys: Set<string>;
  #disabledKeys: Set<string>;
  #rateLimit: RateLimitOptions | null;
  #healthPath: string;
  #timeZone: string;
  #strictColumns: boolean;
  #legacyIpAddress: boolean;
  #keepAlive: boolean;
  #now: () => number;
  #maxRecords: number;
  #log?: (line: string) => void;

  #listener: Deno.Listener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #connections = new Map<number, Deno.Conn>();
  #connectionTasks = new Set<Promise<void>>();
  #connectionCount = 0;
  #requestCount = 0;
  #stopping: Promise<void> | null = null;
  #paused = false;

  #mode: ServerMode = "ok";
  #failures: number[] = [];
  #delayMs = 0;
  #delays = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();
  #windows = new Map<string, { count: number; expiresMs: number }>();
  #stored: StoredEvent[] = [];
  #storedKeys = new Set<string>();
  #records: RequestRecord[] = [];
  #waiters = new Set<Waiter>();

  private constructor(options: ReferenceServerOptions, tls: ServerCertificate | null) {
    this.#tls = tls;
    this.#port = options.port ?? 0;
    this.#apiKeys = new Set(options.apiKeys ?? [DEFAULT_API_KEY]);
    this.#disabledKeys = new Set(options.disabledKeys ?? []);
    this.#rateLimit = options.rateLimit === undefined
      ? { limit: 60, windowMs: 60_000 }
      : options.rateLimit;
    this.#healthPath = options.healthPath ?? "/api/health";
    this.#timeZone = options.timeZone ?? "Europe/London";
    this.#strictColumns = options.strictColumns ?? true;
    this.#legacyIpAddress = options.legacyIpAddress ?? false;
    this.#keepAlive = options.keepAlive ?? true;
    this.#now = options.now ?? Date.now;
    this.#maxRecords = options.maxRecords ?? Infinity;
    this.#log = options.log;
    this.onRequest = options.onRequest;
    if (this.#rateLimit !== null) {
      const { limit, windowMs } = this.#rateLimit;
      if (!Number.isInteger(limit) || limit < 0 || !(windowMs > 0)) {
        throw new RangeError(
          `Invalid rate limit: ${limit} per ${windowMs} ms, use a whole limit and a positive window`,
        );
      }
    }
    if (!this.#healthPath.startsWith("/") || this.#healthPath === LOG_EVENT_PATH) {
      throw new TypeError(
        `Invalid health path: "${this.#healthPath}", use an absolute path other than ${LOG_EVENT_PATH}`,
      );
    }
    // Throws a RangeError for an unknown zone before anything listens.
    Temporal.Now.zonedDateTimeISO(this.#timeZone);
  }

  /** Generates the certificate (memoized per process) and listens on 127.0.0.1. */
  static async start(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
    const kind = options.tls ?? "reference";
    let tls: ServerCertificate | null = null;
    if (kind === "reference") {
      tls = await generateReferenceCertificate({ bits: options.certBits });
    } else if (kind === "ca-signed") {
      tls = await generateCaSignedCertificate({ bits: options.certBits });
    }
    const server = new ReferenceServer(options, tls);
    server.#listen();
    return server;
  }

  /** Base URL, e.g. `https://127.0.0.1:41234` (no trailing slash). */
  get url(): string {
    return `${this.#tls === null ? "http" : "https"}://127.0.0.1:${this.#port}`;
  }

  /** The port listened on (kept across pause and resume). */
  get port(): number {
    return this.#port;
  }

  /** The certificate presented, or null for plain HTTP. */
  get certificate(): ServerCertificate | null {
    return this.#tls === null ? null : { ...this.#tls };
  }

  /** The current mode. */
  get mode(): ServerMode {
    return this.#mode;
  }

  /** Stored rows (duplicates dropped), in arrival order. */
  stored(): StoredEvent[] {
    return this.#stored.map((event) => ({ ...event }));
  }

  /** Every request received (the last `maxRecords`), in arrival order. */
  requests(): RequestRecord[] {
    return this.#records.slice();
  }

  /** How many recorded requests were answered `status` (0 = dropped), optionally on `path`. */
  count(status: number, path?: string): number {
    return this.#records.filter((r) =>
      r.status === status && (path === undefined || r.path === path)
    )
      .length;
  }

  /** Switches how the server behaves from the next request on. */
  setMode(mode: ServerMode): void {
    this.#mode = mode;
  }

  /**
   * Makes the next `n` requests to an API route answer `status` after the rate limiter counted
   * them (so they carry X-RateLimit-* headers). 500 gives the route's own error body, 401
   * "Invalid API key", 429 the rate-limit body, 0 drops the connection without an answer.
   */
  failNext(n: number, status = 500): void {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`Invalid failure count: ${n}, use a whole number of requests`);
    }
    for (let i = 0; i < n; i++) this.#failures.push(status);
  }

  /** Delays every answer by `ms` from now on (0 = none); pending delays end on stop. */
  setDelay(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Invalid delay: ${ms}, use a number of milliseconds`);
    this.#delayMs = ms;
  }

  /** Clears stored rows, request records, rate-limit windows and pending failures. */
  clear(): void {
    this.#stored = [];
    this.#storedKeys.clear();
    this.#records = [];
    this.#windows.clear();
    this.#failures = [];
  }

  /**
   * Resolves with the stored rows once `predicate` holds for them (checked now and after every
   * request); rejects after `timeoutMs` or when the server stops.
   */
  waitFor(
    predicate: (events: readonly StoredEvent[]) => boolean,
    timeoutMs = 5000,
  ): Promise<StoredEvent[]> {
    if (predicate(this.#stored)) return Promise.resolve(this.stored());
    if (this.#stopping !== null) {
      return Promise.reject(new Error("Cannot wait for events: the reference server is stopped"));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new Error(
              `Timed out waiting for stored events: predicate still false after ${timeoutMs} ms with ${this.#stored.length} rows`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Stops listening and drops every open connection; the port stays reserved for resume. */
  async pause(): Promise<void> {
    if (this.#paused || this.#stopping !== null) return;
    this.#paused = true;
    await this.#shutdown();
  }

  /** Listens again on the same port after {@linkcode pause}. */
  resume(): Promise<void> {
    if (!this.#paused || this.#stopping !== null) return Promise.resolve();
    this.#listen();
    this.#paused = false;
    return Promise.resolve();
  }

  /** Closes the listener, every connection, timer and waiter. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#shutdown();
      for (const waiter of this.#waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("Cannot wait for events: the reference server stopped"));
      }
      this.#waiters.clear();
    })();
    return this.#stopping;
  }

  /** Same as {@linkcode stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #listen(): void {
    const address = { hostname: "127.0.0.1", port: this.#port };
    const listener = this.#tls === null
      ? Deno.listen({ ...address, transport: "tcp" })
      : Deno.listenTls({ ...address, cert: this.#tls.certPem, key: this.#tls.keyPem });
    this.#listener = listener;
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#acceptLoop = this.#accept(listener);
  }

  async #shutdown(): Promise<void> {
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
      this.#log?.(`connection #${connectionId} ended: ${errorMessage(error)}`);
    } finally {
      closeQuietly(conn);
    }
  }

  async #exchange(
    conn: Deno.Conn,
    request: RawRequest,
    meta: { connectionId: number; connectionRequest: number; remote: Deno.NetAddr },
  ): Promise<boolean> {
    const receivedAt = this.#now();
    const path = pathOf(request.target);
    const clientIp = clientIpOf(request.headers, meta.remote.hostname);
    const { answer, row } = this.#answer(request, path, clientIp, receivedAt);
    if (this.#delayMs > 0) await this.#sleep(this.#delayMs);
    const record: RequestRecord = {
      id: ++this.#requestCount,
      method: request.method,
      path,
      status: answer === null ? 0 : answer.status,
      headers: Object.fromEntries(request.headers),
      body: new TextDecoder().decode(request.body),
      responseHeaders: answer === null
        ? {}
        : Object.fromEntries(answer.headers.map(([k, v]) => [k.toLowerCase(), v])),
      responseBody: answer?.body ?? "",
      receivedAt,
      clientIp,
      remotePort: meta.remote.port,
      connectionId: meta.connectionId,
      connectionRequest: meta.connectionRequest,
    };
    if (row !== undefined) {
      row.requestId = record.id;
      this.#stored.push(row);
    }
    this.#records.push(record);
    if (this.#records.length > this.#maxRecords) {
      this.#records.splice(0, this.#records.length - this.#maxRecords);
    }
    this.#log?.(
      `${request.method} ${path} ${record.status || "dropped"} conn#${meta.connectionId} ` +
        `key=${maskKey(request.headers.get("x-api-key"))}`,
    );
    let keep = answer !== null && this.#keepAlive && wantsKeepAlive(request);
    if (answer !== null) {
      const headers = answer.headers.slice();
      if (!keep) headers.push(["Connection", "close"]);
      try {
        await writeAll(conn, serialize(answer.status, headers, answer.body));
      } catch {
        keep = false;
      }
    }
    try {
      this.onRequest?.(record);
    } finally {
      this.#notifyWaiters();
    }
    return keep;
  }

  #answer(
    request: RawRequest,
    path: string,
    clientIp: string,
    now: number,
  ): { answer: Answer | null; row?: StoredEvent } {
    const answer = this.#route(request, path, clientIp, now);
    if (Array.isArray(answer)) return { answer: answer[0], row: answer[1] };
    return { answer };
  }

  #route(
    request: RawRequest,
    path: string,
    clientIp: string,
    now: number,
  ): Answer | null | [Answer, StoredEvent | undefined] {
    if (this.#mode === "reset") return null;
    const route = path === LOG_EVENT_PATH
      ? "log_event"
      : path === this.#healthPath
      ? "health"
      : null;
    if (route === null) return htmlAnswer(404, "Not Found");
    if (request.method === "OPTIONS") {
      return {
        status: 200,
        headers: [["Allow", "OPTIONS, POST"], ...baseHeaders("text/html")],
        body: "",
      };
    }
    if (request.method !== "POST") {
      const answer = htmlAnswer(405, "Method Not Allowed");
      answer.headers.push(["Allow", "OPTIONS, POST"]);
      return answer;
    }
    const limitHeaders: [string, string][] = [];
    if (this.#rateLimit !== null) {
      const { limit, windowMs } = this.#rateLimit;
      const key = `rate_limit:${path}:${clientIp}`;
      let window = this.#windows.get(key);
      if (window !== undefined && now > window.expiresMs) window = undefined;
      if (window === undefined) {
        window = { count: 1, expiresMs: now + windowMs };
        this.#windows.set(key, window);
      } else {
        window.count++;
      }
      limitHeaders.push(
        ["X-RateLimit-Limit", String(limit)],
        ["X-RateLimit-Remaining", String(Math.max(0, limit - window.count))],
        ["X-RateLimit-Reset", String(Math.floor(window.expiresMs / 1000))],
      );
      if (window.count > limit) {
        return jsonAnswer(429, rateLimitBody(this.#rateLimit), limitHeaders);
      }
    }
    const injected = this.#failures.shift();
    if (injected !== undefined) {
      if (injected === 0) return null;
      return jsonAnswer(injected, this.#injectedBody(route, injected), limitHeaders);
    }
    const key = request.headers.get("x-api-key");
    if (key === undefined || key === "") {
      return jsonAnswer(401, { message: "No API key provided" }, limitHeaders);
    }
    if (!this.#apiKeys.has(key) && !this.#disabledKeys.has(key)) {
      return jsonAnswer(401, { message: "Invalid API key" }, limitHeaders);
    }
    if (this.#mode === "auth-error") {
      return jsonAnswer(500, { message: "Authentication error occurred" }, limitHeaders);
    }
    if (this.#disabledKeys.has(key)) {
      return jsonAnswer(401, { message: "API key has been disabled" }, limitHeaders);
    }
    const [status, body, row] = route === "health"
      ? this.#health()
      : this.#logEvent(request, clientIp);
    return [jsonAnswer(status, body, limitHeaders), row];
  }

  #injectedBody(route: "health" | "log_event", status: number): unknown {
    if (status === 429 && this.#rateLimit !== null) return rateLimitBody(this.#rateLimit);
    if (status === 401) return { message: "Invalid API key" };
    if (status === 500) {
      return route === "health"
        ? healthFailure("Injected failure")
        : { message: "Failed to log event: Injected failure", status: "error" };
    }
    return { message: "Injected failure", status: "error" };
  }

  #health(): [number, unknown] {
    if (this.#mode === "db-down") return [500, healthFailure(DB_DOWN_ERROR)];
    if (this.#mode === "error500") return [500, healthFailure("Injected failure")];
    return [200, {
      status: "ok",
      message: "Health check passed",
      timestamp: Temporal.Now.zonedDateTimeISO(this.#timeZone).toString({
        smallestUnit: "microsecond",
        timeZoneName: "never",
      }).replace(/\.000000(?=[+-])/, ""),
      database: "connected",
      api_key_verified: true,
      company_id: 1,
    }];
  }

  #logEvent(request: RawRequest, clientIp: string): [number, unknown, StoredEvent?] {
    const fail = (detail: string): [number, unknown] => [500, {
      message: `Failed to log event: ${detail}`,
      status: "error",
    }];
    if (this.#mode === "db-down") return fail(DB_DOWN_ERROR);
    if (this.#mode === "error500") return fail("Injected failure");

    // request.get_json()
    const mimetype = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (
      mimetype !== "application/json" &&
      !(mimetype.startsWith("application/") && mimetype.endsWith("+json"))
    ) {
      return fail(
        "415 Unsupported Media Type: Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder().decode(request.body));
    } catch (error) {
      return fail(
        `400 Bad Request: Failed to decode JSON object: ${errorMessage(error)}`,
      );
    }
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      return fail(notSubscriptable(data));
    }
    const fields = data as Record<string, unknown>;

    // timestamp_str = data['Timestamp'] and the five formats
    if (!("Timestamp" in fields)) return fail("'Timestamp'");
    const raw = fields.Timestamp;
    if (typeof raw !== "string") {
      return fail(`strptime() argument 1 must be str, not ${pythonType(raw)}`);
    }
    const instant = parseReferenceTimestamp(raw);
    if (instant === null) {
      return [400, { message: `Could not parse timestamp: ${raw}`, status: "error" }];
    }
    const wallClock = instant.toZonedDateTimeISO(this.#timeZone).toPlainDateTime();
    if (wallClock.year < 1 || wallClock.year > 9999) return fail("date value out of range");
    const storedTimestamp = wallClock.toString({ smallestUnit: "microsecond" }).replace(
      /\.000000$/,
      "",
    );

    // is_retry = data.get('retry', 0), then the duplicate query
    const retry = "retry" in fields ? fields.retry : 0;
    for (const name of ["EventType", "UserName", "ComputerName"]) {
      if (!(name in fields)) return fail(`'${name}'`);
    }
    if (this.#legacyIpAddress && !("IPAddress" in fields)) return fail("'IPAddress'");
    const ipKeyField = this.#legacyIpAddress ? "IPAddress" : "LocalIP";
    const values: Record<string, string | null> = {};
    for (
      const name of ["EventType", "UserName", "ComputerName", "LocalIP", "IPAddress", "PublicIP"]
    ) {
      const value = fields[name] ?? null;
      if (value !== null && typeof value === "object") {
        return fail(`(psycopg2.ProgrammingError) can't adapt type '${pythonType(value)}'`);
      }
      values[name] = value === null ? null : String(value);
    }
    const duplicateKey = JSON.stringify([
      values.EventType,
      values.UserName,
      values.ComputerName,
      values[ipKeyField],
      storedTimestamp,
    ]);
    if (this.#storedKeys.has(duplicateKey)) {
      return [200, { message: "Event already recorded", status: "success" }];
    }

    // INSERT: type coercion and column lengths, then NOT NULL
    const columns: [string, string, number][] = [
      ["EventType", "event_type", 20],
      ["UserName", "user_name", 50],
      ["ComputerName", "computer_name", 50],
      [ipKeyField, this.#legacyIpAddress ? "ip_address" : "local_ip", 45],
      ...(this.#legacyIpAddress ? [] : [["PublicIP", "public_ip", 45] as [string, string, number]]),
    ];
    if (this.#strictColumns) {
      for (const [name, , size] of columns) {
        const value = values[name];
        if (value !== null && [...value].length > size) {
          return fail(
            `(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(${size})`,
          );
        }
      }
    }
    const retryValue = coerceRetry(retry);
    if (typeof retryValue === "string") return fail(retryValue);
    for (const [name, column] of columns.slice(0, 3)) {
      if (values[name] === null) return fail(notNull(column));
    }
    if (retryValue === null) return fail(notNull("retry"));

    this.#storedKeys.add(duplicateKey);
    const row: StoredEvent = {
      eventType: values.EventType!,
      userName: values.UserName!,
      computerName: values.ComputerName!,
      localIp: values.LocalIP,
      ipAddress: values.IPAddress,
      publicIp: values.PublicIP,
      timestamp: raw,
      epochMs: instant.epochMilliseconds,
      storedTimestamp,
      retry: retryValue,
      clientIp,
      requestId: 0,
    };
    return [201, { message: "Event logged successfully", status: "success" }, row];
  }

  #sleep(ms: number): Promise<void> {
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

  #notifyWaiters(): void {
    for (const waiter of this.#waiters) {
      if (waiter.predicate(this.#stored)) {
        clearTimeout(waiter.timer);
        this.#waiters.delete(waiter);
        waiter.resolve(this.stored());
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamps: Python's strptime, as the server calls it.

const DIRECTIVES: Record<string, string> = {
  Y: String.raw`(?<Y>\d\d\d\d)`,
  m: String.raw`(?<m>1[0-2]|0[1-9]|[1-9])`,
  d: String.raw`(?<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])`,
  H: String.raw`(?<H>2[0-3]|[0-1]\d|\d)`,
  M: String.raw`(?<M>[0-5]\d|\d)`,
  S: String.raw`(?<S>6[0-1]|[0-5]\d|\d)`,
  z: String.raw`(?<z>[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z))`,
};

const NS_PER_SECOND = 1_000_000_000n;
const DAY_NS = 86_400n * NS_PER_SECOND;

const formatCache = new Map<string, RegExp>();

/** Python `TimeRE.pattern`: regex characters escaped, whitespace runs as `\s+`, IGNORECASE. */
function strptimeRegex(format: string): RegExp {
  let regex = formatCache.get(format);
  if (regex === undefined) {
    let source = "";
    for (let i = 0; i < format.length; i++) {
      const c = format[i];
      if (c === "%") {
        source += DIRECTIVES[format[++i]];
      } else if (/\s/.test(c)) {
        while (i + 1 < format.length && /\s/.test(format[i + 1])) i++;
        source += String.raw`\s+`;
      } else {
        source += c.replace(/[\\.^$*+?()[\]{}|]/g, "\\$&");
      }
    }
    regex = new RegExp(`^(?:${source})`, "i");
    formatCache.set(format, regex);
  }
  return regex;
}

/**
 * Python `datetime.strptime(value, format)` for the directives the server uses: null where Python
 * raises ValueError. Returns epoch nanoseconds of the wall-clock fields read as UTC, and the
 * offset in nanoseconds (null when the format has no `%z`).
 */
function strptime(
  value: string,
  format: string,
): { localNs: bigint; offsetNs: bigint | null } | null {
  const found = strptimeRegex(format).exec(value);
  if (found === null || found[0].length !== value.length) return null;
  const g = found.groups!;
  const year = Number(g.Y);
  if (year < 1) return null;
  let local: Temporal.PlainDateTime;
  try {
    local = Temporal.PlainDateTime.from({
      year,
      month: Number(g.m),
      day: Number(g.d),
      hour: Number(g.H),
      minute: Number(g.M),
      second: Number(g.S),
    }, { overflow: "reject" });
  } catch {
    return null;
  }
  const localNs = local.toZonedDateTime("UTC").epochNanoseconds;
  if (g.z === undefined) return { localNs, offsetNs: null };
  if (g.z === "Z") return { localNs, offsetNs: 0n };
  let z = g.z;
  if (z[3] === ":") {
    z = z.slice(0, 3) + z.slice(4);
    if (z.length > 5) {
      if (z[5] !== ":") return null; // Inconsistent use of : in ...
      z = z.slice(0, 5) + z.slice(6);
    }
  }
  const seconds = z.slice(5, 7);
  if (seconds !== "" && !/^\d+$/.test(seconds)) return null;
  const fraction = z.slice(8);
  let offsetNs = (BigInt(Number(z.slice(1, 3)) * 3600 + Number(z.slice(3, 5)) * 60) +
        BigInt(seconds === "" ? 0 : Number(seconds))) * NS_PER_SECOND +
    BigInt(Number(fraction.padEnd(6, "0") || "0")) * 1000n;
  if (z[0] === "-") offsetNs = -offsetNs;
  // datetime.timezone: strictly between -24 h and +24 h
  if (offsetNs <= -DAY_NS || offsetNs >= DAY_NS) return null;
  return { localNs, offsetNs };
}

const NAMED_ZONES: Record<string, number> = { BST: 3600, GMT: 0, UTC: 0 };

/**
 * Parses a `Timestamp` exactly as the reference server does (its five strptime formats, in its
 * order): `YYYY-MM-DDTHH:MM:SS±HH:MM` (also `±HHMM`, `Z`), `YYYY-MM-DDTHH:MM:SSZ`,
 * `YYYY-MM-DD HH:MM:SS GMT|BST|UTC`, `YYYY-MM-DD HH:MM:SS` (UTC) and `YYYY-MM-DD HH:MM:SS±HHMM`.
 * Python's leniencies are kept: one-digit fields, case-insensitive `T`, any whitespace run for a
 * space. Fractional seconds never parse. Returns null where the server answers 400.
 */
export function parseReferenceTimestamp(value: string): Temporal.Instant | null {
  const instant = (localNs: bigint, offsetNs: bigint) =>
    Temporal.Instant.fromEpochNanoseconds(localNs - offsetNs);
  const rfc3339 = strptime(value, "%Y-%m-%dT%H:%M:%S%z");
  if (rfc3339 !== null) return instant(rfc3339.localNs, rfc3339.offsetNs!);
  const zulu = strptime(value, "%Y-%m-%dT%H:%M:%SZ");
  if (zulu !== null) return instant(zulu.localNs, 0n);
  const space = value.lastIndexOf(" ");
  if (space !== -1) {
    const named = strptime(value.slice(0, space), "%Y-%m-%d %H:%M:%S");
    const zone = value.slice(space + 1);
    if (named !== null && Object.hasOwn(NAMED_ZONES, zone)) {
      return instant(named.localNs, BigInt(NAMED_ZONES[zone]) * NS_PER_SECOND);
    }
  }
  const naive = strptime(value, "%Y-%m-%d %H:%M:%S");
  if (naive !== null) return instant(naive.localNs, 0n);
  const numeric = strptime(value, "%Y-%m-%d %H:%M:%S%z");
  if (numeric !== null) return instant(numeric.localNs, numeric.offsetNs!);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Python-flavoured helpers

function pythonType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  return Array.isArray(value) ? "list" : "dict";
}

function notSubscriptable(data: unknown): string {
  if (Array.isArray(data)) return "list indices must be integers or slices, not str";
  if (typeof data === "string") return "string indices must be integers, not 'str'";
  return `'${pythonType(data)}' object is not subscriptable`;
}

function notNull(column: string): string {
  return `(psycopg2.errors.NotNullViolation) null value in column "${column}" of relation "api_logs" violates not-null constraint`;
}

/** The stored retry, or an error message, or null for NULL. */
function coerceRetry(value: unknown): number | string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number" && Number.isFinite(value)) return Math.round(value);
  if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) return Number(value);
  if (typeof value === "object") {
    return `(psycopg2.ProgrammingError) can't adapt type '${pythonType(value)}'`;
  }
  return `(psycopg2.errors.InvalidTextRepresentation) invalid input syntax for type integer: "${
    String(value)
  }"`;
}

/** Flask `jsonify`: sorted keys, compact separators, ASCII only, trailing newline. */
export function flaskJson(value: unknown): string {
  return pythonJson(value) + "\n";
}

function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    );
  }
  if (typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
  return `{${entries.map(([k, v]) => `${pythonJson(k)}:${pythonJson(v)}`).join(",")}}`;
}

function rateLimitBody({ limit, windowMs }: RateLimitOptions): unknown {
  return {
    error: "Too many requests",
    message: `Rate limit of ${limit} requests per ${windowMs / 1000} seconds exceeded`,
  };
}

function healthFailure(error: string): unknown {
  return { status: "error", message: "Health check failed", error, database: "disconnected" };
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1

function baseHeaders(contentType: string): [string, string][] {
  return [["Server", "gunicorn"], ["Date", new Date().toUTCString()], [
    "Content-Type",
    contentType,
  ]];
}

function jsonAnswer(status: number, body: unknown, extra: [string, string][]): Answer {
  return { status, headers: [...baseHeaders("application/json"), ...extra], body: flaskJson(body) };
}

function htmlAnswer(status: number, title: string): Answer {
  return {
    status,
    headers: baseHeaders("text/html; charset=utf-8"),
    body:
      `<!doctype html>\n<html lang="en">\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n</html>\n`,
  };
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

function wantsKeepAlive(request: RawRequest): boolean {
  const connection = (request.headers.get("connection") ?? "").toLowerCase();
  if (request.version === "HTTP/1.0") return connection.includes("keep-alive");
  return !connection.split(",").some((token) => token.trim() === "close");
}

function pathOf(target: string): string {
  const path = target.startsWith("/") ? target : new URL(target, "http://127.0.0.1").pathname;
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

function clientIpOf(headers: Map<string, string>, socketIp: string): string {
  const forwarded = headers.get("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0].trim();
  const real = headers.get("x-real-ip");
  if (real) return real.trim();
  return socketIp;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** First four and last four characters at most, as the project's rule for secrets says. */
function maskKey(key: string | undefined): string {
  if (key === undefined || key === "") return "(none)";
  return key.length <= 8 ? "****" : `${key.slice(0, 4)}…${key.slice(-4)}`;
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

// ---------------------------------------------------------------------------------------------
// Program

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string" },
        limit: { type: "string" },
        "window-ms": { type: "string" },
        "no-limit": { type: "boolean" },
        "api-key": { type: "string" },
        bits: { type: "string" },
        "no-tls": { type: "boolean" },
        verbose: { type: "boolean" },
      },
    }));
  } catch (error) {
    console.error(`Invalid arguments: ${errorMessage(error)}`);
    return 2;
  }
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) {
      throw new TypeError(`Invalid value for --${name}: "${text}" is not a whole number`);
    }
    return n;
  };
  let server: ReferenceServer;
  const apiKey = values["api-key"] ?? DEFAULT_API_KEY;
  try {
    server = await ReferenceServer.start({
      port: number("port", values.port, 0),
      apiKeys: [apiKey],
      rateLimit: values["no-limit"] ? null : {
        limit: number("limit", values.limit, 60),
        windowMs: number("window-ms", values["window-ms"], 60_000),
      },
      tls: values["no-tls"] ? false : "reference",
      certBits: values.bits === undefined ? undefined : number("bits", values.bits, 4096),
      maxRecords: 10_000,
      log: values.verbose ? (line) => console.error(line) : undefined,
    });
  } catch (error) {
    console.error(`Cannot start the reference server: ${errorMessage(error)}`);
    return 1;
  }
  console.log(JSON.stringify({
    url: server.url,
    port: server.port,
    sha256: server.certificate?.sha256 ?? null,
    apiKey,
  }));
  await new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM"];
    for (const signal of signals) Deno.addSignalListener(signal, () => resolve());
  });
  await server.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
