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
 *   Only the 429 carries these headers: the views return `(jsonify(...), code)` tuples and the
 *   limiter adds its headers only to a Response object, so 201, 200, 400, 401, 500 and every
 *   health answer have none (checked with curl against the real server; docs/server-contract.md).
 *   Only the two API routes are limited, each path with its own budget.
 * - Errors of routing (unknown path, wrong method) go to the app's HTTPException handler, which
 *   renders error.html with status **200**: a POST to a wrong path is answered 200 with an HTML
 *   page titled "Opsiee 404 Error" (checked against the real server). `notFoundStatus: 404`
 *   gives Flask's plain 404/405 instead.
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
 * - Served as `app.py --legacy` (Werkzeug's server, what ../shared/tools/refserver.sh runs): every
 *   answer says `Connection: close` and sets a `session` cookie, and the status line's reason is
 *   in capitals ("201 CREATED"). That is the default here; `keepAlive: true` gives a production
 *   server (waitress, gunicorn behind a proxy) that keeps connections open. With several
 *   workers and no Redis each worker has its own in-memory counter: not modelled (one counter).
 *
 * The public types are in types.ts, the HTTP/1.1 plumbing in http.ts, log_event's steps in
 * log_event.ts, the Python and Flask details in flask.ts and timestamp.ts, the program in cli.ts.
 *
 * @module
 */
import { generateCaSignedCertificate, generateReferenceCertificate } from "../cert.ts";
import { baseHeaders, errorPage, htmlAnswer, jsonAnswer } from "./flask.ts";
import {
  type Answer,
  type ConnectionInfo,
  HttpServer,
  pathOf,
  type RawRequest,
  wantsKeepAlive,
  writeAnswer,
} from "./http.ts";
import { failure, logEvent, type Outcome } from "./log_event.ts";
import {
  DEFAULT_API_KEY,
  type RateLimitOptions,
  type ReferenceServerOptions,
  type RequestRecord,
  type ServerCertificate,
  type ServerMode,
  type StoredEvent,
} from "./types.ts";

interface Waiter {
  predicate: (events: readonly StoredEvent[]) => boolean;
  resolve: (events: StoredEvent[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const LOG_EVENT_PATH = "/api/log_event";
const DB_DOWN_ERROR =
  '(psycopg2.OperationalError) connection to server at "localhost" (127.0.0.1), port 5432 failed: Connection refused';

/** The test double of the reference server. Start it with {@linkcode ReferenceServer.start}. */
export class ReferenceServer {
  /** Called after each request is answered (or dropped). */
  onRequest?: (record: RequestRecord) => void;

  #tls: ServerCertificate | null;
  #http: HttpServer;
  #apiKeys: Set<string>;
  #disabledKeys: Set<string>;
  #rateLimit: RateLimitOptions | null;
  #healthPath: string;
  #companyId: number | null;
  #timeZone: string;
  #strictColumns: boolean;
  #legacyIpAddress: boolean;
  #keepAlive: boolean;
  #notFoundStatus: 200 | 404;
  #now: () => number;
  #maxRecords: number;
  #log?: (line: string) => void;

  #requestCount = 0;
  #stopping: Promise<void> | null = null;
  #paused = false;

  #mode: ServerMode = "ok";
  #failures: number[] = [];
  #delayMs = 0;
  #windows = new Map<string, { count: number; expiresMs: number }>();
  #stored: StoredEvent[] = [];
  #storedKeys = new Set<string>();
  #records: RequestRecord[] = [];
  #waiters = new Set<Waiter>();

  private constructor(options: ReferenceServerOptions, tls: ServerCertificate | null) {
    this.#tls = tls;
    this.#apiKeys = new Set(options.apiKeys ?? [DEFAULT_API_KEY]);
    this.#disabledKeys = new Set(options.disabledKeys ?? []);
    this.#rateLimit = options.rateLimit === undefined
      ? { limit: 60, windowMs: 60_000 }
      : options.rateLimit;
    this.#healthPath = options.healthPath ?? "/api/health";
    this.#companyId = options.companyId === undefined ? 1 : options.companyId;
    this.#timeZone = options.timeZone ?? "Europe/London";
    this.#strictColumns = options.strictColumns ?? true;
    this.#legacyIpAddress = options.legacyIpAddress ?? false;
    this.#keepAlive = options.keepAlive ?? false;
    this.#notFoundStatus = options.notFoundStatus ?? 200;
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
    this.#http = new HttpServer(
      (conn, request, info) => this.#exchange(conn, request, info),
      { tls, port: options.port ?? 0, log: options.log },
    );
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
    server.#http.listen();
    return server;
  }

  /** Base URL, e.g. `https://127.0.0.1:41234` (no trailing slash). */
  get url(): string {
    return `${this.#tls === null ? "http" : "https"}://127.0.0.1:${this.#http.port}`;
  }

  /** The port listened on (kept across pause and resume). */
  get port(): number {
    return this.#http.port;
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
   * them (without X-RateLimit-* headers, as the real server's views answer). 500 gives the
   * route's own error body, 401 "Invalid API key", 0 drops the connection without an answer,
   * and 429 the limiter's own answer: its body and X-RateLimit-Limit, X-RateLimit-Remaining 0
   * and X-RateLimit-Reset (the end of the current window, or of one opened now), no
   * Retry-After. (A bare 429, as a proxy gives, is the hostile server's `bareTooMany`.)
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
    timeoutMs = 120_000,
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
    await this.#http.close();
  }

  /** Listens again on the same port after {@linkcode pause}. */
  resume(): Promise<void> {
    if (!this.#paused || this.#stopping !== null) return Promise.resolve();
    this.#http.listen();
    this.#paused = false;
    return Promise.resolve();
  }

  /** Closes the listener, every connection, timer and waiter. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#http.close();
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

  /** Answers one request, records it, then tells `onRequest` and the waiters. */
  async #exchange(conn: Deno.Conn, request: RawRequest, meta: ConnectionInfo): Promise<boolean> {
    const receivedAt = this.#now();
    const path = pathOf(request.target);
    const clientIp = clientIpOf(request.headers, meta.remote.hostname);
    const { answer, row } = this.#answer(request, path, clientIp, receivedAt);
    if (this.#delayMs > 0) await this.#http.sleep(this.#delayMs);
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
    const keep = answer === null
      ? false
      : await writeAnswer(conn, answer, this.#keepAlive && wantsKeepAlive(request));
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
    if (route === null) return this.#routingError(404, "Not Found");
    if (request.method === "OPTIONS") {
      return {
        status: 200,
        headers: [["Allow", "OPTIONS, POST"], ...baseHeaders("text/html")],
        body: "",
      };
    }
    if (request.method !== "POST") return this.#routingError(405, "Method Not Allowed");
    // The views' answers carry no X-RateLimit-* header: only the limiter's own 429 does.
    const limitHeaders: [string, string][] = [];
    if (this.#rateLimit !== null) {
      const limited = this.#countRequest(this.#rateLimit, `rate_limit:${path}:${clientIp}`, now);
      if (limited.over) return jsonAnswer(429, rateLimitBody(this.#rateLimit), limited.headers);
    }
    const injected = this.#failures.shift();
    if (injected !== undefined) {
      if (injected === 0) return null;
      if (injected === 429) return this.#injectedLimit(path, clientIp, now);
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

  /**
   * Counts a request in its fixed window (the first request sets `expires = now + per`; the
   * window ends when `now > expires`) and gives the X-RateLimit-* headers.
   */
  #countRequest(
    { limit, windowMs }: RateLimitOptions,
    key: string,
    now: number,
  ): { headers: [string, string][]; over: boolean } {
    let window = this.#windows.get(key);
    if (window !== undefined && now > window.expiresMs) window = undefined;
    if (window === undefined) {
      window = { count: 1, expiresMs: now + windowMs };
      this.#windows.set(key, window);
    } else {
      window.count++;
    }
    return {
      headers: [
        ["X-RateLimit-Limit", String(limit)],
        ["X-RateLimit-Remaining", String(Math.max(0, limit - window.count))],
        ["X-RateLimit-Reset", String(Math.floor(window.expiresMs / 1000))],
      ],
      over: window.count > limit,
    };
  }

  /** A 429 as the limiter gives it, for the window counting `path` (or the default budget's). */
  #injectedLimit(path: string, clientIp: string, now: number): Answer {
    const budget = this.#rateLimit ?? { limit: 60, windowMs: 60_000 };
    const window = this.#windows.get(`rate_limit:${path}:${clientIp}`);
    const expiresMs = window !== undefined && now <= window.expiresMs
      ? window.expiresMs
      : now + budget.windowMs;
    return jsonAnswer(429, rateLimitBody(budget), [
      ["X-RateLimit-Limit", String(budget.limit)],
      ["X-RateLimit-Remaining", "0"],
      ["X-RateLimit-Reset", String(Math.floor(expiresMs / 1000))],
    ]);
  }

  /** A routing error as the real app answers it (error.html, 200), or Flask's plain page. */
  #routingError(status: 404 | 405, title: string): Answer {
    if (this.#notFoundStatus === 200) return errorPage(status, title);
    const answer = htmlAnswer(status, title);
    if (status === 405) answer.headers.push(["Allow", "OPTIONS, POST"]);
    return answer;
  }

  #injectedBody(route: "health" | "log_event", status: number): unknown {
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
      company_id: this.#companyId,
    }];
  }

  #logEvent(request: RawRequest, clientIp: string): Outcome {
    if (this.#mode === "db-down") return failure(DB_DOWN_ERROR);
    if (this.#mode === "error500") return failure("Injected failure");
    return logEvent(request, clientIp, {
      timeZone: this.#timeZone,
      legacyIpAddress: this.#legacyIpAddress,
      strictColumns: this.#strictColumns,
      storedKeys: this.#storedKeys,
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

function rateLimitBody({ limit, windowMs }: RateLimitOptions): unknown {
  return {
    error: "Too many requests",
    message: `Rate limit of ${limit} requests per ${windowMs / 1000} seconds exceeded`,
  };
}

function healthFailure(error: string): unknown {
  return { status: "error", message: "Health check failed", error, database: "disconnected" };
}

/** The client as the rate limiter sees it: X-Forwarded-For's first entry, X-Real-IP, socket. */
function clientIpOf(headers: Map<string, string>, socketIp: string): string {
  const forwarded = headers.get("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0].trim();
  const real = headers.get("x-real-ip");
  if (real) return real.trim();
  return socketIp;
}

/** First four and last four characters at most, as the project's rule for secrets says. */
function maskKey(key: string | undefined): string {
  if (key === undefined || key === "") return "(none)";
  return key.length <= 8 ? "****" : `${key.slice(0, 4)}…${key.slice(-4)}`;
}
