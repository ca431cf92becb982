/**
 * What is derived from the one table of config.ini's keys, `CONFIG_SCHEMA` (src/config/keys.ts;
 * the types in src/config/types.ts): for each key its section, its default, its checker, the
 * `Config` field it fills, the comment above it in the default file, the text of
 * docs/configuration.md's config table, and the command-line flag that sets it (if any). Parsing
 * (`parseConfig`), the default file (`defaultConfigText`), the defaults (`defaultConfig`), the
 * flag checks (`validateSetting`, the CLI's flag list) and a test of docs/configuration.md all read this table.
 *
 * `health_check_interval`: the original agent and its documentation count minutes; the server's
 * settings form labels the key "seconds (10 to 3600)". A bare number is read as minutes; a
 * bare value above 1440 (a day) is accepted with a warning suggesting the `s` suffix.
 *
 * `timezone`: the server's generated file says `Europe/London` explicitly and that is honoured; a
 * file without the key, and the file written on first run, use the machine's own zone.
 *
 * @module
 */
import type { Config, ConfigDefaults, ConfigKeySpec, ConfigSection } from "./types.ts";
import { CONFIG_SCHEMA } from "./keys.ts";
import { machineTimeZone } from "./values.ts";

export type { Config, ConfigDefaults, ConfigKeySpec, ConfigSection } from "./types.ts";
export { CONFIG_SCHEMA, DEFAULT_PUBLIC_IP_URLS } from "./keys.ts";

/** Every key of config.ini. */
export type ConfigKey = (typeof CONFIG_SCHEMA)[number]["key"];

const BY_KEY: ReadonlyMap<string, ConfigKeySpec> = new Map(
  CONFIG_SCHEMA.map((entry) => [entry.key, entry as ConfigKeySpec]),
);

/** Every key, in file order. */
export const CONFIG_KEYS: readonly ConfigKey[] = CONFIG_SCHEMA.map((entry) => entry.key);

/** The section each key lives in. */
export const CONFIG_SECTIONS: Readonly<Record<ConfigKey, ConfigSection>> = Object.fromEntries(
  CONFIG_SCHEMA.map((entry) => [entry.key, entry.section]),
) as Record<ConfigKey, ConfigSection>;

/** The default of one key, as written in the file. */
export function defaultValue(entry: ConfigKeySpec, defaults: ConfigDefaults): string {
  return typeof entry.default === "string" ? entry.default : entry.default(defaults);
}

/**
 * Checks one value (already trimmed and unquoted); returns the normalized value. Messages lack
 * the "Invalid value for" prefix.
 */
export function checkSetting(key: ConfigKey, value: string): string {
  const entry = BY_KEY.get(key);
  if (entry === undefined) {
    throw new TypeError(
      `${JSON.stringify(key)} is not a config key: use one of ${CONFIG_KEYS.join(", ")}`,
    );
  }
  return entry.check(key, value);
}

/** Rebuilds an error of the same built-in class with a new message, keeping the original as cause. */
export function rethrowWith(error: unknown, message: (detail: string) => string): never {
  if (error instanceof RangeError) throw new RangeError(message(error.message), { cause: error });
  if (error instanceof TypeError) throw new TypeError(message(error.message), { cause: error });
  throw error;
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
    return checkSetting(key, v);
  } catch (e) {
    rethrowWith(e, (d) => `Invalid value for ${key}: ${d}`);
  }
}

/**
 * The configuration from normalized values (as `checkSetting` returns them); a key without a
 * value takes its default.
 */
export function configFrom(
  values: ReadonlyMap<ConfigKey, string>,
  defaults: ConfigDefaults,
): Config {
  const config: Record<string, unknown> = {};
  for (const entry of CONFIG_SCHEMA as readonly ConfigKeySpec[]) {
    const raw = values.get(entry.key as ConfigKey) ?? defaultValue(entry, defaults);
    config[entry.field] = entry.value(raw);
  }
  return config as unknown as Config;
}

/**
 * The settings of an empty config.ini: what the agent uses while config.ini has never been
 * readable. The same as `parseConfig("", path, { installDir }).config`.
 */
export function defaultConfig(installDir: string, options: { timeZone?: string } = {}): Config {
  return configFrom(new Map(), { installDir, timeZone: options.timeZone });
}

/** Options for the text of a new config.ini. */
export interface DefaultConfigOptions {
  /** The zone written as `timezone`; default the machine's own. */
  timeZone?: string;
  /** Line terminator; default "\r\n" on Windows, "\n" elsewhere. */
  eol?: string;
}

const FILE_HEADER = [
  "; User Session Monitor Agent configuration.",
  "; Write settings as key = value (quotes around a value are optional). ; or # starts a comment.",
  "; An empty value means the default. Flags such as --url and --api-key also edit this file.",
];

/** The config.ini written on first run: every key at its default, a comment explaining each. */
export function defaultConfigText(installDir: string, options: DefaultConfigOptions = {}): string {
  const defaults = { installDir, timeZone: options.timeZone ?? machineTimeZone() };
  const eol = options.eol ?? (Deno.build.os === "windows" ? "\r\n" : "\n");
  const lines = [...FILE_HEADER];
  let section: string | undefined;
  for (const entry of CONFIG_SCHEMA as readonly ConfigKeySpec[]) {
    if (entry.section !== section) {
      section = entry.section;
      lines.push("", `[${section}]`);
    }
    for (const comment of entry.comment) lines.push(`; ${comment}`);
    const value = defaultValue(entry, defaults);
    lines.push(value === "" ? `${entry.key} =` : `${entry.key} = ${value}`);
  }
  lines.push("");
  return lines.join(eol);
}
