/**
 * Every exit code the agent gives, in one place: the command line's (`EXIT_CODES`), those of
 * `--status` (`STATUS_EXIT_CODES`, docs/monitoring.md), and the service-specific ones the service
 * reports when the agent cannot start or stop (`SERVICE_EXIT_CODES`), with the error that carries
 * one ({@link StartError}) and the one mapper from an error to its service exit code
 * ({@link serviceExitCode}). The Windows service host reports a service exit code with
 * ERROR_SERVICE_SPECIFIC_ERROR (1066); `sc query` shows it as SERVICE_EXIT_CODE
 * (docs/administration.md, "Service controls and exit codes").
 *
 * @module
 */

/** The exit codes of the command line, documented in docs/monitoring.md. */
export const EXIT_CODES = {
  ok: 0,
  /** The action failed (server unreachable for --pin-server-cert, a service action failed). */
  failed: 1,
  /** A bad flag or flag value: nothing was changed. */
  usage: 2,
  /** config.ini cannot be read or parsed: nothing was changed. */
  config: 3,
  /** Config flags: config.ini was written, but the health check then failed (as --status's 7). */
  healthFailed: 7,
} as const;

/** The exit codes of `--status`, in the order they are checked (the first that applies wins). */
export const STATUS_EXIT_CODES = {
  ok: 0,
  /** Whether an agent runs cannot be told (agent.lock cannot be opened: permissions). */
  unknown: 1,
  /** No agent runs with this config.ini's folder. */
  "not-running": 4,
  /** config.ini is missing, cannot be read or parsed, or lacks server_url or api_key. */
  "not-configured": 5,
  /** Sending is paused (the server rejected the API key, or server_url is not the server's). */
  paused: 6,
  /** The last health check failed, or none has run yet. */
  "health-failed": 7,
  /** Events are held in memory because event_log.csv cannot be written (a full disk). */
  "held-in-memory": 9,
  /** The oldest event not yet sent has waited longer than --max-backlog. */
  backlog: 8,
  /** The last attempt to send an event failed (the server is down, unreachable, failing). */
  "delivery-failing": 10,
} as const;

/** Service-specific exit codes, reported when the agent cannot start or stop. */
export const SERVICE_EXIT_CODES = {
  /** Another agent is already running with the install folder (its agent.lock is held). */
  alreadyRunning: 1,
  /** The install folder cannot be created, secured or written. */
  installDirNotWritable: 2,
  /** event_log.csv cannot be opened. */
  journalUnavailable: 3,
  /** Anything else (error.log says what). */
  unexpected: 10,
  /** The start did not finish within the service host's cap (Windows service only). */
  startTimedOut: 11,
  /** The stop or shutdown did not finish within the service host's cap (Windows service only). */
  stopTimedOut: 12,
} as const;

/** Why the agent could not start, with the service-specific exit code the service reports. */
export class StartError extends Error {
  override name = "StartError";
  readonly serviceExitCode: number;

  constructor(message: string, serviceExitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.serviceExitCode = serviceExitCode;
  }
}

/**
 * The service-specific exit code for an error thrown by the agent's start or stop: the agent
 * tags the errors it knows with a numeric `serviceExitCode` ({@link StartError}); anything else
 * is unexpected. A broken config.ini is not among them: the agent starts, records events and
 * sends nothing until the file is fixed.
 */
export function serviceExitCode(error: unknown): number {
  const code = (error as { serviceExitCode?: unknown } | null)?.serviceExitCode;
  return typeof code === "number" ? code : SERVICE_EXIT_CODES.unexpected;
}
