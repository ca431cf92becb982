/**
 * The value checkers of config.ini's keys (and of the flags that set them): each takes the key
 * and the trimmed text, returns the normalized text, or throws a `TypeError` (wrong form) or a
 * `RangeError` (out of range) whose message shows the value (the API key masked) and what is
 * accepted. `CONFIG_SCHEMA` in keys.ts says which key uses which checker.
 *
 * @module
 */

import { MAX_TIMER_MS } from "../clock.ts";
import { maskKeyLike, maskSecret } from "../log/redact.ts";

const MIN_INTERVAL_MS = 10_000;
const MAX_ROTATION_MB = 1024 * 1024;

/** The machine's IANA time zone, or "UTC" when it cannot be determined. */
export function machineTimeZone(): string {
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return tz ? checkTimeZone("timezone", tz) : "UTC";
  } catch {
    return "UTC";
  }
}

/**
 * The value shown in a message: quoted, the API key masked, and in other keys the known key and
 * anything shaped like a key masked (a key pasted into the wrong line), long values shortened.
 */
export function show(key: string, value: string): string {
  if (key === "api_key") return JSON.stringify(maskSecret(value));
  const masked = maskKeyLike(value);
  return JSON.stringify(masked.length > 120 ? `${masked.slice(0, 117)}...` : masked);
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  "1": true,
  false: false,
  no: false,
  off: false,
  "0": false,
};

/** A boolean in any of its spellings, normalized to "true" or "false". */
export function checkBoolean(key: string, value: string): string {
  const b = BOOLEANS[value.toLowerCase()];
  if (b === undefined) {
    throw new TypeError(`${show(key, value)} is not true or false (also yes/no, on/off, 1/0)`);
  }
  return String(b);
}

/** `tls_ca_store`: whose root certificates verify the server (lowercased). */
export function checkCaStore(key: string, value: string): string {
  const v = value.toLowerCase();
  if (v !== "mozilla" && v !== "system") {
    throw new TypeError(
      `${
        show(key, value)
      } is not mozilla (Deno's built-in Mozilla roots) or system (the operating system's certificate store)`,
    );
  }
  return v;
}

/** Any text without control characters (a folder or file path). */
export function checkText(key: string, value: string): string {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new TypeError(`${show(key, value)} contains a control character: remove it`);
  }
  return value;
}

/** Longest API key accepted (the server's keys are 64 characters). */
export const MAX_API_KEY_LENGTH = 256;

/**
 * The API key: not empty, printable ASCII without whitespace (it travels in an HTTP header,
 * which carries ASCII only), at most {@link MAX_API_KEY_LENGTH} characters.
 */
export function checkApiKey(key: string, value: string): string {
  if (value === "") throw new TypeError(`the API key is empty: paste the key from the server`);
  checkText(key, value);
  if (/\s/.test(value)) {
    throw new TypeError(`${show(key, value)} contains whitespace: paste the key without spaces`);
  }
  // deno-lint-ignore no-control-regex
  if (/[^\x00-\x7f]/.test(value)) {
    throw new TypeError(
      `${
        show(key, value)
      } contains a character that is not ASCII: an HTTP header carries ASCII only; paste the key exactly as the server shows it`,
    );
  }
  if (value.length > MAX_API_KEY_LENGTH) {
    throw new RangeError(
      `${
        show(key, value)
      } is ${value.length} characters long: the server's keys are 64; paste the key alone (at most ${MAX_API_KEY_LENGTH})`,
    );
  }
  return value;
}

