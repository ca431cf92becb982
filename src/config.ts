/**
 * The agent's config.ini: schema, defaults, validation (shared by the file and the command-line
 * flags), loading, and format-preserving atomic updates.
 *
 * Every key of the original agent and of the file the server generates, plus three TLS keys:
 *
 * | section | key | default | accepted values |
 * |---|---|---|---|
 * | API | `api_key` | empty: not configured (events are recorded, not sent) | no whitespace or control characters |
 * | API | `server_url` | empty: not configured (a fresh install never sends to a made-up address) | `http(s)://host[:port][/prefix]`, no user:password, no `?` or `#`; a trailing `/` is dropped; endpoints are appended to the prefix |
 * | API | `debug_logs` | `false` | true/false, yes/no, on/off, 1/0 (any case) |
 * | API | `timezone` | the machine's zone (`Intl`), else `UTC` | an IANA name such as `Europe/London` or `UTC` |
 * | API | `install_dir` | the platform's folder (Windows `C:\ProgramData\UserSessionMon`) | a folder path |
 * | API | `health_check_interval` | `30` (minutes) | a bare number is MINUTES; `90s`, `30m`, `1h`; `0` disables; at least 10 s |
 * | API | `health_check_path` | `/api/health` | starts with `/`, no spaces |
 * | API | `obtain_public_ip` | `false` (privacy: no request to third parties unless asked) | boolean as above |
 * | API | `public_ip_http_urls` | `https://ifconfig.me/ip,https://ipv4.icanhazip.com` | comma-separated http(s) URLs |
 * | API | `tls_ca_file` | empty: the system's trust store | path of a PEM file |
 * | API | `tls_server_sha256` | empty: no pinning | SHA-256 of the server certificate, 64 hex digits, colons allowed |
 * | API | `tls_insecure` | `false` | boolean; true skips certificate checks (use `tls_server_sha256` instead) |
 * | Logging | `session_log_rotation_size_mb` | `5` | MB (1 MB = 1048576 bytes), decimals allowed; `0` disables that log |
 * | Logging | `error_log_rotation_size_mb` | `5` | as above; `0` disables error.log |
 * | Logging | `event_log_rotation_size_mb` | `5` | as above, but `0` means never rotate: event_log.csv is the journal and is never disabled |
 *
 * `health_check_interval`: the original agent and its documentation count minutes; the server's
 * settings form labels the key "seconds (10 to 3600)". A bare number is read as minutes; a
 * bare value above 1440 (a day) is accepted with a warning suggesting the `s` suffix.
 *
 * `timezone`: the server's generated file says `Europe/London` explicitly and that is honoured; a
 * file without the key, and the file written on first run, use the machine's own zone.
 *
 * Values may be wrapped in one pair of double quotes (`server_url = "https://x:8000"`); an empty
 * value means the default. Unknown keys and sections are kept and reported as warnings.
 *
 * @module
 */
import { IniDocument } from "./ini.ts";

/** The effective configuration, every value validated and in the unit the code uses. */
export interface Config {
  apiKey: string;
  serverUrl: string;
  debugLogs: boolean;
  timeZone: string;
  installDir: string;
  /** 0 = health checks disabled. */
  healthCheckIntervalMs: number;
  healthCheckPath: string;
  obtainPublicIp: boolean;
  publicIpUrls: string[];
  tlsCaFile: string;
  /** Lowercase hex without colons, or "". */
  tlsServerSha256: string;
  tlsInsecure: boolean;
  /** 0 = session_monitor.log disabled. */
  sessionLogRotationBytes: number;
  /** 0 = error.log disabled. */
  errorLogRotationBytes: number;
  /** 0 = event_log.csv never rotates (it is never disabled). */
  eventLogRotationBytes: number;
}

