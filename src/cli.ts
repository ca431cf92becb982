/**
 * The command line of winagentUSM.exe: every flag of the original agent, accepted as `--name`
 * and as `-name` (Go style, as the server's install_service.bat writes them), plus `--status`,
 * `--version`, `--pin-server-cert`, `--simulate` and `--purge`. The flags are parsed in
 * cli_args.ts; this module carries out what they ask for and returns the exit code.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Agent } from "./agent.ts";
import { type CliOptions, parseArgs, usage } from "./cli_args.ts";
import {
  ConfigError,
  loadConfig,
  maskSecret,
  updateConfigFile,
  validateSetting,
} from "./config.ts";
import { checkHealth } from "./health.ts";
import { readJournal } from "./journal.ts";
import { SendStatus } from "./event.ts";
import type { Platform, ServiceHooks } from "./platform.ts";
import { SimulatedSource } from "./simulate.ts";
import { agentRunning, readStatus } from "./status.ts";
import { errorText, readLines } from "./text.ts";
import { fetchServerCertificate } from "./server_certificate.ts";
import { CLEAR_TEXT_WARNING, isClearText } from "./connection.ts";
import { learnSecret, redact } from "./redact.ts";
import { type Transport, transportFor } from "./transport.ts";

export { type CliOptions, parseArgs, usage } from "./cli_args.ts";

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

/** The first line of a stream ("" when it is empty); the rest is not read. */
async function firstLine(input: ReadableStream<Uint8Array>): Promise<string> {
  for await (const line of readLines(input)) return line;
  return "";
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
  // Every message of the command passes the redaction point (src/redact.ts).
  const rawPrint = deps.print ?? ((line: string) => console.log(line));
  const rawPrintError = deps.printError ?? ((line: string) => console.error(line));
  const print = (line: string) => rawPrint(redact(line));
  const printError = (line: string) => rawPrintError(redact(line));
  let options: CliOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    printError(errorText(error));
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
    if (options.service) {
      return await platform.serviceAction(options.service, {
        configPath: options.config,
        purge: options.purge,
        print,
      });
    }
    if (options.apiKeyFromStdin) {
      const line = await firstLine(deps.stdin ?? Deno.stdin.readable);
      learnSecret(line);
      try {
        options.settings.api_key = validateSetting("api_key", line.trim());
      } catch (error) {
        printError(`Invalid value for --api-key (standard input): ${errorText(error)}`);
        return ExitCode.Usage;
      }
    }
    if (Object.keys(options.settings).length > 0 || options.pinServerCert) {
      return await changeSettings(configPath, options, deps, print, printError);
    }
    if (options.status) return await showStatus(configPath, deps, print);
  } catch (error) {
    printError(errorText(error));
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
          agent.log("error", `Simulated input stopped: ${errorText(error)}`);
        });
      }
    },
    stop: async () => {
      source?.close();
      await agent.stop();
      await feeding;
    },
    // Until the agent learns what shutdown means for open sessions (issue 10), a shutdown is a stop.
    shutdown: () => hooks.stop(),
    reload: () => agent.reload("reload requested through the service manager"),
    sessionChange: (change) => agent.record(change),
    log: agent.log,
  };
  return await deps.platform.runService(hooks);
}

/**
 * `--pin-server-cert`: reads the certificate of `url` (default the configured server_url) and
 * prints it; returns its SHA-256, or the exit code when there is none to read.
 */
async function serverPin(
  configPath: string,
  url: string | undefined,
  deps: CliDeps,
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<string | number> {
  if (!url) {
    const installDir = deps.platform.defaultInstallDir();
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
    printError(`Cannot read the certificate of ${url}: ${errorText(error)}`);
    return ExitCode.Failed;
  }
  print(`Server certificate of ${url}:`);
  print(`  subject:  ${certificate.subject}`);
  print(`  issuer:   ${certificate.issuer}${certificate.selfSigned ? " (self-signed)" : ""}`);
  print(`  valid:    ${certificate.validFrom} to ${certificate.validTo}`);
  print(`  SHA-256:  ${certificate.sha256}`);
  print(`Compare the SHA-256 with the one the server shows before you trust it.`);
  return certificate.sha256;
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
    const pin = await serverPin(configPath, changes.server_url, deps, print, printError);
    if (typeof pin === "number") return pin;
    changes.tls_server_sha256 = pin;
  }
  try {
    const dir = dirname(configPath);
    if (!(await Deno.stat(dir).catch(() => undefined))) {
      await Deno.mkdir(dir, { recursive: true });
      await platform.secureDirectory(dir);
    }
    await updateConfigFile(configPath, changes, { installDir, secureFile: platform.secureFile });
  } catch (error) {
    printError(errorText(error));
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
  if (isClearText(config.serverUrl)) printError(`Warning: ${CLEAR_TEXT_WARNING}`);
  if (config.apiKey && config.serverUrl) {
    let transport: Transport;
    try {
      transport = transportFor(config);
    } catch (error) {
      print(`Health check not run: ${errorText(error)}`);
      return ExitCode.Ok;
    }
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
    if (isClearText(config.serverUrl)) rows.push(["Warning", CLEAR_TEXT_WARNING]);
    rows.push(["API key", maskSecret(config.apiKey)]);
  } catch (error) {
    rows.push(["Config error", errorText(error)]);
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
    const pending = entries.filter((e) => e.status === SendStatus.Pending).length;
    const rejected = entries.filter((e) => e.status === SendStatus.Rejected).length;
    rows.push([
      "Events",
      `${entries.length} in event_log.csv, ${pending} not yet sent, ${rejected} rejected by the server` +
      (tornTail ? " (last line incomplete: repaired at next start)" : ""),
    ]);
  } catch (error) {
    rows.push([
      "Events",
      error instanceof Deno.errors.NotFound ? "event_log.csv does not exist yet" : errorText(error),
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  for (const [key, value] of rows) print(`${(key + ":").padEnd(width)}${value}`);
  return ExitCode.Ok;
}
