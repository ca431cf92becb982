/**
 * What Python, psycopg2, Flask and gunicorn put in the reference server's answers, copied by the
 * double: Flask `jsonify` bodies, gunicorn's headers, Werkzeug's HTML error pages and the
 * messages of the Python errors the server reports.
 *
 * @module
 */
import type { Answer } from "./http.ts";

/** Python's name for the type of a JSON value. */
export function pythonType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  return Array.isArray(value) ? "list" : "dict";
}

/** The TypeError of `data["..."]` on JSON that is not an object. */
export function notSubscriptable(data: unknown): string {
  if (Array.isArray(data)) return "list indices must be integers or slices, not str";
  if (typeof data === "string") return "string indices must be integers, not 'str'";
  return `'${pythonType(data)}' object is not subscriptable`;
}

/** The message of a NOT NULL violation on the api_logs table. */
export function notNull(column: string): string {
  return `(psycopg2.errors.NotNullViolation) null value in column "${column}" of relation "api_logs" violates not-null constraint`;
}

/** The stored retry, or an error message, or null for NULL. */
export function coerceRetry(value: unknown): number | string | null {
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

/**
 * The headers of every answer of `app.py --legacy` (Werkzeug), as curl showed them: server,
 * date, type, then (after any X-RateLimit-*, see {@link jsonAnswer}) the session cookie.
 */
export function baseHeaders(contentType: string): [string, string][] {
  return [["Server", "Werkzeug/2.2.2 Python/3.11.2"], ["Date", new Date().toUTCString()], [
    "Content-Type",
    contentType,
  ]];
}

/** Flask's session cookie, set on every answer of the real server (API answers included). */
function sessionCookie(): [string, string][] {
  const expires = new Date(Date.now() + 2 * 3600_000).toUTCString();
  return [["Vary", "Cookie"], [
    "Set-Cookie",
    `session=eyJfcGVybWFuZW50Ijp0cnVlfQ.double.cookie; Expires=${expires}; Secure; HttpOnly; Path=/; SameSite=Lax`,
  ]];
}

/** A `jsonify` answer with `extra` headers (the 429's X-RateLimit-*) before the cookie. */
export function jsonAnswer(status: number, body: unknown, extra: [string, string][]): Answer {
  return {
    status,
    headers: [...baseHeaders("application/json"), ...extra, ...sessionCookie()],
    body: flaskJson(body),
  };
}

/**
 * The real app's answer to a routing error (unknown path, wrong method): its HTTPException
 * handler renders error.html with status 200 (no code given to render_template).
 */
export function errorPage(code: number, title: string): Answer {
  return {
    status: 200,
    headers: [...baseHeaders("text/html; charset=utf-8"), ...sessionCookie()],
    body: `<!DOCTYPE html>\n<html lang="en">\n<head><title>Opsiee ${code} Error</title></head>\n` +
      `<body><h1>${code} Error</h1><p>${title}: the requested URL was not found on the server. ` +
      `If you entered the URL manually please check your spelling and try again.</p>` +
      `<p>Please login to access the monitoring system.</p></body>\n</html>\n`,
  };
}

/** Werkzeug's HTML error page (404, 405). */
export function htmlAnswer(status: number, title: string): Answer {
  return {
    status,
    headers: baseHeaders("text/html; charset=utf-8"),
    body:
      `<!doctype html>\n<html lang="en">\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n</html>\n`,
  };
}