/** Every key of config.ini. */
export type ConfigKey =
  | "api_key"
  | "server_url"
  | "debug_logs"
  | "timezone"
  | "install_dir"
  | "health_check_interval"
  | "health_check_path"
  | "obtain_public_ip"
  | "public_ip_http_urls"
  | "tls_ca_file"
  | "tls_server_sha256"
  | "tls_insecure"
  | "session_log_rotation_size_mb"
  | "error_log_rotation_size_mb"
  | "event_log_rotation_size_mb";

/** The section each key lives in. */
export const CONFIG_SECTIONS: Readonly<Record<ConfigKey, "API" | "Logging">> = {
  api_key: "API",
  server_url: "API",
  debug_logs: "API",
  timezone: "API",
  install_dir: "API",
  health_check_interval: "API",
  health_check_path: "API",
  obtain_public_ip: "API",
  public_ip_http_urls: "API",
  tls_ca_file: "API",
  tls_server_sha256: "API",
  tls_insecure: "API",
  session_log_rotation_size_mb: "Logging",
  error_log_rotation_size_mb: "Logging",
  event_log_rotation_size_mb: "Logging",
};

/** Every key, in file order. */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.keys(CONFIG_SECTIONS) as ConfigKey[];

/** The default list of public-IP services. */
export const DEFAULT_PUBLIC_IP_URLS = "https://ifconfig.me/ip,https://ipv4.icanhazip.com";

const MIB = 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_INTERVAL_MS = 10_000;
const MAX_ROTATION_MB = 1024 * 1024;

/** A config.ini that cannot be used; `cause` is the SyntaxError, TypeError or RangeError. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The config file. */
  readonly path: string;
  /** The 1-based line of the problem, when there is one. */
  readonly line?: number;
  /** The key with the bad value, when there is one. */
  readonly key?: string;

  constructor(
    message: string,
    options: { path: string; line?: number; key?: string; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.path = options.path;
    this.line = options.line;
    this.key = options.key;
  }
}

/** Masks a secret for display: "" → "(not set)", 12 characters or fewer fully, else first4…last4. */
export function maskSecret(key: string): string {
  if (key === "") return "(not set)";
  if (key.length <= 12) return "********";
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

/** The machine's IANA time zone, or "UTC" when it cannot be determined. */
export function machineTimeZone(): string {
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return tz ? checkTimeZone(tz) : "UTC";
  } catch {
    return "UTC";
  }
}

