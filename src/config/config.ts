/**
 * The agent's config.ini: reading and checking it (`parseConfig`, `loadConfig`), the settings an
 * imported file sets (`importedSettings`), and format-preserving atomic updates
 * (`updateConfigFile`). What each key means, its default and what it accepts are in one table,
 * `CONFIG_SCHEMA` (keys.ts); the value checkers are in values.ts. This module
 * re-exports both, so `./config.ts` is the one import of the rest of the agent.
 *
 * Values may be wrapped in one pair of double quotes (`server_url = "https://x:8000"`); an empty
 * value means the default. Unknown keys and sections are kept and reported as warnings.
 *
 * @module
 */
import { writeFileAtomic } from "../atomic_write.ts";
import { readRegularFile } from "../no_follow.ts";
import {
  checkSetting,
  type Config,
  CONFIG_KEYS,
  CONFIG_SECTIONS,
  type ConfigDefaults,
  configFrom,
  type ConfigKey,
  defaultConfigText,
  rethrowWith,
  validateSetting,
} from "./schema.ts";
import { parseInterval } from "./values.ts";
import { IniDocument } from "./ini.ts";
import { learnSecret } from "../log/redact.ts";
import { errorText } from "../text.ts";

export {
  type Config,
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  CONFIG_SECTIONS,
  type ConfigDefaults,
  type ConfigKey,
  type ConfigKeySpec,
  type ConfigSection,
  DEFAULT_PUBLIC_IP_URLS,
  defaultConfig,
  type DefaultConfigOptions,
  defaultConfigText,
  validateSetting,
} from "./schema.ts";
export {
  describeDuration,
  describeInterval,
  type Interval,
  machineTimeZone,
  parseInterval,
} from "./values.ts";

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

/** The INI document of config.ini text; a malformed line is a ConfigError naming it. */
function parseDocument(text: string, path: string): IniDocument {
  try {
    const doc = IniDocument.parse(text, path);
    // The redactor learns the key before any other line is checked (a key pasted elsewhere).
    for (const section of doc.sections()) {
      for (const { key, value } of doc.entries(section)) {
        if (key.toLowerCase() === "api_key") learnSecret(value);
      }
    }
    return doc;
  } catch (cause) {
    const line = Number(/^Invalid line (\d+)/.exec(errorText(cause))?.[1]) || undefined;
    throw new ConfigError(errorText(cause), { path, line, cause });
  }
}

/** The checked values of the known keys in their own sections; warns about the rest. */
function readValues(doc: IniDocument, path: string, warnings: string[]): Map<ConfigKey, string> {
  const values = new Map<ConfigKey, string>();
  for (const section of doc.sections()) {
    if (section !== "API" && section !== "Logging") {
      if (section.toLowerCase() === "api" || section.toLowerCase() === "logging") {
        warnings.push(
          `Section [${section}] in ${path} is ignored: section names are case-sensitive, write [${
            section.toLowerCase() === "api" ? "API" : "Logging"
          }]`,
        );
      } else {
        warnings.push(
          `Unknown section [${section}] in ${path}: ignored (the agent reads [API] and [Logging])`,
        );
      }
      continue;
    }
    for (const { key: spelled, value, line } of doc.entries(section)) {
      const key = spelled.toLowerCase() as ConfigKey;
      const home = CONFIG_SECTIONS[key];
      if (home === undefined) {
        refuseSpaceSeparator(spelled, value, path, line);
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
        values.set(key, checkSetting(key, value.trim()));
      } catch (e) {
        try {
          rethrowWith(e, (d) => `Invalid value for ${key} in ${path} line ${line}: ${d}`);
        } catch (wrapped) {
          throw new ConfigError(errorText(wrapped), { path, line, key, cause: wrapped });
        }
      }
    }
  }
  return values;
}

/**
 * Refuses "server_url https://h": the ":" of the URL was taken as the separator, leaving an
 * unknown key that starts with a known one and a space.
 */
function refuseSpaceSeparator(spelled: string, value: string, path: string, line: number): void {
  const first = /^\S+/.exec(spelled)?.[0].toLowerCase() as ConfigKey;
  if (first === spelled || CONFIG_SECTIONS[first] === undefined) return;
  const shown = first === "api_key" ? `${first} (value hidden)` : `${spelled}:${value}`;
  const cause = new SyntaxError(
    `Invalid line ${line} in ${path}: ${
      JSON.stringify(shown)
    } is not "key = value": write ${first} = <value>`,
  );
  throw new ConfigError(cause.message, { path, line, key: first, cause });
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
  defaults: ConfigDefaults,
): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const values = readValues(parseDocument(text, path), path, warnings);
  const interval = values.get("health_check_interval");
  const warning = interval === undefined ? undefined : parseInterval(interval).warning;
  if (warning) warnings.push(`In ${path}: ${warning}`);
  // An http:// server_url is warned about once, where the settings are used (the command that
  // sets it, every start, --status), with CLEAR_TEXT_WARNING's wording: not here as well.
  const config = configFrom(values, defaults);
  return { config, warnings };
}

/**
 * The settings an imported config.ini sets: every known key present (with a non-empty value) in
 * its own section. They win over an existing config.ini on reinstall; other keys are kept.
 *
 * The whole file is checked first (with `installDir` as the default of `install_dir`): a bad
 * value stops an install before the folder is made or a running service is stopped, with the
 * file, line and fix.
 *
 * @throws {ConfigError} as {@linkcode parseConfig}.
 */
export function importedSettings(
  text: string,
  path: string,
  defaults: { installDir: string },
): Partial<Record<ConfigKey, string>> {
  parseConfig(text, path, { installDir: defaults.installDir });
  const doc = IniDocument.parse(text, path);
  const settings: Partial<Record<ConfigKey, string>> = {};
  for (const key of CONFIG_KEYS) {
    const value = doc.get(CONFIG_SECTIONS[key], key);
    if (value !== undefined && value.trim() !== "") settings[key] = value.trim();
  }
  return settings;
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
    bytes = await readRegularFile(path, { followLink: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`Cannot read config file ${path}: ${errorText(e)}`, {
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
export interface ConfigFileOptions extends ConfigDefaults {
  /**
   * Restricts a file written by this module (e.g. `Platform.secureFile`). It is applied to
   * the temp file before the rename, so config.ini is never readable by others, even briefly:
   * on Windows a renamed file keeps the ACL it was created with, not the old file's.
   */
  secureFile?: (path: string) => Promise<void>;
}

/** Writes config.ini with the one atomic write (temp file, fsync, rename, fsync of the folder). */
async function writeConfigText(
  path: string,
  text: string,
  secureFile?: (path: string) => Promise<void>,
): Promise<void> {
  try {
    await writeFileAtomic(path, text, { secure: secureFile, throughLink: true });
  } catch (e) {
    throw new ConfigError(`Cannot write config file ${path}: ${errorText(e)}`, {
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
        throw new ConfigError(`Cannot create the folder of ${path}: ${errorText(e)}`, {
          path,
          cause: e,
        });
      });
    }
    text = defaultConfigText(defaults.installDir, { timeZone: defaults.timeZone });
    await writeConfigText(path, text, defaults.secureFile);
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
  await writeConfigText(path, out, defaults.secureFile);
}
