/**
 * The command line of winagentUSM.exe: every flag of the original agent, accepted as `--name`
 * and as `-name` (Go style, as the server's install_service.bat writes them), plus `--status`,
 * `--pending`, `--version`, `--pin-server-cert`, `--simulate` and `--purge` (and `/?`, `-?`); the
 * status display is in status/command.ts. The flags are parsed in
 * args.ts; this module carries out what they ask for and returns the exit code.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { type CliOptions, parseArgs, usage } from "./args.ts";
import { ConfigError, loadConfig, updateConfigFile, validateSetting } from "../config/config.ts";
import { checkHealth } from "../delivery/health.ts";
import type { Platform, ServiceHooks, SystemEventLog } from "../platform.ts";
import { SimulatedClock, type SimulatedEnd, SimulatedSource } from "../sessions/simulate.ts";
import { readHidden } from "./key_prompt.ts";
import { fileExists, healthLine, missingFolder, reloadNotice } from "./config_report.ts";
import { statusLines, statusReport } from "../status/command.ts";
import { pendingLines, pendingReport } from "../status/pending.ts";
import { errorText, readLines } from "../text.ts";
import { EXIT_CODES } from "../exit_codes.ts";
import { fetchServerCertificate } from "../net/server_certificate.ts";
import { CLEAR_TEXT_WARNING, isClearText } from "../net/connection.ts";
import { learnSecret, maskSecret, redact } from "../log/redact.ts";
import { type Transport, transportFor } from "../net/transport.ts";

export { type CliOptions, parseArgs, usage } from "./args.ts";

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
  // Every message of the command passes the redaction point (src/log/redact.ts).
  const rawPrint = deps.print ?? ((line: string) => console.log(line));
  const rawPrintError = deps.printError ?? ((line: string) => console.error(line));
  const print = (line: string) => rawPrint(redact(line));
  const printError = (line: string) => rawPrintError(redact(line));
  let options: CliOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    printError(errorText(error));
    return EXIT_CODES.usage;
  }
  const { platform, version } = deps;
  for (const warning of options.warnings) printError(`Warning: ${warning}`);
  if (options.help || args.length === 0) {
    print(usage(version));
    return EXIT_CODES.ok;
  }
  if (options.version) {
    print(`winagentUSM ${version} (Deno ${Deno.version.deno}, ${Deno.build.target})`);
    return EXIT_CODES.ok;
  }
  const installDir = platform.defaultInstallDir();
  const configPath = options.config ?? join(installDir, "config.ini");
  try {
    if (options.service === "run") {
      return await runAgent(configPath, options.simulate, deps);
    }
    if (options.apiKeyFromStdin) {
      const line = !deps.stdin && Deno.stdin.isTerminal()
        ? await readHidden(Deno.stdin, (text) => {
          Deno.stderr.writeSync(new TextEncoder().encode(text));
        }, "API key (not shown as you type it; Enter ends it): ")
        : await firstLine(deps.stdin ?? Deno.stdin.readable);
      learnSecret(line);
      try {
        options.settings.api_key = validateSetting("api_key", line.trim());
      } catch (error) {
        // validateSetting's cause holds the detail without its own "Invalid value for" prefix.
        const detail = (error as Error).cause ?? error;
        printError(
          `Invalid value for --api-key (api_key, from standard input): ${errorText(detail)}`,
        );
        return EXIT_CODES.usage;
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
    if (options.status) return await showStatus(configPath, options, deps, print);
    if (options.pending) return await showPending(configPath, options, print);
  } catch (error) {
    printError(errorText(error));
    return error instanceof ConfigError ? EXIT_CODES.config : EXIT_CODES.failed;
  }
  print(usage(version));
  return EXIT_CODES.ok;
}

async function runAgent(
  configPath: string,
  simulate: string | undefined,
  deps: CliDeps,
): Promise<number> {
  const eventLog = deps.platform.systemEventLog?.();
  try {
    return await hostAgent(configPath, simulate, deps, eventLog);
  } finally {
    eventLog?.close?.();
  }
}

async function hostAgent(
  configPath: string,
  simulate: string | undefined,
  deps: CliDeps,
  eventLog: SystemEventLog | undefined,
): Promise<number> {
  // A simulated run's wall clock follows its input (src/sessions/simulate.ts).
  const clock = simulate === undefined ? undefined : new SimulatedClock();
  const agent = new Agent({
    configPath,
    platform: deps.platform,
    version: deps.version,
    eventLog,
    clock,
    echo: (line) => {
      try {
        Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
      } catch { /* no console (service) */ }
    },
  });
  const ended = Promise.withResolvers<number>();
  const hooks: ServiceHooks = {
    start: async (options) => {
      // The platform's source is listened to as the start begins: changes that arrive during
      // the start (Windows accepts them from START_PENDING on) wait in the agent.
      const listening = simulate === undefined
        ? listenToPlatform(agent, deps.platform, ended)
        : undefined;
      await agent.start(options);
      await listening;
      if (simulate === undefined) return;
      if (clock) clock.onAdvance = (ms) => void agent.sessions.clockAdvanced(ms);
      const source = await SimulatedSource.open(simulate, agent.log, {
        simulatedClock: clock,
        // The end comes after what the lines before it called for (the snapshot's events, the
        // sessions.json write of a clock step): a power cut, too.
        onEnd: (end) =>
          ended.resolve(agent.sessions.idle().then(() => endSimulatedRun(end, hooks))),
      });
      agent.listen(source, `simulated: ${simulate === "-" ? "standard input" : simulate}`);
    },
    stop: () => agent.stop(),
    shutdown: () => agent.shutdown(),
    online: () => agent.online(),
    reload: () => agent.reload("reload requested through the service manager"),
    log: agent.log,
  };
  return await Promise.race([deps.platform.runService(hooks), ended.promise]);
}

