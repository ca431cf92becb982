/**
 * The one table of config.ini's keys, `CONFIG_SCHEMA`, one entry per key in file order: its
 * section, default, checker, the `Config` field it fills, the comment above it in the default
 * file, the default and accepted-values text of docs/configuration.md, and the flag that sets it. Everything
 * else about the keys is derived from it in src/config/schema.ts.
 *
 * @module
 */
import {
  checkApiKey,
  checkBoolean,
  checkCaStore,
  checkInterval,
  checkPath,
  checkRateLimit,
  checkServerUrl,
  checkSha256,
  checkSize,
  checkText,
  checkTimeZone,
  checkUrlList,
  machineTimeZone,
  parseInterval,
  parseRateLimit,
} from "./values.ts";
import { spec } from "./types.ts";

/** `disconnect_events`: one of lock, logoff, none (any case). */
function checkDisconnectEvents(key: string, value: string): string {
  const v = value.toLowerCase();
  if (v !== "lock" && v !== "logoff" && v !== "none") {
    throw new TypeError(
      `${key} ${
        JSON.stringify(value)
      } is not lock, logoff or none (lock reports a disconnect as Lock and a reconnect as Unlock)`,
    );
  }
  return v;
}

const MIB = 1024 * 1024;
const text = (v: string) => v;
const bool = (v: string) => v === "true";
const bytes = (v: string) => Math.round(Number(v) * MIB);

/** The default list of public-IP services. */
export const DEFAULT_PUBLIC_IP_URLS = "https://ifconfig.me/ip,https://ipv4.icanhazip.com";