/** The value shown in a message: quoted, the API key masked, long values shortened. */
function show(key: string, value: string): string {
  if (key === "api_key") return JSON.stringify(maskSecret(value));
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
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

function parseBoolean(key: string, value: string): boolean {
  const b = BOOLEANS[value.toLowerCase()];
  if (b === undefined) {
    throw new TypeError(`${show(key, value)} is not true or false (also yes/no, on/off, 1/0)`);
  }
  return b;
}

function noControl(key: string, value: string): void {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new TypeError(`${show(key, value)} contains a control character: remove it`);
  }
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

function checkTimeZone(value: string): string {
  const form = "use an IANA name such as Europe/London or UTC";
  if (/^[+\-\u2212]|^\d/.test(value)) {
    throw new RangeError(`${show("timezone", value)} is an offset, not a time zone: ${form}`);
  }
  try {
    Temporal.Now.instant().toZonedDateTimeISO(value);
    return new Intl.DateTimeFormat("en", { timeZone: value }).resolvedOptions().timeZone;
  } catch (cause) {
    throw new RangeError(`${show("timezone", value)} is not a known time zone: ${form}`, { cause });
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

/** Describes an interval for one log line, e.g. "every 30 minutes", "every 90 seconds". */
export function describeInterval(ms: number): string {
  if (ms <= 0) return "disabled (health_check_interval = 0)";
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return `every ${plural(ms / 3_600_000, "hour")}`;
  if (ms % 60_000 === 0) return `every ${plural(ms / 60_000, "minute")}`;
  if (ms % 1000 === 0) return `every ${plural(ms / 1000, "second")}`;
  return `every ${ms} ms`;
}

function checkSize(key: string, value: string): number {
  const what = key === "event_log_rotation_size_mb"
    ? "a size in MB (e.g. 5 or 0.5; 0 = never rotate)"
    : "a size in MB (e.g. 5 or 0.5; 0 disables the log)";
  if (/^-\s*\d/.test(value)) throw new RangeError(`${show(key, value)} is negative: use ${what}`);
  if (!/^\d+(\.\d+)?$/.test(value)) throw new TypeError(`${show(key, value)} is not ${what}`);
  const mb = Number(value);
  if (mb > MAX_ROTATION_MB) {
    throw new RangeError(`${show(key, value)} is more than ${MAX_ROTATION_MB} MB: use ${what}`);
  }
  return mb;
}

/** Checks one value; returns the normalized value. Messages lack the "Invalid value for" prefix. */
function check(key: ConfigKey, value: string): string {
  switch (key) {
    case "api_key":
      if (value === "") throw new TypeError(`the API key is empty: paste the key from the server`);
      noControl(key, value);
      if (/\s/.test(value)) {
        throw new TypeError(
          `${show(key, value)} contains whitespace: paste the key without spaces`,
        );
      }
      return value;
    case "server_url":
      return checkUrl(key, value, false);
    case "debug_logs":
    case "obtain_public_ip":
    case "tls_insecure":
      return String(parseBoolean(key, value));
    case "timezone":
      return checkTimeZone(value);
    case "install_dir":
    case "tls_ca_file":
      noControl(key, value);
      return value;
    case "health_check_interval": {
      parseInterval(value);
      const t = value.trim();
      return /[smh]$/i.test(t) ? t.replace(/\s+/, "").toLowerCase() : String(Number(t));
    }
    case "health_check_path":
      noControl(key, value);
      if (!value.startsWith("/") || /\s/.test(value)) {
        throw new TypeError(`${show(key, value)} is not a path: write one that starts with "/"`);
      }
      return value;
    case "public_ip_http_urls": {
      const urls = value.split(",").map((u) => u.trim()).filter((u) => u !== "");
      if (urls.length === 0) {
        throw new TypeError(`${show(key, value)} has no URL: write comma-separated http(s) URLs`);
      }
      return urls.map((u) => checkUrl(key, u, true)).join(",");
    }
    case "tls_server_sha256": {
      const hex = value.replaceAll(":", "");
      if (!/^[0-9a-f]{64}$/i.test(hex)) {
        throw new TypeError(
          `${show(key, value)} is not a SHA-256 fingerprint: write 64 hex digits, colons allowed`,
        );
      }
      return hex.toLowerCase();
    }
    case "session_log_rotation_size_mb":
    case "error_log_rotation_size_mb":
    case "event_log_rotation_size_mb":
      return String(checkSize(key, value));
    default:
      throw new TypeError(
        `${JSON.stringify(key)} is not a config key: use one of ${CONFIG_KEYS.join(", ")}`,
      );
  }
}

/** Rebuilds an error of the same built-in class with a new message, keeping the original as cause. */
function rethrow(e: unknown, message: (detail: string) => string): never {
  if (e instanceof RangeError) throw new RangeError(message(e.message), { cause: e });
  if (e instanceof TypeError) throw new TypeError(message(e.message), { cause: e });
  throw e;
}

/**
 * Validates one setting, from a command-line flag or the file. Returns the normalized value
 * (booleans as "true"/"false", server_url without a trailing slash, fingerprints lowercase
 * without colons). The value is trimmed and one pair of surrounding double quotes is removed.
 *
 * @throws {TypeError} for a value of the wrong form, {RangeError} for one out of range; the
 * message names the key, the value (the API key masked) and what is accepted.
 */
export function validateSetting(key: ConfigKey, value: string): string {
  let v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).trim();
  try {
    return check(key, v);
  } catch (e) {
    rethrow(e, (d) => `Invalid value for ${key}: ${d}`);
  }
}

/** Options for the text of a new config.ini. */
export interface DefaultConfigOptions {
  /** The zone written as `timezone`; default the machine's own. */
  timeZone?: string;
  /** Line terminator; default "\r\n" on Windows, "\n" elsewhere. */
  eol?: string;
}

/** The config.ini written on first run, with a comment explaining each key. */
export function defaultConfigText(installDir: string, options: DefaultConfigOptions = {}): string {
  const tz = options.timeZone ?? machineTimeZone();
  const eol = options.eol ?? (Deno.build.os === "windows" ? "\r\n" : "\n");
  const lines = [
    "; User Session Monitor Agent configuration.",
    "; Write settings as key = value, without quotes. Lines starting with ; or # are comments.",
    "; An empty value means the default. Flags such as --url and --api-key also edit this file.",
    "",
    "[API]",
    "; The key the server issued for this company. Empty: events are recorded in event_log.csv",
    "; but not sent.",
    "api_key =",
    "; The server, http(s)://host[:port]. Empty: nothing is sent.",
    "server_url =",
    "; true writes debug lines to session_monitor.log.",
    "debug_logs = false",
    "; IANA time zone of the timestamps, e.g. Europe/London or UTC.",
    `timezone = ${tz}`,
    "; The folder of the agent, this file, event_log.csv and the logs.",
    `install_dir = ${installDir}`,
    "; Time between health checks. A bare number is MINUTES; 90s, 30m, 1h also work; 0 disables.",
    "health_check_interval = 30",
    "; Path of the server's health check, appended to server_url.",
    "health_check_path = /api/health",
    "; true asks the services below for this machine's public IP and sends it with each event.",
    "obtain_public_ip = false",
    "; Comma-separated services that answer with the public IP as plain text, tried in order.",
    `public_ip_http_urls = ${DEFAULT_PUBLIC_IP_URLS}`,
    "; PEM file of a CA to trust for server_url, in addition to the system's. Empty: none.",
    "tls_ca_file =",
    "; SHA-256 fingerprint of the server's certificate (64 hex digits, colons allowed): the",
    "; certificate is accepted if and only if it matches, as for a self-signed server. Empty: off.",
    "tls_server_sha256 =",
    "; true accepts any certificate (unsafe: prefer tls_server_sha256).",
    "tls_insecure = false",
    "",
    "[Logging]",
    "; Sizes in MB at which a log is rotated. 0 disables session_monitor.log or error.log;",
    "; for event_log.csv (the journal, never disabled) 0 means it is never rotated.",
    "session_log_rotation_size_mb = 5",
    "error_log_rotation_size_mb = 5",
    "event_log_rotation_size_mb = 5",
    "",
  ];
  return lines.join(eol);
}

/**
 * Parses config.ini text. Missing keys take their defaults; warnings report unknown keys,
 * misplaced keys, a bare interval above a day and a plain-http server_url.
 *
 * @throws {ConfigError} naming the file, line, key and value (the API key masked), with the
 * SyntaxError, TypeError or RangeError as `cause`.
 */
export function parseConfig(
  text: string,
  path: string,
  defaults: { installDir: string; timeZone?: string },
): { config: Config; warnings: string[] } {
  let doc: IniDocument;
  try {
    doc = IniDocument.parse(text, path);
  } catch (cause) {
    const line = Number(/^Invalid line (\d+)/.exec((cause as Error).message)?.[1]) || undefined;
    throw new ConfigError((cause as Error).message, { path, line, cause });
  }
  const warnings: string[] = [];
  const values = new Map<ConfigKey, string>();
  for (const section of doc.sections()) {
    const known = section === "API" || section === "Logging";
    if (!known) {
      if (section.toLowerCase() === "api" || section.toLowerCase() === "logging") {
        warnings.push(
          `Section [${section}] in ${path} is ignored: section names are case-sensitive, write [${
            section.toLowerCase() === "api" ? "API" : "Logging"
          }]`,
        );
      }
      continue;
    }
    for (const { key: spelled, value, line } of doc.entries(section)) {
      const key = spelled.toLowerCase() as ConfigKey;
      const home = CONFIG_SECTIONS[key];
      const first = /^\S+/.exec(spelled)?.[0].toLowerCase() as ConfigKey;
      if (home === undefined && first !== spelled && CONFIG_SECTIONS[first] !== undefined) {
        // e.g. "server_url https://h": the ":" of the URL was taken as the separator
        const shown = first === "api_key" ? `${first} (value hidden)` : `${spelled}:${value}`;
        const cause = new SyntaxError(
          `Invalid line ${line} in ${path}: ${
            JSON.stringify(shown)
          } is not "key = value": write ${first} = <value>`,
        );
        throw new ConfigError(cause.message, { path, line, key: first, cause });
      }
      if (home === undefined) {
        warnings.push(`Unknown key ${spelled} in [${section}] of ${path} line ${line}: ignored`);
        continue;
      }
      if (home !== section) {
        warnings.push(
          `Key ${spelled} in [${section}] of ${path} line ${line} is ignored: it belongs in [${home}]`,
        );
        continue;
      }
      if (value.trim() === "") continue; // empty = default
      try {
        values.set(key, check(key, value.trim()));
      } catch (e) {
        try {
          rethrow(e, (d) => `Invalid value for ${key} in ${path} line ${line}: ${d}`);
        } catch (wrapped) {
          throw new ConfigError((wrapped as Error).message, { path, line, key, cause: wrapped });
        }
      }
    }
  }
  const get = (key: ConfigKey, fallback: string) => values.get(key) ?? fallback;
  const interval = parseInterval(get("health_check_interval", "30"));
  if (interval.warning) warnings.push(`In ${path}: ${interval.warning}`);
  const config: Config = {
    apiKey: get("api_key", ""),
    serverUrl: get("server_url", ""),
    debugLogs: get("debug_logs", "false") === "true",
    timeZone: values.get("timezone") ?? defaults.timeZone ?? machineTimeZone(),
    installDir: get("install_dir", defaults.installDir),
    healthCheckIntervalMs: interval.ms,
    healthCheckPath: get("health_check_path", "/api/health"),
    obtainPublicIp: get("obtain_public_ip", "false") === "true",
    publicIpUrls: get("public_ip_http_urls", DEFAULT_PUBLIC_IP_URLS).split(","),
    tlsCaFile: get("tls_ca_file", ""),
    tlsServerSha256: get("tls_server_sha256", ""),
    tlsInsecure: get("tls_insecure", "false") === "true",
    sessionLogRotationBytes: Math.round(Number(get("session_log_rotation_size_mb", "5")) * MIB),
    errorLogRotationBytes: Math.round(Number(get("error_log_rotation_size_mb", "5")) * MIB),
    eventLogRotationBytes: Math.round(Number(get("event_log_rotation_size_mb", "5")) * MIB),
  };
  if (config.serverUrl.startsWith("http:")) {
    warnings.push(
      `server_url in ${path} uses http: the API key and events travel unencrypted, use https`,
    );
  }
  return { config, warnings };
}

/** Why the agent cannot send with `config`; empty when it can. */
export function configProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.apiKey === "") {
    problems.push("api_key is not set: set it with --api-key <key> or in config.ini");
  }
  if (config.serverUrl === "") {
    problems.push("server_url is not set: set it with --url https://host:port or in config.ini");
  }
  return problems;
}

