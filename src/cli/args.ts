/**
 * The flags of winagentUSM.exe and their parsing: every flag of the original agent, accepted as
 * `--name` and as `-name` (Go style, as the server's install_service.bat writes
 * `-service install -config "..."`), with the value after a space or `=`, names in any case.
 *
 * `node:util` `parseArgs` does the tokenizing (splitting at `=`, taking the next argument as a
 * value); two steps around it keep the documented behaviour it does not have:
 * - before it, `-name` is rewritten to `--name` (it would read `-service` as the short flags
 *   `-s -e -r ...`), except for the argument that is a flag's value (`--config -x.ini` keeps
 *   its value as written);
 * - it runs with `strict: false` and `tokens: true`, and the tokens are read in order, so the
 *   first problem in the command line is the one reported, in this module's words (the tests and
 *   docs/errors.md quote them), and a value that starts with `-` (`--api-key -`, `--simulate -`) is
 *   a value, where strict mode would call it ambiguous.
 *
 * @module
 */
import { parseArgs as tokenize } from "node:util";
import {
  CONFIG_SCHEMA,
  type ConfigKey,
  type ConfigKeySpec,
  parseInterval,
  validateSetting,
} from "../config/config.ts";
import type { ServiceAction } from "../platform.ts";
import { learnSecret, maskKeyLike } from "../log/redact.ts";
import { errorText } from "../text.ts";

/** The parsed command line. */
export interface CliOptions {
  service?: ServiceAction;
  config?: string;
  settings: Partial<Record<ConfigKey, string>>;
  help: boolean;
  version: boolean;
  status: boolean;
  /** `--pending`: list the events not yet sent. */
  pending: boolean;
  /** `--json`: `--status` and `--pending` print JSON. */
  json: boolean;
  /** `--max-backlog`: `--status` fails when an event waits longer (ms; 0 = no limit). */
  maxBacklogMs?: number;
  pinServerCert: boolean;
  simulate?: string;
  purge: boolean;
  /** `--api-key -`: the key is the first line of standard input. */
  apiKeyFromStdin: boolean;
  /** Values accepted with a warning (shown on the console before anything is done). */
  warnings: string[];
}

const SERVICE_ACTIONS: Record<string, ServiceAction> = {
  install: "install",
  start: "start",
  stop: "stop",
  restart: "restart",
  remove: "remove",
  uninstall: "remove",
  run: "run",
};

/** Flags that set a config.ini key, and the key they set (from CONFIG_SCHEMA). */
const SETTING_FLAGS: ReadonlyMap<string, ConfigKey> = new Map(
  (CONFIG_SCHEMA as readonly ConfigKeySpec<ConfigKey>[]).flatMap((entry) =>
    entry.flag === undefined ? [] : [[entry.flag, entry.key] as const]
  ),
);

type Switch = "help" | "version" | "status" | "pending" | "json" | "pinServerCert" | "purge";

/** Flags without a value, and the option each one sets. */
const SWITCHES: ReadonlyMap<string, Switch> = new Map([
  ["help", "help"],
  ["h", "help"],
  ["version", "version"],
  ["status", "status"],
  ["pending", "pending"],
  ["json", "json"],
  ["pin-server-cert", "pinServerCert"],
  ["purge", "purge"],
]);

const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "service",
  "config",
  "simulate",
  "max-backlog",
  ...SETTING_FLAGS.keys(),
]);

/** What `parseArgs` of node:util is told about each flag. */
const FLAG_TYPES = Object.fromEntries([
  ...[...VALUE_FLAGS].map((name) => [name, { type: "string" as const }]),
  ...[...SWITCHES.keys()].map((name) => [name, { type: "boolean" as const }]),
]);

