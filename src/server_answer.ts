/**
 * One answer of the server, read once for delivery and the health check: what its HTTP status
 * means, the fields of its JSON body (REFERENCE.md §1: `message`, `status`, `error`, `database`),
 * and the text shown to an admin in a log line or status.json.
 *
 * @module
 */
import type { HttpResponse } from "./transport.ts";

/** Server text quoted in logs is cut to this length. */
export const MAX_QUOTE = 200;

/** What an HTTP status says, whatever the endpoint. */
export type AnswerKind =
  /** 2xx. */
  | "success"
  /** 401 or 403: the API key is refused. */
  | "unauthorized"
  /** 429: over the rate limit. */
  | "rate-limited"
  /** 404 or 405: no such endpoint at this URL. */
  | "wrong-url"
  /** Any other 4xx but 408: this request is refused for good. */
  | "refused"
  /** 5xx, 408 and anything else: may succeed later. */
  | "retryable";

/** An answer of the server, its JSON body read once. */
export interface ServerAnswer {
  /** The HTTP status code. */
  readonly httpStatus: number;
  /** What the HTTP status says. */
  readonly kind: AnswerKind;
  /** The body's `message` field, when it is a string. */
  readonly message?: string;
  /** The body's `error` field, when it is a string (the 429 answer has one). */
  readonly error?: string;
  /** The body's `status` field ("success", "error", "ok"), when it is a string. */
  readonly status?: string;
  /** The body's `database` field (health answers), when it is a string. */
  readonly database?: string;
  /** The body as received. */
  readonly body: string;
}

/** What an HTTP status says, whatever the endpoint. */
export function answerKind(httpStatus: number): AnswerKind {
  if (httpStatus >= 200 && httpStatus < 300) return "success";
  if (httpStatus === 401 || httpStatus === 403) return "unauthorized";
  if (httpStatus === 429) return "rate-limited";
  if (httpStatus === 404 || httpStatus === 405) return "wrong-url";
  if (httpStatus >= 400 && httpStatus < 500 && httpStatus !== 408) return "refused";
  return "retryable";
}

/** Reads an answer: its status and the string fields of its JSON body (none when not JSON). */
export function readAnswer(response: HttpResponse): ServerAnswer {
  let fields: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(response.body);
    if (parsed && typeof parsed === "object") fields = parsed;
  } catch {
    // Not JSON: the body is all there is.
  }
  const text = (name: string) => typeof fields[name] === "string" ? fields[name] : undefined;
  return {
    httpStatus: response.status,
    kind: answerKind(response.status),
    message: text("message"),
    error: text("error"),
    status: text("status"),
    database: text("database"),
    body: response.body,
  };
}

/**
 * The text to show an admin: the server's `message` (else `error`), else the body on one line,
 * else `HTTP <status>`; cut to {@link MAX_QUOTE} characters.
 */
export function answerText(answer: ServerAnswer): string {
  let text = answer.message ?? answer.error ?? "";
  if (!text) text = answer.body.trim().replace(/\s+/g, " ");
  if (!text) text = `HTTP ${answer.httpStatus}`;
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text;
}
