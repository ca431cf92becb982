/**
 * The public types of the reference server double: its options, modes, the rows it stores, the
 * requests it records and the certificate it presents.
 *
 * @module
 */

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
  /**
   * `company_id` of the health answer. Default 1; `null` is the server's answer for its initial
   * admin key, which belongs to no company.
   */
  companyId?: number | null;
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
  /**
   * Keep connections open between requests. Default false: `app.py --legacy` (Werkzeug) answers
   * `Connection: close`; true is a production server (waitress, gunicorn behind a proxy).
   */
  keepAlive?: boolean;
  /**
   * Status of the answer to an unknown path or a wrong method. Default 200: the real app renders
   * its error.html page with status 200; 404 gives Flask's plain 404 (and 405) pages.
   */
  notFoundStatus?: 200 | 404;
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