/** A flag as this agent accepts it: one or two dashes, a name, maybe `=value`. */
const FLAG = /^--?([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$/s;

/** Windows' way of asking for help: `/?` and `-?` (cmd.exe habits), read as `--help`. */
const WINDOWS_HELP: ReadonlySet<string> = new Set(["/?", "-?", "--?"]);

/**
 * Rewrites Go-style `-name` (and `--Name`) to `--name`, and `/?` / `-?` to `--help`, one
 * argument for one, leaving alone what is not a flag and the argument that is a value flag's
 * value.
 */
function normalize(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (WINDOWS_HELP.has(args[i])) {
      out.push("--help");
      continue;
    }
    const match = FLAG.exec(args[i]);
    if (match === null) {
      out.push(args[i]);
      continue;
    }
    const name = match[1].toLowerCase();
    out.push(match[2] === undefined ? `--${name}` : `--${name}=${match[2]}`);
    if (match[2] === undefined && VALUE_FLAGS.has(name) && i + 1 < args.length) {
      out.push(args[++i]);
    }
  }
  return out;
}

/** Applies one value flag to `options`. */
function applyValue(options: CliOptions, name: string, value: string): void {
  if (name === "service") {
    const action = SERVICE_ACTIONS[value.toLowerCase()];
    if (!action) {
      throw new TypeError(
        `Invalid value for --service: "${value}" is not one of install, start, stop, restart, remove (uninstall), run`,
      );
    }
    options.service = action;
  } else if (name === "config") {
    if (value.trim() === "") throw new TypeError("The flag --config needs a file path");
    options.config = value;
  } else if (name === "simulate") {
    options.simulate = value;
  } else if (name === "max-backlog") {
    try {
      options.maxBacklogMs = parseInterval(value).ms;
    } catch (error) {
      throw new TypeError(
        `Invalid value for --max-backlog: "${value}" is not a time of 10 seconds or more (minutes, or 90s, 30m, 2h; 0 means no limit)`,
        { cause: error },
      );
    }
  } else {
    const key = SETTING_FLAGS.get(name)!;
    if (key === "api_key" && value !== "-") learnSecret(value);
    if (key === "api_key" && value === "-") {
      // Read from standard input at run time: keeps the key out of process listings.
      options.apiKeyFromStdin = true;
      return;
    }
    try {
      options.settings[key] = validateSetting(key, value);
    } catch (error) {
      // validateSetting's message starts "Invalid value for <key>: "; its cause holds the detail,
      // which names the key and masks the API key. Say which flag it came from, once.
      const detail = (error as Error).cause ?? error;
      throw new TypeError(`Invalid value for --${name} (${key}): ${errorText(detail)}`, {
        cause: error,
      });
    }
    if (key === "health_check_interval") {
      const warning = parseInterval(options.settings[key]!).warning;
      if (warning) options.warnings.push(warning);
    }
  }
}

/** Refuses combinations of flags that do not go together. */
function checkCombination(options: CliOptions): void {
  const changesConfig = Object.keys(options.settings).length > 0 || options.pinServerCert ||
    options.apiKeyFromStdin;
  // `--service install` takes config flags: they win over the imported file (the MSI's way in).
  if (options.service && options.service !== "install" && changesConfig) {
    throw new TypeError(
      `Config flags cannot be combined with --service ${options.service}: run the service action, then change settings in a separate command`,
    );
  }
  if (options.service === "install" && options.pinServerCert) {
    throw new TypeError("--pin-server-cert cannot be combined with --service install");
  }
  if (options.settings.install_dir !== undefined && options.service !== "install") {
    throw new TypeError("--install-dir works only with --service install");
  }
  if (options.simulate !== undefined && options.service !== "run") {
    throw new TypeError("--simulate works only with --service run");
  }
  if (options.purge && options.service !== "remove") {
    throw new TypeError("--purge works only with --service remove");
  }
  if (options.json && !options.status && !options.pending) {
    throw new TypeError("--json works only with --status or --pending");
  }
  if (options.maxBacklogMs !== undefined && !options.status) {
    throw new TypeError("--max-backlog works only with --status");
  }
  if ((options.status || options.pending) && (options.service || changesConfig)) {
    throw new TypeError(
      "--status and --pending only read: run them in a command of their own, without --service or config flags",
    );
  }
}

/**
 * A value given to a misspelt API-key flag (`--api_key=K`, `-apikey K`, `--key K`) is a key the
 * error message must not show: the redactor learns it before anything is reported.
 */
function learnMisspeltKeys(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const match = /^--?(?:api)?[-_ ]?key(?:[=:](.*))?$/is.exec(args[i]);
    if (match === null) continue;
    learnSecret(match[1] ?? (args[i + 1]?.startsWith("-") ? undefined : args[i + 1]));
  }
}

