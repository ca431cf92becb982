/**
 * One answer of the server, read once for delivery and the health check: what its HTTP status
 * means, the fields of its JSON body (docs/server-contract.md: `message`, `status`, `error`, `database`),
 * and the text shown to an admin in a log line or status.json.
 *
 * @module
 */
import type { HttpResponse } from "../net/transport.ts";

/** Server text quoted in logs is cut to this length. */
export const MAX_QUOTE = 200;

/** What an HTTP status says, whatever the endpoint. */
export type AnswerKind =
  /** 2xx. */
  | "success"
  /** 3xx: the URL moved; the agent does not follow (the API key would go along). */
  | "redirect"
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
  /** The Location header (a 3xx), when there is one. */
  readonly location?: string;
  /** The body is JSON (an object). */
  readonly json: boolean;
}

/** What an HTTP status says, whatever the endpoint. */
export function answerKind(httpStatus: number): AnswerKind {
  if (httpStatus >= 200 && httpStatus < 300) return "success";
  if (httpStatus >= 300 && httpStatus < 400) return "redirect";
  if (httpStatus === 401 || httpStatus === 403) return "unauthorized";
  if (httpStatus === 429) return "rate-limited";
  if (httpStatus === 404 || httpStatus === 405) return "wrong-url";
  if (httpStatus >= 400 && httpStatus < 500 && httpStatus !== 408) return "refused";
  return "retryable";
}

/** Reads an answer: its status and the string fields of its JSON body (none when not JSON). */
export function readAnswer(response: HttpResponse): ServerAnswer {
  let fields: Record<string, unknown> = {};
  let json = false;
  try {
    const parsed = JSON.parse(response.body);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      fields = parsed;
      json = true;
    }
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
    location: response.headers["location"],
    json,
  };
}

/**
 * Whether an answer to `POST /api/log_event` says the server stored the event (or had it): 201
 * with `"status":"success"`, or 200 "Event already recorded" with `"status":"success"`, the only
 * two the server gives (docs/server-contract.md). Any other 2xx (a captive portal's page, a
 * proxy, the wrong server, the real app's 200 HTML error page, `{"status":"error"}`) is not.
 */
export function confirmsStored(answer: ServerAnswer): { stored: boolean; duplicate: boolean } {
  if (answer.status !== "success") return { stored: false, duplicate: false };
  if (answer.httpStatus === 201) return { stored: true, duplicate: false };
  const duplicate = answer.httpStatus === 200 && /already recorded/i.test(answer.message ?? "");
  return { stored: duplicate, duplicate };
}

/** How a 2xx that does not confirm storage looked, for the message ("an HTML page", ...). */
export function describeForeign(answer: ServerAnswer): string {
  if (!answer.json) {
    const title = /<title>([^<]{0,80})<\/title>/i.exec(answer.body)?.[1]?.trim();
    if (/<html|<!doctype/i.test(answer.body)) {
      return `an HTML page${title ? ` ("${title}")` : ""}`;
    }
    return answer.body.trim() === "" ? "an empty body" : "a body that is not JSON";
  }
  const said = answerText(answer);
  return answer.status === undefined
    ? `JSON without "status":"success" (${said})`
    : `"status":"${answer.status}" (${said})`;
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
