/**
 * The types of config.ini's schema: the effective configuration (`Config`) and the shape of one
 * key's entry in the table (`ConfigKeySpec`). The table itself is src/config/keys.ts; what is
 * derived from it (parsing views, defaults, the default file) is src/config/schema.ts.
 *
 * @module
 */
import type { RateBudget } from "./values.ts";

/** The effective configuration, every value validated and in the unit the code uses. */
export interface Config {
  apiKey: string;
  serverUrl: string;
  debugLogs: boolean;
  timeZone: string;
  installDir: string;
  /** 0 = health checks disabled. */
  healthCheckIntervalMs: number;
  /** The server's rate limit the agent paces by until a 429 says otherwise; null: none. */
  serverRateLimit: RateBudget | null;
  healthCheckPath: string;
  obtainPublicIp: boolean;
  publicIpUrls: string[];
  tlsCaFile: string;
  /** Whose roots verify the server when tls_ca_file is empty. */
  tlsCaStore: "mozilla" | "system";
  /** Lowercase hex without colons, or "". */
  tlsServerSha256: string;
  tlsInsecure: boolean;
  /** 0 = session_monitor.log disabled. */
  sessionLogRotationBytes: number;
  /** 0 = error.log disabled. */
  errorLogRotationBytes: number;
  /** 0 = event_log.csv never rotates (it is never disabled). */
  eventLogRotationBytes: number;
  /** A Logon for sessions present at start whose logon is not in event_log.csv (docs/sessions.md). */
  logonAtStart: boolean;
  /** A Logoff for every user still logged on when the machine shuts down. */
  logoffAtShutdown: boolean;
  /** A Logoff, at the last time known alive, for sessions that ended while the agent was not running. */
  logoffAfterUncleanStop: boolean;
  /** How a disconnect and a reconnect are reported: "lock", "logoff" or "none". */
  disconnectEvents: "lock" | "logoff" | "none";
}

/** The sections of config.ini, in file order. */
export type ConfigSection = "API" | "Logging";

/** What the defaults that are not constants depend on. */
export interface ConfigDefaults {
  /** The platform's install folder: the default of `install_dir`. */
  installDir: string;
  /** The default of `timezone`; default the machine's zone. */
  timeZone?: string;
}

/** One key of config.ini: everything the agent, the default file and the docs say about it. */
export interface ConfigKeySpec<K extends string = string, F extends keyof Config = keyof Config> {
  key: K;
  section: ConfigSection;
  /** The value used when the key is missing or empty, as it is written in the file. */
  default: string | ((defaults: ConfigDefaults) => string);
  /** Validates the trimmed, unquoted text; returns it normalized (see values.ts). */
  check: (key: string, value: string) => string;
  /** The `Config` field the key fills. */
  field: F;
  /** The field's value from a normalized value (or the default). */
  value: (normalized: string) => Config[F];
  /** The comment lines above the key in the default file (without "; "). */
  comment: readonly string[];
  /** The config table of docs/configuration.md: the "default" and "accepted values" cells (Markdown). */
  doc: { default: string; accepted: string };
  /** The command-line flag that sets the key (without dashes), if any. */
  flag?: string;
}

export function spec<K extends string, F extends keyof Config>(
  entry: ConfigKeySpec<K, F>,
): ConfigKeySpec<K, F> {
  return entry;
}