/** The number of single-character edits (insert, delete, replace) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * The message for a flag this agent does not know (`flag` as typed, without its value), with the
 * closest known flag when one is near (`--api_key` is `--api-key`, `--chek-interval` is
 * `--check-interval`).
 */
function unknownFlag(flag: string): string {
  const name = flag.replace(/^--?/, "").toLowerCase().replaceAll("_", "-");
  const known = [...VALUE_FLAGS, ...SWITCHES.keys()].filter((k) => k.length > 1);
  const [best] = known.map((k) => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d);
  const near = best.d <= (name.length <= 3 ? 1 : 2);
  return near
    ? `Unknown flag "${flag}": did you mean --${best.k}? See --help for the flags`
    : `Unknown flag "${flag}": see --help for the flags`;
}

/** A flag-shaped argument the tokenizer does not read as a flag (`--api_key=K`, `-x_y`). */
const FLAG_LIKE = /^--?[a-zA-Z][\w-]*(?:=.*)?$/s;

/** Parses the arguments; throws a TypeError naming the flag and what is accepted. */
export function parseArgs(args: string[]): CliOptions {
  const options: CliOptions = {
    settings: {},
    help: false,
    version: false,
    status: false,
    pending: false,
    json: false,
    pinServerCert: false,
    purge: false,
    apiKeyFromStdin: false,
    warnings: [],
  };
  const { tokens } = tokenize({
    args: normalize(args),
    options: FLAG_TYPES,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  learnMisspeltKeys(args);
  for (const token of tokens) {
    const arg = args[token.index]; // normalize() keeps one argument for one
    if (!FLAG.test(arg) && FLAG_LIKE.test(arg)) {
      throw new TypeError(unknownFlag(arg.split("=")[0]));
    }
    if (token.kind !== "option" || !(FLAG.test(arg) || WINDOWS_HELP.has(arg))) {
      throw new TypeError(
        `Unexpected argument "${maskKeyLike(arg)}": flags start with - or --; see --help`,
      );
    }
    const { name, value } = token;
    const set = SWITCHES.get(name);
    if (set !== undefined) {
      if (value !== undefined) throw new TypeError(`The flag --${name} takes no value`);
      options[set] = true;
    } else if (!VALUE_FLAGS.has(name)) {
      throw new TypeError(unknownFlag(arg.split("=")[0]));
    } else if (value === undefined) {
      throw new TypeError(`The flag --${name} needs a value`);
    } else {
      applyValue(options, name, value);
    }
  }
  checkCombination(options);
  return options;
}

/** The text of --help. */
export function usage(version: string): string {
  return `User Session Monitor Agent ${version}

Records Windows session events (logon, logoff, lock, unlock) in event_log.csv and sends them
to the server with an API key. Flags may start with - or --, values follow a space or =.

Service management (Windows, as Administrator):
  --service install [--config <file>]   Install and start the service (imports <file>; config
                                        flags and --install-dir <folder> win over the file)
  --service start | stop | restart      Control the service
  --service remove [--purge]            Remove the service (--purge also deletes its files)
  --service uninstall                   Same as remove
  --service run [--simulate <file|->]   Run the agent in the foreground (Ctrl+C stops it)

Configuration (written to config.ini; a running agent reloads and checks the server):
  --api-key <key>           API key for the server (- reads it from standard input, which
                            keeps it out of process listings and shell history)
  --url <url>               Server URL, e.g. https://192.168.27.1:8000
  --debug true|false        Debug lines in session_monitor.log
  --timezone <zone>         IANA time zone of the timestamps, e.g. Europe/London
  --check-interval <mins>   Minutes between health checks (0 disables; 90s, 1h also work)
  --pin-server-cert         Trust exactly the server's current certificate (self-signed servers)
  --cert-sha256 <hex>       Trust exactly the certificate with this SHA-256 (tls_server_sha256)
  --config <file>           The config.ini to use (default: in the install folder)

Information (for scripts: see the exit codes of --status in docs/monitoring.md):
  --status [--json]         State of the agent, last health check, events not yet sent;
                            exits 0 only when the agent runs, its last health check passed
                            and sending is not paused
  --max-backlog <time>      With --status: also fail when an event has waited longer than
                            this (default 60 minutes; 90s, 2h also work; 0 = no limit)
  --pending [--json]        The events not yet sent: time, type, user, attempts, last error
  --version                 Version
  --help, /?, -?            This text
`;
}
