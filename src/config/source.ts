/**
 * config.ini as the running agent holds it: the settings in force (the last good file, or the
 * defaults while it has never been readable), why the file cannot be used when it cannot, and
 * the text last read, so that a change notice for an unchanged file is recognised.
 *
 * @module
 */
import {
  type Config,
  ConfigError,
  configProblems,
  defaultConfig,
  describeInterval,
  loadConfig,
} from "./config.ts";
import { maskSecret } from "../log/redact.ts";
import type { LogFn } from "../log/log.ts";
import { readRegularTextFile } from "../no_follow.ts";

/**
 * How config.ini has the server's certificate checked, for the settings log line and
 * `--status` (docs/delivery.md, "TLS": the same words).
 */
export function describeTls(
  config: Pick<
    Config,
    "serverUrl" | "tlsCaFile" | "tlsCaStore" | "tlsServerSha256" | "tlsInsecure"
  >,
): string {
  // No TLS at all: a pin or a CA setting would suggest a protection that does not apply.
  if (/^http:/i.test(config.serverUrl)) return "no TLS: http://, unencrypted";
  const pins = config.tlsServerSha256 ? config.tlsServerSha256.split(",") : [];
  return pins.length > 0
    ? `pinned certificate${pins.length > 1 ? "s" : ""} ${
      pins.map((pin) => `${pin.slice(0, 16)}…`).join(" or ")
    }`
    : config.tlsInsecure
    ? "certificate NOT checked"
    : config.tlsCaFile
    ? `only the CA in ${config.tlsCaFile}`
    : config.tlsCaStore === "system"
    ? "the system's certificate store"
    : "Deno's built-in Mozilla roots";
}

/**
 * Settings used while config.ini has never been readable: the schema's defaults, in UTC (no
 * configured zone is known yet, and a UTC timestamp is unambiguous to read later).
 */
export function fallbackConfig(installDir: string): Config {
  return defaultConfig(installDir, { timeZone: "UTC" });
}

/** Options of {@link ConfigSource}. */
export interface ConfigSourceOptions {
  /** The platform's install folder: the default of install_dir. */
  installDir: string;
  /** Restricts config.ini when it is created. */
  secureFile?: (path: string) => Promise<void>;
  log: LogFn;
  /** Called with the API key of each config.ini read, before anything is logged. */
  redact: (secret: string) => void;
}

/** The config.ini in force. */
export class ConfigSource {
  readonly path: string;
  #options: ConfigSourceOptions;
  #config: Config;
  #loaded = false;
  #text: string | undefined;
  #error: string | undefined;

  constructor(path: string, options: ConfigSourceOptions) {
    this.path = path;
    this.#options = options;
    this.#config = fallbackConfig(options.installDir);
  }

  /** The settings in force (the last good config.ini, or the defaults). */
  get config(): Readonly<Config> {
    return this.#config;
  }

  /** Whether config.ini was ever read without error. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Why config.ini cannot be used, when the last read failed. */
  get error(): string | undefined {
    return this.#error;
  }

  /** What stops sending: the read error, else what the settings lack. */
  problems(): string[] {
    return this.#error ? [this.#error] : configProblems(this.#config);
  }

  /** Whether events can be sent with these settings. */
  usable(): boolean {
    return this.#loaded && this.problems().length === 0;
  }

  /**
   * Reads config.ini (creating it with the defaults when `create` and it is missing). A bad
   * file is logged and keeps the settings read before. Resolves true when the file differs
   * from the one applied last (or cannot be used).
   */
  async read(options: { create: boolean }): Promise<boolean> {
    const before = this.#text;
    try {
      const { config, warnings, created } = await loadConfig(this.path, {
        installDir: this.#options.installDir,
        create: options.create,
        secureFile: this.#options.secureFile,
      });
      this.#text = await readRegularTextFile(this.path, { followLink: true });
      if (created) this.#options.log("info", `Created ${this.path} with the default settings`);
      this.#config = config;
      this.#loaded = true;
      this.#options.redact(config.apiKey);
      this.#error = undefined;
      for (const warning of warnings) this.#options.log("warn", warning);
    } catch (error) {
      this.#failed(error as Error);
    }
    return this.#text !== before || this.#error !== undefined;
  }

  #failed(error: Error): void {
    const message = error instanceof ConfigError || error instanceof Deno.errors.NotFound
      ? error.message
      : `Cannot read ${this.path}: ${error.message}`;
    this.#error = message;
    this.#text = undefined;
    this.#options.log(
      "error",
      this.#loaded
        ? `${message}; still using the settings read before (fix the file and save it again)`
        : `${message}; events are recorded but nothing is sent until config.ini is fixed`,
    );
  }
}

/**
 * The settings in force, in one log line (the API key masked). While config.ini has never been
 * readable (`loaded` false) the line says so instead of naming the defaults as if the file's
 * keys were not set.
 */
export function describeSettings(
  config: Readonly<Config>,
  options: { loaded?: boolean } = {},
): string {
  if (options.loaded === false) {
    return `Settings: none read from config.ini yet (see the error above): nothing is sent; events are recorded with timestamps in ${config.timeZone}`;
  }
  return `Settings: server ${config.serverUrl || "(not set)"} (${describeTls(config)}), API key ${
    maskSecret(config.apiKey)
  }, time zone ${config.timeZone}, health checks ${
    describeInterval(config.healthCheckIntervalMs)
  } at ${config.healthCheckPath}, public IP ${config.obtainPublicIp ? "on" : "off"}`;
}