/**
 * Listens to the platform's session source (Windows: the service's notifications; Linux:
 * systemd-logind), or says once, in the log and status.json, why there is none (a container
 * without logind): the events already in event_log.csv are still sent.
 */
async function listenToPlatform(
  agent: Agent,
  platform: Platform,
  ended: PromiseWithResolvers<number>,
): Promise<void> {
  if (!platform.sessionSource) return;
  try {
    const source = await platform.sessionSource({
      log: agent.log,
      // The machine's shutdown (logind) ends the run once its Logoffs are journaled.
      onShutdown: () => {
        const done = agent.shutdown();
        ended.resolve(done.then(() => EXIT_CODES.ok));
        return done;
      },
    });
    agent.listen(source, source.description);
  } catch (error) {
    const reason = errorText(error);
    agent.log(
      "warn",
      `No session events are recorded: ${reason}. The events already in event_log.csv are still sent`,
    );
    agent.sessionSource = `none: ${reason}`;
  }
}

/** Ends a simulated run as its last line says; returns the exit code. */
async function endSimulatedRun(end: SimulatedEnd, hooks: ServiceHooks): Promise<number> {
  if (end === "power-loss") {
    // A power cut: nothing is closed, flushed or recorded (what a SIGKILL leaves).
    Deno.exit(137);
  }
  await (end === "shutdown" ? hooks.shutdown() : hooks.stop());
  return EXIT_CODES.ok;
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
    return EXIT_CODES.usage;
  }
  let certificate;
  try {
    certificate = await fetchServerCertificate(url);
  } catch (error) {
    printError(`Cannot read the certificate of ${url}: ${errorText(error)}`);
    return EXIT_CODES.failed;
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
  const missing = await missingFolder(configPath, installDir);
  if (missing) {
    printError(missing);
    return EXIT_CODES.config;
  }
  if (options.pinServerCert) {
    const pin = await serverPin(configPath, changes.server_url, deps, print, printError);
    if (typeof pin === "number") return pin;
    changes.tls_server_sha256 = pin;
  }
  const existed = await fileExists(configPath);
  try {
    const dir = dirname(configPath);
    if (!(await Deno.stat(dir).catch(() => undefined))) {
      // The platform creates the folder with its final permissions in the same step (Windows:
      // CreateDirectoryW with the descriptor; a command that is not elevated is refused there).
      await Deno.mkdir(dirname(dir), { recursive: true });
      await platform.secureDirectory(dir, { create: true, report: print });
    }
    await updateConfigFile(configPath, changes, { installDir, secureFile: platform.secureFile });
  } catch (error) {
    printError(errorText(error));
    return EXIT_CODES.config;
  }
  const described = Object.entries(changes).map(([key, value]) =>
    `${key} = ${key === "api_key" ? maskSecret(value!) : value}`
  );
  print(`${existed ? "Updated" : "Created"} ${configPath}: ${described.join(", ")}`);
  print(reloadNotice(configPath, await platform.notifyReload().catch(() => false)));
  const { config } = await loadConfig(configPath, { installDir });
  if (isClearText(config.serverUrl)) printError(`Warning: ${CLEAR_TEXT_WARNING}`);
  if (!config.apiKey || !config.serverUrl) return EXIT_CODES.ok;
  let transport: Transport;
  try {
    transport = transportFor(config);
  } catch (error) {
    print(`Health check not run: ${errorText(error)}`);
    return EXIT_CODES.healthFailed;
  }
  try {
    const result = await checkHealth(config, transport);
    print(healthLine(result));
    return result.ok ? EXIT_CODES.ok : EXIT_CODES.healthFailed;
  } finally {
    transport.close();
  }
}

/** `--status` (text or JSON); returns its exit code (docs/monitoring.md, "Status"). */
async function showStatus(
  configPath: string,
  options: CliOptions,
  deps: CliDeps,
  print: (line: string) => void,
): Promise<number> {
  const report = await statusReport(configPath, {
    platform: deps.platform,
    version: deps.version,
    maxBacklogMs: options.maxBacklogMs,
  });
  if (options.json) print(JSON.stringify(report, null, 2));
  else for (const line of statusLines(report)) print(line);
  return report.exitCode;
}

/** `--pending` (text or JSON). */
async function showPending(
  configPath: string,
  options: CliOptions,
  print: (line: string) => void,
): Promise<number> {
  const report = await pendingReport(configPath);
  if (options.json) print(JSON.stringify(report, null, 2));
  else for (const line of pendingLines(report)) print(line);
  return EXIT_CODES.ok;
}