/** Validates an http(s) URL; returns it without a trailing slash. */
function checkUrl(key: string, value: string, allowQuery: boolean): string {
  const form = allowQuery ? "http(s)://host[:port]/path" : "http(s)://host[:port][/prefix]";
  if (/^[\w.-]+(:\d+)?(\/.*)?$/.test(value) && !/^https?:/i.test(value)) {
    throw new TypeError(`${show(key, value)} has no http:// or https://: write ${form}`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new TypeError(`${show(key, value)} is not a URL: write ${form}`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${show(key, value)} is not an http or https URL: write ${form}`);
  }
  if (url.hostname === "") throw new TypeError(`${show(key, value)} has no host: write ${form}`);
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(`${show(key, "(hidden)")} contains a user name or password: remove them`);
  }
  if (!allowQuery && (value.includes("?") || value.includes("#"))) {
    throw new TypeError(`${show(key, value)} has a query or fragment: write ${form}`);
  }
  if (allowQuery) return value;
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** The server's URL: origin and optional path prefix, no query, no trailing slash. */
export function checkServerUrl(key: string, value: string): string {
  return checkUrl(key, value, false);
}

/** Comma-separated http(s) URLs (a query is allowed); normalized to no spaces around commas. */
export function checkUrlList(key: string, value: string): string {
  const urls = value.split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (urls.length === 0) {
    throw new TypeError(`${show(key, value)} has no URL: write comma-separated http(s) URLs`);
  }
  return urls.map((u) => checkUrl(key, u, true)).join(",");
}

/** An IANA time zone, normalized to its canonical spelling; an offset is refused. */
export function checkTimeZone(key: string, value: string): string {
  const form = "use an IANA name such as Europe/London or UTC";
  if (/^[+\-\u2212]|^\d/.test(value)) {
    throw new RangeError(`${show(key, value)} is an offset, not a time zone: ${form}`);
  }
  try {
    Temporal.Now.instant().toZonedDateTimeISO(value);
    return new Intl.DateTimeFormat("en", { timeZone: value }).resolvedOptions().timeZone;
  } catch (cause) {
    throw new RangeError(`${show(key, value)} is not a known time zone: ${form}`, { cause });
  }
}

/** A parsed `health_check_interval`. */
export interface Interval {
  /** Milliseconds; 0 = disabled. */
  ms: number;
  /** Set when a bare number looks like seconds were meant. */
  warning?: string;
}

const INTERVAL_FORM = "use 30, 90s, 30m or 1h; 0 disables";

/**
 * Parses `health_check_interval`: a bare integer is minutes; `s`, `m`, `h` suffixes are
 * accepted; 0 disables; a non-zero interval is at least 10 s.
 *
 * @throws {TypeError} when the value is not of that form; {RangeError} when out of range.
 */
export function parseInterval(value: string): Interval {
  const key = "health_check_interval";
  const m = /^(\d+)\s*([smh]?)$/i.exec(value.trim());
  if (m === null) {
    if (/^-\d/.test(value.trim())) {
      throw new RangeError(`${show(key, value)} is negative (${INTERVAL_FORM})`);
    }
    throw new TypeError(`${show(key, value)} is not a number of minutes (${INTERVAL_FORM})`);
  }
  const n = Number(m[1]);
  const unit = m[2].toLowerCase() || "m";
  const ms = n * { s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  if (ms === 0) return { ms: 0 };
  if (ms < MIN_INTERVAL_MS) {
    throw new RangeError(`${show(key, value)} is shorter than 10 seconds (${INTERVAL_FORM})`);
  }
  if (ms > MAX_TIMER_MS) {
    throw new RangeError(`${show(key, value)} is longer than 24 days (${INTERVAL_FORM})`);
  }
  if (m[2] === "" && n > 1440) {
    return {
      ms,
      warning: `health_check_interval = ${n} is read as ${n} minutes (${
        describeInterval(ms)
      }): write ${n}s if seconds were meant`,
    };
  }
  return { ms };
}

/** `health_check_interval`, normalized: "30" for minutes, "90s" for a value with a unit. */
export function checkInterval(_key: string, value: string): string {
  parseInterval(value);
  const t = value.trim();
  return /[smh]$/i.test(t) ? t.replace(/\s+/, "").toLowerCase() : String(Number(t));
}

/** Describes an interval for one log line, e.g. "every 30 minutes", "every 90 seconds". */
export function describeInterval(ms: number): string {
  if (ms <= 0) return "disabled (health_check_interval = 0)";
  return `every ${describeDuration(ms)}`;
}

/**
 * A duration in the largest unit that states it exactly: "2 hours", "30 minutes", "10 seconds",
 * "1500 ms". Round a measured time first (to seconds, or minutes) to get the unit meant.
 */
export function describeDuration(ms: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (ms === 0) return "0 seconds";
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, "hour");
  if (ms % 60_000 === 0) return plural(ms / 60_000, "minute");
  if (ms % 1000 === 0) return plural(ms / 1000, "second");
  return `${ms} ms`;
}

/** The server's rate limit: `N/S` (N requests per S seconds) or `0` (no limit). */
export interface RateBudget {
  limit: number;
  windowMs: number;
}

/** Reads a normalized server_rate_limit value: null when the server has no limit. */
export function parseRateLimit(value: string): RateBudget | null {
  if (value === "0") return null;
  const [limit, seconds] = value.split("/").map(Number);
  return { limit, windowMs: Math.round(seconds * 1000) };
}

/**
 * The server's rate limit, as its config.ini says (`[rate_limiting] API_LIMIT` per
 * `API_PERIOD` seconds): `N/S`, normalized without spaces; `0` when it has none.
 */
export function checkRateLimit(key: string, value: string): string {
  const t = value.trim();
  if (t === "0") return "0";
  const match = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*s?$/i.exec(t);
  const limit = Number(match?.[1]);
  const seconds = Number(match?.[2]);
  if (!match || !(limit >= 1) || !(seconds > 0) || seconds > 86_400) {
    throw new TypeError(
      `${
        show(key, value)
      } is not requests/seconds: write e.g. 60/60 (the server's API_LIMIT/API_PERIOD), or 0 for none`,
    );
  }
  return `${limit}/${seconds}`;
}

/** A URL path: starts with "/", no whitespace or control characters. */
export function checkPath(key: string, value: string): string {
  checkText(key, value);
  if (!value.startsWith("/") || /\s/.test(value)) {
    throw new TypeError(`${show(key, value)} is not a path: write one that starts with "/"`);
  }
  return value;
}

/**
 * One or more SHA-256 fingerprints, comma-separated (two during a certificate rollover): each
 * 64 hex digits, colons allowed; normalized to lowercase without colons, joined by ",".
 */
export function checkSha256(key: string, value: string): string {
  const pins = value.split(",").map((pin) => pin.trim().replaceAll(":", ""));
  const bad = pins.find((pin) => !/^[0-9a-f]{64}$/i.test(pin));
  if (bad !== undefined) {
    throw new TypeError(
      `${
        show(key, value)
      } is not a SHA-256 fingerprint: write 64 hex digits, colons allowed (several, for a certificate rollover, separated by commas)`,
    );
  }
  return pins.map((pin) => pin.toLowerCase()).join(",");
}

/** A log's rotation size in MB (decimals allowed; 0 disables, or for event_log.csv: never rotate). */
export function checkSize(key: string, value: string): string {
  const what = key === "event_log_rotation_size_mb"
    ? "a size in MB (e.g. 5 or 0.5; 0 = never rotate)"
    : "a size in MB (e.g. 5 or 0.5; 0 disables the log)";
  if (/^-\s*\d/.test(value)) throw new RangeError(`${show(key, value)} is negative: use ${what}`);
  if (!/^\d+(\.\d+)?$/.test(value)) throw new TypeError(`${show(key, value)} is not ${what}`);
  const mb = Number(value);
  if (mb > MAX_ROTATION_MB) {
    throw new RangeError(`${show(key, value)} is more than ${MAX_ROTATION_MB} MB: use ${what}`);
  }
  return String(mb);
}
