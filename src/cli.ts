/**
 * The command line of winagentUSM.exe: every flag of the original agent, accepted as `--name`
 * and as `-name` (Go style, as the server's install_service.bat writes them), plus `--status`,
 * `--version`, `--pin-server-cert`, `--simulate` and `--purge`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Agent } from "./agent.ts";
import {
  ConfigError,
  type ConfigKey,
  loadConfig,
  maskSecret,
  updateConfigFile,
  validateSetting,
} from "./config.ts";
import { checkHealth } from "./health.ts";
import { readJournal } from "./journal.ts";
import type { Platform, ServiceAction, ServiceHooks } from "./platform.ts";
import { SimulatedSource } from "./simulate.ts";
import { agentRunning, readStatus } from "./status.ts";
import { fetchServerCertificate, Transport } from "./transport.ts";

/** Exit codes, documented in the README. */
export const ExitCode = {
  Ok: 0,
  /** The action failed (server unreachable for --pin-server-cert, a service action failed). */
  Failed: 1,
  /** A bad flag or flag value: nothing was changed. */
  Usage: 2,
  /** config.ini cannot be read or parsed: nothing was changed. */
  Config: 3,
} as const;

/** The parsed command line. */
export interface CliOptions {
  service?: ServiceAction;
  config?: string;
  settings: Partial<Record<ConfigKey, string>>;
  help: boolean;
  version: boolean;
  status: boolean;
  pinServerCert: boolean;
  simulate?: string;
  purge: boolean;
  /** `--api-key -`: the key is the first line of standard input. */
  apiKeyFromStdin: boolean;
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

/** Flags that set a config.ini key, and the key they set. */
const SETTING_FLAGS: Record<string, ConfigKey> = {
  "api-key": "api_key",
  "url": "server_url",
  "debug": "debug_logs",
  "timezone": "timezone",
  "check-interval": "health_check_interval",
  "cert-sha256": "tls_server_sha256",
  "install-dir": "install_dir",
};

const VALUE_FLAGS = new Set(["service", "config", "simulate", ...Object.keys(SETTING_FLAGS)]);
const SWITCHES = new Set(["help", "h", "version", "status", "pin-server-cert", "purge"]);

/** Parses the arguments; throws a TypeError naming the flag and what is accepted. */
export function parseArgs(args: string[]): CliOptions {
  const options: CliOptions = {
    settings: {},
    help: false,
    version: false,
    status: false,
    pinServerCert: false,
    purge: false,
    apiKeyFromStdin: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const match = /^--?([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      throw new TypeError(`Unexpected argument "${arg}": flags start with - or --; see --help`);
    }
    const name = match[1].toLowerCase();
    let value = match[2];
    if (SWITCHES.has(name)) {
      if (value !== undefined) throw new TypeError(`The flag --${name} takes no value`);
      if (name === "help" || name === "h") options.help = true;
      if (name === "version") options.version = true;
      if (name === "status") options.status = true;
      if (name === "pin-server-cert") options.pinServerCert = true;
      if (name === "purge") options.purge = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) {
      throw new TypeError(`Unknown flag "${arg.split("=")[0]}": see --help for the flags`);
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined) throw new TypeError(`The flag --${name} needs a value`);
    }
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
    } else {
      const key = SETTING_FLAGS[name];
      if (key === "api_key" && value === "-") {
        // Read from standard input at run time: keeps the key out of process listings.
        options.apiKeyFromStdin = true;
        continue;
      }
      try {
        options.settings[key] = validateSetting(key, value);
      } catch (error) {
        // validateSetting names the key and masks the API key; say which flag it came from.
        throw new TypeError(`Invalid value for --${name}: ${(error as Error).message}`);
      }
    }
  }
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

Information:
  --status                  State of the agent, last health check, events not yet sent
  --version                 Version
  --help                    This text
`;
}

/** The first line of a stream (the rest is not read). */
async function readFirstLine(input: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const reader = input.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.split(/\r?\n/)[0];
}

/** What {@link main} needs from the outside. */
export interface CliDeps {
  /** Standard input (for `--api-key -`). */
  stdin?: ReadableStream<Uint8Array>;
  platform: Platform;
  version: string;
  print?: (line: string) => void;
  printError?: (line: string) => void;
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[], deps: CliDeps): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  const printError = deps.printError ?? ((line: string) => console.error(line));
  let options: CliOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    printError((error as Error).message);
    return ExitCode.Usage;
  }
  const { platform, version } = deps;
  if (options.help || args.length === 0) {
    print(usage(version));
    return ExitCode.Ok;
  }
  if (options.version) {
    print(`winagentUSM ${version} (Deno ${Deno.version.deno}, ${Deno.build.target})`);
    return ExitCode.Ok;
  }
  const installDir = platform.defaultInstallDir();
  const configPath = options.config ?? join(installDir, "config.ini");
  try {
    if (options.service === "run") {
      return await runAgent(configPath, options.simulate, deps);
    }
    if (options.apiKeyFromStdin) {
      const line = await readFirstLine(deps.stdin ?? Deno.stdin.readable);
      try {
        options.settings.api_key = validateSetting("api_key", line.trim());
      } catch (error) {
        printError(`Invalid value for --api-key (standard input): ${(error as Error).message}`);
        return ExitCode.Usage;
      }
    }
    if (options.service) {
      return await platform.serviceAction(options.service, {
        configPath: options.config,
        settings: options.settings,
        purge: options.purge,
        print,
      });
    }
    if (Object.keys(options.settings).length > 0 || options.pinServerCert) {
      return await changeSettings(configPath, options, deps, print, printError);
    }
    if (options.status) return await showStatus(configPath, deps, print);
  } catch (error) {
    printError((error as Error).message);
    return error instanceof ConfigError ? ExitCode.Config : ExitCode.Failed;
  }
  print(usage(version));
  return ExitCode.Ok;
}

async function runAgent(
  configPath: string,
  simulate: string | undefined,
  deps: CliDeps,
): Promise<number> {
  const agent = new Agent({
    configPath,
    platform: deps.platform,
    version: deps.version,
    echo: (line) => {
      try {
        Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
      } catch { /* no console (service) */ }
    },
  });
  let source: SimulatedSource | undefined;
  let feeding: Promise<void> | undefined;
  const hooks: ServiceHooks = {
    start: async () => {
      await agent.start();
      if (simulate !== undefined) {
        source = await SimulatedSource.open(simulate, agent.log);
        feeding = source.run((change) => agent.record(change)).catch((error) => {
          agent.log("error", `Simulated input stopped: ${(error as Error).message}`);
        });
      }
    },
    stop: async () => {
      source?.close();
      await agent.stop();
      await feeding;
    },
    reload: () => agent.reload("reload requested through the service manager"),
    sessionChange: (change) => agent.record(change),
    log: agent.log,
  };
  return await deps.platform.runService(hooks);
}

async function changeSettings(
  configPath: string,
  options: CliOptions,
  deps: CliDeps,
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  const { platform } = deps;
  const installDir = platform.defaultInstallDir();
  const changes = { ...options.settings };
  if (options.pinServerCert) {
    let url = changes.server_url;
    if (!url) {
      url = (await loadConfig(configPath, { installDir })).config.serverUrl;
    }
    if (!url) {
      printError(`No server_url in ${configPath}: give it with --url <url> --pin-server-cert`);
      return ExitCode.Usage;
    }
    let certificate;
    try {
      certificate = await fetchServerCertificate(url);
    } catch (error) {
      printError(`Cannot read the certificate of ${url}: ${(error as Error).message}`);
      return ExitCode.Failed;
    }
    print(`Server certificate of ${url}:`);
    print(`  subject:  ${certificate.subject}`);
    print(`  issuer:   ${certificate.issuer}${certificate.selfSigned ? " (self-signed)" : ""}`);
    print(`  valid:    ${certificate.validFrom} to ${certificate.validTo}`);
    print(`  SHA-256:  ${certificate.sha256}`);
    print(`Compare the SHA-256 with the one the server shows before you trust it.`);
    changes.tls_server_sha256 = certificate.sha256;
  }
  try {
    const dir = dirname(configPath);
    if (!(await Deno.stat(dir).catch(() => undefined))) {
      await Deno.mkdir(dir, { recursive: true });
      await platform.secureDirectory(dir);
    }
    await updateConfigFile(configPath, changes, { installDir, secureFile: platform.secureFile });
  } catch (error) {
    printError((error as Error).message);
    return ExitCode.Config;
  }
  const described = Object.entries(changes).map(([key, value]) =>
    `${key} = ${key === "api_key" ? maskSecret(value!) : value}`
  );
  print(`Updated ${configPath}: ${described.join(", ")}`);
  const told = await platform.notifyReload().catch(() => false);
  print(
    told
      ? "The running service was told to reload config.ini and check the server"
      : "A running agent reloads config.ini by itself when the file changes",
  );
  const { config } = await loadConfig(configPath, { installDir });
  if (config.apiKey && config.serverUrl) {
    const transport = new Transport(config.serverUrl, {
      caPem: config.tlsCaFile
        ? await Deno.readTextFile(config.tlsCaFile).catch(() => undefined)
        : undefined,
      pinSha256: config.tlsServerSha256 || undefined,
      insecure: config.tlsInsecure,
    });
    try {
      const result = await checkHealth(config, transport);
      print(`Health check ${result.ok ? "passed" : "failed"}: ${result.message}`);
    } finally {
      transport.close();
    }
  }
  return ExitCode.Ok;
}

async function showStatus(
  configPath: string,
  deps: CliDeps,
  print: (line: string) => void,
): Promise<number> {
  const dir = join(configPath, "..");
  const installDir = deps.platform.defaultInstallDir();
  const status = await readStatus(dir);
  const service = await deps.platform.serviceState().catch(() => undefined);
  const rows: [string, string][] = [];
  const time = (ms: number | undefined) => ms ? new Date(ms).toISOString() : "never";
  if (service) {
    rows.push(["Service", `${service.state}${service.pid ? ` (pid ${service.pid})` : ""}`]);
  }
  if (status) {
    const state = agentRunning(dir) === false
      ? `not running (last seen ${status.state} at ${time(status.updatedAt)}, pid ${status.pid})`
      : `${status.state} (pid ${status.pid}, since ${time(status.startedAt)})`;
    rows.push(["Agent", state]);
  } else {
    rows.push(["Agent", "has not run with this config.ini (no status.json)"]);
  }
  rows.push(["Config", configPath]);
  try {
    const { config } = await loadConfig(configPath, { installDir });
    rows.push(["Server", config.serverUrl || "(not set)"]);
    rows.push(["API key", maskSecret(config.apiKey)]);
  } catch (error) {
    rows.push(["Config error", (error as Error).message]);
  }
  if (status) {
    if (status.configError) rows.push(["Config error", status.configError]);
    rows.push(["Health checks", status.healthCheckInterval]);
    const health = status.lastHealthCheck;
    rows.push([
      "Last health check",
      health
        ? `${health.ok ? "passed" : "FAILED"} at ${time(health.at)}: ${health.message}`
        : "none yet",
    ]);
    if (status.paused) rows.push(["Sending paused", status.paused]);
    if (status.lastError) {
      rows.push(["Last error", `${time(status.lastError.at)}: ${status.lastError.message}`]);
    }
    rows.push(["Last event sent", time(status.lastSentAt)]);
    if (status.unsaved) rows.push(["Not yet on disk", `${status.unsaved} events (disk full?)`]);
  }
  try {
    const { entries, tornTail } = await readJournal(join(dir, "event_log.csv"));
    const pending = entries.filter((e) => e.status === 0).length;
    const rejected = entries.filter((e) => e.status === 3).length;
    rows.push([
      "Events",
      `${entries.length} in event_log.csv, ${pending} not yet sent, ${rejected} rejected by the server` +
      (tornTail ? " (last line incomplete: repaired at next start)" : ""),
    ]);
  } catch (error) {
    rows.push([
      "Events",
      error instanceof Deno.errors.NotFound
        ? "event_log.csv does not exist yet"
        : (error as Error).message,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  for (const [key, value] of rows) print(`${(key + ":").padEnd(width)}${value}`);
  return ExitCode.Ok;
}
