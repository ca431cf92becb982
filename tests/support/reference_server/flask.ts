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

/** gunicorn's headers on every answer. */
export function baseHeaders(contentType: string): [string, string][] {
  return [["Server", "gunicorn"], ["Date", new Date().toUTCString()], [
    "Content-Type",
    contentType,
  ]];
}

/** A `jsonify` answer with `extra` headers after gunicorn's. */
export function jsonAnswer(status: number, body: unknown, extra: [string, string][]): Answer {
  return { status, headers: [...baseHeaders("application/json"), ...extra], body: flaskJson(body) };
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