/** Reads config.ini as UTF-8 text (BOM kept); undefined when the file does not exist. */
async function readText(path: string): Promise<string | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`Cannot read config file ${path}: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new ConfigError(`Cannot read config file ${path}: it is UTF-16: save it as UTF-8`, {
      path,
    });
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new ConfigError(`Cannot read config file ${path}: it is not UTF-8: save it as UTF-8`, {
      path,
      cause,
    });
  }
}

/** Defaults and hooks of {@linkcode loadConfig} and {@linkcode updateConfigFile}. */
export interface ConfigFileOptions {
  /** The platform's install folder: the default of `install_dir`. */
  installDir: string;
  /** The default of `timezone`; default the machine's zone. */
  timeZone?: string;
  /**
   * Restricts a file written by this module (e.g. `Platform.secureFile`). It is applied to
   * the temp file before the rename, so config.ini is never readable by others, even briefly:
   * on Windows a renamed file keeps the ACL it was created with, not the old file's.
   */
  secureFile?: (path: string) => Promise<void>;
}

/** Writes `text` atomically: a temp file in the same folder, fsync, rename over `path`. */
async function writeAtomic(
  path: string,
  text: string,
  secureFile?: (path: string) => Promise<void>,
): Promise<void> {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const tmp = `${dir}${slash >= 0 ? path[slash] : "/"}.${base}.${crypto.randomUUID()}.tmp`;
  let mode = 0o600;
  try {
    mode = (await Deno.stat(path)).mode ?? mode;
  } catch {
    // a new file: owner only
  }
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: mode & 0o777 });
    try {
      const bytes = new TextEncoder().encode(text);
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      await file.sync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode & 0o777);
    await secureFile?.(tmp);
    await Deno.rename(tmp, path);
    if (Deno.build.os !== "windows") { // make the rename itself durable
      const d = await Deno.open(dir, { read: true });
      try {
        await d.sync();
      } finally {
        d.close();
      }
    }
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new ConfigError(`Cannot write config file ${path}: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  }
}