/** Every key of config.ini, in file order. */
export const CONFIG_SCHEMA = [
  spec({
    key: "api_key",
    section: "API",
    default: "",
    check: checkApiKey,
    field: "apiKey",
    value: text,
    comment: [
      "The key the server issued for this company. Empty: events are recorded in event_log.csv",
      "but not sent.",
    ],
    doc: {
      default: "empty: not configured (events are recorded, not sent)",
      accepted: "the key the server issued: printable ASCII, no whitespace, at most 256 characters",
    },
    flag: "api-key",
  }),
  spec({
    key: "server_url",
    section: "API",
    default: "",
    check: checkServerUrl,
    field: "serverUrl",
    value: text,
    comment: ["The server, http(s)://host[:port]. Empty: nothing is sent."],
    doc: {
      default: "empty: not configured (a fresh install never sends to a made-up address)",
      accepted:
        "`http(s)://host[:port][/prefix]`; no user:password, no `?` or `#`; a trailing `/` is dropped; the endpoints are appended to the prefix",
    },
    flag: "url",
  }),
  spec({
    key: "debug_logs",
    section: "API",
    default: "false",
    check: checkBoolean,
    field: "debugLogs",
    value: bool,
    comment: ["true writes debug lines to session_monitor.log."],
    doc: {
      default: "`false`",
      accepted: "`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` (any case)",
    },
    flag: "debug",
  }),
  spec({
    key: "timezone",
    section: "API",
    default: (d) => d.timeZone ?? machineTimeZone(),
    check: checkTimeZone,
    field: "timeZone",
    value: text,
    comment: ["IANA time zone of the timestamps, e.g. Europe/London or UTC."],
    doc: {
      default: "the machine's zone, else `UTC`",
      accepted: "an IANA name such as `Europe/London` or `UTC` (not an offset)",
    },
    flag: "timezone",
  }),
  spec({
    key: "install_dir",
    section: "API",
    default: (d) => d.installDir,
    check: checkText,
    field: "installDir",
    value: text,
    comment: ["The folder of the agent, this file, event_log.csv and the logs."],
    doc: {
      default: "`C:\\ProgramData\\UserSessionMon` (Windows)",
      accepted: "the folder `--service install` installs into",
    },
    flag: "install-dir",
  }),
  spec({
    key: "health_check_interval",
    section: "API",
    default: "30",
    check: checkInterval,
    field: "healthCheckIntervalMs",
    value: (v) => parseInterval(v).ms,
    comment: [
      "Time between health checks. A bare number is MINUTES; 90s, 30m, 1h also work; 0 disables.",
    ],
    doc: {
      default: "`30` (minutes)",
      accepted:
        "a bare number is **minutes**; `90s`, `30m`, `1h`; `0` disables; at least 10 s, at most 24 days",
    },
    flag: "check-interval",
  }),
  spec({
    key: "health_check_path",
    section: "API",
    default: "/api/health",
    check: checkPath,
    field: "healthCheckPath",
    value: text,
    comment: ["Path of the server's health check, appended to server_url."],
    doc: { default: "`/api/health`", accepted: "a path starting with `/`" },
  }),
  spec({
    key: "server_rate_limit",
    section: "API",
    default: "60/60",
    check: checkRateLimit,
    field: "serverRateLimit",
    value: parseRateLimit,
    comment: [
      "The server's rate limit, requests/seconds (its [rate_limiting] API_LIMIT/API_PERIOD); 0: none.",
      "The agent paces by it until a 429 answer says otherwise.",
    ],
    doc: {
      default: "`60/60` (the server's default: 60 requests per 60 s)",
      accepted:
        "`N/S`: N requests per S seconds, as the server's `API_LIMIT`/`API_PERIOD`; `0`: the server has no limit. A 429 teaches the agent the real one",
    },
  }),
  spec({
    key: "obtain_public_ip",
    section: "API",
    default: "false",
    check: checkBoolean,
    field: "obtainPublicIp",
    value: bool,
    comment: [
      "true asks the services below for this machine's public IP and sends it with each event.",
    ],
    doc: {
      default: "`false` (no request to third parties unless asked)",
      accepted: "boolean as above",
    },
  }),
  spec({
    key: "public_ip_http_urls",
    section: "API",
    default: DEFAULT_PUBLIC_IP_URLS,
    check: checkUrlList,
    field: "publicIpUrls",
    value: (v) => v.split(","),
    comment: [
      "Comma-separated services that answer with the public IP as plain text, tried in order.",
    ],
    doc: {
      default: `\`${DEFAULT_PUBLIC_IP_URLS}\``,
      accepted: "comma-separated http(s) URLs answering the address as plain text, tried in order",
    },
  }),
  spec({
    key: "tls_ca_file",
    section: "API",
    default: "",
    check: checkText,
    field: "tlsCaFile",
    value: text,
    comment: [
      "PEM file of the CA(s) to trust for server_url: it REPLACES the roots of tls_ca_store",
      "(only these CAs are trusted). Empty: the roots of tls_ca_store.",
    ],
    doc: {
      default: "empty",
      accepted:
        "a PEM file of the CA that issued the server's certificate; it replaces the roots of `tls_ca_store` (only the CAs in the file are trusted)",
    },
  }),
  spec({
    key: "tls_ca_store",
    section: "API",
    default: "mozilla",
    check: checkCaStore,
    field: "tlsCaStore",
    value: (v) => v as "mozilla" | "system",
    comment: [
      "Roots that verify the server: mozilla = Deno's built-in Mozilla roots; system = the",
      "operating system's store (Windows: Trusted Root Certification Authorities, where Group",
      "Policy puts a company CA).",
    ],
    doc: {
      default: "`mozilla`: Deno's built-in Mozilla roots",
      accepted:
        "`mozilla`, or `system`: the operating system's certificate store (Windows: the machine's Trusted Root Certification Authorities, where Group Policy puts a company CA; Linux: the file `SSL_CERT_FILE` names, else the distribution's bundle). Read at start and when config.ini changes",
    },
  }),
  spec({
    key: "tls_server_sha256",
    section: "API",
    default: "",
    check: checkSha256,
    field: "tlsServerSha256",
    value: text,
    comment: [
      "SHA-256 fingerprint of the server's certificate (64 hex digits, colons allowed): the",
      "certificate is accepted if and only if it matches, as for a self-signed server. Several,",
      "separated by commas, during a certificate rollover (old,new): any one matches. Empty: off.",
    ],
    doc: {
      default: "empty: no pinning",
      accepted:
        "the SHA-256 of the server's certificate, 64 hex digits, colons allowed (`--pin-server-cert` writes it); for a certificate rollover, the old and the new one separated by a comma (`A,B`): a certificate that matches any of them is accepted",
    },
    flag: "cert-sha256",
  }),
  spec({
    key: "tls_insecure",
    section: "API",
    default: "false",
    check: checkBoolean,
    field: "tlsInsecure",
    value: bool,
    comment: ["true accepts any certificate (unsafe: prefer tls_server_sha256)."],
    doc: {
      default: "`false`",
      accepted:
        "`true` accepts any certificate, with a warning at every start: use `tls_server_sha256` instead",
    },
  }),
  spec({
    key: "logon_at_start",
    section: "API",
    default: "true",
    check: checkBoolean,
    field: "logonAtStart",
    value: bool,
    comment: [
      "true records a Logon, at its real logon time, for each session already logged on when the",
      "agent starts whose logon is not in event_log.csv (installed or started mid-session).",
    ],
    doc: {
      default: "`true`",
      accepted:
        "boolean; `true` records a Logon at the session's own logon time for each user logged on when the agent starts whose logon event_log.csv lacks",
    },
  }),
  spec({
    key: "logoff_at_shutdown",
    section: "API",
    default: "true",
    check: checkBoolean,
    field: "logoffAtShutdown",
    value: bool,
    comment: ["true records a Logoff for every user still logged on when Windows shuts down."],
    doc: {
      default: "`true`",
      accepted:
        "boolean; `true` records a Logoff at the shutdown time for every user still logged on when the machine shuts down (a plain service stop records nothing)",
    },
  }),
  spec({
    key: "logoff_after_unclean_stop",
    section: "API",
    default: "true",
    check: checkBoolean,
    field: "logoffAfterUncleanStop",
    value: bool,
    comment: [
      "true records, at the next start, a Logoff for a session that ended while the agent was",
      "not running (power loss, crash), at the last time the agent knew it alive (sessions.json).",
    ],
    doc: {
      default: "`true`",
      accepted:
        "boolean; `true` records at start a Logoff, at the last time the agent knew it alive (sessions.json, rewritten every minute), for a session open in event_log.csv that no longer exists",
    },
  }),
  spec({
    key: "disconnect_events",
    section: "API",
    default: "lock",
    check: checkDisconnectEvents,
    field: "disconnectEvents",
    value: (v) => v as "lock" | "logoff" | "none",
    comment: [
      "How a Remote Desktop or fast-user-switching disconnect and reconnect are reported: lock",
      "(as Lock and Unlock), logoff (as Logoff and Logon) or none (not reported).",
    ],
    doc: {
      default: "`lock`",
      accepted:
        "`lock` reports a disconnect (Remote Desktop client closed, switched away from) as Lock and the reconnect as Unlock; `logoff` as Logoff and Logon; `none` reports neither",
    },
  }),
  spec({
    key: "session_log_rotation_size_mb",
    section: "Logging",
    default: "5",
    check: checkSize,
    field: "sessionLogRotationBytes",
    value: bytes,
    comment: [
      "Sizes in MB at which a log is rotated. 0 disables session_monitor.log or error.log;",
      "for event_log.csv (the journal, never disabled) 0 means it is never rotated.",
    ],
    doc: {
      default: "`5`",
      accepted:
        "size in MB (decimals allowed) at which session_monitor.log rotates; `0` disables that log",
    },
  }),
  spec({
    key: "error_log_rotation_size_mb",
    section: "Logging",
    default: "5",
    check: checkSize,
    field: "errorLogRotationBytes",
    value: bytes,
    comment: [],
    doc: { default: "`5`", accepted: "the same for error.log; `0` disables it" },
  }),
  spec({
    key: "event_log_rotation_size_mb",
    section: "Logging",
    default: "5",
    check: checkSize,
    field: "eventLogRotationBytes",
    value: bytes,
    comment: [],
    doc: {
      default: "`5`",
      accepted:
        "the same for event_log.csv, but `0` means never rotate: the journal is never disabled. A change takes effect at the next start of the agent (the other keys at once)",
    },
  }),
] as const;