/**
 * Reads and validates config.ini. When it is missing and `create` is true, writes
 * {@linkcode defaultConfigText} first (creating the folder).
 *
 * @throws {ConfigError} when the file is missing (and not created), unreadable or invalid.
 */
export async function loadConfig(
  path: string,
  defaults: ConfigFileOptions & { create?: boolean },
): Promise<{ config: Config; warnings: string[]; created: boolean }> {
  let text = await readText(path);
  let created = false;
  if (text === undefined) {
    if (!defaults.create) {
      throw new ConfigError(
        `Config file not found: ${path}: install the service or set --url and --api-key to create it`,
        { path },
      );
    }
    const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
    if (slash > 0) {
      await Deno.mkdir(path.slice(0, slash), { recursive: true }).catch((e) => {
        throw new ConfigError(`Cannot create the folder of ${path}: ${e.message}`, {
          path,
          cause: e,
        });
      });
    }
    text = defaultConfigText(defaults.installDir, { timeZone: defaults.timeZone });
    await writeAtomic(path, text, defaults.secureFile);
    created = true;
  }
  return { ...parseConfig(text, path, defaults), created };
}

/**
 * Changes settings in config.ini, keeping everything else byte for byte. Every change is
 * validated first and nothing is written if one is bad or the file is invalid. Writes
 * atomically (temp file in the same folder, fsync, rename). Creates the file from
 * {@linkcode defaultConfigText} when it is missing.
 *
 * @throws {TypeError} or {RangeError} for a bad value (see {@linkcode validateSetting});
 * {ConfigError} when the file cannot be read, parsed or written.
 */
export async function updateConfigFile(
  path: string,
  changes: Partial<Record<ConfigKey, string>>,
  defaults: ConfigFileOptions,
): Promise<void> {
  const normalized: [ConfigKey, string][] = [];
  for (const [key, value] of Object.entries(changes) as [ConfigKey, string][]) {
    if (value === undefined) continue;
    normalized.push([key, validateSetting(key, value)]);
  }
  const existing = await readText(path);
  const text = existing ??
    defaultConfigText(defaults.installDir, { timeZone: defaults.timeZone });
  parseConfig(text, path, defaults); // the file as it stands must be valid
  const doc = IniDocument.parse(text, path);
  for (const [key, value] of normalized) doc.set(CONFIG_SECTIONS[key], key, value);
  const out = doc.toString();
  parseConfig(out, path, defaults);
  if (out === text && existing !== undefined) return;
  await writeAtomic(path, out, defaults.secureFile);
}
